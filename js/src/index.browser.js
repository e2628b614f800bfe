// Browser and Web Worker entry (also the default). An instance runs on the SDK in JS over
// `crypto.subtle` (docs/DESIGN.md design C); the .wasm next to this module is fetched and compiled
// (streaming instantiation) only at the first use that needs it (`lowLevel`, `engine: 'wasm'`, a
// runtime without `crypto.subtle`). Its glue is imported statically: a module Service Worker
// cannot `import()`, and the glue is a small part of this entry. Bundlers that understand
// `new URL(..., import.meta.url)` copy the .wasm for you.
import init, * as wasm from './keyseal_wasm.js';
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
