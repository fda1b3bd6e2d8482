#!/bin/bash
# Boots the test guest (a Debian 12 kernel and initramfs, tests/guest/
# prepare.sh) in QEMU under TCG, with lunar's LUNs attached, runs a
# scenario in it and reports its steps.
#
# Usage: tests/guest/run.sh [options] SCENARIO
#   --lun URL[:TYPE]   attach a LUN through QEMU's iSCSI block driver on a
#                      virtio-scsi controller (repeatable; SCSI ids 0, 1,
#                      ... in order). TYPE: scsi-block (disk, cd: the
#                      default) or scsi-generic (tape, changer); disk, cd,
#                      tape and changer are accepted for these.
#   --net              user networking: the guest is 10.0.2.15/24 and
#                      reaches the host's 127.0.0.1:PORT as 10.0.2.2:PORT;
#                      it has no default route
#   --env NAME=VALUE   a variable for the scenario (repeatable)
#   --hook CMD         what the host runs at each host_sync NAME of the
#                      scenario, as `bash -c 'CMD "$1"' hook NAME` (an
#                      exported shell function works); status 0 passes the
#                      step, otherwise the last line of its output is why
#   --timeout SECS     the whole boot and scenario (default 240)
#   --console FILE     keep the serial console there (default: a temporary
#                      file, its tail printed when the run fails)
#
# SCENARIO is a file of busybox-ash functions, sourced by the guest's
# /init after it mounted /proc, /sys and /dev and loaded the modules; /init
# calls its function `scenario`, which runs steps with the helpers of
# tests/guest/guest-lib.sh (step, host_sync, info, scsi_dev, wait_for).
# Each step's shell sources the file again, so it holds only definitions.
#
# Prints the guest's GUEST-STEP NAME PASS|FAIL [why] and GUEST-INFO KEY
# VALUE lines as they come, then one summary line with times. Exits 0 when
# the guest finished (GUEST-DONE) with no failed step, 1 when a step
# failed, the kernel panicked, the guest stopped without GUEST-DONE or the
# time ran out (the console's tail is printed), 2 on a usage error or
# when the guest cannot be prepared.

# QEMU options are comma lists, not array elements.
# shellcheck disable=SC2054
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LUNS=()
ENVS=()
NET=0
HOOK=""
TIMEOUT=240
CONSOLE=""

usage() {
	sed -n '/^# Usage:/,/^# SCENARIO/p' "$0" | sed 's/^# \{0,1\}//' | head -n -1 >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--lun) LUNS+=("$2") && shift 2 ;;
	--net) NET=1 && shift ;;
	--env) ENVS+=("$2") && shift 2 ;;
	--hook) HOOK=$2 && shift 2 ;;
	--timeout) TIMEOUT=$2 && shift 2 ;;
	--console) CONSOLE=$2 && shift 2 ;;
	-h | --help) usage ;;
	-*) echo "run.sh: unknown option $1" >&2 && usage ;;
	*) break ;;
	esac
done
[ $# = 1 ] || usage
SCENARIO=$1
[ -r "$SCENARIO" ] || {
	echo "run.sh: cannot read the scenario $SCENARIO" >&2
	exit 2
}
case $TIMEOUT in
'' | *[!0-9]*) echo "run.sh: --timeout wants seconds" >&2 && exit 2 ;;
esac

GUEST=$("$HERE/prepare.sh") || {
	echo "run.sh: the guest could not be prepared (tests/guest/prepare.sh)" >&2
	exit 2
}

W=$(mktemp -d "${TMPDIR:-/tmp}/lunar-guest.XXXXXX")
QEMU_PID=""
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -TERM "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
[ -n "$CONSOLE" ] || CONSOLE=$W/console.log
: >"$CONSOLE"

# The scenario, its variables and the network switch: a second cpio
# archive after the cached one (the kernel unpacks both, in order).
mkdir -p "$W/s/scenario"
cp "$SCENARIO" "$W/s/scenario/scenario.sh"
for e in "${ENVS[@]}"; do
	case $e in
	[A-Za-z_]*=*) printf '%s=%q\n' "${e%%=*}" "${e#*=}" ;;
	*) echo "run.sh: --env wants NAME=VALUE, got $e" >&2 && exit 2 ;;
	esac
done >"$W/s/scenario/env"
[ $NET = 0 ] || : >"$W/s/scenario/net"
(cd "$W/s" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0) | gzip -n >"$W/scenario.cpio.gz"
cat "$GUEST/initramfs.cpio.gz" "$W/scenario.cpio.gz" >"$W/initrd"

# Results come on the second serial port, through a pair of FIFOs (QEMU's
# pipe chardev opens both read-write, so neither side blocks on open).
mkfifo "$W/ctl.in" "$W/ctl.out"
exec 3<>"$W/ctl.out" 4<>"$W/ctl.in"

args=(-M q35 -accel tcg -m 1024 -smp 2 -nographic -no-reboot -nodefaults
	-kernel "$GUEST/vmlinuz" -initrd "$W/initrd"
	-append "console=ttyS0 panic=-1 rdinit=/init"
	-serial "file:$CONSOLE" -serial "pipe:$W/ctl")
if [ ${#LUNS[@]} -gt 0 ]; then
	args+=(-device virtio-scsi-pci,id=s0)
fi
i=0
for lun in "${LUNS[@]}"; do
	url=$lun
	dev=scsi-block
	case ${lun##*:} in
	scsi-block | disk | cd) url=${lun%:*} ;;
	scsi-generic | tape | changer) url=${lun%:*} dev=scsi-generic ;;
	esac
	case $url in
	iscsi://*) ;;
	*) echo "run.sh: --lun wants iscsi://HOST:PORT/IQN/LUN[:TYPE], got $lun" >&2 && exit 2 ;;
	esac
	args+=(-drive "file=$url,if=none,id=d$i,format=raw"
		-device "$dev,drive=d$i,bus=s0.0,channel=0,scsi-id=$i,lun=0")
	i=$((i + 1))
done
if [ $NET = 1 ]; then
	# Not restrict=on: it refuses the guest's connections to 10.0.2.2.
	args+=(-netdev user,id=n0,net=10.0.2.0/24,host=10.0.2.2,ipv6=off
		-device virtio-net-pci,netdev=n0,romfile=)
fi

START=$SECONDS
qemu-system-x86_64 "${args[@]}" </dev/null >"$W/qemu.out" 2>&1 &
QEMU_PID=$!

# hook NAME: the host's check for host_sync NAME; answers the guest.
hook() {
	local out rc=0 why
	if [ -z "$HOOK" ]; then
		out="no --hook given" rc=1
	else
		out=$(timeout -k 5 120 bash -c "$HOOK"' "$1"' hook "$1" 2>&1) || rc=$?
	fi
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  host: /'
	if [ $rc = 0 ]; then
		printf 'HOST %s PASS\n' "$1" >&4
	else
		why=$(printf '%s\n' "$out" | grep . | tail -n1)
		printf 'HOST %s FAIL status %s: %s\n' "$1" "$rc" "${why:-no output}" >&4
	fi
}

steps=0 failed=0 timed_out=0 done_at="" boot_at="" buf=""
while :; do
	line=""
	if ! IFS= read -r -t 1 line <&3; then
		# read keeps a partial line on timeout: the rest comes later.
		buf+=$line
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then
			# Gone: whatever is left in the pipe, then stop.
			IFS= read -r -t 0.5 line <&3 || break
		elif [ $((SECONDS - START)) -ge "$TIMEOUT" ]; then
			timed_out=1
			break
		else
			continue
		fi
	fi
	line=$buf$line
	buf=""
	line=${line%$'\r'}
	case $line in
	"GUEST-STEP "*)
		echo "$line"
		steps=$((steps + 1))
		[ -n "$boot_at" ] || boot_at=$((SECONDS - START))
		case $line in
		"GUEST-STEP "*" PASS") ;;
		*) failed=$((failed + 1)) ;;
		esac
		;;
	"GUEST-INFO "*) echo "$line" ;;
	"GUEST-SYNC "*)
		echo "$line"
		hook "${line#GUEST-SYNC }"
		;;
	"GUEST-DONE"*)
		echo "GUEST-DONE"
		done_at=$((SECONDS - START))
		;;
	esac
done

# The guest powers off after GUEST-DONE: give it a moment, then stop it
# (at once when it timed out).
if [ -n "$done_at" ]; then
	for _ in $(seq 30); do
		kill -0 "$QEMU_PID" 2>/dev/null || break
		sleep 1
	done
fi
rc=0
if kill -0 "$QEMU_PID" 2>/dev/null; then
	kill -TERM "$QEMU_PID" 2>/dev/null || true
	wait "$QEMU_PID" 2>/dev/null || true
else
	wait "$QEMU_PID" || rc=$?
fi
QEMU_PID=""
total=$((SECONDS - START))

why=""
if grep -q 'Kernel panic' "$CONSOLE"; then
	why="the guest kernel panicked"
elif [ $timed_out = 1 ]; then
	why="no GUEST-DONE within $TIMEOUT s"
elif [ -z "$done_at" ]; then
	why="the guest stopped without GUEST-DONE (QEMU status $rc)"
elif [ $failed != 0 ]; then
	why="$failed step(s) failed"
fi
echo "guest: $steps steps, $failed failed; boot ${boot_at:-?} s, scenario done at ${done_at:-?} s, total $total s"
if [ -n "$why" ]; then
	echo "guest: FAIL: $why"
	if [ -s "$W/qemu.out" ]; then
		echo "--- QEMU said:"
		tail -n 20 "$W/qemu.out"
	fi
	echo "--- last lines of the console ($CONSOLE):"
	tail -n 60 "$CONSOLE" | tr -d '\r'
	exit 1
fi
exit 0
