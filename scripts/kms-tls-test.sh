#!/usr/bin/env bash
# The SDK in Node and headless Chromium against keyseal-kms's native TLS listener with a test CA,
# and a SIGHUP certificate reload (scripts/kms-tls-test.mjs). The Rust side of the same listener
# (keep-alive across a reload, refused files) is kms/tests/tls.rs.
# Last line: `kms-tls: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=kms-tls
# npm packages, the debug keyseal-kms, and pkg/ when its sources changed (KEYSEAL_SKIP_PKG_BUILD=1:
# pkg/ as it is, as `make test` does after the JS suites built it).
source scripts/js-prepare.sh
exec timeout -k 15 300 node scripts/kms-tls-test.mjs "$@"
