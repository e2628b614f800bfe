// Deno entry: reads the .wasm with Deno.readFile (works for file: and npm: installs).
import { initSync } from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  initSync({ module: await globalThis.Deno.readFile(new URL('./keyseal_wasm_bg.wasm', import.meta.url)) });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
