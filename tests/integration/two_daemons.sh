#!/bin/bash
# Several daemons coexist when each has its own portal and control socket;
# a second lunard on a control socket already in use refuses to start,
# says why, and leaves the running daemon untouched.
. "$(dirname "$0")/lib.sh"

A=iqn.2026-11.org.lunar:it-two-a
B=iqn.2026-11.org.lunar:it-two-b

daemon_use 1
lunard_start
make_target "$A"
add_file_lun "$A" 1 "$T/a.img" $((16 * 1024 * 1024))
port1=$PORT sock1=$SOCK

daemon_use 2
lunard_start
make_target "$B"
add_file_lun "$B" 1 "$T/b.img" $((32 * 1024 * 1024))
port2=$PORT

# Each serves its own target, and only its own.
daemon_use 1
assert_ok "discovery on daemon 1" iscsi-ls -s "$(portal_url)"
assert_contains "$OUT" "Target:$A Portal:127.0.0.1:$port1" "daemon 1 discovery"
assert_not_contains "$OUT" "$B" "daemon 1 discovery"
assert_ok "INQUIRY on daemon 1" iscsi-inq "$(lun_url "$A" 1)"
daemon_use 2
assert_ok "discovery on daemon 2" iscsi-ls -s "$(portal_url)"
assert_contains "$OUT" "Target:$B Portal:127.0.0.1:$port2" "daemon 2 discovery"
assert_not_contains "$OUT" "$A" "daemon 2 discovery"
assert_ok "READ CAPACITY on daemon 2" iscsi-readcapacity16 "$(lun_url "$B" 1)"
assert_contains "$OUT" "Total size:$((32 * 1024 * 1024))" "daemon 2 LUN size"

# A third daemon on daemon 1's control socket (another portal) refuses.
port3=$(free_port)
rc=0
out=$(run_bounded 10 "$LUNARD" --foreground --portal "127.0.0.1:$port3" \
	--control "$sock1" --state-dir "$T/d3state" --log-level info 2>&1) || rc=$?
printf '%s\n' "$out"
[ $rc != 0 ] || fail "a second lunard on $sock1 started (exit 0); it must refuse"
[ $rc != 124 ] && [ $rc != 137 ] || fail "a second lunard on $sock1 neither started nor refused within 10 s"
assert_contains "$out" "$sock1" "refusal message of the second lunard"
# It did not take daemon 1's socket or serve on its own portal.
daemon_use 1
assert_ok "daemon 1 control socket after the refused start" "$LUNARCTL" --control "$SOCK" system show
assert_ok "daemon 1 still serves" iscsi-inq "$(lun_url "$A" 1)"
python3 -c 'import socket,sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$port3" ||
	fail "the refused lunard left a listener on port $port3"

daemon_use 2
lunard_stop
daemon_use 1
lunard_alive || fail "stopping daemon 2 took daemon 1 down"
assert_ok "daemon 1 after daemon 2 stopped" iscsi-inq "$(lun_url "$A" 1)"
lunard_stop
