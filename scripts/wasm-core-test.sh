#!/usr/bin/env bash
# The whole JS suite with every instance on the Rust core in wasm (KEYSEAL_IMPLEMENTATION=wasm: the
# package's `engine: 'wasm'` unless a test names its engine), in Node and a Chromium page: the path a
# runtime without crypto.subtle takes, and the Rust SDK held to the same d.ts as the SDK in JS.
# Prints `wasm-core: N passed, M failed` (the sum over those runtimes). Env as js-test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
KEYSEAL_IMPLEMENTATION=wasm scripts/js-test.sh --runtimes "${KEYSEAL_WASM_CORE_RUNTIMES:-node,chromium}" >"$log" 2>&1
rc=$?
grep -E '^  FAIL|^js (node|chromium)' "$log" | cut -c1-300
passed=$(grep -Eo '^js (node|chromium): [0-9]+ passed' "$log" | awk '{s+=$3} END {print s+0}')
failed=$(grep -Eo '^js (node|chromium): [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$5} END {print s+0}')
echo "wasm-core: $passed passed, $failed failed"
rm -f "$log"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
