#!/bin/bash
# Asymmetric logical unit access end to end: one LU reached through two
# portals in two port groups (lunarctl tpg), driven over both paths at
# once by tests/integration/alua.c. Checks SendTargets and login tags,
# INQUIRY TPGS and VPD 83h per path, REPORT TARGET PORT GROUPS over each
# path; an admin's `tpg set ... standby` (the standby path gets NOT READY
# 04/0B on READ but INQUIRY still works, every path one ASYMMETRIC ACCESS
# STATE CHANGED); SET TARGET PORT GROUPS from an initiator (the other
# path hears of it, the issuer does not); INQUIRY DATA HAS CHANGED on a
# membership change; config save and a restart that restores the groups;
# lunarctl's errors for bad input and a corrupt config entry.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-alua
CONF=$T/conf/lunar.json
mkdir -p "$T/conf"
[ -x "$TESTBIN/alua" ] || fail "$TESTBIN/alua is missing: run make itest"

PORT2=""
for _ in $(seq 20); do
	PORT2=$(free_port)
	[ "$PORT2" != "$PORT" ] && break
done
[ "$PORT2" != "$PORT" ] || fail "no second free port"
P1=127.0.0.1:$PORT
P2=127.0.0.1:$PORT2

# ---- the two-path driver (a coprocess answering one line a request) ----

drv_start() {
	coproc DRV { exec "$TESTBIN/alua" "iscsi://$P1/$IQN/0" \
		"iscsi://$P2/$IQN/0" 2>&1; }
	EXTRA_PIDS+=("$DRV_PID")
	IFS= read -r -t 30 R <&"${DRV[0]}" || fail "the alua driver did not start"
	[ "$R" = ready ] || fail "the alua driver said '$R' instead of ready"
}

# Ends the driver (end of its input: it logs both paths out).
drv_stop() {
	local pid=$DRV_PID rc=0
	exec {DRV[1]}>&-
	# bash forgets DRV_PID once it reaps the driver: wait on the copy.
	timeout 30 tail --pid="$pid" -f /dev/null || rc=$?
	[ $rc = 0 ] || fail "the alua driver did not end within 30 s"
	wait "$pid" 2>/dev/null || true
}

# drv REQUEST: sends one request, R is the answer.
drv() {
	printf '%s\n' "$1" >&"${DRV[1]}"
	IFS= read -r -t 30 R <&"${DRV[0]}" || fail "no answer to '$1' within 30 s"
	log "$1 -> $R"
}

# expect REQUEST ANSWER
expect() {
	drv "$1"
	assert_eq "$2" "$R" "answer to '$1'"
}

# ---- setup -------------------------------------------------------------

lunard_start --portal "$P2" --config "$CONF"
make_target "$IQN"
add_file_lun "$IQN" 0 "$T/l0.img" $((16 * 1024 * 1024))
ctl_ok tpg create "$IQN" 1 --portal "$P1" --preferred
out=$(ctl_ok tpg create "$IQN" 2 --portal "$P2" --state an)
assert_contains "$out" "Created port group 2 of $IQN (active/non-optimized)" "tpg create with a short state"

# ---- tags: SendTargets and login ----------------------------------------

assert_ok "SendTargets" iscsi-ls "iscsi://$P1/"
assert_contains "$OUT" "Portal:$P1,1" "SendTargets: TPGT of portal 1"
assert_contains "$OUT" "Portal:$P2,2" "SendTargets: TPGT of portal 2"
assert_ok "login through portal 2" "$TESTBIN/alua" tag "$P2" "$IQN"
assert_contains "$OUT" "TargetPortalGroupTag=2" "login tag through portal 2"
assert_ok "login through portal 1" "$TESTBIN/alua" tag "$P1" "$IQN"
assert_contains "$OUT" "TargetPortalGroupTag=1" "login tag through portal 1"

# ---- what each path sees -------------------------------------------------

drv_start
expect "A tur" "check 6/29/00"
expect "A tur" "good"
expect "B tur" "check 6/29/00"
expect "B tur" "good"
expect "A inquiry" "good tpgs=3"
expect "A vpd83" "vpd83 rel=1 tpg=1 port=$IQN,t,0x0001"
expect "B vpd83" "vpd83 rel=2 tpg=2 port=$IQN,t,0x0002"
# ID/STATE/PREF/STATUS/PORTS, then the implicit transition time.
expect "A rtpg" "rtpg 1/0/1/0/1 2/1/0/0/2 time=30"
expect "B rtpg" "rtpg 1/0/1/0/1 2/1/0/0/2 time=30"

# ---- the admin puts path B in standby ---------------------------------

out=$(ctl_ok tpg set "$IQN" 2 --state standby)
assert_contains "$out" "Port group 2 of $IQN is now standby" "tpg set"
expect "B read" "check 6/2a/06"
expect "B read" "check 2/04/0b"
expect "B tur" "check 2/04/0b"
expect "B inquiry" "good tpgs=3"
expect "B rtpg" "rtpg 1/0/1/0/1 2/2/0/2/2 time=30"
# The other path hears of it once, and keeps working.
expect "A tur" "check 6/2a/06"
expect "A read" "good"
expect "A tur" "good"

# ---- SET TARGET PORT GROUPS from path B ---------------------------------

expect "B stpg 2=0,1=2" "good"
expect "B read" "good"
expect "A read" "check 6/2a/06"
expect "A read" "check 2/04/0b"
expect "A inquiry" "good tpgs=3"
expect "A rtpg" "rtpg 1/2/1/1/1 2/0/0/1/2 time=30"
# Unknown groups and states an initiator cannot ask for are refused.
expect "B stpg 7=0" "check 5/26/00"
expect "B stpg 2=f" "check 5/26/00"
expect "B stpg 2=e" "check 5/26/00"

# ---- lunarctl shows it -------------------------------------------------

out=$(ctl_ok tpg list "$IQN")
assert_contains "$out" "1: standby, preferred, portals $P1 (1 session)" "tpg list, group 1"
assert_contains "$out" "2: active/optimized, portals $P2 (1 session)" "tpg list, group 2"
out=$(ctl_ok target show "$IQN")
assert_contains "$out" "Port groups:" "target show"
assert_contains "$out" "2: active/optimized, portals $P2" "target show, group 2"
out=$(ctl_ok show)
assert_contains "$out" "o- port groups" "show tree"
assert_contains "$out" "o- tpg2" "show tree, group 2"

# ---- membership changes --------------------------------------------------

ctl_ok tpg create "$IQN" 3 >/dev/null 2>&1
expect "B tur" "check 6/3f/03"
expect "B tur" "good"
expect "A tur" "check 6/3f/03"
expect "A tur" "check 2/04/0b"
ctl_ok tpg delete "$IQN" 3
expect "B tur" "check 6/3f/03"
expect "A inquiry" "good tpgs=3"
# A group with a session through it stays.
ctl_fails tpg delete "$IQN" 2
assert_contains "$CTL_OUT" "port group 2 of target $IQN has 1 session" "tpg delete with a session"

# ---- config save and restart ----------------------------------------------

ctl_ok config save >/dev/null
drv_stop
lunard_stop
python3 - "$CONF" <<'EOF' || fail "the saved config lacks the port groups"
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
g = {x["id"]: x for x in t["port_groups"]}
assert g[1]["state"] == "standby" and g[1]["preferred"], g
assert g[2]["state"] == "active/optimized" and not g[2]["preferred"], g
EOF
lunard_start --portal "$P2" --config "$CONF"
out=$(ctl_ok tpg list "$IQN")
assert_contains "$out" "1: standby, preferred, portals $P1 (0 sessions)" "group 1 after restart"
assert_contains "$out" "2: active/optimized, portals $P2 (0 sessions)" "group 2 after restart"
drv_start
expect "A read" "check 6/29/00"
expect "A read" "check 2/04/0b"
expect "B read" "check 6/29/00"
expect "B read" "good"
expect "B rtpg" "rtpg 1/2/1/0/1 2/0/0/0/2 time=30"
expect "A vpd83" "vpd83 rel=1 tpg=1 port=$IQN,t,0x0001"

# ---- lunarctl errors -------------------------------------------------------

ctl_fails tpg create "$IQN" 0
assert_eq 2 "$CTL_RC" "exit status of a bad port group id"
assert_contains "$CTL_OUT" "bad port group id '0': use 1..65535" "tpg create 0"
ctl_fails tpg create "$IQN" 4 --portal "$P1"
assert_contains "$CTL_OUT" "portal $P1 is already in port group 1 of target $IQN" "portal in two groups"
assert_contains "$CTL_OUT" "tpg remove-portal $IQN 1 $P1" "the fix for a portal in two groups"
ctl_fails tpg create "$IQN" 2
assert_contains "$CTL_OUT" "already has port group 2" "duplicate group"
ctl_fails tpg create iqn.2026-11.org.lunar:nope 5
assert_contains "$CTL_OUT" "no target iqn.2026-11.org.lunar:nope" "group of a missing target"
ctl_fails tpg set "$IQN" 2 --state sleepy
assert_contains "$CTL_OUT" "'sleepy' is not a state a port group can be put in; use active/optimized" "bad state"
ctl_fails tpg set "$IQN" 9 --state standby
assert_contains "$CTL_OUT" "target $IQN has no port group 9" "unknown group"
ctl_fails tpg set "$IQN" 2
assert_eq 2 "$CTL_RC" "exit status of tpg set without a change"
ctl_fails tpg remove-portal "$IQN" 2 "$P1"
assert_contains "$CTL_OUT" "portal $P1 is not in port group 2" "remove a portal not in the group"
ctl_fails tpg add-portal "$IQN" 2 127.0.0.1
assert_contains "$CTL_OUT" "portal '127.0.0.1' has no port" "portal without a port"
# A portal nobody listens on is accepted, with a note.
out=$(ctl tpg add-portal "$IQN" 2 127.0.0.1:9 2>&1) || fail "tpg add-portal of an unheard portal failed: $out"
assert_contains "$out" "lunard does not listen on 127.0.0.1:9" "note for an unheard portal"
ctl_ok tpg remove-portal "$IQN" 2 127.0.0.1:9 >/dev/null
drv_stop
lunard_stop

# A corrupt port group in the config refuses the whole file, naming it.
python3 - "$CONF" "$T/corrupt.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["targets"][0]["port_groups"][1]["state"] = "sideways"
json.dump(c, open(sys.argv[2], "w"))
EOF
rc=0
out=$(run_bounded 10 "$LUNARD" --foreground --portal "127.0.0.1:$PORT" \
	--control "$SOCK" --state-dir "$STATE" --config "$T/corrupt.json" 2>&1) || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "lunard accepted a corrupt port group (status $rc): $out"
assert_contains "$out" "targets[0].port_groups[1].state: 'sideways' is not a state" \
	"error for a corrupt port group"
