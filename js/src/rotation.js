// rewrapAll: header-only rotation of many stored objects. The I/O (reading and writing the
// caller's headers) is here; what is current and every rewrap is the core's.
import { ERROR_CODES, InvalidArgumentError, KeySealError } from './errors.js';
import { fromCore } from './from-core.js';
import { known } from './options.js';
import { progress, toBytes } from './bytes.js';

async function call(f) {
  try { return await f(); } catch (e) { throw fromCore(e); }
}

/** Runs the thunks in `tasks` with at most `n` unsettled at once; resolves when all have settled. */
async function pool(n, tasks) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

/**
 * Rotates many objects in batches: reads a batch of headers (`concurrency` at a time), skips the
 * current ones, rewraps the rest in one `rewrapMany` (one /rewrap-batch per key service and 100
 * headers), writes the new headers back. Never throws for one object: failures are collected.
 */
export async function rewrapAll(core, objects, options) {
  const { toKeyId, concurrency = 4, batchSize = 100, onProgress } = known(options, ['toKeyId', 'concurrency', 'batchSize', 'onProgress'], 'rewrapAll');
  if (!objects || (typeof objects[Symbol.iterator] !== 'function' && typeof objects[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('objects must be an array or an (async) iterable');
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError('concurrency must be a positive integer');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize must be a positive integer');
  if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('toKeyId must be a key id');
  const targetVersion = await call(() => core.newestVersion(toKeyId));
  const it = typeof objects[Symbol.asyncIterator] === 'function' ? objects[Symbol.asyncIterator]() : objects[Symbol.iterator]();
  const result = { done: 0, skipped: 0, failed: [], targetVersion };
  let seen = 0;
  const settled = () => progress(onProgress, { seen, done: result.done, skipped: result.skipped, failed: result.failed.length });
  const fail = (o, e) => {
    const err = fromCore(e);
    result.failed.push({ id: o?.id, code: err.code, message: err.message, cause: e });
    settled();
  };
  // A failure of the caller's own storage code (readHeader/writeHeader threw something that is not
  // a keyseal error): reported as STORAGE_FAILED with the original error as `cause`, not INTERNAL.
  const failStorage = (o, e, what) => {
    if (e instanceof KeySealError || (e && typeof e.code === 'string' && ERROR_CODES.includes(e.code))) return fail(o, e);
    const message = `${what} of '${o?.id}' failed: ${e && e.message ? e.message : String(e)}`;
    result.failed.push({ id: o?.id, code: 'STORAGE_FAILED', message, cause: e });
    settled();
  };
  for (;;) {
    const batch = [];
    while (batch.length < batchSize) {
      const n = await it.next();
      if (n.done) break;
      batch.push(n.value);
    }
    if (batch.length === 0) break;
    seen += batch.length;
    const headers = new Array(batch.length);
    await pool(concurrency, batch.map((o, i) => async () => {
      try {
        if (!o || typeof o.readHeader !== 'function' || typeof o.writeHeader !== 'function') {
          throw new InvalidArgumentError('each object needs readHeader() and writeHeader(header, bodyOffset)');
        }
        let read;
        try { read = await o.readHeader(); } catch (e) { failStorage(o, e, 'readHeader'); return; }
        const header = toBytes(read, 'readHeader result');
        if (await call(() => core.isCurrent(header, toKeyId, targetVersion))) {
          result.skipped++;
          settled();
        } else {
          headers[i] = header;
        }
      } catch (e) {
        fail(o, e);
      }
    }));
    const todo = [];
    for (let i = 0; i < batch.length; i++) if (headers[i]) todo.push([batch[i], headers[i]]);
    if (todo.length === 0) continue;
    let answers;
    try {
      answers = await call(() => core.rewrapMany(todo.map(([, h]) => h), toKeyId));
    } catch (e) {
      for (const [o] of todo) fail(o, e);
      continue;
    }
    await pool(concurrency, todo.map(([o], i) => async () => {
      try {
        const a = answers[i];
        if (a.error) throw a.error;
        try { await o.writeHeader(a.header, a.bodyOffset); } catch (e) { failStorage(o, e, 'writeHeader'); return; }
        result.done++;
        settled();
      } catch (e) {
        fail(o, e);
      }
    }));
  }
  return result;
}
