#!/bin/bash
# ABORT TASK storms (DESIGN.md §9): for 5 s tmf_raw keeps 32 writes and
# reads in flight on LUN 1 and sends an ABORT TASK for most of them and an
# ABORT TASK SET now and then (hundreds of aborts per second), checking
# that each command answers at most once and never after a TMF response
# that covered it, while qemu-img writes and reads back 32 MiB on LUN 2.
# A second storm of 5 s must not grow lunard's memory (no allocation per
# abort that is kept); its 64 KiB reads come in 8 Data-In PDUs each
# (MaxRecvDataSegmentLength 8192), queued together: aborts cut them short
# without a gap in a read's DataSN. The data written around the storms
# reads back intact. A third storm (16 Data-In per read) hits LUN 1 of a
# second target served by the uring store while its LUN 2 (aio) is
# written and read back: aborted commands must not free a buffer the
# kernel still reads or writes. About 30 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-abort-storm
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"
command -v qemu-img >/dev/null || fail "qemu-img is missing (scripts/deps.sh test)"

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((64 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((64 * 1024 * 1024))
random_file "$T/src.raw" 32

storm() { # SECONDS OUT [IQN [MRDSL]]
	run_bounded 90 "$TESTBIN/tmf_raw" storm "127.0.0.1:$PORT" "${3:-$IQN}" \
		"$1" ${4:+"$4"} >"$2" 2>&1
}

# storm_during_roundtrip WHAT OUT IQN: a 5 s storm on LUN 1 of IQN while
# LUN 2 of IQN is written and read back.
storm_during_roundtrip() { # WHAT OUT IQN [MRDSL]
	local rc=0 pid
	storm 5 "$2" "$3" ${4:+"$4"} &
	pid=$!
	EXTRA_PIDS+=("$pid")
	qemu_roundtrip "$T/src.raw" "$(lun_url "$3" 2)"
	wait "$pid" || rc=$?
	cat "$2"
	[ $rc = 0 ] || fail "$1 failed (status $rc)"
	assert_contains "$(cat "$2")" "tmf_raw: ok" "$1 verdict"
	lunard_alive || fail "lunard died during $1"
}

# Warm-up: caches, free lists and buffers reach their working size.
storm 2 "$T/warm.out" || { cat "$T/warm.out"; fail "warm-up storm failed"; }
rss0=$(lunard_rss_kb)

storm_during_roundtrip "storm 1" "$T/storm1.out" "$IQN"
rss1=$(lunard_rss_kb)

storm 5 "$T/storm2.out" "$IQN" 8192 || { cat "$T/storm2.out"; fail "storm 2 failed"; }
cat "$T/storm2.out"
lunard_alive || fail "lunard died during storm 2"
rss2=$(lunard_rss_kb)
log "RSS: ${rss0} KiB after warm-up, ${rss1} KiB after storm 1, ${rss2} KiB after storm 2"
# ASan's quarantine keeps up to 256 MiB of freed memory: under the
# sanitizers only the second storm's growth says something.
if [ "${SANITIZE:-0}" != 1 ]; then
	[ $((rss1 - rss0)) -lt $((96 * 1024)) ] ||
		fail "lunard grew by $((rss1 - rss0)) KiB during storm 1 (limit 96 MiB)"
fi
[ $((rss2 - rss1)) -lt $((16 * 1024)) ] ||
	fail "lunard grew by $((rss2 - rss1)) KiB during storm 2: memory kept per abort? (limit 16 MiB)"
# LUN 2 again, after both storms.
qemu_roundtrip "$T/src.raw" "$(lun_url "$IQN" 2)"

IQN2=$IQN-async
make_target "$IQN2"
add_file_lun "$IQN2" 1 "$T/disk3.img" $((64 * 1024 * 1024)) --bstype uring
add_file_lun "$IQN2" 2 "$T/disk4.img" $((64 * 1024 * 1024)) --bstype aio
storm_during_roundtrip "storm 3 (uring)" "$T/storm3.out" "$IQN2" 4096
qemu_roundtrip "$T/src.raw" "$(lun_url "$IQN2" 1)"
lunard_stop
