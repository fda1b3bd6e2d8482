#!/bin/bash
# make bench: lunard and tgt measured side by side in one run with the same
# client (qemu-img bench through libiscsi), on loopback.
#
# For each workload, every target configuration runs once per round and the
# rounds interleave (noise from the shared machine hits all alike); the
# table shows medians of RUNS rounds: IOPS, the target's CPU time per I/O
# (utime+stime of the whole process from /proc/PID/stat, its threads
# included: on a 2-core machine where the client uses a core this is the
# fairer figure) and, for QD1, the mean latency (1/IOPS).
#
# Configurations, all on the same kind of backing (a prefilled 1 GiB file
# per configuration, on the same file system):
#   lunar rdwr   pread/pwrite on worker threads, page cache (tgt's model)
#   lunar aio    Linux AIO, O_DIRECT, completions through an eventfd
#   lunar uring  io_uring, O_DIRECT, a ring per event loop
#   lunar uring-b  io_uring through the page cache (--buffered): the store
#                of a file LUN created without --bstype
#   tgt rdwr     tgt's default store (page cache, worker threads)
#   tgt aio      tgt's aio store
#   tgt rdwr cold / sparse  128K read row only, beside the others and in
#                no ratio: tgt's rdwr store on a bad day, its file out of the
#                page cache before each run (prefilled: disk reads; sparse:
#                every read allocates and zeroes pages for holes)
#   lunar null / tgt null   no medium at all: the target's own cost
#   floor        bench/floor.c: answers every command from a canned buffer
#                with no SCSI logic; what the kernel's sockets and the
#                client cost, below which no target gets (null rows)
# Scaling: a lunard with 1 reactor against one with 2 (--threads), null
# LUN, 2 qemu-img bench clients at once (2 connections), total IOPS and CPU
# per I/O.
# Sessions (bench/sessions.c, raw logins): memory per idle session with
# 1,000 held (VmRSS while holding minus before, / 1,000), the time of
# 4,000 logins at once (a gateway failover), and 10,000 sessions on lunard,
# each answering a READ.
# Metrics: null LUN, 4K QD32 read, a lunard serving --metrics (counting
# on, as by default) against one with --no-stats (nothing counted): the
# CPU per I/O of both and their ratio, what the statistics cost.
# Ratios: the best lunar file store against each tgt file store (IOPS, and
# CPU per I/O: lower is better), and null against null.
#
# Then the RBD rows (bench/rbd.sh): lunar's rbd store against `rbd bench`
# and tgt's rbd store on a throwaway Ceph cluster (or CEPH_CONF's).
#
# Env: RUNS (3), COUNT (200000 4K QD32 I/Os per run; 128K and QD1 rows use
# a tenth), BENCH=all|file|rbd (which rows; default all), ROWS (file rows:
# "4k 128k qd1 null scaling sessions metrics"); bench/rbd.sh lists its own.
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
ROWS=${ROWS:-4k 128k qd1 null scaling sessions metrics}
for tool in sessions floor; do
	[ -x "$BUILD/bench/$tool" ] || {
		echo "bench: $BUILD/bench/$tool is missing; run make bench" >&2
		exit 1
	}
done
# Thousands of sessions need as many descriptors, in every daemon here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /var/tmp/lunar-bench.XXXXXX)
lpid=""
tpid=""
fpid=""
extra_pids=()
IQN=iqn.2026-11.org.lunar:bench

cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null || true
	[ ${#extra_pids[@]} = 0 ] || kill "${extra_pids[@]}" 2>/dev/null || true
	if [ -n "$tpid" ]; then
		kill -9 "$tpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
lport=$(free_port)
tport=$(free_port)
while [ "$tport" = "$lport" ]; do tport=$(free_port); done
fport=$(free_port)
while [ "$fport" = "$lport" ] || [ "$fport" = "$tport" ]; do fport=$(free_port); done

# Prefilled with data (not zeros from a sparse file), so that every store
# reads allocated blocks; a file per configuration, so that one store's
# O_DIRECT writes do not drop the page cache another one reads from (what
# ran before must not decide a row). Plus a sparse one for the unhealthy
# peer configuration of the 128K read row.
# Only rows that read the files pay for them: ROWS of null LUNs alone
# (null, scaling, metrics) get sparse stand-ins for the LUs created below.
files="a prefilled 1 GiB file per configuration"
case " $ROWS " in
*" 4k "* | *" 128k "* | *" qd1 "* | *" sessions "*)
	head -c $((1024 * 1024 * 1024)) /dev/urandom >"$work/lunar-rdwr.img" 2>/dev/null ||
		dd if=/dev/urandom of="$work/lunar-rdwr.img" bs=1M count=1024 status=none
	for f in lunar-aio lunar-uring lunar-uringb tgt-rdwr tgt-aio tgt-cold; do
		cp "$work/lunar-rdwr.img" "$work/$f.img"
	done
	;;
*)
	for f in lunar-rdwr lunar-aio lunar-uring lunar-uringb tgt-rdwr tgt-aio tgt-cold; do
		truncate -s 1G "$work/$f.img"
	done
	files="no file rows (null LUNs only)"
	;;
esac
truncate -s 1G "$work/tgt-sparse.img"
sync

# drop_cache FILE: its pages leave the page cache (the next reads go to the
# disk, or for holes allocate and zero pages again).
drop_cache() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}

cp "$BUILD/lunard" "$BUILD/lunarctl" "$work/"
"$work/lunard" --foreground --portal "127.0.0.1:$lport" \
	--control "$work/l.sock" --state-dir "$work/state" \
	--log-level warn 2>"$work/lunard.log" &
lpid=$!
for _ in $(seq 100); do
	"$work/lunarctl" --control "$work/l.sock" system show >/dev/null 2>&1 && break
	sleep 0.1
done
ctl() { "$work/lunarctl" --control "$work/l.sock" "$@" >/dev/null; }
ctl target create "$IQN"
ctl lun create "$IQN" 1 --backing "$work/lunar-rdwr.img" --bstype rdwr
ctl lun create "$IQN" 2 --backing "$work/lunar-aio.img" --bstype aio
ctl lun create "$IQN" 3 --backing "$work/lunar-uring.img" --bstype uring
ctl lun create "$IQN" 4 --backing null --bstype null --size 1G
ctl lun create "$IQN" 5 --backing "$work/lunar-uringb.img" --bstype uring --buffered
ctl acl add "$IQN" ALL

for _ in $(seq 50); do
	tctl=$((100 + RANDOM % 800))
	tgtadm -C "$tctl" --mode system --op show >/dev/null 2>&1 || break
done
tgtd -f -C "$tctl" --iscsi "portal=127.0.0.1:$tport" >"$work/tgtd.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do
	tgtadm -C "$tctl" --lld iscsi --mode system --op show >/dev/null 2>&1 && break
	sleep 0.1
done
tgta() { tgtadm -C "$tctl" --lld iscsi "$@"; }
tgta --mode target --op new --tid 1 --targetname "$IQN"
tgta --mode logicalunit --op new --tid 1 --lun 1 -b "$work/tgt-rdwr.img"
tgta --mode logicalunit --op new --tid 1 --lun 2 -b "$work/tgt-aio.img" --bstype aio
tgta --mode logicalunit --op new --tid 1 --lun 3 -E null -b null1 --bstype null
tgta --mode logicalunit --op new --tid 1 --lun 4 -b "$work/tgt-cold.img"
tgta --mode logicalunit --op new --tid 1 --lun 5 -b "$work/tgt-sparse.img"
tgta --mode target --op bind --tid 1 -I ALL

"$BUILD/bench/floor" "127.0.0.1:$fport" 2>"$work/floor.log" &
fpid=$!

# run_one PID PORT LUN SIZE DEPTH COUNT [-w] -> "iops cpu_us_per_io"
run_one() {
	local pid=$1 port=$2 lun=$3 size=$4 depth=$5 count=$6 rw=${7:-}
	local t0 t1 out secs
	t0=$(cpu_ticks "$pid")
	out=$(qemu-img bench -f raw -t none -c "$count" -d "$depth" -s "$size" $rw \
		"iscsi://127.0.0.1:$port/$IQN/$lun" 2>&1)
	t1=$(cpu_ticks "$pid")
	secs=$(echo "$out" | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
	[ -n "$secs" ] || { echo "qemu-img bench against $port LUN $lun failed: $out" >&2; exit 1; }
	awk -v c="$count" -v s="$secs" -v dt="$((t1 - t0))" -v hz="$clk" \
		'BEGIN { printf "%.0f %.1f\n", c / s, dt / hz * 1e6 / c }'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Target configurations: "label|pid var|port var|lun[|command run before
# each measurement]".
FILE_CFGS=("lunar rdwr|lpid|lport|1" "lunar aio|lpid|lport|2" "lunar uring|lpid|lport|3" "lunar uring-b|lpid|lport|5"
	"tgt rdwr|tpid|tport|1" "tgt aio|tpid|tport|2")
# A peer on a bad day, shown beside the healthy one and in no ratio: tgt's
# rdwr store reading a file that is not in the page cache (prefilled: the
# reads go to the disk; sparse: every read allocates and zeroes page-cache
# pages for holes), as after a restart, after another store's O_DIRECT
# writes to the same file dropped its pages, or on a freshly created LUN.
UNHEALTHY_CFGS=("tgt rdwr cold|tpid|tport|4|drop_cache \"\$work/tgt-cold.img\""
	"tgt rdwr sparse|tpid|tport|5|drop_cache \"\$work/tgt-sparse.img\"")
NULL_CFGS=("lunar null|lpid|lport|4" "tgt null|tpid|tport|3" "floor|fpid|fport|1")

echo "Files and null LUNs: lunard $(git describe --always --dirty 2>/dev/null || echo '?') and tgtd $(tgtd --version 2>/dev/null | head -1 || echo '?'),"
echo "qemu-img bench (libiscsi) on 127.0.0.1, $RUNS interleaved rounds, medians; $files"
declare -A IOPS CPU
# measure NAME SIZE DEPTH COUNT RW CFG...: fills IOPS[NAME|label], CPU[...]
measure() {
	local name=$1 size=$2 depth=$3 count=$4 rw=$5
	shift 5
	local -A is=() cs=()
	local c label pv portv lun prep a b
	for _ in $(seq "$RUNS"); do
		for c in "$@"; do
			IFS='|' read -r label pv portv lun prep <<<"$c"
			[ -z "$prep" ] || eval "$prep"
			read -r a b < <(run_one "${!pv}" "${!portv}" "$lun" "$size" "$depth" "$count" $rw)
			is[$label]+="$a "
			cs[$label]+="$b "
		done
	done
	printf '\n%s\n' "$name"
	printf '  %-14s %10s %10s %10s\n' target IOPS "CPU us/IO" "latency us"
	for c in "$@"; do
		IFS='|' read -r label _ <<<"$c"
		IOPS[$name|$label]=$(printf '%s\n' ${is[$label]} | median)
		CPU[$name|$label]=$(printf '%s\n' ${cs[$label]} | median)
		printf '  %-14s %10s %10s %10s\n' "$label" "${IOPS[$name|$label]}" "${CPU[$name|$label]}" \
			"$(awk -v i="${IOPS[$name|$label]}" -v d="$depth" 'BEGIN { printf "%.0f", d * 1e6 / i }')"
	done
}

# best NAME: the lunar file store with the most IOPS in row NAME.
best() {
	local s b="" bi=0
	for s in rdwr aio uring uring-b; do
		if awk -v a="${IOPS[$1|lunar $s]}" -v b="$bi" 'BEGIN { exit !(a > b) }'; then
			b=$s
			bi=${IOPS[$1|lunar $s]}
		fi
	done
	echo "$b"
}

SUMMARY=()
summarize() { # NAME
	local b t
	b=$(best "$1")
	for t in rdwr aio; do
		SUMMARY+=("$(printf '  %-24s lunar %-7s / tgt %-4s  IOPS %5s  CPU/IO %5s  latency %5s' "$1" "$b" "$t" \
			"$(ratio "${IOPS[$1|lunar $b]}" "${IOPS[$1|tgt $t]}")" \
			"$(ratio "${CPU[$1|lunar $b]}" "${CPU[$1|tgt $t]}")" \
			"$(ratio "${IOPS[$1|tgt $t]}" "${IOPS[$1|lunar $b]}")")")
	done
}

# Warm-up, off the record: first logins, page cache of the rdwr files.
for c in "${FILE_CFGS[@]}" "${NULL_CFGS[@]}"; do
	IFS='|' read -r label pv portv lun <<<"$c"
	run_one "${!pv}" "${!portv}" "$lun" 1M 8 1024 >/dev/null
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# hold_rss PID PORT N -> KiB of the target's RSS per session with N held
hold_rss() {
	local pid=$1 port=$2 n=$3 r0 r1 out
	r0=$(rss_kb "$pid")
	out=$work/hold.out
	# Emptied here, not by the redirection in the child: the wait below
	# must not find the previous run's "holding".
	: >"$out"
	"$BUILD/bench/sessions" "127.0.0.1:$port" "$IQN" "$n" --hold 4 --no-read \
		>"$out" 2>&1 &
	local sp=$!
	for _ in $(seq 600); do
		grep -q holding "$out" && break
		kill -0 "$sp" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	r1=$(rss_kb "$pid")
	wait "$sp" || { echo "bench/sessions $n against $port failed: $(cat "$out")" >&2; exit 1; }
	awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN { printf "%.1f\n", (b - a) / n }'
}

# login_time PORT N -> seconds for N logins at once
login_time() {
	local out
	out=$("$BUILD/bench/sessions" "127.0.0.1:$1" "$IQN" "$2" --no-read 2>&1) ||
		{ echo "bench/sessions $2 logins against $1 failed: $out" >&2; exit 1; }
	echo "$out" | sed -n 's/^logins: [0-9]* in \([0-9.]*\) s.*/\1/p'
}

# extra_lunard NAME PORT IQN [lunard options] -- [lun create options]:
# another lunard (control $work/NAME.sock) serving LUN 1 of IQN to all;
# sets EXTRA_PID.
extra_lunard() {
	local name=$1 port=$2 iqn=$3 lopts=() c
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do lopts+=("$1"); shift; done
	shift
	rm -rf "$work/state-$name"
	"$work/lunard" --foreground --portal "127.0.0.1:$port" "${lopts[@]}" \
		--control "$work/$name.sock" --state-dir "$work/state-$name" \
		--log-level warn 2>>"$work/lunard-$name.log" &
	EXTRA_PID=$!
	extra_pids+=("$EXTRA_PID")
	c=("$work/lunarctl" --control "$work/$name.sock")
	for _ in $(seq 100); do
		"${c[@]}" system show >/dev/null 2>&1 && break
		sleep 0.1
	done
	"${c[@]}" target create "$iqn" >/dev/null
	"${c[@]}" lun create "$iqn" 1 "$@" >/dev/null
	"${c[@]}" acl add "$iqn" ALL >/dev/null
}

# scaling_run PID PORT RW -> "total_iops cpu_us_per_io" for 2 clients at once
scaling_run() {
	local pid=$1 port=$2 rw=$3 t0 t1 s1 s2 n=$((COUNT / 2))
	local -a args=(-f raw -t none -c "$n" -d 32 -s 4k)
	[ "$rw" = read ] || args+=(-w)
	t0=$(cpu_ticks "$pid")
	qemu-img bench "${args[@]}" "iscsi://127.0.0.1:$port/$IQN-scale/1" >"$work/s1" 2>&1 &
	local c1=$!
	qemu-img bench "${args[@]}" "iscsi://127.0.0.1:$port/$IQN-scale/1" >"$work/s2" 2>&1 &
	local c2=$!
	wait "$c1" "$c2" || { echo "scaling: qemu-img bench failed: $(cat "$work/s1" "$work/s2")" >&2; exit 1; }
	t1=$(cpu_ticks "$pid")
	s1=$(sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p' "$work/s1")
	s2=$(sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p' "$work/s2")
	awk -v n="$n" -v a="$s1" -v b="$s2" -v dt="$((t1 - t0))" -v hz="$clk" \
		'BEGIN { printf "%.0f %.1f\n", n / a + n / b, dt / hz * 1e6 / (2 * n) }'
}

scaling_rows() {
	local t pids=() ports=() i rw
	for t in 1 2; do
		local p
		p=$(free_port)
		extra_lunard "s$t" "$p" "$IQN-scale" --threads "$t" -- \
			--bstype null --backing null --size 1G
		pids+=("$EXTRA_PID")
		ports+=("$p")
	done
	printf '\nScaling: null LUN, 4K QD32, 2 clients at once (a connection each)\n'
	printf '  %-10s %-12s %10s %10s\n' "" reactors "IOPS" "CPU us/IO"
	for rw in read write; do
		local -A si=() sc=()
		for _ in $(seq "$RUNS"); do
			for i in 0 1; do
				read -r a b < <(scaling_run "${pids[$i]}" "${ports[$i]}" "$rw")
				si[$i]+="$a "
				sc[$i]+="$b "
			done
		done
		for i in 0 1; do
			printf '  %-10s %-12s %10s %10s\n' "$rw" "$((i + 1))" \
				"$(printf '%s\n' ${si[$i]} | median)" "$(printf '%s\n' ${sc[$i]} | median)"
		done
	done
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}

# fresh_rss lunar|tgt N -> KiB per idle session with N held, on a daemon
# started for it (memory freed by the rows before would hide the cost).
fresh_rss() {
	local who=$1 n=$2 p pid c r
	p=$(free_port)
	if [ "$who" = lunar ]; then
		extra_lunard m "$p" "$IQN" -- --backing "$work/lunar-rdwr.img"
		pid=$EXTRA_PID
	else
		for _ in $(seq 50); do
			c=$((100 + RANDOM % 800))
			tgtadm -C "$c" --mode system --op show >/dev/null 2>&1 || break
		done
		tgtd -f -C "$c" --iscsi "portal=127.0.0.1:$p" >>"$work/tgtd-m.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			tgtadm -C "$c" --lld iscsi --mode system --op show >/dev/null 2>&1 && break
			sleep 0.1
		done
		tgtadm -C "$c" --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
		tgtadm -C "$c" --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b "$work/tgt-rdwr.img"
		tgtadm -C "$c" --lld iscsi --mode target --op bind --tid 1 -I ALL
	fi
	r=$(hold_rss "$pid" "$p" "$n")
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$r"
}

sessions_rows() {
	local lm=() tm=() ll=() tl=() a
	for _ in $(seq "$RUNS"); do
		lm+=("$(fresh_rss lunar 1000)")
		tm+=("$(fresh_rss tgt 1000)")
		ll+=("$(login_time "$lport" 4000)")
		tl+=("$(login_time "$tport" 4000)")
	done
	local lmm tmm llm tlm
	lmm=$(printf '%s\n' "${lm[@]}" | median)
	tmm=$(printf '%s\n' "${tm[@]}" | median)
	llm=$(printf '%s\n' "${ll[@]}" | median)
	tlm=$(printf '%s\n' "${tl[@]}" | median)
	printf '\nSessions (bench/sessions, raw iSCSI logins)\n'
	printf '  %-36s %10s %10s\n' "" lunar tgt
	printf '  %-36s %10s %10s\n' "KiB per idle session, 1,000 held" "$lmm" "$tmm"
	printf '  %-36s %10s %10s\n' "seconds for 4,000 logins at once" "$llm" "$tlm"
	SUMMARY+=("$(printf '  %-24s lunar / tgt: memory per session %5s, time of 4,000 logins %5s' sessions \
		"$(ratio "$lmm" "$tmm")" "$(ratio "$llm" "$tlm")")")
	a=$("$BUILD/bench/sessions" "127.0.0.1:$lport" "$IQN" 10000 2>&1 | grep -E '^(logins|reads):' | tr '\n' ' ') ||
		a="FAILED: $a"
	printf '  10,000 sessions on lunar: %s\n' "$a"
}

# Two lunards with a null LUN 1 of $IQN: metrics on (--metrics, counting)
# and off (--no-stats), measured interleaved like every row.
metrics_rows() {
	local mport n=null-4K-QD32-read scraped
	mon_port=$(free_port)
	mport=$(free_port)
	extra_lunard mon "$mon_port" "$IQN" --metrics "127.0.0.1:$mport" -- \
		--bstype null --backing null --size 1G
	mon_pid=$EXTRA_PID
	moff_port=$(free_port)
	extra_lunard moff "$moff_port" "$IQN" --no-stats -- \
		--bstype null --backing null --size 1G
	moff_pid=$EXTRA_PID
	n="Metrics: null 4K QD32 read"
	measure "$n" 4k 32 "$COUNT" "" "metrics on|mon_pid|mon_port|1" \
		"metrics off|moff_pid|moff_port|1"
	scraped=$(curl -sS --max-time 10 "http://127.0.0.1:$mport/metrics" |
		awk -F'} ' '/^lunar_scsi_commands_total\{.*op="read"/ {print $2}')
	printf '  (scraped after the runs: lunar_scsi_commands_total{op="read"} %s)\n' "${scraped:-none}"
	SUMMARY+=("$(printf '  %-24s metrics on / off  IOPS %5s  CPU/IO %5s  (CPU us per I/O %s vs %s)' "null 4K QD32 read" \
		"$(ratio "${IOPS[$n|metrics on]}" "${IOPS[$n|metrics off]}")" \
		"$(ratio "${CPU[$n|metrics on]}" "${CPU[$n|metrics off]}")" \
		"${CPU[$n|metrics on]}" "${CPU[$n|metrics off]}")")
	kill "$mon_pid" "$moff_pid" 2>/dev/null || true
	wait "$mon_pid" "$moff_pid" 2>/dev/null || true
}

for g in $ROWS; do
	case $g in
	4k)
		measure "4K QD32 read" 4k 32 "$COUNT" "" "${FILE_CFGS[@]}"
		summarize "4K QD32 read"
		measure "4K QD32 write" 4k 32 "$COUNT" -w "${FILE_CFGS[@]}"
		summarize "4K QD32 write"
		;;
	128k)
		measure "128K QD8 read" 128k 8 $((COUNT / 10)) "" "${FILE_CFGS[@]}" "${UNHEALTHY_CFGS[@]}"
		summarize "128K QD8 read"
		for u in "tgt rdwr cold" "tgt rdwr sparse"; do
			SUMMARY+=("$(printf '  %-24s %-15s / tgt rdwr  IOPS %5s  CPU/IO %5s  (the peer on a bad day; no lunar ratio uses it)' \
				"128K QD8 read" "$u" "$(ratio "${IOPS[128K QD8 read|$u]}" "${IOPS[128K QD8 read|tgt rdwr]}")" \
				"$(ratio "${CPU[128K QD8 read|$u]}" "${CPU[128K QD8 read|tgt rdwr]}")")")
		done
		measure "128K QD8 write" 128k 8 $((COUNT / 10)) -w "${FILE_CFGS[@]}"
		summarize "128K QD8 write"
		;;
	qd1)
		measure "4K QD1 read" 4k 1 $((COUNT / 10)) "" "${FILE_CFGS[@]}"
		summarize "4K QD1 read"
		measure "4K QD1 write" 4k 1 $((COUNT / 10)) -w "${FILE_CFGS[@]}"
		summarize "4K QD1 write"
		;;
	null)
		for rw in read write; do
			n="null 4K QD32 $rw"
			measure "$n" 4k 32 "$COUNT" "$([ $rw = write ] && echo -w)" "${NULL_CFGS[@]}"
			SUMMARY+=("$(printf '  %-24s lunar null    / tgt null  IOPS %5s  CPU/IO %5s' "$n" \
				"$(ratio "${IOPS[$n|lunar null]}" "${IOPS[$n|tgt null]}")" \
				"$(ratio "${CPU[$n|lunar null]}" "${CPU[$n|tgt null]}")")")
			SUMMARY+=("$(printf '  %-24s lunar null    / floor               CPU/IO %5s' "$n" \
				"$(ratio "${CPU[$n|lunar null]}" "${CPU[$n|floor]}")")")
		done
		;;
	scaling) scaling_rows ;;
	sessions) sessions_rows ;;
	metrics) metrics_rows ;;
	*) echo "unknown ROWS group '$g' (4k 128k qd1 null scaling sessions metrics)" >&2; exit 2 ;;
	esac
done
echo
echo "Ratios (lunar's best file store in each row; IOPS: higher is better for lunar;"
echo "CPU/IO and latency: lower is better for lunar):"
printf '%s\n' "${SUMMARY[@]}"

[ "$BENCH" = all ] || exit 0
# Stop the file rows' daemons first so that they hold no memory or CPU while
# the RBD rows run.
cleanup 2>/dev/null # quietly: no "Killed" job notice for tgtd
wait 2>/dev/null || true
lpid="" tpid=""
trap - EXIT
exec bench/rbd.sh
