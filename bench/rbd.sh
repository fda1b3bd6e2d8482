#!/bin/bash
# The RBD rows of make bench (issue 12): lunar's rbd backing store against
# `rbd bench` (librbd alone, no iSCSI) and against tgt's own rbd store
# (Debian tgt-rbd, --bstype rbd), in one run, on one prefilled image.
# bench/run.sh calls this after its file rows; it also runs alone.
#
# Goal (issue 12): lunar's 4 KiB QD32 read and write IOPS >= 90 % of rbd bench
# measured in the same run, and >= 1.5x tgt's rbd store.
#
# How it is fair:
#   - Same client for both targets: qemu-img bench through libiscsi, as in
#     the file rows. rbd bench gets the same I/O size, depth, count and
#     offset pattern (see WORKLOADS).
#   - One image for all three. lunard and tgtd keep it open side by side
#     (only one target is logged in to at a time); rbd bench opens it per
#     run. The same image means the same objects, PGs, object-map state and
#     data for everyone; with exclusive-lock the lock moves to whoever writes
#     first in a run (a cooperative handover of a few ms, paid alike by all
#     three once per write run). A second image would double the memstore
#     RAM and prefill time and still differ in object placement.
#   - librbd's cache is off for all three: lunar always turns it off (an
#     acknowledged write must be on the OSDs), rbd bench gets --rbd-cache=false
#     and tgtd CEPH_ARGS=--rbd-cache=false (checked through tgtd's librbd
#     admin socket). With the cache on, rbd bench's flush at start switches
#     librbd to write-back and 4K writes are acknowledged from RAM.
#   - Interleaved: each round runs rbd bench, lunar, tgt for the workload in
#     turn, so noise from the shared machine hits all three alike; medians of
#     RUNS rounds.
#   - The OSD shares the 2 cores: a target that burns more CPU per I/O
#     slows the OSD it waits for, so target CPU per I/O (utime+stime of the
#     whole process, librbd threads included) is reported next to IOPS.
#
# Env: RUNS (3); RBD_COUNT 4K QD32 I/Os per run (40000; the 32-stream rows
# use a quarter, 128K a tenth, QD1 a fortieth; 500 at least); RBD_ROWS rows
# (default "seq4k streams4k seq128k qd1"); TGT_IOTHREADS (tgtd -t, default
# tgt's own: 16 per LU); CEPH_CONF an existing cluster to use instead of a
# throwaway one (an image is created in RBD_POOL, default rbd, and removed
# at the end); RBD_KEEP=1 keeps the work directory (logs) for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
RBD_COUNT=${RBD_COUNT:-40000}
RBD_ROWS=${RBD_ROWS:-seq4k streams4k seq128k qd1}
RBD_POOL=${RBD_POOL:-rbd}
TGT_IOTHREADS=${TGT_IOTHREADS:-}
IMG_SIZE=$((1024 * 1024 * 1024))
IQN=iqn.2026-11.org.lunar:bench-rbd

for c in rbd qemu-img tgtd tgtadm ceph python3; do
	command -v "$c" >/dev/null || {
		echo "rbd bench: $c is missing (scripts/deps.sh bench)" >&2
		exit 1
	}
done
[ -e /usr/lib/tgt/backing-store/bs_rbd.so ] || {
	echo "rbd bench: tgt's rbd store is missing (apt-get install tgt-rbd)" >&2
	exit 1
}

work=$(mktemp -d /tmp/lunar-bench-rbd.XXXXXX)
own_cluster=""
image=""
lpid=""
tpid=""
tctl=""
osd_pid=""

say() { printf 'rbd bench: %s\n' "$*" >&2; }

cleanup() {
	local rc=$?
	set +e
	if [ -n "$lpid" ]; then
		kill -TERM "$lpid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$lpid" 2>/dev/null
		wait "$lpid" 2>/dev/null
	fi
	if [ -n "$tpid" ]; then
		# tgtd ignores SIGTERM; deleting the LU first closes the image
		# (and its watch) cleanly, so that rbd rm below finds no watcher.
		timeout 20 tgtadm -C "$tctl" --lld iscsi --mode logicalunit --op delete \
			--tid 1 --lun 1 >/dev/null 2>&1
		kill -KILL "$tpid" 2>/dev/null
		wait "$tpid" 2>/dev/null
	fi
	if [ -n "$own_cluster" ]; then
		scripts/ceph-cluster.sh stop "$work/ceph" --purge 2>>"$work/ceph.log" ||
			say "stopping the throwaway cluster failed; see $work/ceph.log"
	elif [ -n "$image" ]; then
		# A watch of a client that just went away lingers until the
		# OSD's watch timeout (osd_client_watch_timeout, 30 s by
		# default); rbd rm refuses until then.
		local gone=""
		for _ in $(seq 30); do
			if timeout 60 rbd rm --no-progress "$image" >"$work/rm.log" 2>&1; then
				gone=1
				break
			fi
			grep -q watchers "$work/rm.log" || break
			sleep 2
		done
		[ -n "$gone" ] || say "could not remove image $image ($(tail -n 1 "$work/rm.log")); remove it with: rbd rm $image"
	fi
	if [ "${RBD_KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
		say "logs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- the cluster and the image ----
load_start=$(load)
if [ -n "${CEPH_CONF:-}" ]; then
	say "using the cluster of CEPH_CONF=$CEPH_CONF"
	export CEPH_CONF
else
	say "starting a throwaway Ceph cluster (memstore, 127.0.0.1) in $work/ceph"
	own_cluster=1
	out=$(scripts/ceph-cluster.sh start "$work/ceph" 2>"$work/ceph.log") || {
		cat "$work/ceph.log" >&2
		exit 1
	}
	export "${out?}"
	read -r osd_pid <"$work/ceph/run/osd.0.pid" || osd_pid=""
	[ -n "$osd_pid" ] && [ "$(cat "/proc/$osd_pid/comm" 2>/dev/null)" = ceph-osd ] || osd_pid=""
fi
image=$RBD_POOL/lunar-bench-$$
rbd create --size "$IMG_SIZE"B "$image"
t0=$(date +%s.%N)
rbd bench --io-type write --io-size 4M --io-pattern seq --io-total "$IMG_SIZE"B \
	"$image" >"$work/prefill.log" 2>&1 || {
	cat "$work/prefill.log" >&2
	exit 1
}
say "image $image (1 GiB) prefilled in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"

# ---- the two targets, both serving the image as LUN 1 ----
# Copies, so that a rebuild in the tree during the run changes nothing.
cp "$BUILD/lunard" "$BUILD/lunarctl" "$work/"
lport=$(free_port)
tport=$(free_port)
while [ "$tport" = "$lport" ]; do tport=$(free_port); done
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
ctl lun create "$IQN" 1 --bstype rbd --backing "$image" --bs-opts "conf=$CEPH_CONF"
# LUN 2, the same image through tgt's dispatch model (threads=2 x CPU, as
# the seed describes tgt's rbd store): the design issue 12 asks to measure
# against submitting from the reactors (LUN 1).
LTHREADS=$((2 * $(nproc)))
ctl lun create "$IQN" 2 --bstype rbd --backing "$image" \
	--bs-opts "conf=$CEPH_CONF;threads=$LTHREADS"
ctl acl add "$IQN" ALL

# A control port no other tgtd (the file rows', another user's) answers on.
for _ in $(seq 50); do
	tctl=$((100 + RANDOM % 800))
	tgtadm -C "$tctl" --mode system --op show >/dev/null 2>&1 || break
done
CEPH_ARGS="--rbd-cache=false --admin-socket=$work/tgtd.asok" \
	tgtd -f -C "$tctl" ${TGT_IOTHREADS:+-t "$TGT_IOTHREADS"} \
	--iscsi "portal=127.0.0.1:$tport" >"$work/tgtd.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do
	tgtadm -C "$tctl" --lld iscsi --mode system --op show >/dev/null 2>&1 && break
	sleep 0.1
done
tgta() { tgtadm -C "$tctl" --lld iscsi "$@"; }
tgta --mode target --op new --tid 1 --targetname "$IQN"
tgta --mode logicalunit --op new --tid 1 --lun 1 --bstype rbd \
	--backing-store "$image" --bsopts "conf=$CEPH_CONF"
tgta --mode target --op bind --tid 1 -I ALL
tcache=$(ceph --admin-daemon "$work/tgtd.asok" config get rbd_cache 2>/dev/null |
	sed -n 's/.*"rbd_cache": "\(.*\)".*/\1/p')
[ "$tcache" = false ] || {
	say "tgtd's librbd did not take rbd_cache=false (got '$tcache')"
	exit 1
}
tthreads=$(sed -n 's/.*bs_thread_open([0-9]*) \([0-9]*\)$/\1/p' "$work/tgtd.log" | tail -1)

# ---- one run of each ----

# thread_ticks PID: "tid name ticks" per thread.
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		awk -v tid="${t##*/}" '{
			name = $0; sub(/^[^(]*\(/, "", name); sub(/\).*$/, "", name)
			rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
			gsub(/ /, "_", name); print tid, name, f[12] + f[13] }' "$t/stat" 2>/dev/null
	done
}

# qemu_run PID PORT SIZE DEPTH COUNT STEP RW [LUN] -> "iops target_us_per_io osd_us_per_io"
# Leaves the busiest threads of PID over the run in $work/threads.last.
qemu_run() {
	local pid=$1 port=$2 size=$3 depth=$4 count=$5 step=$6 rw=$7 lun=${8:-1}
	local t0 t1 o0=0 o1=0 out secs
	local -a args=(-f raw -t none -c "$count" -d "$depth" -s "$size")
	[ "$step" = - ] || args+=(-S "$step")
	[ "$rw" = read ] || args+=(-w)
	thread_ticks "$pid" | sort >"$work/threads.a"
	[ -z "$osd_pid" ] || o0=$(cpu_ticks "$osd_pid")
	t0=$(cpu_ticks "$pid")
	out=$(qemu-img bench "${args[@]}" "iscsi://127.0.0.1:$port/$IQN/$lun" 2>&1) || true
	t1=$(cpu_ticks "$pid")
	[ -z "$osd_pid" ] || o1=$(cpu_ticks "$osd_pid")
	thread_ticks "$pid" | sort >"$work/threads.b"
	secs=$(echo "$out" | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
	[ -n "$secs" ] || {
		say "qemu-img bench against port $port failed: $out"
		exit 1
	}
	# busiest threads: share of one core over the run's wall time
	join <(cut -d' ' -f1,3 "$work/threads.a") "$work/threads.b" |
		awk -v s="$secs" -v hz="$clk" '{ d = $4 - $2; if (d > 0) printf "%.0f %s\n", d / hz / s * 100, $3 }' |
		sort -rn | head -5 |
		awk '{ printf "%s%s %d%%", (NR > 1 ? ", " : ""), $2, $1 }' >"$work/threads.last"
	awk -v c="$count" -v s="$secs" -v dt="$((t1 - t0))" -v dosd="$((o1 - o0))" -v hz="$clk" \
		-v osd="${osd_pid:-}" 'BEGIN { printf "%.0f %.1f %s\n", c / s, dt / hz * 1e6 / c,
			osd == "" ? "-" : sprintf("%.1f", dosd / hz * 1e6 / c) }'
}

# rbd bench's own start-up (connect, open, flush, close) in CPU seconds, to
# take out of its CPU per I/O; measured with one I/O.
rbd_startup_cpu() {
	local v=()
	for _ in 1 2 3; do
		v+=("$({ TIMEFORMAT='%3U %3S'; time rbd bench --rbd-cache=false --io-type read \
			--io-size 4K --io-threads 1 --io-total 4K "$image" >/dev/null 2>&1; } 2>&1 |
			awk '{print $1 + $2}')")
	done
	printf '%s\n' "${v[@]}" | median
}

# rbd_run SIZE DEPTH COUNT PATTERN RW -> "iops process_us_per_io osd_us_per_io"
rbd_run() {
	local size=$1 depth=$2 count=$3 pattern=$4 rw=$5
	local o0=0 o1=0 out cpu iops
	[ -z "$osd_pid" ] || o0=$(cpu_ticks "$osd_pid")
	cpu=$({ TIMEFORMAT='%3U %3S'; time rbd bench --rbd-cache=false --io-type "$rw" \
		--io-size "$size"B --io-threads "$depth" --io-pattern "$pattern" \
		--io-total "$((size * count))"B "$image" >"$work/rbd.out" 2>&1; } 2>&1 |
		awk '{print $1 + $2}')
	[ -z "$osd_pid" ] || o1=$(cpu_ticks "$osd_pid")
	iops=$(sed -n 's/.*ops\/sec: *\([0-9.][0-9.]*\) .*/\1/p' "$work/rbd.out" | tail -1)
	[ -n "$iops" ] || {
		say "rbd bench failed: $(cat "$work/rbd.out")"
		exit 1
	}
	awk -v i="$iops" -v cpu="$cpu" -v st="$startup" -v c="$count" -v dosd="$((o1 - o0))" \
		-v hz="$clk" -v osd="${osd_pid:-}" 'BEGIN { u = (cpu - st) * 1e6 / c; if (u < 0) u = 0
		printf "%.0f %.1f %s\n", i, u, osd == "" ? "-" : sprintf("%.1f", dosd / hz * 1e6 / c) }'
}

startup=$(rbd_startup_cpu)

# Warm both targets up (sessions to the OSD, first login) off the record.
qemu_run "$lpid" "$lport" 4096 32 2000 - read >/dev/null
qemu_run "$tpid" "$tport" 4096 32 2000 - read >/dev/null
rbd_run 4096 32 2000 full-seq read >/dev/null

# ---- workloads ----
# qemu-img bench issues sequential offsets: request k at k*STEP (STEP = the
# I/O size unless -S), wrapping at the end of the image. rbd bench patterns:
#   full-seq: one stream, request k at k*size: the same as qemu-img's default.
#   seq:      32 streams, one per 32 MiB chunk, advanced round-robin, so the
#             32 requests in flight sit in 32 different objects. qemu-img
#             with -S 32M+4K does the same: in flight i*(32M+4K), +128K per
#             round (a plain -S 32M would wrap onto the same 32 blocks).
# (rbd bench's `seq` is NOT qemu-img's sequential pattern: it is the
# 32-stream one. Its `rand` has no qemu-img counterpart and is not used.)
STREAM_STEP=$((32 * 1024 * 1024 + 4096))
C=$RBD_COUNT
WORKLOADS=()
for g in $RBD_ROWS; do
	case $g in
	seq4k) WORKLOADS+=("seq4k|4K QD32 read, 1 stream|4096|32|$C|-|full-seq|read"
		"seq4k|4K QD32 write, 1 stream|4096|32|$C|-|full-seq|write") ;;
	streams4k) WORKLOADS+=("streams4k|4K QD32 read, 32 streams|4096|32|$((C / 4))|$STREAM_STEP|seq|read"
		"streams4k|4K QD32 write, 32 streams|4096|32|$((C / 4))|$STREAM_STEP|seq|write") ;;
	seq128k) WORKLOADS+=("seq128k|128K QD8 read, 1 stream|131072|8|$((C / 10))|-|full-seq|read"
		"seq128k|128K QD8 write, 1 stream|131072|8|$((C / 10))|-|full-seq|write") ;;
	qd1) WORKLOADS+=("qd1|4K QD1 read|4096|1|$((C / 40))|-|full-seq|read"
		"qd1|4K QD1 write|4096|1|$((C / 40))|-|full-seq|write") ;;
	*) say "unknown RBD_ROWS group '$g' (seq4k streams4k seq128k qd1)"; exit 2 ;;
	esac
done

rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
cephv=$(rbd --version 2>/dev/null | awk '{print $3}')
echo
echo "RBD: image $image (1 GiB, prefilled), $( [ -n "$own_cluster" ] && echo "throwaway memstore cluster" || echo "cluster $CEPH_CONF") on 127.0.0.1, ceph $cephv"
echo "     librbd cache off for all three; tgtd $tthreads I/O threads per LU; lunar $rev"
echo "     client: qemu-img bench (libiscsi) for lunar and tgt; rbd bench for librbd alone; $RUNS interleaved rounds, medians"
printf '%-26s %9s %9s %9s %7s %7s %7s %7s %7s %14s %5s\n' workload "rbd IOPS" "lunar" "tgt" \
	"l/rbd" "l/tgt" "l us" "t us" "rbd us" "osd us r/l/t" load
RESULTS=()
THREADS=()
DESIGN=()
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r grp name size depth count step pattern rw <<<"$w"
	# rbd bench times with a coarse clock: keep every run long enough.
	[ "$count" -ge 500 ] || count=500
	ri=() ru=() ro=() li=() lu=() lo=() ti=() tu=() to=() hi=() hu=()
	for _ in $(seq "$RUNS"); do
		read -r a b c < <(rbd_run "$size" "$depth" "$count" "$pattern" "$rw") || true
		[ -n "$c" ] || exit 1
		ri+=("$a"); ru+=("$b"); ro+=("$c")
		read -r a b c < <(qemu_run "$lpid" "$lport" "$size" "$depth" "$count" "$step" "$rw") || true
		[ -n "$c" ] || exit 1
		li+=("$a"); lu+=("$b"); lo+=("$c"); lthr=$(cat "$work/threads.last")
		read -r a b c < <(qemu_run "$lpid" "$lport" "$size" "$depth" "$count" "$step" "$rw" 2) || true
		[ -n "$c" ] || exit 1
		hi+=("$a"); hu+=("$b")
		read -r a b c < <(qemu_run "$tpid" "$tport" "$size" "$depth" "$count" "$step" "$rw") || true
		[ -n "$c" ] || exit 1
		ti+=("$a"); tu+=("$b"); to+=("$c"); tthr=$(cat "$work/threads.last")
	done
	m() { printf '%s\n' "$@" | median; }
	rim=$(m "${ri[@]}"); rum=$(m "${ru[@]}"); rom=$(m "${ro[@]}")
	lim=$(m "${li[@]}"); lum=$(m "${lu[@]}"); lom=$(m "${lo[@]}")
	tim=$(m "${ti[@]}"); tum=$(m "${tu[@]}"); tom=$(m "${to[@]}")
	him=$(m "${hi[@]}"); hum=$(m "${hu[@]}")
	DESIGN+=("$name|$lim|$lum|$him|$hum")
	lr=$(awk -v a="$lim" -v b="$rim" 'BEGIN{printf "%.2f", a/b}')
	lt=$(awk -v a="$lim" -v b="$tim" 'BEGIN{printf "%.2f", a/b}')
	ld=$(cut -d' ' -f1 /proc/loadavg)
	osd="-"
	[ -z "$osd_pid" ] || osd=$(printf '%.0f/%.0f/%.0f' "$rom" "$lom" "$tom")
	printf '%-26s %9s %9s %9s %7s %7s %7.0f %7.0f %7.0f %14s %5s\n' "$name" "$rim" "$lim" "$tim" \
		"$lr" "$lt" "$lum" "$tum" "$rum" "$osd" "$ld"
	RESULTS+=("$grp|$name|$rim|$lim|$tim|$lr|$lt|$lum|$tum|$rum|$osd|$ld|$pattern|$step|${ri[*]}|${li[*]}|${ti[*]}")
	THREADS+=("$name: lunar $lthr; tgt $tthr")
done
load_end=$(load)
cat <<EOF
(IOPS: median of $RUNS; l/rbd = lunar/rbd bench, l/tgt = lunar/tgt; l us, t us =
 target process CPU per I/O (all threads, librbd's included); rbd us = rbd bench's
 process CPU per I/O less its start-up (librbd client plus the bench loop; no iSCSI);
 osd us = the OSD's CPU per I/O during the rbd bench / lunar / tgt runs; load = 1-min
 load average after the row. QD1 rows: mean latency = 1e6/IOPS us.)
Load average at start $load_start, at end $load_end (2 cores, shared).

Busiest threads in the last round (% of one core over the run):
EOF
printf '  %s\n' "${THREADS[@]}"

echo
echo "lunar's rbd store: submitting from the event loops (the default) against"
echo "tgt's model, $LTHREADS threads each waiting for one librbd call (threads=$LTHREADS),"
echo "same lunard, same image, same rounds:"
printf '  %-26s %12s %8s %12s %8s %7s\n' workload "loops IOPS" "us/IO" "threads IOPS" "us/IO" ratio
for r in "${DESIGN[@]}"; do
	IFS='|' read -r name lim lum him hum <<<"$r"
	awk -v n="$name" -v a="$lim" -v b="$lum" -v c="$him" -v d="$hum" 'BEGIN {
		printf "  %-26s %12s %8.0f %12s %8.0f %7.2f\n", n, a, b, c, d, a / c }'
done

echo
echo "Goal (issue 12: lunar 4K QD32 >= 0.90x rbd bench and >= 1.5x tgt):"
for r in "${RESULTS[@]}"; do
	IFS='|' read -r grp name rim lim tim lr lt _ <<<"$r"
	case $name in 4K\ QD32*) ;; *) continue ;; esac
	awk -v n="$name" -v lr="$lr" -v lt="$lt" 'BEGIN {
		printf "  %-26s lunar/rbd bench %.2f %s, lunar/tgt %.2f %s\n", n,
			lr, (lr >= 0.9 ? "(met)" : "(MISSED)"), lt, (lt >= 1.5 ? "(met)" : "(MISSED)") }'
done

echo
echo "For the notes:"
echo "bench-rbd $(date -u +%Y-%m-%dT%H:%MZ) lunar $rev, ceph $cephv $( [ -n "$own_cluster" ] && echo memstore), $(nproc) cores, RUNS=$RUNS, RBD_COUNT=$RBD_COUNT, load $load_start -> $load_end, librbd cache off, tgtd $tthreads threads"
for r in "${RESULTS[@]}"; do
	IFS='|' read -r grp name rim lim tim lr lt lum tum rum osd ld pattern step ra la ta <<<"$r"
	printf 'bench-rbd | %s | rbd bench --io-pattern %s: %s IOPS | lunar %s IOPS (%sx rbd, %sx tgt, %.0f us CPU/IO) | tgt %s IOPS (%.0f us CPU/IO) | runs rbd [%s] lunar [%s] tgt [%s] | load %s\n' \
		"$name" "$pattern" "$rim" "$lim" "$lr" "$lt" "$lum" "$tim" "$tum" "$ra" "$la" "$ta" "$ld"
done

# ---- what the targets logged ----
echo
n=$(grep -c . "$work/lunard.log" || true)
echo "lunard log (level warn): $n line(s)"
[ "$n" = 0 ] || head -n 5 "$work/lunard.log" | sed 's/^/  /'
# (tgtd always says it cannot initialise RDMA (iser); not an error here.)
tgterr() { grep -iE 'error|fail' "$work/tgtd.log" | grep -vE 'iser_ib_init|RDMA' || true; }
n=$(tgterr | grep -c . || true)
echo "tgtd log: $n error line(s)"
[ "$n" = 0 ] || tgterr | head -n 5 | sed 's/^/  /'
