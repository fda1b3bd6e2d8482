#!/bin/bash
# lunard as a service (issue 15, scope 5): make install into a DESTDIR
# gives the expected tree; the installed unit passes systemd-analyze
# verify; the man pages format without warnings; with NOTIFY_SOCKET,
# READY=1 arrives only once the portal accepts and the control socket
# answers, STATUS= says what is served, STOPPING=1 comes on SIGTERM;
# --pidfile holds the pid, refuses a second lunard, and is removed at exit;
# with JOURNAL_STREAM on its stderr, lunard sends journal entries with
# PRIORITY, CODE_* and LUNAR_* fields (to a stand-in journald socket in a
# private mount namespace: no journald runs here).
. "$(dirname "$0")/lib.sh"

# --- make install into a DESTDIR (PREFIX=/usr: Debian's paths) ---
R=$T/root
# -o: install the binaries under test as they are; never rebuild them here
# (a make without this build's SANITIZE would rebuild $BUILD without it).
MAKE_INSTALL=(make -s -C "$LUNAR_ROOT" BUILD="$BUILD" -o "$BUILD/lunard"
	-o "$BUILD/lunarctl")
"${MAKE_INSTALL[@]}" install DESTDIR="$R" PREFIX=/usr \
	>"$LOG_DIR/$TEST_NAME.install.log" 2>&1 ||
	fail "make install DESTDIR=$R PREFIX=/usr failed: $(tail -n 5 "$LOG_DIR/$TEST_NAME.install.log")"
for f in usr/sbin/lunard usr/sbin/lunarctl; do
	[ -x "$R/$f" ] || fail "make install: /$f missing or not executable"
done
for f in usr/share/man/man8/lunard.8 usr/share/man/man8/lunarctl.8 \
	usr/share/man/man5/lunar.json.5 lib/systemd/system/lunard.service; do
	[ -f "$R/$f" ] || fail "make install: /$f missing"
done
[ -d "$R/etc/lunar" ] || fail "make install: /etc/lunar not made"
[ -z "$(ls -A "$R/etc/lunar")" ] || fail "make install wrote into /etc/lunar: $(ls "$R/etc/lunar")"
UNIT=$R/lib/systemd/system/lunard.service
grep -q '^ExecStart=/usr/sbin/lunard --foreground ' "$UNIT" ||
	fail "unit's ExecStart is not /usr/sbin/lunard --foreground: $(grep ExecStart "$UNIT")"
grep -q '^Type=notify$' "$UNIT" || fail "unit is not Type=notify"
grep -q '^ExecReload=' "$UNIT" && fail "unit has an ExecReload= but lunard has no live reload"
# The unit's options are lunard's: --help lists each one it passes.
for opt in $(grep '^ExecStart=' "$UNIT" | grep -o -- '--[a-z-]*'); do
	"$R/usr/sbin/lunard" --help | grep -q -- "  $opt " ||
		fail "unit passes $opt, which lunard --help does not list"
done
# PREFIX=/usr/local: the unit under /usr/local/lib/systemd/system.
R2=$T/root2
"${MAKE_INSTALL[@]}" install DESTDIR="$R2" \
	>>"$LOG_DIR/$TEST_NAME.install.log" 2>&1 || fail "make install DESTDIR=$R2 failed"
grep -q '^ExecStart=/usr/local/sbin/lunard ' "$R2/usr/local/lib/systemd/system/lunard.service" ||
	fail "PREFIX=/usr/local: unit missing or ExecStart not /usr/local/sbin/lunard"
"${MAKE_INSTALL[@]}" uninstall DESTDIR="$R2" \
	>>"$LOG_DIR/$TEST_NAME.install.log" 2>&1 || fail "make uninstall failed"
left=$(find "$R2" -type f)
[ -z "$left" ] || fail "make uninstall left files: $left"
log "make install/uninstall: tree ok"

# --- systemd-analyze verify on the installed unit ---
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart's binary to exist: point it at the DESTDIR copy.
	V=$T/verify
	mkdir -p "$V"
	sed "s|/usr/sbin/lunard|$R/usr/sbin/lunard|" "$UNIT" >"$V/lunard.service"
	# MANPATH: the Documentation= pages are checked in the DESTDIR too.
	out=$(MANPATH=$R/usr/share/man systemd-analyze verify \
		"$V/lunard.service" 2>&1) || fail "systemd-analyze verify: $out"
	# Only lunard.service's own lines count (other units on the host may
	# have their own complaints).
	mine=$(printf '%s\n' "$out" | grep 'lunard\.service' || true)
	[ -z "$mine" ] || fail "systemd-analyze verify complains: $mine"
	log "systemd-analyze verify: clean"
else
	log "SKIP systemd-analyze verify: systemd-analyze not installed"
fi

# --- man pages ---
for m in "$LUNAR_ROOT"/man/*.[58]; do
	out=$(groff -ww -man -z "$m" 2>&1) || fail "groff $m: $out"
	[ -z "$out" ] || fail "groff -ww -man -z $m warns: $out"
done
# Every lunard option is in lunard(8); every lunarctl command in lunarctl(8).
for opt in $("$LUNARD" --help | grep -o -- '^  --[a-z-]*'); do
	grep -qF -- "${opt//-/\\-}" "$LUNAR_ROOT/man/lunard.8" ||
		fail "lunard $opt is not in man/lunard.8"
done
"$LUNARCTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && NF {print $1" "$2}' |
	sort -u | while read -r a b; do
	case $b in [A-Z]* | \[*) b="" ;; esac
	grep -qE "^\.(BI|B) \"?${a//-/\\\\-}( ${b//-/\\\\-})?" "$LUNAR_ROOT/man/lunarctl.8" ||
		fail "lunarctl command '$a $b' is not in man/lunarctl.8"
done
log "man pages: groff -ww clean, every option and command present"

# --- readiness through NOTIFY_SOCKET, with --pidfile ---
daemon_use 1
N=$T/notify.sock
OUT=$T/notify.out
PIDFILE=$T/run/lunard.pid
mkdir -p "$T/run"
python3 "$LUNAR_ROOT/tests/integration/notify_listen.py" "$N" "$PORT" \
	"$LUNARCTL" "$SOCK" "$OUT" 30 &
LISTENER=$!
EXTRA_PIDS+=("$LISTENER")
for _ in $(seq 50); do
	grep -q LISTENING "$OUT" 2>/dev/null && break
	sleep 0.1
done
[ -S "$N" ] || fail "notify listener did not bind $N"
export NOTIFY_SOCKET=$N
lunard_start --pidfile "$PIDFILE"
unset NOTIFY_SOCKET
for _ in $(seq 100); do
	grep -q '^CHECK control' "$OUT" && break
	sleep 0.1
done
grep -qx 'MSG READY=1' "$OUT" || fail "no READY=1 within 10 s; got: $(cat "$OUT")"
grep -qx 'CHECK portal ok' "$OUT" || fail "portal not accepting at READY=1: $(cat "$OUT")"
grep -qx 'CHECK control ok' "$OUT" || fail "control socket not answering at READY=1: $(cat "$OUT")"
grep -qx "MSG STATUS=serving 0 targets on 127.0.0.1:$PORT" "$OUT" ||
	fail "STATUS= line not as expected: $(grep STATUS "$OUT")"
grep -qx "MSG MAINPID=$LUNARD_PID" "$OUT" || fail "MAINPID is not lunard's pid $LUNARD_PID: $(grep MAINPID "$OUT")"
log "READY=1 after portal and control socket; STATUS and MAINPID right"

[ -f "$PIDFILE" ] || fail "--pidfile $PIDFILE not written"
[ "$(cat "$PIDFILE")" = "$LUNARD_PID" ] || fail "pid file holds '$(cat "$PIDFILE")', lunard is $LUNARD_PID"
# A second lunard on the same pid file (its own socket and port) refuses.
p2=$(free_port)
rc=0
out=$(timeout 10 "$LUNARD" --foreground --portal "127.0.0.1:$p2" \
	--control "$T/second.sock" --state-dir "$T/second" \
	--pidfile "$PIDFILE" 2>&1) || rc=$?
[ $rc = 1 ] || fail "second lunard on the same --pidfile: status $rc, expected 1; said: $out"
printf '%s\n' "$out" | grep -q "pidfile $PIDFILE is locked by another lunard (pid $LUNARD_PID)" ||
	fail "second lunard's message does not name the pid file and pid: $out"
[ "$(cat "$PIDFILE")" = "$LUNARD_PID" ] || fail "second lunard changed the pid file"
log "second lunard on the pid file refused: $out"

# A start that fails after taking the pid file (the control socket is in
# use) leaves the running lunard's file alone, and one of its own behind
# nowhere.
rc=0
out=$(timeout 10 "$LUNARD" --foreground --portal "127.0.0.1:$p2" \
	--control "$SOCK" --state-dir "$T/second" \
	--pidfile "$T/run/other.pid" 2>&1) || rc=$?
[ $rc = 1 ] || fail "lunard on a busy control socket: status $rc, expected 1: $out"
[ ! -e "$T/run/other.pid" ] || fail "a failed start left its pid file $T/run/other.pid"

lunard_stop
for _ in $(seq 50); do
	grep -q DONE "$OUT" && break
	sleep 0.1
done
grep -qx 'MSG STOPPING=1' "$OUT" || fail "no STOPPING=1 on SIGTERM: $(cat "$OUT")"
wait "$LISTENER" || true
[ ! -e "$PIDFILE" ] || fail "pid file $PIDFILE left after a clean exit"
log "STOPPING=1 on SIGTERM; pid file removed"

# Without NOTIFY_SOCKET nothing is sent and nothing complains.
lunard_start
grep -qi notify "$LUNARD_LOG" && fail "lunard mentions notify without NOTIFY_SOCKET: $(grep -i notify "$LUNARD_LOG")"
lunard_stop

# --- the journal ---
# No journald runs here (nor, often, in containers), and a test must not
# start one for the whole machine: lunard runs in its own mount namespace
# where /run/systemd/journal is a directory of this test's, whose socket
# tests/integration/fake_journald.py reads. sd_journal_sendv is unchanged,
# only the socket's reader is a stand-in. JOURNAL_STREAM names lunard's
# stderr, as systemd sets it: --log-target auto must choose the journal.
if ! unshare -m --propagation private true 2>/dev/null; then
	log "SKIP journal check: cannot make a mount namespace (unshare -m needs root);" \
		"the entry format is covered by tests/unit/test_log.c"
	exit 0
fi
if ! "$LUNARD" --help | grep -q -- '--log-target'; then
	fail "lunard has no --log-target"
fi
J=$T/journal
JOUT=$T/journal.out
mkdir -p "$J"
python3 "$LUNAR_ROOT/tests/integration/fake_journald.py" "$J/socket" "$JOUT" 60 &
EXTRA_PIDS+=("$!")
for _ in $(seq 50); do
	[ -S "$J/socket" ] && break
	sleep 0.1
done
[ -S "$J/socket" ] || fail "fake journald did not bind $J/socket"
cat >"$T/lunard-ns" <<EOS
#!/bin/sh
# lunard with this test's journal socket (exec keeps the pid lunard's).
exec unshare -m --propagation private sh -c '
	mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal &&
	mount --bind "$J" /run/systemd/journal && exec "\$0" "\$@"' "$LUNARD" "\$@"
EOS
chmod +x "$T/lunard-ns"
daemon_use 2
JOURNAL_STREAM=$(stat -c '%d:%i' "$LUNARD_LOG")
export JOURNAL_STREAM
LUNARD_REAL=$LUNARD
LUNARD=$T/lunard-ns
lunard_start
LUNARD=$LUNARD_REAL
unset JOURNAL_STREAM
IQN=iqn.2026-11.org.lunar:journal
ctl_ok target create "$IQN" >/dev/null
truncate -s 1M "$T/j.img"
ctl_ok lun create "$IQN" 1 --backing "$T/j.img" >/dev/null
ctl_ok acl add "$IQN" ALL >/dev/null
iscsi-inq -i iqn.2026-11.org.lunar:journal-client "$(lun_url "$IQN" 1)" >/dev/null ||
	fail "iscsi-inq through the journal-logging lunard failed"
lunard_stop
python3 - "$JOUT" "$IQN" "$T/j.img" <<'EOP' || fail "journal entries not as expected (above); all: $(cat "$JOUT")"
import json, sys
out, iqn, img = sys.argv[1:4]
entries = [json.loads(l) for l in open(out)][1:]
def find(event):
    return [e for e in entries if e.get("LUNAR_EVENT") == event]
ok = True
def want(cond, what):
    global ok
    if not cond:
        print("journal: " + what, file=sys.stderr)
        ok = False
lun = find("lun_created")
want(len(lun) == 1, "one lun_created entry, got %d" % len(lun))
if lun:
    e = lun[0]
    want(e.get("LUNAR_TARGET") == iqn and e.get("LUNAR_LUN") == "1" and
         e.get("LUNAR_BACKING") == img, "lun_created fields: %r" % e)
    want(e.get("PRIORITY") == "6", "lun_created PRIORITY=6 (info): %r" % e)
    want(e.get("CODE_FILE", "").endswith("scsi/lu.c") and
         e.get("CODE_LINE", "").isdigit() and e.get("CODE_FUNC"),
         "CODE_FILE/LINE/FUNC: %r" % e)
    want("LUN 1 created" in e.get("MESSAGE", ""), "MESSAGE: %r" % e)
logins = [e for e in find("login") if e.get("LUNAR_TARGET") == iqn]
want(len(logins) >= 1 and all(
    e.get("LUNAR_INITIATOR") == "iqn.2026-11.org.lunar:journal-client"
    for e in logins), "login entries with LUNAR_INITIATOR: %r" % logins)
want(any("ready" in e.get("MESSAGE", "") for e in entries),
     "no 'ready' message")
sys.exit(0 if ok else 1)
EOP
grep -q 'LUN 1 created' "$LUNARD_LOG" &&
	fail "with JOURNAL_STREAM on its stderr lunard still wrote to stderr"
log "journal: entries with PRIORITY, CODE_*, LUNAR_* fields; nothing on stderr"
