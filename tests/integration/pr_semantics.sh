#!/bin/bash
# PERSISTENT RESERVE OUT service actions and PERSISTENT RESERVE IN data
# (SPC-5 5.13, 6.16, 6.17): $BUILD/tests/pr_semantics (tests/integration/
# pr_semantics.c) checks wrong keys and types (RESERVATION CONFLICT,
# INVALID RELEASE OF PERSISTENT RESERVATION), releases by unregistering,
# PREEMPT of a registrant and of the holder, the unit attentions
# REGISTRATIONS PREEMPTED, RESERVATIONS RELEASED and RESERVATIONS
# PREEMPTED, READ KEYS / READ RESERVATION contents and PRgeneration.
# A few seconds.
. "$(dirname "$0")/lib.sh"

PROG=$TESTBIN/pr_semantics
[ -x "$PROG" ] || fail "$PROG is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-semantics

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((8 * 1024 * 1024))

rc=0
run_bounded 120 "$PROG" "$(lun_url "$IQN" 1)" 2 >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_semantics failed (status $rc)"
lunard_alive || fail "lunard died"
lunard_stop
