#!/bin/bash
# REPORT LUNS (SPC-5 §6.33), which Debian's libiscsi 1.19 has no suite for:
# $BUILD/tests/reportluns (tests/integration/reportluns.c) checks the LUN
# list, its order and encodings (flat addressing from LUN 256 on), SELECT
# REPORT, allocation lengths and truncation, REPORT LUNS to a LUN that does
# not exist, and the unit attention REPORTED LUNS DATA HAS CHANGED when a
# LUN is added or deleted while the initiator is logged in.
. "$(dirname "$0")/lib.sh"

RL=$TESTBIN/reportluns
[ -x "$RL" ] || fail "$RL is missing: run make check"

MANY=iqn.2026-11.org.lunar:it-reportluns-many
SPARSE=iqn.2026-11.org.lunar:it-reportluns-sparse
lunard_start
make_target "$MANY"
make_target "$SPARSE"

null_lun() { # IQN LUN
	ctl_ok lun create "$1" "$2" --backing null --bstype null --size 16M >/dev/null
}

# Created out of order: the list comes back ascending. 16383 is the
# largest LUN lunar takes (flat addressing 7FFFh).
for l in 300 3 0 16383 5 1 2 4; do
	null_lun "$MANY" "$l"
done
log "LUNs 0..5, 300 and 16383, addressed to missing LUN 6"
assert_ok "REPORT LUNS, target with LUNs 0-5, 300, 16383" \
	"$RL" "$(lun_url "$MANY" 6)" 0,1,2,3,4,5,300,16383
printf '%s\n' "$OUT"

# Only LUN 1 and LUN 300: REPORT LUNS to LUN 0, which does not exist,
# and a LUN added then deleted while logged in.
null_lun "$SPARSE" 300
null_lun "$SPARSE" 1
ADD="'$LUNARCTL' --control '$SOCK' lun create $SPARSE 2 --backing null --bstype null --size 16M >/dev/null"
DEL="'$LUNARCTL' --control '$SOCK' lun delete $SPARSE 2 >/dev/null"
log "LUNs 1 and 300, addressed to missing LUN 0; LUN 2 added and deleted"
assert_ok "REPORT LUNS, target with LUNs 1 and 300, LUN 2 added and deleted" \
	"$RL" "$(lun_url "$SPARSE" 0)" 1,300 "$ADD" 1,2,300 "$DEL" 1,300
printf '%s\n' "$OUT"

# iscsi-ls sees the same inventory.
assert_ok "iscsi-ls -s" iscsi-ls -s "$(portal_url)"
assert_contains "$OUT" "$SPARSE" "iscsi-ls"

lunard_alive || fail "lunard died"
lunard_stop
