#!/bin/bash
# READ CAPACITY(16) through iscsi-readcapacity16: last LBA and block length
# for 512- and 4096-byte blocks, file and null stores, and a LUN created on
# an existing file takes the file's size.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-readcap
lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/l1.img" $((100 * 1024 * 1024))
ctl_ok lun create "$IQN" 2 --backing "$T/l2.img" --size 256M --block-size 4096 >/dev/null
ctl_ok lun create "$IQN" 3 --backing nullstore --bstype null --size 2G >/dev/null
truncate -s 48M "$T/existing.img"
ctl_ok lun create "$IQN" 4 --backing "$T/existing.img" >/dev/null

check_cap() { # LUN LAST_LBA BLOCK_LEN
	assert_ok "READ CAPACITY(16) of LUN $1" iscsi-readcapacity16 "$(lun_url "$IQN" "$1")"
	printf '%s\n' "$OUT"
	assert_contains "$OUT" "RETURNED LOGICAL BLOCK ADDRESS:$2" "last LBA of LUN $1"
	assert_contains "$OUT" "LOGICAL BLOCK LENGTH IN BYTES:$3" "block length of LUN $1"
	assert_contains "$OUT" "Total size:$((($2 + 1) * $3))" "size of LUN $1"
}
check_cap 1 $((100 * 2048 - 1)) 512
check_cap 2 $((256 * 256 - 1)) 4096
check_cap 3 $((2 * 1024 * 2048 - 1)) 512
check_cap 4 $((48 * 2048 - 1)) 512
assert_eq $((48 * 1024 * 1024)) "$(stat -c %s "$T/existing.img")" "existing file size (must not change)"

lunard_stop
