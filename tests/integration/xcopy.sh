#!/bin/bash
# Third-party copy end to end: EXTENDED COPY (LID1) of 8 MiB of known data
# from LUN 1 to LUN 2 of one target, and from a LUN of one target to a LUN
# of another (the copy manager finds LUs across targets), checked with
# COPY STATUS and by reading the destination back (tests/integration/
# xcopy.c); a read-only destination refused with DATA PROTECT; then QEMU's
# copy offloading (qemu-img convert -C, whose trace shows each EXTENDED
# COPY it sent) between the two targets, compared with qemu-img compare
# and against the backing files.
. "$(dirname "$0")/lib.sh"

A=iqn.2026-11.org.lunar:it-xcopy-a
B=iqn.2026-11.org.lunar:it-xcopy-b
MIB=8
lunard_start
make_target "$A"
make_target "$B"
add_file_lun "$A" 1 "$T/a1.img" $((16 * 1024 * 1024))
add_file_lun "$A" 2 "$T/a2.img" $((16 * 1024 * 1024))
add_file_lun "$B" 1 "$T/b1.img" $((16 * 1024 * 1024))
truncate -s 16M "$T/ro.img"
ctl_ok lun create "$A" 3 --backing "$T/ro.img" --readonly >/dev/null

log "EXTENDED COPY of $MIB MiB, LUN 1 to LUN 2 of one target"
assert_ok "xcopy A/1 -> A/2" "$TESTBIN/xcopy" "$(lun_url "$A" 1)" \
	"$(lun_url "$A" 2)" "$MIB" "$(lun_url "$A" 3)"
log "$OUT"
cmp -n $((MIB * 1024 * 1024)) "$T/a1.img" "$T/a2.img" ||
	fail "the backing file of LUN 2 does not hold the copied bytes"
cmp -n $((MIB * 1024 * 1024)) "$T/ro.img" /dev/zero ||
	fail "the read-only LUN was written"

log "EXTENDED COPY of $MIB MiB across targets, A/1 to B/1"
assert_ok "xcopy A/1 -> B/1" "$TESTBIN/xcopy" "$(lun_url "$A" 1)" \
	"$(lun_url "$B" 1)" "$MIB"
log "$OUT"
cmp -n $((MIB * 1024 * 1024)) "$T/a1.img" "$T/b1.img" ||
	fail "the backing file of B/1 does not hold the copied bytes"

log "qemu-img convert -C (copy offloading) of B/1 onto A/2"
random_file "$T/src.raw" 16
assert_ok "qemu-img writes B/1" \
	qemu-img convert -n -f raw -O raw "$T/src.raw" "$(lun_url "$B" 1)"
# -C falls back to reads and writes when offloading fails: its trace
# events tell that every range went through EXTENDED COPY.
assert_ok "qemu-img copy offload B/1 -> A/2" \
	qemu-img --trace iscsi_xcopy convert -C -n -f raw -O raw \
	"$(lun_url "$B" 1)" "$(lun_url "$A" 2)"
good=$(printf '%s\n' "$OUT" | grep -c '^iscsi_xcopy .* ret 0$' || true)
bad=$(printf '%s\n' "$OUT" | grep '^iscsi_xcopy ' | grep -vc ' ret 0$' || true)
[ "$good" -gt 0 ] ||
	fail "qemu-img did not offload the copy (no iscsi_xcopy trace): $OUT"
assert_eq 0 "$bad" "EXTENDED COPY commands of qemu-img that failed"
log "qemu-img offloaded the copy in $good EXTENDED COPY commands"
assert_ok "qemu-img compare B/1 A/2" \
	qemu-img compare -f raw -F raw "$(lun_url "$B" 1)" "$(lun_url "$A" 2)"
cmp "$T/src.raw" "$T/a2.img" ||
	fail "the backing file of A/2 does not hold what qemu-img copied"

lunard_stop
