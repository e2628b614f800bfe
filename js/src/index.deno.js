// Deno entry: an instance runs on the SDK in JS over `crypto.subtle`; the wasm module is read with
// Deno.readFile (works for file: and npm: installs) only at the first use that needs it.
import { createApi } from './keyseal.js';

const api = createApi(async () => {
  const wasm = await import('./keyseal_wasm.js');
  wasm.initSync({ module: await globalThis.Deno.readFile(new URL('./keyseal_wasm_bg.wasm', import.meta.url)) });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from './errors.js';
