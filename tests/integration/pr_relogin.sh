#!/bin/bash
# Registrations belong to I_T nexuses (initiator name + ISID), not to
# sessions: $BUILD/tests/pr_relogin (tests/integration/pr_relogin.c) checks
# that a nexus stays registered (and the holder) across logout and login,
# a dropped connection and session reinstatement with the same name and
# ISID, and that another ISID or another name is another, unregistered
# nexus. A few seconds.
. "$(dirname "$0")/lib.sh"

PROG=$TESTBIN/pr_relogin
[ -x "$PROG" ] || fail "$PROG is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-relogin

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((8 * 1024 * 1024))

rc=0
run_bounded 120 "$PROG" "$(lun_url "$IQN" 1)" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "pr_relogin failed (status $rc)"
lunard_alive || fail "lunard died"
lunard_stop
