#!/bin/bash
# PREEMPT AND ABORT (SPC-5 5.13.11.5) against commands of the preempted
# nexus still in the task set: $BUILD/tests/pr_preempt_abort
# (tests/integration/pr_preempt_abort.c) keeps B's WRITEs waiting for
# their data, has A preempt-and-abort B, and checks that B's WRITEs end
# with TASK ABORTED (TAS=1) or no status (TAS=0), never GOOD, that B's
# registration is gone, that B gets its unit attention, and that B's data
# did not land. Run on three LUNs: with the default TAS, with TAS=1 and
# with TAS=0 (set by MODE SELECT). A few seconds.
. "$(dirname "$0")/lib.sh"

PPA=$TESTBIN/pr_preempt_abort
[ -x "$PPA" ] || fail "$PPA is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-preempt-abort

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 3 "$T/disk3.img" $((8 * 1024 * 1024))

# LUN, then TAS to set first ("-": leave the default)
for run in "1 -" "2 1" "3 0"; do
	read -r lun tas <<<"$run"
	args=()
	[ "$tas" = - ] || args=("$tas")
	rc=0
	run_bounded 120 "$PPA" "$(lun_url "$IQN" "$lun")" "${args[@]}" >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	[ $rc = 0 ] || fail "pr_preempt_abort on LUN $lun (TAS $tas) failed (status $rc)"
	lunard_alive || fail "lunard died"
done
lunard_stop
