#!/bin/bash
# SPC-2 RESERVE (6) / RELEASE (6) and their interaction with persistent
# reservations (SPC-2 5.5.1, SPC-5 5.13.3): $BUILD/tests/pr_spc2
# (tests/integration/pr_spc2.c). A few seconds.
. "$(dirname "$0")/lib.sh"

PROG=$TESTBIN/pr_spc2
[ -x "$PROG" ] || fail "$PROG is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-spc2

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((8 * 1024 * 1024))

rc=0
run_bounded 120 "$PROG" "$(lun_url "$IQN" 1)" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_spc2 failed (status $rc)"
lunard_alive || fail "lunard died"
lunard_stop
