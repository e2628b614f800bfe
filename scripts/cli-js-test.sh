#!/usr/bin/env bash
# The `keyseal` command line and the npm package open each other's messages (Node, the package's
# `node` entry in pkg/), signed and unsigned, with both CLI engines, against a real keyseal-kms on
# 127.0.0.1. Prints "cli-js: N passed, M failed". (The JS suite's own cross-runtime leg has the
# native core open what every JS runtime sealed: js/test/harness.mjs "native-rust".)
# Env: KEYSEAL_SKIP_PKG_BUILD=1 uses pkg/ as it is (as `make test` does after its pkg-build step).
set -euo pipefail
NAME=cli-js
source "$(dirname "$0")/js-prepare.sh"
if ! cargo build -p keyseal-cli --bin keyseal; then
  echo "$NAME: 0 passed, 1 failed (keyseal-cli does not build)"; exit 1
fi
BIN=$TARGET_DIR/debug
TMP=$(mktemp -d)
KMS_PID=
cleanup() { [ -n "$KMS_PID" ] && kill "$KMS_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN/keyseal-kms" serve --dev --listen 127.0.0.1:0 --db "$TMP/kms.db" >"$TMP/kms.out" 2>"$TMP/kms.err" &
KMS_PID=$!
for _ in $(seq 200); do grep -q KEYSEAL_DEV_TOKEN "$TMP/kms.out" 2>/dev/null && break; sleep 0.1; done
export KEYSEAL_KEY_SERVICE=$(sed -n 's/^KEYSEAL_KMS_URL=//p' "$TMP/kms.out")
export KEYSEAL_TOKEN=$(sed -n 's/^KEYSEAL_DEV_TOKEN=//p' "$TMP/kms.out")
export KEYSEAL_KEY_ID=acme/default KEYSEAL_SERVICE_ID=acme
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }

JS="$TMP/js.mjs"
cat >"$JS" <<JSEOF
import { readFileSync, writeFileSync } from 'node:fs';
import { KeySeal } from '$PWD/pkg/dist/index.node.js';
const [op, file, sign] = process.argv.slice(2);
const ks = await KeySeal.create({
  keyService: { id: 'acme', urls: [process.env.KEYSEAL_KEY_SERVICE] },
  keyId: 'acme/default',
  token: async () => process.env.KEYSEAL_TOKEN,
});
const plain = readFileSync('$TMP/plain');
if (op === 'seal') {
  writeFileSync(file, await ks.encrypt(plain, { context: { tenant: 'acme', from: 'js' }, sign: sign === 'signed' }));
} else {
  const opts = { requireContext: { tenant: 'acme', from: 'cli' } };
  if (sign === 'signed') opts.requireSigned = true;
  const got = await ks.decrypt(readFileSync(file), opts);
  if (Buffer.compare(Buffer.from(got), plain) !== 0) { console.error('plaintext differs'); process.exit(1); }
}
JSEOF
# 300,000 bytes: several 64 KiB segments and a short last one.
head -c 300000 /dev/urandom >"$TMP/plain"
for sign in unsigned signed; do
  # JS seals, the CLI opens (both engines).
  if node "$JS" seal "$TMP/js-$sign.ks" "$sign"; then
    for engine in native rustcrypto; do
      flags=(--require-context tenant=acme --require-context from=js --engine "$engine")
      [ "$sign" = signed ] && flags+=(--require-signed)
      if "$BIN/keyseal" decrypt "${flags[@]}" "$TMP/js-$sign.ks" -o "$TMP/out" && cmp -s "$TMP/out" "$TMP/plain"; then ok; else fail "CLI ($engine) opens a $sign message sealed by JS"; fi
    done
  else
    fail "JS seals a $sign message"
  fi
  # The CLI seals (both engines), JS opens.
  for engine in native rustcrypto; do
    flags=(--context tenant=acme --context from=cli --engine "$engine")
    [ "$sign" = signed ] && flags+=(--sign)
    if "$BIN/keyseal" encrypt "${flags[@]}" "$TMP/plain" -o "$TMP/cli-$sign-$engine.ks" && node "$JS" open "$TMP/cli-$sign-$engine.ks" "$sign"; then ok; else fail "JS opens a $sign message sealed by the CLI ($engine)"; fi
  done
done
# The CLI's requirement holds for JS messages too: a context JS did not bind is CONTEXT_MISMATCH (15).
set +e
"$BIN/keyseal" decrypt --require-context from=cli "$TMP/js-unsigned.ks" -o "$TMP/out" 2>/dev/null
st=$?
set -e
if [ "$st" = 15 ] && [ ! -e "$TMP/out.never" ]; then ok; else fail "context mismatch on a JS message exits 15 (got $st)"; fi
echo "$NAME: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
