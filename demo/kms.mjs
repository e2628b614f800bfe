// One `keyseal-kms serve --dev` instance the demo controls: start, stop, start again on the SAME
// port (the page keeps the URL it was given), and run the kms command line against its database.
// The command line and a running server share the SQLite file (PROTOCOL.md §8.3), so rotate /
// disable / enable from here take effect on the server's next request — exactly what a security
// team would do from its own terminal.

import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export class KmsInstance {
  /**
   * @param {object} o
   * @param {string} o.name    label for logs ("primary", "escrow")
   * @param {string} o.bin     path of the keyseal-kms binary
   * @param {string} o.db      SQLite file (kept between demo runs unless the caller wipes it)
   * @param {number} o.port    0 = ephemeral on first start; the chosen port is reused afterwards
   * @param {string[]} o.origins  page origins allowed by CORS
   * @param {(child: import('node:child_process').ChildProcess) => void} o.track  registers the child for cleanup
   */
  constructor({ name, bin, db, port, origins, track }) {
    Object.assign(this, { name, bin, db, port, origins, track });
    this.child = null;
    this.url = null;
    this.devToken = null;
    this.stderrTail = '';
  }

  get running() { return this.child !== null; }

  async start() {
    if (this.child) return;
    const args = ['serve', '--db', this.db, '--listen', `127.0.0.1:${this.port}`, '--dev'];
    for (const o of this.origins) args.push('--cors-origin', o);
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.track(child);
    child.stderr.on('data', (d) => { this.stderrTail = (this.stderrTail + d).slice(-4000); });
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`keyseal-kms ${this.name}: no URL within 20 s`)); }, 20_000);
      child.stdout.on('data', (d) => {
        out += d;
        const url = out.match(/KEYSEAL_KMS_URL=(\S+)/);
        const tok = out.match(/KEYSEAL_DEV_TOKEN=(\S+)/);
        if (url && tok) {
          clearTimeout(timer);
          this.url = url[1];
          // Keep the first token: it stays valid across restarts (same database, same local issuer),
          // and the page already holds it.
          this.devToken ??= tok[1];
          this.port = Number(new URL(this.url).port);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const taken = /in use|AddrInUse|os error 98/i.test(this.stderrTail);
        reject(new Error(taken
          ? `keyseal-kms ${this.name}: port ${this.port} is already in use`
          : `keyseal-kms ${this.name} exited (${code}): ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
    this.child = child;
    child.once('exit', () => { if (this.child === child) this.child = null; });
  }

  /** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
  async stop() {
    const child = this.child;
    if (!child) return;
    await new Promise((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
      child.kill('SIGTERM');
    });
    this.child = null;
  }

  /** Runs `keyseal-kms ARGS --db DB` and parses its JSON answer (the `key` commands print KeyInfo). */
  async cli(...args) {
    const { stdout } = await execFileP(this.bin, [...args, '--db', this.db], { timeout: 20_000 });
    const text = stdout.trim();
    try { return JSON.parse(text); } catch { return text; }
  }

  /** Creates `keyId` unless it exists (databases persist between demo runs); returns its KeyInfo. */
  async ensureKey(keyId) {
    try { return await this.cli('key', 'show', keyId); } catch { /* absent */ }
    return this.cli('key', 'create', keyId);
  }
}
