#!/usr/bin/env bash
# End-to-end test of the demo: demo/test/e2e.test.mjs in headless Chromium (playwright-core).
# Builds keyseal-kms and pkg/ when needed (scripts/js-prepare.sh). Screenshots
# go to target/demo-artifacts/. Last line: `demo-e2e: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cleanup() {
  # Everything this script started (the test, its demo server, key services, Chromium).
  local kids
  kids=$(pgrep -P $$ || true)
  [[ -n "$kids" ]] && kill $kids 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# npm packages, keyseal-kms, and pkg/ rebuilt when its sources changed (scripts/js-prepare.sh;
# KEYSEAL_SKIP_PKG_BUILD=1 uses pkg/ as it is, as `make test` does right after building it).
NAME=demo-e2e
source scripts/js-prepare.sh

timeout -k 15 900 node demo/test/e2e.test.mjs "$@" &
wait $!
