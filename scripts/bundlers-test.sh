#!/usr/bin/env bash
# Bundler examples (examples/bundlers/<tool>/): each example installs the PACKED package (`npm pack`
# of pkg/, not a link), is built by its own tool in production mode and served on 127.0.0.1, and its
# page (plus a Web Worker the tool built; in the Vite build also a Service Worker) runs encrypt → decrypt, a stream and typed errors against
# a real keyseal-kms in headless Chromium (examples/bundlers/test/run.mjs).
#
#   scripts/bundlers-test.sh [TOOL...]     default: vite vite-dev webpack (the set `make test` runs);
#                                          `make test-bundlers` runs every tool
#
# npm installs only when an example's node_modules is missing or its package-lock.json changed;
# the keyseal tarball is reinstalled (npm install --no-save) only when pkg/ packs differently.
# Uses pkg/ as it is when KEYSEAL_SKIP_PKG_BUILD=1 (scripts/js-prepare.sh).
# Last line of output, always: `bundlers: N passed, M failed`. Exit 1 when M > 0 or N = 0.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=("$@")
[[ ${#TOOLS[@]} -eq 0 ]] && TOOLS=(vite vite-dev webpack)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-bundlers-run.XXXXXX")
pidfile="$tmp/pids"
: >"$pidfile"
summary=""
cleanup() {
  # every child the test started (kms, vite preview, next start), by id, even after a timeout kill
  if [[ -s "$pidfile" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
    done <"$pidfile"
  fi
  rm -rf "$tmp"
  echo "${summary:-bundlers: 0 passed, 1 failed}"
}
trap cleanup EXIT

# npm packages of the repo, keyseal-kms, and pkg/ (rebuilt when its sources changed)
NAME=bundlers
source scripts/js-prepare.sh >&2

# the package as users get it: npm pack of pkg/
packdir=$(realpath -m "$TARGET_DIR/bundlers")   # CARGO_TARGET_DIR may be absolute or relative
rm -rf "$packdir"
mkdir -p "$packdir"
tgz=$(cd pkg && npm pack --silent --pack-destination "$packdir" | tail -n 1)
tgz=$packdir/$tgz
tgz_sum=$(sha256sum "$tgz" | cut -d' ' -f1)

for tool in "${TOOLS[@]}"; do
  d=examples/bundlers/${tool%-dev}   # vite-dev: the vite example under its dev server
  if [[ ! -f $d/package-lock.json ]]; then
    echo "bundlers: no example $d" >&2
    exit 1
  fi
  lock_sum=$(sha256sum "$d/package-lock.json" | cut -d' ' -f1)
  if [[ -d $d/node_modules && ! -f $d/node_modules/.keyseal-lock.sha256 && $d/node_modules/.package-lock.json -nt $d/package-lock.json ]]; then
    echo "$lock_sum" >"$d/node_modules/.keyseal-lock.sha256"   # installed by scripts/bootstrap.sh (npm ci)
  fi
  if [[ ! -d $d/node_modules ]] || [[ "$(cat "$d/node_modules/.keyseal-lock.sha256" 2>/dev/null)" != "$lock_sum" ]]; then
    echo "bundlers: npm ci in $d" >&2
    (cd "$d" && npm ci --no-audit --no-fund >&2)
    echo "$lock_sum" >"$d/node_modules/.keyseal-lock.sha256"
    rm -f "$d/node_modules/.keyseal-tarball.sha256"
  fi
  if [[ ! -f $d/node_modules/keyseal/package.json ]] || [[ "$(cat "$d/node_modules/.keyseal-tarball.sha256" 2>/dev/null)" != "$tgz_sum" ]]; then
    echo "bundlers: npm install --no-save $tgz in $d" >&2
    (cd "$d" && npm install --no-save --no-audit --no-fund "$tgz" >&2)
    echo "$tgz_sum" >"$d/node_modules/.keyseal-tarball.sha256"
  fi
done

set +e
KEYSEAL_PIDFILE="$pidfile" timeout -k 15 1200 node examples/bundlers/test/run.mjs "${TOOLS[@]}" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
cat "$tmp/err" >&2
# the driver's own summary line is re-emitted last by cleanup
grep -v '^bundlers: [0-9]* passed, [0-9]* failed$' "$tmp/out" || true
summary=$(grep -E '^bundlers: [0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1 || true)
if [[ -z "$summary" ]]; then
  echo "bundlers: test did not finish (exit $rc)" >&2
  exit 1
fi
passed=$(sed -E 's/^bundlers: ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
if [[ $rc -ne 0 || $failed -ne 0 || $passed -eq 0 ]]; then
  exit 1
fi
exit 0
