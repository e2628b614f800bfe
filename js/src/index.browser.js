// Browser and Web Worker entry (also the default): fetches the .wasm next to this module and
// compiles it with streaming instantiation. Bundlers that understand `new URL(..., import.meta.url)`
// copy the .wasm for you.
import init from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  await init({ module_or_path: new URL('./keyseal_wasm_bg.wasm', import.meta.url) });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
