// Loopback helpers shared by the runners.
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (also: a port nothing listens on). */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** `p`, or a rejection with `what: timed out after ms ms` (the timer never outlives `p`). */
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    Promise.resolve(p).finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]);
}
