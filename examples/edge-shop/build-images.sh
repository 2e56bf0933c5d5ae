#!/bin/sh
# Builds the local Podman image localhost/edge-shop:latest from the static Go
# binaries in bin/ (run build.sh first), without a registry: a rootfs with
# the binaries is tarred and `podman import`ed.
#
#   ./build-images.sh                                   # the default podman
#   ./build-images.sh --url unix:///run/podman.sock     # the service the agent uses
#   ./build-images.sh --root /x/root --runroot /x/run   # any global podman flags
#
# Every argument is passed to podman as a global flag, so the image lands in
# the storage that the agent's Podman service reads.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN_DIR:-$here/bin}
image=${IMAGE:-localhost/edge-shop:latest}
for svc in frontend proxy public-api product-api shop-db; do
	[ -x "$bin/$svc" ] || { echo "build-images.sh: $bin/$svc is missing: run build.sh first" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/alloc" "$root/local" "$root/secrets"
cp "$bin/frontend" "$bin/proxy" "$bin/public-api" "$bin/product-api" "$bin/shop-db" "$root/bin/"
printf 'root:x:0:0:root:/:/bin/frontend\nnobody:x:65534:65534:nobody:/:/bin/frontend\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" -cf "$work/rootfs.tar" .
podman "$@" import --change 'CMD=["/bin/frontend"]' "$work/rootfs.tar" "$image"
echo "imported $image"
