#!/bin/bash
# Task management functions on the wire (RFC 7143 §11.5-11.6, RFC 7144):
# tmf_raw (a hand-made initiator that holds write data back) asks QUERY
# ASYNCHRONOUS EVENT, QUERY TASK, QUERY TASK SET, ABORT TASK, CLEAR TASK
# SET, ABORT TASK SET, CLEAR ACA, TASK REASSIGN, an unknown function, I_T
# NEXUS RESET, TARGET WARM RESET and LOGICAL UNIT RESET, checks each
# response code, that aborted tasks never answer and that the session
# stays usable. About 5 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-tmf-functions
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((16 * 1024 * 1024))

rc=0
run_bounded 120 "$TESTBIN/tmf_raw" functions "127.0.0.1:$PORT" "$IQN" \
	>"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tmf_raw functions failed (status $rc)"
assert_contains "$(cat "$T/out")" "tmf_raw: ok" "tmf_raw verdict"
lunard_alive || fail "lunard died"
lunard_stop
