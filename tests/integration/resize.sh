#!/bin/bash
# lunarctl lun resize while an initiator is logged in (SBC-4 §4.10): its
# next command gets CAPACITY DATA HAS CHANGED (2Ah/09h), then READ CAPACITY
# shows the new size; the file grows sparse and the written data survive;
# a shrink needs --shrink; bad sizes are refused with the reason; a null
# LUN resizes too; the new size survives config save and a restart.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-resize
MiB=$((1024 * 1024))
lunard_start --config "$T/lunar.json"
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((64 * MiB))
ctl_ok lun create "$IQN" 2 --backing nullstore --bstype null --size 1G >/dev/null

random_file "$T/data" 8
qemu_roundtrip "$T/data" "$(lun_url "$IQN" 1)"

# watch_start LUN: a logged-in initiator on LUN, as a coprocess.
watch_start() {
	coproc WATCH { run_bounded 120 "$TESTBIN/resize_watch" "$(lun_url "$IQN" "$1")"; }
	read -r -t 30 -u "${WATCH[0]}" line || fail "resize_watch did not log in"
	printf 'watcher: %s\n' "$line"
	WATCH_READY=$line
}
# watch_check: one READ CAPACITY round; sets UA_LINE and CAP_LINE.
watch_check() {
	echo check >&"${WATCH[1]}"
	read -r -t 30 -u "${WATCH[0]}" UA_LINE || fail "resize_watch did not answer"
	read -r -t 30 -u "${WATCH[0]}" CAP_LINE || fail "resize_watch did not answer"
	printf 'watcher: %s / %s\n' "$UA_LINE" "$CAP_LINE"
}
watch_stop() {
	echo quit >&"${WATCH[1]}"
	wait "$WATCH_PID" || fail "resize_watch exited $?"
}

watch_start 1
assert_eq "ready $((64 * MiB))" "$WATCH_READY" "capacity before the resize"
watch_check
assert_eq "good" "$UA_LINE" "no unit attention before the resize"

OUT=$(ctl_ok lun resize "$IQN" 1 128M)
assert_contains "$OUT" "134217728" "lunarctl reports the new size"
watch_check
assert_eq "ua 2a/09" "$UA_LINE" "first command after the resize"
assert_eq "capacity $((128 * MiB))" "$CAP_LINE" "READ CAPACITY after the resize"
watch_check
assert_eq "good" "$UA_LINE" "the unit attention is reported once"
assert_eq $((128 * MiB)) "$(stat -c %s "$T/l1.img")" "backing file size"
[ "$(du -k "$T/l1.img" | cut -f1)" -lt 32768 ] || fail "the grown file is not sparse"

# Shrinking loses data: refused without --shrink, with the reason.
ctl_fails lun resize "$IQN" 1 32M
assert_contains "$CTL_OUT" "--shrink" "shrink refusal names the option"
ctl_fails lun resize "$IQN" 1 1000
assert_contains "$CTL_OUT" "block size" "unaligned size refused"
ctl_fails lun resize "$IQN" 1 12Q
ctl_fails lun resize "$IQN" 9 1G
assert_contains "$CTL_OUT" "no LUN 9" "missing LUN named"
ctl_ok lun resize "$IQN" 1 32M --shrink >/dev/null
watch_check
assert_eq "ua 2a/09" "$UA_LINE" "first command after the shrink"
assert_eq "capacity $((32 * MiB))" "$CAP_LINE" "READ CAPACITY after the shrink"
watch_stop

# The data below the new end are intact.
back=$T/back.raw
assert_ok "qemu-img reads LUN 1" qemu-img convert -f raw -O raw "$(lun_url "$IQN" 1)" "$back"
cmp -n $((8 * MiB)) "$T/data" "$back" || fail "data changed by the resizes"

# A null LUN, and a size the same as now (no unit attention).
watch_start 2
ctl_ok lun resize "$IQN" 2 2G >/dev/null
watch_check
assert_eq "ua 2a/09" "$UA_LINE" "null LUN: first command after the resize"
assert_eq "capacity $((2048 * MiB))" "$CAP_LINE" "null LUN: new capacity"
ctl_ok lun resize "$IQN" 2 2G >/dev/null
watch_check
assert_eq "good" "$UA_LINE" "no unit attention when the size did not change"
watch_stop

# Without a size: the file grew outside lunard.
truncate -s $((48 * MiB)) "$T/l1.img"
OUT=$(ctl_ok lun resize "$IQN" 1)
assert_contains "$OUT" "$((48 * MiB))" "resize without a size takes the file's"

# The new size is in the saved configuration and after a restart.
ctl_ok config save >/dev/null
lunard_stop
lunard_start --config "$T/lunar.json"
assert_ok "READ CAPACITY(16) after restart" iscsi-readcapacity16 "$(lun_url "$IQN" 2)"
assert_contains "$OUT" "Total size:$((2048 * MiB))" "null LUN size after restart"
assert_ok "READ CAPACITY(16) after restart" iscsi-readcapacity16 "$(lun_url "$IQN" 1)"
assert_contains "$OUT" "Total size:$((48 * MiB))" "file LUN size after restart"
lunard_stop
