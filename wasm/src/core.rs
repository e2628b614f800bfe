//! `KeySealCore`: the SDK object behind the JS `KeySeal` class — whole-message encrypt and
//! decrypt on the engine the size calls for, purge, metrics and `inspect`.

use std::collections::BTreeMap;
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
use crate::segments::{open_body, seal_body};

/// The SDK and its engines, shared by the exported objects (streams and range reads hold a clone).
pub(crate) struct Shared {
    pub sdk: KeySeal,
    pub engines: Engines,
}

/// A JS object of strings as an encryption context; `null`/`undefined` is the empty context.
pub(crate) fn context_from(v: JsValue, what: &str) -> Result<EncryptionContext, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(EncryptionContext::new());
    }
    if js_sys::Array::is_array(&v) || !v.is_object() {
        return Err(invalid_value(what, "must be an object of strings"));
    }
    let d = serde_wasm_bindgen::Deserializer::from(v);
    let pairs: BTreeMap<String, String> = serde_path_to_error::deserialize(d).map_err(|e| {
        let path = e.path().to_string();
        invalid_value(&format!("{what}.{path}"), &e.into_inner().to_string())
    })?;
    EncryptionContext::from_pairs(pairs).map_err(js_error)
}

/// Serializes a Rust value to a plain JS object (maps as objects, numbers as numbers).
pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
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
    /// node:crypto engine object of the Node entry, `undefined` elsewhere.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, node: JsValue) -> Result<KeySealCore, JsValue> {
        let built = build(options)?;
        let engines = Engines::new(built.engine, node)?;
        Ok(Self {
            shared: Rc::new(Shared {
                sdk: built.sdk,
                engines,
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

    /// Seals `plaintext` under `context` (an object of strings). Resolves to a `Uint8Array`.
    pub fn encrypt(&self, plaintext: Uint8Array, context: JsValue) -> Promise {
        let s = self.shared.clone();
        let ctx = context_from(context, "context");
        future_to_promise(async move {
            let ctx = ctx?;
            let len = u64::from(plaintext.length());
            match s.engines.platform_for(Some(len)) {
                Some(p) => seal_platform(&s.sdk, p, &plaintext, &ctx).await,
                None => {
                    let out = s.sdk.encrypt(&plaintext.to_vec(), &ctx).await.map_err(js_error)?;
                    Ok(Uint8Array::from(&out[..]).into())
                }
            }
        })
    }

    /// Opens `sealed`, requiring the pairs of `require_context` (an object of strings, or nothing).
    pub fn decrypt(&self, sealed: Uint8Array, require_context: JsValue) -> Promise {
        let s = self.shared.clone();
        let req = context_from(require_context, "requireContext");
        future_to_promise(async move {
            let req = req?;
            let len = u64::from(sealed.length());
            match s.engines.platform_for(Some(len)) {
                Some(p) => open_platform(&s.sdk, p, &sealed, &req).await,
                None => {
                    let (_, pt) = s.sdk.decrypt(&sealed.to_vec(), &req).await.map_err(js_error)?;
                    Ok(Uint8Array::from(&pt[..]).into())
                }
            }
        })
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
    pub fn inspect(&self, sealed: &Uint8Array) -> Result<JsValue, JsValue> {
        let head = crate::inspect::prefix(sealed);
        crate::inspect::info_to_js(self.shared.sdk.inspect(&head), sealed)
    }
}

/// Whole-message seal on a platform engine: header, then every segment, into one new array.
async fn seal_platform(
    sdk: &KeySeal,
    platform: &Platform,
    plaintext: &Uint8Array,
    ctx: &EncryptionContext,
) -> Result<JsValue, JsValue> {
    let len = u64::from(plaintext.length());
    let mut job = sdk
        .prepare_external_encrypt(ctx, Some(len))
        .await
        .map_err(js_error)?;
    let r = async {
        let layout = job.layout.ok_or_else(|| invalid("layout"))?;
        let key = import_key(platform, &mut job).await?;
        let header_len = job.header.len() as u64;
        let out = Uint8Array::new_with_length((header_len + layout.body_len()) as u32);
        out.set(&Uint8Array::from(&job.header[..]), 0);
        seal_body(platform, &key, &layout, plaintext, &out, header_len).await?;
        Ok::<_, JsValue>(out)
    }
    .await;
    job.finish(r.is_ok(), len);
    r.map(Into::into)
}

/// Whole-message open on a platform engine: the SDK checks the header, the context, the body
/// length and the commitment; all or nothing.
async fn open_platform(
    sdk: &KeySeal,
    platform: &Platform,
    sealed: &Uint8Array,
    req: &EncryptionContext,
) -> Result<JsValue, JsValue> {
    let total = u64::from(sealed.length());
    let head = crate::inspect::prefix(sealed);
    let header_len = match keyseal::Header::length_from_prefix(&head) {
        Ok(keyseal::HeaderLength::Complete(n)) if n as u64 <= total => n as u64,
        _ => total,
    };
    let mut job = sdk
        .prepare_external_decrypt(
            &head[..header_len.min(head.len() as u64) as usize],
            Some(total - header_len),
            req,
        )
        .await
        .map_err(js_error)?;
    let r = async {
        let layout = job.layout.ok_or_else(|| invalid("layout"))?;
        let key = import_key(platform, &mut job).await?;
        let out = Uint8Array::new_with_length(layout.plaintext_len() as u32);
        let body = sealed.subarray(header_len as u32, total as u32);
        open_body(platform, &key, &layout, &body, &out).await?;
        Ok::<_, JsValue>(out)
    }
    .await;
    job.finish(r.is_ok(), total);
    r.map(Into::into)
}

/// Checks that `value` is an encryption context (an object of strings, or nothing), so that
/// streams refuse a bad one when they are made rather than at their first chunk.
#[wasm_bindgen(js_name = checkContext)]
pub fn check_context(value: JsValue, what: &str) -> Result<(), JsValue> {
    context_from(value, what).map(|_| ())
}
