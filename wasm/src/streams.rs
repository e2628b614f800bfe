//! Stream state, ranged decrypt and rewrap for JS: translation of the core's `EncryptStream`,
//! `DecryptStream`, `plan_range`, `KeySeal::decrypt_range` and `KeySeal::rewrap`. The JS layer
//! wraps these in WHATWG `TransformStream`s.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use keyseal::{DecryptStream, EncryptStream, Header, HeaderLength, KeySeal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{KeySealCore, context_from_json, invalid, js_error};

/// A JS number that must be a non-negative safe integer (byte counts and offsets).
fn length(x: f64, what: &'static str) -> Result<u64, JsValue> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 {
        Ok(x as u64)
    } else {
        Err(invalid(what))
    }
}

/// Sealing state of one `encryptStream`.
#[wasm_bindgen]
pub struct EncryptStreamCore {
    inner: EncryptStream,
}

#[wasm_bindgen]
impl EncryptStreamCore {
    /// The header bytes, to be enqueued before any body bytes.
    pub fn header(&self) -> Vec<u8> {
        self.inner.header().to_vec()
    }

    /// Adds plaintext; returns the body bytes of the segments it completed (maybe none).
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        self.inner.push(data).map_err(|e| js_error(&e))
    }

    /// Seals the last segment and returns its bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        self.inner.finish().map_err(|e| js_error(&e))
    }
}

/// Opening state of one `decryptStream`. `push` is async (the header's completion fetches the
/// data key); the JS layer never calls it again before the previous Promise settled.
#[wasm_bindgen]
pub struct DecryptStreamCore {
    ks: Rc<KeySeal>,
    state: Rc<RefCell<Option<DecryptStream>>>,
}

#[wasm_bindgen]
impl DecryptStreamCore {
    /// Adds sealed bytes; resolves to the plaintext of the segments that authenticated.
    pub fn push(&self, data: Vec<u8>) -> Promise {
        let ks = self.ks.clone();
        let slot = self.state.clone();
        future_to_promise(async move {
            let mut s = slot
                .borrow_mut()
                .take()
                .ok_or_else(|| invalid("decrypt stream is busy"))?;
            let r = s.push(&ks, &data).await;
            *slot.borrow_mut() = Some(s);
            r.map(|out| Uint8Array::from(&out[..]).into())
                .map_err(|e| js_error(&e))
        })
    }

    /// Opens the last segment; fails if the stream was truncated.
    pub fn finish(&self) -> Result<Vec<u8>, JsValue> {
        let mut slot = self.state.borrow_mut();
        let s = slot.as_mut().ok_or_else(|| invalid("decrypt stream is busy"))?;
        s.finish().map_err(|e| js_error(&e))
    }
}

#[wasm_bindgen]
impl KeySealCore {
    /// Starts an encrypt stream under `context` (JSON object). Resolves to an `EncryptStreamCore`.
    #[wasm_bindgen(js_name = beginEncrypt)]
    pub fn begin_encrypt(&self, context: &str) -> Promise {
        let ks = self.inner.clone();
        let ctx = context_from_json(context);
        future_to_promise(async move {
            let ctx = ctx?;
            let inner = ks.begin_encrypt(&ctx, None).await.map_err(|e| js_error(&e))?;
            Ok(EncryptStreamCore { inner }.into())
        })
    }

    /// Starts a decrypt stream requiring `require_context` (JSON object, may be empty).
    #[wasm_bindgen(js_name = beginDecrypt)]
    pub fn begin_decrypt(&self, require_context: &str) -> Result<DecryptStreamCore, JsValue> {
        let req = context_from_json(require_context)?;
        Ok(DecryptStreamCore {
            ks: self.inner.clone(),
            state: Rc::new(RefCell::new(Some(self.inner.begin_decrypt(req)))),
        })
    }

    /// Ranged decrypt: `segments` are the message bytes `planRange(..)` said to fetch.
    #[wasm_bindgen(js_name = decryptRange)]
    pub fn decrypt_range(
        &self,
        header: Vec<u8>,
        total_len: f64,
        offset: f64,
        len: f64,
        segments: Vec<u8>,
        require_context: &str,
    ) -> Promise {
        let ks = self.inner.clone();
        let args = (|| {
            Ok::<_, JsValue>((
                length(total_len, "size must be a non-negative integer")?,
                length(offset, "offset must be a non-negative integer")?,
                length(len, "length must be a non-negative integer")?,
                context_from_json(require_context)?,
            ))
        })();
        future_to_promise(async move {
            let (total, offset, len, req) = args?;
            let out = ks
                .decrypt_range(&header, total, offset, len, &segments, &req)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(Uint8Array::from(&out[..]).into())
        })
    }

    /// Rewraps the header at the start of `header` (FORMAT.md §4.4). Resolves to
    /// `{ header: Uint8Array, bodyOffset: number }`.
    pub fn rewrap(&self, header: Vec<u8>, to_key_id: Option<String>) -> Promise {
        let ks = self.inner.clone();
        future_to_promise(async move {
            let r = ks
                .rewrap(&header, to_key_id.as_deref())
                .await
                .map_err(|e| js_error(&e))?;
            let o = js_sys::Object::new();
            js_sys::Reflect::set(&o, &"header".into(), &Uint8Array::from(&r.header[..]))?;
            js_sys::Reflect::set(&o, &"bodyOffset".into(), &JsValue::from_f64(r.body_offset as f64))?;
            Ok(o.into())
        })
    }

    /// Rewraps many headers (`KeySeal::rewrap_many`: `/rewrap-batch`, PROTOCOL.md §3.5.1).
    /// `headers` is an array of Uint8Array; resolves to an array with, per header,
    /// `{ header, bodyOffset }` or `{ error }` (the error object `rewrap` would reject with).
    #[wasm_bindgen(js_name = rewrapMany)]
    pub fn rewrap_many(&self, headers: js_sys::Array, to_key_id: Option<String>) -> Promise {
        let ks = self.inner.clone();
        let headers: Vec<Vec<u8>> = headers.iter().map(|h| Uint8Array::new(&h).to_vec()).collect();
        future_to_promise(async move {
            let prefixes: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            let out = js_sys::Array::new();
            for r in ks.rewrap_many(&prefixes, to_key_id.as_deref()).await {
                let o = js_sys::Object::new();
                match r {
                    Ok(r) => {
                        js_sys::Reflect::set(&o, &"header".into(), &Uint8Array::from(&r.header[..]))?;
                        js_sys::Reflect::set(
                            &o,
                            &"bodyOffset".into(),
                            &JsValue::from_f64(r.body_offset as f64),
                        )?;
                    }
                    Err(e) => {
                        js_sys::Reflect::set(&o, &"error".into(), &js_error(&e))?;
                    }
                }
                out.push(&o);
            }
            Ok(out.into())
        })
    }

    /// The newest version of the rewrap target (GET /keys/{id}/public). Resolves to a number.
    #[wasm_bindgen(js_name = newestVersion)]
    pub fn newest_version(&self, to_key_id: Option<String>) -> Promise {
        let ks = self.inner.clone();
        future_to_promise(async move {
            let v = ks
                .newest_version(to_key_id.as_deref())
                .await
                .map_err(|e| js_error(&e))?;
            Ok(JsValue::from_f64(f64::from(v)))
        })
    }

    /// Whether the header is already where a rewrap to `to_key_id` would put it.
    #[wasm_bindgen(js_name = isCurrent)]
    pub fn is_current(
        &self,
        header: &[u8],
        to_key_id: Option<String>,
        newest: Option<u32>,
    ) -> Result<bool, JsValue> {
        self.inner
            .is_current(header, to_key_id.as_deref(), newest)
            .map_err(|e| js_error(&e))
    }
}

/// FORMAT.md §4.3: how long the header is, from a prefix of the message. Returns the header
/// length when the prefix tells it, else `-n` where `n` is how many bytes from the start are
/// needed to learn more.
#[wasm_bindgen(js_name = headerLength)]
pub fn header_length(prefix: &[u8]) -> Result<f64, JsValue> {
    match Header::length_from_prefix(prefix).map_err(|e| js_error(&e))? {
        HeaderLength::Complete(n) => Ok(n as f64),
        HeaderLength::NeedAtLeast(n) => Ok(-(n as f64)),
    }
}

/// FORMAT.md §6.4: which message bytes a ranged read of plaintext `offset .. offset + len`
/// needs. Returns `[fetchStart, fetchEnd, plaintextStart, plaintextEnd, headerLen]` (end
/// exclusive; an empty fetch range means nothing to read).
#[wasm_bindgen(js_name = planRange)]
pub fn plan_range(header: &[u8], total_len: f64, offset: f64, len: f64) -> Result<Vec<f64>, JsValue> {
    let total = length(total_len, "size must be a non-negative integer")?;
    let offset = length(offset, "offset must be a non-negative integer")?;
    let len = length(len, "length must be a non-negative integer")?;
    let p = keyseal::plan_range(header, total, offset, len).map_err(|e| js_error(&e))?;
    Ok(vec![
        p.fetch.start as f64,
        p.fetch.end as f64,
        p.plaintext.start as f64,
        p.plaintext.end as f64,
        p.header_len as f64,
    ])
}
