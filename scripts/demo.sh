#!/usr/bin/env bash
# `make demo`: build what the demo needs, then run demo/server.mjs (two key services + the provider
# server that serves the page). Ctrl-C stops everything it started.
# Env: KEYSEAL_DEMO_PORT (8787), KEYSEAL_DEMO_KMS_PORT / KEYSEAL_DEMO_ESCROW_PORT (ephemeral),
#      KEYSEAL_DEMO_STORE (target/demo-store), KEYSEAL_DEMO_KMS_DIR (target/demo-kms).
# Arguments are passed to the server (e.g. --fresh: start with an empty store and new keys).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# npm packages, keyseal-kms, and pkg/ rebuilt when its sources changed (scripts/js-prepare.sh).
NAME=demo
source scripts/js-prepare.sh >&2
# exec: the node process receives Ctrl-C/SIGTERM directly and stops its children.
exec node demo/server.mjs "$@"
