#!/bin/bash
# CHAP (RFC 7143 §12.1.3): a target bound to an account admits the right
# user and secret, and refuses a wrong secret, an unknown user and an
# initiator that offers no CHAP at all. Unbinding opens the target again.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-chap
OPEN=iqn.2026-11.org.lunar:it-chap-open
USER_NAME=alice
SECRET=S3cretSecret12xyz
lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((16 * 1024 * 1024))
make_target "$OPEN"
add_file_lun "$OPEN" 1 "$T/l2.img" $((16 * 1024 * 1024))
ctl_ok account create "$USER_NAME" --password "$SECRET" >/dev/null
ctl_ok account bind "$IQN" "$USER_NAME" >/dev/null

# The account list names the binding and never shows the secret.
listing=$(ctl_ok account list)
assert_contains "$listing" "$USER_NAME" "account list"
assert_not_contains "$listing" "$SECRET" "account list (secret must not be shown)"

assert_ok "login with the right secret" \
	iscsi-inq "$(lun_url "$IQN" 1 "$USER_NAME" "$SECRET")"
assert_contains "$OUT" "Peripheral Device Type:DIRECT_ACCESS" "INQUIRY after CHAP login"
assert_ok "I/O after a CHAP login" \
	iscsi-readcapacity16 "$(lun_url "$IQN" 1 "$USER_NAME" "$SECRET")"

assert_fails "login with a wrong secret" \
	iscsi-inq "$(lun_url "$IQN" 1 "$USER_NAME" WrongSecret123456)"
assert_contains "$OUT" "Authentication failure" "wrong secret"
assert_fails "login with an unknown user" \
	iscsi-inq "$(lun_url "$IQN" 1 mallory "$SECRET")"
assert_contains "$OUT" "Authentication failure" "unknown user"
assert_fails "login without CHAP" iscsi-inq "$(lun_url "$IQN" 1)"
# A secret one character short of the right one.
assert_fails "login with a truncated secret" \
	iscsi-inq "$(lun_url "$IQN" 1 "$USER_NAME" "${SECRET%?}")"

# Another target without an account binding is not affected.
assert_ok "target without CHAP" iscsi-inq "$(lun_url "$OPEN" 1)"

# The daemon is unharmed by the failures.
assert_ok "right secret again" \
	iscsi-inq "$(lun_url "$IQN" 1 "$USER_NAME" "$SECRET")"

# A bound account cannot be deleted; after unbinding the target is open.
ctl_fails account delete "$USER_NAME"
assert_contains "$CTL_OUT" "$USER_NAME" "error deleting a bound account"
ctl_ok account unbind "$IQN" "$USER_NAME" >/dev/null
assert_ok "login after unbind" iscsi-inq "$(lun_url "$IQN" 1)"
ctl_ok account delete "$USER_NAME" >/dev/null

# Mutual CHAP: the target proves itself with its outgoing account.
# (libiscsi takes the target's expected credentials as URL arguments.)
MUSER=mutual-in
MSECRET=MutualInSecret1
TUSER=mutual-target
TSECRET=TargetSideSecret2
ctl_ok account create "$MUSER" --password "$MSECRET" >/dev/null
ctl_ok account create "$TUSER" --password "$TSECRET" >/dev/null
ctl_ok account bind "$IQN" "$MUSER" >/dev/null
ctl_ok account bind "$IQN" "$TUSER" --outgoing >/dev/null
murl() { # TARGET_SECRET_THE_INITIATOR_EXPECTS
	echo "$(lun_url "$IQN" 1 "$MUSER" "$MSECRET")?target_user=$TUSER&target_password=$1"
}
assert_ok "mutual CHAP with both secrets right" iscsi-inq "$(murl "$TSECRET")"
assert_contains "$OUT" "DIRECT_ACCESS" "mutual CHAP login"
# The initiator must refuse a target that does not know the secret it expects.
assert_fails "mutual CHAP, target answers with another secret" \
	iscsi-inq "$(murl WrongTargetSecret3)"
assert_contains "$OUT" "Invalid CHAP_R response from the target" "mutual CHAP, wrong target secret"
# With an outgoing account bound, one-way CHAP is not enough.
assert_fails "one-way CHAP where mutual is required" \
	iscsi-inq "$(lun_url "$IQN" 1 "$MUSER" "$MSECRET")"
assert_contains "$OUT" "Authentication failure" "one-way CHAP where mutual is required"

lunard_stop
