#!/bin/bash
# Sessions as an administrator sees and handles them:
#  - `session list IQN` shows a logged-in session with its initiator name,
#    ISID (sid = ISID << 16 | TSIH) and the initiator's real address;
#  - `session close IQN SID` ends it (the initiator loses its session) and
#    the list is empty afterwards;
#  - `target delete IQN` is refused (status 1, the message points at
#    --force) while a session is logged in, and leaves target and session
#    alone; `target delete IQN --force` ends the session and the target;
#  - a discovery session is listed as such, never as a session of a
#    target, and does not keep a target from being deleted;
#  - a second login with the same initiator name and ISID reinstates the
#    session (RFC 7143 §6.3.5): the old one ends, exactly one is left.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-sessions
IQN2=iqn.2026-11.org.lunar:it-sessions-2
IQN3=iqn.2026-11.org.lunar:it-sessions-3
HOLDER=iqn.2026-11.org.lunar:sessions-holder
DISC=iqn.2026-11.org.lunar:sessions-discovery
REIN=iqn.2026-11.org.lunar:sessions-reinstate
for prog in hold_session sessions; do
	[ -x "$TESTBIN/$prog" ] || fail "$TESTBIN/$prog is missing: run make check"
done

# start_hold OUT URL: hold_session as $HOLDER in the background (timeout
# itself is the job, so that SIGTERM reaches the client); sets HOLD_PID.
start_hold() {
	timeout -k 5 120 "$TESTBIN/hold_session" -i "$HOLDER" "$2" 100 \
		>"$1" 2>&1 &
	HOLD_PID=$!
	EXTRA_PIDS+=("$HOLD_PID")
	for _ in $(seq 200); do
		grep -q logged-in "$1" && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "hold_session did not log in to $2: $(cat "$1")"
}

# wait_exit PID SECS WHAT: PID must end within SECS; sets RC.
wait_exit() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "$3: still running after $2 s"
	RC=0
	wait "$1" || RC=$?
}

# wait_no_sessions [IQN]: the (target's) session list empties within 5 s.
wait_no_sessions() {
	for _ in $(seq 50); do
		[ "$(ctl_ok --json session list "$@")" = "[]" ] && return 0
		sleep 0.1
	done
	fail "sessions still listed 5 s after they ended: $(ctl_ok session list "$@")"
}

# pycheck SCRIPT ARGS...: SCRIPT prints "ok" or what is wrong.
pycheck() {
	local what=$1 verdict
	shift
	verdict=$(python3 -c "$@") || fail "$what: checker failed"
	assert_eq ok "$verdict" "$what"
}

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((16 * 1024 * 1024))
URL=$(lun_url "$IQN" 1)

# ---- listing and closing ----
start_hold "$T/hold1.out" "$URL"
text=$(ctl_ok session list "$IQN")
log "session list $IQN:"
printf '%s\n' "$text"
assert_contains "$text" "$IQN" "session list (target line)"
assert_contains "$text" "$HOLDER" "session list (initiator name)"
# The initiator's own address: the one client connection to our port.
peer=$(ss -Htn state established "( dport = :$PORT )" | awk '{print $3}')
if [ -z "$peer" ] || [ "$(printf '%s\n' "$peer" | wc -l)" != 1 ]; then
	fail "expected exactly one client connection to port $PORT, ss shows: '$peer'"
fi
assert_contains "$text" "from $peer" "session list (initiator address)"
json=$(ctl_ok --json session list "$IQN")
pycheck "session list --json with one session" '
import json, re, sys
l = json.loads(sys.argv[1])
if len(l) != 1:
    sys.exit(print("expected one session, got %d: %s" % (len(l), l)))
s = l[0]
c = s["connections"]
if s["initiator"] != sys.argv[2] or s["target"] != sys.argv[3] or s["discovery"]:
    print("initiator/target/discovery: %s %s %s" % (s["initiator"], s["target"], s["discovery"]))
elif not re.fullmatch("[0-9a-f]{12}", s["isid"]):
    print("ISID %r is not 12 hex digits" % s["isid"])
elif int(s["sid"]) != int(s["isid"], 16) << 16 | s["tsih"]:
    print("sid %s is not ISID %s << 16 | TSIH %s" % (s["sid"], s["isid"], s["tsih"]))
elif len(c) != 1 or c[0]["peer"] != sys.argv[4] or c[0]["local"] != "127.0.0.1:" + sys.argv[5]:
    print("connections %s; expected one from %s to 127.0.0.1:%s" % (c, sys.argv[4], sys.argv[5]))
else:
    print("ok")
' "$json" "$HOLDER" "$IQN" "$peer" "$PORT"
sid=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[0]["sid"])' "$json")
assert_contains "$text" "sid $sid:" "session list (sid)"

ctl_ok session close "$IQN" "$sid" >/dev/null
wait_exit "$HOLD_PID" 15 "hold_session after session close"
[ "$RC" = 3 ] || fail "hold_session should have lost its session (status 3) after session close, got $RC: $(cat "$T/hold1.out")"
grep -q "session lost" "$T/hold1.out" || fail "hold_session did not report the lost session"
wait_no_sessions "$IQN"
assert_eq "No sessions." "$(ctl_ok session list "$IQN")" "session list after session close"
ctl_fails session close "$IQN" "$sid"
assert_contains "$CTL_OUT" "no session $sid" "closing a session that is gone"
log "session close $sid: the initiator lost its session, the list is empty"

# ---- target delete with a session ----
start_hold "$T/hold2.out" "$URL"
ctl_fails target delete "$IQN"
assert_eq 1 "$CTL_RC" "exit status of target delete with a session logged in"
assert_contains "$CTL_OUT" "--force" "refusal of target delete with a session"
pycheck "target list --json after the refused delete" '
import json, sys
t = [t for t in json.loads(sys.argv[1]) if t["name"] == sys.argv[2]]
if len(t) != 1 or t[0]["luns"] != 1 or t[0]["sessions"] != 1:
    print("expected %s with 1 LUN and 1 session, got %s" % (sys.argv[2], t))
else:
    print("ok")
' "$(ctl_ok --json target list)" "$IQN"
sleep 1.5 # hold_session checks its session once a second
kill -0 "$HOLD_PID" 2>/dev/null ||
	fail "the session ended although target delete was refused: $(cat "$T/hold2.out")"
assert_contains "$(ctl_ok session list "$IQN")" "$HOLDER" "session list after the refused delete"
log "target delete with a session: refused ($CTL_OUT)"

ctl_ok target delete "$IQN" --force >/dev/null
wait_exit "$HOLD_PID" 15 "hold_session after target delete --force"
[ "$RC" = 3 ] || fail "hold_session should have lost its session (status 3) after target delete --force, got $RC: $(cat "$T/hold2.out")"
wait_no_sessions
assert_not_contains "$(ctl_ok target list)" "$IQN" "target list after target delete --force"
rc=0
run_bounded 30 "$TESTBIN/hold_session" -i "$HOLDER" "$URL" 1 >"$T/hold3.out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "a login to the deleted target should fail (status 2), got $rc: $(cat "$T/hold3.out")"
log "target delete --force: the session ended, the target is gone"

# ---- discovery sessions ----
make_target "$IQN2"
add_file_lun "$IQN2" 1 "$T/disk2.img" $((16 * 1024 * 1024))
URL2=$(lun_url "$IQN2" 1)
start_hold "$T/hold4.out" "$URL2"
timeout -k 5 120 "$TESTBIN/sessions" discovery "127.0.0.1:$PORT" "$DISC" 100 \
	>"$T/disc.out" 2>&1 &
disc_pid=$!
EXTRA_PIDS+=("$disc_pid")
for _ in $(seq 200); do
	grep -q logged-in "$T/disc.out" && break
	kill -0 "$disc_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q logged-in "$T/disc.out" || fail "discovery session did not log in: $(cat "$T/disc.out")"
grep -qx "target $IQN2" "$T/disc.out" || fail "SendTargets did not return $IQN2: $(cat "$T/disc.out")"

json=$(ctl_ok --json session list "$IQN2")
pycheck "session list $IQN2 with a discovery session open" '
import json, sys
l = json.loads(sys.argv[1])
if [s["initiator"] for s in l] != [sys.argv[2]] or any(s["discovery"] for s in l):
    print("expected only the normal session of %s, got %s" % (sys.argv[2], l))
else:
    print("ok")
' "$json" "$HOLDER"
json=$(ctl_ok --json session list)
pycheck "session list (all) with a discovery session open" '
import json, sys
l = json.loads(sys.argv[1])
d = [s for s in l if s["discovery"]]
n = [s for s in l if not s["discovery"]]
if len(d) != 1 or d[0]["initiator"] != sys.argv[2] or d[0]["target"] != "":
    print("expected one discovery session of %s without a target, got %s" % (sys.argv[2], d))
elif [s["initiator"] for s in n] != [sys.argv[3]] or n[0]["target"] != sys.argv[4]:
    print("expected one normal session (%s to %s), got %s" % (sys.argv[3], sys.argv[4], n))
else:
    print("ok")
' "$json" "$DISC" "$HOLDER" "$IQN2"
text=$(ctl_ok session list)
assert_contains "$text" "(discovery)" "session list (all): the discovery session"
assert_not_contains "$(ctl_ok target show "$IQN2")" "$DISC" "target show $IQN2"
pycheck "target list --json with a discovery session open" '
import json, sys
t = [t for t in json.loads(sys.argv[1]) if t["name"] == sys.argv[2]]
if len(t) != 1 or t[0]["sessions"] != 1:
    print("expected %s with 1 session (the normal one), got %s" % (sys.argv[2], t))
else:
    print("ok")
' "$(ctl_ok --json target list)" "$IQN2"

# With only the discovery session left, the target goes without --force.
kill -TERM "$HOLD_PID"
wait_exit "$HOLD_PID" 15 "hold_session after SIGTERM"
assert_eq 0 "$RC" "hold_session exit status after SIGTERM"
wait_no_sessions "$IQN2"
ctl_ok target delete "$IQN2" >/dev/null
kill -0 "$disc_pid" 2>/dev/null || fail "the discovery session ended with the target: $(cat "$T/disc.out")"
sleep 1.5 # it repeats SendTargets once a second
kill -0 "$disc_pid" 2>/dev/null || fail "the discovery session ended with the target: $(cat "$T/disc.out")"
kill -TERM "$disc_pid"
wait_exit "$disc_pid" 15 "discovery client after SIGTERM"
assert_eq 0 "$RC" "discovery client exit status after SIGTERM ($(cat "$T/disc.out"))"
wait_no_sessions
log "discovery session: listed as such only, did not hold the target"

# ---- reinstatement: same initiator name and ISID ----
make_target "$IQN3"
add_file_lun "$IQN3" 1 "$T/disk3.img" $((16 * 1024 * 1024))
mkfifo "$T/rein.in"
timeout -k 5 120 "$TESTBIN/sessions" reinstate "$(lun_url "$IQN3" 1)" "$REIN" \
	<"$T/rein.in" >"$T/rein.out" 2>&1 &
rein_pid=$!
EXTRA_PIDS+=("$rein_pid")
exec 7>"$T/rein.in" # the client's stdin: one line per step

# wait_line TEXT: the reinstate client printed TEXT within 30 s.
wait_line() {
	for _ in $(seq 300); do
		grep -q "^$1" "$T/rein.out" && return 0
		kill -0 "$rein_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "the reinstate client did not print '$1': $(cat "$T/rein.out")"
}

session_of() { # JSON: "ISID TSIH" of the one session, or what is wrong
	python3 -c '
import json, sys
l = json.loads(sys.argv[1])
if len(l) != 1 or l[0]["initiator"] != sys.argv[2]:
    print("expected exactly one session of %s, got %s" % (sys.argv[2], l))
else:
    print(l[0]["isid"], l[0]["tsih"])
' "$1" "$REIN"
}

wait_line "A logged-in"
first=$(session_of "$(ctl_ok --json session list "$IQN3")")
read -r isid tsih_a <<<"$first"
case $isid in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) fail "session A: $first" ;;
esac
log "session A: ISID $isid, TSIH $tsih_a"
echo next >&7
wait_line "A lost"
second=$(session_of "$(ctl_ok --json session list "$IQN3")")
read -r isid_b tsih_b <<<"$second"
[ -n "$tsih_b" ] || fail "after reinstatement: $second"
assert_eq "$isid" "$isid_b" "ISID of the session left after reinstatement"
[ "$tsih_b" != "$tsih_a" ] ||
	fail "the session left after reinstatement has the old TSIH $tsih_a: it should be the new session"
log "session B: ISID $isid_b, TSIH $tsih_b; A is gone"
grep -q "$REIN reinstates session tsih $tsih_a" "$LUNARD_LOG" ||
	fail "lunard did not log the reinstatement of TSIH $tsih_a"
echo "done" >&7
exec 7>&-
wait_exit "$rein_pid" 20 "reinstate client"
cat "$T/rein.out"
assert_eq 0 "$RC" "reinstate client exit status"
wait_no_sessions

lunard_stop
