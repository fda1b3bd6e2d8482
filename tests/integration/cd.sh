#!/bin/bash
# A CD/DVD LU (--type cd, MMC-6) over an ISO image made by xorriso:
# $BUILD/tests/cd_io (tests/integration/cd_io.c) checks INQUIRY (device
# type 05h, removable), READ CAPACITY, that READ (10)/(12) return the
# image's bytes, GET CONFIGURATION, READ TOC, that writes do not exist,
# and eject and load with PREVENT ALLOW MEDIUM REMOVAL and the media
# events; the LU is shown as a read-only cd with 2048-byte blocks, and
# lunard refuses the options a CD cannot have; it comes back as a cd
# from the saved configuration; then cdb_fuzz's random CDBs against it.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-cd
[ -x "$TESTBIN/cd_io" ] || fail "$TESTBIN/cd_io is missing: run make check"
command -v xorriso >/dev/null || fail "xorriso is missing: run scripts/deps.sh test"

mkdir -p "$T/tree/docs"
head -c 300000 /dev/urandom >"$T/tree/random.bin"
seq 1 20000 >"$T/tree/docs/numbers.txt"
xorriso -as mkisofs -quiet -V LUNAR_CD -o "$T/disc.iso" "$T/tree" 2>"$T/xorriso.log" ||
	fail "xorriso: $(cat "$T/xorriso.log")"
sum=$(md5sum <"$T/disc.iso")

CONF=$T/conf/lunar.json
mkdir -p "$T/conf"
lunard_start --config "$CONF"
make_target "$IQN"
ctl_fails lun create "$IQN" 1 --type cd --backing "$T/disc.iso" --block-size 512
assert_contains "$CTL_OUT" "2048" "a cd refuses 512-byte blocks"
ctl_ok lun create "$IQN" 1 --type cd --backing "$T/disc.iso" >/dev/null
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "1: cd $T/disc.iso" "target show names the cd"
assert_contains "$show" "read-only" "a cd is read-only"

inq=$(iscsi-inq "$(lun_url "$IQN" 1)" 2>&1) || fail "iscsi-inq: $inq"
assert_contains "$inq" "VIRTUAL CD/DVD" "iscsi-inq product"

rc=0
run_bounded 120 "$TESTBIN/cd_io" "$(lun_url "$IQN" 1)" "$T/disc.iso" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "cd_io failed (status $rc)"
assert_contains "$(cat "$T/out")" "ok" "cd_io verdict"
[ "$(md5sum <"$T/disc.iso")" = "$sum" ] || fail "the image changed under a read-only LU"

# The admin's eject and load: a load needs the medium out, a missing
# image is named, a load without --backing puts the same disc back.
ctl_fails lun load "$IQN" 1 --backing "$T/disc.iso"
assert_contains "$CTL_OUT" "holds a medium; eject it first" "lun load with a medium in"
ctl_ok lun eject "$IQN" 1 >/dev/null
ctl_ok lun eject "$IQN" 1 >/dev/null # already out: nothing to do
ctl_fails lun load "$IQN" 1 --backing "$T/no-such.iso"
assert_contains "$CTL_OUT" "$T/no-such.iso" "lun load of a missing image"
ctl_ok lun load "$IQN" 1 >/dev/null
inq=$(iscsi-inq "$(lun_url "$IQN" 1)" 2>&1) || fail "iscsi-inq after eject and load: $inq"

# The cd survives a restart through the saved configuration.
ctl_ok config save >/dev/null
assert_contains "$(cat "$CONF")" '"type": "cd"' "the saved config names the cd"
lunard_stop
lunard_start --config "$CONF"
show=$(ctl_ok target show "$IQN")
assert_contains "$show" "1: cd $T/disc.iso" "the cd after a restart"
inq=$(iscsi-inq "$(lun_url "$IQN" 1)" 2>&1) || fail "iscsi-inq after restart: $inq"
assert_contains "$inq" "VIRTUAL CD/DVD" "iscsi-inq product after restart"

# Random and mutated CDBs against the cd's table (cdb_fuzz.c): every
# answer well formed, lunard alive, the LU still answering.
if [ -x "$TESTBIN/cdb_fuzz" ]; then
	rc=0
	run_bounded 120 "$TESTBIN/cdb_fuzz" "$(lun_url "$IQN" 1)" 5000 41 >"$T/fuzz" 2>&1 || rc=$?
	tail -n 3 "$T/fuzz"
	[ $rc = 0 ] || fail "cdb_fuzz on the cd: exit status $rc"
	assert_ok "iscsi-inq after fuzzing" iscsi-inq "$(lun_url "$IQN" 1)"
fi

lunard_alive || fail "lunard died"
lunard_stop
