#!/bin/bash
# Configuration persistence: config save writes the --config file (mode
# 0600, valid JSON); a restart with --config brings back the same targets,
# LUNs, ACLs and CHAP bindings, and the data written before is still there.
. "$(dirname "$0")/lib.sh"

A=iqn.2026-11.org.lunar:it-config-a
B=iqn.2026-11.org.lunar:it-config-b
ADMITTED=iqn.2026-11.org.lunar:config-initiator
CONF=$T/conf/lunar.json
mkdir -p "$T/conf"

lunard_start --config "$CONF"
make_target "$A"
add_file_lun "$A" 1 "$T/a1.img" $((64 * 1024 * 1024))
truncate -s 8M "$T/a3.img"
ctl_ok lun create "$A" 3 --type disk --backing "$T/a3.img" --block-size 4096 --readonly >/dev/null
ctl_ok target create "$B" >/dev/null
ctl_ok acl add "$B" "$ADMITTED" >/dev/null
add_file_lun "$B" 0 "$T/b0.img" $((16 * 1024 * 1024))
ctl_ok account create bob --password Passw0rdPassw0rd >/dev/null
ctl_ok account bind "$B" bob >/dev/null

random_file "$T/src.raw" 16
qemu_roundtrip "$T/src.raw" "$(lun_url "$A" 1)"

# The configuration, with lists in a canonical order.
config_now() {
	rpc '{"cmd": "config.show"}' | python3 -c 'import json, sys
c = json.load(sys.stdin)
c["accounts"] = sorted(c.get("accounts", []), key=lambda a: a["user"])
for t in c.get("targets", []):
    t["luns"] = sorted(t.get("luns", []), key=lambda l: l["lun"])
    for k in ("acls", "portals", "incoming_users"):
        t[k] = sorted(t.get(k, []))
c["targets"] = sorted(c.get("targets", []), key=lambda t: t["name"])
print(json.dumps(c, sort_keys=True, indent=1))'
}
before=$(config_now)
assert_contains "$before" "$A" "configuration before the restart"
assert_contains "$before" "$ADMITTED" "configuration before the restart"
ctl_ok config save >/dev/null
[ -f "$CONF" ] || fail "config save did not write $CONF"
assert_eq 600 "$(stat -c %a "$CONF")" "mode of the saved config"
python3 -m json.tool "$CONF" >/dev/null || fail "$CONF is not valid JSON"
# Every LUN's device type is written out (a LUN without one is a disk).
assert_eq "disk disk disk" "$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(" ".join(l["type"] for t in c["targets"] for l in t["luns"]))' "$CONF")" \
	"device types in the saved config"
# No temporary file is left next to it.
assert_eq 1 "$(find "$T/conf" -type f | wc -l)" "files in the config directory"
lunard_stop

lunard_start --config "$CONF"
after=$(config_now)
assert_eq "$before" "$after" "configuration after restart"

# Same objects, same behaviour.
assert_ok "data after restart" \
	qemu-img convert -f raw -O raw "$(lun_url "$A" 1)" "$T/back.raw"
cmp -n $((16 * 1024 * 1024)) "$T/src.raw" "$T/back.raw" ||
	fail "data written before the restart is not read back after it"
assert_ok "read-only 4K LUN after restart" iscsi-readcapacity16 "$(lun_url "$A" 3)"
assert_contains "$OUT" "LOGICAL BLOCK LENGTH IN BYTES:4096" "block size after restart"
assert_fails "ACL of B after restart (other initiator)" \
	iscsi-inq -i iqn.2026-11.org.other:x "$(lun_url "$B" 0 bob Passw0rdPassw0rd)"
assert_fails "CHAP of B after restart (no credentials)" \
	iscsi-inq -i "$ADMITTED" "$(lun_url "$B" 0)"
assert_ok "B with admitted initiator and CHAP after restart" \
	iscsi-inq -i "$ADMITTED" "$(lun_url "$B" 0 bob Passw0rdPassw0rd)"

# A broken config file is refused as a whole, naming the file.
printf '{"version": 1, "targets": [ {"name": ' >"$T/broken.json"
lunard_stop
daemon_use 2
rc=0
out=$(run_bounded 10 "$LUNARD" --foreground --portal "127.0.0.1:$PORT" \
	--control "$SOCK" --state-dir "$STATE" --config "$T/broken.json" 2>&1) || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "lunard accepted a broken config (status $rc): $out"
assert_contains "$out" "$T/broken.json" "error for a broken config"
