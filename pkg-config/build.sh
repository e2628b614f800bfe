#!/usr/bin/env bash
# `make pkg`: cargo (release, wasm32) → wasm-bindgen (web target) → wasm-opt (npm binaryen) →
# assemble pkg/ (package.json from pkg-config/, JS from js/src, types from js/types).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=pkg
DIST=$OUT/dist
cargo build -p keyseal-wasm --target wasm32-unknown-unknown --profile wasm
rm -rf "$OUT"
mkdir -p "$DIST"
wasm-bindgen --target web --no-typescript --out-dir "$DIST" --out-name keyseal_wasm \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm/keyseal_wasm.wasm"
# npm binaryen, never Debian's (docs/BUILDING.md: Debian's binaryen 108 breaks wasm-bindgen output).
node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$DIST/keyseal_wasm_bg.wasm" -o "$DIST/keyseal_wasm_bg.wasm"
cp js/src/*.js "$DIST/"
cp js/types/*.d.ts "$DIST/"
cp pkg-config/package.json "$OUT/package.json"
cp pkg-config/README.md "$OUT/README.md"
wasm=$(stat -c %s "$DIST/keyseal_wasm_bg.wasm")
gz=$(cat "$DIST/keyseal_wasm_bg.wasm" "$DIST"/*.js | gzip -9 | wc -c)
echo "pkg: $DIST/keyseal_wasm_bg.wasm $wasm bytes; wasm + JS gzip $gz bytes"
