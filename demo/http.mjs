// Small node:http helpers for the provider: JSON answers, static files, and object downloads with
// single-range `Range` support (what `decryptRange` and header reads use).

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize, extname, sep } from 'node:path';

export class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function readBody(req, limit) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > limit) throw new HttpError(413, `body over ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8', '.png': 'image/png',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Serves `rel` under `dir`. `waitMs`: pkg/ may be being rebuilt by `pkg-config/build.sh` (which
 * deletes and re-creates it); a missing file is retried for that long before answering 404.
 */
export async function serveStatic(req, res, dir, rel, { waitMs = 0 } = {}) {
  const file = normalize(join(dir, decodeURIComponent(rel)));
  if (!file.startsWith(dir + sep) && file !== dir) throw new HttpError(403, 'outside the served folder');
  const until = Date.now() + waitMs;
  let st;
  for (;;) {
    st = await stat(file).catch(() => null);
    if (st?.isFile() || Date.now() >= until) break;
    await sleep(250);
  }
  if (!st?.isFile()) throw new HttpError(404, 'not found');
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] || 'application/octet-stream',
    'content-length': st.size,
    'cache-control': 'no-cache',
    // The page talks to the key services by URL and to nothing else off-origin.
    ...(extname(file) === '.html' ? { 'content-security-policy': "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:*; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:" } : {}),
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

/** GET/HEAD of a stored object; `Range: bytes=a-b` (one range) answers 206 with Content-Range. */
export async function serveObject(req, res, file) {
  const st = await stat(file);
  const size = st.size;
  const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
  const range = req.headers.range;
  let start = 0, end = size; // end exclusive
  let status = 200;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) throw new HttpError(416, 'unsupported Range');
    if (m[1] === '') { start = Math.max(0, size - Number(m[2])); }
    else { start = Number(m[1]); if (m[2] !== '') end = Math.min(size, Number(m[2]) + 1); }
    if (start >= size || start >= end) {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  }
  headers['content-length'] = end - start;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end === start) return res.end();
  createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 }).pipe(res);
}
