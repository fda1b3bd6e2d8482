#!/bin/bash
# Persistent reservations shared by two gateways (issue 12, point 2): two
# lunard serve one RBD image under one target name, each as its own
# target port group (A: group 1, B: group 2, so their I_T nexuses differ).
#   - A RESERVE through A is a RESERVATION CONFLICT for a write of a
#     non-registrant through B at once, and READ KEYS / READ RESERVATION
#     through B show A's state (PRGENERATION included);
#   - PREEMPT AND ABORT from A of a nexus on B: B's queued WRITEs are
#     aborted (never GOOD, never landing after A was told GOOD), B gets
#     its unit attention, B's registration is gone
#     (tests/integration/pr_preempt_abort.c with B through gateway B);
#   - SPC-2 RESERVE through B conflicts on A;
#   - registrations and the reservation survive the restart of A, and of
#     both gateways.
. "$(dirname "$0")/lib.sh"

ceph_cluster
IQN=iqn.2026-12.org.lunar:it-gateways
IMG=rbd/it-gw-$$
MiB=$((1024 * 1024))
PRT=$TESTBIN/pr_shared

gateway() { # N GROUP
	daemon_use "$1"
	lunard_start --threads 2 --config "$T/gw$1.json"
	make_target "$IQN"
	ctl_ok tpg create "$IQN" "$2" --portal "127.0.0.1:$PORT" >/dev/null
	ctl_ok lun create "$IQN" 1 --bstype rbd --backing "$IMG" \
		--size $((8 * MiB)) >/dev/null
	ctl_ok config save >/dev/null
}
gateway 1 1
URL_A=$(lun_url "$IQN" 1)
gateway 2 2
URL_B=$(lun_url "$IQN" 1)

# The same disk through both ports, in two port groups.
a=$(lu_ids "$URL_A")
b=$(lu_ids "$URL_B")
[ "$(grep -c . <<<"$a")" -ge 3 ] || fail "VPD 80h/83h through gateway A lack the LU's identifiers: $a"
assert_eq "$a" "$b" "the LU's identifiers through both gateways"

log "reservations across gateways"
run_bounded 120 "$PRT" "$URL_A" "$URL_B" phase1 ||
	fail "pr_shared phase1 failed"

log "PREEMPT AND ABORT from A of B's nexus on gateway B"
run_bounded 180 "$TESTBIN/pr_preempt_abort" "$URL_A" - 20 "$URL_B" >"$T/ppa" 2>&1 ||
	{ tail -n 30 "$T/ppa"; fail "pr_preempt_abort across gateways failed"; }
tail -n 1 "$T/ppa"

log "state set up for the restarts"
run_bounded 60 "$PRT" "$URL_A" "$URL_B" phase2 || fail "pr_shared phase2 failed"
daemon_use 1
lunard_stop
lunard_start --threads 2 --config "$T/gw1.json"
run_bounded 60 "$PRT" "$URL_A" "$URL_B" check ||
	fail "the reservations after restarting gateway A"
lunard_stop
daemon_use 2
lunard_stop
lunard_start --threads 2 --config "$T/gw2.json"
daemon_use 1
lunard_start --threads 2 --config "$T/gw1.json"
run_bounded 60 "$PRT" "$URL_A" "$URL_B" check ||
	fail "the reservations after restarting both gateways"
run_bounded 60 "$PRT" "$URL_A" "$URL_B" clear || fail "pr_shared clear failed"
lunard_stop
daemon_use 2
lunard_stop
rbd rm "$IMG" >/dev/null 2>&1 || true
