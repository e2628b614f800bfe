# Sourced by scripts/js-test.sh and scripts/js-large-test.sh with NAME set to the runner's name:
# npm packages, the kms binary (and the native opener), and pkg/ — rebuilt (≈4 min when the release
# wasm must be recompiled) only when an input is newer than the built .wasm AND the inputs' content
# differs from what the last build here recorded (a checkout touches mtimes, not content).
# KEYSEAL_SKIP_PKG_BUILD=1 uses pkg/ as it is. On failure prints "NAME: 0 passed, 1 failed (...)".
# Cargo's output goes to CARGO_TARGET_DIR when set (a git worktree with its own target/), else
# target/; the runners look for the kms binary and the native opener there too
# (js/test/support/paths.mjs).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [ ! -x node_modules/.bin/deno ] || [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund
fi

if ! cargo build -p keyseal-kms -p keyseal --bin keyseal-kms --example open_sealed; then
  echo "$NAME: 0 passed, 1 failed (keyseal-kms does not build)"
  exit 1
fi

wasm=pkg/dist/keyseal_wasm_bg.wasm
stamp=$TARGET_DIR/js-test-pkg-inputs.sha256
# everything the wasm package is built from: the workspace manifest, the crates it links (the SDK,
# the format, the protocol, the wasm boundary), the JS and types it ships, and its build script
inputs_list() { find Cargo.toml Cargo.lock src format/Cargo.toml format/src protocol/Cargo.toml protocol/src wasm js/src js/types pkg-config -type f "$@"; }
inputs_hash() { inputs_list -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1; }
need_build=0
if [ ! -f "$wasm" ]; then
  need_build=1
elif [ "${KEYSEAL_SKIP_PKG_BUILD:-0}" != 1 ] && [ -n "$(inputs_list -newer "$wasm" -print -quit)" ]; then
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(inputs_hash)" ]; then need_build=1; fi
fi
if [ "$need_build" = 1 ]; then
  echo "$NAME: building pkg/ (pkg-config/build.sh)" >&2
  if ! pkg-config/build.sh; then
    echo "$NAME: 0 passed, 1 failed (pkg-config/build.sh failed)"
    exit 1
  fi
fi
if [ "${KEYSEAL_SKIP_PKG_BUILD:-0}" != 1 ]; then
  mkdir -p "$TARGET_DIR"
  inputs_hash > "$stamp"
fi
