// What an app ships: keyseal's files as loaded and as bundled, beside the ESDK browser client and
// typage bundled for the same use (esbuild --minify). Also the bundler bench/run.mjs uses to put
// the peers on the bench page.

import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ROOT, PKG, TARGET } from '../../js/test/support/paths.mjs';
import { CARGO_WASM, wasmParts } from './wasm-parts.mjs';

/** esbuild of `contents` (an ES module resolved from the repository root) for the browser. */
export async function bundle(contents, { minify }) {
  const esbuild = await import(pathToFileURL(join(ROOT, 'node_modules/esbuild/lib/main.js')).href);
  // The ESDK's browser client uses Node's Buffer: a bundle needs the `buffer` polyfill injected.
  const tmp = mkdtempSync(join(tmpdir(), 'keyseal-bench-bundle-'));
  try {
    const shim = join(tmp, 'buffer-shim.js');
    writeFileSync(shim, `import { Buffer } from ${JSON.stringify(join(ROOT, 'node_modules/buffer/index.js'))};\nexport { Buffer };\n`);
    const r = await esbuild.build({
      stdin: { contents, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser',
      minify, write: false, inject: [shim], logLevel: 'error', define: { global: 'globalThis' },
    });
    return r.outputFiles[0].text;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The package's files a browser loads for `KeySeal`: the browser entry's relative-import graph
 * (static and dynamic). The .wasm is not among them: it is fetched only at a first use that needs
 * it (`lowLevel`, `engine: 'wasm'`, a runtime without `crypto.subtle`; docs/DESIGN.md design C).
 */
function browserFiles(dist) {
  const seen = new Set();
  const visit = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    const src = readFileSync(join(dist, f), 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"]\.\/([\w./-]+\.js)['"]/g)) visit(m[1]);
  };
  visit('index.browser.js');
  return [...seen].sort();
}

export async function sizes() {
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const dist = join(PKG, 'dist');
  const shipped = browserFiles(dist).map((f) => {
    const b = readFileSync(join(dist, f));
    return { file: f, bytes: b.length, gzip: gz(b) };
  });
  const ksJs = await bundle(`export * from ${JSON.stringify(join(dist, 'index.browser.js'))};`, { minify: true });
  const wasm = readFileSync(join(dist, 'keyseal_wasm_bg.wasm'));
  const esdk = await bundle(`export { buildClient, CommitmentPolicy, RawAesKeyringWebCrypto, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-browser';`, { minify: true });
  const age = await bundle(`export { Encrypter, Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';`, { minify: true });
  return {
    shipped,
    keysealAsLoaded: { bytes: shipped.reduce((n, f) => n + f.bytes, 0), gzip: shipped.reduce((n, f) => n + f.gzip, 0) },
    keysealBundled: { bytes: ksJs.length, gzip: gz(Buffer.from(ksJs)) },
    // the Rust core, fetched only where a use needs it
    wasmOnDemand: { bytes: wasm.length, gzip: gz(wasm) },
    esdk: { bytes: esdk.length, gzip: gz(Buffer.from(esdk)) },
    age: { bytes: age.length, gzip: gz(Buffer.from(age)) },
    // what the .wasm holds, by part (cargo's output still has function names; the shipped file not)
    parts: existsSync(CARGO_WASM) ? wasmParts(CARGO_WASM) : null,
    designs: await designs(gz),
  };
}

/** Non-blank lines that are not `//` comments, in `files`. */
function codeLines(files) {
  return files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('//')).length, 0);
}

/**
 * The figures of docs/DESIGN.md "Package size: the designs measured": the wasm of
 * bench/size-probe (scripts/size-probe.sh: the format and its cryptography, no SDK policy),
 * without and with the wasm P-256; the package's .wasm and its glue (design A, what
 * `engine: 'wasm'` fetches); the SDK in JS (js/src/policy's KeySealJs with all it imports) and
 * the format in JS, each bundled and minified.
 */
async function designs(gz) {
  const probe = (variant) => {
    const dir = join(TARGET, 'size-probe', variant);
    if (!existsSync(join(dir, 'probe_bg.wasm'))) return null;
    const wasm = readFileSync(join(dir, 'probe_bg.wasm'));
    const glue = readFileSync(join(dir, 'probe.js'));
    return { wasmBytes: wasm.length, wasmGzip: gz(wasm), glueGzip: gz(glue) };
  };
  const esbuild = await import(pathToFileURL(join(ROOT, 'node_modules/esbuild/lib/main.js')).href);
  const minified = (entry, external = []) => esbuild.build({
    entryPoints: [join(ROOT, entry)], bundle: true, format: 'esm', platform: 'neutral',
    minify: true, write: false, external, logLevel: 'error', metafile: true,
  });
  // the format in JS (FORMAT.md over WebCrypto); its errors module is the package's
  const f = await minified('js/src/format/index.js', ['../errors.js']);
  // the SDK in JS with everything it imports (the format, the kinds, the errors and helpers), as a
  // browser loads it (node-engine.js is not among its imports)
  const p = await minified('js/src/policy/keyseal.js');
  const dist = join(PKG, 'dist');
  const glue = await esbuild.build({
    entryPoints: [join(dist, 'keyseal_wasm.js')], bundle: true, format: 'esm', platform: 'neutral', minify: true, write: false, logLevel: 'error',
  });
  return {
    policyJsGzip: gz(Buffer.from(p.outputFiles[0].text)),
    policyJsBytes: p.outputFiles[0].contents.length,
    policyJsLines: codeLines(Object.keys(p.metafile.inputs).map((x) => join(ROOT, x))),
    formatJsGzip: gz(Buffer.from(f.outputFiles[0].text)),
    formatJsLines: codeLines(Object.keys(f.metafile.inputs).map((x) => join(ROOT, x))),
    wasmGzip: gz(readFileSync(join(dist, 'keyseal_wasm_bg.wasm'))),
    wasmGlueGzip: gz(Buffer.from(glue.outputFiles[0].text)),
    format: probe('format'),
    formatP256: probe('format-p256'),
  };
}
