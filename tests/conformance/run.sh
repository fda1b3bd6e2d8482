#!/bin/bash
# make conformance: libiscsi's iscsi-test-cu (family ALL) against a private
# lunard on 127.0.0.1, over a matrix of LU configurations, one table.
#
#   plain      LUN 1, a 1 GiB file; with a second URL to the same LUN
#              through lunard's second portal (MultipathIO)
#   thin       LUN 2, --thin --physical-block-size 4096 (8 logical blocks
#              per physical block: the unaligned-unmap tests need it)
#   thin512    LUN 5, --thin with 512-byte physical blocks: libiscsi 1.19's
#              GetLBAStatus.UnmapSingle can only pass with one logical
#              block per physical block (see the allowlist)
#   removable  LUN 3, --removable
#   readonly   LUN 4, --readonly over a file: only ALL.ReadOnly (the write
#              tests of the other suites rightly fail on it)
#   rbd        LUN 6, a 1 GiB Ceph RBD image (--bstype rbd) in a throwaway
#              cluster (scripts/ceph-cluster.sh, started here unless
#              CEPH_CONF names a running one); like plain, with a second
#              URL through the second portal
#   rbdthin    LUN 7, an RBD image with --thin --physical-block-size 4096
#   rbdthin512 LUN 8, an RBD image with --thin: only ALL.GetLBAStatus (the
#              test thin512 is there for)
#   rbdremovable  LUN 9, an RBD image with --removable: only the suites
#              of a removable medium
#   rbdreadonly   LUN 10, an RBD image opened read-only: only ALL.ReadOnly
#   uring      LUN 11, a 1 GiB file through io_uring with O_DIRECT
#              (--bstype uring): everything plain runs
#   aiothin    LUN 12, a 1 GiB file through Linux AIO with O_DIRECT
#              (--bstype aio), --thin --physical-block-size 4096: everything
#              thin runs
#
# Each configuration has its own target, whose ACL admits exactly
# iscsi-test-cu's two initiator names (-i, and -I for the two-nexus tests).
# Every suite runs in its own process with a time limit
# (/work/shared/TESTING-NOTES.md: a skipped test can leave a PDU hook
# installed that corrupts the rest of its process, and one hanging test
# must not take the others with it). Verdicts come from tests/cu_verdicts.awk;
# a listed test without a verdict (timeout, crash) FAILs.
#
# A test is ok when it PASSes in one configuration at least and FAILs in
# none (tests/conformance/allowlist may excuse a FAIL in one configuration
# with an entry TEST@CONFIG); else it must be on the allowlist, or it is
# BAD. The table goes to $LOGS/conformance.md and, after a complete run
# (every configuration set up, no ONLY filter), to docs/conformance.md.
# Exit status 1 when a test is BAD, a configuration could not be set up,
# lunard died or did not exit cleanly, or the allowlist is malformed.
#
# Env: BUILD (build), SUITE_TIMEOUT (150 s), ONLY (a regex of suite names,
# for debugging; never writes docs/conformance.md), CONFIGS (a
# space-separated subset of the configurations, for debugging; never writes
# docs/conformance.md either), CEPH_CONF (a running cluster to use for
# the rbd configuration instead of a throwaway one), CONFORMANCE_DOC (the
# document, docs/conformance.md). Logs: $LUNAR_TEST_LOG_DIR/conformance/
# under make check, else $BUILD/conformance/.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
LUNARD=$BUILD/lunard
LUNARCTL=$BUILD/lunarctl
# A whole suite takes at most ~6 s on lunar and on tgt, except
# Sanitize.Reset, which sleeps 4 s and then 60 s per wait for the end of
# a sanitize. A hanging suite costs this much in every configuration.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-150}
ONLY=${ONLY:-}
# Suites whose tests each get their own iscsi-test-cu process. In
# libiscsi 1.19, Sanitize.Reservations takes a RESERVE(6) through the
# second path's session (plain has two paths), which lives as long as the
# process, and never releases it; every later SANITIZE of that process then
# rightly gets RESERVATION CONFLICT. A process per test ends that session,
# and with it the reservation (I_T nexus loss), between tests.
PER_TEST_SUITES="Sanitize"
DOC=${CONFORMANCE_DOC:-$ROOT/docs/conformance.md}
ALLOWLIST=$ROOT/tests/conformance/allowlist
CU_AWK=$ROOT/tests/cu_verdicts.awk
CU_TESTS_AWK=$ROOT/tests/conformance/cu_tests.awk
TABLE_AWK=$ROOT/tests/conformance/table.awk
LOGS=${LUNAR_TEST_LOG_DIR:-$BUILD}/conformance
# iscsi-test-cu's own defaults (iscsi-test-cu --help), passed explicitly.
INIT1=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test
INIT2=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2
IQN_PREFIX=iqn.2026-11.org.lunar:conformance

ALL_CONFIGS=(plain thin thin512 removable readonly rbd rbdthin rbdthin512
	rbdremovable rbdreadonly uring aiothin)
read -r -a CONFIGS <<<"${CONFIGS:-${ALL_CONFIGS[*]}}"
declare -A LUN=([plain]=1 [thin]=2 [removable]=3 [readonly]=4 [thin512]=5
	[rbd]=6 [rbdthin]=7 [rbdthin512]=8 [rbdremovable]=9 [rbdreadonly]=10
	[uring]=11 [aiothin]=12)
declare -A OPTS=([plain]="" [thin]="--thin --physical-block-size 4096"
	[thin512]="--thin" [removable]="--removable" [readonly]="--readonly"
	[rbd]="--bstype rbd" [rbdthin]="--bstype rbd --thin --physical-block-size 4096"
	[rbdthin512]="--bstype rbd --thin" [rbdremovable]="--bstype rbd --removable"
	[rbdreadonly]="--bstype rbd --readonly" [uring]="--bstype uring"
	[aiothin]="--bstype aio --thin --physical-block-size 4096")
# Backings that are not a file under $T.
declare -A BACKING=([rbd]=rbd/conformance [rbdthin]=rbd/conformance-thin
	[rbdthin512]=rbd/conformance-thin512 [rbdremovable]=rbd/conformance-rm
	[rbdreadonly]=rbd/conformance)
declare -A SUITES_OF=([readonly]="ReadOnly" [rbdreadonly]="ReadOnly"
	[rbdthin512]="GetLBAStatus"
	[rbdremovable]="PreventAllow NoMedia StartStopUnit")
declare -A STATUS=()

T=""
LUNARD_PID=""
CU_PID=""
CEPH_DIR=""
start_time=$(date +%s)

say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() {
	printf 'conformance: %s\n' "$*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

cleanup() {
	local rc=$?
	set +e
	if [ -n "$CU_PID" ]; then
		kill -TERM "$CU_PID" 2>/dev/null # timeout(1) passes it on
		wait "$CU_PID" 2>/dev/null
	fi
	stop_lunard
	[ -n "$CEPH_DIR" ] && "$ROOT/scripts/ceph-cluster.sh" stop "$CEPH_DIR" >/dev/null 2>&1
	[ -n "$T" ] && rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'echo "conformance: terminated" >&2; exit 143' TERM
trap 'exit 130' INT

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

ctl() { "$LUNARCTL" --control "$T/ctl.sock" "$@"; }

# stop_lunard: SIGTERM, then SIGKILL after 10 s; sets STOP_STATUS to its
# exit status (0 expected) and fails otherwise.
stop_lunard() {
	STOP_STATUS=0
	[ -n "$LUNARD_PID" ] || return 0
	kill -TERM "$LUNARD_PID" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$LUNARD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$LUNARD_PID" 2>/dev/null
	wait "$LUNARD_PID" 2>/dev/null || STOP_STATUS=$?
	LUNARD_PID=""
	[ "$STOP_STATUS" = 0 ]
}

start_lunard() {
	"$LUNARD" --foreground --portal "127.0.0.1:$PORT1" \
		--portal "127.0.0.1:$PORT2" --control "$T/ctl.sock" \
		--state-dir "$T/state" --log-level warn >>"$LOGS/lunard.log" 2>&1 &
	LUNARD_PID=$!
	for _ in $(seq 100); do
		kill -0 "$LUNARD_PID" 2>/dev/null ||
			die "lunard exited during start-up; see $LOGS/lunard.log: $(tail -5 "$LOGS/lunard.log")"
		ctl system show >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "lunard did not answer on its control socket within 10 s"
}

# setup_config NAME: its target, ACL and LUN; sets STATUS[NAME] to "ok" or
# to why it could not be set up (a lunarctl without the option says so).
setup_config() {
	local c=$1 iqn=$IQN_PREFIX-$1 out rc opt backing=${BACKING[$1]:-$T/$1.img}
	local -a opts
	read -r -a opts <<<"${OPTS[$c]}"
	[ -n "${BACKING[$c]:-}" ] || [ -e "$backing" ] || truncate -s 1G "$backing"
	out=$(ctl target create "$iqn" 2>&1 &&
		ctl acl add "$iqn" "$INIT1" 2>&1 &&
		ctl acl add "$iqn" "$INIT2" 2>&1) || {
		STATUS[$c]="target set-up failed: $(echo "$out" | tail -1)"
		return 1
	}
	rc=0
	out=$(ctl lun create "$iqn" "${LUN[$c]}" --backing "$backing" \
		--size 1G "${opts[@]}" 2>&1) || rc=$?
	if [ $rc = 0 ]; then
		STATUS[$c]=ok
		return 0
	fi
	STATUS[$c]="lunarctl lun create ${OPTS[$c]} failed (exit $rc): $(echo "$out" | head -1)"
	for opt in "${opts[@]}"; do
		case $opt in
		--*)
			if grep -q -- "unknown option $opt" <<<"$out"; then
				STATUS[$c]="lunarctl does not support $opt yet ($(echo "$out" | head -1))"
				break
			fi
			;;
		esac
	done
	return 1
}

url_of() { printf 'iscsi://127.0.0.1:%s/%s-%s/%s' "$2" "$IQN_PREFIX" "$1" "${LUN[$1]}"; }

# ---- preconditions ----
if ! [ -x "$LUNARD" ] || ! [ -x "$LUNARCTL" ]; then
	die "$LUNARD or $LUNARCTL is missing: run make first"
fi
command -v iscsi-test-cu >/dev/null ||
	die "iscsi-test-cu is missing: install libiscsi-bin (scripts/deps.sh test)"
LIBISCSI_VERSION=$(dpkg-query -W -f '${Version}' libiscsi-bin 2>/dev/null) ||
	LIBISCSI_VERSION=unknown
LUNAR_VERSION=$("$LUNARD" --version 2>&1 | head -1 | awk '{print $NF}')

rm -rf "$LOGS"
mkdir -p "$LOGS"
T=$(mktemp -d "${TMPDIR:-/tmp}/lunar-conformance.XXXXXX")

iscsi-test-cu -l >"$LOGS/list.all" 2>&1 || die "iscsi-test-cu -l failed"
grep -E '^ALL\.[^.[:space:]]+\.[^.[:space:]]+$' "$LOGS/list.all" >"$LOGS/tests.all"
mapfile -t ALL_SUITES < <(sed -n 's/^ALL\.\([A-Za-z0-9_]*\)$/\1/p' "$LOGS/list.all")
if [ -n "$ONLY" ]; then
	# Only the selected suites' tests make the table.
	while read -r t; do
		s=${t#ALL.}
		s=${s%%.*}
		[[ $s =~ $ONLY ]] && echo "$t"
	done <"$LOGS/tests.all" >"$LOGS/tests"
else
	cp "$LOGS/tests.all" "$LOGS/tests"
fi
[ ${#ALL_SUITES[@]} -gt 0 ] || die "iscsi-test-cu -l listed no suite of family ALL"
say "libiscsi-bin $LIBISCSI_VERSION: family ALL has ${#ALL_SUITES[@]} suites, $(wc -l <"$LOGS/tests.all") tests"

# The rbd configuration's cluster: the caller's, or a throwaway one.
if [[ " ${CONFIGS[*]} " == *" rbd"* ]] && [ -z "${CEPH_CONF:-}" ]; then
	CEPH_DIR=$T/ceph
	if out=$("$ROOT/scripts/ceph-cluster.sh" start "$CEPH_DIR" 2>"$LOGS/ceph-start.log"); then
		export "${out?}"
		say "Ceph cluster for rbd: $CEPH_CONF"
	else
		say "Ceph cluster did not start: $(tail -1 "$LOGS/ceph-start.log")"
		CEPH_DIR=""
	fi
fi

PORT1=$(free_port)
while :; do
	PORT2=$(free_port)
	[ "$PORT2" != "$PORT1" ] && break
done
start_lunard
say "lunard $LUNAR_VERSION on 127.0.0.1:$PORT1 and :$PORT2 (log $LOGS/lunard.log)"

complete=1
[ -n "$ONLY" ] && complete=0
[ "${CONFIGS[*]}" = "${ALL_CONFIGS[*]}" ] || complete=0
problems=()
for c in "${CONFIGS[@]}"; do
	if setup_config "$c"; then
		say "$c: LUN ${LUN[$c]} ${OPTS[$c]:-(no options)}: set up"
	else
		say "$c: NOT SET UP: ${STATUS[$c]}"
		problems+=("configuration $c not set up: ${STATUS[$c]}")
		complete=0
	fi
done

# run_suite CONFIG SUITE: one iscsi-test-cu process; appends
# "config test verdict" lines to $LOGS/results.
run_suite() {
	local c=$1 s=$2 log=$LOGS/$1/$2.log rc=0 t0 secs note="" p=0 k=0 f=0
	local ended="" missing
	local -a urls=("$(url_of "$c" "$PORT1")")
	# The second path to the same LU, through the other portal.
	[ "$c" = plain ] || [ "$c" = rbd ] && urls+=("$(url_of "$c" "$PORT2")")
	t0=$(date +%s)
	timeout -k 10 "$SUITE_TIMEOUT" iscsi-test-cu --dataloss --allow-sanitize \
		-v -i "$INIT1" -I "$INIT2" --test="ALL.$s" "${urls[@]}" \
		</dev/null >"$log" 2>&1 &
	CU_PID=$!
	# Until the suite ends or lunard dies (then libiscsi would retry
	# its reconnect until the time limit).
	wait -n -p ended "$CU_PID" "$LUNARD_PID" || rc=$?
	if [ "${ended:-}" != "$CU_PID" ]; then
		sleep 2
		kill -TERM "$CU_PID" 2>/dev/null
		rc=0
		wait "$CU_PID" || rc=$?
		note="lunard died"
	fi
	CU_PID=""
	secs=$(($(date +%s) - t0))
	if [ -n "$note" ]; then
		:
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		note="timed out after ${SUITE_TIMEOUT} s"
	elif [ $rc != 0 ]; then
		note="exit status $rc"
	fi
	awk -v cu_per_test=1 -f "$CU_AWK" -f "$CU_TESTS_AWK" "$log" |
		sed "s/^/ALL./" >"$LOGS/$c/$s.verdicts" ||
		problems+=("cannot parse $log")
	# Every listed test of the suite has a verdict; a missing one FAILs.
	missing=$(awk -v p="ALL.$s" '$0 == p || index($0, p ".") == 1' \
		"$LOGS/tests.all" | while read -r t; do
		grep -q "^$t " "$LOGS/$c/$s.verdicts" ||
			echo "$t FAIL no verdict${note:+ ($note)}"
	done)
	[ -z "$missing" ] || echo "$missing" >>"$LOGS/$c/$s.verdicts"
	sed "s/^/$c /" "$LOGS/$c/$s.verdicts" >>"$LOGS/results"
	read -r p k f < <(awk '{n[$2]++} END {print n["PASS"]+0, n["SKIP"]+0, n["FAIL"]+0}' \
		"$LOGS/$c/$s.verdicts")
	printf '  %-10s %-26s %3d pass %3d skip %3d FAIL %4ds %s\n' \
		"$c" "$s" "$p" "$k" "$f" "$secs" "$note"
	if ! kill -0 "$LUNARD_PID" 2>/dev/null; then
		wait "$LUNARD_PID" 2>/dev/null
		LUNARD_PID=""
		say "lunard DIED during $c ALL.$s; restarting it (see $LOGS/lunard.log)"
		problems+=("lunard died during $c ALL.$s")
		start_lunard
		for c2 in "${CONFIGS[@]}"; do
			[ "${STATUS[$c2]}" = ok ] && setup_config "$c2"
		done
	fi
}

: >"$LOGS/results"
for c in "${CONFIGS[@]}"; do
	[ "${STATUS[$c]}" = ok ] || continue
	mkdir -p "$LOGS/$c"
	if [ -n "${SUITES_OF[$c]:-}" ]; then
		read -r -a suites <<<"${SUITES_OF[$c]}"
	else
		suites=("${ALL_SUITES[@]}")
	fi
	c0=$(date +%s)
	say "$c: ${#suites[@]} suite(s) on $(url_of "$c" "$PORT1")"
	for s in "${suites[@]}"; do
		if [ -n "$ONLY" ] && ! [[ $s =~ $ONLY ]]; then
			continue
		fi
		if [[ " $PER_TEST_SUITES " == *" $s "* ]]; then
			while read -r t; do
				run_suite "$c" "${t#ALL.}"
			done < <(grep "^ALL\.$s\." "$LOGS/tests.all")
		else
			run_suite "$c" "$s"
		fi
	done
	read -r p k f < <(awk -v c="$c" '$1 == c {n[$3]++}
		END {print n["PASS"]+0, n["SKIP"]+0, n["FAIL"]+0}' "$LOGS/results")
	say "$c: $((p + k + f)) tests: $p passed, $k skipped, $f failed ($(($(date +%s) - c0)) s)"
done
stop_lunard || problems+=("lunard exited with status $STOP_STATUS on SIGTERM, expected 0")

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOGS/lunard.log"; then
	problems+=("sanitizer report in $LOGS/lunard.log")
	grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$LOGS/lunard.log" | head -60
fi

# Issue 12's rule for RBD: a test that passes on a file LU passes on an
# RBD LU too (in some rbd configuration), when both kinds ran.
if grep -q '^rbd' "$LOGS/results" && grep -qv '^rbd' "$LOGS/results"; then
	while read -r t; do
		problems+=("$t passes on a file LU but in no rbd configuration")
	done < <(awk '$3 == "PASS" { if ($1 ~ /^rbd/) rbd[$2] = 1; else file[$2] = 1 }
		END { for (t in file) if (!(t in rbd)) print t }' "$LOGS/results" | sort)
fi

# ---- the table ----
for c in "${CONFIGS[@]}"; do
	printf '%s\t%s\t%s\t%s\t%s\n' "$c" "${LUN[$c]}" "${OPTS[$c]}" \
		"$([ -n "${SUITES_OF[$c]:-}" ] && echo "ALL.${SUITES_OF[$c]// /, ALL.}" || echo "family ALL")$([ "$c" = plain ] || [ "$c" = rbd ] && echo ", second URL via the second portal")" \
		"${STATUS[$c]}"
done >"$LOGS/configs"
elapsed=$(($(date +%s) - start_time))
awk -f "$TABLE_AWK" -v md="$LOGS/conformance.md" \
	-v libiscsi="$LIBISCSI_VERSION" -v date="$(date -u +%Y-%m-%d)" \
	-v lunar="$LUNAR_VERSION" -v elapsed="$elapsed" \
	-v init1="$INIT1" -v init2="$INIT2" \
	"$LOGS/configs" "$LOGS/tests.all" "$LOGS/tests" "$ALLOWLIST" "$LOGS/results" >"$LOGS/verdicts" ||
	problems+=("table.awk failed")

while read -r tag rest; do
	case $tag in
	ALLOWERR) problems+=("allowlist line ${rest%% *}: ${rest#* }") ;;
	STALE) say "allowlist: $rest is no longer needed: remove it from the allowlist" ;;
	esac
done <"$LOGS/verdicts"

# BAD tests, grouped by suite and why.
if grep -q '^BAD ' "$LOGS/verdicts"; then
	echo "BAD tests, by suite (logs in $LOGS/CONFIG/SUITE.log):"
	awk '$1 == "BAD" {
		t = $2; s = t; sub(/\.[^.]*$/, "", s); sub(/.*\./, "", t)
		why = $0; sub(/^BAD [^ ]* /, "", why)
		if (!(s in seen)) { seen[s] = 1; order[++n] = s }
		if (!((s, why) in list)) { nw[s]++; whys[s, nw[s]] = why }
		list[s, why] = list[s, why] (list[s, why] == "" ? "" : ", ") t
	}
	END {
		for (i = 1; i <= n; i++) {
			s = order[i]; line = "  " s ":"
			for (j = 1; j <= nw[s]; j++)
				line = line (j > 1 ? ";" : "") " " list[s, whys[s, j]] \
				    " (" whys[s, j] ")"
			print line
		}
	}' "$LOGS/verdicts"
fi

read -r _ ntests nok nallowed nbad < <(grep '^TOTAL ' "$LOGS/verdicts")
: "${ntests:=0}" "${nok:=0}" "${nallowed:=0}" "${nbad:=0}"
say "table: $LOGS/conformance.md (${elapsed} s)"
if [ $complete = 1 ]; then
	# The date alone changing does not rewrite the document.
	if [ -f "$DOC" ] && diff -q <(grep -v '^Measured ' "$DOC") \
		<(grep -v '^Measured ' "$LOGS/conformance.md") >/dev/null; then
		say "$DOC: unchanged"
	else
		cp "$LOGS/conformance.md" "$DOC" && say "wrote $DOC"
	fi
else
	say "not a complete run: $DOC left as it is"
fi

for p in "${problems[@]}"; do
	echo "conformance: $p"
done
echo "conformance: $ntests tests of family ALL: $nok ok, $nallowed allowlisted, $nbad BAD"
failed=$((nbad + ${#problems[@]}))
echo "$((nok + nallowed)) passed, $failed failed"
[ "$failed" = 0 ]
