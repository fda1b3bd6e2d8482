#!/bin/bash
# make gateways: two lunard gateways in front of one Ceph RBD image, on
# one machine. Starts a throwaway Ceph cluster (scripts/ceph-cluster.sh)
# under var/gateways/, creates a 1 GiB image rbd/demo, and serves it as
# target iqn.2026-11.org.lunar:gateways LUN 1 through two gateways:
#   gateway A  127.0.0.1:3260  port group 1  (active/optimized)
#   gateway B  127.0.0.1:3261  port group 2  (standby)
# Both share the LU's persistent reservations and agree on which group
# owns it. Prints how to try a failover, then waits; Ctrl-C stops both
# gateways and the cluster (its data are lost: memstore).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROOT=$PWD
VAR=$ROOT/var/gateways
IQN=iqn.2026-11.org.lunar:gateways
PORTS=(3260 3261)
PIDS=()

[ -x "$BUILD/lunard" ] || {
	echo "$BUILD/lunard is missing: run make first" >&2
	exit 1
}
stop_all() {
	set +e
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	scripts/ceph-cluster.sh stop "$VAR/ceph" --purge >/dev/null 2>&1
	echo "stopped the gateways and the cluster"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$VAR"
echo "starting a throwaway Ceph cluster in $VAR/ceph ..."
out=$(scripts/ceph-cluster.sh start "$VAR/ceph")
export "${out?}"
rbd create --size 1G rbd/demo

ctl() { "$BUILD/lunarctl" --control "$VAR/gw$1.sock" "${@:2}" >/dev/null; }
for i in 1 2; do
	mkdir -p "$VAR/gw$i"
	"$BUILD/lunard" --foreground --portal "127.0.0.1:${PORTS[$((i - 1))]}" \
		--control "$VAR/gw$i.sock" --state-dir "$VAR/gw$i" \
		--log-level warn 2>"$VAR/gw$i.log" &
	PIDS+=($!)
	for _ in $(seq 100); do
		"$BUILD/lunarctl" --control "$VAR/gw$i.sock" system show \
			>/dev/null 2>&1 && break
		sleep 0.1
	done
	ctl "$i" target create "$IQN"
	ctl "$i" acl add "$IQN" ALL
	# Each gateway knows both groups (it listens on one): lunarctl notes it.
	ctl "$i" tpg create "$IQN" 1 --portal "127.0.0.1:${PORTS[0]}" 2>/dev/null
	ctl "$i" tpg create "$IQN" 2 --portal "127.0.0.1:${PORTS[1]}" --state standby 2>/dev/null
	ctl "$i" lun create "$IQN" 1 --bstype rbd --backing rbd/demo
done
ctl 1 lun activate "$IQN" 1 --group 1

cat <<EOF

Two gateways serve rbd/demo as $IQN LUN 1:
  A  127.0.0.1:${PORTS[0]}  port group 1, active/optimized   (control $VAR/gw1.sock)
  B  127.0.0.1:${PORTS[1]}  port group 2, standby            (control $VAR/gw2.sock)
Ceph: CEPH_CONF=$CEPH_CONF

Try it from another terminal:
  iscsi-ls -s iscsi://127.0.0.1:${PORTS[0]}/
  qemu-img convert -n -f raw -O raw disk.raw iscsi://127.0.0.1:${PORTS[0]}/$IQN/1
  $BUILD/lunarctl --control $VAR/gw2.sock lun activate $IQN 1 --group 2
      (B takes over; A lets go of the image's lock; A is standby now)
  kill -9 ${PIDS[0]}   (gateway A dies; then activate group 2 on B as above)
  sudo iscsiadm -m discovery -t sendtargets -p 127.0.0.1:${PORTS[0]}
      (open-iscsi with dm-multipath and ALUA sees one disk, two paths)
Logs: $VAR/gw1.log $VAR/gw2.log. Stop with Ctrl-C.
EOF
wait -n "${PIDS[@]}" || true
echo "a gateway exited; see its log in $VAR"
