// keyseal-kms serving Google's KACLS API (`serve --kacls-key`, docs/KEY-SERVICES.md "KACLS") for
// tests: two ES256 test issuers — the customer's IdP (authentication tokens) and the application's
// authorization issuer — their JWKS files, a minting function, and the server started on a fresh
// database. Used by js/test/harness.mjs and scripts/ts-test.mjs.
import { sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { es256KeyPair } from './es256.mjs';
import { Kms, kmsCli } from './kms.mjs';

const b64url = (b) => Buffer.from(b).toString('base64url');

/** The KACLS test setup in `dir`: issuers written as JWKS files there. */
export function kaclsIssuers(dir) {
  const issuers = {
    authn: { iss: 'https://idp.kacls.test', aud: 'cse-authentication', kid: 'kacls-authn-1', ...es256KeyPair() },
    authz: { iss: 'https://authz.kacls.test', aud: 'cse-authorization', kid: 'kacls-authz-1', ...es256KeyPair() },
  };
  for (const [which, i] of Object.entries(issuers)) {
    i.file = join(dir, `kacls-${which}.jwks.json`);
    writeFileSync(i.file, JSON.stringify({ issuer: i.iss, keys: [{ ...i.jwk, kid: i.kid, alg: 'ES256', use: 'sig' }] }));
  }
  /** A token: `kind` authn (`email`, `google_email`?) or authz (`email`, `role`, `resource_name`, `kacls_url`, `perimeter_id`?). */
  const mint = (kind, claims) => {
    const i = issuers[kind === 'authz' ? 'authz' : 'authn'];
    const now = Math.floor(Date.now() / 1000);
    const h = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: i.kid }));
    const p = b64url(JSON.stringify({ iss: i.iss, aud: i.aud, iat: now, exp: now + 600, ...claims }));
    const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: i.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${h}.${p}.${b64url(sig)}`;
  };
  return { issuers, mint };
}

/** The key the KACLS wraps with, and the email given the privileged-unwrap grant. */
export const KACLS_KEY = 'acme/kacls';
export const KACLS_PRIVILEGED = 'dr-admin@acme.test';

/** `keyseal-kms serve --kacls-key …` on a fresh database `dir/kacls.db` (its key made first). */
export async function startKacls(dir, { issuers }, origins = []) {
  const db = join(dir, 'kacls.db');
  await kmsCli(db, ['init']);
  await kmsCli(db, ['key', 'create', KACLS_KEY]);
  return new Kms({
    name: 'keyseal-kms kacls', db, origins, dev: false,
    args: ['--kacls-key', KACLS_KEY, '--kacls-authn-issuer', issuers.authn.file,
      '--kacls-authz-issuer', issuers.authz.file, '--kacls-privileged-email', KACLS_PRIVILEGED],
  }).start();
}

/**
 * What an app's backend does for its users, as a loopback server: `GET /authentication` and
 * `GET /authorization?op=wrap|unwrap&resource=NAME` answer a JWT (text) for `email`, with role
 * writer for wrap, reader for unwrap and migrator for rewrap. Resolves to `{ url, close }`.
 */
export async function tokenServer(mint, kaclsUrl, email = 'alice@acme.test') {
  const server = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    let jwt = null;
    if (u.pathname === '/authentication') jwt = mint('authn', { email });
    if (u.pathname === '/authorization') {
      const op = u.searchParams.get('op');
      const role = { wrap: 'writer', unwrap: 'reader', rewrap: 'migrator' }[op] ?? 'reader';
      jwt = mint('authz', { email, role, resource_name: u.searchParams.get('resource') ?? '', kacls_url: kaclsUrl });
    }
    res.writeHead(jwt ? 200 : 404, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
    res.end(jwt ?? 'not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}
