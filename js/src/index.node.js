// Node.js (and Bun) entry: reads the .wasm next to this file and instantiates it synchronously.
import { readFile } from 'node:fs/promises';
import { initSync } from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  initSync({ module: await readFile(new URL('./keyseal_wasm_bg.wasm', import.meta.url)) });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const lowLevel = api.lowLevel;
export * from './errors.js';
