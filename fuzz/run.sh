#!/usr/bin/env bash
# Runs every cargo-fuzz target of the keyseal core for SECONDS seconds each.
#
#   fuzz/run.sh SECONDS
#
# Prints one line per target ("fuzz TARGET: N runs, no crash") and exits non-zero if any target
# crashed or failed to build. Needs a nightly toolchain (libFuzzer + sanitizers); without one it
# prints "fuzz: skipped (no nightly)" and exits 0. Installs cargo-fuzz if `cargo fuzz` is missing.
# Builds go to fuzz/target; corpora to fuzz/corpus/TARGET (seeded from tests/vectors/positive.json
# when present), crash inputs to fuzz/artifacts/TARGET.
set -euo pipefail

secs="${1:-}"
if [[ ! "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 SECONDS" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: skipped (no nightly)"
    exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz
fi

export CARGO_TARGET_DIR="$fuzz_dir/target"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$fuzz_dir")
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz: no targets found" >&2
    exit 1
fi

# Best effort: seed each corpus with the sealed messages of the shared positive vectors, so the
# fuzzers start from valid headers and bodies instead of having to discover the format.
vectors="$fuzz_dir/../tests/vectors/positive.json"
if [[ -f "$vectors" ]] && command -v python3 >/dev/null 2>&1; then
    python3 - "$vectors" "$fuzz_dir/corpus" "${targets[@]}" <<'PY' || echo "fuzz: seeding skipped" >&2
import json, os, sys
vectors, corpus, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
for t in targets:
    os.makedirs(os.path.join(corpus, t), exist_ok=True)
for i, v in enumerate(json.load(open(vectors))["vectors"]):
    msg = bytes.fromhex(v["sealed"])
    for t in targets:
        # `open` reads a chunking byte first.
        data = (bytes([i % 256]) + msg) if t == "open" else msg
        with open(os.path.join(corpus, t, "seed-%d" % i), "wb") as f:
            f.write(data)
PY
fi

status=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    echo "fuzz $t: building and running for ${secs}s" >&2
    if cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "$t" -- -max_total_time="$secs" >"$log" 2>&1; then
        runs="$(grep -oE 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)"
        if [[ -n "$runs" ]]; then
            echo "fuzz $t: $runs runs, no crash"
        else
            echo "fuzz $t: FAILED (no \"Done N runs\" line from libFuzzer)"
            tail -n 20 "$log" >&2
            status=1
        fi
    else
        code=$?
        artifact="$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)"
        if [[ -n "$artifact" ]]; then
            echo "fuzz $t: CRASH, input saved to $artifact"
        else
            echo "fuzz $t: FAILED (exit $code)"
        fi
        tail -n 40 "$log" >&2
        status=1
    fi
done
exit "$status"
