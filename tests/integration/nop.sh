#!/bin/bash
# NOP-Out/NOP-In (RFC 7143 §11.18-11.19) and dead-peer detection: the nop
# program (a hand-made initiator) gets its 100-byte ping echoed, then
# stays silent: lunard (--nop-interval 3 --nop-timeout 6) pings it (NOP-In,
# ITT 0xffffffff, valid TTT) after 3 s of silence, keeps the connection
# while the pings are answered, and closes it 6 s after a ping left
# unanswered; the session then leaves `session list`. About 15 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-nop
INIT=iqn.2026-11.org.lunar:nop
[ -x "$TESTBIN/nop" ] || fail "$TESTBIN/nop is missing: run make check"

lunard_start --nop-interval 3 --nop-timeout 6
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((16 * 1024 * 1024))

timeout -k 5 100 "$TESTBIN/nop" "127.0.0.1:$PORT" "$IQN" 3 6 >"$T/nop.out" 2>&1 &
nop_pid=$!
EXTRA_PIDS+=("$nop_pid")

# While the pings are answered the session is listed.
for _ in $(seq 300); do
	grep -q 'answered ping 1' "$T/nop.out" && break
	kill -0 "$nop_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'answered ping 1' "$T/nop.out" ||
	fail "the nop client did not answer a first ping within 30 s: $(cat "$T/nop.out")"
sessions=$(ctl_ok session list "$IQN")
assert_contains "$sessions" "$INIT" "session list while the pings are answered"

rc=0
wait "$nop_pid" || rc=$?
cat "$T/nop.out"
[ $rc = 0 ] || fail "nop client failed (status $rc)"
grep -q 'no answer to a NOP-In ping' "$LUNARD_LOG" ||
	fail "lunard did not log why it dropped the connection"

# The dropped session is gone from the list.
wait_session_gone "$IQN" "$INIT" "after the unanswered ping"
lunard_stop
