//! Diagnostics for tests and benchmarks: nothing here touches keys or data.

use wasm_bindgen::prelude::*;

/// Size in bytes of this module's linear memory (`memory.buffer.byteLength`), read from inside
/// the module so it works whatever the loader did with the exports. Linear memory only grows, so
/// the large-data tests (js/test/large.mjs) compare it after inputs of different sizes to show
/// that streaming keeps it flat.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    // in f64: 65,536 pages × 64 KiB = 4 GiB does not fit a wasm32 usize
    core::arch::wasm32::memory_size::<0>() as f64 * 65536.0
}
