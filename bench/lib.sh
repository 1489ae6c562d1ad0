# Shared set-up for bench/engine.sh and bench/image-load.sh (sourced, not run): installs the
# peers, starts a private berthd and a private dockerd (own data root, exec root, pidfile and
# socket), configures Podman with a private storage root, prints result tables, and tears
# everything down again on exit, also when a benchmark fails half way.
# shellcheck shell=bash

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# BERTH_BIN=DIR uses prebuilt berth, berthd and berth-shim from DIR and skips the build.
bin=${BERTH_BIN:-$bench_root/target/release}
docker_cli=/usr/local/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker || echo docker)

# Everything this run creates lives under $work (disk, same filesystem as a real data root)
# and $run (short path: unix sockets under it must stay below 108 bytes).
work=
run=
summary=
berthd_pid=
dockerd_pid=
links_before=

need_root() {
    [ "$(id -u)" = 0 ] || { echo "$0: run as root (the engines need namespaces, mounts, cgroups)" >&2; exit 1; }
}

# ensure_pkgs COMMAND:PACKAGE ... installs each package whose command is missing.
ensure_pkgs() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} = 0 ] && return
    echo "bench: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    }
}

build_berth() {
    [ -z "${BERTH_BIN:-}" ] || { echo "bench: using prebuilt binaries in $BERTH_BIN"; return; }
    echo "bench: building release binaries (cargo build --release --bins)"
    (cd "$bench_root" && cargo build --release --bins >/dev/null)
}

# make_dirs NAME creates $work, $run and the summary file, and installs the cleanup trap.
make_dirs() {
    mkdir -p /var/tmp
    work=$(mktemp -d "/var/tmp/berth-bench-$1.XXXXXX")
    run=$(mktemp -d /run/bb.XXXXXX)
    summary=$run/summary.txt
    links_before=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # A fresh ext4 on a sparse loop file: on a long-lived root filesystem the cost of creating
    # an inode depends on where the directory lands (measured here: tar -x of the Debian layer
    # took 0.7 s under /root and 12 s under /var/tmp), which would decide the result instead
    # of the engines. BENCH_ON_HOST_FS=1 skips this and uses /var/tmp directly.
    if [ -z "${BENCH_ON_HOST_FS:-}" ]; then
        truncate -s "${BENCH_FS_SIZE:-16G}" "$work.img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work.img"
        mount -o loop "$work.img" "$work"
    fi
}

# --- berth -------------------------------------------------------------------------------

berth_sock() { echo "$run/berthd.sock"; }
berth_cmd() { echo "$bin/berth -H unix://$(berth_sock)"; }

start_berthd() {
    mkdir -p "$work/berth-data" "$run/berth"
    "$bin/berthd" -H "unix://$(berth_sock)" --data-root "$work/berth-data" \
        --exec-root "$run/berth" --pidfile "$run/berthd.pid" >"$work/berthd.log" 2>&1 &
    berthd_pid=$!
    wait_for "berthd" "$bin/berth -H unix://$(berth_sock) version" "$work/berthd.log"
}

# --- docker ------------------------------------------------------------------------------

docker_sock() { echo "$run/docker.sock"; }
docker_cmd() { echo "$docker_cli -H unix://$(docker_sock)"; }

# A private dockerd; --iptables=false keeps it from adding global netfilter chains (the default
# bridge still gets a veth per container, so "default network" numbers include that work).
start_dockerd() {
    mkdir -p "$work/docker-data" "$run/docker"
    dockerd -H "unix://$(docker_sock)" --data-root "$work/docker-data" --exec-root "$run/docker" \
        --pidfile "$run/dockerd.pid" --iptables=false --log-level=warn \
        >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    wait_for "dockerd" "$(docker_cmd) version" "$work/dockerd.log"
}

# --- podman ------------------------------------------------------------------------------

# Podman as PEERS.md says: rlimits within the hard limits, runc, cgroupfs, file events; its
# storage, run root, tmp dir and network config are private to this run.
setup_podman() {
    local nproc pidmax
    nproc=$(ulimit -Hu)
    pidmax=$(cat /proc/sys/kernel/pid_max)
    [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
    mkdir -p "$work/podman-root" "$run/podman" "$run/podman-tmp" "$work/podman-net"
    cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$run/podman-tmp"
[network]
network_config_dir = "$work/podman-net"
EOF
    export CONTAINERS_CONF=$work/containers.conf
    # Keep ~/.config and /etc storage.conf out of it.
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' \
        "$run/podman" "$work/podman-root" >"$work/storage.conf"
    export CONTAINERS_STORAGE_CONF=$work/storage.conf
}
podman_cmd() { echo "podman --root $work/podman-root --runroot $run/podman --storage-driver overlay"; }

# --- shared --------------------------------------------------------------------------------

# wait_for NAME COMMAND LOG polls COMMAND for up to 30 s.
wait_for() {
    local i
    for i in $(seq 300); do
        $2 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: $1 did not come up in 30 s; its log:" >&2
    tail -20 "$3" >&2
    exit 1
}

# rss_pss PID prints "RSS_KB PSS_KB" from smaps_rollup.
rss_pss() {
    awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r+0, p+0}' "/proc/$1/smaps_rollup"
}

# pids_matching COMM TEXT: pids of processes named COMM whose command line contains TEXT.
pids_matching() {
    local pid
    for pid in $(pgrep -x "${1:0:15}"); do  # comm is cut to 15 bytes
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" && echo "$pid"
    done
    return 0
}

# report TITLE JSON prints every command's median and its ratio to the first command (berth),
# and appends the same rows to the summary.
report() {
    local title=$1 json=$2
    jq -r --arg t "$title" '.results as $r | $r[0].median as $b | $r[]
        | "| \($t) | \(.command) | \(.median*1000*10|round/10) ms | \(.median/$b*100|round/100)x |"' \
        "$json" | tee -a "$summary"
}

# note TEXT adds a free-form row to the summary (memory numbers, target checks).
note() { echo "$*" | tee -a "$summary"; }

print_summary() {
    echo
    echo "=== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)) ==="
    echo "| benchmark | command | median | vs berth (higher = berth faster) |"
    echo "| --- | --- | --- | --- |"
    grep '^|' "$summary"
    grep -v '^|' "$summary" || true
}

stop_pid() { # PID SECONDS: TERM, wait, then KILL
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? m l pid
    set +e
    trap - EXIT INT TERM
    [ -n "$work" ] || exit $rc
    echo "bench: cleaning up"
    if [ -s "$run/errors.log" ]; then
        echo "bench: errors the engines printed during timed commands:"
        sort "$run/errors.log" | uniq -c
    fi
    if [ -n "$berthd_pid" ] && kill -0 "$berthd_pid" 2>/dev/null; then
        ids=$($(berth_cmd) ps -aq 2>/dev/null)
        [ -n "$ids" ] && $(berth_cmd) rm -f $ids >/dev/null 2>&1
        stop_pid "$berthd_pid" 10
    fi
    # Shims outlive the daemon by design: kill ours (and their containers) if rm -f missed any.
    for pid in $(pids_matching berth-shim "$run/"); do
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        ids=$($(docker_cmd) ps -aq 2>/dev/null)
        [ -n "$ids" ] && $(docker_cmd) rm -f $ids >/dev/null 2>&1
        stop_pid "$dockerd_pid" 20
    fi
    for pid in $(pids_matching containerd-shim-runc-v2 "$run/"); do kill -KILL "$pid" 2>/dev/null; done
    if [ -n "${CONTAINERS_CONF:-}" ]; then
        $(podman_cmd) rm -af -t 0 >/dev/null 2>&1
        for pid in $(pids_matching conmon "$run/"); do kill -KILL "$pid" 2>/dev/null; done
    fi
    # Unmount anything left below our roots, deepest first.
    for _ in 1 2 3; do
        for m in $(findmnt -rn -o TARGET | grep -E "^($work|$run)(/|$)" | sort -r); do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        done
    done
    # Network links our peers created (docker0, podman0, veths) that were not there before.
    for l in $(comm -13 <(echo "$links_before") \
        <(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)); do
        case "$l" in docker0|podman*|veth*) ip link del "$l" 2>/dev/null ;; esac
    done
    rm -rf "$work" "$run" "$work.img"
    exit $rc
}
