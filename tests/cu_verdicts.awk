# The one definition of how iscsi-test-cu -v output is judged, shared by
# tests/integration/*.sh (via lib.sh's CU_AWK), tests/iscsi-test-cu-all.sh
# and tests/conformance/run.sh.
#
# A suite starts at "Suite: NAME", a test at "  Test: NAME ..."; its verdict
# is "passed" or "FAILED", either right after the "..." or at the start of
# a later line (after "[SKIPPED] ..." messages, which make it a skip:
# libiscsi reports skipped tests as passed). Text after a verdict on the
# same line (e.g. "...passed    [SKIPPED] ..." printed by the next setup or
# the suite's cleanup) belongs to what follows, not to this test. A test
# that started and has no verdict when the output ends (the process died
# or was killed) failed.
#
# Alone (awk -f cu_verdicts.awk FILE) it prints "passed skipped failed".
# With -v cu_per_test=1 it prints nothing itself and leaves the verdicts in
# cu_name[1..cu_n] ("Suite.Test") and cu_v[1..cu_n] (PASS, SKIP or FAIL)
# for a second program file run with it, e.g.
#   awk -v cu_per_test=1 -f tests/cu_verdicts.awk -f tests/conformance/cu_tests.awk
function cu_record(v) {
	cu_n++
	cu_name[cu_n] = cu_suite "." cu_test
	cu_v[cu_n] = v
	if (v == "FAIL")
		f++
	else if (v == "SKIP")
		k++
	else
		p++
	intest = 0
}
function verdict(rest) {
	if (rest ~ /^(passed|FAILED)/) {
		if (rest ~ /^FAILED/)
			cu_record("FAIL")
		else if (skipped)
			cu_record("SKIP")
		else
			cu_record("PASS")
		return 1
	}
	return 0
}
/^Suite: / {
	if (intest)
		cu_record("FAIL")
	cu_suite = substr($0, 8)
	sub(/[ \t\r]+$/, "", cu_suite)
	next
}
/^  Test: / {
	if (intest)
		cu_record("FAIL")
	intest = 1
	skipped = 0
	cu_test = substr($0, 9)
	sub(/ \.\.\..*$/, "", cu_test)
	rest = substr($0, index($0, "...") + 3)
	if (verdict(rest))
		next
	if (rest ~ /\[SKIPPED\]/)
		skipped = 1
	next
}
intest {
	line = $0
	sub(/^[ \t]+/, "", line)
	if (verdict(line))
		next
	if (line ~ /\[SKIPPED\]/)
		skipped = 1
}
END {
	if (intest)
		cu_record("FAIL")
	if (!cu_per_test)
		print p + 0, k + 0, f + 0
}
