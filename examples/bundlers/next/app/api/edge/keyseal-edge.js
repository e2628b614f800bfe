// WORKAROUND for Next.js's Edge runtime until the package has an entry for it. `import 'keyseal'`
// resolves to the browser entry there, which fetches and compiles its .wasm from bytes: Next's edge
// sandbox cannot fetch the file (`fetch failed`) and refuses wasm compiled from bytes anyway. Next
// wants the .wasm imported as a compiled module (`?module`), which is what this file does; it is
// the package's workerd entry (dist/index.workerd.js) with `?module` added, reaching into
// node_modules by path because the exports map has no such entry. The fix in the package: an
// `edge-light` condition pointing at an entry like this one.
import wasmModule from '../../../node_modules/keyseal/dist/keyseal_wasm_bg.wasm?module';
import { initSync } from '../../../node_modules/keyseal/dist/keyseal_wasm.js';
import * as wasm from '../../../node_modules/keyseal/dist/keyseal_wasm.js';
import { createApi } from '../../../node_modules/keyseal/dist/keyseal.js';

const api = createApi(async () => {
  // Next's edge sandbox hands the compiled module in from the host realm, so wasm-bindgen's
  // `module instanceof WebAssembly.Module` is false and it would try to recompile it from bytes.
  if (!(wasmModule instanceof WebAssembly.Module)) Object.setPrototypeOf(wasmModule, WebAssembly.Module.prototype);
  initSync({ module: wasmModule });
  return wasm;
});
export const KeySeal = api.KeySeal;
export const inspect = api.inspect;
export const headerLength = api.headerLength;
export const lowLevel = api.lowLevel;
export * from '../../../node_modules/keyseal/dist/errors.js';
