#!/bin/bash
# A tape LU (--type tape, SSC) over cartridges made by lunarctl tape
# create: $BUILD/tests/tape_io (tests/integration/tape_io.c) checks the
# commands and their sense data on an empty cartridge, the early warning
# and VOLUME OVERFLOW on a 64 KiB one, a write-protected LU and an
# empty drive; lunard refuses the options a tape cannot have; lun eject
# and lun load change cartridges, also in a drive created empty; then a
# writer streams blocks while
# lunard is killed with SIGKILL: after a restart from the saved
# configuration every acknowledged block reads back and the tape ends
# in BLANK CHECK; four sessions hammer one drive (LU resets, a session
# killed); then cdb_fuzz's random CDBs against the tape.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-tape

# wait_bounded SECS PID: the exit status of a background PID, or 124 if
# it runs longer than SECS (then it is killed).
wait_bounded() {
	local i
	for i in $(seq $(($1 * 10))); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$2" 2>/dev/null; then
		kill -KILL "$2" 2>/dev/null || true
		wait "$2" 2>/dev/null || true
		return 124
	fi
	wait "$2"
}
[ -x "$TESTBIN/tape_io" ] || fail "$TESTBIN/tape_io is missing: run make check"

# lunarctl tape create: no daemon needed, no overwrite without --force.
ctl tape create "$T/a.tape" --size 64M --barcode A00001 >/dev/null ||
	fail "tape create"
[ "$(stat -c %s "$T/a.tape")" = $((64 << 20)) ] || fail "a.tape is not 64 MiB"
[ "$(stat -c %b "$T/a.tape")" -lt 1000 ] || fail "a.tape is not sparse"
rc=0
out=$(ctl tape create "$T/a.tape" --size 64M 2>&1) || rc=$?
[ $rc = 1 ] || fail "tape create over an existing file: status $rc"
assert_contains "$out" "--force" "tape create names --force"
ctl tape create "$T/a.tape" --size 64M --force >/dev/null || fail "tape create --force"
ctl tape create "$T/small.tape" --size 64K >/dev/null || fail "tape create 64K"
ctl tape create "$T/ro.tape" --size 1M >/dev/null || fail "tape create ro"
ctl tape create "$T/b.tape" --size 1M >/dev/null || fail "tape create b"
ctl tape create "$T/kill.tape" --size 512M >/dev/null || fail "tape create kill"
head -c 100000 /dev/urandom >"$T/junk"

CONF=$T/conf/lunar.json
mkdir -p "$T/conf"
lunard_start --config "$CONF"
make_target "$IQN"
ctl_fails lun create "$IQN" 1 --type tape --backing "$T/a.tape" --size 1M
assert_contains "$CTL_OUT" "tape create" "a tape refuses --size"
ctl_fails lun create "$IQN" 1 --type tape --backing "$T/a.tape" --thin
ctl_fails lun create "$IQN" 1 --type tape --backing "$T/a.tape" --direct
ctl_fails lun create "$IQN" 1 --type tape --backing "$T/junk"
assert_contains "$CTL_OUT" "not a lunar tape cartridge" "a tape on a file that is no cartridge"
ctl_ok lun create "$IQN" 1 --type tape --backing "$T/a.tape" >/dev/null
ctl_fails lun create "$IQN" 9 --type tape --backing "$T/a.tape"
assert_contains "$CTL_OUT" "in another tape drive" "one cartridge in two drives"
ctl_ok lun create "$IQN" 2 --type tape --backing "$T/small.tape" >/dev/null
ctl_ok lun create "$IQN" 3 --type tape --backing "$T/ro.tape" --readonly >/dev/null
# A cartridge has its own size: lun resize (which would cut the file) is
# refused, and the cartridge still loads.
size_before=$(stat -c %s "$T/small.tape")
ctl_fails lun resize "$IQN" 2 64K --shrink
assert_contains "$CTL_OUT" "lun resize is for disks" "lun resize of a tape"
assert_eq "$size_before" "$(stat -c %s "$T/small.tape")" "the cartridge's file size after a refused resize"
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "1: tape $T/a.tape" "target show names the tape"

inq=$(iscsi-inq "$(lun_url "$IQN" 1)" 2>&1) || fail "iscsi-inq: $inq"
assert_contains "$inq" "VIRTUAL TAPE" "iscsi-inq product"

for mode in "1 func" "2 small" "3 ro"; do
	set -- $mode
	rc=0
	run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" "$1")" "$2" >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	[ $rc = 0 ] || fail "tape_io $2 failed (status $rc)"
done

# A byte of object 0's data (after its 40-byte record header at 4096)
# damaged behind lunard's back: READ checks the data CRC.
printf '\377' | dd of="$T/a.tape" bs=1 seek=$((4096 + 40 + 10)) conv=notrunc status=none
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 1)" crc >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tape_io crc failed (status $rc)"

# Cartridges in and out: a load needs the drive empty, an unknown file
# is refused, the ejected drive is NOT READY.
ctl_fails lun load "$IQN" 2 --backing "$T/b.tape"
assert_contains "$CTL_OUT" "holds a medium; eject it first" "lun load with a cartridge in"
ctl_ok lun eject "$IQN" 2 >/dev/null
# Out of drive 2, the cartridge may go into another drive and back.
ctl_ok lun create "$IQN" 9 --type tape --backing "$T/small.tape" >/dev/null
ctl_fails lun load "$IQN" 2
ctl_ok lun delete "$IQN" 9 >/dev/null
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 2)" nomedium >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tape_io nomedium failed (status $rc)"
ctl_fails lun load "$IQN" 2 --backing "$T/junk"
ctl_ok lun load "$IQN" 2 --backing "$T/b.tape" >/dev/null
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "2: tape $T/b.tape" "the new cartridge is shown"
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 2)" small >"$T/out" 2>&1 || rc=$?
[ $rc != 0 ] || fail "tape_io small passed on a 1 MiB cartridge"

# An empty drive: created without a cartridge, NOT READY until lun load
# gives it one; it stays empty across a restart (config save).
ctl_fails lun create "$IQN" 6 --type disk
assert_contains "$CTL_OUT" "needs a medium" "a disk without --backing"
ctl_ok lun create "$IQN" 5 --type tape >/dev/null
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "5: tape" "the empty drive is shown"
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 5)" nomedium >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tape_io nomedium on an empty drive failed (status $rc)"
ctl_fails lun load "$IQN" 5
assert_contains "$CTL_OUT" "empty drive" "lun load of an empty drive without --backing"
ctl_ok config save >/dev/null
lunard_stop
lunard_start --config "$CONF"
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 5)" nomedium >"$T/out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$T/out"; fail "the empty drive after a restart is not empty"; }
ctl tape create "$T/c.tape" --size 64K >/dev/null || fail "tape create c"
ctl_ok lun load "$IQN" 5 --backing "$T/c.tape" >/dev/null
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 5)" small >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tape_io small on the loaded drive failed (status $rc)"

# kill -9 in the middle of a stream of writes: every acknowledged block
# comes back after a restart from the saved configuration.
ctl_ok lun create "$IQN" 4 --type tape --backing "$T/kill.tape" >/dev/null
ctl_ok config save >/dev/null
"$TESTBIN/tape_io" "$(lun_url "$IQN" 4)" writer "$T/acked" >"$T/writer.out" 2>&1 &
WRITER=$!
EXTRA_PIDS+=("$WRITER")
for _ in $(seq 100); do
	[ "$(wc -l 2>/dev/null <"$T/acked" || echo 0)" -ge 300 ] && break
	sleep 0.05
done
kill -KILL "$LUNARD_PID"
wait "$LUNARD_PID" 2>/dev/null || true
D_PID[$CUR]="" LUNARD_PID=""
rc=0
wait_bounded 30 "$WRITER" || rc=$?
[ $rc = 0 ] || fail "the writer did not end after lunard's death (status $rc)"
log "writer: $(tail -n 1 "$T/writer.out"); $(wc -l <"$T/acked") blocks acknowledged"
[ "$(wc -l <"$T/acked")" -ge 300 ] || fail "the writer had fewer than 300 blocks acknowledged"
lunard_start --config "$CONF"
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 4)" verify "$T/acked" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tape_io verify after kill -9 failed (status $rc)"

# Four sessions at once on one drive, one of them resetting the LU now
# and then, one killed in the middle (its session drops with commands
# waiting for the drive): every answer sane, the tape whole after.
ctl tape create "$T/h.tape" --size 64M >/dev/null || fail "tape create h"
ctl_ok lun create "$IQN" 7 --type tape --backing "$T/h.tape" >/dev/null
HAMMERS=()
# Hammer 4 would run for long: it is killed well before it ends.
for s in 1 2 3 4; do
	n=6000
	[ $s = 4 ] && n=10000000
	"$TESTBIN/tape_io" "$(lun_url "$IQN" 7)" hammer $s $n >"$T/hammer$s" 2>&1 &
	HAMMERS+=($!)
	EXTRA_PIDS+=($!)
done
sleep 0.5
kill -0 "${HAMMERS[3]}" 2>/dev/null || fail "hammer 4 ended before it was killed"
kill -KILL "${HAMMERS[3]}" 2>/dev/null || true
for s in 0 1 2; do
	rc=0
	wait_bounded 60 "${HAMMERS[$s]}" || rc=$?
	cat "$T/hammer$((s + 1))"
	[ $rc = 0 ] || fail "hammer $((s + 1)) failed (status $rc)"
done
rc=0
run_bounded 60 "$TESTBIN/tape_io" "$(lun_url "$IQN" 7)" check >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "the tape after hammering is not whole (status $rc)"
lunard_alive || fail "lunard died under four sessions"

# Random and mutated CDBs against the tape's table (cdb_fuzz.c).
if [ -x "$TESTBIN/cdb_fuzz" ]; then
	rc=0
	run_bounded 120 "$TESTBIN/cdb_fuzz" "$(lun_url "$IQN" 1)" 5000 43 >"$T/fuzz" 2>&1 || rc=$?
	tail -n 3 "$T/fuzz"
	[ $rc = 0 ] || fail "cdb_fuzz on the tape: exit status $rc"
	assert_ok "iscsi-inq after fuzzing" iscsi-inq "$(lun_url "$IQN" 1)"
fi

lunard_alive || fail "lunard died"
lunard_stop
