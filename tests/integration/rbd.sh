#!/bin/bash
# The rbd backing store against a real (throwaway) Ceph cluster: a LUN
# creates its image when missing and a size is given, and serves data
# that round-trips; `rbd resize` by another client reaches the initiator
# as CAPACITY DATA HAS CHANGED and a new READ CAPACITY at once; two
# gateways serving one image present one disk (VPD 80h/83h from the
# image, not from the target name) and COMPARE AND WRITE is atomic across
# them (the OSD compares); bad backings and options are refused with the
# reason; the LU and its options survive config save and a restart; the
# tgtadm form --bstype rbd --bsopts works.
. "$(dirname "$0")/lib.sh"

ceph_cluster
IQN=iqn.2026-12.org.lunar:it-rbd
IMG=rbd/it-rbd-$$
MiB=$((1024 * 1024))
OPTS="conf=$CEPH_CONF;timeout=20"

lunard_start --config "$T/lunar.json"
make_target "$IQN"

# ---- refusals, each naming the problem ----
ctl_fails lun create "$IQN" 1 --bstype rbd --backing "$IMG"
assert_contains "$CTL_OUT" "does not exist" "missing image without --size"
ctl_fails lun create "$IQN" 1 --bstype rbd --backing nosuchpool/x --size 1M
assert_contains "$CTL_OUT" "pool 'nosuchpool'" "missing pool"
ctl_fails lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 64M \
	--bs-opts 'bogus=1'
assert_contains "$CTL_OUT" "unknown rbd option 'bogus'" "unknown option"
ctl_fails lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 64M \
	--bs-opts 'timeout=1'
assert_contains "$CTL_OUT" "timeout=1" "too short a timeout"
ctl_fails lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 64M \
	--bs-opts "conf=$T/missing.conf"
assert_contains "$CTL_OUT" "$T/missing.conf" "unreadable cluster config"
ctl_fails lun create "$IQN" 1 --bstype rbd --backing a/b/c --size 64M
assert_contains "$CTL_OUT" "POOL/IMAGE" "malformed backing"
ctl_fails lun create "$IQN" 1 --backing "$T/f.img" --size 1M --bs-opts x=y
assert_contains "$CTL_OUT" "takes no options" "options for rdwr"
if rbd info "$IMG" >/dev/null 2>&1; then
	fail "a refused lun create left image $IMG behind"
fi

# ---- create, data ----
OUT=$(ctl_ok lun create "$IQN" 1 --bstype rbd --backing "$IMG" --size 64M \
	--bs-opts "$OPTS")
assert_contains "$OUT" "64.0 MiB" "lun create reports the size"
assert_contains "$(rbd info "$IMG")" "size 64 MiB" "the image was created"
OUT=$(ctl_ok target show "$IQN")
assert_contains "$OUT" "$IMG (rbd '$OPTS'" "target show names store and options"
URL=$(lun_url "$IQN" 1)
random_file "$T/data" 8
qemu_roundtrip "$T/data" "$URL"
assert_ok "SYNCHRONIZE CACHE" "$TESTBIN/scsi_io" "$URL" sync
assert_eq good "$OUT" "SYNCHRONIZE CACHE"
# The last block, and one past it (librbd would clip silently).
last=$((64 * MiB / 512 - 1))
assert_ok "write of the last block" "$TESTBIN/scsi_io" "$URL" write $last 1 5a
assert_eq good "$OUT" "write of the last block"
assert_ok "write across the end" "$TESTBIN/scsi_io" "$URL" write $last 2 5a
assert_eq "sense 5/21/00" "$OUT" "write across the end: LBA OUT OF RANGE"

# ---- a resize by another client ----
coproc WATCH { run_bounded 120 "$TESTBIN/resize_watch" "$URL"; }
read -r -t 30 -u "${WATCH[0]}" line || fail "resize_watch did not log in"
assert_eq "ready $((64 * MiB))" "$line" "capacity before the resize"
assert_ok "rbd resize" rbd resize --size 96M "$IMG"
got=""
for _ in $(seq 50); do
	echo check >&"${WATCH[1]}"
	read -r -t 30 -u "${WATCH[0]}" ua || fail "resize_watch did not answer"
	read -r -t 30 -u "${WATCH[0]}" cap || fail "resize_watch did not answer"
	[ "$ua" = "ua 2a/09" ] && got=$cap && break
	sleep 0.1
done
assert_eq "capacity $((96 * MiB))" "$got" \
	"CAPACITY DATA HAS CHANGED, then the new size, after rbd resize"
echo quit >&"${WATCH[1]}"
wait "$WATCH_PID" || fail "resize_watch exited $?"
assert_contains "$(ctl_ok target show "$IQN")" "96.0 MiB" "lunarctl sees the new size"
# lunarctl resizes the image itself.
ctl_ok lun resize "$IQN" 1 128M >/dev/null
assert_contains "$(rbd info "$IMG")" "size 128 MiB" "lun resize grew the image"

# ---- a second gateway on the same image: one disk ----
URL1=$URL
daemon_use 2
lunard_start
make_target "$IQN-b"
ctl_ok lun create "$IQN-b" 3 --bstype rbd --backing "$IMG" --bs-opts "$OPTS" >/dev/null
URL2=$(lun_url "$IQN-b" 3)
a=$(lu_ids "$URL1")
b=$(lu_ids "$URL2")
[ "$(grep -c . <<<"$a")" -ge 3 ] || fail "VPD 80h/83h through gateway 1 lack the LU's identifiers: $a"
assert_eq "$a" "$b" "the LU's serial and designators (VPD 80h, 83h) through both gateways"
# Written through one gateway, read through the other.
assert_ok "write via gateway 1" "$TESTBIN/scsi_io" "$URL1" write 100 8 a1
assert_ok "read via gateway 2" "$TESTBIN/scsi_io" "$URL2" read 100 8 a1
assert_eq good "$OUT" "gateway 2 reads what gateway 1 wrote"
# COMPARE AND WRITE: the OSD compares, so only one of two racing
# exchanges of the same old value wins, whichever gateway it comes from.
assert_ok "CAW set-up" "$TESTBIN/scsi_io" "$URL1" write 200 1 00
for round in 1 2 3 4 5; do
	old=$(printf '%02x' $((round - 1)))
	new=$(printf '%02x' "$round")
	"$TESTBIN/scsi_io" "$URL1" caw 200 "$old" "$new" >"$T/caw1" &
	p1=$!
	"$TESTBIN/scsi_io" "$URL2" caw 200 "$old" "$new" >"$T/caw2" &
	p2=$!
	wait $p1 || fail "scsi_io via gateway 1 failed"
	wait $p2 || fail "scsi_io via gateway 2 failed"
	res=$(sort "$T/caw1" "$T/caw2" | tr '\n' ' ')
	assert_eq "good miscompare " "$res" "round $round: two racing COMPARE AND WRITEs"
done
assert_ok "read after the CAW rounds" "$TESTBIN/scsi_io" "$URL2" read 200 1 05
assert_eq good "$OUT" "the block after five CAW rounds"
daemon_use 1

# ---- config save and restart ----
ctl_ok config save >/dev/null
lunard_stop
lunard_start --config "$T/lunar.json"
OUT=$(ctl_ok target show "$IQN")
assert_contains "$OUT" "$IMG (rbd '$OPTS', 128.0 MiB" "the LU after a restart"
assert_ok "read after the restart" "$TESTBIN/scsi_io" "$URL1" read 100 8 a1
assert_eq good "$OUT" "data after the restart"

# ---- the tgtadm form ----
assert_ok "rbd create" rbd create --size 16M "$IMG-t"
OUT=$(ctl_ok target create "$IQN-tgt")
tid=$(sed -n 's/.*(tid \([0-9]*\)).*/\1/p' <<<"$OUT")
ctl_ok --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 \
	--bstype rbd --backing-store "$IMG-t" --bsopts "$OPTS" >/dev/null
assert_contains "$(ctl_ok target show "$IQN-tgt")" "$IMG-t (rbd '$OPTS', 16.0 MiB" \
	"tgtadm --bstype rbd --bsopts"

lunard_stop
daemon_use 2
lunard_stop
rbd rm "$IMG" >/dev/null 2>&1 || true
rbd rm "$IMG-t" >/dev/null 2>&1 || true
