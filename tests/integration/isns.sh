#!/bin/bash
# iSNS (RFC 4171) against Debian's open-isns server: lunard --isns
# registers its entity, its portal and every target, and refreshes the
# registration within the server's period; a deleted target and
# a removed portal are deregistered, a new one registered; after isnsd is
# killed and restarted with an empty database lunard registers everything
# again within a bounded time; SIGTERM deregisters the entity. With
# --isns-dd, SendTargets (iscsi-ls) lists an initiator only the targets
# that share a discovery domain with it (as the server decides), and falls
# back to the ACLs alone while the server is down. A fake server that
# answers with malformed PDUs only makes lunard reconnect. isnsd runs
# in the foreground on 127.0.0.1 with its own config, database and control
# socket in the test's directory; isnsadm --local reads its database.
. "$(dirname "$0")/lib.sh"

command -v isnsd >/dev/null && command -v isnsadm >/dev/null ||
	fail "isnsd/isnsadm are missing: apt-get install open-isns-server open-isns-utils (scripts/deps.sh test)"

T1=iqn.2026-12.org.lunar:it-isns-one
T2=iqn.2026-12.org.lunar:it-isns-two
EID=lunar:it-isns
ISNS_PORT=$(free_port)
ISNS_DIR=$T/isns
ISNSD_PID=""
mkdir -p "$ISNS_DIR"

cat >"$ISNS_DIR/isnsd.conf" <<EOF
SourceName = iqn.2026-12.org.lunar:isns-server
BindAddress = 127.0.0.1:$ISNS_PORT
Database = $ISNS_DIR/db
PIDFile = $ISNS_DIR/isnsd.pid
ControlSocket = $ISNS_DIR/isnsctl
Security = 0
RegistrationPeriod = 12s
DefaultDiscoveryDomain = 1
SLPRegister = 0
EOF
cat >"$ISNS_DIR/isnsadm.conf" <<EOF
SourceName = iqn.2026-12.org.lunar:isnsadm
ServerAddress = 127.0.0.1:$ISNS_PORT
ControlSocket = $ISNS_DIR/isnsctl
Security = 0
EOF

isnsd_start() {
	rm -rf "$ISNS_DIR/db"
	mkdir -p "$ISNS_DIR/db"
	timeout -k 5 280 isnsd -f -c "$ISNS_DIR/isnsd.conf" \
		>>"$LOG_DIR/$TEST_NAME.isnsd.log" 2>&1 &
	ISNSD_PID=$!
	EXTRA_PIDS+=("$ISNSD_PID")
	for _ in $(seq 100); do
		[ -S "$ISNS_DIR/isnsctl" ] &&
			python3 -c "import socket; socket.create_connection(('127.0.0.1', $ISNS_PORT), 1).close()" \
				2>/dev/null && return 0
		kill -0 "$ISNSD_PID" 2>/dev/null ||
			fail "isnsd exited during start-up; see $LOG_DIR/$TEST_NAME.isnsd.log"
		sleep 0.1
	done
	fail "isnsd did not listen on 127.0.0.1:$ISNS_PORT within 10 s"
}

isnsd_kill() {
	kill -TERM "$ISNSD_PID" 2>/dev/null
	wait "$ISNSD_PID" 2>/dev/null || true
	rm -f "$ISNS_DIR/isnsctl"
}

# isns_list TYPE: the server's objects of TYPE (entities, nodes, portals).
isns_list() {
	run_bounded 10 isnsadm -c "$ISNS_DIR/isnsadm.conf" --local --list "$1" 2>&1 || true
}

# wait_isns TYPE NEEDLE present|absent SECS WHAT
wait_isns() {
	local out=""
	for _ in $(seq $(($4 * 5))); do
		out=$(isns_list "$1")
		case $3 in
		present) case $out in *"$2"*) return 0 ;; esac ;;
		absent) case $out in *"$2"*) ;; *) return 0 ;; esac ;;
		esac
		sleep 0.2
	done
	fail "$5: expected '$2' $3 in isnsadm --list $1 within $4 s; it lists: $out"
}

# A malformed server address is refused at start, with the fix named.
rc=0
out=$("$LUNARD" --foreground --isns "::1:3205" --control "$T/bad.sock" \
	--state-dir "$T/bad" 2>&1) || rc=$?
[ $rc != 0 ] || fail "lunard --isns ::1:3205 started; expected a refusal"
assert_contains "$out" "[IPV6]:PORT" "message for a bare IPv6 --isns address"

isnsd_start
lunard_start --isns "127.0.0.1:$ISNS_PORT" --isns-entity "$EID"

# Registration: entity, portal, both targets (alias included).
ctl_ok target create "$T1" --alias "isns disk one" >/dev/null
ctl_ok target create "$T2" >/dev/null
wait_isns nodes "$T2" present 10 "registration of $T2"
wait_isns nodes "$T1" present 10 "registration of $T1"
nodes=$(isns_list nodes)
assert_contains "$nodes" '"isns disk one"' "alias of $T1"
assert_contains "$nodes" "Target" "node type"
entities=$(isns_list entities)
assert_contains "$entities" "\"$EID\"" "entity identifier"
assert_contains "$entities" "iSCSI" "entity protocol"
portals=$(isns_list portals)
assert_contains "$portals" "127.0.0.1" "portal address"
assert_contains "$portals" "$PORT/tcp" "portal port"
show=$(ctl_ok isns show)
assert_contains "$show" "registered" "isns show state"
assert_contains "$show" "$T1" "isns show targets"
assert_contains "$show" "127.0.0.1:$PORT" "isns show portals"
json=$(rpc '{"cmd": "isns.show"}')
assert_contains "$json" "\"entity\": \"$EID\"" "isns.show entity"

# The server's registration period is 12 s: lunard learns it and
# refreshes in time, so the entity outlives two periods.
sleep 25
assert_contains "$(isns_list entities)" "\"$EID\"" "entity after 25 s (period 12 s)"
assert_contains "$(ctl_ok isns show)" "Registration period: 12s" "isns show period"

# Updates: a deleted target goes, a new portal comes and goes.
ctl_ok target delete "$T1" >/dev/null
wait_isns nodes "$T1" absent 10 "deregistration of deleted $T1"
assert_contains "$(isns_list nodes)" "$T2" "$T2 after deleting $T1"
P2=$(free_port)
ctl_ok portal add "$T2" "127.0.0.1:$P2" >/dev/null
wait_isns portals "$P2/tcp" present 10 "registration of portal 127.0.0.1:$P2"
ctl_ok portal delete "$T2" "127.0.0.1:$P2" >/dev/null
wait_isns portals "$P2/tcp" absent 10 "deregistration of portal 127.0.0.1:$P2"
assert_contains "$(isns_list portals)" "$PORT/tcp" "the first portal stays"

# The server goes away and comes back with an empty database: lunard
# registers again (backoff starts at 1 s; 40 s is far above its bound).
isnsd_kill
sleep 1
isnsd_start
wait_isns nodes "$T2" present 40 "re-registration after isnsd restarted"
assert_contains "$(isns_list entities)" "\"$EID\"" "entity after restart"
grep -q "isns: registered entity $EID" "$LUNARD_LOG" ||
	fail "lunard's log does not say it registered again"

# The last target gone: the entity goes; a new one brings it back.
ctl_ok target delete "$T2" >/dev/null
wait_isns entities "\"$EID\"" absent 10 "entity without targets"
ctl_ok target create "$T1" >/dev/null
wait_isns nodes "$T1" present 10 "registration after the entity was gone"

# Shutdown deregisters the entity before lunard exits.
lunard_stop
wait_isns entities "\"$EID\"" absent 2 "deregistration at SIGTERM"
grep -q "isns: deregistered entity $EID" "$LUNARD_LOG" ||
	fail "lunard's log does not confirm the deregistration at shutdown"

# Without a server lunard starts, says so, and keeps retrying.
isnsd_kill
lunard_start --isns "127.0.0.1:$ISNS_PORT" --isns-entity "$EID"
ctl_ok target create "$T2" >/dev/null
show=$(ctl_ok isns show)
assert_contains "$show" "isnsd running" "isns show when the server is down"
isnsd_start
wait_isns nodes "$T2" present 40 "registration once the server is up"
lunard_stop

# Discovery domains: initiator A and target X share dd-a; Y is in none,
# so the server's default domain holds it and B (in no domain) sees it.
X=iqn.2026-12.org.lunar:it-isns-x
Y=iqn.2026-12.org.lunar:it-isns-y
IA=iqn.2026-12.org.lunar:it-isns-initiator-a
IB=iqn.2026-12.org.lunar:it-isns-initiator-b
IC=iqn.2026-12.org.lunar:it-isns-initiator-c
daemon_use 2
lunard_start --isns "127.0.0.1:$ISNS_PORT" --isns-entity "$EID-dd" --isns-dd
make_target "$X"
make_target "$Y"
wait_isns nodes "$Y" present 10 "registration of $Y"
wait_isns nodes "$X" present 10 "registration of $X"
run_bounded 10 isnsadm -c "$ISNS_DIR/isnsadm.conf" --local --dd-register \
	dd-name=dd-a "member-name=$IA" "member-name=$X" >/dev/null ||
	fail "isnsadm --dd-register of dd-a failed"
# sendtargets INITIATOR: the target names iscsi-ls is given, sorted
sendtargets() {
	run_bounded 30 iscsi-ls -i "$1" "iscsi://127.0.0.1:$PORT" 2>&1 |
		sed -n 's/^Target:\([^ ]*\) .*/\1/p' | sort | tr '\n' ' '
}
assert_eq "$X " "$(sendtargets "$IA")" "SendTargets of $IA (dd-a with $X)"
assert_eq "$Y " "$(sendtargets "$IB")" "SendTargets of $IB (no domain)"
# Without a server: an initiator nothing is known about gets the ACLs'
# answer, and the log says why; A keeps its last known domains.
isnsd_kill
assert_eq "$X $Y " "$(sendtargets "$IC")" "SendTargets of $IC, server down"
grep -q "no discovery domain filter\|no discovery domain answer" "$LUNARD_LOG" ||
	fail "lunard's log does not say SendTargets falls back to the ACLs"
assert_eq "$X " "$(sendtargets "$IA")" "SendTargets of $IA, server down"
lunard_stop

# A hostile "server" (fake_isns.py): each connection gets one malformed
# answer to lunard's first request; lunard logs it, reconnects, keeps
# serving.
FAKE_PORT=$(free_port)
run_bounded 90 python3 "$LUNAR_ROOT/tests/integration/fake_isns.py" "$FAKE_PORT" \
	>"$T/fake.out" 2>&1 &
fake_pid=$!
EXTRA_PIDS+=("$fake_pid")
sleep 0.3
daemon_use 3
lunard_start --isns "127.0.0.1:$FAKE_PORT" --isns-entity "$EID-hostile"
ctl_ok target create "$T1" >/dev/null
wait "$fake_pid" || fail "the fake iSNS server failed: $(cat "$T/fake.out")"
assert_contains "$(cat "$T/fake.out")" "answered 4" "fake server's five answers"
lunard_alive || fail "lunard died on malformed iSNS answers"
ctl_ok system show >/dev/null
grep -q "malformed PDU" "$LUNARD_LOG" && grep -q "without a status" "$LUNARD_LOG" &&
	grep -q "attributes run past its end" "$LUNARD_LOG" ||
	fail "lunard's log does not name the malformed iSNS answers"
lunard_stop
