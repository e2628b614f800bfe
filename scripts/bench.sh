#!/usr/bin/env bash
# `make bench`: keyseal beside its peers in Node and headless Chromium, plus native core
# throughput, package sizes, key-service calls, rotation and stream memory; rewrites the
# generated part of docs/BENCHMARKS.md. Nothing is asserted on time. About 9 min on 2 cores from a
# warm tree. Arguments go to bench/run.mjs (--quick: a short development run that still writes the
# file, marked as such).
#
#   1. native core      cargo bench -p keyseal-format --bench core (format/benches/core.rs) → JSON lines
#   1b. command line    scripts/bench-cli.sh: `keyseal encrypt/decrypt` of 1 GiB beside openssl speed
#   1c. designs         scripts/size-probe.sh: the wasm of a package without the SDK policy (sizes only)
#   2. everything in JS bench/run.mjs, against the release keyseal-kms: bench/peers/ (throughput
#                       beside the peers, package sizes), bench/key-service/, bench/rotation/,
#                       bench/memory/; bench/report.mjs renders the Markdown
# Not run here: bench/engines/engines.mjs (engine sweep, by hand) and `make bench-kms` (the key
# service under load, kms/examples/bench_kms.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-target}

# npm packages (peers included), the debug kms, and pkg/ rebuilt when its sources changed.
NAME=bench
source scripts/js-prepare.sh >&2
[[ -d node_modules/@aws-crypto/client-browser && -d node_modules/age-encryption ]] || npm install --no-audit --no-fund

# One native build for both: the kms (whose speed bounds the rewrap and first-call figures) and
# the core bench, same settings in the release and bench profiles so artifacts are shared.
# opt-level 3 as a native application would build; LTO off to keep the build short on 2 cores.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_BENCH_OPT_LEVEL=3 CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
cargo build --release -p keyseal-kms --bin keyseal-kms

echo "bench: 1. native core (cargo bench --bench core)" >&2
cargo bench -p keyseal-format --bench core > "$TARGET_DIR/bench-native.jsonl"

echo "bench: 1b. the keyseal command line, 1 GiB in /dev/shm (scripts/bench-cli.sh)" >&2
scripts/bench-cli.sh >/dev/null

echo "bench: 1c. the package designs' wasm (scripts/size-probe.sh, bench/size-probe)" >&2
scripts/size-probe.sh

echo "bench: 2. JS: peers, sizes, key-service calls, rotation, stream memory (bench/run.mjs)" >&2
exec timeout -k 15 1500 node bench/run.mjs --kms "$TARGET_DIR/release/keyseal-kms" --native "$TARGET_DIR/bench-native.jsonl" --write docs/BENCHMARKS.md "$@"
