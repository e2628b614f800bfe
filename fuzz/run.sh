#!/usr/bin/env bash
# Runs every cargo-fuzz target of the keyseal format crate.
#
#   fuzz/run.sh SECONDS            each target for SECONDS seconds, with AddressSanitizer (make test)
#   fuzz/run.sh --runs N           each target for N executions, no sanitizer (make fuzz; see below)
#
# Environment: FUZZ_SANITIZER (address | none) overrides the sanitizer of either mode;
# FUZZ_TARGETS="open header_parse" runs only those targets.
#
# Prints one line per target ("fuzz TARGET: N runs in S s, no crash") and exits non-zero if any
# target crashed or failed to build. Needs a nightly toolchain (libFuzzer); without one it prints
# "fuzz: skipped (no nightly)" and exits 0. Installs cargo-fuzz if `cargo fuzz` is missing.
#
# Corpora: the kept corpus is fuzz/seeds/TARGET (in the repository). A run works on
# fuzz/corpus/TARGET (not kept), seeded from fuzz/seeds/TARGET and the sealed messages of
# tests/vectors/positive.json. A --runs run then merges the inputs that found new coverage back into
# fuzz/seeds/TARGET (libFuzzer -merge=1: only inputs that add coverage, so it stays small); review
# and commit them. Crash inputs go to fuzz/artifacts/TARGET.
#
# Why the long run has no sanitizer: every keyseal crate forbids `unsafe`, so AddressSanitizer only
# watches the dependencies' unsafe code (AES and SHA intrinsics), and it costs about five times the
# throughput (docs/BUILDING.md "Fuzzing"). The short run in `make test` keeps it.
set -euo pipefail

mode=seconds
if [[ "${1:-}" == "--runs" ]]; then
    mode=runs
    amount="${2:-}"
else
    amount="${1:-}"
fi
if [[ ! "$amount" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 SECONDS | $0 --runs N" >&2
    exit 2
fi
if [[ $mode == runs ]]; then
    sanitizer="${FUZZ_SANITIZER:-none}"
    limit=(-runs="$amount")
else
    sanitizer="${FUZZ_SANITIZER:-address}"
    limit=(-max_total_time="$amount")
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

# One build directory per sanitizer, so switching between `make test` and `make fuzz` does not
# rebuild everything.
export CARGO_TARGET_DIR="$fuzz_dir/target/$sanitizer"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$fuzz_dir")
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz: no targets found" >&2
    exit 1
fi

# Working corpora: the kept seeds, plus the sealed messages of the shared positive vectors (so the
# fuzzers start from valid headers and bodies instead of having to discover the format).
python3 - "$fuzz_dir/../tests/vectors/positive.json" "$fuzz_dir" "${targets[@]}" <<'PY'
import json, os, shutil, sys
vectors, fuzz_dir, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
messages = [bytes.fromhex(v["sealed"]) for v in json.load(open(vectors))["vectors"]]
for t in targets:
    work = os.path.join(fuzz_dir, "corpus", t)
    os.makedirs(work, exist_ok=True)
    seeds = os.path.join(fuzz_dir, "seeds", t)
    if os.path.isdir(seeds):
        for name in os.listdir(seeds):
            shutil.copyfile(os.path.join(seeds, name), os.path.join(work, name))
    for i, msg in enumerate(messages):
        # `open` reads a chunking byte first; `range_rewrap` 17 bytes of offsets first.
        data = {"open": bytes([i % 256]) + msg, "range_rewrap": bytes(17) + msg}.get(t, msg)
        with open(os.path.join(work, "vector-%d" % i), "wb") as f:
            f.write(data)
PY

status=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    echo "fuzz $t: building and running (${limit[*]}, sanitizer $sanitizer)" >&2
    start=$SECONDS
    if cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" -s "$sanitizer" "$t" "corpus/$t" -- "${limit[@]}" >"$log" 2>&1; then
        runs="$(grep -oE 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)"
        if [[ -n "$runs" ]]; then
            echo "fuzz $t: $runs runs in $((SECONDS - start)) s, no crash"
        else
            echo "fuzz $t: FAILED (no \"Done N runs\" line from libFuzzer)"
            tail -n 20 "$log" >&2
            status=1
            continue
        fi
        if [[ $mode == runs ]]; then
            mkdir -p "seeds/$t"
            before=$(find "seeds/$t" -type f | wc -l)
            cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" -s "$sanitizer" "$t" "seeds/$t" "corpus/$t" -- -merge=1 >"$log.merge" 2>&1 \
                || { echo "fuzz $t: merging into seeds/$t failed" >&2; tail -n 20 "$log.merge" >&2; status=1; }
            echo "fuzz $t: seeds/$t has $(find "seeds/$t" -type f | wc -l) inputs (was $before)"
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
