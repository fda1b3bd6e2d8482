#!/bin/bash
# UNMAP and GET LBA STATUS on a thin 512e LU (512-byte logical blocks in
# 4096-byte physical blocks): $BUILD/tests/lba_status
# (tests/integration/lba_status.c) runs the scenario of libiscsi's
# GetLBAStatus.UnmapSingle with the descriptors SBC-4 requires (that test
# wants the first descriptor after the requested LBA when there are 8
# logical blocks per physical block; see tests/conformance/allowlist), and
# checks that an UNMAP of part of a physical block leaves its other
# logical blocks intact, the REPORT TYPE filters and the capacity edges.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-lba-status
[ -x "$TESTBIN/lba_status" ] || fail "$TESTBIN/lba_status is missing: run make check"

lunard_start
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --backing "$T/thin.img" --size 64M --thin \
	--physical-block-size 4096 >/dev/null

rc=0
run_bounded 120 "$TESTBIN/lba_status" "$(lun_url "$IQN" 1)" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ $rc = 0 ] || fail "lba_status failed (status $rc)"
assert_contains "$(cat "$T/out")" "ok" "lba_status verdict"

# The file really has holes where the LBAs were unmapped: the last round
# unmapped the first 8 blocks (one 4 KiB file system block).
used_kb=$(du -k "$T/thin.img" | cut -f1)
log "thin.img uses $used_kb KiB of 64 MiB"
[ "$used_kb" -lt 1024 ] || fail "thin.img uses $used_kb KiB: unmapped blocks were not deallocated"

lunard_alive || fail "lunard died"
lunard_stop
