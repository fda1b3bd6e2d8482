#!/bin/bash
# lunarctl's failures: each exits non-zero (never a crash), prints one
# message naming the object, and leaves the configuration as it was.
# Deleting a target with a logged-in session is refused without --force.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-ctl
MISSING=iqn.2026-11.org.lunar:no-such-target
[ -x "$TESTBIN/hold_session" ] || fail "$TESTBIN/hold_session is missing: run make check"

# No daemon on the socket: the message names the socket.
ctl_fails system show
assert_contains "$CTL_OUT" "$SOCK" "lunarctl without a daemon"

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((16 * 1024 * 1024))

# Unknown target.
ctl_fails lun create "$MISSING" 1 --backing "$T/x.img" --size 16M
assert_contains "$CTL_OUT" "$MISSING" "lun create on an unknown target"
[ ! -e "$T/x.img" ] || fail "a refused lun create left $T/x.img behind"
ctl_fails target show "$MISSING"
assert_contains "$CTL_OUT" "$MISSING" "target show of an unknown target"
ctl_fails target delete "$MISSING"
assert_contains "$CTL_OUT" "$MISSING" "target delete of an unknown target"
ctl_fails acl add "$MISSING" ALL
assert_contains "$CTL_OUT" "$MISSING" "acl add on an unknown target"

# Duplicates.
ctl_fails target create "$IQN"
assert_contains "$CTL_OUT" "$IQN" "creating an existing target"
ctl_fails lun create "$IQN" 1 --backing "$T/other.img" --size 16M
assert_contains "$CTL_OUT" "$IQN" "duplicate LUN (target named)"
assert_contains "$CTL_OUT" "1" "duplicate LUN (LUN named)"

# Bad names, numbers and sizes.
ctl_fails target create not-an-iscsi-name
assert_contains "$CTL_OUT" "not-an-iscsi-name" "invalid target name"
ctl_fails lun create "$IQN" 2 --backing "$T/bad.img" --size banana
assert_contains "$CTL_OUT" "banana" "unparsable size"
ctl_fails lun create "$IQN" 2 --backing "$T/bad.img" --size 0
ctl_fails lun create "$IQN" 2 --backing "$T/bad.img" --size 1000
assert_contains "$CTL_OUT" "1000" "size not a multiple of the block size"
[ ! -e "$T/bad.img" ] || fail "a refused lun create left $T/bad.img behind"
ctl_fails lun create "$IQN" 16384 --backing "$T/bad.img" --size 16M
assert_contains "$CTL_OUT" "16384" "LUN number out of range"
ctl_fails lun create "$IQN" 2 --backing "$T/missing.img"
assert_contains "$CTL_OUT" "$T/missing.img" "missing backing file without --size"
ctl_fails lun create "$IQN" 2 --backing "$T" --size 16M
assert_contains "$CTL_OUT" "$T" "a directory as backing store"
ctl_fails lun create "$IQN" 2 --backing x --bstype nosuchstore --size 16M
assert_contains "$CTL_OUT" "nosuchstore" "unknown backing store type"
ctl_fails lun create "$IQN" 2 --backing "$T/aio.img" --size 16M --bstype aio --buffered
assert_contains "$CTL_OUT" "direct I/O" "the aio store refuses buffered I/O"
ctl_fails lun create "$IQN" 2 --backing "$T/aio.img" --size 16M --direct --buffered
assert_contains "$CTL_OUT" "--buffered" "--direct with --buffered"
# The device type: an unknown one is named with the ones there are, and
# the type's own rules (a disk's block sizes) say what to give instead.
ctl_fails lun create "$IQN" 2 --type floppy --backing "$T/dt.img" --size 16M
assert_contains "$CTL_OUT" "device type 'floppy' is unknown; this lunard has: " "unknown device type"
assert_contains "$CTL_OUT" "disk" "unknown device type: the disk is named"
assert_contains "$CTL_OUT" "cd" "unknown device type: the cd is named"
ctl_fails lun create "$IQN" 2 --backing "$T/dt.img" --size 16M --block-size 1024
assert_contains "$CTL_OUT" "block size 1024 is not supported for a disk; use 512 or 4096" "a disk's block sizes"
ctl_fails lun create "$IQN" 2 --type cd --backing "$T/dt.img" --size 16M --block-size 512
assert_contains "$CTL_OUT" "block size 512 is not supported for a cd" "a cd's block size"
assert_contains "$CTL_OUT" "2048" "a cd's block size: the fix"
ctl_fails lun create "$IQN" 2 --type cd --backing "$T/dt.img" --size 16M --thin
assert_contains "$CTL_OUT" "cannot be thin" "a cd is not thin"
ctl_fails lun create "$IQN" 2 --backing "$T/dt.img" --size 16M --block-size four
assert_contains "$CTL_OUT" "bad block size 'four'" "unparsable block size"
[ ! -e "$T/dt.img" ] || fail "a refused lun create left $T/dt.img behind"
ctl_ok lun create "$IQN" 2 --type disk --backing "$T/dt.img" --size 16M --block-size 4096 >/dev/null
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "2: disk $T/dt.img" "lun show names the device type"
ctl_ok lun delete "$IQN" 2 >/dev/null
ctl_fails lun eject "$IQN" 1
assert_contains "$CTL_OUT" "is a disk, whose medium lunarctl does not eject" "lun eject of a disk"
ctl_fails lun load "$IQN" 9
assert_contains "$CTL_OUT" "has no LUN 9" "lun load of a LUN that does not exist"
ctl_fails lun delete "$IQN" 9
assert_contains "$CTL_OUT" "9" "deleting a LUN that does not exist"
ctl_fails account create shortpw --password short
assert_contains "$CTL_OUT" "shortpw" "a CHAP secret that is too short"
ctl_fails account bind "$IQN" nosuchuser
assert_contains "$CTL_OUT" "nosuchuser" "binding an unknown account"
ctl_fails no-such-command
ctl_fails target

# Nothing above changed the configuration.
listing=$(ctl_ok target list)
assert_contains "$listing" "$IQN" "target list after refused commands"
assert_not_contains "$listing" "$MISSING" "target list after refused commands"
luns=$(rpc '{"cmd": "target.show", "name": "'"$IQN"'"}')
assert_eq 1 "$(printf '%s' "$luns" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["luns"]))')" \
	"LUNs of $IQN after refused commands"

# A target with a logged-in session.
run_bounded 60 "$TESTBIN/hold_session" "$(lun_url "$IQN" 1)" 50 >"$T/hold.out" 2>&1 &
hold_pid=$!
EXTRA_PIDS+=("$hold_pid")
for _ in $(seq 100); do
	grep -q logged-in "$T/hold.out" && break
	kill -0 "$hold_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q logged-in "$T/hold.out" || fail "hold_session did not log in: $(cat "$T/hold.out")"
ctl_fails target delete "$IQN"
assert_contains "$CTL_OUT" "$IQN" "deleting a target with a session"
assert_contains "$CTL_OUT" "--force" "deleting a target with a session (hint)"
kill -0 "$hold_pid" 2>/dev/null || fail "the refused delete dropped the session"
ctl_ok target delete "$IQN" --force >/dev/null
rc=0
wait "$hold_pid" || rc=$?
[ $rc = 3 ] || fail "the session should have been dropped by --force (status 3), got $rc: $(cat "$T/hold.out")"
listing=$(ctl_ok target list)
assert_not_contains "$listing" "$IQN" "target list after a forced delete"
assert_fails "login to the deleted target" iscsi-inq "$(lun_url "$IQN" 1)"

lunard_stop
