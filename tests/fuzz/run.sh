#!/bin/bash
# Runs fuzz_iscsi and fuzz_formats (built by `make fuzz-build` into
# $FUZZ_BUILD/fuzz/).
#
#   tests/fuzz/run.sh --smoke        what make check runs (test "fuzz_iscsi"):
#       1. writes the seeds (fuzz_seeds) and replays each one, checking
#          from the daemon's answers that it still logs in and gets GOOD
#          statuses (a seed that no longer reaches the SCSI layer would
#          leave the fuzzer at the login);
#       2. FUZZ_SMOKE_RUNS (default 50000) mutated inputs from the seeds
#          with a fixed seed, at most FUZZ_SMOKE_SECONDS (default 180);
#       3. fuzz_formats (cartridge files, changer state files, iSNS
#          responses) on the seeds it writes itself, FUZZ_FORMATS_RUNS
#          (default 40000) inputs, at most 40 s.
#   tests/fuzz/run.sh --seconds N    what make fuzz runs: fuzzes for N
#       seconds on both cores, keeping the corpus in $FUZZ_BUILD/fuzz/corpus
#       (fuzz_formats: N/4 seconds, corpus $FUZZ_BUILD/fuzz/corpus-formats).
#
# Any sanitizer report, crash, leak or hang fails; the input that caused it
# is kept in $FUZZ_BUILD/fuzz/crashes/ and the command that replays it is
# printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
F=$FUZZ_BUILD/fuzz
BIN=$F/fuzz_iscsi
FBIN=$F/fuzz_formats
DICT=tests/fuzz/iscsi.dict
for b in "$BIN" "$FBIN" "$F/fuzz_seeds"; do
	if [ ! -x "$b" ]; then
		echo "fuzz: $b is missing: run make fuzz-build" >&2
		exit 1
	fi
done
mkdir -p "$F/crashes"
rm -rf "$F/seeds" "$F/seeds-formats"
mkdir -p "$F/seeds" "$F/seeds-formats"
"$F/fuzz_seeds" "$F/seeds"
FUZZ_FORMATS_SEEDS=$F/seeds-formats "$FBIN"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LIBFUZZER_ARGS=(-max_len=65536 -timeout=30 -dict="$DICT"
	-artifact_prefix="$F/crashes/")

tmp=""

report() {
	local log=$1
	echo "fuzz: FAILED; the last lines of $log:" >&2
	tail -n 40 "$log" >&2
	local a
	for a in "$F"/crashes/*; do
		[ -e "$a" ] || continue
		echo "fuzz: replay with: $BIN $a" >&2
	done
	exit 1
}

smoke() {
	local s log dump verdict why
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/lunar-fuzz-smoke.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	for s in "$F"/seeds/*; do
		log=$tmp/$(basename "$s").log
		dump=$tmp/$(basename "$s").rsp
		LUNAR_FUZZ_DUMP=$dump "$BIN" -runs=1 "$s" >"$log" 2>&1 ||
			report "$log"
		case $(basename "$s") in
		chap) verdict=(--check reject) ;;
		discovery) verdict=(--check accepted) ;;
		*digests*) verdict=(--digests --check login) ;;
		*) verdict=(--check login) ;;
		esac
		if ! why=$(tests/fuzz/responses.py "${verdict[@]}" "$dump"); then
			echo "fuzz: seed $(basename "$s"): $why; the answers:" >&2
			tests/fuzz/responses.py "$dump" | head -n 60 >&2 || true
			exit 1
		fi
		echo "seed $(basename "$s"): answered as expected"
	done
	log=$tmp/smoke.log
	mkdir -p "$tmp/corpus"
	"$BIN" "${LIBFUZZER_ARGS[@]}" -seed=1 \
		-runs="${FUZZ_SMOKE_RUNS:-50000}" \
		-max_total_time="${FUZZ_SMOKE_SECONDS:-180}" \
		-print_final_stats=1 "$tmp/corpus" "$F/seeds" >"$log" 2>&1 ||
		report "$log"
	grep -E '^stat::number_of_executed_units|^Done' "$log" || true
	log=$tmp/formats.log
	mkdir -p "$tmp/corpus-formats"
	"$FBIN" -max_len=65536 -timeout=30 -artifact_prefix="$F/crashes/" \
		-seed=1 -runs="${FUZZ_FORMATS_RUNS:-40000}" -max_total_time=40 \
		-print_final_stats=1 "$tmp/corpus-formats" "$F/seeds-formats" \
		>"$log" 2>&1 || report "$log"
	grep -E '^stat::number_of_executed_units|^Done' "$log" || true
	echo "fuzz: smoke run clean"
}

case ${1:-} in
--smoke) smoke ;;
--seconds)
	secs=${2:?--seconds needs a number}
	mkdir -p "$F/corpus"
	log=$F/fuzz.log
	echo "fuzz: $secs s, 2 processes, corpus $F/corpus, log $log"
	"$BIN" "${LIBFUZZER_ARGS[@]}" -max_total_time="$secs" -fork=2 \
		-print_final_stats=1 "$F/corpus" "$F/seeds" >"$log" 2>&1 ||
		report "$log"
	tail -n 5 "$log"
	mkdir -p "$F/corpus-formats"
	log=$F/fuzz-formats.log
	"$FBIN" -max_len=65536 -timeout=30 -artifact_prefix="$F/crashes/" \
		-max_total_time="$((secs / 4 + 1))" -print_final_stats=1 \
		"$F/corpus-formats" "$F/seeds-formats" >"$log" 2>&1 ||
		report "$log"
	tail -n 5 "$log"
	;;
*)
	echo "usage: $0 --smoke | --seconds N" >&2
	exit 2
	;;
esac
