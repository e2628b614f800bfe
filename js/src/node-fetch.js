// The node:http(s) transport (node-http.js) in the shape of `fetch` for the SDK in JS: what
// `transport: 'node'` (and 'auto' in the Node entry) gives it. Only what js/src/policy/endpoints.js
// uses: `init.method`, `headers` (an object), `body` (a string or bytes), `signal`; the answer's
// `status`, `headers.get(name)` (only Retry-After is read) and `text()`. Redirects are not followed.
import { nodeHttp } from './node-http.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `fetch(url, init)` over one node:http(s) request. */
export async function nodeFetch(url, init = {}) {
  const { signal } = init;
  signal?.throwIfAborted();
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? enc.encode(init.body) : init.body;
  // node-http sends a JSON content-type with a body; a caller's header of the same name replaces it
  const extra = Object.entries(init.headers ?? {});
  const { promise, abort } = nodeHttp.send(init.method ?? 'GET', url, body, extra);
  const res = await new Promise((resolve, reject) => {
    // an abort (the SDK's attempt timeout) ends the request and rejects with the signal's reason,
    // a TimeoutError or AbortError DOMException as fetch's
    const onAbort = () => { abort(); reject(signal.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
  });
  return {
    status: res.status,
    headers: { get: (name) => (String(name).toLowerCase() === 'retry-after' ? res.retryAfter : null) },
    text: async () => dec.decode(res.body),
  };
}
