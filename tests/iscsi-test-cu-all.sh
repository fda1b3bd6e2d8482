#!/bin/bash
# Runs every suite of libiscsi's ALL family against one LUN, each suite in
# its own process with a time limit (TESTING-NOTES.md: a skipped test can
# leave a PDU hook installed that corrupts later tests of the same
# process), and prints per-suite and total pass/skip/fail counts. Not part
# of make check: some suites need features lunar may not have yet.
#
# Usage: tests/iscsi-test-cu-all.sh [URL [URL2]]
#   Without URL: starts a private lunard (build/lunard) with a 1 GiB file
#   LUN and a 1 GiB null LUN on 127.0.0.1 and tests the file LUN.
#   URL2: a second path to the same LUN, for the MultipathIO suite.
# Env: SUITE_TIMEOUT (180 s), ONLY (a regex of suite names), BUILD (build)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
CU_AWK=tests/cu_verdicts.awk
SUITE_TIMEOUT=${SUITE_TIMEOUT:-180}
ONLY=${ONLY:-}
work=$(mktemp -d /tmp/lunar-cu-all.XXXXXX)
pid=""

cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

url=${1:-}
url2=${2:-}
if [ -z "$url" ]; then
	port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	iqn=iqn.2026-11.org.lunar:cu-all
	"$BUILD/lunard" --foreground --portal "127.0.0.1:$port" \
		--control "$work/ctl.sock" --state-dir "$work/state" \
		--log-level warn 2>"$work/lunard.log" &
	pid=$!
	ctl() { "$BUILD/lunarctl" --control "$work/ctl.sock" "$@" >/dev/null; }
	for _ in $(seq 100); do
		ctl system show 2>/dev/null && break
		sleep 0.1
	done
	ctl target create "$iqn" &&
		ctl lun create "$iqn" 1 --backing "$work/disk.img" --size 1G &&
		ctl lun create "$iqn" 2 --backing null --bstype null --size 1G &&
		ctl acl add "$iqn" ALL || {
		echo "cannot set up lunard; its log:" >&2
		cat "$work/lunard.log" >&2
		exit 1
	}
	url=iscsi://127.0.0.1:$port/$iqn/1
	url2=iscsi://127.0.0.1:$port/$iqn/1
fi

# cu_counts FILE: "passed skipped failed" from CUnit's verdicts.
cu_counts() {
	awk -f "$CU_AWK" "$1"
}

suites=$(iscsi-test-cu -l | sed -n 's/^ALL\.\([A-Za-z0-9]*\)$/\1/p')
[ -n "$suites" ] || {
	echo "iscsi-test-cu -l listed no ALL suites" >&2
	exit 1
}
tp=0 ts=0 tf=0 tt=0
printf '%-28s %6s %6s %6s %s\n' suite passed skipped failed note
for s in $suites; do
	if [ -n "$ONLY" ] && ! [[ $s =~ $ONLY ]]; then
		continue
	fi
	out=$work/$s.out
	extra=()
	[ "$s" = MultipathIO ] && [ -n "$url2" ] && extra=("$url2")
	rc=0
	timeout -k 5 "$SUITE_TIMEOUT" iscsi-test-cu --dataloss --allow-sanitize \
		--test="ALL.$s" "$url" "${extra[@]}" >"$out" 2>&1 || rc=$?
	# Per test: "  Test: Name ..." then the verdict "passed" or "FAILED",
	# either on the same line or, after messages such as "[SKIPPED] ...",
	# at the start of a later line. A skipped test counts as skipped.
	read -r p k f < <(cu_counts "$out")
	note=""
	[ $rc = 124 ] || [ $rc = 137 ] && note="timed out after ${SUITE_TIMEOUT}s" && f=$((f + 1))
	if [ $((p + k + f)) = 0 ] && [ -z "$note" ]; then
		note="ran no test (exit $rc)"
		f=1
	fi
	printf '%-28s %6d %6d %6d %s\n' "$s" "$p" "$k" "$f" "$note"
	if [ "$f" -gt 0 ]; then
		# Each failed test's line and its failed assertions.
		grep -E '^  Test: |\.\.\.FAILED|^ +[0-9]+\. ' "$out" |
			grep -B1 -E '\.\.\.FAILED|^ +[0-9]+\. ' | grep -v '^--' |
			head -8 | sed 's/^/      /'
	fi
	tp=$((tp + p)) ts=$((ts + k)) tf=$((tf + f))
	tt=$((tt + 1))
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		echo "lunard died during ALL.$s; its log:" >&2
		tail -40 "$work/lunard.log" >&2
		pid=""
		break
	fi
done
echo "$tt suites: $tp passed, $ts skipped, $tf failed"
[ "$tf" = 0 ]
