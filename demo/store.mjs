// The provider's object store: one file per object (`<id>.sealed`) in a folder. The provider only
// ever holds what the page uploads — sealed bytes. It can read the cleartext header (key id,
// versions, context: that is what the format puts in clear), never the body.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat, open, rename, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** How much of an object the provider reads to parse its header (headers are far smaller). */
export const PREFIX_BYTES = 64 * 1024;

export class ObjectStore {
  /** @param {string} dir  @param {(bytes: Uint8Array) => Promise<object>} inspect  keyseal's header parser */
  constructor(dir, inspect) {
    this.dir = dir;
    this.inspect = inspect;
    this.hashCache = new Map(); // id → { key, sha } (body hashes of big objects are not free)
  }

  async init() { await mkdir(this.dir, { recursive: true }); }

  validId(id) { return typeof id === 'string' && ID.test(id) && !id.endsWith('.tmp'); }
  path(id) { return join(this.dir, `${id}.sealed`); }

  async ids() {
    const names = await readdir(this.dir);
    return names.filter((n) => n.endsWith('.sealed')).map((n) => n.slice(0, -'.sealed'.length)).filter((id) => this.validId(id));
  }

  async size(id) { return (await stat(this.path(id))).size; }

  /** Bytes [start, end) of an object (clamped to its size). */
  async read(id, start, end) {
    const fh = await open(this.path(id), 'r');
    try {
      const size = (await fh.stat()).size;
      end = Math.min(end, size);
      if (end <= start) return Buffer.alloc(0);
      const b = Buffer.alloc(end - start);
      const { bytesRead } = await fh.read(b, 0, b.length, start);
      return b.subarray(0, bytesRead);
    } finally { await fh.close(); }
  }

  /** SHA-256 (hex) of bytes from `offset` to the end: the body, when `offset` is the header length. */
  async hashFrom(id, offset) {
    const h = createHash('sha256');
    await pipeline(createReadStream(this.path(id), { start: offset, highWaterMark: 1 << 20 }), h);
    return h.digest('hex');
  }

  async bodyHash(id, headerLen) {
    const st = await stat(this.path(id));
    const key = `${st.size}:${st.mtimeMs}:${headerLen}`;
    const c = this.hashCache.get(id);
    if (c && c.key === key) return c.sha;
    const sha = await this.hashFrom(id, headerLen);
    this.hashCache.set(id, { key, sha });
    return sha;
  }

  /** What the provider can tell about an object without any key. */
  async describe(id) {
    const st = await stat(this.path(id));
    const prefix = await this.read(id, 0, PREFIX_BYTES);
    const base = { id, size: st.size, storedAt: st.mtimeMs };
    let info;
    try { info = await this.inspect(prefix); } catch (e) {
      return { ...base, error: `${e.code || 'ERROR'}: ${e.message}`, headerHex: hex(prefix.subarray(0, 48)) };
    }
    const sample = await this.read(id, info.headerLen, info.headerLen + PREFIX_BYTES);
    return {
      ...base,
      headerLen: info.headerLen,
      bodyLen: st.size - info.headerLen,
      messageId: info.messageId,
      segmentSize: info.segmentSize,
      context: info.context,
      entries: info.entries, // keyVersion included: inspect reads keyseal-kms entries (PROTOCOL.md §7.2)
      headerHex: hex(prefix.subarray(0, Math.min(48, info.headerLen))),
      bodyHex: hex(sample.subarray(0, 48)),
      // ≈ 8 bits/byte for ciphertext; English text is ≈ 4–5.
      bodyEntropy: entropy(sample),
      bodySha256: await this.bodyHash(id, info.headerLen),
    };
  }

  /** Streams an upload into `<id>.sealed` via a temp file, so a broken upload leaves nothing half-written. */
  async put(id, readable) {
    const tmp = `${this.path(id)}.${process.pid}.${Date.now()}.tmp`;
    try {
      await pipeline(readable, createWriteStream(tmp));
      await rename(tmp, this.path(id));
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    this.hashCache.delete(id);
    return this.size(id);
  }

  /**
   * Header-only rewrite for rotation: stores `header ‖ old[bodyOffset..]`. In place when the new
   * header has the old length (the usual case after a rotation), else header + body copy through a
   * temp file. Reports the body's SHA-256 before and after so the page can show it did not change.
   */
  async replaceHeader(id, header, bodyOffset) {
    const info = await this.inspect(header);
    if (info.headerLen !== header.length) throw Object.assign(new Error(`new header is ${info.headerLen} bytes, got ${header.length}`), { status: 400 });
    const size = await this.size(id);
    if (!(bodyOffset > 0 && bodyOffset <= size)) throw Object.assign(new Error(`bodyOffset ${bodyOffset} out of range`), { status: 400 });
    const h0 = performance.now();
    const before = await this.hashFrom(id, bodyOffset);
    let verifyMs = performance.now() - h0;
    let inPlace = header.length === bodyOffset;
    if (inPlace) {
      const fh = await open(this.path(id), 'r+');
      try { await fh.write(header, 0, header.length, 0); } finally { await fh.close(); }
    } else {
      const tmp = `${this.path(id)}.${process.pid}.${Date.now()}.tmp`;
      const out = createWriteStream(tmp);
      out.write(header);
      await pipeline(createReadStream(this.path(id), { start: bodyOffset }), out);
      await rename(tmp, this.path(id));
    }
    this.hashCache.delete(id);
    const h1 = performance.now();
    const after = await this.hashFrom(id, header.length);
    verifyMs += performance.now() - h1;
    return { id, inPlace, headerBytes: header.length, bytesWritten: inPlace ? header.length : size - bodyOffset + header.length, bodySha256Before: before, bodySha256After: after, bodyUnchanged: before === after, verifyMs: Math.round(verifyMs) };
  }

  async remove(id) { await unlink(this.path(id)); this.hashCache.delete(id); }
}

export function hex(b) { return Buffer.from(b).toString('hex').replace(/(..)/g, '$1 ').trim(); }

function entropy(b) {
  if (!b.length) return null;
  const n = new Array(256).fill(0);
  for (const x of b) n[x]++;
  let e = 0;
  for (const c of n) if (c) { const p = c / b.length; e -= p * Math.log2(p); }
  return Math.round(e * 1000) / 1000;
}
