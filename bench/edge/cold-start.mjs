// Cold start in workerd (miniflare): a fresh workerd isolate per run with the package's workerd
// entry and its .wasm as a CompiledWasm module; measured from outside (workerd freezes its clocks
// during CPU work): the first request — module evaluation, `KeySeal.create` (on the SDK in JS:
// the wasm module is compiled when the worker loads but not instantiated) and one 1 KiB `encrypt`
// (one `/generate`) — then a second request on the same isolate with the
// data key cached. Medians of `runs`, in ms.
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, PKG } from '../../js/test/support/paths.mjs';

const WORKER = `import { KeySeal } from './index.workerd.js';
let ks;
export default {
  async fetch(request, env) {
    ks ??= await KeySeal.create({ keyService: { id: 'bench', urls: [env.KMS_URL] }, keyId: env.KEY_ID, token: () => env.TOKEN });
    await ks.encrypt(new Uint8Array(1024), { context: { tenant: 'acme', table: 'cold' } });
    return new Response('ok');
  },
};
`;

export async function workerdColdStart(kms, dir, { runs = 5 } = {}) {
  const { Miniflare } = await import(pathToFileURL(join(ROOT, 'node_modules/miniflare/dist/src/index.js')).href);
  cpSync(join(PKG, 'dist'), dir, { recursive: true });
  writeFileSync(join(dir, 'bench-worker.js'), WORKER);
  const modules = [{ type: 'ESModule', path: join(dir, 'bench-worker.js') }];
  // the package's modules with the SDK and the format in JS (format/, policy/) beside it
  for (const f of readdirSync(dir, { recursive: true })) {
    if (f.endsWith('.js') && f !== 'bench-worker.js' && !f.endsWith('node-engine.js')) modules.push({ type: 'ESModule', path: join(dir, f) });
    if (f.endsWith('.wasm')) modules.push({ type: 'CompiledWasm', path: join(dir, f) });
  }
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const mf = new Miniflare({
      modules,
      modulesRoot: dir,
      compatibilityDate: '2025-09-01',
      bindings: { KMS_URL: kms.url, KEY_ID: kms.keyId, TOKEN: kms.token },
    });
    try {
      await mf.ready;
      const t0 = performance.now();
      const r1 = await mf.dispatchFetch('http://bench/');
      if (r1.status !== 200) throw new Error(`workerd cold start: ${r1.status} ${await r1.text()}`);
      const t1 = performance.now();
      const r2 = await mf.dispatchFetch('http://bench/');
      await r2.text();
      const t2 = performance.now();
      samples.push({ firstRequestMs: t1 - t0, cachedRequestMs: t2 - t1 });
    } finally {
      await mf.dispose();
    }
  }
  const median = (k) => samples.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(samples.length / 2)];
  return { runs, firstRequestMs: median('firstRequestMs'), cachedRequestMs: median('cachedRequestMs') };
}
