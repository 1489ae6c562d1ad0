#!/usr/bin/env bash
# Sets up a fresh machine and runs berth's whole test suite (as root: the tests use real
# namespaces, mounts, cgroups and a real daemon). This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] && [ "${BERTH_SKIP_ROOT_TESTS:-}" != 1 ]; then
    echo "test.sh: berth's tests need root (or set BERTH_SKIP_ROOT_TESTS=1)" >&2
    exit 1
fi
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Binaries first: the end-to-end tests run the real berthd, berth-shim and berth-runtime.
cargo build --workspace --bins --locked
cargo nextest run --workspace --locked --no-fail-fast "$@"
