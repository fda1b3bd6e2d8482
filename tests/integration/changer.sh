#!/bin/bash
# A medium changer (--type changer, SMC-3) at LUN 0 with two cd drives at
# LUNs 1 and 2, cartridges being ISO images made by xorriso: lunarctl
# builds the library (slots, drives, cartridges) and refuses what it must,
# with messages that name the object; $BUILD/tests/changer_io
# (tests/integration/changer_io.c) checks READ ELEMENT STATUS, MOVE MEDIUM
# to and from the drives (which then read the image) and its errors, the
# other SMC commands; an initiator's PREVENT locks the import/export
# element against lunarctl and sees MEDIUM MAY HAVE CHANGED after the
# admin's change; the inventory and the drives' media survive a restart;
# a corrupt state file is named at LU creation; then cdb_fuzz's random
# CDBs against the changer.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-changer
[ -x "$TESTBIN/changer_io" ] || fail "$TESTBIN/changer_io is missing: run make check"
command -v xorriso >/dev/null || fail "xorriso is missing: run scripts/deps.sh test"

for v in A B; do
	mkdir -p "$T/tree$v"
	head -c 200000 /dev/urandom >"$T/tree$v/random.bin"
	xorriso -as mkisofs -quiet -V "LUNAR_$v" -o "$T/$v.iso" "$T/tree$v" 2>"$T/xorriso.log" ||
		fail "xorriso: $(cat "$T/xorriso.log")"
done

CONF=$T/conf/lunar.json
STATEF=$T/library.json
mkdir -p "$T/conf"
lunard_start --config "$CONF"
make_target "$IQN"

# A missing state file is a new library (one import/export element).
ctl_ok lun create "$IQN" 0 --type changer --backing "$STATEF" >/dev/null
[ -s "$STATEF" ] || fail "the new changer wrote no state file"
ctl_ok lun create "$IQN" 1 --type cd --backing "$T/B.iso" >/dev/null
ctl_ok lun create "$IQN" 2 --type cd --backing "$T/B.iso" >/dev/null
ctl_fails lun create "$IQN" 3 --type changer --backing "$T/other.json" --size 1M
assert_contains "$CTL_OUT" "leave the size out" "a changer has no size"

ctl_ok changer slot add "$IQN" 0 --count 4 >/dev/null
ctl_ok changer drive add "$IQN" 0 1 >/dev/null
ctl_ok changer drive add "$IQN" 0 2 >/dev/null
# Drives follow the inventory: added empty, the cd's disc goes out.
assert_contains "$(ctl_ok target show "$IQN")" "1: cd" "drive 1 is shown"
ctl_fails changer drive add "$IQN" 0 1
assert_contains "$CTL_OUT" "already the drive" "a drive added twice"
ctl_fails changer drive add "$IQN" 0 9
assert_contains "$CTL_OUT" "has no LUN 9" "a drive that is no LU"
ctl_fails changer drive add "$IQN" 0 0
assert_contains "$CTL_OUT" "takes no medium" "the changer as its own drive"
ctl_ok changer cartridge add "$IQN" 0 --slot 0x1000 --barcode A0001 --file "$T/A.iso" >/dev/null
ctl_ok changer cartridge add "$IQN" 0 --first-empty --barcode B0002 --file "$T/B.iso" >/dev/null
ctl_fails changer cartridge add "$IQN" 0 --first-empty --barcode A0001 --file "$T/B.iso"
assert_contains "$CTL_OUT" "already has a cartridge with barcode A0001" "barcodes are unique"
ctl_fails changer cartridge add "$IQN" 0 --slot 4096 --barcode C0003 --file "$T/B.iso"
assert_contains "$CTL_OUT" "holds cartridge A0001" "a full slot"
ctl_fails changer cartridge add "$IQN" 0 --slot 4096 --barcode C0003 --file "$T/none.iso"
assert_contains "$CTL_OUT" "$T/none.iso" "a missing cartridge file"
ctl_fails changer cartridge add "$IQN" 0 --slot 1 --barcode C0003 --file "$T/B.iso"
assert_contains "$CTL_OUT" "no slot or import/export element at address 1" "a drive is no slot"
ctl_fails changer show "$IQN" 1
assert_contains "$CTL_OUT" "is a cd, not a changer" "changer show of a cd"
ctl_fails changer slot delete "$IQN" 0 --count 4
assert_contains "$CTL_OUT" "holds cartridge" "deleting full slots"
show=$(ctl_ok changer show "$IQN" 0)
echo "$show"
assert_contains "$show" "0x1000  slot" "slot 1000h is shown"
assert_contains "$show" "A0001" "cartridge A0001 is shown"
assert_contains "$show" "drive LUN 2" "drive 2 is shown"

rc=0
run_bounded 60 "$TESTBIN/changer_io" main "$(lun_url "$IQN" 0)" "$(lun_url "$IQN" 1)" \
	"$(lun_url "$IQN" 2)" "$T/A.iso" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "changer_io main failed (status $rc)"

# Cartridges in drives stay; the lunarctl view agrees with the moves.
ctl_fails changer cartridge delete "$IQN" 0 --barcode A0001
assert_contains "$CTL_OUT" "is in the drive" "deleting a cartridge in a drive"
assert_contains "$(ctl_ok changer show "$IQN" 0)" "0x0100  import/export  yes" "B0002 in the mail slot"

# An initiator's PREVENT locks the mail slot against the operator, and
# the operator's change is a unit attention for it.
mkfifo "$T/hold.in"
run_bounded 60 "$TESTBIN/changer_io" hold "$(lun_url "$IQN" 0)" <"$T/hold.in" >"$T/hold.out" 2>&1 &
holder=$!
exec 3>"$T/hold.in"
for _ in $(seq 100); do
	grep -q held "$T/hold.out" && break
	sleep 0.1
done
grep -q held "$T/hold.out" || fail "changer_io hold: $(cat "$T/hold.out")"
ctl_fails changer cartridge delete "$IQN" 0 --barcode B0002
assert_contains "$CTL_OUT" "import/export elements are locked" "a locked mail slot"
ctl_ok changer slot add "$IQN" 0 >/dev/null
exec 3>&-
rc=0
wait $holder || rc=$?
cat "$T/hold.out"
[ $rc = 0 ] || fail "changer_io hold failed (status $rc)"
ctl_ok changer slot delete "$IQN" 0 >/dev/null
ctl_ok changer cartridge delete "$IQN" 0 --barcode B0002 >/dev/null
ctl_ok changer cartridge add "$IQN" 0 --slot 0x100 --barcode B0002 --file "$T/B.iso" >/dev/null

# Restart: the inventory from the state file; drive 2 holds A0001 again,
# drive 1 (saved with a disc in the config) is emptied to agree.
ctl_ok config save >/dev/null
lunard_stop
lunard_start --config "$CONF"
rc=0
run_bounded 60 "$TESTBIN/changer_io" verify "$(lun_url "$IQN" 0)" "$(lun_url "$IQN" 1)" \
	"$(lun_url "$IQN" 2)" "$T/A.iso" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "changer_io verify failed (status $rc)"

# Random and mutated CDBs against the changer's table.
if [ -x "$TESTBIN/cdb_fuzz" ]; then
	rc=0
	run_bounded 120 "$TESTBIN/cdb_fuzz" "$(lun_url "$IQN" 0)" 3000 43 >"$T/fuzz" 2>&1 || rc=$?
	tail -n 3 "$T/fuzz"
	[ $rc = 0 ] || fail "cdb_fuzz on the changer: exit status $rc"
	assert_ok "iscsi-inq after fuzzing" iscsi-inq "$(lun_url "$IQN" 0)"
fi

# A corrupt state file is named, with what is wrong, at LU creation.
echo '{"format": "lunar-changer", "version": 1, "drives": 3}' >"$T/bad.json"
ctl_fails lun create "$IQN" 5 --type changer --backing "$T/bad.json"
assert_contains "$CTL_OUT" "$T/bad.json" "a corrupt state file is named"
assert_contains "$CTL_OUT" "\"drives\" is missing or not an array" "what is wrong with it"
echo '{"format": ' >"$T/bad2.json"
ctl_fails lun create "$IQN" 5 --type changer --backing "$T/bad2.json"
assert_contains "$CTL_OUT" "is not valid JSON" "a state file that does not parse"

lunard_alive || fail "lunard died"
lunard_stop
