//! `KeySealCore`: the SDK object behind the JS `KeySeal` class — whole-message encrypt and
//! decrypt on the engine the size calls for, purge, metrics and `inspect`.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use keyseal::{EncryptionContext, ExternalJob, KeySeal};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::engine::Engines;
use crate::errors::{invalid, invalid_value, js_error};
use crate::options::build;
use crate::platform::{Platform, PlatformKey};

/// The SDK and its engines, shared by the exported objects (streams and range reads hold a clone).
pub(crate) struct Shared {
    pub sdk: KeySeal,
    pub engines: Engines,
    /// The key-service clients' P-256 engine.
    pub p256: Rc<dyn keyseal::P256Engine>,
}

/// A JS object of strings as an encryption context; `null`/`undefined` is the empty context.
pub(crate) fn context_from(v: JsValue, what: &str) -> Result<EncryptionContext, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(EncryptionContext::new());
    }
    if js_sys::Array::is_array(&v) || !v.is_object() {
        return Err(invalid_value(what, "must be an object of strings"));
    }
    // the object's own enumerable string keys, each value a string (named when it is not)
    let entries = js_sys::Object::entries(v.unchecked_ref());
    let mut pairs = Vec::with_capacity(entries.length() as usize);
    for e in entries.iter() {
        let e: js_sys::Array = e.unchecked_into();
        let key = e.get(0).as_string().unwrap_or_default();
        let Some(value) = e.get(1).as_string() else {
            return Err(invalid_value(&format!("{what}.{key}"), "must be a string"));
        };
        pairs.push((key, value));
    }
    EncryptionContext::from_pairs(pairs).map_err(js_error)
}

/// Serializes a Rust value to a plain JS object (maps as objects, numbers as numbers).
pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    // JSON-compatible (maps as objects, `null` for none, numbers not bigints) but bytes as
    // `Uint8Array`s.
    let ser = serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false);
    v.serialize(&ser)
        .map_err(|e| crate::errors::coded("INTERNAL", &e.to_string()))
}

/// Imports the job's payload key into the platform engine (the core's copy zeroizes on drop).
pub(crate) async fn import_key(platform: &Platform, job: &mut ExternalJob) -> Result<PlatformKey, JsValue> {
    let key = job
        .segments
        .take_key()
        .ok_or_else(|| invalid("the payload key was handed out already"))?;
    platform.import(&key).await
}

/// The SDK object behind the JS `KeySeal` class.
#[wasm_bindgen]
pub struct KeySealCore {
    pub(crate) shared: Rc<Shared>,
}

#[wasm_bindgen]
impl KeySealCore {
    /// Builds the SDK from the caller's `options` (validated here; no network call). `node` is the
    /// node:crypto engine object of the Node entry, `undefined` elsewhere; `node_http` its
    /// node:http transport object, likewise.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, node: JsValue, node_http: JsValue) -> Result<KeySealCore, JsValue> {
        let node_p256 = (!node.is_undefined() && !node.is_null())
            .then(|| node.clone().unchecked_into::<crate::platform::NodeCipher>());
        let node_http = (!node_http.is_undefined() && !node_http.is_null())
            .then(|| node_http.unchecked_into::<crate::node_http::NodeHttp>());
        let built = build(options, node_p256, node_http)?;
        let engines = Engines::new(built.engine, node)?;
        Ok(Self {
            shared: Rc::new(Shared {
                sdk: built.sdk,
                engines,
                p256: built.p256,
            }),
        })
    }

    /// Which engine a message of `byte_length` bytes uses: `wasm`, `webcrypto` or `node`
    /// (`Infinity`: the streams).
    #[wasm_bindgen(js_name = engineFor)]
    pub fn engine_for(&self, byte_length: f64) -> String {
        let len = byte_length.is_finite().then_some(byte_length.max(0.0) as u64);
        self.shared.engines.name_for(len).into()
    }

    /// Which P-256 engine the key-service calls use: `webcrypto` or `wasm`.
    #[wasm_bindgen(js_name = p256Engine)]
    pub fn p256_engine(&self) -> String {
        self.shared.p256.name().into()
    }

    /// Seals `plaintext` under `context` (an object of strings), signed (suite 2) when `sign`.
    /// Resolves to a `Uint8Array`.
    pub fn encrypt(&self, plaintext: Uint8Array, context: JsValue, sign: bool) -> Promise {
        let s = self.shared.clone();
        let ctx = context_from(context, "context");
        future_to_promise(async move { crate::messages::encrypt(&s, &plaintext, &ctx?, sign).await })
    }

    /// Opens `sealed`, requiring the pairs of `require_context` (an object of strings, or nothing)
    /// and, with `require_signed`, a signed message (suite 2).
    pub fn decrypt(&self, sealed: Uint8Array, require_context: JsValue, require_signed: bool) -> Promise {
        let s = self.shared.clone();
        let req = context_from(require_context, "requireContext");
        future_to_promise(async move { crate::messages::decrypt(&s, &sealed, &req?, require_signed).await })
    }

    /// Drops cached data keys of `key_id`, or all when absent. Returns how many were dropped.
    pub fn purge(&self, key_id: Option<String>) -> usize {
        self.shared.sdk.purge(key_id.as_deref())
    }

    /// The SLI figures as a plain object.
    pub fn metrics(&self) -> Result<JsValue, JsValue> {
        to_js(&self.shared.sdk.metrics())
    }

    /// Prometheus text exposition.
    #[wasm_bindgen(js_name = metricsText)]
    pub fn metrics_text(&self) -> String {
        self.shared.sdk.metrics_text()
    }

    /// Header facts (no secrets, no key-service call), key versions as the configured services read them.
    pub fn inspect(&self, sealed: &Uint8Array, sealed_length: Option<f64>) -> Result<JsValue, JsValue> {
        let total = crate::inspect::total_length(sealed, sealed_length)?;
        let head = crate::inspect::prefix(sealed);
        crate::inspect::info_to_js(self.shared.sdk.inspect(&head), total)
    }
}

/// Checks that `value` is an encryption context (an object of strings, or nothing), so that
/// streams refuse a bad one when they are made rather than at their first chunk.
#[wasm_bindgen(js_name = checkContext)]
pub fn check_context(value: JsValue, what: &str) -> Result<(), JsValue> {
    context_from(value, what).map(|_| ())
}
