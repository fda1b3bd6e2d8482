# shellcheck shell=bash
# Sourced by every integration test: one private lunard (or several) on
# 127.0.0.1, each with its own port, control socket and state directory
# under a temporary directory that is removed on exit, plus assertion
# helpers that say what was expected and what came.
#
#   lunard_start [ARGS]    start the current daemon, wait until it answers
#   lunard_stop            SIGTERM, expect exit status 0 within 10 s
#   lunard_alive           true while the current daemon runs
#   lunard_rss_kb          its resident set size in KiB
#   daemon_use N           switch the current daemon (default 1); sets
#                          PORT SOCK STATE LUNARD_LOG LUNARD_PID
#   ctl ARGS               build/lunarctl --control $SOCK ARGS
#   ctl_ok ARGS / ctl_fails ARGS   the same, asserting success / failure
#   wait_session_gone IQN INITIATOR WHEN   the session ends within 5 s
#   rpc JSON               one raw control-protocol request; prints result
#   lun_url IQN LUN [USER SECRET]  / portal_url
#   lu_ids URL             the LU's serial and designators (VPD 80h, 83h)
#   ceph_cluster [--own]   a Ceph cluster for RBD LUNs: the one of
#                          $CEPH_CONF (tests/run.sh starts one), or with
#                          --own (or none there) a throwaway one of this
#                          test's, stopped at exit; exports CEPH_CONF
#
# Tests run with `set -euo pipefail`; any unexpected failure ends the test.
set -euo pipefail

LUNAR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$LUNAR_ROOT/$BUILD ;;
esac
LUNARD=$BUILD/lunard
LUNARCTL=$BUILD/lunarctl
TESTBIN=$BUILD/tests
# Parser of iscsi-test-cu -v output, shared with tests/iscsi-test-cu-all.sh.
CU_AWK=$LUNAR_ROOT/tests/cu_verdicts.awk
TEST_NAME=$(basename "$0" .sh)
LOG_DIR=${LUNAR_TEST_LOG_DIR:-$BUILD/test-logs}
mkdir -p "$LOG_DIR"
T=$(mktemp -d "${TMPDIR:-/tmp}/lunar-it-$TEST_NAME.XXXXXX")

declare -A D_PORT=() D_SOCK=() D_STATE=() D_PID=() D_LOG=()
EXTRA_PIDS=()
CUR=1
PORT="" SOCK="" STATE="" LUNARD_LOG="" LUNARD_PID=""

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

# Fails the test: prints the message and the tail of every daemon log.
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	local d
	for d in "${!D_LOG[@]}"; do
		if [ -s "${D_LOG[$d]}" ]; then
			printf -- '--- last lines of lunard #%s log (%s) ---\n' \
				"$d" "${D_LOG[$d]}" >&2
			tail -n 20 "${D_LOG[$d]}" >&2
		fi
	done
	exit 1
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

daemon_use() {
	CUR=$1
	if [ -z "${D_PORT[$CUR]:-}" ]; then
		local p
		while :; do
			p=$(free_port)
			local taken=0 d
			for d in "${!D_PORT[@]}"; do
				[ "${D_PORT[$d]}" = "$p" ] && taken=1
			done
			[ $taken = 0 ] && break
		done
		D_PORT[$CUR]=$p
		D_SOCK[$CUR]=$T/d$CUR/ctl.sock
		D_STATE[$CUR]=$T/d$CUR/state
		D_LOG[$CUR]=$LOG_DIR/$TEST_NAME.lunard$CUR.log
		D_PID[$CUR]=""
		mkdir -p "$T/d$CUR"
		: >"${D_LOG[$CUR]}"
	fi
	PORT=${D_PORT[$CUR]}
	SOCK=${D_SOCK[$CUR]}
	STATE=${D_STATE[$CUR]}
	LUNARD_LOG=${D_LOG[$CUR]}
	LUNARD_PID=${D_PID[$CUR]}
}

ctl() { "$LUNARCTL" --control "$SOCK" "$@"; }

# ctl_ok ARGS: must succeed; its output goes to stdout.
ctl_ok() {
	local out rc=0
	out=$(ctl "$@" 2>&1) || rc=$?
	[ $rc = 0 ] || fail "lunarctl $* exited $rc, expected success; it said: $out"
	[ -z "$out" ] || printf '%s\n' "$out"
}

# ctl_fails ARGS: must fail cleanly (exit 1..125, not a crash);
# leaves CTL_OUT (stdout+stderr) and CTL_RC.
ctl_fails() {
	CTL_RC=0
	CTL_OUT=$(ctl "$@" 2>&1) || CTL_RC=$?
	[ "$CTL_RC" != 0 ] || fail "lunarctl $* succeeded, expected a failure; it said: $CTL_OUT"
	[ "$CTL_RC" -lt 126 ] || fail "lunarctl $* died with status $CTL_RC: $CTL_OUT"
	[ -n "$CTL_OUT" ] || fail "lunarctl $* failed (status $CTL_RC) without saying why"
}

# wait_session_gone IQN INITIATOR WHEN: the initiator's session leaves
# `session list IQN` within 5 s, or the test fails saying WHEN.
wait_session_gone() {
	for _ in $(seq 50); do
		case $(ctl_ok session list "$1") in
		*"$2"*) sleep 0.1 ;;
		*) return 0 ;;
		esac
	done
	fail "$2 is still in the session list of $1 5 s $3"
}

# rpc JSON: one request on the control socket; prints the result as JSON
# and exits non-zero (printing the error) when ok is false.
rpc() {
	python3 - "$SOCK" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
resp = json.loads(buf)
if not resp.get("ok"):
    print(resp.get("error"), file=sys.stderr)
    sys.exit(1)
print(json.dumps(resp.get("result"), sort_keys=True))
EOF
}

lunard_alive() {
	[ -n "$LUNARD_PID" ] && kill -0 "$LUNARD_PID" 2>/dev/null
}

lunard_rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$LUNARD_PID/status"
}

lunard_start() {
	[ -x "$LUNARD" ] || fail "$LUNARD is missing: run make first"
	[ -x "$LUNARCTL" ] || fail "$LUNARCTL is missing: run make first"
	log "starting lunard #$CUR on 127.0.0.1:$PORT $*"
	"$LUNARD" --foreground --portal "127.0.0.1:$PORT" --control "$SOCK" \
		--state-dir "$STATE" --log-level debug "$@" >>"$LUNARD_LOG" 2>&1 &
	LUNARD_PID=$!
	D_PID[$CUR]=$LUNARD_PID
	for _ in $(seq 100); do
		if ! kill -0 "$LUNARD_PID" 2>/dev/null; then
			local rc=0
			wait "$LUNARD_PID" || rc=$?
			D_PID[$CUR]="" LUNARD_PID=""
			fail "lunard #$CUR exited (status $rc) during start-up"
		fi
		if ctl system show >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "lunard #$CUR did not answer on $SOCK within 10 s"
}

lunard_stop() {
	lunard_alive || fail "lunard #$CUR is not running (it should be)"
	kill -TERM "$LUNARD_PID"
	for _ in $(seq 100); do
		kill -0 "$LUNARD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$LUNARD_PID" 2>/dev/null; then
		kill -KILL "$LUNARD_PID" 2>/dev/null || true
		wait "$LUNARD_PID" 2>/dev/null || true
		D_PID[$CUR]="" LUNARD_PID=""
		fail "lunard #$CUR did not exit within 10 s of SIGTERM"
	fi
	local rc=0
	wait "$LUNARD_PID" || rc=$?
	D_PID[$CUR]="" LUNARD_PID=""
	[ $rc = 0 ] || fail "lunard #$CUR exited with status $rc after SIGTERM, expected 0"
	log "lunard #$CUR stopped (exit 0)"
}

portal_url() { printf 'iscsi://127.0.0.1:%s/' "$PORT"; }

# lun_url IQN LUN [USER SECRET]
lun_url() {
	if [ $# -ge 4 ]; then
		printf 'iscsi://%s%%%s@127.0.0.1:%s/%s/%s' "$3" "$4" "$PORT" "$1" "$2"
	else
		printf 'iscsi://127.0.0.1:%s/%s/%s' "$PORT" "$1" "$2"
	fi
}

# A target that admits every initiator, with file LUN(s) added by the test.
make_target() {
	ctl_ok target create "$1" >/dev/null
	ctl_ok acl add "$1" ALL >/dev/null
}

# add_file_lun IQN LUN FILE SIZE (creates FILE sparse if missing)
add_file_lun() { # IQN LUN PATH SIZE [lun create options, e.g. --bstype uring]
	ctl_ok lun create "$1" "$2" --backing "$3" --size "$4" "${@:5}" >/dev/null
}

# guest_prepare: the QEMU guest of tests/guest/ for a guest_* test, from
# its cache when the packages have not changed; fails the test with the
# end of prepare.sh's log when it cannot be made.
guest_prepare() {
	local rc=0
	log "preparing the guest (tests/guest/prepare.sh, cache ${LUNAR_GUEST_CACHE:-/var/tmp/lunar-guest-cache})"
	run_bounded 180 "$LUNAR_ROOT/tests/guest/prepare.sh" >"$T/guest.dir" \
		2>"$LOG_DIR/$TEST_NAME.prepare.log" || rc=$?
	if [ $rc != 0 ]; then
		tail -n 20 "$LOG_DIR/$TEST_NAME.prepare.log" >&2
		fail "tests/guest/prepare.sh exited $rc; see $LOG_DIR/$TEST_NAME.prepare.log"
	fi
}

# run_bounded SECS CMD...: runs CMD with a time limit.
run_bounded() {
	local secs=$1
	shift
	timeout -k 5 "$secs" "$@"
}

assert_eq() { # EXPECTED ACTUAL WHAT
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) ;;
	*) fail "$3: expected to find '$2' in: $1" ;;
	esac
}

assert_not_contains() { # HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) fail "$3: did not expect '$2' in: $1" ;;
	*) ;;
	esac
}

# assert_ok WHAT CMD...: CMD must succeed within 120 s; output in OUT.
assert_ok() {
	local what=$1 rc=0
	shift
	OUT=$(run_bounded 120 "$@" 2>&1) || rc=$?
	[ $rc = 0 ] || fail "$what: '$*' exited $rc, expected success; output: $OUT"
}

# assert_fails WHAT CMD...: CMD must fail (not time out) within 60 s.
assert_fails() {
	local what=$1 rc=0
	shift
	OUT=$(run_bounded 60 "$@" 2>&1) || rc=$?
	[ $rc != 0 ] || fail "$what: '$*' succeeded, expected a failure; output: $OUT"
	[ $rc != 124 ] && [ $rc != 137 ] ||
		fail "$what: '$*' timed out instead of failing"
}

# qemu_roundtrip SRC URL: writes SRC into the LUN and reads it back.
qemu_roundtrip() {
	local src=$1 url=$2 back
	back=$T/back.$RANDOM.raw
	assert_ok "qemu-img writes $src into $url" \
		qemu-img convert -n -f raw -O raw "$src" "$url"
	assert_ok "qemu-img reads $url back" \
		qemu-img convert -f raw -O raw "$url" "$back"
	# The LUN may be larger than the source: compare the source's bytes.
	cmp -n "$(stat -c %s "$src")" "$src" "$back" ||
		fail "data read back from $url differs from what was written"
	rm -f "$back"
}

random_file() { # PATH MiB
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

# lu_ids URL: the LU's own identifiers, VPD page 80h's serial and page
# 83h's designators with association 0 (not the target port's), one a line.
lu_ids() {
	iscsi-inq -e 1 -c 128 "$1" | grep '^Unit Serial Number:'
	iscsi-inq -e 1 -c 131 "$1" | grep -A2 '^Association:(0)' | grep '^Designator'
}

CEPH_OWN_DIR=""
ceph_cluster() {
	if [ "${1:-}" != --own ] && [ -n "${CEPH_CONF:-}" ]; then
		run_bounded 30 ceph --conf "$CEPH_CONF" --connect-timeout 20 \
			health >/dev/null 2>&1 ||
			fail "the Ceph cluster of CEPH_CONF=$CEPH_CONF does not answer"
		export CEPH_CONF
		return 0
	fi
	local out
	CEPH_OWN_DIR=$T/ceph
	out=$("$LUNAR_ROOT/scripts/ceph-cluster.sh" start "$CEPH_OWN_DIR" \
		2>"$LOG_DIR/$TEST_NAME.ceph.log") || {
		tail -n 20 "$LOG_DIR/$TEST_NAME.ceph.log" >&2
		CEPH_OWN_DIR=""
		fail "cannot start a Ceph cluster (scripts/ceph-cluster.sh); see $LOG_DIR/$TEST_NAME.ceph.log"
	}
	export "${out?}"
	log "Ceph cluster of this test: $CEPH_CONF"
}

_lib_cleanup() {
	local rc=$? d pid
	set +e
	for pid in "${EXTRA_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null # timeout(1) passes it on
	done
	for d in "${!D_PID[@]}"; do
		pid=${D_PID[$d]}
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# Sanitizer reports in any daemon log fail the test.
	for d in "${!D_LOG[@]}"; do
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
			"${D_LOG[$d]}" 2>/dev/null; then
			echo "FAIL: sanitizer report in ${D_LOG[$d]}:" >&2
			grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
				"${D_LOG[$d]}" | head -60 >&2
			rc=1
		fi
	done
	if [ -n "$CEPH_OWN_DIR" ]; then
		"$LUNAR_ROOT/scripts/ceph-cluster.sh" stop "$CEPH_OWN_DIR" \
			>/dev/null 2>&1
	fi
	rm -rf "$T"
	if [ $rc = 0 ]; then
		log "$TEST_NAME: ok"
	fi
	exit $rc
}
trap _lib_cleanup EXIT
# Killed by run.sh's time limit: clean up, and do not look like a success.
trap 'echo "$TEST_NAME: terminated" >&2; exit 143' TERM
trap 'exit 130' INT

daemon_use 1
