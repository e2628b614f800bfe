// Node.js (and Bun) entry: reads the .wasm next to this file and instantiates it synchronously;
// adds the `node` engine (AES-GCM and P-256 from node:crypto) and the node:http(s) key-service
// transport, which 'auto' prefers here.
import { readFile } from 'node:fs/promises';
import { initSync } from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';
import { nodeCipher } from './node-cipher.js';
import { nodeHttp } from './node-http.js';

const api = createApi(async () => {
  initSync({ module: await readFile(new URL('./keyseal_wasm_bg.wasm', import.meta.url)) });
  return wasm;
}, { nodeCipher, nodeHttp });
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
