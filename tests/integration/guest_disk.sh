#!/bin/bash
# Disks as a Linux guest uses them, in a QEMU guest under TCG
# (tests/guest/: a Debian 12 kernel and initramfs, prepared once and cached):
#  a. a thin LUN attached through QEMU's iSCSI driver as scsi-block (the
#     guest's sd driver sees lunar's own answers): mkfs.ext4, files with
#     checksums, umount, fsck clean, mount again and verify; an O_DIRECT
#     round trip with dd; blkdiscard of a written range, which then reads
#     zeros in the guest and is a hole in the backing file;
#  b. the kernel's own initiator over user networking: iscsistart logs in
#     to a second target, a pattern goes to the new /dev/sdX and back;
#     iscsid takes the session over and `iscsiadm -m session -u` logs out,
#     after which lunar lists no session of the guest's kernel while
#     QEMU's session (part a) is still there.
# The host asserts every step by name, and that the backing files hold
# what the guest wrote.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-guest-disk
IQN_K=iqn.2026-11.org.lunar:it-guest-kernel
GUEST_INI=iqn.2026-11.org.lunar:it-guest-disk-kernel
GUEST_DIR=$LUNAR_ROOT/tests/guest
# What the guest's steps are called (the scenario below), in order.
STEPS="boot net disk-a mkfs write-files fsck verify-files direct-io blkdiscard
iscsi-login iscsi-disk iscsi-io host-sessions-up iscsid-takeover iscsi-logout
host-session-gone"

# The first run downloads about 85 MB of Debian packages; later ones use
# the cache (seconds).
guest_prepare
log "guest ready after ${SECONDS}s: $(cat "$T/guest.dir")"

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/a.img" $((64 * 1024 * 1024)) --thin
make_target "$IQN_K"
add_file_lun "$IQN_K" 1 "$T/k.img" $((16 * 1024 * 1024))

# host_check NAME: the host's side of the guest's host_sync NAME, run by
# tests/guest/run.sh in its own bash (hence exported, with what it uses).
host_check() {
	local json verdict
	for _ in $(seq 50); do
		json=$(ctl --json session list) || return 1
		verdict=$(python3 -c '
import json, sys
l = json.loads(sys.argv[1])
what, ini, iqn, iqn_k = sys.argv[2:6]
kern = [s for s in l if s["initiator"] == ini]
qemu = [s for s in l if s["target"] == iqn and not s["discovery"]]
if len(qemu) != 1:
    print("expected one session of QEMU on %s, got %s" % (iqn, qemu))
elif what == "host-sessions-up" and (len(kern) != 1 or kern[0]["target"] != iqn_k):
    print("expected one session of %s on %s, got %s" % (ini, iqn_k, kern))
elif what == "host-session-gone" and kern:
    print("the session of %s is still listed: %s" % (ini, kern))
elif what not in ("host-sessions-up", "host-session-gone"):
    print("no check called " + what)
else:
    print("ok: QEMU as %s on %s; the kernel: %s" % (qemu[0]["initiator"], iqn,
        ["%s from %s" % (s["target"], s["connections"][0]["peer"]) for s in kern]))
' "$json" "$1" "$GUEST_INI" "$IQN" "$IQN_K") || return 1
		case $verdict in
		ok:*)
			echo "$verdict"
			return 0
			;;
		esac
		# A logout may still be on its way: ask again for up to 5 s.
		[ "$1" = host-session-gone ] || break
		sleep 0.1
	done
	echo "$verdict"
	return 1
}
export -f host_check ctl
export LUNARCTL SOCK IQN IQN_K GUEST_INI

# The guest's side: busybox ash, helpers from tests/guest/guest-lib.sh.
# Disk a (64 MiB): ext4 on the first 48 MiB, an O_DIRECT round trip at
# 52 MiB, blkdiscard at 56 MiB (4 MiB each).
cat >"$T/scenario.sh" <<'EOF'
disk_a() { cat /tmp/disk-a; }
disk_k() { cat /tmp/disk-k; }

find_disk_a() {
	wait_for 60 scsi_dev virtio disk || {
		scsi_list
		die "no disk on virtio-scsi after 60 s"
	}
	scsi_list
	scsi_dev virtio disk >/tmp/disk-a
	d=$(disk_a)
	echo "disk a: $d, $(cat /sys/class/block/${d#/dev/}/size) sectors," \
		"discard_max_bytes $(cat /sys/class/block/${d#/dev/}/queue/discard_max_bytes)"
}

make_fs() {
	/sbin/mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$(disk_a)" 48M
}

write_files() {
	mount -t ext4 "$(disk_a)" /mnt
	mkdir /mnt/d
	for i in 1 2 3 4 5 6; do
		head -c 1048576 /dev/urandom >/mnt/f$i
	done
	for i in $(seq 40); do
		head -c $((i * 997)) /dev/urandom >/mnt/d/s$i
	done
	(cd /mnt && sha256sum f* d/*) >/tmp/sums
	cp /tmp/sums /mnt/sums
	sync
	umount /mnt
}

fsck_clean() { /sbin/fsck.ext4 -fn "$(disk_a)"; }

verify_files() {
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 "$(disk_a)" /mnt
	(cd /mnt && sha256sum -c /tmp/sums) >/tmp/check
	tail -n 3 /tmp/check
	cmp /tmp/sums /mnt/sums
	umount /mnt
}

direct_io() {
	head -c 4194304 /dev/urandom >/tmp/dio
	/bin/dd if=/tmp/dio of="$(disk_a)" bs=1M seek=52 oflag=direct conv=fsync status=none
	/bin/dd if="$(disk_a)" of=/tmp/dio.back bs=1M skip=52 count=4 iflag=direct status=none
	cmp /tmp/dio /tmp/dio.back
	info direct-sha "$(sha256sum </tmp/dio | cut -d' ' -f1)"
}

discard() {
	head -c 4194304 /dev/urandom >/tmp/pat
	head -c 4194304 /dev/zero >/tmp/zero
	/bin/dd if=/tmp/pat of="$(disk_a)" bs=1M seek=56 oflag=direct status=none
	/bin/dd if="$(disk_a)" of=/tmp/back bs=1M skip=56 count=4 iflag=direct status=none
	cmp /tmp/pat /tmp/back
	/sbin/blkdiscard -f -v -o $((56 << 20)) -l $((4 << 20)) "$(disk_a)"
	/bin/dd if="$(disk_a)" of=/tmp/back bs=1M skip=56 count=4 iflag=direct status=none
	cmp /tmp/zero /tmp/back || die "the discarded range does not read zeros"
}

iscsi_login() {
	timeout 90 /sbin/iscsistart -i "$GUEST_INITIATOR" -t "$IQN_K" -g 1 \
		-a 10.0.2.2 -p "$PORT"
}

find_disk_k() {
	wait_for 60 scsi_dev iscsi disk || {
		scsi_list
		die "no iSCSI disk 60 s after the login"
	}
	scsi_list
	scsi_dev iscsi disk >/tmp/disk-k
	echo "disk k: $(disk_k)"
}

iscsi_io() {
	head -c 4194304 /dev/urandom >/tmp/kpat
	/bin/dd if=/tmp/kpat of="$(disk_k)" bs=256k oflag=direct conv=fsync status=none
	/bin/dd if="$(disk_k)" of=/tmp/kback bs=256k count=16 iflag=direct status=none
	cmp /tmp/kpat /tmp/kback
	info iscsi-sha "$(sha256sum </tmp/kpat | cut -d' ' -f1)"
}

session_logged_in() {
	/sbin/iscsiadm -m session -P 1 2>/dev/null | grep -q 'iSCSI Session State: LOGGED_IN'
}

# iscsistart cannot log out: iscsid takes the session over (it logs the
# connection in again), then iscsiadm logs it out.
iscsid_takeover() {
	/sbin/iscsid
	wait_for 60 session_logged_in || {
		/sbin/iscsiadm -m session -P 1 || true
		die "iscsid did not take the session over within 60 s"
	}
	/sbin/iscsiadm -m session -P 1
}

disk_k_gone() { [ ! -e "$(disk_k)" ]; }

iscsi_logout() {
	/sbin/iscsiadm -m session -u
	wait_for 30 disk_k_gone || die "$(disk_k) is still there 30 s after the logout"
	if /sbin/iscsiadm -m session; then
		die "iscsiadm still lists a session"
	fi
}

scenario() {
	step disk-a find_disk_a || return
	step mkfs make_fs &&
		step write-files write_files &&
		step fsck fsck_clean &&
		step verify-files verify_files
	step direct-io direct_io
	step blkdiscard discard
	step iscsi-login iscsi_login || return
	step iscsi-disk find_disk_k || return
	step iscsi-io iscsi_io
	host_sync host-sessions-up
	step iscsid-takeover iscsid_takeover || return
	step iscsi-logout iscsi_logout || return
	host_sync host-session-gone
}
EOF

# The guest's time: what is left of run.sh's 300 s, at most 200 s.
budget=$((280 - SECONDS))
[ $budget -le 200 ] || budget=200
[ $budget -ge 60 ] || fail "only $budget s left for the guest after preparing it"
log "booting the guest (TCG, at most $budget s)"
rc=0
run_bounded $((budget + 30)) "$GUEST_DIR/run.sh" --timeout "$budget" \
	--lun "$(lun_url "$IQN" 1):scsi-block" --net \
	--env "PORT=$PORT" --env "IQN_K=$IQN_K" --env "GUEST_INITIATOR=$GUEST_INI" \
	--hook host_check --console "$LOG_DIR/$TEST_NAME.console.log" \
	"$T/scenario.sh" 2>&1 | tee "$T/guest.out" || rc=$?

missing=""
for s in $STEPS; do
	grep -qx "GUEST-STEP $s PASS" "$T/guest.out" || missing="$missing $s"
done
[ -z "$missing" ] || fail "guest steps that did not pass:$missing (console: $LOG_DIR/$TEST_NAME.console.log)"
[ $rc = 0 ] || fail "tests/guest/run.sh exited $rc"

# What the guest wrote is in the backing files, at the offsets it used.
guest_info() { sed -n "s/^GUEST-INFO $1 //p" "$T/guest.out"; }
sha_at() { # FILE OFFSET_MIB: sha256 of 4 MiB there
	dd if="$1" bs=1M skip="$2" count=4 status=none | sha256sum | cut -d' ' -f1
}
assert_eq "$(guest_info direct-sha)" "$(sha_at "$T/a.img" 52)" \
	"sha256 of the O_DIRECT write in a.img at 52 MiB"
assert_eq "$(guest_info iscsi-sha)" "$(sha_at "$T/k.img" 0)" \
	"sha256 of the kernel initiator's write in k.img"
cmp -n $((4 << 20)) -i $((56 << 20)):0 "$T/a.img" /dev/zero ||
	fail "the range the guest discarded does not hold zeros in a.img"
verdict=$(python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
start, end = 56 << 20, 60 << 20
try:
    data = os.lseek(fd, start, os.SEEK_DATA)
except OSError as e:
    data = end if e.errno == errno.ENXIO else -1
print("ok" if data >= end else "data at %d, inside the discarded range" % data)
' "$T/a.img")
assert_eq ok "$verdict" "the discarded range of a.img is a hole"
log "backing files hold the guest's writes; the discarded range is a hole"

# QEMU is gone: so are all its sessions.
for _ in $(seq 50); do
	[ "$(ctl_ok --json session list)" = "[]" ] && break
	sleep 0.1
done
assert_eq "[]" "$(ctl_ok --json session list)" "sessions after the guest powered off"
lunard_stop
