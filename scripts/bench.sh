#!/usr/bin/env bash
# `make bench`: keyseal beside its peers in Node and headless Chromium, plus native core
# throughput, package sizes, key-service calls, rotation and stream memory; rewrites the
# generated part of docs/BENCHMARKS.md (bench/run.mjs, bench/report.mjs). Nothing is asserted on
# time. About 12 min on 2 cores from a warm tree. Arguments go to bench/run.mjs (--quick: a short
# development run that still writes the file, marked as such).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

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
echo "bench: native core (cargo bench --bench core)" >&2
cargo bench -p keyseal-format --bench core > target/bench-native.jsonl

exec timeout -k 15 1500 node bench/run.mjs --kms target/release/keyseal-kms --native target/bench-native.jsonl --write docs/BENCHMARKS.md "$@"
