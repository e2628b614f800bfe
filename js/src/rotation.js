// rewrapAll: header-only rotation of many stored objects. The I/O (reading and writing the
// caller's headers) is here, shared by both implementations; what is current and every rewrap is
// the instance's (the Rust core's, or js/src/policy/rotation.js for the SDK in JS).
import { ERROR_CODES, InvalidArgumentError, KeySealError } from './errors.js';
import { fromCore } from './from-core.js';
import { known } from './options.js';
import { progress, toBytes } from './bytes.js';

async function call(f) {
  try { return await f(); } catch (e) { throw fromCore(e); }
}

/**
 * A limit of `n` tasks running at once, shared by every caller: `limit(task)` runs `task` when a
 * place is free (first come, first served) and settles as it does.
 */
function limiter(n) {
  let active = 0;
  const waiting = [];
  return async (task) => {
    if (active < n) active++;
    else await new Promise((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // hand the place straight to the next task, so no newcomer can slip in between
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * Rotates many objects in rounds: reads a round's headers and hands them to one
 * `rewrapManyUnlessCurrent`, which skips the current ones and rewraps the rest (per key service,
 * /rewrap-batch requests of up to 100 headers, sent at once), then writes the new headers back. The next round's headers
 * are read while this round is rewrapped and written (rounds ask the key services one after the
 * other, so the rewrap memo answers a question shared by several rounds once); reads and writes
 * together stay within `concurrency`. Never throws for one object: failures are collected.
 */
export async function rewrapAll(core, objects, options) {
  const { toKeyId, concurrency = 4, batchSize = 200, onProgress } = known(options, ['toKeyId', 'concurrency', 'batchSize', 'onProgress'], 'rewrapAll');
  if (!objects || (typeof objects[Symbol.iterator] !== 'function' && typeof objects[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('objects must be an array or an (async) iterable');
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError('concurrency must be a positive integer');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize must be a positive integer');
  if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('toKeyId must be a key id');
  const targetVersion = await call(() => core.newestVersion(toKeyId));
  const it = typeof objects[Symbol.asyncIterator] === 'function' ? objects[Symbol.asyncIterator]() : objects[Symbol.iterator]();
  const result = { done: 0, skipped: 0, failed: [], targetVersion };
  const limit = limiter(concurrency);
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
  /** The next round's objects whose headers were read, as [object, header] pairs; null at the end. */
  const readRound = async () => {
    const batch = [];
    while (batch.length < batchSize) {
      const n = await it.next();
      if (n.done) break;
      batch.push(n.value);
    }
    if (batch.length === 0) return null;
    seen += batch.length;
    const headers = new Array(batch.length);
    await Promise.all(batch.map((o, i) => limit(async () => {
      try {
        if (!o || typeof o.readHeader !== 'function' || typeof o.writeHeader !== 'function') {
          throw new InvalidArgumentError('each object needs readHeader() and writeHeader(header, bodyOffset)');
        }
        let read;
        try { read = await o.readHeader(); } catch (e) { failStorage(o, e, 'readHeader'); return; }
        headers[i] = toBytes(read, 'readHeader result');
      } catch (e) {
        fail(o, e);
      }
    })));
    const todo = [];
    for (let i = 0; i < batch.length; i++) if (headers[i]) todo.push([batch[i], headers[i]]);
    return todo;
  };
  // Current headers (the core's skip check, on the same parse as the rewrap) are counted here;
  // only rewrapped ones are written.
  const writeRound = (todo, answers) => Promise.all(todo.map(([o], i) => {
    const a = answers[i];
    if (a.current) {
      result.skipped++;
      settled();
      return undefined;
    }
    if (a.error) return fail(o, a.error);
    return limit(async () => {
      try {
        try { await o.writeHeader(a.header, a.bodyOffset); } catch (e) { failStorage(o, e, 'writeHeader'); return; }
        result.done++;
        settled();
      } catch (e) {
        fail(o, e);
      }
    });
  }));
  const writes = [];
  try {
    let next = readRound();
    for (;;) {
      const todo = await next;
      if (todo === null) break;
      next = readRound();
      // observed here so that a failing iterator is not an unhandled rejection while this round
      // runs; the loop's `await next` still throws it
      next.catch(() => {});
      if (todo.length === 0) continue;
      let answers;
      try {
        answers = await call(() => core.rewrapManyUnlessCurrent(todo.map(([, h]) => h), toKeyId, targetVersion));
      } catch (e) {
        for (const [o] of todo) fail(o, e);
        continue;
      }
      writes.push(writeRound(todo, answers));
    }
  } finally {
    await Promise.all(writes);
  }
  return result;
}
