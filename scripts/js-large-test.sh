#!/usr/bin/env bash
# Large-data tests (issue 5), separate from scripts/js-test.sh so the main suite stays fast:
# a 1 GiB encryptStream → decryptStream round trip in headless Chromium with flat wasm memory,
# ranged decrypts through a real HTTP Range server counting the bytes it sent, and header-only
# rotation of 1,000 sealed objects on disk (js/test/large.mjs). About 2–4 minutes on 2 cores.
# Output ends with `js-large GROUP: N passed, M failed` lines and `js-large: N passed, M failed`.
# Env: KEYSEAL_SKIP_PKG_BUILD=1 (use pkg/ as it is), KEYSEAL_LARGE_GROUPS=stream,range,rotate,
#      KEYSEAL_LARGE_STREAM_MIB=64,256,1024, KEYSEAL_LARGE_OBJECTS=1000,
#      KEYSEAL_LARGE_OBJECT_BYTES=1048576, KEYSEAL_LARGE_VERBOSE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund
fi

if ! cargo build -p keyseal-kms --bin keyseal-kms; then
  echo "js-large: 0 passed, 1 failed (keyseal-kms does not build)"
  exit 1
fi

# Same rule as scripts/js-test.sh: rebuild pkg/ only when an input changed since the last build.
wasm=pkg/dist/keyseal_wasm_bg.wasm
stamp=target/js-test-pkg-inputs.sha256
inputs_list() { find Cargo.toml Cargo.lock src wasm js/src js/types pkg-config -type f "$@"; }
inputs_hash() { inputs_list -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1; }
need_build=0
if [ ! -f "$wasm" ]; then
  need_build=1
elif [ "${KEYSEAL_SKIP_PKG_BUILD:-0}" != 1 ] && [ -n "$(inputs_list -newer "$wasm" -print -quit)" ]; then
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(inputs_hash)" ]; then need_build=1; fi
fi
if [ "$need_build" = 1 ]; then
  echo "js-large: building pkg/ (pkg-config/build.sh)" >&2
  if ! pkg-config/build.sh; then
    echo "js-large: 0 passed, 1 failed (pkg-config/build.sh failed)"
    exit 1
  fi
fi
if [ "${KEYSEAL_SKIP_PKG_BUILD:-0}" != 1 ]; then
  mkdir -p target
  inputs_hash > "$stamp"
fi

exec node js/test/large.mjs "$@"
