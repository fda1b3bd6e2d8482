#!/bin/bash
# CRC32C digests (RFC 7143 §11.2.3, §13.1).
# (a) libiscsi asking for HeaderDigest=CRC32C: lunard agrees (its login log
#     line says "digests CRC32C/None", `session list --json` shows
#     header_digest true while the session is up), 1 MiB of random data
#     written in several WRITE(10)s reads back identical and is what the
#     backing file holds.
# (b) a hand-made initiator (digests.c, iscsi_raw.h) with header and data
#     digests, MaxRecvDataSegmentLength=4096 and 16 KiB bursts checks every
#     PDU of writes through immediate data, unsolicited Data-Out and R2Ts
#     and of reads in many Data-In PDUs; a SCSI Command with a bad header
#     digest loses its connection unanswered, a Data-Out with a bad data
#     digest gets Reject reason 0x02 and its connection closed, neither
#     changes the LUN, and another session keeps working throughout.
. "$(dirname "$0")/lib.sh"

IQN=iqn.2026-11.org.lunar:it-digests
INIT=iqn.2026-11.org.lunar:digests
[ -x "$TESTBIN/digests" ] || fail "$TESTBIN/digests is missing: run make check"

lunard_start
make_target "$IQN"
add_file_lun "$IQN" 1 "$T/disk1.img" $((64 * 1024 * 1024))
add_file_lun "$IQN" 2 "$T/disk2.img" $((16 * 1024 * 1024))

# sessions_json [IQN]: the session list as JSON
sessions_json() { ctl_ok --json session list "$@"; }

# ---- (a) libiscsi, HeaderDigest=CRC32C ----
random_file "$T/src.raw" 1
# timeout itself (not the run_bounded function, which would run in a
# subshell) is the background job: SIGTERM to it reaches the client.
timeout -k 5 120 "$TESTBIN/digests" libiscsi "$(lun_url "$IQN" 1)" \
	"$T/src.raw" 60 >"$T/a.out" 2>&1 &
a_pid=$!
EXTRA_PIDS+=("$a_pid")
for _ in $(seq 600); do
	grep -q '^ready' "$T/a.out" && break
	kill -0 "$a_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^ready' "$T/a.out" || fail "libiscsi client did not get to 'ready': $(cat "$T/a.out")"
cat "$T/a.out"

grep -q "$INIT:libiscsi (127.0.0.1:[0-9]*) logged in to $IQN, .*digests CRC32C/None" \
	"$LUNARD_LOG" || fail "lunard did not log a login of $INIT:libiscsi with 'digests CRC32C/None'; its logins: $(grep 'logged in' "$LUNARD_LOG")"
json=$(sessions_json "$IQN")
verdict=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
if len(s) != 1:
    print("expected 1 session, got %d: %s" % (len(s), sys.argv[1]))
    sys.exit()
s = s[0]
c = s["connections"]
if s["initiator"] != sys.argv[2] or len(c) != 1:
    print("expected one connection of %s, got %s" % (sys.argv[2], s))
elif c[0]["header_digest"] is not True or c[0]["data_digest"] is not False:
    print("expected header_digest true, data_digest false, got %s / %s"
          % (c[0]["header_digest"], c[0]["data_digest"]))
else:
    print("ok")
' "$json" "$INIT:libiscsi")
assert_eq ok "$verdict" "session list --json while the CRC32C session is logged in"

kill -TERM "$a_pid"
rc=0
wait "$a_pid" || rc=$?
[ $rc = 0 ] || fail "libiscsi client exited $rc after SIGTERM, expected 0: $(cat "$T/a.out")"
grep -q '^logged-out' "$T/a.out" || fail "libiscsi client did not log out: $(cat "$T/a.out")"
cmp -n $((1024 * 1024)) "$T/src.raw" "$T/disk1.img" ||
	fail "the backing file of LUN 1 does not hold the 1 MiB written with header digests"
log "(a) libiscsi with HeaderDigest=CRC32C: 1 MiB written, read back and on disk"

# ---- (b) raw initiator, header and data digests ----
out=$T/raw.out
rc=0
run_bounded 150 "$TESTBIN/digests" raw "127.0.0.1:$PORT" "$IQN" 2 \
	"$T/expect.img" >"$out" 2>&1 || rc=$?
cat "$out"
[ $rc = 0 ] || fail "raw digest client failed (status $rc)"
assert_contains "$(cat "$out")" "session 3: Data-Out with a bad data digest: Reject reason 0x02" \
	"raw client report"
cmp -n $((512 * 512)) "$T/expect.img" "$T/disk2.img" ||
	fail "the backing file of LUN 2 differs from what the raw client wrote and expects (first 256 KiB)"
for what in "header digest error" "data digest error on Data-Out"; do
	grep -q "$what" "$LUNARD_LOG" ||
		fail "lunard did not log a '$what' for the damaged PDU"
done
n=$(grep -c "$INIT (127.0.0.1:[0-9]*) logged in to $IQN, .*digests CRC32C/CRC32C" \
	"$LUNARD_LOG" || true)
assert_eq 3 "$n" "logins logged with 'digests CRC32C/CRC32C'"

# Every session is gone: the dropped ones too.
for _ in $(seq 50); do
	[ "$(sessions_json)" = "[]" ] && break
	sleep 0.1
done
assert_eq "[]" "$(sessions_json)" "sessions left after the raw client"
lunard_stop
