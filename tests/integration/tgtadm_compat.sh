#!/bin/bash
# The tgtadm-compatible path of lunarctl: the commands an existing tgt
# script runs create a target, a LUN and an ACL that initiators can use,
# and --op show reports them the way tgtadm does.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-tgtadm
lunard_start
truncate -s 32M "$T/disk.img"
ctl_ok --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" >/dev/null
ctl_ok --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
	--backing-store "$T/disk.img" >/dev/null
ctl_ok --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL >/dev/null

show=$(ctl_ok --lld iscsi --mode target --op show)
printf '%s\n' "$show"
assert_contains "$show" "Target 1: $IQN" "tgtadm show: target line"
assert_contains "$show" "LUN: 1" "tgtadm show: LUN line"
assert_contains "$show" "Type: disk" "tgtadm show: device type"
assert_contains "$show" "Backing store path: $T/disk.img" "tgtadm show: backing store"
assert_contains "$show" "ACL information:" "tgtadm show: ACL section"
assert_contains "$show" "ALL" "tgtadm show: ACL entry"

assert_ok "INQUIRY through the tgtadm-made target" iscsi-inq "$(lun_url "$IQN" 1)"
assert_contains "$OUT" "Peripheral Device Type:DIRECT_ACCESS" "tgtadm-made LUN"
assert_ok "capacity of the tgtadm-made LUN" iscsi-readcapacity16 "$(lun_url "$IQN" 1)"
assert_contains "$OUT" "Total size:$((32 * 1024 * 1024))" "tgtadm-made LUN size"

# The same objects through the native commands.
listing=$(ctl_ok target list)
assert_contains "$listing" "$IQN" "target list after tgtadm-style creation"

# Errors keep tgtadm's shape: an unknown tid is refused.
ctl_fails --lld iscsi --mode logicalunit --op new --tid 9 --lun 1 --backing-store "$T/disk.img"
# --device-type is lunar's --type: lunard names the types it has.
ctl_fails --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 \
	--backing-store "$T/disk.img" --device-type floppy
assert_contains "$CTL_OUT" "device type 'floppy' is unknown; this lunard has: " "tgtadm --device-type unknown"
assert_contains "$CTL_OUT" "disk" "tgtadm --device-type unknown: the disk is named"
ctl_ok --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 \
	--backing-store "$T/disk.img" --device-type disk --blocksize 4096 >/dev/null
show=$(ctl_ok --lld iscsi --mode target --op show)
assert_contains "$show" "Block size: 4096" "tgtadm --blocksize 4096"
ctl_ok --lld iscsi --mode logicalunit --op delete --tid 1 --lun 2 >/dev/null
ctl_ok --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
ctl_ok --lld iscsi --mode target --op delete --tid 1 >/dev/null
show=$(ctl --lld iscsi --mode target --op show 2>&1 || true)
assert_not_contains "$show" "$IQN" "tgtadm show after delete"

lunard_stop
