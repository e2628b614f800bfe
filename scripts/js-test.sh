#!/usr/bin/env bash
# JS tests: builds the reference key service and the npm package (when its inputs changed), then
# runs js/test/suite.js in node, deno, bun, workerd, a Chromium page and a Chromium worker against
# real keyseal-kms processes on 127.0.0.1 (js/test/harness.mjs).
# Output ends with one `js RUNTIME: N passed, M failed` line per runtime and `js: N passed, M failed`.
# Env: KEYSEAL_JS_RUNTIMES=node,deno,… (subset), KEYSEAL_SKIP_PKG_BUILD=1 (use pkg/ as it is),
#      KEYSEAL_JS_VERBOSE=1 (per-test lines).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -x node_modules/.bin/deno ] || [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund
fi

if ! cargo build -p keyseal-kms -p keyseal --bin keyseal-kms --example open_sealed; then
  echo "js: 0 passed, 1 failed (keyseal-kms does not build)"
  exit 1
fi

# pkg/ is rebuilt (≈4 min when the release wasm must be recompiled) only when an input is newer than
# the built .wasm AND the inputs' content differs from what the last build here recorded (a checkout
# or commit touches mtimes without changing content).
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
  echo "js-test: building pkg/ (pkg-config/build.sh)" >&2
  if ! pkg-config/build.sh; then
    echo "js: 0 passed, 1 failed (pkg-config/build.sh failed)"
    exit 1
  fi
fi
if [ "${KEYSEAL_SKIP_PKG_BUILD:-0}" != 1 ]; then
  mkdir -p target
  inputs_hash > "$stamp"
fi

# A wedged harness must fail the run, not hang it: SIGTERM after 20 min, SIGKILL 15 s later.
exec timeout -k 15 1200 node js/test/harness.mjs "$@"
