# Counts iscsi-test-cu verdicts from its -v output: prints
# "passed skipped failed". A test starts at "  Test: NAME ..."; its verdict
# is "passed" or "FAILED", either right after the "..." or at the start of
# a later line (after "[SKIPPED] ..." messages, which make it a skip:
# libiscsi reports skipped tests as passed). Text after a verdict on the
# same line (e.g. "...passed    [SKIPPED] ..." printed by the next setup)
# belongs to what follows, not to this test.
function verdict(rest) {
	if (rest ~ /^(passed|FAILED)/) {
		if (rest ~ /^FAILED/)
			f++
		else if (skipped)
			k++
		else
			p++
		intest = 0
		return 1
	}
	return 0
}
/^  Test: / {
	intest = 1
	skipped = 0
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
END { print p + 0, k + 0, f + 0 }
