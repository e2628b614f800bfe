// R2 access without ever holding a whole object in memory.
//  - putStream: a sealed stream of unknown length goes to R2 as a multipart upload of fixed-size
//    parts (R2 wants every part but the last the same size, ≥ 5 MiB). At most one part is held.
//    An object smaller than one part is a single put. A failure aborts the upload, so no partial
//    object ever becomes visible; an existing object is replaced only when complete() succeeds.
//  - openRanged: head + header read, then a `{ size, read(start, end) }` reader over ranged gets,
//    pinned to the object's etag so a concurrent overwrite cannot mix two objects' bytes.
import { HttpError } from './errors.js';
import { headerFacts } from './sealed.js';

/** Bytes per multipart part: the worker's memory for an upload is about this much. */
export const PART_SIZE = 8 * 1024 * 1024;
/** First read of a header: one kms entry makes a header of a few hundred bytes. */
const HEADER_GUESS = 4096;

export async function putStream(bucket, key, stream, options = {}, partSize = PART_SIZE) {
  const reader = stream.getReader();
  const part = new Uint8Array(partSize);
  let len = 0;
  let upload = null;
  const parts = [];
  const flushPart = async (bytes) => {
    upload ??= await bucket.createMultipartUpload(key, options);
    parts.push(await upload.uploadPart(parts.length + 1, bytes));
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let b = value;
      while (b.length) {
        const take = Math.min(partSize - len, b.length);
        part.set(b.subarray(0, take), len);
        len += take;
        b = b.subarray(take);
        // uploadPart has consumed the bytes when it resolves, so the buffer is reused
        if (len === partSize) { await flushPart(part); len = 0; }
      }
    }
    if (!upload) return await bucket.put(key, part.subarray(0, len), options);
    if (len) await flushPart(part.subarray(0, len));
    return await upload.complete(parts);
  } catch (e) {
    reader.cancel(e).catch(() => {});
    if (upload) await upload.abort().catch(() => {});
    throw e;
  }
}

const notFound = () => new HttpError(404, 'OBJECT_NOT_FOUND', 'no such object');

async function readRange(bucket, key, etag, start, end) {
  if (end <= start) return new Uint8Array(0);
  const o = await bucket.get(key, { range: { offset: start, length: end - start }, onlyIf: { etagMatches: etag } });
  if (!o) throw notFound();
  if (!('body' in o) || !o.body) throw new HttpError(409, 'OBJECT_CHANGED', 'object changed while being read; retry');
  const b = new Uint8Array(await o.arrayBuffer());
  if (b.length !== end - start) throw new HttpError(409, 'OBJECT_CHANGED', 'object changed while being read; retry');
  return b;
}

/**
 * Opens a stored object for ranged reads: `{ object, size, header, headerLen, source }`
 * where `source` is the reader `ks.decryptRange` takes. Reads inside the first HEADER_GUESS bytes
 * come from memory, so decryptRange's own header reads cost no extra R2 request.
 */
export async function openRanged(bucket, key) {
  const object = await bucket.head(key);
  if (!object) throw notFound();
  const { size, etag } = object;
  let prefix = await readRange(bucket, key, etag, 0, Math.min(size, HEADER_GUESS));
  let f = await headerFacts(prefix);
  const truncated = () => new HttpError(422, 'INVALID_FORMAT', 'stored object is not a keyseal message');
  while (f.need !== undefined) {
    if (f.need > size || f.need <= prefix.length) throw truncated();
    prefix = await readRange(bucket, key, etag, 0, f.need);
    f = await headerFacts(prefix);
  }
  if (f.headerLen > size) throw truncated();
  if (f.headerLen > prefix.length) prefix = await readRange(bucket, key, etag, 0, f.headerLen);
  const cached = prefix;
  const source = {
    size,
    read: (s, e) => (e <= cached.length ? cached.subarray(s, e) : readRange(bucket, key, etag, s, e)),
  };
  return { object, size, header: prefix.subarray(0, f.headerLen), headerLen: f.headerLen, source };
}
