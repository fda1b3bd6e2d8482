#!/bin/bash
# A FIN from the initiator ends its side only: the answers to the PDUs it
# sent before (a NOP-In, a Logout Response) still reach it, then lunard
# closes the connection and the session leaves `session list`.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-half-close
INIT=iqn.2026-11.org.lunar:half-close
[ -x "$TESTBIN/half_close" ] || fail "$TESTBIN/half_close is missing: run make check"

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((16 * 1024 * 1024))

rc=0
timeout -k 5 90 "$TESTBIN/half_close" "127.0.0.1:$PORT" "$IQN" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "half_close client failed (status $rc)"

wait_session_gone "$IQN" "$INIT" "after both connections closed"
lunard_alive || fail "lunard died"
lunard_stop
