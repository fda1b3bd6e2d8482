#!/bin/bash
# Persistent reservations through power loss (SPC-5 5.13.5): a
# registration and WE reservation made with APTPL=1 are back after
# kill -9 of lunard and a restart with the same --state-dir and --config
# (same key, holder and type; a non-registrant's WRITE still conflicts);
# a registration made with APTPL=0 on another LUN is not (nor one whose
# last APTPL was 0); RELEASE, REGISTER, RESERVE, PREEMPT and CLEAR made
# after a restart persist too (four restarts). $BUILD/tests/pr_aptpl
# (tests/integration/pr_aptpl.c) does the SCSI side. A few seconds.
. "$(dirname "$0")/lib.sh"

PA=$TESTBIN/pr_aptpl
[ -x "$PA" ] || fail "$PA is missing: run make itest"
IQN=iqn.2026-11.org.lunar:it-pr-aptpl
CONF=$T/conf/lunar.json
mkdir -p "$T/conf"

# Power loss: SIGKILL, no chance to save anything.
lunard_kill9() {
	lunard_alive || fail "lunard #$CUR is not running (it should be)"
	kill -KILL "$LUNARD_PID"
	wait "$LUNARD_PID" 2>/dev/null || true
	D_PID[$CUR]="" LUNARD_PID=""
	log "lunard #$CUR killed with SIGKILL"
}

phase() { # NAME ARGS...
	local rc=0
	run_bounded 60 "$PA" "$@" >"$T/out.$1" 2>&1 || rc=$?
	cat "$T/out.$1"
	[ $rc = 0 ] || fail "pr_aptpl $1 failed (status $rc)"
}

lunard_start --config "$CONF"
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((8 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((8 * 1024 * 1024))
ctl_ok config save >/dev/null
url1=$(lun_url "$IQN" 1)
url2=$(lun_url "$IQN" 2)

phase before "$url1" "$url2"
lunard_kill9
lunard_start --config "$CONF"
phase after "$url1" "$url2"
lunard_kill9
lunard_start --config "$CONF"
phase after2 "$url1"
lunard_kill9
lunard_start --config "$CONF"
phase after3 "$url1"
lunard_kill9
lunard_start --config "$CONF"
phase cleared "$url1"
lunard_stop
