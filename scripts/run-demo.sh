#!/bin/bash
# make run: serves a demo LUN on 127.0.0.1:3260 in the foreground.
# Creates var/demo.img (sparse, 1 GiB) and var/demo.json (target
# iqn.2026-11.org.lunar:demo, LUN 1 on var/demo.img, open to every
# initiator; the default store: uring through the page cache, or rdwr where
# io_uring is not allowed) when they are missing, prints how to connect, then runs
# lunard until Ctrl-C. Everything lives under var/ in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROOT=$PWD
VAR=$ROOT/var
IMG=$VAR/demo.img
CONF=$VAR/demo.json
IQN=iqn.2026-11.org.lunar:demo
PORTAL=127.0.0.1:3260

[ -x "$BUILD/lunard" ] || {
	echo "$BUILD/lunard is missing: run make first" >&2
	exit 1
}
mkdir -p "$VAR/state"
chmod 700 "$VAR/state"
if [ ! -e "$IMG" ]; then
	truncate -s 1G "$IMG"
	chmod 600 "$IMG"
	echo "created $IMG (sparse, 1 GiB)"
fi
if [ ! -e "$CONF" ]; then
	size=$(stat -c %s "$IMG")
	umask 077
	cat >"$CONF" <<EOF
{
  "version": 1,
  "accounts": [],
  "targets": [
    {
      "name": "$IQN",
      "alias": "demo",
      "acls": ["ALL"],
      "portals": [],
      "incoming_users": [],
      "outgoing_user": "",
      "luns": [
        {"lun": 1, "backing": "$IMG", "size": $size,
         "block_size": 512, "readonly": false, "direct": false}
      ]
    }
  ]
}
EOF
	echo "wrote $CONF"
fi

cat <<EOF

lunar demo: target $IQN, LUN 1 = $IMG
portal $PORTAL, control socket var/lunard.sock. Stop with Ctrl-C.

Connect from another terminal:
  iscsi-ls -s iscsi://$PORTAL/
  iscsi-inq iscsi://$PORTAL/$IQN/1
  iscsi-readcapacity16 iscsi://$PORTAL/$IQN/1
  qemu-img convert -n -f raw -O raw disk.raw iscsi://$PORTAL/$IQN/1
  qemu-img info iscsi://$PORTAL/$IQN/1
  sudo iscsiadm -m discovery -t sendtargets -p $PORTAL
  sudo iscsiadm -m node -T $IQN -p $PORTAL --login
Manage it:
  $BUILD/lunarctl --control var/lunard.sock target list
  $BUILD/lunarctl --control var/lunard.sock config save

EOF
exec "$BUILD/lunard" --foreground --portal "$PORTAL" \
	--control "$VAR/lunard.sock" --state-dir "$VAR/state" --config "$CONF"
