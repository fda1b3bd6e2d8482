# Per-test form of tests/cu_verdicts.awk (which holds the rules): prints
# one line "Suite.Test VERDICT" per test, VERDICT being PASS, SKIP or FAIL.
# Usage:
#   awk -v cu_per_test=1 -f tests/cu_verdicts.awk -f tests/conformance/cu_tests.awk FILE
END {
	for (i = 1; i <= cu_n; i++)
		print cu_name[i], cu_v[i]
}
