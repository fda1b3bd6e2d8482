#!/bin/bash
# LOGICAL UNIT RESET with 32 writes in flight: session A sends 32 writes
# of 256 KiB to LUN 1 (half with all their data, half holding back three
# quarters of it, so those are surely in flight) and then the reset, while
# a libiscsi session writes and reads back LUN 2 without pause. Every ITT
# gets at most one response and none after the reset's response, the held
# writes none at all; the LUN 2 session sees no error; LUN 1 reports
# BUS DEVICE RESET FUNCTION OCCURRED next; lunard stays up. About 10 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-lureset
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((16 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((16 * 1024 * 1024))

for round in 1 2 3; do
	rc=0
	run_bounded 120 "$TESTBIN/tmf_raw" lureset "127.0.0.1:$PORT" "$IQN" \
		"$(lun_url "$IQN" 2)" >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	[ $rc = 0 ] || fail "tmf_raw lureset (round $round) failed (status $rc)"
	assert_contains "$(cat "$T/out")" "tmf_raw: ok" "tmf_raw verdict"
	lunard_alive || fail "lunard died in round $round"
done
lunard_stop
