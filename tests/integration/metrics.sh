#!/bin/bash
# Statistics and metrics (issue 15): a known number of READ (16) and
# WRITE (16) commands of known sizes, one refused with ILLEGAL REQUEST,
# and four failed logins (a missing target, a wrong CHAP secret twice, a
# target whose ACL admits nobody); then
# the Prometheus endpoint (lunard --metrics, scraped with curl),
# `lunarctl stats` and `lunarctl --json stats` must show exactly those
# numbers, histogram counts included; task management functions count
# per LU only when they address one; `lunarctl top -n 2` runs in a tmux
# pane whose captured screen must show the target, its LU and a live
# session, and without -n it must quit on q and restore the terminal.
# Finally a lunard with --no-stats counts nothing.
. "$(dirname "$0")/lib.sh"

for b in scsi_io hold_session tmf_raw; do
	[ -x "$TESTBIN/$b" ] || fail "$TESTBIN/$b is missing: run make check"
done
command -v curl >/dev/null || fail "curl is missing: scripts/deps.sh test"
command -v tmux >/dev/null || fail "tmux is missing: scripts/deps.sh test"

IQN=iqn.2026-12.org.lunar:it-metrics
LOCKED=iqn.2026-12.org.lunar:it-metrics-chap
MPORT=$(free_port)
lunard_start --metrics "127.0.0.1:$MPORT"
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --backing nullstore --bstype null --size 64M >/dev/null
make_target "$LOCKED"
ctl_ok lun create "$LOCKED" 1 --backing nullstore --bstype null --size 16M >/dev/null
ctl_ok account create metrics-user --password MetricsSecret123 >/dev/null
ctl_ok account bind "$LOCKED" metrics-user >/dev/null

scrape() {
	curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" ||
		fail "cannot scrape http://127.0.0.1:$MPORT/metrics"
}
# metric NAME_WITH_LABELS: its value in the last scrape ($M), or "absent".
metric() {
	awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "absent" : v) }' <<<"$M"
}

# 3 writes of 8 blocks and 5 reads of 2 blocks (512-byte blocks), one
# session each; one read past the end (ILLEGAL REQUEST, no bytes).
URL=$(lun_url "$IQN" 1)
for i in 1 2 3; do
	assert_ok "write $i" "$TESTBIN/scsi_io" "$URL" write $((i * 8)) 8 5a
	assert_eq good "$OUT" "write $i"
done
for i in 1 2 3 4 5; do
	assert_ok "read $i" "$TESTBIN/scsi_io" "$URL" read $((i * 2)) 2 00
	assert_eq good "$OUT" "read $i"
done
assert_ok "read past the end" "$TESTBIN/scsi_io" "$URL" read 999999999 1 00
assert_contains "$OUT" "sense 5/21/00" "read past the end"

# Login failures: a target that does not exist, then wrong CHAP twice.
assert_fails "login to a missing target" \
	iscsi-inq "$(lun_url iqn.2026-12.org.lunar:no-such-target 1)"
for _ in 1 2; do
	assert_fails "login with a wrong secret" \
		iscsi-inq "$(lun_url "$LOCKED" 1 metrics-user WrongSecret12345)"
done
# And a target whose ACL admits nobody.
CLOSED=iqn.2026-12.org.lunar:it-metrics-closed
ctl_ok target create "$CLOSED" >/dev/null
ctl_ok lun create "$CLOSED" 1 --backing nullstore --bstype null --size 16M >/dev/null
assert_fails "login without an ACL entry" iscsi-inq "$(lun_url "$CLOSED" 1)"

L="target=\"$IQN\",lun=\"1\""
M=$(scrape)
assert_contains "$M" "# TYPE lunar_scsi_commands_total counter" "exposition"
assert_contains "$M" "# TYPE lunar_scsi_command_duration_seconds histogram" "exposition"
# Six reads: five good ones and the one refused.
assert_eq 6 "$(metric "lunar_scsi_commands_total{$L,op=\"read\"}")" "reads (LU)"
assert_eq 3 "$(metric "lunar_scsi_commands_total{$L,op=\"write\"}")" "writes (LU)"
assert_eq 3 "$(metric "lunar_target_scsi_commands_total{target=\"$IQN\",op=\"write\"}")" "writes (target)"
assert_eq $((5 * 2 * 512)) "$(metric "lunar_scsi_read_bytes_total{$L}")" "bytes read (5 good reads of 1 KiB)"
assert_eq $((3 * 8 * 512)) "$(metric "lunar_scsi_written_bytes_total{$L}")" "bytes written"
assert_eq 1 "$(metric "lunar_scsi_errors_total{$L,sense_key=\"illegal_request\"}")" "ILLEGAL REQUEST"
assert_eq 6 "$(metric "lunar_scsi_command_duration_seconds_count{$L,op=\"read\"}")" "read histogram count"
assert_eq 6 "$(metric "lunar_scsi_command_duration_seconds_bucket{$L,op=\"read\",le=\"+Inf\"}")" "read +Inf bucket"
assert_eq 3 "$(metric "lunar_scsi_command_duration_seconds_count{$L,op=\"write\"}")" "write histogram count"
# Buckets are cumulative and end at the count: the 16.777216 s bucket
# holds every write (none took that long).
assert_eq 3 "$(metric "lunar_scsi_command_duration_seconds_bucket{$L,op=\"write\",le=\"16.777216\"}")" "write 16.8 s bucket"
assert_eq 0 "$(metric "lunar_scsi_queue_depth{$L}")" "queue depth when idle"
assert_eq 9 "$(metric "lunar_target_iscsi_logins_total{target=\"$IQN\",result=\"success\"}")" "logins to $IQN"
assert_eq 2 "$(metric "lunar_target_iscsi_logins_total{target=\"$LOCKED\",result=\"auth_failed\"}")" "CHAP failures"
assert_eq 1 "$(metric "lunar_iscsi_logins_total{result=\"target_not_found\"}")" "logins to a missing target"
assert_eq 2 "$(metric "lunar_iscsi_logins_total{result=\"auth_failed\"}")" "auth failures (daemon)"
assert_eq 1 "$(metric "lunar_target_iscsi_logins_total{target=\"$CLOSED\",result=\"not_authorized\"}")" "ACL refusals"
assert_eq 0 "$(metric "lunar_target_iscsi_logins_total{target=\"$CLOSED\",result=\"success\"}")" "logins to $CLOSED"
# Every family has its HELP and TYPE once, before its samples.
dups=$(grep '^# TYPE' <<<"$M" | awk '{print $3}' | sort | uniq -d)
assert_eq "" "$dups" "metric families declared twice"

# The same numbers through the control socket.
J=$(ctl_ok --json stats "$IQN" 1)
got=$(python3 -c 'import json,sys
r = json.load(sys.stdin)
s = r["targets"][0]["luns"][0]["stats"]
print(s["commands"]["read"], s["commands"]["write"], s["bytes_read"],
      s["bytes_written"], s["sense_keys"].get("illegal_request", 0),
      sum(s["latency"]["read"]["buckets"]), s["latency"]["write"]["count"])' <<<"$J")
assert_eq "6 3 5120 12288 1 6 3" "$got" "lunarctl --json stats IQN 1"
TXT=$(ctl_ok stats "$IQN")
assert_contains "$TXT" "Target $IQN" "lunarctl stats"
assert_contains "$TXT" "illegal_request 1" "lunarctl stats errors"
assert_contains "$(ctl_ok stats)" "target_not_found 1" "lunarctl stats logins"
ctl_fails stats "$IQN" 7
assert_contains "$CTL_OUT" "no LUN 7" "stats of a missing LUN"
ctl_fails stats iqn.2026-12.org.lunar:nothing
assert_contains "$CTL_OUT" "no target" "stats of a missing target"

# Task management: tmf_raw sends every function once or more to LUN 1 of
# another target (some to LUN 9, which does not exist). A LU counts those
# that address it; target resets and I_T NEXUS RESET count for the target
# only.
[ -x "$TESTBIN/tmf_raw" ] || fail "$TESTBIN/tmf_raw is missing: run make check"
TMFT=iqn.2026-12.org.lunar:it-metrics-tmf
make_target "$TMFT"
add_file_lun "$TMFT" 1 "$T/tmf.img" $((16 * 1024 * 1024))
assert_ok "tmf_raw functions" "$TESTBIN/tmf_raw" functions "127.0.0.1:$PORT" "$TMFT"
M=$(scrape)
TL="target=\"$TMFT\""
for fn in lu_reset abort_task query_task; do
	lu=$(metric "lunar_scsi_task_management_total{$TL,lun=\"1\",function=\"$fn\"}")
	tg=$(metric "lunar_target_scsi_task_management_total{$TL,function=\"$fn\"}")
	[ "$lu" != absent ] && [ "$lu" -ge 1 ] || fail "no $fn counted for LUN 1: $lu"
	[ "$tg" -ge "$lu" ] || fail "$fn: the target counted $tg, fewer than its LU ($lu)"
done
for fn in target_warm_reset it_nexus_reset; do
	assert_eq 1 "$(metric "lunar_target_scsi_task_management_total{$TL,function=\"$fn\"}")" "$fn (target)"
	assert_eq absent "$(metric "lunar_scsi_task_management_total{$TL,lun=\"1\",function=\"$fn\"}")" "$fn (LU)"
done

# A live session: it shows in the scrape (per session) and in top.
run_bounded 60 "$TESTBIN/hold_session" -i iqn.2026-12.org.lunar:metrics-holder \
	"$URL" 30 >"$T/hold.out" 2>&1 &
HOLD=$!
EXTRA_PIDS+=("$HOLD")
for _ in $(seq 100); do
	grep -q logged-in "$T/hold.out" && break
	sleep 0.1
done
grep -q logged-in "$T/hold.out" || fail "hold_session did not log in: $(cat "$T/hold.out")"
M=$(scrape)
assert_contains "$M" "lunar_session_scsi_commands_total{target=\"$IQN\",initiator=\"iqn.2026-12.org.lunar:metrics-holder\"" "session metrics"
assert_eq 1 "$(metric "lunar_iscsi_sessions{target=\"$IQN\"}")" "sessions gauge"

TMUX_SOCK=lunar-metrics-$$
tmux -L "$TMUX_SOCK" new-session -d -s top -x 160 -y 40 \
	"'$LUNARCTL' --control '$SOCK' top -n 2 -d 0.5; echo TOP-EXIT=\$?; sleep 20" ||
	fail "tmux could not start a session for lunarctl top"
cleanup_tmux() { tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true; }
PANE=""
for _ in $(seq 100); do
	PANE=$(tmux -L "$TMUX_SOCK" capture-pane -p -t top 2>/dev/null) || true
	case $PANE in *TOP-EXIT=*) break ;; esac
	sleep 0.1
done
cleanup_tmux
printf '%s\n' "$PANE" >"$LOG_DIR/$TEST_NAME.top.txt"
assert_contains "$PANE" "TOP-EXIT=0" "lunarctl top -n 2 ended by itself"
assert_contains "$PANE" "refresh 2" "top's second refresh"
assert_contains "$PANE" "READ/s" "top's header"
assert_contains "$PANE" "$IQN" "top shows the target"
assert_contains "$PANE" "lun 1" "top shows the LU"
assert_contains "$PANE" "metrics-holder" "top shows the session"
assert_not_contains "$PANE" "refresh 1," "top redraws in place"

# Without -n: q quits, and the terminal is as it was (echo, canonical).
# A tmux server of its own: the first one may still be going away.
tmux -L "$TMUX_SOCK-q" new-session -d -s top -x 160 -y 40 \
	"'$LUNARCTL' --control '$SOCK' top -d 0.3; echo TOP-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(echo|icanon)' | sed 's/^/TTY=/'; sleep 20" ||
	fail "tmux could not start a second session for lunarctl top"
for _ in $(seq 100); do
	case $(tmux -L "$TMUX_SOCK-q" capture-pane -p -t top 2>/dev/null || true) in *"refresh 1,"*) break ;; esac
	sleep 0.1
done
tmux -L "$TMUX_SOCK-q" send-keys -t top q
for _ in $(seq 100); do
	PANE=$(tmux -L "$TMUX_SOCK-q" capture-pane -p -t top 2>/dev/null) || true
	case $PANE in *TTY=*icanon*TTY=*echo*) break ;; esac
	sleep 0.1
done
tmux -L "$TMUX_SOCK-q" kill-server 2>/dev/null || true
assert_contains "$PANE" "TOP-EXIT=0" "lunarctl top quit with q"
assert_contains "$PANE" "TTY=echo" "echo restored after top"
assert_contains "$PANE" "TTY=icanon" "canonical mode restored after top"

kill -TERM "$HOLD" 2>/dev/null || true
wait "$HOLD" 2>/dev/null || true
lunard_stop

# --no-stats: nothing is counted, the endpoint says so.
lunard_start --metrics "127.0.0.1:$MPORT" --no-stats
make_target "$IQN"
ctl_ok lun create "$IQN" 1 --backing nullstore --bstype null --size 64M >/dev/null
assert_ok "read without counting" "$TESTBIN/scsi_io" "$(lun_url "$IQN" 1)" read 0 2 00
M=$(scrape)
assert_eq 0 "$(metric lunar_stats_counting)" "counting flag"
assert_eq 0 "$(metric "lunar_scsi_commands_total{$L,op=\"read\"}")" "reads with --no-stats"
lunard_stop
log "metrics: all checks passed"
