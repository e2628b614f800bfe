#!/usr/bin/env bash
# JS tests: builds the reference key service and the npm package (when its inputs changed), then
# runs the suite (js/test/suite/) in node, deno, bun, workerd, a Chromium page and a Chromium worker
# against real keyseal-kms processes on 127.0.0.1 (js/test/harness.mjs; js/test/README.md).
# Output ends with one `js RUNTIME: N passed, M failed` line per runtime and `js: N passed, M failed`.
# Env: KEYSEAL_JS_RUNTIMES=node,deno,… (subset), KEYSEAL_SKIP_PKG_BUILD=1 (use pkg/ as it is),
#      KEYSEAL_JS_VERBOSE=1 (per-test lines).
set -euo pipefail
NAME=js
source "$(dirname "$0")/js-prepare.sh"

# A wedged harness must fail the run, not hang it: SIGTERM after 20 min, SIGKILL 15 s later.
exec timeout -k 15 1200 node js/test/harness.mjs "$@"
