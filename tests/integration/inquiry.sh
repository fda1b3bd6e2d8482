#!/bin/bash
# INQUIRY through iscsi-inq: the standard data of a disk, the supported VPD
# pages, the unit serial number (0x80) and the device identification
# (0x83) with an NAA designator, distinct per LUN and stable across a
# restart. (This iscsi-inq parses -c as decimal: 128 = 0x80, 131 = 0x83.)
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-inquiry
lunard_start --config "$T/lunar.json"
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((32 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/l2.img" $((32 * 1024 * 1024))

assert_ok "standard INQUIRY" iscsi-inq "$(lun_url "$IQN" 1)"
printf '%s\n' "$OUT"
assert_contains "$OUT" "Peripheral Qualifier:CONNECTED" "peripheral qualifier"
assert_contains "$OUT" "Peripheral Device Type:DIRECT_ACCESS" "device type"
assert_contains "$OUT" "CmdQue:1" "command queueing"
vendor=$(printf '%s\n' "$OUT" | sed -n 's/^Vendor://p')
[ -n "${vendor// /}" ] || fail "standard INQUIRY has an empty vendor identification"

assert_ok "VPD page list" iscsi-inq -e 1 -c 0 "$(lun_url "$IQN" 1)"
assert_contains "$OUT" "Page:0x80 UNIT_SERIAL_NUMBER" "supported VPD pages"
assert_contains "$OUT" "Page:0x83 DEVICE_IDENTIFICATION" "supported VPD pages"

serial_of() {
	assert_ok "VPD 0x80 of LUN $1" iscsi-inq -e 1 -c 128 "$(lun_url "$IQN" "$1")"
	printf '%s\n' "$OUT" | sed -n 's/^Unit Serial Number:\[ *\(.*\)\]$/\1/p'
}
naa_of() {
	assert_ok "VPD 0x83 of LUN $1" iscsi-inq -e 1 -c 131 "$(lun_url "$IQN" "$1")"
	printf '%s\n' "$OUT" >"$T/vpd83.$1"
	# The designator is binary; compare the whole page text instead.
	grep -q 'Designator Type:(3) NAA' "$T/vpd83.$1" ||
		fail "VPD 0x83 of LUN $1 has no NAA designator: $OUT"
	grep -q 'Association:(0) LOGICAL_UNIT' "$T/vpd83.$1" ||
		fail "VPD 0x83 of LUN $1 has no logical-unit designator: $OUT"
	md5sum <"$T/vpd83.$1" | cut -d' ' -f1
}

s1=$(serial_of 1)
s2=$(serial_of 2)
[ -n "$s1" ] || fail "LUN 1 has an empty unit serial number"
[ -n "$s2" ] || fail "LUN 2 has an empty unit serial number"
[ "$s1" != "$s2" ] || fail "LUNs 1 and 2 share the serial number '$s1'"
n1=$(naa_of 1)
n2=$(naa_of 2)
[ "$n1" != "$n2" ] || fail "LUNs 1 and 2 have identical device identification pages"

# Identity survives a restart from the saved configuration.
ctl_ok config save >/dev/null
lunard_stop
lunard_start --config "$T/lunar.json"
assert_eq "$s1" "$(serial_of 1)" "serial number of LUN 1 after restart"
assert_eq "$n1" "$(naa_of 1)" "device identification of LUN 1 after restart"

# A LUN that does not exist: libiscsi's login ends with TEST UNIT READY,
# which must get ILLEGAL REQUEST / LOGICAL UNIT NOT SUPPORTED.
assert_fails "iscsi-inq of unmapped LUN 9" iscsi-inq "$(lun_url "$IQN" 9)"
assert_contains "$OUT" "LOGICAL_UNIT_NOT_SUPPORTED" "sense for an unmapped LUN"

lunard_stop
