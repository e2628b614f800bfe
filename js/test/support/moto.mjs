// moto's server (PyPI `moto[server]`, in the venv scripts/bootstrap.sh makes at target/moto-venv):
// an independent implementation of the AWS KMS API on loopback, and boto3 beside it
// (js/test/support/aws.py) as an independent client. Two servers: one without authentication
// (browsers: its CORS preflights need no signature) and one with moto's IAM emulation, which
// verifies every SigV4 signature (INITIAL_NO_AUTH_ACTION_COUNT: the setup's first four calls).
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnTracked } from './processes.mjs';
import { freePort } from './net.mjs';
import { ROOT } from './paths.mjs';

const execFileP = promisify(execFile);
export const MOTO_VENV = process.env.KEYSEAL_MOTO_VENV || join(ROOT, 'target/moto-venv');
const PY = join(MOTO_VENV, 'bin/python');
const AWS_PY = join(ROOT, 'js/test/support/aws.py');

async function listening(port, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`moto_server on port ${port} did not listen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startOne(auth) {
  const port = await freePort();
  const env = { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' };
  if (auth) env.INITIAL_NO_AUTH_ACTION_COUNT = '4';
  spawnTracked(join(MOTO_VENV, 'bin/moto_server'), ['-H', '127.0.0.1', '-p', String(port)], { env, stdio: 'ignore' });
  await listening(port);
  return `http://127.0.0.1:${port}`;
}

/** boto3 (aws.py CMD ...ARGS) → its JSON answer; `creds`: the auth server's access key. */
export async function awsPy(args, creds) {
  const env = { ...process.env };
  if (creds) Object.assign(env, { KEYSEAL_AWS_ACCESS_KEY_ID: creds.accessKeyId, KEYSEAL_AWS_SECRET_ACCESS_KEY: creds.secretAccessKey });
  const { stdout } = await execFileP(PY, [AWS_PY, ...args], { env, timeout: 60_000 });
  return JSON.parse(stdout);
}

/**
 * Both servers, with keys made by boto3: `{ noauth: { url, keys }, auth: { url, keys }, region,
 * accessKeyId, secretAccessKey }` (`keys`: main, next, escrow ARNs and one revoke key per runtime).
 */
export async function startMoto(runtimes) {
  if (!existsSync(PY)) throw new Error(`${MOTO_VENV} missing: run scripts/bootstrap.sh (it makes the moto venv)`);
  const [noauthUrl, authUrl] = await Promise.all([startOne(false), startOne(true)]);
  const s = await awsPy(['setup', noauthUrl, authUrl, ...runtimes]);
  return {
    region: s.region,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    noauth: { url: noauthUrl, keys: s.noauth },
    auth: { url: authUrl, keys: s.auth },
  };
}
