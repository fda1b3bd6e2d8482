#!/bin/bash
# Several gateways, one target (issue 12, point 3): lunard A and B serve
# one RBD image under one target name, A as port group 1, B as group 2;
# both know both groups, so REPORT TARGET PORT GROUPS reads the same on
# either. The group that owns the medium holds its exclusive lock and is
# active/optimized everywhere, the other standby.
#   1. STPG through A makes group 1 the owner; writes through A (pattern
#      a1) are acknowledged; B refuses writes (standby).
#   2. A freezes (SIGSTOP) with WRITEs (b2) sitting in its socket: the
#      writer changes path, STPG through B takes over (A does not answer
#      the change, so it is fenced, its lock broken), and writes c3 over
#      the blocks A holds. A thaws: none of its WRITEs may end GOOD or
#      land. Then A is killed with kill -9.
#   3. Every acknowledged write reads back through B (a1 and c3).
#   4. A restarts with its config and rejoins without cleanup: it reports
#      group 2 active/optimized and itself standby; STPG through A takes
#      the LU back cooperatively (B lets go of the lock, nobody fenced);
#      lunarctl lun activate on B hands it to group 2 again.
#   5. The owner A is killed (kill -9) right after acknowledged writes:
#      STPG through B takes over and every acknowledged write reads back.
. "$(dirname "$0")/lib.sh"

ceph_cluster
IQN=iqn.2026-12.org.lunar:it-failover
IMG=rbd/it-failover-$$
AIO=$TESTBIN/alua_io
IO=$TESTBIN/scsi_io
declare -A GW_PORT=()

# Ports first: each gateway names both groups' portals.
daemon_use 1
GW_PORT[1]=$PORT
daemon_use 2
GW_PORT[2]=$PORT

gateway() { # N
	daemon_use "$1"
	lunard_start --threads 2 --config "$T/gw$1.json"
	make_target "$IQN"
	ctl_ok tpg create "$IQN" 1 --portal "127.0.0.1:${GW_PORT[1]}" >/dev/null
	ctl_ok tpg create "$IQN" 2 --portal "127.0.0.1:${GW_PORT[2]}" \
		--state standby >/dev/null
	ctl_ok lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 16M \
		--bs-opts "timeout=10" >/dev/null
	ctl_ok config save >/dev/null
}
gateway 1
URL_A=$(lun_url "$IQN" 1)
gateway 2
URL_B=$(lun_url "$IQN" 1)

expect() { # WHAT WANT CMD...
	local what=$1 want=$2 got
	shift 2
	got=$(run_bounded 90 "$@" 2>&1) || fail "$what: '$*' failed: $got"
	assert_eq "$want" "$got" "$what"
}

log "1. group 1 (A) takes the LU"
expect "STPG through A" GOOD "$AIO" "$URL_A" stpg 1
# A gateway takes the medium only for its own group: asking A to make
# B's group active is INVALID FIELD IN PARAMETER LIST.
expect "STPG through A for B's group" "CHECK CONDITION 05/26/00" \
	"$AIO" "$URL_A" stpg 2
expect "RTPG through A" "1:ao 2:s" "$AIO" "$URL_A" rtpg
expect "RTPG through B" "1:ao 2:s" "$AIO" "$URL_B" rtpg
expect "write through A" good "$IO" "$URL_A" write 0 64 a1
expect "write through B (standby)" "sense 2/04/0b" "$IO" "$URL_B" write 0 8 ff

log "2. A freezes with writes in flight; B takes over"
coproc FL { run_bounded 240 "$AIO" "$URL_A" inflight 8 1000 b2; }
# bash forgets FL once the coprocess exits: keep its ends.
exec {fl_out}<&"${FL[0]}" {fl_in}>&"${FL[1]}"
fl_pid=$FL_PID
read -r -t 30 -u "$fl_out" line || fail "the in-flight writer did not log in"
assert_eq ready "$line" "in-flight writer"
daemon_use 1
A_PID=$LUNARD_PID
kill -STOP "$A_PID"
echo go >&"$fl_in"
read -r -t 30 -u "$fl_out" line || fail "the in-flight writer did not send"
assert_eq sent "$line" "in-flight writer"
t0=$(date +%s)
expect "STPG through B while A is frozen" GOOD "$AIO" "$URL_B" stpg 2
log "takeover took $(($(date +%s) - t0)) s"
# Fenced either by the notify it did not answer or, once the OSD dropped
# its silent watch, by breaking its lock: both blocklist it.
grep -qE "fenced gateway|breaking the lock of" "${D_LOG[2]}" ||
	fail "gateway B did not fence the frozen gateway A"
expect "RTPG through B after the takeover" "1:s 2:ao" "$AIO" "$URL_B" rtpg
expect "write through B over A's in-flight blocks" good \
	"$IO" "$URL_B" write 1000 64 c3
kill -CONT "$A_PID"
echo collect >&"$fl_in"
for i in $(seq 8); do
	read -r -t 90 -u "$fl_out" line || fail "no outcome for in-flight write $i"
	log "A's in-flight write $i: $line"
	[ "$line" != GOOD ] || fail "a write A held while B took over ended GOOD"
done
wait "$fl_pid" 2>/dev/null || true
exec {fl_out}<&- {fl_in}>&-
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
D_PID[1]="" LUNARD_PID=""

log "3. every acknowledged write reads back through B"
expect "blocks written through A before the freeze" good "$IO" "$URL_B" read 0 64 a1
expect "blocks B wrote over A's in-flight writes" good "$IO" "$URL_B" read 1000 64 c3

log "4. A restarts and rejoins"
lunard_start --threads 2 --config "$T/gw1.json"
expect "RTPG through the restarted A" "1:s 2:ao" "$AIO" "$URL_A" rtpg
expect "write through A (standby now)" "sense 2/04/0b" "$IO" "$URL_A" write 0 8 ff
n_fenced=$(grep -cE "fenced gateway|breaking the lock" "${D_LOG[2]}" || true)
expect "STPG through A takes it back" GOOD "$AIO" "$URL_A" stpg 1
assert_eq "$n_fenced" "$(grep -cE "fenced gateway|breaking the lock" "${D_LOG[2]}" || true)" \
	"fencings by B: a cooperative handover fences nobody"
assert_eq "$(grep -cE "fenced gateway|breaking the lock" "${D_LOG[1]}" || true)" 0 \
	"fencings by A: B let go of the lock itself"
expect "RTPG through B" "1:ao 2:s" "$AIO" "$URL_B" rtpg
expect "write through A after taking it back" good "$IO" "$URL_A" write 2000 8 d4
expect "write through B (standby again)" "sense 2/04/0b" "$IO" "$URL_B" write 2000 8 ff
daemon_use 2
OUT=$(ctl_ok lun activate "$IQN" 1 --group 2)
assert_contains "$OUT" "port group 2 owns LUN 1" "lunarctl lun activate"
expect "RTPG through A after lun activate on B" "1:s 2:ao" "$AIO" "$URL_A" rtpg
expect "read through B" good "$IO" "$URL_B" read 2000 8 d4
ctl_fails lun activate "$IQN" 1
assert_contains "$CTL_OUT" "--group" "lun activate without a group"

log "5. the owner dies (kill -9) right after acknowledged writes"
expect "STPG through A" GOOD "$AIO" "$URL_A" stpg 1
expect "write through A" good "$IO" "$URL_A" write 3000 64 e5
daemon_use 1
kill -KILL "$LUNARD_PID"
wait "$LUNARD_PID" 2>/dev/null || true
D_PID[1]="" LUNARD_PID=""
t0=$(date +%s)
expect "STPG through B after A died" GOOD "$AIO" "$URL_B" stpg 2
log "takeover after kill -9 took $(($(date +%s) - t0)) s"
expect "what A acknowledged, through B" good "$IO" "$URL_B" read 3000 64 e5
expect "write through B" good "$IO" "$URL_B" write 3000 8 f6

daemon_use 2
lunard_stop
rbd rm "$IMG" >/dev/null 2>&1 || true
