#!/bin/bash
# Random and mutated CDBs (tests/integration/cdb_fuzz.c, fixed seeds) from
# three sessions at once, against a thin 512e LU and then a removable LU,
# while another target's LU carries ordinary traffic (qemu-img round trips
# of 1 MiB). Every answer must be a well-formed SCSI status with sense;
# lunard must survive and exit cleanly (under make check SANITIZE=1,
# without a sanitizer report); the bystander's data must come back intact;
# and the fuzzed LUs must still answer a fresh initiator. About 15 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-cdb-fuzz
OTHER=iqn.2026-11.org.lunar:it-cdb-fuzz-bystander
FUZZ=$TESTBIN/cdb_fuzz
COUNT=${CDB_FUZZ_COUNT:-20000}
[ -x "$FUZZ" ] || fail "$FUZZ is missing: run make check"

lunard_start
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --backing "$T/thin.img" --size 4M --thin \
	--physical-block-size 4096 >/dev/null
ctl_ok lun create "$IQN" 2 --backing "$T/rm.img" --size 4M --removable >/dev/null
make_target "$OTHER"
add_file_lun "$OTHER" 1 "$T/other.img" $((8 * 1024 * 1024))
random_file "$T/data" 1

for lun in 1 2; do
	pids=()
	for k in 1 2 3; do
		run_bounded 240 "$FUZZ" "$(lun_url "$IQN" $lun)" "$COUNT" \
			$((lun * 10 + k)) >"$T/fuzz.$lun.$k" 2>&1 &
		pids+=($!)
	done
	# The bystander works while the fuzzers run.
	for _ in 1 2 3; do
		qemu_roundtrip "$T/data" "$(lun_url "$OTHER" 1)"
	done
	for k in 1 2 3; do
		rc=0
		wait "${pids[$((k - 1))]}" || rc=$?
		cat "$T/fuzz.$lun.$k"
		[ $rc = 0 ] || fail "cdb_fuzz on LUN $lun, seed $((lun * 10 + k)): exit status $rc"
	done
	lunard_alive || fail "lunard died while fuzzing LUN $lun"
done

# The fuzzed LUs still answer (their state is whatever the fuzzers left:
# reservations, an ejected medium, ...).
for lun in 1 2; do
	assert_ok "iscsi-inq on fuzzed LUN $lun" iscsi-inq "$(lun_url "$IQN" $lun)"
	assert_contains "$OUT" "Peripheral Device Type" "iscsi-inq on LUN $lun"
done
qemu_roundtrip "$T/data" "$(lun_url "$OTHER" 1)"
lunard_alive || fail "lunard died"
lunard_stop
