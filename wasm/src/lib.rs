//! keyseal for JavaScript: the wasm-bindgen exports. This crate only translates — JS values to
//! core types and back, `fetch`/`setTimeout`/token callbacks to the core's transport traits, core
//! errors to JS errors with a stable `code`. All policy (caching, retries, failover, metrics) is in
//! the `keyseal` core.
#![cfg(target_arch = "wasm32")]

mod config;
mod diagnostics;
mod platform;
mod streams;
mod webcrypto;

use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use keyseal::{
    DataKey, EncryptionContext, EntryKind, Error, KeySeal, MessageId, RustCryptoEngine, WrappedKeyEntry,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// A JS `Error` whose `code` is the stable keyseal code; the JS layer turns it into the matching
/// `KeySealError` subclass.
pub(crate) fn js_error<E: Clone + Into<Error>>(e: &E) -> JsValue {
    let e: Error = e.clone().into();
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

pub(crate) fn invalid(reason: &'static str) -> JsValue {
    js_error(&keyseal::FormatError::InvalidArgument { reason })
}

pub(crate) fn context_from_json(json: &str) -> Result<EncryptionContext, JsValue> {
    if json.is_empty() {
        return Ok(EncryptionContext::new());
    }
    let m: std::collections::BTreeMap<String, String> =
        serde_json::from_str(json).map_err(|_| invalid("context must be an object of strings"))?;
    EncryptionContext::from_pairs(m).map_err(|e| js_error(&e))
}

/// The SDK object behind the JS `KeySeal` class.
#[wasm_bindgen]
pub struct KeySealCore {
    pub(crate) inner: Rc<KeySeal>,
}

#[wasm_bindgen]
impl KeySealCore {
    /// `config` is the JSON of `config::Config`; `token` returns a JWT or a Promise of one;
    /// `on_event` (optional) receives each event as a JSON string.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, token: Function, on_event: Option<Function>) -> Result<KeySealCore, JsValue> {
        let inner = config::build(config, token, on_event)?;
        Ok(Self {
            inner: Rc::new(inner),
        })
    }

    /// Seals `plaintext` under `context` (JSON object). Resolves to a `Uint8Array`.
    pub fn encrypt(&self, plaintext: Vec<u8>, context: &str) -> Promise {
        let ks = self.inner.clone();
        let ctx = context_from_json(context);
        future_to_promise(async move {
            let ctx = ctx?;
            let out = ks.encrypt(&plaintext, &ctx).await.map_err(|e| js_error(&e))?;
            Ok(Uint8Array::from(&out[..]).into())
        })
    }

    /// Opens `sealed`, requiring the pairs of `require_context` (JSON object, may be empty).
    pub fn decrypt(&self, sealed: Vec<u8>, require_context: &str) -> Promise {
        let ks = self.inner.clone();
        let req = context_from_json(require_context);
        future_to_promise(async move {
            let req = req?;
            let (_, pt) = ks.decrypt(&sealed, &req).await.map_err(|e| js_error(&e))?;
            Ok(Uint8Array::from(&pt[..]).into())
        })
    }

    /// Drops cached data keys of `key_id`, or all when absent. Returns how many were dropped.
    pub fn purge(&self, key_id: Option<String>) -> usize {
        self.inner.purge(key_id.as_deref())
    }

    /// The SLI figures as JSON.
    pub fn metrics(&self) -> String {
        serde_json::to_string(&self.inner.metrics()).unwrap_or_default()
    }

    /// Prometheus text exposition.
    #[wasm_bindgen(js_name = metricsText)]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics_text()
    }
}

/// Header facts of a sealed message (or its first bytes) as JSON. No key service involved.
#[wasm_bindgen]
pub fn inspect(sealed: &[u8]) -> Result<String, JsValue> {
    let info = keyseal::inspect(sealed).map_err(|e| js_error(&e))?;
    serde_json::to_string(&info).map_err(|_| invalid("inspect encoding"))
}

/// Low level: opens `sealed` with a data key the caller already holds (test vectors, tools).
#[wasm_bindgen(js_name = openWithDataKey)]
pub fn open_with_data_key(sealed: &[u8], data_key: &[u8], require_context: &str) -> Result<Vec<u8>, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(|e| js_error(&e))?;
    let req = context_from_json(require_context)?;
    keyseal::open(&RustCryptoEngine, &dek, sealed, &req)
        .map(|(_, pt)| pt)
        .map_err(|e| js_error(&e))
}

#[derive(serde::Deserialize)]
struct EntryJson {
    kind: String,
    key_service_id: String,
    key_id: String,
    wrapped: String,
}

fn unhex(s: &str) -> Result<Vec<u8>, JsValue> {
    if !s.len().is_multiple_of(2) {
        return Err(invalid("odd hex length"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| invalid("bad hex")))
        .collect()
}

/// Low level: seals with a caller-held data key and a caller-chosen message id, which the caller
/// MUST never reuse with that key. For test vectors and engine byte-identity checks only.
/// `entries` is a JSON array of `{kind, key_service_id, key_id, wrapped(hex)}`; `context` a JSON
/// array of `[key, value]` pairs.
#[wasm_bindgen(js_name = sealWithDataKeyAssumingUniqueMessageId)]
pub fn seal_with_data_key(
    data_key: &[u8],
    message_id: &[u8],
    segment_size: u32,
    context: &str,
    entries: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(|e| js_error(&e))?;
    let header = header_with_data_key(&dek, message_id, segment_size, context, entries)?;
    keyseal::seal(&RustCryptoEngine, &dek, &header, plaintext).map_err(|e| js_error(&e))
}

/// The header for the low-level seals (see `seal_with_data_key` for the argument formats).
pub(crate) fn header_with_data_key(
    dek: &DataKey,
    message_id: &[u8],
    segment_size: u32,
    context: &str,
    entries: &str,
) -> Result<keyseal::Header, JsValue> {
    let mid: [u8; 32] = message_id
        .try_into()
        .map_err(|_| invalid("message id is 32 bytes"))?;
    let pairs: Vec<(String, String)> = serde_json::from_str(context).map_err(|_| invalid("context pairs"))?;
    let ctx = EncryptionContext::from_pairs(pairs).map_err(|e| js_error(&e))?;
    let list: Vec<EntryJson> = serde_json::from_str(entries).map_err(|_| invalid("entries"))?;
    let entries = list
        .into_iter()
        .map(|e| {
            Ok(WrappedKeyEntry {
                kind: match e.kind.as_str() {
                    "kms" => EntryKind::Kms,
                    "hpke-p256" => EntryKind::HpkeP256,
                    _ => EntryKind::Unknown(0x7f),
                },
                key_service_id: e.key_service_id,
                key_id: e.key_id,
                wrapped: unhex(&e.wrapped)?,
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    keyseal::new_header(
        dek,
        MessageId::assume_unique_for_key(mid),
        segment_size,
        ctx,
        entries,
    )
    .map_err(|e| js_error(&e))
}
