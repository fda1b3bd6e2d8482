#!/bin/bash
# The data path end to end with QEMU's initiator: 32 MiB of random data
# written with qemu-img convert, read back, compared byte for byte; the
# backing file holds exactly those bytes; an offset write in a 512-byte and
# a 4096-byte LUN lands where it should.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-qemu
lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((64 * 1024 * 1024))
ctl_ok lun create "$IQN" 2 --backing "$T/disk4k.img" --size 64M --block-size 4096 >/dev/null

random_file "$T/src.raw" 32
qemu_roundtrip "$T/src.raw" "$(lun_url "$IQN" 1)"
# What the initiator wrote is what the file holds (no offset, no shift).
cmp -n $((32 * 1024 * 1024)) "$T/src.raw" "$T/disk.img" ||
	fail "backing file $T/disk.img does not hold the bytes written"
# The rest of the LUN was never written: still zeros.
cmp -n $((32 * 1024 * 1024)) -i $((32 * 1024 * 1024)):0 "$T/disk.img" /dev/zero ||
	fail "the unwritten half of the LUN is not zeros"

qemu_roundtrip "$T/src.raw" "$(lun_url "$IQN" 2)"
cmp -n $((32 * 1024 * 1024)) "$T/src.raw" "$T/disk4k.img" ||
	fail "backing file of the 4096-byte LUN does not hold the bytes written"

# A second, different pass overwrites the first completely.
random_file "$T/src2.raw" 32
qemu_roundtrip "$T/src2.raw" "$(lun_url "$IQN" 1)"
cmp -n $((32 * 1024 * 1024)) "$T/src2.raw" "$T/disk.img" ||
	fail "second pass did not replace the data in the backing file"

lunard_stop
