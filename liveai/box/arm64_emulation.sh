#!/bin/sh
# Run liveai on arm64 under emulation (Debian's qemu-user-static + an arm64 Bookworm root), as it
# was checked for issue 7. Run as root on a Debian/Ubuntu x86-64 machine, from the repository root.
# Timings under emulation mean nothing. ROOT must not be inside the repository (or must be ignored).
#   sh liveai/box/arm64_emulation.sh [ROOT]      (default /tmp/arm64/root; debootstrap takes minutes)
set -eu
ROOT=${1:-/tmp/arm64/root}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
apt-get install -y qemu-user-static binfmt-support debootstrap
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64
[ -x "$ROOT/usr/bin/python3" ] || debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,libasound2,libjack-jackd2-0 bookworm "$ROOT" "$MIRROR"
mkdir -p "$ROOT/tmp/wheels"
python3 -m liveai.box.aarch64_check --installed --dest "$ROOT/tmp/wheels"
python3 -m pip wheel --no-deps --no-build-isolation -q . -w "$ROOT/tmp/wheels"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
chroot "$ROOT" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root /bin/sh -exc '
  uname -m; python3 --version
  [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv
  pip install -q --no-index --find-links /tmp/wheels --force-reinstall --no-deps liveai
  pip install -q --no-index --find-links /tmp/wheels liveai
  cd /tmp && liveai demo --fast --out /tmp/demo.mid
  liveai service install --print | head -12'
umount "$ROOT/proc"
