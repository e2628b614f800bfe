// Node.js (and Bun) entry: an instance runs on the SDK in JS over node:crypto (AES-GCM, HKDF and
// P-256 from OpenSSL, format/node-engine.js) with key-service requests on node:http(s)
// (node-fetch.js); the wasm module is read and instantiated only at the first use that needs it
// (`lowLevel`, `engine: 'wasm'`, a mixed engine choice), and then also gets node:crypto and
// node:http (node-cipher.js, node-http.js).
import { readFile } from 'node:fs/promises';
import { createApi } from './keyseal.js';
import { nodeCipher } from './node-cipher.js';
import { nodeHttp } from './node-http.js';
import { nodeFetch } from './node-fetch.js';
import { nodeEngine } from './format/node-engine.js';

const api = createApi(async () => {
  const wasm = await import('./keyseal_wasm.js');
  wasm.initSync({ module: await readFile(new URL('./keyseal_wasm_bg.wasm', import.meta.url)) });
  return wasm;
}, { nodeCipher, nodeHttp, formatEngine: nodeEngine, fetch: nodeFetch });
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
