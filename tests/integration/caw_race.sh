#!/bin/bash
# COMPARE AND WRITE atomicity against a running lunard: the caw_race
# program races COMPARE AND WRITE from two sessions (exactly one must win
# each round) and COMPARE AND WRITE against an ordinary WRITE from a third
# session (the result must be serializable), 300 rounds each. lunard runs
# with two reactors, so the sessions do not all share one thread. About
# 10 s.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-caw-race
[ -x "$TESTBIN/caw_race" ] || fail "$TESTBIN/caw_race is missing: run make check"

lunard_start --threads 2
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk.img" $((16 * 1024 * 1024))

url=$(lun_url "$IQN" 1)
rc=0
run_bounded 240 "$TESTBIN/caw_race" "$url" "$url" "$url" 300 \
	>"$T/race.out" 2>&1 || rc=$?
cat "$T/race.out"
[ $rc = 0 ] || fail "caw_race failed (status $rc)"
assert_contains "$(cat "$T/race.out")" "ok" "caw_race verdict"
lunard_alive || fail "lunard died during the race"
lunard_stop
