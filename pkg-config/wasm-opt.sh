#!/usr/bin/env bash
# wasm-opt as the package uses it: `pkg-config/wasm-opt.sh IN.wasm OUT.wasm`. npm binaryen, never
# Debian's (docs/BUILDING.md: Debian's binaryen 108 breaks wasm-bindgen output); -O3 and the
# features every target runtime has (docs/DESIGN.md "Package size"). Used by pkg-config/build.sh
# and scripts/size-probe.sh, so the package and the measured designs are optimised alike.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$1" -o "$2"
