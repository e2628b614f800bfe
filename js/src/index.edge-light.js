// Vercel / Next.js Edge runtime entry (`edge-light` condition): like workerd, the Edge runtime
// refuses wasm compiled from bytes and cannot fetch a file next to the module, so the .wasm is
// imported as a compiled module (`?module`, which Next's bundler turns into a WebAssembly.Module)
// and instantiated with initSync at the first use that needs it (an instance runs on the SDK in JS
// over `crypto.subtle`: `lowLevel`, `engine: 'wasm'`). Next hands that module in from the host realm, where
// `instanceof WebAssembly.Module` is false and wasm-bindgen would try to recompile it: its
// prototype is set to this realm's first.
import wasmModule from './keyseal_wasm_bg.wasm?module';
import { initSync } from './keyseal_wasm.js';
import * as wasm from './keyseal_wasm.js';
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  if (!(wasmModule instanceof WebAssembly.Module)) Object.setPrototypeOf(wasmModule, WebAssembly.Module.prototype);
  initSync({ module: wasmModule });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
