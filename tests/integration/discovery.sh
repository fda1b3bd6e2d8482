#!/bin/bash
# SendTargets discovery and REPORT LUNS through iscsi-ls: every target is
# listed with this portal, and each LUN with its type and size.
. "$(dirname "$0")/lib.sh"

A=iqn.2026-11.org.lunar:it-discovery-a
B=iqn.2026-11.org.lunar:it-discovery-b
lunard_start
make_target "$A"
add_file_lun "$A" 1 "$T/a1.img" $((64 * 1024 * 1024))
ctl_ok lun create "$A" 2 --backing nullstore --bstype null --size 1G >/dev/null
make_target "$B"
add_file_lun "$B" 7 "$T/b7.img" $((16 * 1024 * 1024))

assert_ok "iscsi-ls discovery" iscsi-ls -s "$(portal_url)"
log "iscsi-ls said:"
printf '%s\n' "$OUT"
assert_contains "$OUT" "Target:$A Portal:127.0.0.1:$PORT" "target A in discovery"
assert_contains "$OUT" "Target:$B Portal:127.0.0.1:$PORT" "target B in discovery"
# iscsi-ls prints sizes in MiB rounded down from (last LBA * block size).
assert_contains "$OUT" "Lun:1    Type:DIRECT_ACCESS (Size:63M)" "LUN 1 of A (64 MiB file)"
assert_contains "$OUT" "Lun:2    Type:DIRECT_ACCESS (Size:1023M)" "LUN 2 of A (1 GiB null)"
assert_contains "$OUT" "Lun:7    Type:DIRECT_ACCESS (Size:15M)" "LUN 7 of B (16 MiB file)"
# REPORT LUNS lists exactly the configured LUNs: no LUN 0 was created.
assert_not_contains "$OUT" "Lun:0 " "LUN list (no LUN 0 configured)"
assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c '^Lun:')" "number of LUNs listed"

# A LUN added or removed while running shows up in the next discovery.
ctl_ok lun delete "$A" 2 >/dev/null
assert_ok "iscsi-ls after lun delete" iscsi-ls -s "$(portal_url)"
assert_not_contains "$OUT" "Lun:2 " "LUN 2 after deleting it"
assert_contains "$OUT" "Lun:1    Type:DIRECT_ACCESS (Size:63M)" "LUN 1 after deleting LUN 2"

lunard_stop
