#!/usr/bin/env node
// The SDK against keyseal-kms's native TLS listener (`serve --tls-cert --tls-key`), with a test CA
// made here by openssl: in Node (the package's `node` transport, node:https, trusting the CA
// through NODE_EXTRA_CA_CERTS) and in headless Chromium (trusting exactly the leaf's public key
// through --ignore-certificate-errors-spki-list). Each side is also shown to refuse the listener
// when it does not trust the CA, and to keep working after a SIGHUP certificate reload.
// Prints `kms-tls: N passed, M failed`; exit status 1 if anything failed.

import { execFileSync, execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, extname } from 'node:path';
import { promisify } from 'node:util';
import { createHash, X509Certificate } from 'node:crypto';
import { Kms } from '../js/test/support/kms.mjs';
import { launchChromium } from '../js/test/support/chromium.mjs';
import { killAll, giveUpAfter } from '../js/test/support/processes.mjs';
import { ROOT } from '../js/test/support/paths.mjs';

const execFileP = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'keyseal-kms-tls-'));
let passed = 0;
let failed = 0;
const finish = () => {
  console.log(`kms-tls: ${passed} passed, ${failed} failed`);
  killAll();
  rmSync(tmp, { recursive: true, force: true });
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
};
giveUpAfter(240_000, () => { console.error('kms-tls: gave up after 240 s'); failed += 1; finish(); });

async function test(name, fn) {
  try {
    await fn();
    passed += 1;
    console.error(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.error(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

// ---------------------------------------------------------------------------------------------
// test CA and leaves (P-256), by openssl

const ssl = (...args) => execFileSync('openssl', args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
function makeCa(name) {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=keyseal ${name} CA`, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  return join(tmp, `${name}-ca.pem`);
}
function makeLeaf(ca, name) {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(tmp, `${name}.ext`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}-ca.pem`, '-CAkey', `${ca}-ca.key`, '-CAcreateserial',
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  const pem = readFileSync(join(tmp, `${name}.pem`), 'utf8');
  // Chromium's --ignore-certificate-errors-spki-list: base64 SHA-256 of the leaf's SubjectPublicKeyInfo.
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return { cert: join(tmp, `${name}.pem`), key: join(tmp, `${name}.key`), pem, spki: createHash('sha256').update(spki).digest('base64') };
}
/** Installs a leaf as the listener's files (atomic renames, as a deploy tool would). */
function install(leaf) {
  for (const [from, to] of [[leaf.cert, 'live-cert.pem'], [leaf.key, 'live-key.pem']]) {
    writeFileSync(join(tmp, `${to}.tmp`), readFileSync(from));
    renameSync(join(tmp, `${to}.tmp`), join(tmp, to));
  }
}

const caPem = makeCa('test');
makeCa('other');
const first = makeLeaf('test', 'kms-first');
const second = makeLeaf('test', 'kms-second');
install(first);

// ---------------------------------------------------------------------------------------------
// the page server (plain HTTP on loopback: the page is not what is under test) and the service

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const page = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (path === '/page.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>kms-tls</title>');
    return;
  }
  if (!path.startsWith('/pkg/dist/')) { res.writeHead(404); res.end(); return; }
  try {
    const body = readFileSync(join(ROOT, path));
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch { res.writeHead(404); res.end(); }
});
await new Promise((r) => page.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${page.address().port}`;

const kms = new Kms({
  db: join(tmp, 'kms.db'), name: 'kms-tls', origins: [origin],
  args: ['--tls-cert', join(tmp, 'live-cert.pem'), '--tls-key', join(tmp, 'live-key.pem')],
});
await kms.start();
console.error(`kms-tls: ${kms.url}, page ${origin}`);

// One encrypt + decrypt through the SDK, run in a fresh Node process (NODE_EXTRA_CA_CERTS is read
// at start); prints {ok, text} or {ok: false, name, code}.
const NODE_CLIENT = `
import { KeySeal } from ${JSON.stringify(join(ROOT, 'pkg/dist/index.node.js'))};
const [url, token, identity] = process.argv.slice(1);
try {
  const ks = await KeySeal.create({ keyService: { id: 'acme', urls: [url], identity }, keyId: 'acme/default',
    token: async () => token, retry: { maxRounds: 1 }, timeoutMs: 5000 });
  const sealed = await ks.encrypt('over tls', { context: { tenant: 'acme', object: 'tls' } });
  const text = await ks.decryptText(sealed, { requireContext: { tenant: 'acme' } });
  console.log(JSON.stringify({ ok: true, text }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e?.name, code: e?.code, cause: String(e?.cause?.code ?? e?.cause ?? '') }));
}`;
async function nodeClient(extraCa) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCa) env.NODE_EXTRA_CA_CERTS = extraCa;
  const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', NODE_CLIENT, kms.url, kms.devToken, kms.identity],
    { env, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function chromiumClient(spkiList) {
  const browser = await launchChromium({ extraArgs: spkiList ? [`--ignore-certificate-errors-spki-list=${spkiList.join(',')}`] : [] });
  try {
    const p = await browser.newPage();
    await p.goto(`${origin}/page.html`);
    return await p.evaluate(async ([mod, url, token, identity]) => {
      const { KeySeal } = await import(mod);
      try {
        const ks = await KeySeal.create({ keyService: { id: 'acme', urls: [url], identity }, keyId: 'acme/default',
          token: async () => token, retry: { maxRounds: 1 }, timeoutMs: 5000 });
        const sealed = await ks.encrypt('over tls', { context: { tenant: 'acme', object: 'tls' } });
        return { ok: true, text: await ks.decryptText(sealed, { requireContext: { tenant: 'acme' } }) };
      } catch (e) {
        return { ok: false, name: e?.name, code: e?.code };
      }
    }, [`${origin}/pkg/dist/index.browser.js`, kms.url, kms.devToken, kms.identity]);
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------

await test('node: the SDK seals and opens through the TLS listener (NODE_EXTRA_CA_CERTS = test CA)', async () => {
  const r = await nodeClient(caPem);
  assert(r.ok && r.text === 'over tls', JSON.stringify(r));
});
await test('node: without the test CA the SDK refuses the listener (KMS_UNAVAILABLE)', async () => {
  const r = await nodeClient(null);
  assert(!r.ok, 'an untrusted certificate was accepted');
  assert(r.name === 'KmsUnavailableError', JSON.stringify(r));
});
await test('node: trusting another CA is not enough', async () => {
  const r = await nodeClient(join(tmp, 'other-ca.pem'));
  assert(!r.ok && r.name === 'KmsUnavailableError', JSON.stringify(r));
});
await test('chromium: the SDK seals and opens through the TLS listener (leaf SPKI trusted)', async () => {
  const r = await chromiumClient([first.spki]);
  assert(r.ok && r.text === 'over tls', JSON.stringify(r));
});
await test('chromium: without trusting the leaf the page cannot reach the listener', async () => {
  const r = await chromiumClient(null);
  assert(!r.ok && r.name === 'KmsUnavailableError', JSON.stringify(r));
});
await test('SIGHUP: a new certificate is served; node (same CA) and chromium (new leaf) still work', async () => {
  install(second);
  kms.child.kill('SIGHUP');
  const deadline = Date.now() + 20_000;
  while (!kms.stderrTail.includes('TLS certificate reloaded')) {
    assert(Date.now() < deadline, `no reload: ${kms.lastLines()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const served = await new Promise((resolve, reject) => {
    import('node:tls').then(({ connect }) => {
      const s = connect({ host: '127.0.0.1', port: kms.port, servername: 'localhost', ca: readFileSync(caPem) }, () => {
        resolve(s.getPeerX509Certificate().fingerprint256);
        s.end();
      });
      s.on('error', reject);
    });
  });
  assert(served === new X509Certificate(second.pem).fingerprint256, 'the reloaded certificate is not served');
  const n = await nodeClient(caPem);
  assert(n.ok, `node after reload: ${JSON.stringify(n)}`);
  const c = await chromiumClient([second.spki]);
  assert(c.ok, `chromium after reload: ${JSON.stringify(c)}`);
  const stale = await chromiumClient([first.spki]);
  assert(!stale.ok, 'chromium trusting only the old leaf still connected');
});

await kms.stop();
page.close();
finish();
