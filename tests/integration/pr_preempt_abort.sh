#!/bin/bash
# PREEMPT AND ABORT (SPC-5 5.13.11.5) against commands of the preempted
# nexus still in the task set: $BUILD/tests/pr_preempt_abort
# (tests/integration/pr_preempt_abort.c) keeps B's WRITEs waiting for
# their data, has A preempt-and-abort B, and checks that B's WRITEs end
# with TASK ABORTED (TAS=1) or no status (TAS=0), never GOOD, that B's
# registration is gone, that B gets its unit attention, and that B's data
# did not land. Run on three LUNs: with the default TAS, with TAS=1 and
# with TAS=0 (set by MODE SELECT), 100, 100 and 20 rounds. About 30 s.
. "$(dirname "$0")/lib.sh"

PPA=$TESTBIN/pr_preempt_abort
[ -x "$PPA" ] || fail "$PPA is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-preempt-abort

# Two reactors: A's session and B's sessions (a new one each round) are
# then sometimes on different threads, as in real use.
lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 3 "$T/disk3.img" $((8 * 1024 * 1024))

# LUN, TAS to set first ("-": leave the default), rounds. A round takes
# a few ms with TAS=1, 1 s with TAS=0 (waiting for no status). All three
# run; the test fails at the end if any failed.
failed=""
for run in "1 - 100" "2 1 100" "3 0 20"; do
	read -r lun tas rounds <<<"$run"
	rc=0
	run_bounded 120 "$PPA" "$(lun_url "$IQN" "$lun")" "$tas" "$rounds" >"$T/out.$lun" 2>&1 || rc=$?
	# A run prints hundreds of lines: the failures with their round,
	# and the summary.
	awk '/^-- / { r = $0 } /^(FAIL|ERROR)/ { if (r != p) print r; p = r; print }' "$T/out.$lun" | tail -n 40
	tail -n 1 "$T/out.$lun"
	[ $rc = 0 ] || failed="$failed LUN $lun (TAS $tas, $rounds rounds, status $rc);"
	lunard_alive || fail "lunard died"
done
[ -z "$failed" ] || fail "pr_preempt_abort failed on:$failed"
lunard_stop
