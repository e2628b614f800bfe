#!/usr/bin/env bash
# `make test`: every suite, with the number of tests each runner ran. Fails when any suite fails
# or any runner ran zero tests (wasm-bindgen-test can report success with none).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
LOG_DIR=${LOG_DIR:-target/test-logs}
mkdir -p "$LOG_DIR"
declare -A COUNT
RUNNERS=(native wasm-node wasm-chromium)
FAILED=()
TOTAL_PASSED=0

# Sum "test result: ok. N passed" lines (cargo test and wasm-bindgen-test-runner print the same).
count() { grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$1" | awk '{s+=$4} END {print s+0}'; }

run() { # run NAME COMMAND...
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  printf '\n=== %s: %s\n' "$name" "$*"
  if "$@" >"$log" 2>&1; then
    COUNT[$name]=$(count "$log")
    printf -- '--- %s ok (%s tests)\n' "$name" "${COUNT[$name]}"
  else
    COUNT[$name]=$(count "$log")
    tail -n 60 "$log"
    printf -- '--- %s FAILED (log: %s)\n' "$name" "$log"
    FAILED+=("$name")
  fi
}

run_plain() { # run_plain NAME COMMAND...: the command prints "NAME: N passed, M failed"
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  printf '\n=== %s: %s\n' "$name" "$*"
  if "$@" >"$log" 2>&1; then printf -- '--- %s ok\n' "$name"; else tail -n 60 "$log"; printf -- '--- %s FAILED (log: %s)\n' "$name" "$log"; FAILED+=("$name"); fi
  COUNT[$name]=$(grep -Eo "^$name: [0-9]+ passed" "$log" | awk '{s+=$2} END {print s+0}')
  RUNNERS+=("$name")
}

run_js() { # the JS harness prints "js RUNTIME: N passed, M failed" per runtime
  local log="$LOG_DIR/js.log"
  printf '\n=== js: %s\n' "$*"
  if "$@" 2>&1 | tee "$log" | grep -E '^js( [a-z0-9-]+)?:'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    printf -- '--- js ok\n'
  else
    tail -n 80 "$log"; printf -- '--- js FAILED (log: %s)\n' "$log"; FAILED+=("js")
  fi
  while read -r rt n; do COUNT["js-$rt"]=$n; RUNNERS+=("js-$rt"); done < <(grep -Eo '^js [a-z0-9-]+: [0-9]+ passed' "$log" | awk '{sub(":","",$2); print $2, $3}')
  if ! grep -qE '^js [a-z0-9-]+: [0-9]+ passed' "$log"; then COUNT[js]=0; RUNNERS+=("js"); fi
}

check() { # check NAME COMMAND... (no test count)
  local name=$1; shift
  printf '\n=== %s: %s\n' "$name" "$*"
  if "$@"; then printf -- '--- %s ok\n' "$name"; else printf -- '--- %s FAILED\n' "$name"; FAILED+=("$name"); fi
}

core_has_no_js_bindings() {
  # The core never imports wasm-bindgen/web-sys/js-sys. On wasm32 the only path to them is
  # getrandom's `wasm_js` backend (crypto.getRandomValues), pruned here (DESIGN.md §core).
  ! grep -rnE 'wasm_bindgen|web_sys|js_sys' src/ format/src protocol/src &&
  ! cargo tree -p keyseal -e normal | grep -E 'wasm-bindgen|js-sys|web-sys' &&
  ! cargo tree -p keyseal -e normal --target wasm32-unknown-unknown --prune getrandom | grep -E 'wasm-bindgen|js-sys|web-sys'
}

check fmt cargo fmt --all --check
check clippy cargo clippy --workspace --all-targets -- -D warnings
check clippy-wasm32 cargo clippy -p keyseal-wasm -p keyseal -p keyseal-format -p keyseal-protocol --target wasm32-unknown-unknown -- -D warnings
check docs env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
check core-no-js-bindings core_has_no_js_bindings
check core-builds-for-wasm32 cargo build -p keyseal --target wasm32-unknown-unknown --profile wasm
run native cargo test --workspace
run wasm-node cargo test -p keyseal-format -p keyseal --target wasm32-unknown-unknown --tests
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_USE_BROWSER=1 \
  run wasm-chromium cargo test -p keyseal-format -p keyseal --target wasm32-unknown-unknown --tests
check pkg-build pkg-config/build.sh
run_plain pkg-check scripts/pkg-check.sh
# The API reference of js/types/index.d.ts builds (TypeDoc) and every export and member is documented.
check api-docs scripts/api-docs.sh
# The TypeScript user's view: type tests and every README ```ts snippet type-checked (TS 5.6, the
# repo's, the newest; nodenext and bundler) and run against a real keyseal-kms.
KEYSEAL_SKIP_PKG_BUILD=1 run_plain ts scripts/ts-test.sh
if [ -x scripts/js-test.sh ]; then
  KEYSEAL_SKIP_PKG_BUILD=1 run_js scripts/js-test.sh
fi
# The same suite with every instance on the Rust core in wasm (the path of runtimes without
# crypto.subtle, and `engine: 'wasm'`), in Node and Chromium.
KEYSEAL_SKIP_PKG_BUILD=1 run_plain wasm-core scripts/wasm-core-test.sh
# The `keyseal` command line and the package open each other's messages (Node, real keyseal-kms).
KEYSEAL_SKIP_PKG_BUILD=1 run_plain cli-js scripts/cli-js-test.sh
if [ -x scripts/js-large-test.sh ]; then
  KEYSEAL_SKIP_PKG_BUILD=1 run_plain js-large timeout -k 15 900 scripts/js-large-test.sh
fi
# The demo walked end to end in headless Chromium, and the edge worker in workerd (miniflare).
KEYSEAL_SKIP_PKG_BUILD=1 run_plain demo-e2e scripts/demo-test.sh
KEYSEAL_SKIP_PKG_BUILD=1 run_plain edge scripts/edge-test.sh
# The SDK in Node and Chromium against keyseal-kms's native TLS listener, with a reload (~20 s).
KEYSEAL_SKIP_PKG_BUILD=1 run_plain kms-tls scripts/kms-tls-test.sh
# The bundler examples (Vite build and dev server, webpack) built from the packed package, in
# headless Chromium (~12 s warm); Next.js (a `next build` per run) only in `make test-bundlers`.
KEYSEAL_SKIP_PKG_BUILD=1 run_plain bundlers scripts/bundlers-test.sh vite vite-dev webpack
if [ -x fuzz/run.sh ]; then
  check fuzz fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

printf '\n=== tests run per runner\n'
TOTAL_FAILED=${#FAILED[@]}
for r in "${RUNNERS[@]}"; do
  n=${COUNT[$r]:-0}
  printf '%-16s %6s tests\n' "$r" "$n"
  TOTAL_PASSED=$((TOTAL_PASSED + n))
  if [ "$n" -eq 0 ]; then echo "runner $r ran no tests"; FAILED+=("$r-zero"); fi
done
if [ ${#FAILED[@]} -ne 0 ]; then
  printf 'FAILED: %s\n' "${FAILED[*]}"
  echo "keyseal: $TOTAL_PASSED passed, ${#FAILED[@]} failed"
  exit 1
fi
echo "keyseal: $TOTAL_PASSED passed, 0 failed"
