// Cloudflare workerd entry: an instance runs on the SDK in JS over `crypto.subtle`. workerd refuses
// to compile wasm from bytes, so the .wasm is imported as a module (wrangler/miniflare
// "CompiledWasm", compiled when the worker is loaded) and instantiated with initSync only at the
// first use that needs it (`lowLevel`, `engine: 'wasm'`).
import wasmModule from './keyseal_wasm_bg.wasm';
import { initSync } from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  initSync({ module: wasmModule });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
