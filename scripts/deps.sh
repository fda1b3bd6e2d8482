#!/bin/sh
# Installs the Debian packages a make target needs, printing what it installs.
# Usage: scripts/deps.sh build|test|fuzz|bench
set -eu
build="gcc make pkg-config libjansson-dev libisal-dev nettle-dev librbd-dev librados-dev liburing-dev libaio-dev libmicrohttpd-dev libsystemd-dev"
test="libcmocka-dev groff-base systemd libiscsi-dev libiscsi-bin qemu-utils qemu-block-extra python3 procps strace clang-format ceph-mon ceph-osd ceph-common uuid-runtime qemu-system-x86 cpio binutils xorriso open-isns-server open-isns-utils curl tmux"
fuzz="clang libclang-rt-14-dev"
bench="tgt tgt-rbd"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test $fuzz" ;;
fuzz) want="$build $fuzz" ;;
bench) want="$build $test $fuzz $bench" ;;
*) echo "usage: $0 build|test|fuzz|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "lunar needs these Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing missing packages:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing >/tmp/lunar-apt.log 2>&1; then
	apt-get update -q >/tmp/lunar-apt.log 2>&1 || true
	apt-get install -y -q --no-install-recommends $missing >>/tmp/lunar-apt.log 2>&1 || {
		echo "apt-get install failed; see /tmp/lunar-apt.log" >&2
		exit 1
	}
fi
