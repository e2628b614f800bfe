// What is in the .wasm, by part of the SDK (twiggy's "shallow size" by crate, without installing
// twiggy): reads cargo's wasm32 output, which still has its `name` section (pkg-config/build.sh
// runs wasm-bindgen and wasm-opt on it after), and sums each function body's bytes under the part
// its (demangled) name belongs to. Generic code is counted where its outermost path points
// (`<alloc::…::BTreeMap<K, V>>::insert` is `alloc`, whoever instantiated it), so the crate rows
// are shallow sizes, as in twiggy, not what removing a crate would save. The gzip column is the
// part's bodies concatenated and compressed alone: an indication, since the module compresses as
// one stream. Used by bench/run.mjs ("What is in the .wasm"); also `node bench/peers/wasm-parts.mjs
// [path.wasm]` prints the table and the 40 largest functions.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TARGET } from '../../js/test/support/paths.mjs';

/** Cargo's wasm32 build of keyseal-wasm (`--profile wasm`), before wasm-bindgen and wasm-opt. */
export const CARGO_WASM = join(TARGET, 'wasm32-unknown-unknown', 'wasm', 'keyseal_wasm.wasm');

// Parts, first match wins: [label, list of path prefixes]. Module paths of the keyseal crates are
// their files (src/*.rs), so each part names what it holds.
const PARTS = [
  ['aws-kms kind (SigV4, AWS JSON)', ['keyseal::aws_kms', 'keyseal::sigv4']],
  ['kacls kind (Google CSE)', ['keyseal::kacls']],
  ['metrics, events, tracing', ['keyseal::metrics', 'keyseal::events', 'keyseal::trace']],
  ['key-service client (retries, failover, breaker, batching)', ['keyseal::kms_client', 'keyseal::attempt',
    'keyseal::breaker', 'keyseal::retry', 'keyseal::race', 'keyseal::endpoints', 'keyseal::transport',
    'keyseal::key_service', 'keyseal::generate_queue', 'keyseal::refusal', 'keyseal::identity']],
  ['caches and rewrap memo', ['keyseal::cache', 'keyseal::data_keys', 'keyseal::rewrap_memo']],
  ['SDK API (seal, open, streams, ranges, rotation)', ['keyseal::']],
  ['format (header, segments, suites)', ['keyseal_format::']],
  ['protocol messages (serde types, HPKE seal/open)', ['keyseal_protocol::']],
  ['wasm translation layer (wasm/)', ['keyseal_wasm::']],
  ['JSON (serde_json, serde)', ['serde_json::', 'serde::', 'serde_core::', 'zmij::', 'itoa::', 'ryu::']],
  ['AES-256-GCM', ['aes::', 'aes_gcm::', 'ghash::', 'polyval::', 'ctr::', 'cipher::', 'universal_hash::', 'aead::', 'u64 as aes::', 'u32 as aes::', 'Alg as cipher']],
  ['P-256 (wasm fallback)', ['p256::', 'primeorder::', 'elliptic_curve::', 'crypto_bigint::', 'ecdsa::', 'ff::', 'group::', 'rfc6979::', 'sec1::', 'base16ct::', 'der::', 'wnaf::', 'crypto_common::']],
  ['HPKE, HKDF, SHA-2, HMAC', ['hpke::', 'hkdf::', 'hmac::', 'sha2::', 'digest::', 'x25519_dalek::', 'curve25519_dalek::', 'generic_array::', 'subtle::', 'zeroize::']],
  ['base64', ['base64::']],
  ['formatting and number printing and parsing (core::fmt, core::num, f64 as text)', ['core::fmt', 'core::num', 'f64 as', 'f32 as', 'core::unicode', 'core::char']],
  ['collections and strings (alloc)', ['alloc::', 'hashbrown::']],
  ['allocator (dlmalloc)', ['dlmalloc::', '__rustc::', '___rustc']],
  ['bindings (wasm-bindgen, js-sys, web-sys, futures glue)', ['wasm_bindgen', 'js_sys::', 'web_sys::', 'serde_wasm_bindgen::', 'futures_', 'wasm_bindgen_futures::']],
  ['other core and std', ['core::', 'std::', 'dlmalloc::', '__', 'compiler_builtins::', 'memcpy', 'memset', 'memmove', 'memcmp']],
];

function leb(buf, pos) {
  let v = 0, shift = 0, b;
  do { b = buf[pos++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
  return [v, pos];
}

/** Function bodies (index, size, bytes) and names of a wasm module, and its data segments' size. */
export function readModule(bytes) {
  let pos = 8, imported = 0, data = 0;
  const bodies = [], names = new Map();
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size; [size, pos] = leb(bytes, pos);
    const end = pos + size;
    if (id === 2) {
      let n, p = pos; [n, p] = leb(bytes, p);
      for (let i = 0; i < n; i++) {
        let l; [l, p] = leb(bytes, p); p += l; [l, p] = leb(bytes, p); p += l;
        const kind = bytes[p++];
        if (kind === 0) { imported++; [, p] = leb(bytes, p); }
        else if (kind === 1) { p++; const f = bytes[p++]; [, p] = leb(bytes, p); if (f & 1) [, p] = leb(bytes, p); }
        else if (kind === 2) { const f = bytes[p++]; [, p] = leb(bytes, p); if (f & 1) [, p] = leb(bytes, p); }
        else if (kind === 3) p += 2;
        else if (kind === 4) { p++; [, p] = leb(bytes, p); }
      }
    } else if (id === 10) {
      let n, p = pos; [n, p] = leb(bytes, p);
      for (let i = 0; i < n; i++) {
        const start = p; let l; [l, p] = leb(bytes, p);
        bodies.push({ index: imported + i, size: p - start + l, bytes: bytes.subarray(p, p + l) });
        p += l;
      }
    } else if (id === 11) {
      data += size;
    } else if (id === 0) {
      let l, p = pos; [l, p] = leb(bytes, p);
      const name = Buffer.from(bytes.subarray(p, p + l)).toString('utf8'); p += l;
      if (name === 'name') {
        while (p < end) {
          const sub = bytes[p++]; let sl; [sl, p] = leb(bytes, p);
          const subEnd = p + sl;
          if (sub === 1) {
            let n; [n, p] = leb(bytes, p);
            for (let i = 0; i < n; i++) {
              let idx, nl; [idx, p] = leb(bytes, p); [nl, p] = leb(bytes, p);
              names.set(idx, Buffer.from(bytes.subarray(p, p + nl)).toString('utf8')); p += nl;
            }
          }
          p = subEnd;
        }
      }
    }
    pos = end;
  }
  return { bodies, names, data };
}

/**
 * The leading path of a v0-mangled Rust symbol (`_R…`): its first crate root and the identifiers
 * that follow it (`core::num::flt2dec::strategy::dragon::format_shortest`). Generic arguments and
 * impl types are left out; enough to say which crate and module a function is in.
 */
function demangleV0(name) {
  const c = /C(?:s[0-9A-Za-z]*_)?(\d+)/.exec(name.slice(2));
  if (!c) return name;
  let pos = 2 + c.index + c[0].length;
  const parts = [name.slice(pos, pos + Number(c[1]))];
  pos += Number(c[1]);
  for (;;) {
    const d = /^(?:s[0-9A-Za-z]*_)?(\d+)_?/.exec(name.slice(pos));
    if (!d) break;
    pos += d[0].length;
    parts.push(name.slice(pos, pos + Number(d[1])));
    pos += Number(d[1]);
  }
  return parts.join('::');
}

/** A mangled Rust symbol (legacy `_ZN…E` or v0 `_R…`) as a path, or the name unchanged. */
export function demangle(name) {
  if (name.startsWith('_R')) return demangleV0(name);
  const m = /^_?_ZN(.*)E$/.exec(name);
  if (!m) return name;
  const parts = [];
  let s = m[1];
  while (s.length) {
    const d = /^(\d+)/.exec(s);
    if (!d) break;
    const n = Number(d[1]);
    parts.push(s.slice(d[1].length, d[1].length + n));
    s = s.slice(d[1].length + n);
  }
  if (parts.length && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) parts.pop();
  const esc = { LT: '<', GT: '>', C: ',', RF: '&', BP: '*', SP: '@', LP: '(', RP: ')' };
  return parts.map((p) => p.replace(/^_\$/, '$')
    .replace(/\$(LT|GT|C|RF|BP|SP|LP|RP)\$/g, (_, k) => esc[k])
    .replace(/\$u([0-9a-f]+)\$/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/\.\./g, '::')).join('::');
}

/** The path a function is counted under: its name without leading `<`, `&`, `dyn `. */
function owner(name) {
  return name.replace(/^(?:[<&*]|dyn |mut |const )+/, '');
}

function partOf(name) {
  const o = owner(name);
  for (const [label, prefixes] of PARTS) if (prefixes.some((p) => o.startsWith(p))) return label;
  return 'other (unnamed or unmatched)';
}

/** Shallow code bytes per part of the module at `path`, with the data segments as a row. */
export function wasmParts(path = CARGO_WASM) {
  const bytes = readFileSync(path);
  const { bodies, names, data } = readModule(bytes);
  const byPart = new Map();
  const fns = [];
  for (const b of bodies) {
    const name = demangle(names.get(b.index) ?? `func[${b.index}]`);
    const part = partOf(name);
    const e = byPart.get(part) ?? { part, bytes: 0, functions: 0, chunks: [] };
    e.bytes += b.size; e.functions++; e.chunks.push(b.bytes);
    byPart.set(part, e);
    fns.push({ name, size: b.size, part });
  }
  const rows = [...byPart.values()].map(({ part, bytes: n, functions, chunks }) =>
    ({ part, bytes: n, functions, gzip: gzipSync(Buffer.concat(chunks), { level: 9 }).length }));
  rows.sort((a, b) => b.bytes - a.bytes);
  const code = rows.reduce((n, r) => n + r.bytes, 0);
  return { file: path, total: bytes.length, code, data, named: names.size, rows,
    largest: fns.sort((a, b) => b.size - a.size).slice(0, 40) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = wasmParts(process.argv[2] ?? CARGO_WASM);
  console.log(`${r.file}: ${r.total} bytes, code ${r.code}, data segments ${r.data}, ${r.named} named functions`);
  for (const x of r.rows) console.log(`${String(x.bytes).padStart(8)} ${String(x.gzip).padStart(7)} gz ${String(x.functions).padStart(5)} fns  ${x.part}`);
  console.log('largest functions:');
  for (const f of r.largest) console.log(`${String(f.size).padStart(8)}  ${f.name.slice(0, 150)}`);
}
