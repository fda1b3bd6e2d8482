#!/bin/bash
# Initiator ACLs: a target with no ACL admits nobody; a named initiator is
# admitted and any other refused; ALL admits everyone; deleting the entry
# refuses again. Refusals are login failures, not crashes or hangs.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-acl
GOOD=iqn.2026-11.org.lunar:initiator-good
OTHER=iqn.2026-11.org.other:initiator
lunard_start
ctl_ok target create "$IQN" >/dev/null
add_file_lun "$IQN" 1 "$T/l1.img" $((16 * 1024 * 1024))
URL=$(lun_url "$IQN" 1)

assert_fails "login to a target without ACL" iscsi-inq -i "$GOOD" "$URL"
assert_contains "$OUT" "Login Failed" "login to a target without ACL"
assert_not_contains "$OUT" "Peripheral" "login to a target without ACL"

ctl_ok acl add "$IQN" "$GOOD" >/dev/null
assert_ok "the admitted initiator" iscsi-inq -i "$GOOD" "$URL"
assert_contains "$OUT" "Peripheral Device Type:DIRECT_ACCESS" "INQUIRY of the admitted initiator"
assert_fails "another initiator" iscsi-inq -i "$OTHER" "$URL"
assert_contains "$OUT" "Login Failed" "another initiator"
# Names are compared whole: a prefix of an admitted name is not admitted.
assert_fails "a prefix of the admitted name" iscsi-inq -i "${GOOD%good}" "$URL"

ctl_ok acl add "$IQN" ALL >/dev/null
assert_ok "anyone with ALL" iscsi-inq -i "$OTHER" "$URL"
ctl_ok acl delete "$IQN" ALL >/dev/null
assert_fails "other initiator after deleting ALL" iscsi-inq -i "$OTHER" "$URL"
ctl_ok acl delete "$IQN" "$GOOD" >/dev/null
assert_fails "the formerly admitted initiator" iscsi-inq -i "$GOOD" "$URL"

lunard_alive || fail "lunard died during refused logins"
lunard_stop
