#!/usr/bin/env bash
# Builds (once, cached) the big multi-layer image bench/image-load.sh loads: a docker-save tar
# (Docker 25+ layout, which Docker 20.10's `load` also reads through manifest.json) with four
# uncompressed layers:
#   1. debootstrap --variant=minbase bookworm (the base system, thousands of small files)
#   2. four 16 MiB files of random data under /opt/bench/big (large files)
#   3. 3000 small files under /opt/bench/small and a replaced /etc/os-release
#   4. deletions: whiteouts for every entry of /usr/share/doc and for one big file, and an
#      opaque /usr/share/locale with one new file (overlay's `.wh..wh..opq`)
# Usage: bench/debian-image.sh [CACHE_DIR]   (default /var/cache/berth-bench)
# Leaves CACHE_DIR/rootfs (the debootstrap tree), CACHE_DIR/debian-bench.tar (image debian-bench:latest) and CACHE_DIR/layers/{1..4}.tar;
# prints the image tar's path. Needs root, debootstrap, GNU tar, sha256sum, jq.
set -euo pipefail
cache=${1:-/var/cache/berth-bench}
out=$cache/debian-bench.tar
if [ -s "$out" ] && [ -s "$cache/layers/4.tar" ]; then
    echo "$out"
    exit 0
fi
mkdir -p "$cache/layers"
tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tarflags=(--sort=name --numeric-owner --format=gnu)

# The debootstrap tree is cached too (it is the slow part: a download from the mirror).
base=$cache/rootfs
if [ ! -e "$cache/rootfs.done" ]; then
    echo "debian-image: debootstrap minbase bookworm (a minute or two from the mirror)" >&2
    rm -rf "$base"
    debootstrap --variant=minbase bookworm "$base" http://deb.debian.org/debian >"$tmp/debootstrap.log" 2>&1 || {
        tail -20 "$tmp/debootstrap.log" >&2
        exit 1
    }
    # Leftovers from debootstrap that are not part of an image.
    rm -rf "$base/var/cache/apt/archives/"*.deb "$base/var/lib/apt/lists/"*_Packages "$base/proc/"* "$base/dev/"*
    touch "$cache/rootfs.done"
fi
ln -s "$base" "$tmp/l1"

mkdir -p "$tmp/l2/opt/bench/big"
for i in 1 2 3 4; do head -c 16M /dev/urandom >"$tmp/l2/opt/bench/big/blob$i.bin"; done

mkdir -p "$tmp/l3/opt/bench/small" "$tmp/l3/etc"
for d in $(seq -w 0 29); do
    mkdir -p "$tmp/l3/opt/bench/small/d$d"
    for f in $(seq -w 0 99); do head -c 2048 /dev/urandom >"$tmp/l3/opt/bench/small/d$d/f$f"; done
done
printf 'PRETTY_NAME="berth bench image (Debian bookworm)"\nID=debian\n' >"$tmp/l3/etc/os-release"

mkdir -p "$tmp/l4/usr/share/doc" "$tmp/l4/opt/bench/big" "$tmp/l4/usr/share/locale"
for e in "$tmp/l1/usr/share/doc/"*; do : >"$tmp/l4/usr/share/doc/.wh.$(basename "$e")"; done
: >"$tmp/l4/opt/bench/big/.wh.blob1.bin"
: >"$tmp/l4/usr/share/locale/.wh..wh..opq"
echo "locales removed by the bench image" >"$tmp/l4/usr/share/locale/README"

mkdir -p "$tmp/out/blobs/sha256"
put_blob() { # FILE -> its hex digest, after moving it into blobs/sha256
    local d
    d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$tmp/out/blobs/sha256/$d"
    echo "$d"
}
size_of() { stat -c %s "$tmp/out/blobs/sha256/$1"; }

layers=()
for n in 1 2 3 4; do
    # Entries without a "./" prefix, like Docker's own layers.
    (cd "$tmp/l$n/" && LC_ALL=C tar "${tarflags[@]}" -cf "$tmp/layer$n.tar" $(LC_ALL=C ls -A))
    cp "$tmp/layer$n.tar" "$cache/layers/$n.tar.new"
    layers+=("$(put_blob "$tmp/layer$n.tar")")
done

diff_ids=$(printf '"sha256:%s",' "${layers[@]}")
history=$(printf '{"created":"1970-01-01T00:00:00Z","created_by":"berth bench layer %s"},' 1 2 3 4)
printf '{"architecture":"amd64","config":{"Cmd":["bash"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"created":"1970-01-01T00:00:00Z","history":[%s],"os":"linux","rootfs":{"diff_ids":[%s],"type":"layers"}}' \
    "${history%,}" "${diff_ids%,}" >"$tmp/config"
config=$(put_blob "$tmp/config")
layer_descs=$(for l in "${layers[@]}"; do
    printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s},' "$l" "$(size_of "$l")"
done)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$config" "$(size_of "$config")" "${layer_descs%,}" >"$tmp/manifest"
manifest=$(put_blob "$tmp/manifest")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/library/debian-bench:latest","org.opencontainers.image.ref.name":"latest"}}]}' \
    "$manifest" "$(size_of "$manifest")" >"$tmp/out/index.json"
layer_paths=$(printf '"blobs/sha256/%s",' "${layers[@]}")
printf '[{"Config":"blobs/sha256/%s","RepoTags":["debian-bench:latest"],"Layers":[%s]}]' \
    "$config" "${layer_paths%,}" >"$tmp/out/manifest.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$tmp/out/oci-layout"
printf '{"debian-bench":{"latest":"%s"}}' "${layers[3]}" >"$tmp/out/repositories"
jq -e . "$tmp/out/manifest.json" "$tmp/out/index.json" "$tmp/out/blobs/sha256/$config" >/dev/null

(cd "$tmp/out" && LC_ALL=C tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -cf "$out.new" blobs index.json manifest.json oci-layout repositories)
for n in 1 2 3 4; do mv "$cache/layers/$n.tar.new" "$cache/layers/$n.tar"; done
mv "$out.new" "$out"
echo "$out"
