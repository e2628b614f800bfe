// The round trip every bundler example runs, in the page and in a module Web Worker (and in a module
// Service Worker in the Vite build): the example imports `keyseal` (the packed tarball, resolved and
// bundled by its tool) and hands the module in, so this file itself imports nothing. Each check is one result { name, ok, detail }.
//
//   kms:   { url, token } of a running `keyseal-kms serve --dev` that lists the page's origin
//   where: 'page' | 'worker' | 'service worker' (a prefix for the check names)

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

async function collect(stream) {
  const parts = [];
  let n = 0;
  for (const reader = stream.getReader(); ;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function chunks(bytes, size) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) { c.close(); return; }
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** Rejects unless `promise` rejects with a KeySealError of `code`. */
async function rejectsWith(keyseal, promise, code) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof keyseal.KeySealError)) throw new Error(`not a KeySealError: ${e && e.name}: ${e && e.message}`);
    if (e.code !== code) throw new Error(`code ${e.code}, expected ${code}`);
    return;
  }
  throw new Error(`resolved, expected ${code}`);
}

export async function runChecks(keyseal, kms, where) {
  const results = [];
  const check = async (name, fn) => {
    try {
      await fn();
      results.push({ name: `${where}: ${name}`, ok: true });
    } catch (e) {
      results.push({ name: `${where}: ${name}`, ok: false, detail: String((e && e.stack) || e) });
    }
  };
  const context = { tenant: 'acme', object: `bundler-${where}` };
  let ks;
  await check('KeySeal.create', async () => {
    ks = await keyseal.KeySeal.create({
      keyService: { id: 'acme', urls: [kms.url] },
      keyId: 'acme/default',
      token: async () => kms.token,
    });
  });
  if (!ks) return results;

  let sealedText;
  await check('encrypt → decrypt (text, through the key service)', async () => {
    sealedText = await ks.encrypt('quarterly numbers', { context });
    const text = await ks.decryptText(sealedText, { requireContext: context });
    if (text !== 'quarterly numbers') throw new Error(`got ${JSON.stringify(text)}`);
  });
  await check('encrypt → decrypt (200 KiB of bytes)', async () => {
    const data = randomBytes(200 * 1024);
    const plain = await ks.decrypt(await ks.encrypt(data, { context }), { requireContext: context });
    if (!equal(plain, data)) throw new Error('plaintext differs');
  });
  await check('encryptStream → decryptStream (1 MiB in 64 KiB chunks)', async () => {
    const data = randomBytes(1024 * 1024);
    const sealed = await collect(chunks(data, 65536).pipeThrough(ks.encryptStream({ context })));
    const plain = await collect(chunks(sealed, 50_000).pipeThrough(ks.decryptStream({ requireContext: context })));
    if (!equal(plain, data)) throw new Error('plaintext differs');
  });
  // the wasm core, what a runtime without crypto.subtle uses: its glue and .wasm, which the
  // bundler must emit, are fetched only now
  await check("engine: 'wasm' (the .wasm loads at this first use) opens what the default sealed", async () => {
    const onWasm = await keyseal.KeySeal.create({
      keyService: { id: 'acme', urls: [kms.url] },
      keyId: 'acme/default',
      token: async () => kms.token,
      engine: 'wasm',
    });
    if (onWasm.engineFor(1) !== 'wasm') throw new Error(`engineFor: ${onWasm.engineFor(1)}`);
    const text = await onWasm.decryptText(sealedText ?? await ks.encrypt('quarterly numbers', { context }), { requireContext: context });
    if (text !== 'quarterly numbers') throw new Error(`got ${JSON.stringify(text)}`);
  });
  await check('tampered bytes → DECRYPTION_FAILED', async () => {
    const bad = (sealedText ?? await ks.encrypt('x', { context })).slice();
    bad[bad.length - 1] ^= 1;
    await rejectsWith(keyseal, ks.decrypt(bad, { requireContext: context }), 'DECRYPTION_FAILED');
  });
  await check('wrong requireContext → CONTEXT_MISMATCH', async () => {
    const sealed = sealedText ?? await ks.encrypt('x', { context });
    await rejectsWith(keyseal, ks.decrypt(sealed, { requireContext: { tenant: 'globex' } }), 'CONTEXT_MISMATCH');
  });
  return results;
}
