#!/bin/sh
# Builds a busybox root filesystem from Debian's static busybox (package busybox-static).
# Usage: scripts/busybox-rootfs.sh DIR
# DIR gets /bin/busybox with one symlink per applet, /etc/passwd and /etc/group with root and
# nobody, and the empty mount points a container needs. Used by the runtime tests, the busybox
# image fixture and the benchmarks.
set -eu
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=${BUSYBOX:-/bin/busybox}
if ! [ -x "$bb" ]; then
    echo "busybox-rootfs.sh: $bb not found: install Debian's busybox-static" >&2
    exit 1
fi
mkdir -p "$dir"
cd "$dir"
mkdir -p bin etc proc sys dev tmp root home usr/bin usr/sbin sbin var/tmp
chmod 1777 tmp var/tmp
chmod 700 root
cp "$bb" bin/busybox
chmod 755 bin/busybox
# Every applet becomes a link to /bin/busybox; the name "busybox" itself is skipped, or the
# binary would be replaced by a link to itself.
for app in $("$bb" --list); do
    [ "$app" = busybox ] && continue
    ln -sf busybox "bin/$app"
done
ln -sf /bin/env usr/bin/env
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnobody:x:65534:\n' > etc/group
: > etc/hostname
: > etc/hosts
: > etc/resolv.conf
