#!/usr/bin/env bash
# berth's main job on a fresh machine: install what the build needs, build the release binaries,
# start berthd on the default socket (unless one already answers), build the busybox image from
# Debian's static busybox, load it and run a container from it. Run as root.
# The daemon keeps running afterwards; stop it with: kill "$(cat /run/berth/berthd.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (berthd creates namespaces, mounts and cgroups)" >&2; exit 1; }
scripts/setup.sh
cargo build --release --bins --locked
bin=$PWD/target/release
export PATH="$bin:$PATH"
sock=/run/berth/berth.sock
if ! berth version >/dev/null 2>&1; then
    mkdir -p /run/berth /var/log
    echo "demo: starting berthd (log in /var/log/berthd.log)"
    nohup berthd >/var/log/berthd.log 2>&1 &
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
fi
img=$(mktemp /tmp/berth-busybox.XXXXXX.tar)
trap 'rm -f "$img"' EXIT
scripts/busybox-image.sh "$img" busybox:latest >/dev/null
berth load -i "$img"
berth images busybox
berth run --rm busybox echo "hello from a berth container"
berth run --rm --memory 64m --pids-limit 64 busybox sh -c 'echo "pid $$ on $(hostname), limited to $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes"'
echo "demo: berthd is running on unix://$sock; try: DOCKER_HOST=unix://$sock docker run --rm -it busybox sh"
