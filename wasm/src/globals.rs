//! What the wasm crate needs from the JS global scope, the same in browsers, workers, Node, Deno,
//! Bun and workerd — never `window`, which only browsers' main threads have.
//!
//! web-sys binds `fetch`, `setTimeout`, `performance` and `crypto` only as members of `Window`
//! and `WorkerGlobalScope`; in Node, Bun and workerd `globalThis` is neither, so the three global
//! functions below are declared here (web-sys lacks a global-scope binding for them), and
//! `performance`/`crypto` are read from `globalThis` and used through web-sys' own types.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `fetch(request)` on the global scope (web-sys has it only on `Window`/`WorkerGlobalScope`).
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn global_fetch(request: &web_sys::Request) -> Promise;
    /// `setTimeout(cb, ms)` on the global scope (likewise).
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(cb: &Function, ms: f64) -> JsValue;
}

fn global(name: &str) -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `globalThis.performance`.
pub(crate) fn performance() -> Option<web_sys::Performance> {
    global("performance").map(JsCast::unchecked_into)
}

/// `globalThis.crypto.subtle`, when the runtime has it (the platform AES-GCM engine).
pub(crate) fn subtle() -> Option<web_sys::SubtleCrypto> {
    let crypto: web_sys::Crypto = global("crypto")?.unchecked_into();
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    (!subtle.is_undefined() && !subtle.is_null()).then(|| subtle.unchecked_into())
}
