#!/usr/bin/env bash
# Engine benchmarks: berth vs Docker vs Podman, side by side in one hyperfine run per question,
# each engine private to this run (own data root, exec root, socket, storage). Needs root; never
# runs in CI. Installs hyperfine, docker.io, podman and jq from Debian when missing, builds the
# release binaries, and removes every container, daemon, mount and temp dir it made on exit.
#
# Measures: `run --rm busybox true`; 50x `run -d busybox sleep 300` and `rm -f` of all 50;
# `ps -a` with 50 containers; `exec C true`; `logs` of a container that printed 100k lines;
# idle daemon memory (berthd vs dockerd+containerd), berthd after load + 20 `run --rm`, and per-container shim memory (berth-shim
# vs containerd-shim-runc-v2 vs conmon) with 10 containers running.
# Knobs: RUNS (quick commands, default 20), HEAVY_RUNS (50-container loops, default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
runs=${RUNS:-20}
heavy_runs=${HEAVY_RUNS:-3}

need_root
ensure_pkgs hyperfine:hyperfine dockerd:docker.io podman:podman jq:jq
build_berth
echo "bench: machine: $(nproc) cores; uptime before: $(uptime)"
make_dirs engine
setup_podman
start_berthd
start_dockerd

B=$(berth_cmd)
DB="$docker_cli -H unix://$(berth_sock)"
D=$(docker_cmd)
P=$(podman_cmd)

"$bench_root/scripts/busybox-image.sh" "$work/busybox.tar" busybox:latest >/dev/null
$B load -i "$work/busybox.tar" >/dev/null
$D load -i "$work/busybox.tar" >/dev/null
$P load -q -i "$work/busybox.tar" >/dev/null

# Idle memory before any container ran.
read -r b_rss b_pss < <(rss_pss "$berthd_pid")
containerd_pid=$(pids_matching containerd "$run/docker" | head -1)
read -r d_rss d_pss < <(rss_pss "$dockerd_pid")
read -r c_rss c_pss < <(rss_pss "$containerd_pid")
# berthd's steady state after a load and a burst of short containers (target: RSS <= 20 MiB).
for _ in $(seq 20); do $B run --rm busybox true >/dev/null; done
read -r b1_rss b1_pss < <(rss_pss "$berthd_pid")

echo
echo "NOTE: berth has no bridge network yet (its containers get an empty network namespace);"
echo "      the '--network none' rows are the like-for-like comparison for Docker and Podman."
echo

# hf NAME RUNS WARMUP hyperfine-args... runs one side-by-side hyperfine and reports it.
hf() {
    local name=$1 n=$2 warm=$3
    shift 3
    hyperfine --warmup "$warm" --runs "$n" --export-json "$work/$name.json" "$@"
    report "$name" "$work/$name.json"
}

hf "run --rm true" "$runs" 3 \
    -n berth "$B run --rm busybox true" \
    -n "docker CLI -> berthd" "$DB run --rm busybox true" \
    -n docker "$D run --rm busybox true" \
    -n "docker --network none" "$D run --rm --network none busybox true" \
    -n podman "$P run --rm busybox true" \
    -n "podman --network none" "$P run --rm --network none busybox true"

# start50 CLI [RUN-FLAGS]: 50 detached sleepers; clear CLI [RM-FLAGS]: remove every container.
start50() { echo "for i in \$(seq 50); do $1 run -d ${2:-} busybox sleep 300 >/dev/null 2>>$run/errors.log || exit 1; done"; }
clear_all() { echo "ids=\$($1 ps -aq); [ -z \"\$ids\" ] || $1 rm -f ${2:-} \$ids >/dev/null"; }

hf "50x run -d sleep" "$heavy_runs" 0 \
    --prepare "$(clear_all "$B")" -n berth "$(start50 "$B")" \
    --prepare "$(clear_all "$B")" -n "docker CLI -> berthd" "$(start50 "$DB")" \
    --prepare "$(clear_all "$D")" -n "docker --network none" "$(start50 "$D" "--network none")" \
    --prepare "$(clear_all "$P" "-t 0")" -n "podman --network none" "$(start50 "$P" "--network none")"

# rm -f of 50 running containers: the prepare step makes them and writes their ids.
fill50() { echo "$(clear_all "$1" "$3"); $(start50 "$1" "$2"); $1 ps -aq >$work/ids.$4"; }
hf "rm -f 50 running" "$heavy_runs" 0 \
    --prepare "$(fill50 "$B" "" "" b)" -n berth "$B rm -f \$(cat $work/ids.b) >/dev/null" \
    --prepare "$(fill50 "$DB" "" "" db)" -n "docker CLI -> berthd" "$DB rm -f \$(cat $work/ids.db) >/dev/null" \
    --prepare "$(fill50 "$D" "--network none" "" d)" -n "docker --network none" "$D rm -f \$(cat $work/ids.d) >/dev/null" \
    --prepare "$(fill50 "$P" "--network none" "-t 0" p)" -n "podman --network none" "$P rm -f -t 0 \$(cat $work/ids.p) >/dev/null"

# 50 running containers in each engine for ps and exec.
sh -c "$(start50 "$B")"
sh -c "$(start50 "$D" "--network none")"
sh -c "$(start50 "$P" "--network none")"
for e in B D P; do
    n=$(${!e} ps -aq | wc -l)
    [ "$n" = 50 ] || { echo "bench: expected 50 containers in $e, found $n" >&2; exit 1; }
done
hf "ps -a (50 containers)" "$runs" 3 \
    -n berth "$B ps -a >/dev/null" \
    -n "docker CLI -> berthd" "$DB ps -a >/dev/null" \
    -n docker "$D ps -a >/dev/null" \
    -n podman "$P ps -a >/dev/null"

bc=$($B ps -q | sed -n 1p)
dc=$($D ps -q | sed -n 1p)
pc=$($P ps -q | sed -n 1p)
hf "exec C true" "$runs" 3 \
    -n berth "$B exec $bc true" \
    -n "docker CLI -> berthd" "$DB exec $bc true" \
    -n docker "$D exec $dc true" \
    -n podman "$P exec $pc true"

sh -c "$(clear_all "$B")"
sh -c "$(clear_all "$D")"
sh -c "$(clear_all "$P" "-t 0")"

# logs: one container that printed 100k lines and exited.
for e in B D P; do
    net=; [ "$e" = B ] || net="--network none"
    ${!e} run -d --name bench-logs $net busybox seq 100000 >/dev/null
    ${!e} wait bench-logs >/dev/null
    n=$(${!e} logs bench-logs | wc -l)
    [ "$n" = 100000 ] || note "WARNING: $e logs printed $n lines, expected 100000"
done
hf "logs (100k lines)" "$runs" 2 \
    -n berth "$B logs bench-logs >/dev/null" \
    -n "docker CLI -> berthd" "$DB logs bench-logs >/dev/null" \
    -n docker "$D logs bench-logs >/dev/null" \
    -n podman "$P logs bench-logs >/dev/null"
sh -c "$(clear_all "$B")"
sh -c "$(clear_all "$D")"
sh -c "$(clear_all "$P" "-t 0")"

# Memory: daemons idle, then shims with 10 containers running in each engine.
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
note "memory: berthd idle (image loaded, no containers): RSS $(mib "$b_rss"), PSS $(mib "$b_pss")"
note "memory: dockerd + containerd idle: RSS $(mib $((d_rss + c_rss))), PSS $(mib $((d_pss + c_pss))) (dockerd RSS $(mib "$d_rss"), containerd RSS $(mib "$c_rss"))"
note "memory: podman has no daemon"
note "memory: berthd after load + 20 run --rm: RSS $(mib "$b1_rss"), PSS $(mib "$b1_pss")"
read -r b2_rss b2_pss < <(rss_pss "$berthd_pid")
note "memory: berthd after the benchmarks, no containers: RSS $(mib "$b2_rss"), PSS $(mib "$b2_pss")"

for i in $(seq 10); do
    $B run -d busybox sleep 300 >/dev/null
    $D run -d --network none busybox sleep 300 >/dev/null
    $P run -d --network none busybox sleep 300 >/dev/null
done
sleep 1
# shim_mem LABEL COMM TEXT: per-process average RSS/PSS of our shims named COMM.
shim_mem() {
    local pids n=0 rss=0 pss=0 r p
    pids=$(pids_matching "$2" "$3")
    for pid in $pids; do
        read -r r p < <(rss_pss "$pid")
        n=$((n + 1)); rss=$((rss + r)); pss=$((pss + p))
    done
    [ "$n" -gt 0 ] || { note "memory: $1: no $2 processes found"; shim_rss=; return; }
    note "memory: $1 with 10 containers: $n $2 processes, per shim RSS $(mib $((rss / n))), PSS $(mib $((pss / n)))"
    shim_rss=$((rss / n))
}
shim_mem berth berth-shim "$run/berth"
shim_b=$shim_rss
shim_mem docker containerd-shim-runc-v2 "$run/docker"
shim_mem podman conmon "$work/podman-root"
read -r b3_rss b3_pss < <(rss_pss "$berthd_pid")
note "memory: berthd with 10 containers running: RSS $(mib "$b3_rss"), PSS $(mib "$b3_pss")"

# Targets.
verdict() { if [ "$1" = 1 ]; then echo "MET"; else echo "MISSED"; fi; }
speedup=$(jq -r '.results[0].median as $b | .results[] | select(.command=="docker") | .median/$b' "$work/run --rm true.json")
note "target: run --rm true >= 10x faster than docker: $(printf '%.1f' "$speedup")x -> $(verdict "$(awk -v s="$speedup" 'BEGIN{print (s>=10)}')")"
note "target: berthd idle RSS <= 15 MB: $(mib "$b_rss") -> $(verdict "$(awk -v r="$b_rss" 'BEGIN{print (r*1024<=15000000)}')")"
note "target: berthd RSS after load + 20 run --rm <= 20 MiB: $(mib "$b1_rss") -> $(verdict "$((b1_rss <= 20480))")"
note "target: <= 1.5 MB RSS per shim: $(mib "${shim_b:-0}") -> $(verdict "$(awk -v r="${shim_b:-999999}" 'BEGIN{print (r*1024<=1500000)}')")"

print_summary
echo "bench: uptime after: $(uptime)"
