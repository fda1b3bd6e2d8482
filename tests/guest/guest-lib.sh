# shellcheck shell=sh
# Helpers for guest scenarios (tests/guest/run.sh), sourced by /init and by
# every step's shell. Busybox ash, not bash. The guest's results go to the
# second serial port (fd 9 in /init, /dev/ttyS1) that the runner parses,
# and to the console for people; the console also carries the kernel's
# messages and every step's output.
#
#   step NAME CMD [ARG...]   run a step (CMD: a command or a function of the
#                            scenario) and report GUEST-STEP NAME PASS|FAIL;
#                            status 0 or 1
#   host_sync NAME [SECS]    ask the host to check something now (the
#                            runner's --hook); reported as the step NAME
#   info KEY VALUE           a GUEST-INFO line for the host to read
#   report LINE              one raw line to the host (and the console)
#   wait_for SECS CMD...     until CMD succeeds, at most SECS seconds
#   scsi_list                one line per SCSI device: H:C:T:L TYPE
#                            TRANSPORT NODE SG VENDOR MODEL
#   scsi_dev TRANSPORT TYPE  /dev path of the first such device (TRANSPORT
#                            virtio or iscsi; TYPE disk, cd, tape, changer)
#   say MSG / die MSG        a line on the console / fail the step
#
# Busybox runs its own applets before $PATH (dd, blkdiscard, mke2fs,
# modprobe, mt, tar): call the real tools by absolute path: /bin/dd,
# /sbin/blkdiscard, /sbin/mkfs.ext4, /sbin/fsck.ext4, /sbin/modprobe,
# /bin/mt-st, /usr/bin/gtar (GNU tar), /usr/sbin/mtx, /usr/bin/sg_*.

say() { echo "$*"; }
die() {
	echo "$*" >&2
	exit 1
}

report() {
	echo "$*"
	[ ! -e /proc/self/fd/9 ] || echo "$*" >&9
}

info() { report "GUEST-INFO $1 $2"; }

# step NAME CMD [ARG...]: CMD runs in a fresh `sh -e`, with this library,
# the scenario's variables and its functions, so that any failing command
# fails the step (in ash, set -e would not hold inside a function called
# from `step ... || ...`) and `exit` ends only the step. Its output goes to
# the console; the last line of it becomes the reason of a failure.
step() {
	_name=$1
	shift
	_t0=$(cut -d' ' -f1 /proc/uptime)
	say "--- step $_name: $*"
	_rc=0
	/bin/sh -e -c '. /lib/guest-lib.sh
. /scenario/env
. /scenario/scenario.sh
"$@"' "step-$_name" "$@" >/tmp/step.out 2>&1 || _rc=$?
	sed 's/^/    | /' /tmp/step.out
	_t1=$(cut -d' ' -f1 /proc/uptime)
	say "--- step $_name: exit $_rc after $(awk "BEGIN {print $_t1 - $_t0}") s"
	if [ $_rc = 0 ]; then
		report "GUEST-STEP $_name PASS"
	else
		_why=$(grep . /tmp/step.out | tail -n1)
		report "GUEST-STEP $_name FAIL exit $_rc${_why:+: $_why}"
	fi
	[ $_rc = 0 ]
}

# host_sync NAME [SECS]: "GUEST-SYNC NAME" to the runner, which runs its
# hook and answers "HOST NAME PASS" or "HOST NAME FAIL reason" on the same
# port; other lines are skipped. No answer within SECS (default 60) fails.
host_sync() {
	_name=$1
	_left=${2:-60}
	report "GUEST-SYNC $_name"
	_t_end=$(($(cut -d. -f1 /proc/uptime) + _left))
	while [ "$(cut -d. -f1 /proc/uptime)" -lt $_t_end ]; do
		_line=""
		# shellcheck disable=SC3045 # busybox ash has read -t
		read -r -t 5 _line <&9 || true
		case $_line in
		"HOST $_name PASS"*)
			report "GUEST-STEP $_name PASS"
			return 0
			;;
		"HOST $_name FAIL"*)
			report "GUEST-STEP $_name FAIL host: ${_line#"HOST $_name FAIL "}"
			return 1
			;;
		esac
	done
	report "GUEST-STEP $_name FAIL no answer from the host in $_left s"
	return 1
}

wait_for() {
	_n=$(($1 * 5))
	shift
	while [ $_n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		_n=$((_n - 1))
	done
	return 1
}

# The SCSI devices as sysfs shows them. TYPE from the peripheral device
# type (0 disk, 1 tape, 5 cd, 8 changer); TRANSPORT from the device's path
# (virtio-scsi: QEMU's LUNs; an iSCSI session: the kernel initiator's).
scsi_list() {
	for _d in /sys/bus/scsi/devices/*:*:*:*; do
		[ -e "$_d/type" ] || continue
		case $(cat "$_d/type") in
		0) _type=disk ;;
		1) _type=tape ;;
		5) _type="cd" ;;
		8) _type=changer ;;
		*) _type=type$(cat "$_d/type") ;;
		esac
		case $(readlink -f "$_d") in
		*/session*) _tr=iscsi ;;
		*/virtio*) _tr=virtio ;;
		*) _tr=other ;;
		esac
		_node=-
		for _n in "$_d"/block/* "$_d"/scsi_tape/st[0-9]* "$_d"/scsi_changer/*; do
			[ -e "$_n" ] || continue
			_node=${_n##*/}
			break
		done
		_sg=-
		for _n in "$_d"/scsi_generic/*; do
			[ -e "$_n" ] && _sg=${_n##*/}
		done
		echo "${_d##*/} $_type $_tr $_node $_sg $(cat "$_d/vendor") $(cat "$_d/model")"
	done
}

scsi_dev() {
	scsi_list | awk -v tr="$1" -v ty="$2" '$2 == ty && $3 == tr && $4 != "-" {
		print "/dev/" $4; found = 1; exit
	} END { exit !found }'
}
