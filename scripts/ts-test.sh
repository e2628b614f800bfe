#!/usr/bin/env bash
# The package as a TypeScript user meets it (scripts/ts-test.mjs): the type tests in js/test/types
# and every ```ts snippet of the READMEs, type-checked under strict by TypeScript 5.6, the repo's
# TypeScript and the newest release (nodenext and bundler resolution), then each snippet run by
# Node against a real keyseal-kms --dev. Prints "ts: N passed, M failed".
set -uo pipefail
NAME=ts
source "$(dirname "$0")/js-prepare.sh" >&2
exec node scripts/ts-test.mjs "$TARGET_DIR/debug/keyseal-kms"
