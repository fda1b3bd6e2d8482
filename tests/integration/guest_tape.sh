#!/bin/bash
# A virtual tape library as a Linux guest uses it, in the QEMU guest of
# tests/guest/ (TCG): a changer LU (LUN 0, --type changer) whose slots
# hold three cartridge files with barcodes, and an empty tape drive
# (LUN 1, --type tape) that is its data transfer element; both attached
# through QEMU's iSCSI driver as scsi-generic, so the guest's ch and st
# drivers, mtx, mt and GNU tar talk to lunar's own answers. In the guest:
# `mtx status` lists the slots with their barcodes and an empty drive;
# `mtx load` puts a cartridge in the drive and st sees it; GNU tar writes
# three archives separated by filemarks (st writes one at each close);
# `mt` tell, eod, rewind and fsf move over them and each archive reads
# back identical after `mt fsf`. Then the host kills lunard with kill -9
# and starts it again from its saved configuration: every archive the
# guest wrote (and got GOOD for) reads back. `mtx unload` returns the
# cartridge to its slot (the drive is then empty) and `mtx load` of a
# blank cartridge gives the guest a tape with nothing on it (BLANK
# CHECK). The host then sees the inventory where the guest left it.
# About 30 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-12.org.lunar:it-guest-tape
GUEST_DIR=$LUNAR_ROOT/tests/guest
STEPS="find-devices mtx-status mtx-load tape-online tar-write mt-positions
tar-read host-kill-restart tar-read-after-kill mtx-unload drive-empty
mtx-load-blank blank-tape"
command -v xorriso >/dev/null || fail "xorriso is missing: run scripts/deps.sh test"

guest_prepare

# The three archives' contents, made here with their checksums.
for a in 1 2 3; do
	mkdir -p "$T/arch$a/dir$a"
	head -c $((a * 150000 + 777)) /dev/urandom >"$T/arch$a/dir$a/data$a.bin"
	seq $a $a $((a * 20000)) >"$T/arch$a/dir$a/seq$a.txt"
done

# Three cartridges with barcodes, the state file of the changer.
for c in 1 2 3; do
	ctl_ok tape create "$T/cart$c.tape" --size 64M --barcode "LUN00${c}L8" >/dev/null
done
CONF=$T/conf/lunar.json
mkdir -p "$T/conf"
lunard_start --config "$CONF"
make_target "$IQN"
ctl_ok lun create "$IQN" 0 --type changer --backing "$T/library.json" >/dev/null
ctl_ok lun create "$IQN" 1 --type tape >/dev/null
ctl_ok changer drive add "$IQN" 0 1 >/dev/null
ctl_ok changer slot add "$IQN" 0 --count 4 >/dev/null
for c in 1 2 3; do
	ctl_ok changer cartridge add "$IQN" 0 --first-empty --barcode "LUN00${c}L8" \
		--file "$T/cart$c.tape" >/dev/null
done
ctl_ok config save >/dev/null

# The host's side of host_sync host-kill-restart: run.sh runs hooks in a
# child shell, which cannot restart lunard for this script; it asks (a
# file) and waits until this script, polling while the guest runs, has
# killed lunard with SIGKILL and started it again from the saved config.
host_hook() {
	case $1 in
	host-kill-restart)
		: >"$HOOK_DIR/kill.req"
		for _ in $(seq 600); do
			[ -e "$HOOK_DIR/kill.done" ] && { cat "$HOOK_DIR/kill.done"; return 0; }
			sleep 0.1
		done
		echo "lunard was not restarted within 60 s"
		return 1
		;;
	*) echo "no host step $1"; return 1 ;;
	esac
}
export -f host_hook
export HOOK_DIR=$T

{
	echo 'write_sums() {'
	for a in 1 2 3; do
		echo "	cat >/tmp/sums$a.txt <<'SUMS'"
		(cd "$T/arch$a" && sha256sum "dir$a/data$a.bin" "dir$a/seq$a.txt")
		echo 'SUMS'
	done
	echo '}'
	# The archives' files travel inside the scenario, as shell here-docs
	# of base64 (the guest has only its initramfs).
	echo 'write_trees() {'
	for a in 1 2 3; do
		echo "	mkdir -p /tmp/arch$a"
		echo "	(cd /tmp/arch$a && base64 -d <<'B64' | /usr/bin/gtar xzf -)"
		(cd "$T/arch$a" && tar czf - "dir$a" | base64)
		echo 'B64'
	done
	echo '}'
} >"$T/scenario.sh"
cat >>"$T/scenario.sh" <<'EOF'
changer_sg() {
	_sg=$(scsi_list | awk '$2 == "changer" && $3 == "virtio" { print $5; exit }')
	[ -n "$_sg" ] && [ "$_sg" != - ] || die "no sg node for the changer"
	echo "/dev/$_sg"
}
# The non-rewinding st device of the drive.
tape() { echo "/dev/n$(scsi_dev virtio tape | sed 's,/dev/,,')"; }
mtx() { /usr/sbin/mtx -f "$(changer_sg)" "$@"; }
mt() { /bin/mt-st -f "$(tape)" "$@"; }

find_devices() {
	wait_for 60 scsi_dev virtio tape || { scsi_list; die "no tape drive after 60 s"; }
	wait_for 30 changer_sg || { scsi_list; die "no changer after 30 s"; }
	scsi_list
	dmesg | grep -iE ' st[0-9]|ch[0-9]|changer' || true
	write_sums
	write_trees
}

mtx_status() {
	mtx status | tee /tmp/status
	grep -q 'Data Transfer Element 0:Empty' /tmp/status
	for c in 1 2 3; do
		grep -q "Storage Element $c:Full :VolumeTag=LUN00${c}L8" /tmp/status
	done
	grep -q 'Storage Element 4:Empty' /tmp/status
}

mtx_load() { mtx load 1 0; mtx status | grep 'Data Transfer Element 0:Full'; }

tape_ready() { mt status | grep -q ONLINE; }
tape_online() {
	# The first command after the load gets the medium-changed unit
	# attention, which st passes on once.
	wait_for 30 tape_ready || { mt status; die "the drive is not online 30 s after mtx load"; }
	mt status | tee /tmp/st
	# st's MODE SENSE at open found the block descriptor.
	grep -q 'Density code 0x80' /tmp/st || die "st did not read the density"
	mt rewind
}

tar_write() {
	mt rewind
	for a in 1 2 3; do
		(cd /tmp/arch$a && /usr/bin/gtar cf "$(tape)" "dir$a")
	done
	mt status
}

# Positions: after three archives and their filemarks, eod is past the
# third filemark; tell counts blocks and filemarks (READ POSITION).
mt_positions() {
	mt eod
	mt status | tee /tmp/st
	grep -q 'File number=3' /tmp/st
	end=$(mt tell | sed 's/[^0-9]//g')
	[ "$end" -gt 3 ] || die "tell at EOD is $end"
	mt rewind
	[ "$(mt tell | sed 's/[^0-9]//g')" = 0 ] || die "tell after rewind is not 0"
	mt fsf 2
	mt status | grep -q 'File number=2'
	mt bsf 1 # onto the second filemark's BOT side ...
	mt fsf 1 # ... and past it again
	mt status | grep -q 'File number=2'
}

read_archives() {
	for a in 1 2 3; do
		mt rewind
		[ $a = 1 ] || mt fsf $((a - 1))
		rm -rf /tmp/out && mkdir -p /tmp/out
		(cd /tmp/out && /usr/bin/gtar xf "$(tape)")
		(cd /tmp/out && sha256sum -c /tmp/sums$a.txt)
		for b in 1 2 3; do
			[ $b = $a ] || [ ! -e /tmp/out/dir$b ] || die "archive $a has dir$b"
		done
	done
}

# After lunard's restart the first commands see the reset (power on unit
# attention) and QEMU's reconnect: retry rewind until the drive answers.
tar_read_after_kill() {
	wait_for 60 mt rewind || die "the drive does not rewind 60 s after the restart"
	read_archives
}

mtx_unload() { mtx unload 1 0; mtx status | tee /tmp/status; grep -q 'Storage Element 1:Full :VolumeTag=LUN001L8' /tmp/status; }

drive_empty() {
	if mt status >/tmp/st 2>&1 && grep -q ONLINE /tmp/st; then
		cat /tmp/st
		die "the drive is online with no cartridge"
	fi
	cat /tmp/st
}

mtx_load_blank() { mtx load 2 0; wait_for 30 tape_ready; }

tape_sg() {
	_sg=$(scsi_list | awk '$2 == "tape" && $3 == "virtio" { print $5; exit }')
	[ -n "$_sg" ] && [ "$_sg" != - ] || die "no sg node for the tape"
	echo "/dev/$_sg"
}

# A blank cartridge: a READ (6) of a variable block at BOT gets BLANK
# CHECK, END-OF-DATA DETECTED (asked through sg, to see the sense), and
# tar finds nothing to list.
blank_tape() {
	mt rewind
	if /usr/bin/sg_raw -r 65536 "$(tape_sg)" 08 00 01 00 00 00 >/tmp/raw 2>&1; then
		cat /tmp/raw
		die "READ (6) of a blank tape succeeded"
	fi
	cat /tmp/raw
	grep -qi 'blank check' /tmp/raw || die "not BLANK CHECK"
	grep -qi 'end-of-data detected' /tmp/raw || die "not END-OF-DATA DETECTED"
	mt rewind
	if /usr/bin/gtar tf "$(tape)" >/tmp/tf 2>&1 && [ -s /tmp/tf ]; then
		cat /tmp/tf
		die "tar lists files on a blank tape"
	fi
	cat /tmp/tf
}

scenario() {
	step find-devices find_devices || return
	step mtx-status mtx_status
	step mtx-load mtx_load || return
	step tape-online tape_online || return
	step tar-write tar_write || return
	step mt-positions mt_positions
	step tar-read read_archives
	host_sync host-kill-restart 90 || return
	step tar-read-after-kill tar_read_after_kill
	step mtx-unload mtx_unload || return
	step drive-empty drive_empty
	step mtx-load-blank mtx_load_blank || return
	step blank-tape blank_tape
}
EOF

budget=$((300 - SECONDS))
[ $budget -le 240 ] || budget=240
[ $budget -ge 60 ] || fail "only $budget s left for the guest after preparing it"
log "booting the guest (TCG, at most $budget s)"
"$GUEST_DIR/run.sh" --timeout "$budget" \
	--lun "$(lun_url "$IQN" 0):scsi-generic" \
	--lun "$(lun_url "$IQN" 1):scsi-generic" --hook host_hook \
	--console "$LOG_DIR/$TEST_NAME.console.log" \
	"$T/scenario.sh" >"$T/guest.out" 2>&1 &
guest=$!
EXTRA_PIDS+=("$guest")
# While the guest runs: its kill-and-restart request.
for _ in $(seq $(((budget + 30) * 10))); do
	kill -0 "$guest" 2>/dev/null || break
	if [ -e "$T/kill.req" ] && [ ! -e "$T/kill.done" ]; then
		log "kill -9 lunard (pid $LUNARD_PID) at the guest's request"
		kill -KILL "$LUNARD_PID"
		wait "$LUNARD_PID" 2>/dev/null || true
		D_PID[CUR]="" LUNARD_PID=""
		lunard_start --config "$CONF"
		echo "lunard restarted as pid $LUNARD_PID" >"$T/kill.done"
	fi
	sleep 0.1
done
rc=0
wait "$guest" || rc=$?
cat "$T/guest.out"

missing=""
for s in $STEPS; do
	grep -qx "GUEST-STEP $s PASS" "$T/guest.out" || missing="$missing $s"
done
[ -z "$missing" ] || fail "guest steps that did not pass:$missing (console: $LOG_DIR/$TEST_NAME.console.log)"
[ $rc = 0 ] || fail "tests/guest/run.sh exited $rc"
inv=$(ctl_ok changer show "$IQN" 0)
echo "$inv"
# The guest's last move, as the restarted lunard saved it: the second
# cartridge in the drive, the first back in its slot.
assert_contains "$(echo "$inv" | grep 'drive LUN 1')" "LUN002L8" "the drive holds the cartridge mtx loaded"
assert_contains "$(echo "$inv" | grep '0x1000')" "LUN001L8" "the first cartridge is back in its slot"
grep -q "lunard restarted as pid" "$T/kill.done" || fail "lunard was not killed and restarted"
lunard_alive || fail "lunard died"
lunard_stop
