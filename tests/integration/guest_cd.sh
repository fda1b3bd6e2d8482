#!/bin/bash
# A CD/DVD LU (--type cd) as a Linux guest uses it, in the QEMU guest of
# tests/guest/ (TCG): the LU, over an ISO made by xorriso, is attached
# through QEMU's iSCSI driver as scsi-block, so the guest's sr driver sees
# lunar's own answers. In the guest: sr attaches it as an MMC drive that
# can open, lock and eject its tray; the ISO 9660 file system mounts and
# every file reads back byte-identical; while it is mounted (the kernel
# locks the tray: PREVENT ALLOW MEDIUM REMOVAL) a START STOP UNIT eject
# gets MEDIUM REMOVAL PREVENTED; after umount `eject` opens the tray and
# the drive (asked through sg: opening /dev/sr0 closes the tray) is NOT
# READY, MEDIUM NOT PRESENT and reads nothing; `eject -t` loads it again
# (START STOP UNIT) and the file system mounts and verifies once more.
# Then the admin: `lunarctl lun eject` is refused while the guest has the
# disc mounted, works once it is not (the drive is NOT READY), and
# `lunarctl lun load --backing` of a second ISO gives the guest that disc.
# About 30 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-guest-cd
GUEST_DIR=$LUNAR_ROOT/tests/guest
STEPS="find-cd mmc-drive mount-verify eject-mounted eject no-medium load
remount-verify host-eject-prevented host-eject no-medium-2 host-load
new-disc"
command -v xorriso >/dev/null || fail "xorriso is missing: run scripts/deps.sh test"

guest_prepare

# The disc: a few files of random data and text, with their checksums
# made here, on the host.
mkdir -p "$T/tree/docs"
for i in 1 2 3; do
	head -c $((i * 700000 + 123)) /dev/urandom >"$T/tree/data$i.bin"
done
seq 1 30000 >"$T/tree/docs/numbers.txt"
(cd "$T/tree" && sha256sum data1.bin data2.bin data3.bin docs/numbers.txt) >"$T/sums"
xorriso -as mkisofs -quiet -R -V LUNAR_GUEST -o "$T/disc.iso" "$T/tree" \
	2>"$T/xorriso.log" || fail "xorriso: $(cat "$T/xorriso.log")"
iso_sum=$(sha256sum <"$T/disc.iso")
# The second disc, for lun load.
mkdir -p "$T/tree2"
head -c 1500000 /dev/urandom >"$T/tree2/other.bin"
seq 5 5 50000 >"$T/tree2/fives.txt"
(cd "$T/tree2" && sha256sum other.bin fives.txt) >"$T/sums2"
xorriso -as mkisofs -quiet -R -V LUNAR_GUEST_2 -o "$T/disc2.iso" "$T/tree2" \
	2>"$T/xorriso.log" || fail "xorriso: $(cat "$T/xorriso.log")"

lunard_start
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --type cd --backing "$T/disc.iso" >/dev/null

# The host's side of the guest's host_sync points: the admin ejects
# (refused while the guest holds the tray locked) and loads another disc.
host_medium() {
	case $1 in
	host-eject-prevented)
		if ctl lun eject "$IQN" 1 >/tmp/lunar-guest-cd.$$ 2>&1; then
			echo "lun eject succeeded while the guest prevents removal"
			return 1
		fi
		grep -q "prevents the removal" /tmp/lunar-guest-cd.$$ ||
			{ tail -n1 /tmp/lunar-guest-cd.$$; return 1; }
		rm -f /tmp/lunar-guest-cd.$$
		;;
	host-eject) ctl lun eject "$IQN" 1 ;;
	host-load) ctl lun load "$IQN" 1 --backing "$DISC2" ;;
	*) echo "no host step $1"; return 1 ;;
	esac
}
export -f host_medium ctl
export LUNARCTL SOCK IQN
export DISC2=$T/disc2.iso

# The scenario carries the checksums (only its file reaches the guest).
{
	echo 'write_sums() {'
	echo "	cat >/tmp/sums.txt <<'SUMS'"
	cat "$T/sums"
	echo 'SUMS'
	echo "	cat >/tmp/sums2.txt <<'SUMS'"
	cat "$T/sums2"
	echo 'SUMS'
	echo '}'
} >"$T/scenario.sh"
cat >>"$T/scenario.sh" <<'EOF'
cd_dev() { cat /tmp/cd; }
# The drive's sg node: commands to it bypass the cdrom layer, which would
# close an open tray on open (autoclose) and keeps the tray locked.
cd_sg() {
	_sg=$(scsi_list | awk '$2 == "cd" && $3 == "virtio" { print $5; exit }')
	[ -n "$_sg" ] && [ "$_sg" != - ] || die "no sg node for the cd"
	echo "/dev/$_sg"
}

find_cd() {
	wait_for 60 scsi_dev virtio cd || {
		scsi_list
		die "no CD/DVD drive on virtio-scsi after 60 s"
	}
	scsi_list
	scsi_dev virtio cd >/tmp/cd
	echo "cd: $(cd_dev)"
	write_sums
}

# What sr made of lunar's answers (GET CONFIGURATION, mode page 2Ah).
mmc_drive() {
	dmesg | grep -i 'sr[0-9]' || true
	cat /proc/sys/dev/cdrom/info
	grep -q 'Can open tray:[[:space:]]*1' /proc/sys/dev/cdrom/info
	grep -q 'Can lock tray:[[:space:]]*1' /proc/sys/dev/cdrom/info
	grep -q 'Can read DVD:[[:space:]]*1' /proc/sys/dev/cdrom/info
}

mount_verify() {
	mount -t iso9660 -o ro "$(cd_dev)" /mnt
	(cd /mnt && sha256sum -c /tmp/sums.txt)
	umount /mnt
}

# Mounted, the kernel holds the tray locked (PREVENT ALLOW MEDIUM
# REMOVAL): a START STOP UNIT eject sent past the kernel (sg_start on the
# drive's sg node) must fail with MEDIUM REMOVAL PREVENTED and the medium
# stay in. (util-linux eject would unmount first.)
eject_mounted() {
	sg=$(cd_sg)
	mount -t iso9660 -o ro "$(cd_dev)" /mnt
	if /usr/bin/sg_start -vv --eject "$sg" >/tmp/sgout 2>&1; then
		cat /tmp/sgout
		die "START STOP UNIT eject succeeded while the tray was locked"
	fi
	cat /tmp/sgout
	grep -qi 'removal prevented' /tmp/sgout ||
		die "the eject failed, but not with MEDIUM REMOVAL PREVENTED"
	(cd /mnt && sha256sum -c /tmp/sums.txt) >/dev/null
	umount /mnt
}

do_eject() { /usr/bin/eject -v "$(cd_dev)"; }

# Through sg: opening /dev/srN would close the tray again (autoclose).
no_medium() {
	if /usr/bin/sg_turs -vv "$(cd_sg)" >/tmp/turs 2>&1; then
		cat /tmp/turs
		die "TEST UNIT READY is GOOD with the tray open"
	fi
	cat /tmp/turs
	grep -qi 'medium not present' /tmp/turs ||
		die "not ready, but not with MEDIUM NOT PRESENT"
	dd_sg=$(/usr/bin/sg_read if="$(cd_sg)" bs=2048 count=1 blk_sgio=1 2>&1) &&
		die "read a block with the tray open: $dd_sg"
	echo "$dd_sg" | tail -n 2
}

do_load() { /usr/bin/eject -v -t "$(cd_dev)"; }

medium_readable() {
	/bin/dd if="$(cd_dev)" of=/dev/null bs=2048 count=1 iflag=direct
}

remount_verify() {
	wait_for 30 medium_readable || die "no medium 30 s after the load"
	mount_verify
}

hold_mounted() { mount -t iso9660 -o ro "$(cd_dev)" /mnt; }
release_mounted() { umount /mnt; }

new_disc() {
	wait_for 30 medium_readable || die "no medium 30 s after lun load"
	mount -t iso9660 -o ro "$(cd_dev)" /mnt
	(cd /mnt && sha256sum -c /tmp/sums2.txt)
	[ ! -e /mnt/data1.bin ] || die "the first disc's files are still there"
	umount /mnt
}

scenario() {
	step find-cd find_cd || return
	step mmc-drive mmc_drive
	step mount-verify mount_verify
	step eject-mounted eject_mounted
	step eject do_eject || return
	step no-medium no_medium
	step load do_load || return
	step remount-verify remount_verify
	# The admin's eject and load (lunarctl), with the guest watching.
	step hold-mounted hold_mounted || return
	host_sync host-eject-prevented
	step release-mounted release_mounted || return
	host_sync host-eject || return
	step no-medium-2 no_medium
	host_sync host-load || return
	step new-disc new_disc
}
EOF

budget=$((280 - SECONDS))
[ $budget -le 200 ] || budget=200
[ $budget -ge 60 ] || fail "only $budget s left for the guest after preparing it"
log "booting the guest (TCG, at most $budget s)"
rc=0
run_bounded $((budget + 30)) "$GUEST_DIR/run.sh" --timeout "$budget" \
	--lun "$(lun_url "$IQN" 1):scsi-block" --hook host_medium \
	--console "$LOG_DIR/$TEST_NAME.console.log" \
	"$T/scenario.sh" 2>&1 | tee "$T/guest.out" || rc=$?

missing=""
for s in $STEPS; do
	grep -qx "GUEST-STEP $s PASS" "$T/guest.out" || missing="$missing $s"
done
[ -z "$missing" ] || fail "guest steps that did not pass:$missing (console: $LOG_DIR/$TEST_NAME.console.log)"
[ $rc = 0 ] || fail "tests/guest/run.sh exited $rc"
[ "$(sha256sum <"$T/disc.iso")" = "$iso_sum" ] || fail "the ISO changed under a read-only LU"
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "1: cd $T/disc2.iso" "target show names the loaded disc"
lunard_alive || fail "lunard died"
lunard_stop
