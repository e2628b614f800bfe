#!/usr/bin/env bash
# Edge-worker tests (examples/edge-worker): the worker in real workerd (miniflare, local R2) in
# front of the real keyseal-kms. Builds the kms binary; uses pkg/ as it is (builds it only when
# pkg/dist/keyseal_wasm_bg.wasm is missing — someone else may be rebuilding it, so wait first).
# Last line of output, always: `edge: N passed, M failed`. Exit 1 when M > 0 or N = 0.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-edge-run.XXXXXX")
pidfile="$tmp/pids"
: >"$pidfile"
summary=""
cleanup() {
  # every child the test started (kms, workerd), by id, even after a crash or a timeout kill
  if [[ -s "$pidfile" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
    done <"$pidfile"
  fi
  rm -rf "$tmp"
  echo "${summary:-edge: 0 passed, 1 failed}"
}
trap cleanup EXIT

# npm packages, keyseal-kms, and pkg/ rebuilt when its sources changed (scripts/js-prepare.sh;
# KEYSEAL_SKIP_PKG_BUILD=1 uses pkg/ as it is, as `make test` does right after building it).
NAME=edge
source scripts/js-prepare.sh >&2

set +e
KEYSEAL_PIDFILE="$pidfile" timeout -k 15 900 node examples/edge-worker/test/edge.test.mjs >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
cat "$tmp/err" >&2
# the test's own summary line is re-emitted last by cleanup
grep -v '^edge: [0-9]* passed, [0-9]* failed$' "$tmp/out" || true
summary=$(grep -E '^edge: [0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1 || true)
if [[ -z "$summary" ]]; then
  echo "edge: test did not finish (exit $rc)" >&2
  exit 1
fi
passed=$(sed -E 's/^edge: ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
if [[ $rc -ne 0 || $failed -ne 0 || $passed -eq 0 ]]; then
  exit 1
fi
exit 0
