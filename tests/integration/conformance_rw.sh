#!/bin/bash
# The acceptance gate: libiscsi's iscsi-test-cu Read10 and Write10 suites
# (with --dataloss) on a 1 GiB file LUN. Each suite runs in its own
# process with a time limit; a test fails on CUnit's verdict "FAILED"
# (TESTING-NOTES.md: "[SKIPPED]" tests are reported as passed).
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-conformance
lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" 1G
URL=$(lun_url "$IQN" 1)

for suite in Read10 Write10; do
	rc=0
	run_bounded 120 iscsi-test-cu --dataloss --test="ALL.$suite" "$URL" \
		>"$T/$suite.out" 2>&1 || rc=$?
	cat "$T/$suite.out"
	[ $rc != 124 ] && [ $rc != 137 ] || fail "ALL.$suite timed out"
	# CUnit's verdict per test: "passed" or "FAILED", on the "Test:" line
	# or at the start of a later one (after "[SKIPPED] ..." messages).
	read -r passed skipped failed < <(awk -f "$CU_AWK" "$T/$suite.out")
	ran=$((passed + skipped + failed))
	log "ALL.$suite: $ran tests, $passed passed, $skipped skipped, $failed FAILED (exit $rc)"
	[ "$ran" -gt 0 ] || fail "ALL.$suite ran no tests"
	[ "$failed" = 0 ] || fail "ALL.$suite: $failed test(s) FAILED"
	[ "$skipped" = 0 ] || fail "ALL.$suite: $skipped test(s) skipped; a disk LUN must support all of them"
	# The CUnit summary agrees.
	grep -Eq '^ +tests +[0-9]+ +[0-9]+ +[0-9]+ +0 ' "$T/$suite.out" ||
		fail "ALL.$suite: CUnit's run summary reports failures"
	lunard_alive || fail "lunard died during ALL.$suite"
done

lunard_stop
