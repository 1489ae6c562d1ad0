#!/bin/sh
# Packs the busybox root filesystem from scripts/busybox-rootfs.sh as a docker-save tarball
# (Docker 25+ layout, which is also an OCI image layout): one uncompressed layer, a config with
# Cmd ["sh"] and Docker's default PATH. Reproducible: sorted entries, mtime 0, owner 0:0, fixed
# creation time, so the same busybox binary always gives the same image id.
# Usage: scripts/busybox-image.sh OUT.tar [NAME[:TAG]]   (default busybox:latest)
# Needs GNU tar and sha256sum. Load it with `docker load -i OUT.tar` or `berth load -i OUT.tar`.
set -eu
out=${1:?usage: busybox-image.sh OUT.tar [NAME[:TAG]]}
name=${2:-busybox:latest}
here=$(cd "$(dirname "$0")" && pwd)
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac

# Split NAME[:TAG] the way Docker does: a tag is a ':' after the last '/'.
repo=$name
tag=latest
last=${name##*/}
case "$last" in *:*) tag=${last##*:}; repo=${name%:*} ;; esac
# Fully qualified name, as Docker normalizes it.
first=${repo%%/*}
if [ "$first" = "$repo" ]; then
    full="docker.io/library/$repo"
else
    case "$first" in
        *.*|*:*|localhost) full=$repo ;;
        *) full="docker.io/$repo" ;;
    esac
fi

case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/busybox-rootfs.sh" "$work/rootfs"
mkdir -p "$work/out/blobs/sha256"
tarflags="--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu"

# shellcheck disable=SC2086
(cd "$work/rootfs" && LC_ALL=C tar $tarflags -cf "$work/layer.tar" $(LC_ALL=C ls -A))
put_blob() { # FILE -> prints its hex digest after moving it into blobs/sha256
    d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$work/out/blobs/sha256/$d"
    echo "$d"
}
size_of() { stat -c %s "$work/out/blobs/sha256/$1"; }

layer=$(put_blob "$work/layer.tar")
printf '{"architecture":"%s","config":{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"berth busybox fixture"}],"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
    "$arch" "$layer" > "$work/config"
config=$(put_blob "$work/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(size_of "$config")" "$layer" "$(size_of "$layer")" > "$work/manifest"
manifest=$(put_blob "$work/manifest")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s:%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(size_of "$manifest")" "$full" "$tag" "$tag" > "$work/out/index.json"
printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s:%s"],"Layers":["blobs/sha256/%s"]}]' \
    "$config" "$repo" "$tag" "$layer" > "$work/out/manifest.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/out/oci-layout"
printf '{"%s":{"%s":"%s"}}' "$repo" "$tag" "$layer" > "$work/out/repositories"

# shellcheck disable=SC2086
(cd "$work/out" && LC_ALL=C tar $tarflags -cf "$out" blobs index.json manifest.json oci-layout repositories)
echo "sha256:$config"
