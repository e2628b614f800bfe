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
# the package's JS, the SDK in JS (policy/) and the format in JS (format/) with it
cp js/src/*.js "$DIST/"
mkdir -p "$DIST/format" "$DIST/policy"
cp js/src/format/*.js "$DIST/format/"
cp js/src/policy/*.js "$DIST/policy/"
# The browser entry as one module (docs/DESIGN.md "The browser entry is one file"): a page that
# imports the package without a bundler fetches one JS file, not a waterfall of modules, which was
# most of the Chromium cold start. The .wasm is fetched only at the first use that needs it;
# `new URL('keyseal_wasm_bg.wasm', import.meta.url)` stays for bundlers to follow. Unminified,
# like the other entries.
node_modules/.bin/esbuild "$DIST/index.browser.js" --bundle --format=esm --platform=neutral \
  --log-level=warning --allow-overwrite --outfile="$DIST/index.browser.js"
cp js/types/*.d.ts "$DIST/"
cp pkg-config/package.json "$OUT/package.json"
cp pkg-config/README.md "$OUT/README.md"
wasm=$(stat -c %s "$DIST/keyseal_wasm_bg.wasm")
# what a browser loads for KeySeal (the bench's "as loaded" row): the browser entry, gzip -9; the
# .wasm only where a use needs it
gz=$(gzip -9c "$DIST/index.browser.js" | wc -c)
gzw=$(gzip -9c "$DIST/keyseal_wasm_bg.wasm" | wc -c)
echo "pkg: as a browser loads it (index.browser.js) gzip $gz bytes; the .wasm fetched at first need ($wasm bytes) gzip $gzw bytes"
