#!/usr/bin/env bash
# End-to-end test of the demo: demo/test/e2e.test.mjs in headless Chromium (playwright-core).
# Builds keyseal-kms and pkg/ when needed (scripts/js-prepare.sh). Screenshots
# go to target/demo-artifacts/. Last line: `demo-e2e: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-demo-run.XXXXXX")
pidfile="$tmp/pids"
: >"$pidfile"
cleanup() {
  # Everything the test started (the demo server, its key services), by id, even after a crash or
  # a timeout kill: js/test/support/processes.mjs appends each pid to KEYSEAL_PIDFILE. Then this
  # script's own children (timeout).
  while read -r pid; do
    [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
  done <"$pidfile"
  local kids
  kids=$(pgrep -P $$ || true)
  [[ -n "$kids" ]] && kill $kids 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# npm packages, keyseal-kms, and pkg/ rebuilt when its sources changed (scripts/js-prepare.sh;
# KEYSEAL_SKIP_PKG_BUILD=1 uses pkg/ as it is, as `make test` does right after building it).
NAME=demo-e2e
source scripts/js-prepare.sh

KEYSEAL_PIDFILE="$pidfile" timeout -k 15 900 node demo/test/e2e.test.mjs "$@" &
wait $!
