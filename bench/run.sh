#!/bin/bash
# make bench: lunard and tgt measured side by side in one run with the same
# client (qemu-img bench through libiscsi), on loopback.
#
# For each target and workload: IOPS (median of RUNS) and the target's CPU
# time per I/O (utime+stime from /proc/PID/stat), which is the fairer figure
# on a 2-core machine where the client itself uses a core.
#
# Then the RBD rows (bench/rbd.sh): lunar's rbd store against `rbd bench`
# and tgt's rbd store on a throwaway Ceph cluster (or CEPH_CONF's).
#
# Env: RUNS (3), COUNT (200000 4K I/Os), BS_DIR (a tmpfs-less scratch dir),
# BENCH=all|file|rbd (which rows; default all); bench/rbd.sh lists its own.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-all}
case $BENCH in
all | file) ;;
rbd) exec bench/rbd.sh ;;
*) echo "BENCH must be all, file or rbd" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
COUNT=${COUNT:-200000}
work=$(mktemp -d /tmp/lunar-bench.XXXXXX)
lport=$((20000 + RANDOM % 5000))
tport=$((lport + 1))
tctl=$((100 + RANDOM % 800))
lpid=""
tpid=""
IQN=iqn.2026-11.org.lunar:bench

cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
	if [ -n "$tpid" ]; then
		kill -9 "$tpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

truncate -s 1G "$work/lunar.img" "$work/tgt.img"
# Pre-fill so reads hit allocated blocks in both files alike.
dd if=/dev/zero of="$work/lunar.img" bs=1M count=1024 conv=notrunc status=none
cp "$work/lunar.img" "$work/tgt.img"

"$BUILD/lunard" --foreground --portal "127.0.0.1:$lport" \
	--control "$work/l.sock" --state-dir "$work/state" \
	--log-level warn 2>"$work/lunard.log" &
lpid=$!
for _ in $(seq 100); do
	"$BUILD/lunarctl" --control "$work/l.sock" system show >/dev/null 2>&1 && break
	sleep 0.1
done
ctl() { "$BUILD/lunarctl" --control "$work/l.sock" "$@" >/dev/null; }
ctl target create "$IQN"
ctl lun create "$IQN" 1 --backing "$work/lunar.img"
ctl lun create "$IQN" 2 --backing null --bstype null --size 1G
ctl acl add "$IQN" ALL

tgtd -f -C "$tctl" --iscsi "portal=127.0.0.1:$tport" >"$work/tgtd.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do
	tgtadm -C "$tctl" --lld iscsi --mode system --op show >/dev/null 2>&1 && break
	sleep 0.1
done
tgtadm -C "$tctl" --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
tgtadm -C "$tctl" --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b "$work/tgt.img"
tgtadm -C "$tctl" --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 -E null -b null1 || true
tgtadm -C "$tctl" --lld iscsi --mode target --op bind --tid 1 -I ALL

# run_one PID PORT LUN SIZE DEPTH COUNT [-w] -> "iops cpu_us_per_io"
run_one() {
	local pid=$1 port=$2 lun=$3 size=$4 depth=$5 count=$6 rw=${7:-}
	local t0 t1 out secs
	t0=$(cpu_ticks "$pid")
	out=$(qemu-img bench -f raw -t none -c "$count" -d "$depth" -s "$size" $rw \
		"iscsi://127.0.0.1:$port/$IQN/$lun" 2>&1)
	t1=$(cpu_ticks "$pid")
	secs=$(echo "$out" | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
	[ -n "$secs" ] || { echo "qemu-img bench failed: $out" >&2; exit 1; }
	awk -v c="$count" -v s="$secs" -v dt="$((t1 - t0))" -v hz="$clk" \
		'BEGIN { printf "%.0f %.1f\n", c / s, dt / hz * 1e6 / c }'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "Files and null LUNs (lunard and tgtd, qemu-img bench on 127.0.0.1):"
printf '%-28s %12s %12s %8s %14s %14s\n' workload "lunar IOPS" "tgt IOPS" ratio \
	"lunar us/IO" "tgt us/IO"
bench() {
	local name=$1 lun=$2 size=$3 depth=$4 count=$5 rw=${6:-}
	local li=() lc=() ti=() tc=()
	for _ in $(seq "$RUNS"); do
		read -r a b < <(run_one "$lpid" "$lport" "$lun" "$size" "$depth" "$count" $rw)
		li+=("$a"); lc+=("$b")
		read -r a b < <(run_one "$tpid" "$tport" "$lun" "$size" "$depth" "$count" $rw)
		ti+=("$a"); tc+=("$b")
	done
	local lm tm lcm tcm
	lm=$(printf '%s\n' "${li[@]}" | median)
	tm=$(printf '%s\n' "${ti[@]}" | median)
	lcm=$(printf '%s\n' "${lc[@]}" | median)
	tcm=$(printf '%s\n' "${tc[@]}" | median)
	printf '%-28s %12s %12s %8.2f %14s %14s\n' "$name" "$lm" "$tm" \
		"$(awk -v a="$lm" -v b="$tm" 'BEGIN{print a/b}')" "$lcm" "$tcm"
}

bench "file 4K QD32 read" 1 4k 32 "$COUNT"
bench "file 4K QD32 write" 1 4k 32 "$COUNT" -w
bench "null 4K QD32 read" 2 4k 32 "$COUNT"
bench "null 4K QD32 write" 2 4k 32 "$COUNT" -w
bench "file 128K QD8 read" 1 128k 8 $((COUNT / 10))
echo "(median of $RUNS runs; ratio = lunar IOPS / tgt IOPS; us/IO = target CPU per I/O)"

[ "$BENCH" = all ] || exit 0
# Stop the file rows' daemons first so that they hold no memory or CPU while
# the RBD rows run.
cleanup 2>/dev/null # quietly: no "Killed" job notice for tgtd
wait 2>/dev/null || true
lpid="" tpid=""
trap - EXIT
exec bench/rbd.sh
