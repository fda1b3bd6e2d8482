#!/bin/bash
# Persistent reservation access matrix (SPC-5 6.17.4 types, 5.13.1 allowed
# commands; SBC-4 4.17): $BUILD/tests/pr_matrix (tests/integration/
# pr_matrix.c) runs TEST UNIT READY, INQUIRY, READ CAPACITY, REPORT LUNS,
# REQUEST SENSE, PERSISTENT RESERVE IN, READ (10)/(16), WRITE (10)/(16) and
# WRITE SAME (16) from a holder, a registrant and a non-registrant under
# each of the six reservation types and fails on any status that differs
# from the standard; once with three initiator names, once with one name
# and three ISIDs. A few seconds.
. "$(dirname "$0")/lib.sh"

PRM=$TESTBIN/pr_matrix
[ -x "$PRM" ] || fail "$PRM is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-matrix

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((8 * 1024 * 1024))

# Three initiator names on LUN 1; one name with three ISIDs on LUN 2.
rc=0
run_bounded 120 "$PRM" "$(lun_url "$IQN" 1)" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_matrix (three names) failed (status $rc): $(grep -c '^FAIL\|FAIL$' "$T/out") differences, see above"
rc=0
run_bounded 120 "$PRM" "$(lun_url "$IQN" 2)" same-name >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_matrix (one name, three ISIDs) failed (status $rc): $(grep -c '^FAIL\|FAIL$' "$T/out") differences, see above"
lunard_alive || fail "lunard died"
lunard_stop
