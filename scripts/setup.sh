#!/usr/bin/env bash
# Installs every system package berth's build, tests and demo need on a fresh Debian machine.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
pkgs=(busybox-static libseccomp-dev pkg-config iproute2 procps util-linux e2fsprogs tar openssl tini)
# The peers the interop tests run against (they skip with a message when a peer is missing).
if [ "${BERTH_SKIP_INTEROP:-}" != 1 ]; then
    pkgs+=(docker.io docker-registry skopeo)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "setup: installing cargo-nextest"
    cargo install --locked cargo-nextest
fi
