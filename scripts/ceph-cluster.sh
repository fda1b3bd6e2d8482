#!/bin/bash
# A throwaway single-node Ceph cluster (one mon, one OSD, no mgr) for tests
# and demos. Everything listens on 127.0.0.1 only and every file (config,
# mon store, OSD data, logs, pid files, admin sockets) lives inside DIR.
#
#   scripts/ceph-cluster.sh start DIR      make a fresh cluster in DIR, start it,
#                                          print "CEPH_CONF=DIR/ceph.conf" on stdout
#   scripts/ceph-cluster.sh stop DIR [--purge]
#                                          stop it (SIGTERM, SIGKILL after 10 s);
#                                          --purge also removes DIR
#   scripts/ceph-cluster.sh status DIR     one line and exit 0 if it runs, else exit 1
#   scripts/ceph-cluster.sh pause-osd DIR  SIGSTOP the OSD (fault tests)
#   scripts/ceph-cluster.sh resume-osd DIR SIGCONT the OSD
#
# start refuses a DIR where both daemons run; a cluster left over by a killed
# run (or a stopped one, or one with a daemon missing) is stopped and wiped
# first, so every start is a new, empty cluster with one pool "rbd" (8 PGs,
# size 1, rbd pool init done). It refuses a non-empty DIR it did not make.
# Typical use:  eval "$(scripts/ceph-cluster.sh start /tmp/ceph)"; export CEPH_CONF
#
# Environment:
#   CEPH_STORE=memstore|bluestore  OSD backend (default memstore: data in the
#                                  OSD's RAM; bluestore uses an 8 GiB sparse file)
#   CEPH_MEMSTORE_BYTES            memstore capacity (default 4294967296)
#   CEPH_MON_PORT                  mon msgr2 port (default: a free port);
#   CEPH_MON_PORT_V1               mon msgr1 port (default CEPH_MON_PORT+1, or free)
#   CEPH_START_TIMEOUT             seconds start may take in all (default 60)
#
# Progress goes to stderr; only the CEPH_CONF line goes to stdout. Every ceph,
# rados and rbd command here runs under timeout(1), so a broken cluster
# cannot hang the caller.
set -u -o pipefail

prog=scripts/ceph-cluster.sh
MARKER="# Written by lunar $prog; 'start' wipes this cluster."
STOP_GRACE=10
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
unset CEPH_ARGS

say() { printf '%s: %s\n' "${prog##*/}" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
usage() {
	cat >&2 <<EOF
usage: $prog start DIR
       $prog stop DIR [--purge]
       $prog status DIR
       $prog pause-osd DIR
       $prog resume-osd DIR
EOF
	exit 2
}

now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# set_dir DIR: D (absolute, normalised), CONF, and the fixed layout inside D.
set_dir() {
	local d=$1
	[ -n "$d" ] || usage
	case $d in /*) ;; *) d=$PWD/$d ;; esac
	d=$(realpath -m -- "$d") || die "bad directory: $1"
	case $d in
	*[!A-Za-z0-9._/+@,:-]*)
		die "DIR may contain only letters, digits and ._/+@,:- (got '$d')"
		;;
	esac
	[ "$d" != / ] || die "DIR must not be /"
	# unix socket paths are limited to 107 bytes: DIR/run/osd.0.asok must fit
	[ ${#d} -le 80 ] || die "DIR is too long for admin socket paths (max 80 bytes): $d"
	D=$d
	CONF=$D/ceph.conf
	LOG=$D/log
	RUN=$D/run
	export CEPH_CONF=$CONF # --conf is passed too; this covers any other tool
}

# ---- processes --------------------------------------------------------------

# is_ours PID NAME: PID runs ceph-mon/ceph-osd (NAME mon.a/osd.0) with our conf.
is_ours() {
	local pid=$1 exe=ceph-${2%%.*} a
	local -a argv
	[ -r "/proc/$pid/cmdline" ] || return 1
	mapfile -d "" argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
	[ ${#argv[@]} -gt 0 ] || return 1
	[ "${argv[0]##*/}" = "$exe" ] || return 1
	for a in "${argv[@]}"; do
		[ "$a" = "$CONF" ] && return 0
	done
	return 1
}

# gone PID: no such process (a zombie counts as gone).
gone() {
	local st
	[ -e "/proc/$1" ] || return 0
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# daemon_pids NAME: pids of our daemon NAME, from its pid file and, for a run
# that was killed before it wrote one, from /proc.
daemon_pids() {
	local name=$1 pid p out=" "
	local exe=ceph-${name%%.*} a0
	if [ -r "$RUN/$name.pid" ]; then
		read -r pid 2>/dev/null <"$RUN/$name.pid" || pid=
		case $pid in '' | *[!0-9]*) ;; *)
			if is_ours "$pid" "$name" && ! gone "$pid"; then out="$out$pid "; fi
			;;
		esac
	fi
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case $out in *" $p "*) continue ;; esac
		a0=
		IFS= read -r -d "" a0 2>/dev/null <"/proc/$p/cmdline"
		[ "${a0##*/}" = "$exe" ] || continue
		if is_ours "$p" "$name" && ! gone "$p"; then out="$out$p "; fi
	done
	out=${out# }
	echo "${out% }"
}

# launch NAME CMD...: start a daemon in its own session with stdin from
# /dev/null, stdout/stderr to LOG/NAME.out and no other inherited fd (a lock
# or pipe held by the caller must not stay open in the daemon).
launch() {
	local name=$1 pid
	shift
	(
		exec </dev/null >>"$LOG/$name.out" 2>&1
		for f in "/proc/$BASHPID/fd/"*; do
			f=${f##*/}
			[ "$f" -gt 2 ] 2>/dev/null && eval "exec $f>&-" 2>/dev/null
		done
		exec setsid "$@"
	) &
	pid=$!
	echo "$pid" >"$RUN/$name.pid"
	STARTED="$STARTED $pid"
}

# stop_daemons: SIGTERM the OSD, then the mon; SIGKILL what is left after
# STOP_GRACE seconds; wait until all are gone.
stop_daemons() {
	local name pid end left all=""
	end=$(($(now_ms) + STOP_GRACE * 1000))
	for name in osd.0 mon.a; do
		for pid in $(daemon_pids "$name"); do
			all="$all $pid"
			kill -TERM "$pid" 2>/dev/null
			kill -CONT "$pid" 2>/dev/null # a paused OSD must see the SIGTERM
		done
		# the OSD first, so that it does not wait for a mon that is gone
		while :; do
			left=""
			for pid in $all; do gone "$pid" || left="$left $pid"; done
			[ -z "$left" ] && break
			[ "$(now_ms)" -lt "$end" ] || break
			sleep 0.1
		done
	done
	left=""
	for pid in $all; do gone "$pid" || left="$left $pid"; done
	if [ -n "$left" ]; then
		say "still running after ${STOP_GRACE}s, sending SIGKILL to:$left"
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $left 2>/dev/null
		end=$(($(now_ms) + 10000))
		for pid in $left; do
			while ! gone "$pid"; do
				[ "$(now_ms)" -lt "$end" ] || die "process $pid does not go away"
				sleep 0.1
			done
		done
	fi
	for pid in $all; do wait "$pid" 2>/dev/null; done # reap our own children
	rm -f "$RUN/mon.a.pid" "$RUN/osd.0.pid"
	[ -z "$all" ] || say "stopped${all}"
}

# take_lock: serialise start/stop on one DIR (fd 9; daemons do not inherit it).
take_lock() {
	exec 9>>"$D/.lock" || die "cannot create $D/.lock"
	flock -w 30 9 || die "another $prog is busy with $D"
}

# ---- commands with bounded time ---------------------------------------------

# budget: seconds left before DEADLINE (at least 1); dies when it has passed.
budget() {
	local log=$1 ms
	shift
	ms=$((DEADLINE - $(now_ms)))
	[ "$ms" -gt 0 ] || die "start took longer than ${START_TIMEOUT}s while $*; see $log"
	ms=$(((ms + 999) / 1000))
	[ "$ms" -le 20 ] || ms=20
	echo "$ms"
}

# cephq T ARGS...: the ceph CLI with a T second bound.
cephq() {
	local t=$1
	shift
	timeout -k 2 "$t" ceph --conf "$CONF" --connect-timeout "$t" "$@"
}
# radosq T ARGS... / rbdq T ARGS...: rados and rbd with T second bounds.
radosq() {
	local t=$1
	shift
	timeout -k 2 "$t" rados --conf "$CONF" --client-mount-timeout "$t" \
		--rados-mon-op-timeout "$t" --rados-osd-op-timeout "$t" "$@"
}
rbdq() {
	local t=$1
	shift
	timeout -k 2 "$t" rbd --conf "$CONF" --client-mount-timeout "$t" \
		--rados-mon-op-timeout "$t" --rados-osd-op-timeout "$t" "$@"
}

# alive NAME: dies naming the log when the daemon started as NAME exited.
alive() {
	local pid
	read -r pid 2>/dev/null <"$RUN/$1.pid" || pid=
	if [ -z "$pid" ] || gone "$pid"; then
		tail -n 5 "$LOG/$1.out" "$LOG/$1.log" 2>/dev/null | sed 's/^/    /' >&2
		die "ceph-${1%%.*} ($1) exited during start; see $LOG/$1.log and $LOG/$1.out"
	fi
}

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
	"$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
port_free() {
	"$PY" -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

write_conf() {
	local tmp=$CONF.tmp
	cat >"$tmp" <<EOF
$MARKER
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$PORT2,v1:127.0.0.1:$PORT1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $D/keyring
run dir = $RUN
crash dir = $D/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon mgr mkfs grace = 31536000
mon data avail crit = 0
mon data avail warn = 0
paxos propose interval = 0.1
paxos min wait = 0.01
osd client watch timeout = 5

[mon]
mon data = $D/mon/\$id
log file = $LOG/\$name.log
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.pid
mon cluster log file = $LOG/cluster.\$channel.log

[osd]
osd data = $D/osd/\$id
log file = $LOG/\$name.log
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.pid
osd objectstore = $STORE
osd class load list = *
osd class default list = *
osd crush update on start = false
EOF
	if [ "$STORE" = memstore ]; then
		echo "memstore device bytes = $MEMSTORE_BYTES" >>"$tmp"
	else
		cat >>"$tmp" <<EOF
bluestore block path = $D/osd/\$id.block
bluestore block create = true
bluestore block size = 8589934592
osd memory target = 1073741824
EOF
	fi
	mv -f "$tmp" "$CONF"
}

# wipe: remove what start creates in D (nothing else).
wipe() {
	rm -rf "$D/mon" "$D/osd" "$LOG" "$RUN" "$D/crash" "$D/keyring" "$D/monmap" \
		"$CONF" "$CONF.tmp"
}

# has_cluster_files: D holds something start made (so it may be wiped).
has_cluster_files() {
	[ -e "$CONF" ] || [ -e "$D/mon" ] || [ -e "$D/osd" ] || [ -e "$RUN" ]
}

# dir_empty: D holds nothing but our lock file.
dir_empty() {
	local f
	for f in "$D"/* "$D"/.[!.]* "$D"/..?*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		[ "$f" = "$D/.lock" ] || return 1
	done
	return 0
}

# ---- start ------------------------------------------------------------------

on_start_exit() {
	local rc=$?
	[ "$START_OK" = 1 ] && return
	trap - EXIT INT TERM HUP
	if [ -n "$STARTED" ]; then
		say "start failed: stopping what it started (logs stay in $LOG)"
		STOP_GRACE=3 stop_daemons
	fi
	exit $((rc == 0 ? 1 : rc))
}

# mon_listens: our ceph-mon listens on both its ports (without ss(8): something
# accepts connections on the v2 port).
mon_listens() {
	local pid
	read -r pid 2>/dev/null <"$RUN/mon.a.pid" || return 1
	if command -v ss >/dev/null; then
		ss -Hltnp "sport = :$PORT2" 2>/dev/null | grep -q "pid=$pid," &&
			ss -Hltnp "sport = :$PORT1" 2>/dev/null | grep -q "pid=$pid,"
	else
		(exec 2>/dev/null 8<>"/dev/tcp/127.0.0.1/$PORT2")
	fi
}

# start_mon: monmap, mon store, ceph-mon; 0 when the mon answers, 2 when its
# ports were taken (the caller picks others), dies otherwise.
start_mon() {
	local t fsid
	rm -rf "$D/mon" "$D/monmap"
	mkdir -p "$D/mon/a" || die "cannot create $D/mon/a"
	write_conf
	t=$(budget "$LOG/setup.log" "making the monmap") || exit 1
	timeout -k 2 "$t" monmaptool --conf "$CONF" --create --fsid "$FSID" \
		--addv a "[v2:127.0.0.1:$PORT2,v1:127.0.0.1:$PORT1]" "$D/monmap" \
		>>"$LOG/setup.log" 2>&1 || die "monmaptool failed; see $LOG/setup.log"
	t=$(budget "$LOG/setup.log" "making the mon store") || exit 1
	timeout -k 2 "$t" ceph-mon --conf "$CONF" "${SETUSER[@]}" --mkfs -i a --monmap "$D/monmap" \
		--keyring "$D/keyring" >>"$LOG/setup.log" 2>&1 ||
		die "ceph-mon --mkfs failed; see $LOG/setup.log"
	launch mon.a ceph-mon --conf "$CONF" -i a -f "${SETUSER[@]}"
	# wait for the port, then for an answer
	while :; do
		# the messenger retries a taken port 3 times, 5 s apart: do not wait
		if grep -qs 'unable to bind to' "$LOG/mon.a.log" "$LOG/mon.a.out"; then
			STOP_GRACE=3 stop_daemons 2>/dev/null
			STARTED=""
			return 2
		fi
		alive mon.a
		if mon_listens; then
			t=$(budget "$LOG/mon.a.log" "waiting for ceph-mon") || exit 1
			[ "$t" -le 5 ] || t=5
			# whoever answers on the port must be our mon, not another
			# cluster's that took the port between choosing and binding
			fsid=$(cephq "$t" fsid 2>>"$LOG/setup.log") && {
				[ "$fsid" = "$FSID" ] && return 0
				say "127.0.0.1:$PORT2 answers with another cluster's fsid $fsid"
				STOP_GRACE=3 stop_daemons 2>/dev/null
				STARTED=""
				return 2
			}
		fi
		budget "$LOG/mon.a.log" "waiting for ceph-mon" >/dev/null || exit 1
		sleep 0.1
	done
}

cmd_start() {
	local t t0 osd_uuid id tries=0 rc out f
	START_TIMEOUT=${CEPH_START_TIMEOUT:-60}
	STORE=${CEPH_STORE:-memstore}
	MEMSTORE_BYTES=${CEPH_MEMSTORE_BYTES:-4294967296}
	case $STORE in memstore | bluestore) ;; *) die "CEPH_STORE must be memstore or bluestore" ;; esac
	case $MEMSTORE_BYTES in '' | *[!0-9]*) die "CEPH_MEMSTORE_BYTES must be a number of bytes" ;; esac
	case $START_TIMEOUT in '' | *[!0-9]* | 0) die "CEPH_START_TIMEOUT must be a positive number of seconds" ;; esac
	for c in ceph ceph-mon ceph-osd monmaptool rados rbd timeout setsid flock uuidgen; do
		command -v "$c" >/dev/null ||
			die "$c is missing (apt-get install ceph-mon ceph-osd ceph-common util-linux uuid-runtime)"
	done
	# Debian's units run the daemons as user ceph; here they stay root, so
	# that everything in DIR keeps belonging to the caller.
	SETUSER=()
	[ "$(id -u)" != 0 ] || SETUSER=(--setuser root --setgroup root)

	t0=$(now_ms)
	DEADLINE=$((t0 + START_TIMEOUT * 1000))
	exec 3>&1 1>&2 # stdout is for the final CEPH_CONF line only
	mkdir -p "$D" || die "cannot create $D"
	if ! has_cluster_files && ! dir_empty; then
		die "$D is not empty and holds no cluster of $prog; use an empty or new directory"
	fi
	take_lock
	if [ -n "$(daemon_pids mon.a)" ] && [ -n "$(daemon_pids osd.0)" ]; then
		die "a cluster is already running in $D (stop it first: $prog stop $D)"
	fi
	if has_cluster_files; then
		[ ! -e "$CONF" ] || grep -qxF "$MARKER" "$CONF" ||
			die "$CONF was not written by $prog; not touching $D"
		say "cleaning up an old cluster in $D"
		stop_daemons
		wipe
	elif ! dir_empty; then
		die "$D is not empty and holds no cluster of $prog; use an empty or new directory"
	fi

	START_OK=0
	STARTED=""
	trap on_start_exit EXIT
	trap 'say "interrupted (SIGINT)"; exit 130' INT
	trap 'say "interrupted (SIGTERM)"; exit 143' TERM
	trap 'say "interrupted (SIGHUP)"; exit 129' HUP
	mkdir -p "$LOG" "$RUN" "$D/crash" || die "cannot create directories in $D"
	FSID=$(uuidgen) || die "uuidgen failed"
	osd_uuid=$(uuidgen) || die "uuidgen failed"

	# mon
	while :; do
		if [ -n "${CEPH_MON_PORT:-}" ]; then
			PORT2=$CEPH_MON_PORT
			case $PORT2${CEPH_MON_PORT_V1:-} in *[!0-9]*)
				die "CEPH_MON_PORT and CEPH_MON_PORT_V1 must be port numbers" ;;
			esac
			PORT1=${CEPH_MON_PORT_V1:-$((CEPH_MON_PORT + 1))}
			port_free "$PORT2" || die "CEPH_MON_PORT $PORT2 on 127.0.0.1 is in use"
			port_free "$PORT1" || die "mon v1 port $PORT1 on 127.0.0.1 is in use"
		elif [ -n "${CEPH_MON_PORT_V1:-}" ]; then
			die "CEPH_MON_PORT_V1 needs CEPH_MON_PORT"
		else
			read -r PORT2 PORT1 < <(free_ports 2)
			case "${PORT2:-x}${PORT1:-x}" in *[!0-9]*) die "cannot find two free ports on 127.0.0.1" ;; esac
		fi
		start_mon
		rc=$?
		[ $rc = 0 ] && break
		tries=$((tries + 1))
		if [ -n "${CEPH_MON_PORT:-}" ] || [ $tries -ge 5 ]; then
			die "ceph-mon could not bind 127.0.0.1:$PORT2/$PORT1; see $LOG/mon.a.log"
		fi
		say "ports $PORT2/$PORT1 were taken; trying others"
		for f in mon.a.log mon.a.out; do
			mv -f "$LOG/$f" "$LOG/$f.bind-failed-$tries" 2>/dev/null
		done
	done
	say "mon.a up on 127.0.0.1:$PORT2 (v2) and :$PORT1 (v1) after $(($(now_ms) - t0)) ms"

	# osd
	t=$(budget "$LOG/setup.log" "creating osd.0") || exit 1
	id=$(cephq "$t" osd new "$osd_uuid" 2>>"$LOG/setup.log") || die "ceph osd new failed; see $LOG/setup.log"
	[ "$id" = 0 ] || die "ceph osd new gave id '$id', expected 0"
	t=$(budget "$LOG/setup.log" "adding osd.0 to the crush map") || exit 1
	cephq "$t" osd crush add osd.0 1 root=default >>"$LOG/setup.log" 2>&1 ||
		die "ceph osd crush add failed; see $LOG/setup.log"
	# the pool can be made before the OSD runs: its PGs map to osd.0 already
	t=$(budget "$LOG/setup.log" "creating pool rbd") || exit 1
	cephq "$t" osd pool create rbd 8 8 >>"$LOG/setup.log" 2>&1 ||
		die "ceph osd pool create rbd failed; see $LOG/setup.log"
	mkdir -p "$D/osd/0" || die "cannot create $D/osd/0"
	t=$(budget "$LOG/osd.0.log" "making the OSD store") || exit 1
	timeout -k 2 "$t" ceph-osd --conf "$CONF" "${SETUSER[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" \
		>>"$LOG/setup.log" 2>&1 || die "ceph-osd --mkfs failed; see $LOG/setup.log and $LOG/osd.0.log"
	launch osd.0 ceph-osd --conf "$CONF" -i 0 -f "${SETUSER[@]}"
	while :; do
		alive osd.0
		t=$(budget "$LOG/osd.0.log" "waiting for osd.0 to come up") || exit 1
		[ "$t" -le 5 ] || t=5
		out=$(cephq "$t" osd dump 2>>"$LOG/setup.log")
		printf '%s\n' "$out" | grep -q '^osd\.0 up' && break
		sleep 0.2
	done
	say "osd.0 up ($STORE) after $(($(now_ms) - t0)) ms"

	# pool
	echo "lunar ceph-cluster.sh probe" >"$RUN/probe"
	while :; do
		alive osd.0
		t=$(budget "$LOG/osd.0.log" "waiting for a test write to pool rbd") || exit 1
		[ "$t" -le 5 ] || t=5
		radosq "$t" -p rbd put lunar-probe "$RUN/probe" >>"$LOG/setup.log" 2>&1 && break
		sleep 0.2
	done
	t=$(budget "$LOG/setup.log" "removing the test object") || exit 1
	radosq "$t" -p rbd rm lunar-probe >>"$LOG/setup.log" 2>&1 ||
		die "rados rm of the test object failed; see $LOG/setup.log"
	rm -f "$RUN/probe"
	t=$(budget "$LOG/setup.log" "running rbd pool init") || exit 1
	rbdq "$t" pool init rbd >>"$LOG/setup.log" 2>&1 ||
		die "rbd pool init rbd failed; see $LOG/setup.log"

	START_OK=1
	trap - EXIT INT TERM HUP
	say "cluster ready in $(($(now_ms) - t0)) ms: mon.a pid $(daemon_pids mon.a), osd.0 pid $(daemon_pids osd.0), logs in $LOG"
	echo "CEPH_CONF=$CONF" >&3
}

# ---- stop, status, pause ----------------------------------------------------

cmd_stop() {
	local purge=${1:-}
	case $purge in '' | --purge) ;; *) usage ;; esac
	if [ ! -d "$D" ]; then
		return 0
	fi
	if [ -n "$purge" ] && has_cluster_files; then
		if ! grep -qxF "$MARKER" "$CONF" 2>/dev/null; then
			die "$CONF is missing or not written by $prog; not removing $D"
		fi
	fi
	! has_cluster_files || take_lock
	stop_daemons
	if [ -n "$purge" ]; then
		if has_cluster_files || dir_empty; then
			rm -rf "$D" || die "cannot remove $D"
			say "removed $D"
		else
			die "$D holds files not made by $prog; not removing it"
		fi
	fi
}

cmd_status() {
	local mon osd state="" out
	[ -d "$D" ] || {
		echo "not running (no $D)"
		exit 1
	}
	mon=$(daemon_pids mon.a)
	osd=$(daemon_pids osd.0)
	if [ -z "$mon" ] || [ -z "$osd" ]; then
		echo "not running (mon.a pid ${mon:-none}, osd.0 pid ${osd:-none})"
		exit 1
	fi
	grep -q '^State:[[:space:]]*T' "/proc/$osd/status" 2>/dev/null && state=" (paused)"
	out=$(cephq 10 status -f json 2>/dev/null) || {
		echo "not answering: mon.a pid $mon, osd.0 pid $osd$state; see $LOG/mon.a.log"
		exit 1
	}
	printf '%s\n' "$out" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
o = s.get("osdmap", {})
o = o.get("osdmap", o)
mon, osd, host, state, conf = sys.argv[1:]
print("%s: mon.a pid %s at %s, osd.0 pid %s%s, %s osds: %s up, %s in, fsid %s, conf %s" % (
    s.get("health", {}).get("status", "?"), mon, host, osd, state,
    o.get("num_osds", "?"), o.get("num_up_osds", "?"), o.get("num_in_osds", "?"),
    s.get("fsid", "?"), conf))
' "$mon" "$osd" "$(sed -n 's/^mon host = //p' "$CONF")" "$state" "$CONF" ||
		echo "running: mon.a pid $mon, osd.0 pid $osd$state, conf $CONF"
}

cmd_signal_osd() {
	local sig=$1 pid
	[ -d "$D" ] || die "no cluster in $D"
	pid=$(daemon_pids osd.0)
	[ -n "$pid" ] || die "osd.0 is not running in $D"
	# shellcheck disable=SC2086 # normally one pid
	kill "-$sig" $pid || die "kill -$sig $pid failed"
	say "sent SIG$sig to osd.0 (pid $pid)"
}

[ $# -ge 2 ] || usage
cmd=$1
set_dir "$2"
shift 2
case $cmd in
start) [ $# = 0 ] || usage; cmd_start ;;
stop) [ $# -le 1 ] || usage; cmd_stop "$@" ;;
status) [ $# = 0 ] || usage; cmd_status ;;
pause-osd) [ $# = 0 ] || usage; cmd_signal_osd STOP ;;
resume-osd) [ $# = 0 ] || usage; cmd_signal_osd CONT ;;
*) usage ;;
esac
