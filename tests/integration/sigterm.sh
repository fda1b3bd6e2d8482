#!/bin/bash
# Orderly shutdown: SIGTERM makes lunard exit 0 within 10 s, idle or with
# a session logged in (the session is logged out, not left hanging), and
# it removes its control socket. SIGINT does the same.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-sigterm
[ -x "$TESTBIN/hold_session" ] || fail "$TESTBIN/hold_session is missing: run make check"

lunard_start
lunard_stop
[ ! -e "$SOCK" ] || fail "control socket $SOCK still exists after exit"

# With a logged-in session doing I/O.
lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((16 * 1024 * 1024))
run_bounded 60 "$TESTBIN/hold_session" "$(lun_url "$IQN" 1)" 50 >"$T/hold.out" 2>&1 &
hold_pid=$!
EXTRA_PIDS+=("$hold_pid")
for _ in $(seq 100); do
	grep -q logged-in "$T/hold.out" && break
	kill -0 "$hold_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q logged-in "$T/hold.out" || fail "hold_session did not log in: $(cat "$T/hold.out")"
sessions=$(rpc '{"cmd": "session.list"}')
assert_contains "$sessions" "$IQN" "session list while logged in"
lunard_stop
[ ! -e "$SOCK" ] || fail "control socket $SOCK still exists after exit"
# The initiator saw its session end (it did not hang until its timeout).
rc=0
wait "$hold_pid" || rc=$?
[ $rc = 3 ] || fail "hold_session should have lost its session (status 3), got $rc: $(cat "$T/hold.out")"

# SIGINT is a stop request too.
lunard_start
kill -INT "$LUNARD_PID"
for _ in $(seq 100); do
	kill -0 "$LUNARD_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$LUNARD_PID" 2>/dev/null && fail "lunard ignored SIGINT for 10 s"
rc=0
wait "$LUNARD_PID" || rc=$?
D_PID[$CUR]="" LUNARD_PID=""
assert_eq 0 "$rc" "exit status after SIGINT"
