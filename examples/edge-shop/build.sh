#!/bin/sh
# Builds the edge shop into examples/edge-shop/bin/ (or $1):
#   shop-db product-api public-api frontend proxy   native Go binaries for exec tasks
#   payments.wasm                                    the wasm guest (needs clang, lld, wasi-libc)
# The Go binaries are static (CGO_ENABLED=0), so build-images.sh can put the
# same files in a Podman image.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/bin}
mkdir -p "$out"
cd "$here"
for svc in shop-db product-api public-api frontend proxy; do
	CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$out/$svc" "./cmd/$svc"
done
clang=${CLANG:-clang}
if command -v "$clang" >/dev/null 2>&1; then
	"$clang" --target=wasm32-wasi -O2 -Wl,--strip-all -o "$out/payments.wasm" wasm/payments.c
else
	echo "build.sh: $clang not found: payments.wasm not built (Debian: apt-get install clang lld wasi-libc)" >&2
	exit 1
fi
echo "built into $out:"
ls -1 "$out"
