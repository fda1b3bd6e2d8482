#!/bin/bash
# START STOP UNIT makes cached writes stable before the LU leaves the
# active power condition (SBC-4 §5.25, NO_FLUSH=0): strace watches
# lunard's fdatasync calls while $BUILD/tests/ssu
# (tests/integration/ssu.c) sends a stop and a start with NO_FLUSH=1 (no
# flush), a start (no flush), a stop, a STANDBY power condition and an
# eject (one flush each) and a load (none). Each command is checked for
# GOOD, and the number of fdatasync calls after each step. The LU uses the
# rdwr store, whose flush is an fdatasync system call that strace sees
# (the uring store's is an io_uring operation).
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-start-stop
SSU=$TESTBIN/ssu
[ -x "$SSU" ] || fail "$SSU is missing: run make check"
command -v strace >/dev/null || fail "strace is missing: scripts/deps.sh test installs it"

lunard_start
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --backing "$T/disk.img" --size 16M --removable \
	--bstype rdwr >/dev/null
URL=$(lun_url "$IQN" 1)

strace -f -e trace=fdatasync -o "$T/strace.out" -p "$LUNARD_PID" 2>"$T/strace.err" &
STRACE_PID=$!
EXTRA_PIDS+=("$STRACE_PID")
for _ in $(seq 50); do
	grep -q attached "$T/strace.err" 2>/dev/null && break
	sleep 0.1
done
grep -q attached "$T/strace.err" || fail "strace could not attach to lunard: $(cat "$T/strace.err")"
sleep 0.5 # every thread attached

flushes() { grep -c 'fdatasync(' "$T/strace.out" 2>/dev/null || true; }

# step WHAT EXPECTED_TOTAL PC NO_FLUSH LOEJ START
step() {
	local what=$1 want=$2 n
	shift 2
	assert_ok "START STOP UNIT: $what" "$SSU" "$URL" "$@"
	assert_eq "GOOD" "$OUT" "START STOP UNIT ($what) status"
	for _ in $(seq 20); do
		n=$(flushes)
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	log "$what: $n fdatasync call(s) so far"
	assert_eq "$want" "$n" "fdatasync calls after $what"
}

step "stop with NO_FLUSH=1" 0 0 1 0 0
step "start" 0 0 0 0 1
step "stop" 1 0 0 0 0
step "STANDBY power condition" 2 3 0 0 0
step "eject" 3 0 0 1 0
step "load" 3 0 0 1 1

kill "$STRACE_PID" 2>/dev/null
wait "$STRACE_PID" 2>/dev/null || true
assert_eq 3 "$(flushes)" "fdatasync calls in all"
lunard_alive || fail "lunard died"
lunard_stop
