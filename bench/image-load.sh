#!/usr/bin/env bash
# Image load benchmark: `berth load -i` vs `docker load -i` (and `podman load`) of a >= 150 MB
# four-layer Debian image (bench/debian-image.sh, cached under /var/cache/berth-bench), against
# the floor of plain `tar -x` of the same layer tars into one directory per layer (alone, and
# followed by `sync`: berth fsyncs what it stores, tar does not). Every timed
# load goes into an empty store: hyperfine's --prepare removes the image (and syncs, so dirty
# pages of the previous run are not written back during the next). The image tar is in the
# page cache for everyone. Needs root; never runs in CI; cleans up everything it started.
# Knob: RUNS (default 5).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
runs=${RUNS:-5}

need_root
ensure_pkgs hyperfine:hyperfine dockerd:docker.io podman:podman debootstrap:debootstrap jq:jq
build_berth
img=$("$here/debian-image.sh" /var/cache/berth-bench)
layers=/var/cache/berth-bench/layers
echo "bench: machine: $(nproc) cores; uptime before: $(uptime)"
echo "bench: image $img: $(du -m "$img" | cut -f1) MB, layers: $(for n in 1 2 3 4; do printf '%s MB ' "$(du -m "$layers/$n.tar" | cut -f1)"; done)"
make_dirs image-load
setup_podman
start_berthd
start_dockerd
B=$(berth_cmd)
DB="$docker_cli -H unix://$(berth_sock)"
D=$(docker_cmd)
P=$(podman_cmd)
ref=debian-bench:latest

# check_image NAME CLI: the loaded image has every layer applied, whiteouts included.
check_image() {
    local got want
    want='berth bench image (Debian bookworm)|doc=0|big=blob2.bin blob3.bin blob4.bin|small=3000|locale=README|bash=yes'
    got=$($2 run --rm ${3:-} $ref sh -c '. /etc/os-release; echo "$PRETTY_NAME|doc=$(ls /usr/share/doc | wc -l)|big=$(ls /opt/bench/big | tr "\n" " " | sed "s/ $//")|small=$(find /opt/bench/small -type f | wc -l)|locale=$(ls /usr/share/locale)|bash=$(test -x /bin/bash && echo yes)"' 2>&1) || true
    if [ "$got" = "$want" ]; then
        note "check: $1 applied all 4 layers and their whiteouts correctly"
    else
        note "check: $1 image content WRONG: got '$got', want '$want'"
    fi
}

store_before=$(du -sb "$work/berth-data" | cut -f1)
$B load -i "$img"
$D load -i "$img"
$P load -q -i "$img"
check_image berth "$B"
check_image docker "$D" "--network none"
check_image podman "$P" "--network none"
$B rmi -f $ref >/dev/null
store_after=$(du -sb "$work/berth-data" | cut -f1)
if [ $((store_after - store_before)) -gt $((10 * 1024 * 1024)) ]; then
    note "WARNING: berth's store kept $(((store_after - store_before) / 1048576)) MB after rmi: its loads below may reuse layers"
fi

untar='for n in 1 2 3 4; do mkdir -p '"$work"'/x/$n && tar -xf '"$layers"'/$n.tar -C '"$work"'/x/$n || exit 1; done'
hyperfine --warmup 1 --runs "$runs" --export-json "$work/load.json" \
    --prepare "$B rmi -f $ref >/dev/null 2>&1; sync" -n "berth load" "$B load -i $img >/dev/null" \
    --prepare "$B rmi -f $ref >/dev/null 2>&1; sync" -n "docker CLI -> berthd load" "$DB load -i $img >/dev/null" \
    --prepare "$D rmi -f $ref >/dev/null 2>&1; sync" -n "docker load" "$D load -i $img >/dev/null" \
    --prepare "$P rmi -f $ref >/dev/null 2>&1; sync" -n "podman load" "$P load -q -i $img >/dev/null" \
    --prepare "rm -rf $work/x; sync" -n "tar -x of the 4 layer tars" "$untar" \
    --prepare "rm -rf $work/x; sync" -n "tar -x, then sync" "$untar; sync"
report "load (debian-bench, 4 layers)" "$work/load.json"

verdict() { if [ "$1" = 1 ]; then echo "MET"; else echo "MISSED"; fi; }
ratio() { jq -r --arg c "$1" '.results[0].median as $b | .results[] | select(.command==$c) | .median/$b' "$work/load.json"; }
r_docker=$(ratio "docker load")
r_tar=$(ratio "tar -x of the 4 layer tars")
note "target: berth load >= 2x faster than docker load: $(printf '%.2f' "$r_docker")x -> $(verdict "$(awk -v s="$r_docker" 'BEGIN{print (s>=2)}')")"
note "target: berth load no slower than tar -x: tar takes $(printf '%.2f' "$r_tar")x berth's time -> $(verdict "$(awk -v s="$r_tar" 'BEGIN{print (s>=1)}')")"

print_summary
echo "bench: uptime after: $(uptime)"
