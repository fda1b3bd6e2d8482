#!/bin/bash
# make check: runs every unit test binary ($BUILD/tests/test_*), every
# integration test (tests/integration/*.sh), the layout check
# (tests/format.sh, as the test "format"), a fuzzing smoke run
# (tests/fuzz/run.sh --smoke, as "fuzz_iscsi") and the conformance harness
# (tests/conformance/run.sh, what make conformance runs, as the test
# "conformance"), each in its own process with a time limit (unit and
# format 60 s, integration 300 s, conformance $CONFORMANCE_TIMEOUT, default
# 1500 s: its suites have their own). Before them it starts one throwaway
# Ceph cluster (scripts/ceph-cluster.sh, as the test "ceph_cluster") for
# the RBD tests and the rbd configurations of the conformance run, exports
# CEPH_CONF and stops it at the end. Prints one line per test,
# "PASS name (Ns)" or "FAIL name (Ns, why)" followed by the last 40 lines
# of its log, and ends with exactly one line "N passed, M failed". A cmocka
# binary counts as one test. Logs are kept in $BUILD/test-logs/.
#
# Usage: tests/run.sh [NAME...]   (only the tests whose name contains NAME)
# Env: BUILD (build), SANITIZE=1 (sanitizer options; reports fail a test).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$PWD/$BUILD ;;
esac
export BUILD
LOG_DIR=$BUILD/test-logs
export LUNAR_TEST_LOG_DIR=$LOG_DIR
UNIT_TIMEOUT=60
ITEST_TIMEOUT=300
CONFORMANCE_TIMEOUT=${CONFORMANCE_TIMEOUT:-1500}
SANITIZER_RE='ERROR: (Address|Leak)Sanitizer|runtime error:'

if [ "${SANITIZE:-0}" = 1 ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	# Leaks inside third-party libraries, each with its evidence.
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
fi

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

passed=0
failed=0
failed_names=()

wanted() {
	local pat
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for pat in "${FILTER[@]}"; do
		case $1 in *"$pat"*) return 0 ;; esac
	done
	return 1
}
FILTER=("$@")

# run_one NAME TIMEOUT CMD...
run_one() {
	local name=$1 limit=$2
	shift 2
	local log=$LOG_DIR/$name.log
	local start end secs rc=0 why=""

	start=$(date +%s)
	# timeout puts the test and everything it starts (daemons included)
	# in one process group, and signals the whole group when time is up.
	timeout -k 10 "$limit" "$@" </dev/null >"$log" 2>&1 || rc=$?
	end=$(date +%s)
	secs=$((end - start))
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		why="timed out after ${limit} s"
	elif [ $rc != 0 ]; then
		why="exit status $rc"
	fi
	# Sanitizer reports anywhere in the test's own log or its daemons'.
	if [ -z "$why" ] && grep -qE "$SANITIZER_RE" "$log" \
		"$LOG_DIR/$name".lunard*.log 2>/dev/null; then
		why="sanitizer report"
	fi
	if [ -z "$why" ]; then
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name (${secs}s, $why)"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
}

# The Ceph cluster every RBD test shares (a test that stops an OSD starts
# its own). Data live in the OSD's memory: the bound is generous, the
# images are thin and the tests remove theirs.
CEPH_DIR=""
stop_ceph() {
	[ -n "$CEPH_DIR" ] && scripts/ceph-cluster.sh stop "$CEPH_DIR" --purge >/dev/null 2>&1
	CEPH_DIR=""
}
trap stop_ceph EXIT
if [ -z "${CEPH_CONF:-}" ] && { wanted rbd || wanted conformance; }; then
	CEPH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lunar-ceph.XXXXXX")
	run_one ceph_cluster "$UNIT_TIMEOUT" env CEPH_MEMSTORE_BYTES=$((12 << 30)) \
		scripts/ceph-cluster.sh start "$CEPH_DIR"
	conf=$(grep -m1 '^CEPH_CONF=' "$LOG_DIR/ceph_cluster.log" || true)
	if [ -n "$conf" ]; then
		export "${conf?}"
	else
		stop_ceph
	fi
fi

shopt -s nullglob
units=("$BUILD"/tests/test_*)
itests=(tests/integration/*.sh)
if [ ${#units[@]} -eq 0 ]; then
	echo "no unit test binaries in $BUILD/tests: run make check" >&2
fi

for bin in "${units[@]}"; do
	[ -x "$bin" ] || continue
	case $bin in *.o | *.d) continue ;; esac
	name=$(basename "$bin")
	wanted "$name" || continue
	run_one "$name" "$UNIT_TIMEOUT" "$bin"
done

for t in "${itests[@]}"; do
	name=$(basename "$t" .sh)
	[ "$name" = lib ] && continue
	wanted "$name" || continue
	run_one "$name" "$ITEST_TIMEOUT" bash "$t"
done

# The layout of the sources (.clang-format).
if wanted format; then
	run_one format "$UNIT_TIMEOUT" bash tests/format.sh
fi

# Coverage-guided fuzzing of the iSCSI port: the seeds, then a bounded
# number of mutated inputs (tests/fuzz/run.sh; make fuzz runs it longer).
if wanted fuzz_iscsi; then
	run_one fuzz_iscsi "$ITEST_TIMEOUT" env \
		FUZZ_BUILD="${FUZZ_BUILD:-$BUILD-fuzz}" \
		bash tests/fuzz/run.sh --smoke
fi

# libiscsi's iscsi-test-cu over the LUN matrix (docs/conformance.md).
if wanted conformance; then
	run_one conformance "$CONFORMANCE_TIMEOUT" bash tests/conformance/run.sh
fi

if [ $failed -gt 0 ]; then
	echo "failed: ${failed_names[*]} (logs in $LOG_DIR)"
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
