#!/bin/bash
# Persistent reservation access matrix (SPC-5 6.17.4 types, 5.13.1 allowed
# commands; SBC-4 4.17): $BUILD/tests/pr_matrix (tests/integration/
# pr_matrix.c) runs TEST UNIT READY, INQUIRY, READ CAPACITY, READ (10) and
# WRITE (10) from a holder, a registrant and a non-registrant under each of
# the six reservation types and fails on any status that differs from the
# standard. A few seconds.
. "$(dirname "$0")/lib.sh"

PRM=$TESTBIN/pr_matrix
[ -x "$PRM" ] || fail "$PRM is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-matrix

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((8 * 1024 * 1024))

rc=0
run_bounded 120 "$PRM" "$(lun_url "$IQN" 1)" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_matrix failed (status $rc): $(grep -c '^FAIL\|FAIL$' "$T/out") differences, see above"
lunard_alive || fail "lunard died"
lunard_stop
