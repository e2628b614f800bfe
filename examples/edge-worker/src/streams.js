// Small stream helpers: look at the start of a stream without losing it, and answer with a
// stream whose first chunk has already been produced (so its errors still become HTTP statuses).

/** Reads until `enough(prefix)` is true (or the end); returns the prefix and a stream of everything. */
export async function peekPrefix(stream, enough) {
  const reader = stream.getReader();
  const chunks = [];
  let len = 0;
  let done = false;
  const joined = () => {
    const out = new Uint8Array(len);
    let o = 0;
    for (const c of chunks) { out.set(c, o); o += c.length; }
    return out;
  };
  while (!done && !(await enough(joined()))) {
    const r = await reader.read();
    if (r.done) done = true;
    else { chunks.push(r.value); len += r.value.length; }
  }
  const prefix = joined();
  const whole = new ReadableStream({
    start(controller) { if (prefix.length) controller.enqueue(prefix); if (done) controller.close(); },
    async pull(controller) {
      if (done) return;
      const r = await reader.read();
      if (r.done) controller.close(); else controller.enqueue(r.value);
    },
    cancel(reason) { return reader.cancel(reason); },
  });
  return { prefix, stream: whole };
}

/**
 * Pulls the first chunk of `stream` now (throwing its error, if any, to the caller), and returns
 * a stream of `length` bytes that starts with it. FixedLengthStream gives the response a
 * Content-Length, so a failure after the headers went out (e.g. a tampered later segment) is a
 * truncated body the client detects, never silent short data.
 */
export async function primed(stream, length) {
  const reader = stream.getReader();
  const first = await reader.read();
  const rest = new ReadableStream({
    start(controller) { if (first.done) controller.close(); else controller.enqueue(first.value); },
    async pull(controller) {
      const r = await reader.read();
      if (r.done) controller.close(); else controller.enqueue(r.value);
    },
    cancel(reason) { return reader.cancel(reason); },
  });
  if (typeof FixedLengthStream !== 'function' || length === undefined) return rest;
  const { readable, writable } = new FixedLengthStream(length);
  rest.pipeTo(writable).catch((e) => console.error('response stream failed', e && e.code ? e.code : String(e && e.name)));
  return readable;
}
