#!/bin/bash
# Prepares what the test guest boots (tests/guest/run.sh): a Debian 12
# kernel and an initramfs with the kernel's SCSI and iSCSI modules and the
# userspace a scenario needs, all taken from Debian packages fetched with
# `apt-get download` and unpacked with `dpkg-deb -x`. Nothing is installed
# on the host and nothing here needs root.
#
# The result lives in $LUNAR_GUEST_CACHE (default
# /var/tmp/lunar-guest-cache)/<key>/, where <key> hashes the versions of
# the packages below and this harness's own files: a second run downloads
# nothing, a new package version (or a change to the harness) builds a new
# one. The .deb files are kept in .../debs/ so that a rebuild downloads only
# what changed. Prints the directory (vmlinuz, initramfs.cpio.gz, kver,
# manifest) on stdout; progress goes to stderr.
#
# Shared libraries come from downloaded Debian packages too, never from the
# host: the host may lack some (libisns0, libopeniscsiusr, libsgutils2 are
# not on a fresh machine) and may be updated apart from the package lists,
# while packages give one source, versions that are part of the key, and a
# guest that does not depend on what happens to be installed here.
#
# Usage: tests/guest/prepare.sh
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LUNAR_GUEST_CACHE:-/var/tmp/lunar-guest-cache}
DEBS=$CACHE/debs

# What the guest takes from each package: "package path [path in the
# guest]" (a glob takes every match; the guest path defaults to the same).
# Symbolic links are kept as they are (Debian's are absolute, which is
# right inside the guest's root).
FILES="
busybox-static bin/busybox
kmod bin/kmod
kmod sbin/modprobe
kmod sbin/insmod
kmod sbin/rmmod
kmod sbin/depmod
kmod sbin/modinfo
kmod bin/lsmod
open-iscsi sbin/iscsistart
open-iscsi sbin/iscsid
open-iscsi sbin/iscsiadm
open-iscsi sbin/iscsi-iname
open-iscsi etc/iscsi/iscsid.conf
sg3-utils usr/bin/sg_*
sg3-utils usr/bin/sginfo
e2fsprogs sbin/mke2fs
e2fsprogs sbin/mkfs.ext4
e2fsprogs sbin/e2fsck
e2fsprogs sbin/fsck.ext4
e2fsprogs sbin/tune2fs
e2fsprogs sbin/dumpe2fs
e2fsprogs sbin/debugfs
e2fsprogs sbin/resize2fs
e2fsprogs etc/mke2fs.conf
util-linux sbin/blkdiscard
util-linux sbin/blockdev
util-linux sbin/blkid
util-linux bin/lsblk
util-linux bin/findmnt
eject usr/bin/eject
mt-st bin/mt-st
mt-st sbin/stinit
mtx usr/sbin/mtx
mtx usr/sbin/tapeinfo
mtx usr/sbin/loaderinfo
mtx usr/sbin/scsitape
tar bin/tar usr/bin/gtar
coreutils bin/dd
"
# Busybox has its own tar: GNU tar is /usr/bin/gtar in the guest. Busybox
# also has dd, blkdiscard, mke2fs, modprobe and mt applets, and its shell
# runs applets before $PATH: scenarios call these tools by absolute path.

# Kernel modules loaded at boot (modprobe -a, in this order); what they
# depend on comes from modules.dep. Softdeps name crypto algorithms by
# alias (ext4 and jbd2: crypto-crc32c, crc_t10dif: crct10dif); their
# generic implementations are listed, the CPU-specific ones are not (TCG's
# default CPU lacks SSE4.2 and PCLMUL).
MODULES="virtio_pci virtio_net virtio_scsi crc32c_generic crct10dif_generic
scsi_mod sd_mod sr_mod st ch sg iscsi_tcp ext4 isofs nls_utf8"

log() { printf 'prepare: [%ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	printf 'prepare: %s\n' "$*" >&2
	exit 1
}

# apt-get download as root runs unsandboxed (the cache is not _apt's).
APT_OPTS=()
[ "$(id -u)" != 0 ] || APT_OPTS=(-o APT::Sandbox::User=root)
APT_UPDATED=0

# versions PKG...: "package version" of each package's candidate, in the
# order given; an unknown package makes it update the lists once.
versions() {
	local out want=$# got
	out=$(apt-cache show --no-all-versions "$@" 2>/dev/null |
		awk '/^Package:/ {p = $2} /^Version:/ {print p, $2}') || true
	got=$(printf '%s\n' "$out" | grep -c . || true)
	if [ "$got" != "$want" ] && [ $APT_UPDATED = 0 ]; then
		log "apt-get update (a package was not in the lists)"
		apt-get update -q >&2 || die "apt-get update failed"
		APT_UPDATED=1
		versions "$@"
		return
	fi
	[ "$got" = "$want" ] || die "apt knows only: ${out//$'\n'/, }; wanted: $*"
	printf '%s\n' "$out"
}

deb_of() { # PKG VERSION: the file apt-get download writes
	local f=$DEBS/${1}_${2//:/%3a}
	[ -e "${f}_all.deb" ] && f=${f}_all.deb || f=${f}_amd64.deb
	printf '%s' "$f"
}

# fetch "PKG VERSION"...: downloads what is not in debs/ yet.
fetch() {
	local line p v want=()
	for line in "$@"; do
		read -r p v <<<"$line"
		[ -s "$(deb_of "$p" "$v")" ] || want+=("$p=$v")
	done
	[ ${#want[@]} -gt 0 ] || return 0
	log "downloading ${want[*]}"
	if ! (cd "$DEBS" && apt-get download -q "${APT_OPTS[@]}" "${want[@]}" >&2); then
		[ $APT_UPDATED = 0 ] || die "apt-get download failed"
		apt-get update -q >&2 || die "apt-get update failed"
		APT_UPDATED=1
		(cd "$DEBS" && apt-get download -q "${APT_OPTS[@]}" "${want[@]}" >&2) ||
			die "apt-get download failed"
	fi
}

# The kernel package linux-image-amd64 points at.
kernel_pkg() {
	apt-cache show --no-all-versions linux-image-amd64 |
		sed -n 's/^Depends: *\(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1
}

# The guest is amd64 and apt-get download fetches the host's architecture.
[ "$(dpkg --print-architecture)" = amd64 ] ||
	die "the guest's packages are amd64; this host is $(dpkg --print-architecture)"
mkdir -p "$DEBS"
exec 8>"$CACHE/lock"
flock -w 900 8 || die "another prepare.sh holds $CACHE/lock"

versions linux-image-amd64 >/dev/null # updates the lists if need be
KPKG=$(kernel_pkg)
[ -n "$KPKG" ] || die "cannot find the kernel that linux-image-amd64 depends on"
TOOL_PKGS=$(printf '%s\n' "$FILES" | awk 'NF {print $1}' | sort -u)
# shellcheck disable=SC2086 # one word per package
ROOTS=$(versions "$KPKG" $TOOL_PKGS)
KEY=$( {
	printf '%s\n' "$ROOTS"
	cat "$HERE/prepare.sh" "$HERE/init" "$HERE/guest-lib.sh"
} | sha256sum | cut -c1-16)
OUT=$CACHE/$KEY

# A finished build is reused while every package it took (the libraries
# too, from its manifest) is still the candidate version.
if [ -e "$OUT/ready" ]; then
	# shellcheck disable=SC2046 # one word per package
	now=$(versions $(awk '{print $1}' "$OUT/manifest"))
	if [ "$now" = "$(cat "$OUT/manifest")" ]; then
		echo "$OUT"
		exit 0
	fi
	log "a library package changed version: rebuilding $OUT"
fi

log "building the guest in $OUT"
W=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$W"' EXIT
R=$W/root # the initramfs
X=$W/x    # unpacked packages, one directory each
mkdir -p "$R" "$X"
declare -A VER=() # package -> version of everything taken

# unpack "PKG VERSION"...
unpack() {
	local line p v
	fetch "$@"
	for line in "$@"; do
		read -r p v <<<"$line"
		mkdir -p "$X/$p"
		dpkg-deb -x "$(deb_of "$p" "$v")" "$X/$p"
		VER[$p]=$v
	done
}

mapfile -t lines <<<"$ROOTS"
unpack "${lines[@]}"

# The tools, as FILES says.
while read -r pkg path dest; do
	[ -n "$pkg" ] || continue
	found=0
	for src in "$X/$pkg"/$path; do
		[ -e "$src" ] || [ -L "$src" ] || continue
		rel=${src#"$X/$pkg"/}
		to=$R/${dest:-$rel}
		mkdir -p "$(dirname "$to")"
		cp -a "$src" "$to"
		found=1
	done
	[ $found = 1 ] || die "package $pkg has no $path"
done <<<"$FILES"

# Shared libraries: every NEEDED entry of every ELF file in the guest,
# from the unpacked packages. A name no unpacked package has comes from
# the library packages that the package needing it depends on (that is
# how Debian declares them); each round unpacks those and looks again.
LIBDIR=lib/x86_64-linux-gnu
mkdir -p "$R/$LIBDIR" "$R/lib64"
declare -A OWNER=() # guest path of an ELF file -> its package
while read -r pkg path dest; do
	[ -n "$pkg" ] || continue
	for src in "$X/$pkg"/$path; do
		rel=${src#"$X/$pkg"/}
		OWNER[${dest:-$rel}]=$pkg
	done
done <<<"$FILES"

# needed FILE: the libraries an ELF file names (nothing for other files).
needed() { { readelf -d "$1" 2>/dev/null || true; } | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
lib_deps() { # PKG: the library packages it depends on (first alternatives)
	local p=$1
	dpkg-deb -f "$(deb_of "$p" "${VER[$p]}")" Depends Pre-Depends |
		sed 's/^[A-Za-z-]*: //' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' |
		grep -E '^(lib|zlib1g$)' || true
}

declare -A NEEDS=() # guest path -> what it needs (each file read once)
for round in $(seq 20); do
	declare -A missing_from=() # package whose ELF needs a missing library
	missing=()
	copied=0
	for rel in "${!OWNER[@]}"; do
		[ -n "${NEEDS[$rel]+set}" ] || NEEDS[$rel]=$(needed "$R/$rel")
		for so in ${NEEDS[$rel]}; do
			[ -e "$R/$LIBDIR/$so" ] && continue
			src=""
			for cand in "$X"/*/lib/x86_64-linux-gnu/"$so" "$X"/*/usr/lib/x86_64-linux-gnu/"$so"; do
				[ -e "$cand" ] && src=$cand && break
			done
			if [ -n "$src" ]; then
				cp -L "$src" "$R/$LIBDIR/$so"
				p=${src#"$X"/}
				OWNER[$LIBDIR/$so]=${p%%/*}
				copied=$((copied + 1))
			else
				missing+=("$so")
				missing_from[${OWNER[$rel]}]=1
			fi
		done
	done
	# A library copied in this round may need more: another round.
	if [ ${#missing[@]} = 0 ]; then
		[ $copied != 0 ] || break
		continue
	fi
	want=()
	for p in "${!missing_from[@]}"; do
		for d in $(lib_deps "$p"); do
			[ -n "${VER[$d]:-}" ] || want+=("$d")
		done
	done
	mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u | grep . || true)
	[ ${#want[@]} -gt 0 ] ||
		die "no package provides $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
	log "libraries $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')missing: unpacking ${want[*]}"
	mapfile -t lines < <(versions "${want[@]}")
	unpack "${lines[@]}"
	[ "$round" != 20 ] || die "library resolution did not settle in 20 rounds"
done
ln -sf /$LIBDIR/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
[ -e "$R/$LIBDIR/ld-linux-x86-64.so.2" ] || die "no dynamic loader (libc6) in the guest"

# Busybox applets for every name no real tool has taken.
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin}
"$R/bin/busybox" --list-full | while read -r applet; do
	[ -e "$R/$applet" ] || [ -L "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done

# The guest's kmod, run here through its own loader and libraries.
guest_kmod() { # COMMAND ARGS...
	"$R/$LIBDIR/ld-linux-x86-64.so.2" --library-path "$R/$LIBDIR" \
		--argv0 "$1" "$R/bin/kmod" "${@:2}"
}

# The kernel and the module closure. The package ships no modules.dep
# (its postinst runs depmod): depmod makes it here, over the whole tree.
KVER=${KPKG#linux-image-}
KX=$X/$KPKG
M=lib/modules/$KVER
[ -f "$KX/boot/vmlinuz-$KVER" ] || die "$KPKG has no boot/vmlinuz-$KVER"
log "depmod over $KPKG"
guest_kmod depmod -b "$KX" "$KVER"
norm() { sed 's/-/_/g'; }
declare -A TAKE=()
for mod in $MODULES; do
	line=$(awk -v m="$mod" -F: '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko$/, "", n); gsub(/-/, "_", n)
		if (n == m) { print; exit }
	}' "$KX/$M/modules.dep")
	if [ -z "$line" ]; then
		sed 's/.*\///; s/\.ko$//' "$KX/$M/modules.builtin" | norm | grep -qx "$mod" ||
			die "module $mod is neither in modules.dep nor built in"
		log "module $mod is built into the kernel"
		continue
	fi
	for ko in ${line/:/ }; do
		TAKE[$ko]=1
	done
done
for ko in "${!TAKE[@]}"; do
	mkdir -p "$R/$M/$(dirname "$ko")"
	cp "$KX/$M/$ko" "$R/$M/$ko"
done
cp "$KX/$M"/modules.builtin "$KX/$M"/modules.builtin.modinfo "$KX/$M"/modules.order "$R/$M/"
guest_kmod depmod -b "$R" "$KVER"
# shellcheck disable=SC2086 # one line of module names
echo $MODULES >"$R/etc/guest-modules"

# The guest's own files and the directories /init mounts on.
mkdir -p "$R"/{proc,sys,dev,run,tmp,mnt,root,scenario,etc/iscsi/nodes,etc/iscsi/send_targets,var/lib/iscsi}
ln -s /run/lock "$R/var/lock"
ln -s /run "$R/var/run"
cp "$HERE/init" "$R/init"
cp "$HERE/guest-lib.sh" "$R/lib/guest-lib.sh"
chmod 755 "$R/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\ntape:x:26:\n' >"$R/etc/group"
printf '%s\n' "$KVER" >"$R/etc/guest-kver"

log "writing the initramfs"
# newc cpio owned by root inside, whoever builds it (no device nodes: the
# guest mounts devtmpfs).
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0) | gzip -n -6 >"$W/initramfs.cpio.gz"

for p in "${!VER[@]}"; do
	printf '%s %s\n' "$p" "${VER[$p]}"
done | LC_ALL=C sort >"$W/manifest"
# The manifest's order must be what versions() prints for it.
# shellcheck disable=SC2046 # one word per package
versions $(awk '{print $1}' "$W/manifest") >"$W/manifest.now"
mv "$W/manifest.now" "$W/manifest"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$KX/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
mv "$W/initramfs.cpio.gz" "$W/manifest" "$OUT/"
printf '%s\n' "$KVER" >"$OUT/kver"
touch "$OUT/ready"

# Only this build is kept, with the packages it took.
for d in "$CACHE"/*/; do
	d=${d%/}
	[ "$d" = "$OUT" ] || [ "$d" = "$DEBS" ] || [ ! -e "$d/manifest" ] || rm -rf "$d"
done
declare -A KEEP=()
for p in "${!VER[@]}"; do
	KEEP[$(basename "$(deb_of "$p" "${VER[$p]}")")]=1
done
for f in "$DEBS"/*.deb; do
	[ -n "${KEEP[$(basename "$f")]:-}" ] || rm -f "$f"
done
log "guest ready: $(du -sh "$OUT" | cut -f1) in $OUT, $(du -sh "$DEBS" | cut -f1) of packages"
echo "$OUT"
