// The one place that starts the reference key service for JavaScript runners and tools (the JS
// harness, the large-data tests, the edge-worker tests, the demo server, the benchmarks):
// `keyseal-kms serve` on 127.0.0.1 (port 0 = a free port), ready once it has printed its
// `KEYSEAL_KMS_URL=` line (and with --dev its `KEYSEAL_DEV_TOKEN=` line); its command line run
// against the same database; stop and start again on the same port.
//
// The command line and a running server share the SQLite file (docs/PROTOCOL.md §8.3): `key
// rotate|disable|enable` run from here take effect on the server's next request, as when an
// operator runs them from a terminal.
//
// Binary: KEYSEAL_KMS_BIN, else `<cargo target dir>/debug/keyseal-kms` (CARGO_TARGET_DIR honoured).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnTracked, stop, running, exited } from './processes.mjs';
import { target } from './paths.mjs';

const execFileP = promisify(execFile);

export const KMS_BIN = process.env.KEYSEAL_KMS_BIN || target('debug/keyseal-kms');

/** Runs `keyseal-kms ARGS --db DB`; resolves to its stdout, trimmed. */
export async function kmsCli(db, args, { bin = KMS_BIN, timeoutMs = 20_000 } = {}) {
  const { stdout } = await execFileP(bin, [...args, '--db', db], { timeout: timeoutMs });
  return stdout.trim();
}

export class Kms {
  /**
   * @param {object} o
   * @param {string} o.db           SQLite file (created when absent)
   * @param {string} [o.name]       label for errors and logs ("primary", "escrow")
   * @param {string} [o.bin]        the keyseal-kms binary (default KMS_BIN)
   * @param {number} [o.port]       0 (default) = a free port on first start; later starts reuse the port
   * @param {boolean} [o.dev]       --dev: local token issuer, prints a writer token for tenant acme (default true)
   * @param {string[]} [o.origins]  --cors-origin, one per page origin
   * @param {string[]} [o.issuers]  --issuer, one per trusted JWKS file
   * @param {string[]} [o.args]     any further `serve` flags
   */
  constructor({ db, name = 'keyseal-kms', bin = KMS_BIN, port = 0, dev = true, origins = [], issuers = [], args = [] }) {
    if (!db) throw new Error('Kms: db is required');
    Object.assign(this, { db, name, bin, port, dev, origins, issuers, args });
    this.child = null;
    /** Base URL of the API, `http://127.0.0.1:PORT/v1`. */
    this.url = null;
    /** The first start's dev token: it stays valid across restarts (same database, same local issuer). */
    this.devToken = null;
    /** The service's identity public key (base64 SEC1, PROTOCOL.md §6.3), for clients to pin. */
    this.identity = null;
    this.stderrTail = '';
  }

  get running() { return this.child !== null && running(this.child); }

  serveArgs() {
    const a = ['serve', '--db', this.db, '--listen', `127.0.0.1:${this.port}`];
    if (this.dev) a.push('--dev');
    for (const o of this.origins) a.push('--cors-origin', o);
    for (const i of this.issuers) a.push('--issuer', i);
    return [...a, ...this.args];
  }

  /** Starts the server (no-op when running); resolves once it has printed its URL (and dev token). */
  async start({ timeoutMs = 20_000 } = {}) {
    if (this.running) return this;
    const child = spawnTracked(this.bin, this.serveArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.on('data', (d) => { this.stderrTail = (this.stderrTail + d).slice(-50_000); });
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${this.name}: no URL within ${timeoutMs / 1000} s; ${this.lastLines()}`)); }, timeoutMs);
      const onExit = (code, signal) => {
        clearTimeout(timer);
        const taken = /in use|AddrInUse|os error 98/i.test(this.stderrTail);
        reject(new Error(taken
          ? `${this.name}: port ${this.port} is already in use`
          : `${this.name} exited (${code ?? signal}): ${this.lastLines()}`));
      };
      child.once('exit', onExit);
      child.stdout.on('data', (d) => {
        out += d;
        const url = out.match(/KEYSEAL_KMS_URL=(\S+)/);
        const identity = out.match(/KEYSEAL_KMS_IDENTITY=(\S+)/);
        const tok = out.match(/KEYSEAL_DEV_TOKEN=(\S+)/);
        const kacls = out.match(/KEYSEAL_KACLS_URL=(\S+)/);
        if (url && identity && (tok || !this.dev) && (kacls || !this.args.includes('--kacls-key'))) {
          clearTimeout(timer);
          child.off('exit', onExit);
          this.url = url[1];
          this.devToken ??= tok ? tok[1] : null;
          this.identity = identity[1];
          /** The KACLS API's URL when served with --kacls-key (`…/kacls/v1`). */
          this.kaclsUrl = kacls ? kacls[1] : null;
          this.port = Number(new URL(this.url).port);
          resolve();
        }
      });
    });
    this.child = child;
    child.once('exit', () => { if (this.child === child) this.child = null; });
    return this;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop({ graceMs = 3000 } = {}) {
    const child = this.child;
    if (!child) return;
    await stop(child, { graceMs });
    this.child = null;
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill() {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await exited(child);
    this.child = null;
  }

  /** `keyseal-kms ARGS --db DB` → stdout, trimmed. */
  cli(...args) { return kmsCli(this.db, args, { bin: this.bin }); }

  /** `keyseal-kms ARGS --db DB` → its JSON answer (the `key` commands print KeyInfo). */
  async json(...args) { return JSON.parse(await this.cli(...args)); }

  /** Creates `keyId` unless it exists (a kept database may have it); resolves to its KeyInfo. */
  async ensureKey(keyId) {
    try { return await this.json('key', 'show', keyId); } catch { /* absent */ }
    return this.json('key', 'create', keyId);
  }

  /** The last lines the server wrote to stderr. */
  lastLines(n = 3) { return this.stderrTail.trim().split('\n').slice(-n).join(' | '); }
}

/** `new Kms(options).start()`. */
export async function startKms(options) {
  return new Kms(options).start();
}
