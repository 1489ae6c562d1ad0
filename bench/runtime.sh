#!/usr/bin/env bash
# Benchmarks create+start+wait+delete of /bin/true on one busybox bundle: berth-runtime vs
# crun vs runc, side by side in one hyperfine run. Needs root; installs hyperfine, runc and crun
# from Debian when missing. Prints hyperfine's table and the ratios against berth-runtime.
#
# crun 1.8 refuses this VM's cgroup v1 hybrid layout ("cgroups in hybrid mode not supported")
# because /sys/fs/cgroup/unified/cgroup.controllers lists a controller; it runs in a private
# mount namespace where that file is covered by /dev/null.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-50}
export DEBIAN_FRONTEND=noninteractive
for p in hyperfine runc crun jq; do
    command -v "$p" >/dev/null || { apt-get update -qq; apt-get install -y -qq "$p" >/dev/null; }
done
cargo build --release -p berth-runtime-cli >/dev/null
berth=$PWD/target/release/berth-runtime

work=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
trap 'rm -rf "$work"' EXIT
scripts/busybox-rootfs.sh "$work/rootfs" >/dev/null
(cd "$work" && runc spec)
jq '.process.terminal=false | .process.args=["/bin/true"] | .root.path="rootfs"' \
    "$work/config.json" > "$work/config.tmp" && mv "$work/config.tmp" "$work/config.json"

crun_run='unshare -m sh -c "mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec crun run -b '"$work"' bench-crun"'
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/result.json" \
    -n berth-runtime "$berth --root /run/berth-bench run -b $work bench-berth" \
    -n crun "$crun_run" \
    -n runc "runc --root /run/runc-bench run -b $work bench-runc" \
    -n "crun floor (unshare+mount only)" 'unshare -m sh -c "mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers"'
jq -r '.results as $r | ($r[] | select(.command=="berth-runtime") | .median) as $b
      | $r[] | "\(.command): median \(.median*1000|floor) ms, \(.median/$b*100|floor/100)x berth-runtime"' "$work/result.json"
