#!/bin/bash
# A Ceph cluster that stops answering (its OSD paused with SIGSTOP): a
# write to an RBD LUN ends within the store's timeout (timeout=5) with
# ABORTED COMMAND / TIMEOUT ON LOGICAL UNIT, which initiators retry, not
# a hang or a medium error; lunard keeps answering lunarctl meanwhile,
# and I/O works again once the OSD resumes, with nothing lost that was
# acknowledged before. The test has a cluster of its own.
. "$(dirname "$0")/lib.sh"

ceph_cluster --own
IQN=iqn.2026-12.org.lunar:it-rbd-pause
IMG=rbd/pause
lunard_start
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 64M \
	--bs-opts "timeout=5" >/dev/null
URL=$(lun_url "$IQN" 1)
assert_ok "write before the pause" "$TESTBIN/scsi_io" "$URL" write 10 8 c3
assert_eq good "$OUT" "write before the pause"

"$LUNAR_ROOT/scripts/ceph-cluster.sh" pause-osd "$CEPH_OWN_DIR" ||
	fail "cannot pause the OSD"
t0=$(date +%s%N)
"$TESTBIN/scsi_io" "$URL" write 20 8 d4 >"$T/io.out" 2>&1 &
io=$!
# lunard answers its control socket while the write waits for the OSD.
sleep 1
for _ in 1 2 3; do
	c0=$(date +%s%N)
	run_bounded 5 "$LUNARCTL" --control "$SOCK" system show >/dev/null ||
		fail "lunarctl got no answer while the OSD is paused"
	ms=$((($(date +%s%N) - c0) / 1000000))
	[ $ms -lt 2000 ] || fail "lunarctl took $ms ms while the OSD is paused"
done
for _ in $(seq 300); do
	kill -0 $io 2>/dev/null || break
	sleep 0.1
done
if kill -0 $io 2>/dev/null; then
	kill $io
	fail "the write did not end within 30 s of a paused OSD (timeout=5)"
fi
wait $io || true
secs=$((($(date +%s%N) - t0) / 1000000000))
OUT=$(cat "$T/io.out")
log "write while the OSD is paused: $OUT after ${secs} s"
assert_eq "sense b/3e/02" "$OUT" "write to a paused OSD: ABORTED COMMAND, TIMEOUT ON LOGICAL UNIT"
[ $secs -ge 4 ] || fail "the write failed after ${secs} s, before the 5 s timeout"
assert_contains "$(ctl_ok target show "$IQN")" "pause" "lunarctl shows the LU"

"$LUNAR_ROOT/scripts/ceph-cluster.sh" resume-osd "$CEPH_OWN_DIR" ||
	fail "cannot resume the OSD"
ok=""
for _ in $(seq 30); do
	OUT=$(run_bounded 30 "$TESTBIN/scsi_io" "$URL" write 20 8 d4 2>&1 || true)
	[ "$OUT" = good ] && ok=1 && break
	sleep 1
done
[ -n "$ok" ] || fail "writes did not work again within 30 s of the OSD resuming: $OUT"
assert_ok "read of the data from before the pause" "$TESTBIN/scsi_io" "$URL" read 10 8 c3
assert_eq good "$OUT" "data acknowledged before the pause"
assert_ok "read of the write after the resume" "$TESTBIN/scsi_io" "$URL" read 20 8 d4
assert_eq good "$OUT" "data written after the resume"
lunard_stop
