// The `node` key-service transport of the Node entry: one node:http(s) request per key-service
// call on Node's global agents (keep-alive), instead of the global fetch. Measured in Node 20 on
// loopback: fetch (undici) costs 0.6–0.9 ms of CPU per request (Request and stream objects, an
// AbortSignal, the body written as an iterable), node:http 0.24–0.33 ms, and a per-record encrypt
// is one request. Redirects are not followed (a 3xx reaches the SDK, which refuses it), as with
// fetch's `redirect: 'manual'`. The SDK times out an attempt by dropping its future, which calls
// `abort` here.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const nodeHttp = {
  /**
   * Sends one request (`body`: JSON bytes for POST, or undefined; `extra`: `[name, value]` header
   * pairs, e.g. a SigV4 signature, whose `content-type` replaces the JSON one). Returns `{ promise, abort }`;
   * `promise` resolves to `{ status, retryAfter, body }` (`retryAfter`: the header or null) and
   * rejects with the socket's error (its `code`, e.g. `ECONNREFUSED`, is kept).
   */
  send(method, url, body, extra = []) {
    const u = new URL(url);
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    let req;
    const promise = new Promise((resolve, reject) => {
      const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
      for (const [k, v] of extra) headers[k] = v;
      req = request(u, { method, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode, retryAfter: retryAfter ?? null, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    // an aborted request rejects after the SDK stopped listening: never an unhandled rejection
    promise.catch(() => {});
    return { promise, abort: () => req.destroy() };
  },
};
