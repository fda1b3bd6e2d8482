#!/bin/bash
# LOGICAL UNIT RESET with 32 writes in flight: session A sends 32 writes
# of 256 KiB to LUN 1 (half with all their data, half holding back three
# quarters of it, so those are surely in flight) and then the reset, while
# a libiscsi session writes and reads back LUN 2 without pause. Every ITT
# gets at most one response and none after the reset's response, the held
# writes none at all; the LUN 2 session sees no error; LUN 1 reports
# BUS DEVICE RESET FUNCTION OCCURRED next; lunard stays up. One round per
# file store (rdwr, uring, aio: the kernel must not write into a buffer
# after its command was reset). About 15 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-lureset
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"

lunard_start --threads 2
make_target "$IQN"

for round in rdwr uring aio; do
	ctl lun delete "$IQN" 1 >/dev/null 2>&1 || true
	ctl lun delete "$IQN" 2 >/dev/null 2>&1 || true
	add_file_lun "$IQN" 1 "$T/disk1.img" $((16 * 1024 * 1024)) --bstype "$round"
	add_file_lun "$IQN" 2 "$T/disk2.img" $((16 * 1024 * 1024)) --bstype "$round"
	rc=0
	run_bounded 120 "$TESTBIN/tmf_raw" lureset "127.0.0.1:$PORT" "$IQN" \
		"$(lun_url "$IQN" 2)" >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	[ $rc = 0 ] || fail "tmf_raw lureset (round $round) failed (status $rc)"
	assert_contains "$(cat "$T/out")" "tmf_raw: ok" "tmf_raw verdict"
	lunard_alive || fail "lunard died in round $round"
done
lunard_stop
