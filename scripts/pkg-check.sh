#!/usr/bin/env bash
# Checks the npm package in pkg/ as a user would get it: publint --strict, are-the-types-wrong,
# `npm pack`, install of the tarball into a fresh project, `import { KeySeal } from 'keyseal'` in
# Node, TypeScript (nodenext) against the shipped types, and an esbuild browser bundle.
# Prints "pkg-check: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/node_modules/.bin
pass=0; fail=0
ok() { echo "pkg-check ok: $1"; pass=$((pass + 1)); }
bad() { echo "pkg-check FAILED: $1"; fail=$((fail + 1)); }
step() { local name=$1; shift; if "$@" > /tmp/pkg-check.$$.log 2>&1; then ok "$name"; else cat /tmp/pkg-check.$$.log; bad "$name"; fi; }

step "publint --strict" "$BIN/publint" --strict pkg
step "attw (esm-only profile)" "$BIN/attw" --pack pkg --profile esm-only
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" /tmp/pkg-check.$$.log' EXIT
step "npm pack" bash -c "cd pkg && npm pack --pack-destination '$TMP' --silent"
TGZ=$(ls "$TMP"/keyseal-*.tgz 2>/dev/null | head -1)
mkdir -p "$TMP/app"
cat > "$TMP/app/package.json" <<'J'
{ "name": "app", "private": true, "type": "module" }
J
step "npm install tarball" bash -c "cd '$TMP/app' && npm install --no-audit --no-fund --silent '$TGZ'"
cat > "$TMP/app/main.js" <<'J'
import { KeySeal, inspect, KeySealError, DecryptionFailedError, ERROR_CODES } from 'keyseal';
if (typeof KeySeal.create !== 'function') throw new Error('no KeySeal.create');
if (!(new DecryptionFailedError('x') instanceof KeySealError)) throw new Error('error classes');
if (!ERROR_CODES.includes('KEY_DISABLED')) throw new Error('codes');
let threw = false;
try { await inspect(new Uint8Array([1, 2, 3])); } catch (e) { threw = e.code === 'INVALID_FORMAT'; }
if (!threw) throw new Error('inspect did not reject garbage with INVALID_FORMAT');
console.log('node import ok');
J
step "node: import { KeySeal } from 'keyseal'" bash -c "cd '$TMP/app' && node main.js"
cat > "$TMP/app/usage.ts" <<'J'
import { KeySeal, KeyDisabledError, type KeySealErrorCode, type Metrics } from 'keyseal';
const ks: KeySeal = await KeySeal.create({
  keyService: { id: 'acme', urls: ['http://127.0.0.1:8787/v1'] },
  keyId: 'acme/default',
  token: async () => 'jwt',
  cache: { maxAgeMs: 300_000, maxMessages: 10_000, maxBytes: 2 ** 30 },
  onEvent: (e) => { if (e.type === 'kmsCall') console.log(e.latencyMs); },
});
const sealed: Uint8Array = await ks.encrypt('hi', { context: { tenant: 'acme' } });
const text: string = await ks.decryptText(sealed, { requireContext: { tenant: 'acme' } });
const m: Metrics = ks.metrics();
const code: KeySealErrorCode = new KeyDisabledError('x').code;
console.log(text, m.cacheHitRatio, code);
J
cat > "$TMP/app/tsconfig.json" <<'J'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "lib": ["es2022", "dom"] }, "files": ["usage.ts"] }
J
step "tsc --noEmit (nodenext) against shipped types" bash -c "cd '$TMP/app' && '$BIN/tsc' -p tsconfig.json"
step "esbuild browser bundle" bash -c "cd '$TMP/app' && '$BIN/esbuild' main.js --bundle --format=esm --platform=browser --minify --outfile=out/bundle.js --loader:.wasm=file && test -s out/bundle.js"
echo "pkg-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
