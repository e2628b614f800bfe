#!/usr/bin/env bash
# `make test`: every suite, with the number of tests each runner ran. Fails when any suite fails
# or any runner ran zero tests (wasm-bindgen-test can report success with none).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
LOG_DIR=${LOG_DIR:-target/test-logs}
mkdir -p "$LOG_DIR"
declare -A COUNT
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

check() { # check NAME COMMAND... (no test count)
  local name=$1; shift
  printf '\n=== %s: %s\n' "$name" "$*"
  if "$@"; then printf -- '--- %s ok\n' "$name"; else printf -- '--- %s FAILED\n' "$name"; FAILED+=("$name"); fi
}

core_has_no_js_bindings() {
  # The core never imports wasm-bindgen/web-sys/js-sys. On wasm32 the only path to them is
  # getrandom's `wasm_js` backend (crypto.getRandomValues), pruned here (DESIGN.md §core).
  ! grep -rnE 'wasm_bindgen|web_sys|js_sys' src/ &&
  ! cargo tree -p keyseal -e normal | grep -E 'wasm-bindgen|js-sys|web-sys' &&
  ! cargo tree -p keyseal -e normal --target wasm32-unknown-unknown --prune getrandom | grep -E 'wasm-bindgen|js-sys|web-sys'
}

check fmt cargo fmt --all --check
check clippy cargo clippy --workspace --all-targets -- -D warnings
check core-no-js-bindings core_has_no_js_bindings
check core-builds-for-wasm32 cargo build -p keyseal --target wasm32-unknown-unknown --release
run native cargo test --workspace
run wasm-node cargo test -p keyseal --target wasm32-unknown-unknown --tests
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_USE_BROWSER=1 \
  run wasm-chromium cargo test -p keyseal --target wasm32-unknown-unknown --tests
if [ -x fuzz/run.sh ]; then
  check fuzz fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

printf '\n=== tests run per runner\n'
TOTAL_FAILED=${#FAILED[@]}
for r in native wasm-node wasm-chromium; do
  n=${COUNT[$r]:-0}
  printf '%-14s %6s tests\n' "$r" "$n"
  TOTAL_PASSED=$((TOTAL_PASSED + n))
  if [ "$n" -eq 0 ]; then echo "runner $r ran no tests"; FAILED+=("$r-zero"); fi
done
if [ ${#FAILED[@]} -ne 0 ]; then
  printf 'FAILED: %s\n' "${FAILED[*]}"
  echo "keyseal: $TOTAL_PASSED passed, ${#FAILED[@]} failed"
  exit 1
fi
echo "keyseal: $TOTAL_PASSED passed, 0 failed"
