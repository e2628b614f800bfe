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
pkg-config/wasm-opt.sh "$DIST/keyseal_wasm_bg.wasm" "$DIST/keyseal_wasm_bg.wasm"
cp js/src/*.js "$DIST/"
# The browser entry as one module (docs/DESIGN.md "The browser entry is one file"): a page that
# imports the package without a bundler fetches one JS file and the .wasm, not a waterfall of nine
# modules (three levels deep), which was most of the Chromium cold start. Unminified, like the
# other entries; `new URL('keyseal_wasm_bg.wasm', import.meta.url)` stays for bundlers to follow.
node_modules/.bin/esbuild "$DIST/index.browser.js" --bundle --format=esm --platform=neutral \
  --log-level=warning --allow-overwrite --outfile="$DIST/index.browser.js"
cp js/types/*.d.ts "$DIST/"
cp pkg-config/package.json "$OUT/package.json"
cp pkg-config/README.md "$OUT/README.md"
wasm=$(stat -c %s "$DIST/keyseal_wasm_bg.wasm")
# what a browser loads (the bench's "as loaded" row): the .wasm and the browser entry, each gzip -9
gz=$(( $(gzip -9c "$DIST/keyseal_wasm_bg.wasm" | wc -c) + $(gzip -9c "$DIST/index.browser.js" | wc -c) ))
echo "pkg: $DIST/keyseal_wasm_bg.wasm $wasm bytes; as a browser loads it (wasm + index.browser.js) gzip $gz bytes"
