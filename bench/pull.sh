#!/usr/bin/env bash
# Registry benchmark: cold `pull` and `push` of the ~188 MB four-layer Debian image
# (bench/debian-image.sh) against a local berth-registry on 127.0.0.1, berth vs docker vs
# podman in one hyperfine run each.
# - The image is pushed once (by dockerd, so its layers are gzip as on any registry) to a
#   "source" registry every pull reads from.
# - pull: every timed pull starts from an empty store for that engine (--prepare removes the
#   image, prunes, and syncs).
# - push: every timed push goes to a fresh, empty "target" registry (--prepare restarts it on
#   an empty root), so every layer is uploaded; each engine pushes the image it pulled.
#   Docker and Podman recompress the layers on push; berth sends the gzip blobs it kept.
# Needs root; never runs in CI; cleans up everything it started. Knob: RUNS (default 5).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
runs=${RUNS:-5}

need_root
ensure_pkgs hyperfine:hyperfine dockerd:docker.io podman:podman debootstrap:debootstrap jq:jq
build_berth
[ -x "$bin/berth-registry" ] || { echo "bench: $bin/berth-registry missing (cargo build --release -p berth-registry)" >&2; exit 1; }
img=$("$here/debian-image.sh" /var/cache/berth-bench)
echo "bench: machine: $(nproc) cores; uptime before: $(uptime)"
make_dirs pull
setup_podman
start_berthd
start_dockerd
B=$(berth_cmd)
D=$(docker_cmd)
P=$(podman_cmd)

# --- registries ---------------------------------------------------------------------------

free_port() { # a port nothing listens on
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
src_port=$(free_port)
dst_port=$(free_port)
src=127.0.0.1:$src_port
dst=127.0.0.1:$dst_port
ref=$src/bench/debian:latest
pushref=$dst/bench/debian:latest

# The target registry is restarted on an empty root before every timed push; this script does
# that (hyperfine's --prepare runs it), waiting until the new one listens.
cat >"$run/fresh-registry.sh" <<EOF
#!/bin/sh
if [ -s "$run/dst-registry.pid" ]; then
    kill \$(cat "$run/dst-registry.pid") 2>/dev/null
    while kill -0 \$(cat "$run/dst-registry.pid") 2>/dev/null; do sleep 0.05; done
fi
rm -rf "$work/dst-registry"
setsid "$bin/berth-registry" serve --addr $dst --root "$work/dst-registry" >>"$work/dst-registry.log" 2>&1 &
echo \$! >"$run/dst-registry.pid"
for i in \$(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$dst_port) 2>/dev/null && exit 0
    sleep 0.05
done
echo "target registry did not start" >&2
exit 1
EOF
chmod +x "$run/fresh-registry.sh"
# bash, not sh: /dev/tcp.
sed -i '1s|.*|#!/bin/bash|' "$run/fresh-registry.sh"

"$bin/berth-registry" serve --addr "$src" --root "$work/src-registry" >"$work/src-registry.log" 2>&1 &
src_registry_pid=$!
registries_down() {
    local pid pids=$src_registry_pid
    [ -s "$run/dst-registry.pid" ] && pids="$pids $(cat "$run/dst-registry.pid")"
    for pid in $pids; do stop_pid "$pid" 5; done
}
# The registries go before lib.sh's cleanup unmounts and removes $work.
trap 'rc=$?; registries_down; (exit $rc); cleanup' EXIT
src_up() { (exec 3<>"/dev/tcp/127.0.0.1/$src_port") 2>/dev/null; }
wait_for "berth-registry" src_up "$work/src-registry.log"
"$run/fresh-registry.sh"

echo "bench: pushing the image to the source registry once (docker, gzip layers)"
$D load -i "$img" >/dev/null
$D tag debian-bench:latest "$ref"
t0=$(date +%s%N)
$D push "$ref" >/dev/null
echo "bench: seed push by docker took $((($(date +%s%N) - t0) / 1000000)) ms"
$D rmi -f "$ref" debian-bench:latest >/dev/null
$D image prune -af >/dev/null
sizes=$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$src/v2/bench/debian/manifests/latest" |
    jq -r '[.layers[].size/1000000*10|round/10|tostring] | join(" / ")')
note "image in the registry: layers of $sizes MB (gzip)"

# --- correctness first ---------------------------------------------------------------------

check_image() { # NAME CLI [RUN FLAGS]: the pulled image has every layer and whiteout applied
    local got want
    want='berth bench image (Debian bookworm)|doc=0|big=blob2.bin blob3.bin blob4.bin|small=3000|locale=README|bash=yes'
    got=$($2 run --rm ${3:-} "$ref" sh -c '. /etc/os-release; echo "$PRETTY_NAME|doc=$(ls /usr/share/doc | wc -l)|big=$(ls /opt/bench/big | tr "\n" " " | sed "s/ $//")|small=$(find /opt/bench/small -type f | wc -l)|locale=$(ls /usr/share/locale)|bash=$(test -x /bin/bash && echo yes)"' 2>&1) || true
    if [ "$got" = "$want" ]; then
        note "check: $1 pulled all 4 layers and their whiteouts correctly"
    else
        note "check: $1 image content WRONG: got '$got', want '$want'"
    fi
}
$B pull "$ref" >/dev/null
$D pull "$ref" >/dev/null
$P pull -q --tls-verify=false "$ref" >/dev/null
check_image berth "$B"
check_image docker "$D" "--network none"
check_image podman "$P" "--network none"

# --- pull ----------------------------------------------------------------------------------

clean_berth="$B rmi -f $ref >/dev/null 2>&1; $B image prune -af >/dev/null 2>&1; sync"
clean_docker="$D rmi -f $ref >/dev/null 2>&1; $D image prune -af >/dev/null 2>&1; sync"
clean_podman="$P rmi -f $ref >/dev/null 2>&1; sync"
hyperfine --runs "$runs" --export-json "$work/pull.json" \
    --prepare "$clean_berth" -n "berth pull" "$B pull $ref >/dev/null 2>>$run/errors.log" \
    --prepare "$clean_docker" -n "docker pull" "$D pull $ref >/dev/null 2>>$run/errors.log" \
    --prepare "$clean_podman" -n "podman pull" "$P pull -q --tls-verify=false $ref >/dev/null 2>>$run/errors.log"
report "pull (debian-bench, 4 gzip layers)" "$work/pull.json"

# --- push ----------------------------------------------------------------------------------

# Each engine has the image from its last timed pull; give it the target name.
$B pull "$ref" >/dev/null
$D pull "$ref" >/dev/null
$P pull -q --tls-verify=false "$ref" >/dev/null
$B tag "$ref" "$pushref"
$D tag "$ref" "$pushref"
$P tag "$ref" "$pushref"
hyperfine --runs "$runs" --export-json "$work/push.json" \
    --prepare "$run/fresh-registry.sh" -n "berth push" "$B push $pushref >/dev/null 2>>$run/errors.log" \
    --prepare "$run/fresh-registry.sh" -n "docker push" "$D push $pushref >/dev/null 2>>$run/errors.log" \
    --prepare "$run/fresh-registry.sh" -n "podman push" "$P push --tls-verify=false $pushref >/dev/null 2>>$run/errors.log"
report "push (debian-bench, 4 layers, empty registry)" "$work/push.json"
# berth pushes the gzip blobs it kept from the pull: check that it really uploaded them all.
"$run/fresh-registry.sh"
$B push "$pushref" >/dev/null
note "check: one berth push into an empty registry stored $(du -sm "$work/dst-registry" | cut -f1) MB there"

verdict() { if [ "$1" = 1 ]; then echo "MET"; else echo "MISSED"; fi; }
ratio() { jq -r --arg c "$2" '.results[0].median as $b | .results[] | select(.command==$c) | .median/$b' "$1"; }
r_pull=$(ratio "$work/pull.json" "docker pull")
note "target: berth pull >= 2x faster than docker pull: $(printf '%.2f' "$r_pull")x -> $(verdict "$(awk -v s="$r_pull" 'BEGIN{print (s>=2)}')")"

print_summary
echo "bench: uptime after: $(uptime)"
