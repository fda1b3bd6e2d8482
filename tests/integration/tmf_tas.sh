#!/bin/bash
# TAS of the control mode page (SPC-5 §7.5.8) across two sessions: session
# B holds four writes (R2T answered with no data) and has eight more with
# all their data in flight, session A resets the LU. With TAS=1 (lunar's
# default) each held write ends with TASK ABORTED status and each other
# one with TASK ABORTED or GOOD; after A's MODE SELECT TAS=0 held writes
# end without any response. Both sessions then see BUS DEVICE RESET FUNCTION OCCURRED.
# Two reactors, so that the sessions may live on different threads.
# About 5 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-tmf-tas
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((16 * 1024 * 1024))

rc=0
run_bounded 120 "$TESTBIN/tmf_raw" tas "127.0.0.1:$PORT" "$IQN" \
	>"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "tmf_raw tas failed (status $rc)"
assert_contains "$(cat "$T/out")" "tmf_raw: ok" "tmf_raw verdict"
lunard_alive || fail "lunard died"
lunard_stop
