#!/usr/bin/env bash
# The measured designs of docs/DESIGN.md "Package size: the designs measured": builds
# bench/size-probe (the format and its cryptography behind wasm-bindgen, no SDK policy) as the
# package is built (cargo `--profile wasm`, wasm-bindgen --target web, pkg-config/wasm-opt.sh),
# once without and once with the wasm P-256 fallback, into $TARGET/size-probe/{format,format-p256}/.
# bench/peers/sizes.mjs reports their gzip sizes beside the package's. Run by scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
for variant in format format-p256; do
  features=()
  [[ $variant == format-p256 ]] && features=(--features p256-fallback)
  cargo build -q -p keyseal-size-probe --target wasm32-unknown-unknown --profile wasm "${features[@]}"
  out="$TARGET_DIR/size-probe/$variant"
  rm -rf "$out" && mkdir -p "$out"
  wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name probe \
    "$TARGET_DIR/wasm32-unknown-unknown/wasm/keyseal_size_probe.wasm"
  pkg-config/wasm-opt.sh "$out/probe_bg.wasm" "$out/probe_bg.wasm"
done
