//! The WebCrypto engine's wasm half: translation of the core's [`ExternalJob`] for the JS layer,
//! which runs AES-256-GCM through `crypto.subtle` with several segments in flight
//! (js/src/keyseal.js). The core has done everything but the segments (header, commitment,
//! layout); this hands out the payload key once — straight into a JS-heap `Uint8Array` that
//! the JS layer passes only to `importKey` and then zero-fills, while the core's copy zeroizes on
//! drop — and the per-segment nonces (FORMAT.md §6.2).

use js_sys::{Promise, Uint8Array};
use keyseal::{DataKey, EncryptionContext, ExternalJob, ExternalSegments, Header};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{KeySealCore, context_from_json, invalid, js_error};

fn length(x: Option<f64>, what: &'static str) -> Result<Option<u64>, JsValue> {
    match x {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 => {
            Ok(Some(x as u64))
        }
        Some(_) => Err(invalid(what)),
    }
}

enum Inner {
    /// Through a `KeySeal` (metrics and events recorded by `finish`).
    Sdk(ExternalJob),
    /// Low level, with a caller-held data key: header bytes and segments only.
    Bare(Vec<u8>, ExternalSegments),
}

/// One message for the WebCrypto engine: header, payload key (once), nonces.
#[wasm_bindgen]
pub struct WebCryptoJob {
    inner: Inner,
}

impl WebCryptoJob {
    fn segments(&self) -> &ExternalSegments {
        match &self.inner {
            Inner::Sdk(j) => &j.segments,
            Inner::Bare(_, s) => s,
        }
    }
    fn segments_mut(&mut self) -> &mut ExternalSegments {
        match &mut self.inner {
            Inner::Sdk(j) => &mut j.segments,
            Inner::Bare(_, s) => s,
        }
    }
}

#[wasm_bindgen]
impl WebCryptoJob {
    /// The header bytes (seal: to be written first; open: the checked header).
    pub fn header(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Sdk(j) => j.header.clone(),
            Inner::Bare(h, _) => h.clone(),
        }
    }

    /// Plaintext bytes per segment.
    #[wasm_bindgen(js_name = segmentSize)]
    pub fn segment_size(&self) -> u32 {
        self.segments().segment_size()
    }

    /// The 32-byte payload key as a new `Uint8Array` in the JS heap, the first time only (then an
    /// error). The core's copy is zeroized when this returns. The caller passes it to
    /// `crypto.subtle.importKey` (non-extractable) and zero-fills it.
    #[wasm_bindgen(js_name = takeKey)]
    pub fn take_key(&mut self) -> Result<Uint8Array, JsValue> {
        let key = self
            .segments_mut()
            .take_key()
            .ok_or_else(|| invalid("the payload key was handed out already"))?;
        Ok(Uint8Array::from(&key.expose_secret()[..]))
    }

    /// The 12-byte nonce of segment `index` (`last` for the final one).
    pub fn nonce(&self, index: f64, last: bool) -> Result<Uint8Array, JsValue> {
        let i = length(Some(index), "segment index")?.unwrap_or(0);
        let n = keyseal::SegmentId::new(i, last)
            .map_err(|e| js_error(&e))?
            .nonce();
        Ok(Uint8Array::from(&n[..]))
    }

    /// Records the outcome in the SDK's metrics and events (once). `bytes`: plaintext length on
    /// seal, sealed length on open.
    pub fn finish(&mut self, ok: bool, bytes: f64) {
        if let Inner::Sdk(j) = &mut self.inner {
            j.finish(ok, bytes.max(0.0) as u64);
        }
    }
}

#[wasm_bindgen]
impl KeySealCore {
    /// Prepares a seal for the WebCrypto engine: resolves to a `WebCryptoJob`. `plaintext_len`
    /// is `undefined` for a stream.
    #[wasm_bindgen(js_name = prepareEncrypt)]
    pub fn prepare_encrypt(&self, plaintext_len: Option<f64>, context: &str) -> Promise {
        let ks = self.inner.clone();
        let args = length(plaintext_len, "length must be a non-negative integer")
            .and_then(|n| Ok((n, context_from_json(context)?)));
        future_to_promise(async move {
            let (n, ctx) = args?;
            let job = ks
                .prepare_external_encrypt(&ctx, n)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(WebCryptoJob {
                inner: Inner::Sdk(job),
            }
            .into())
        })
    }

    /// Prepares an open for the WebCrypto engine from the header bytes (`body_len`: the body
    /// length when known, checked against §6.3). Resolves to a `WebCryptoJob`.
    #[wasm_bindgen(js_name = prepareDecrypt)]
    pub fn prepare_decrypt(&self, header: Vec<u8>, body_len: Option<f64>, require_context: &str) -> Promise {
        let ks = self.inner.clone();
        let args = length(body_len, "length must be a non-negative integer")
            .and_then(|n| Ok((n, context_from_json(require_context)?)));
        future_to_promise(async move {
            let (n, req) = args?;
            let job = ks
                .prepare_external_decrypt(&header, n, &req)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(WebCryptoJob {
                inner: Inner::Sdk(job),
            }
            .into())
        })
    }
}

/// Low level: a `WebCryptoJob` for sealing with a caller-held data key and caller-chosen message
/// id (same arguments and caveats as `sealWithDataKeyAssumingUniqueMessageId`).
#[wasm_bindgen(js_name = prepareSealWithDataKeyAssumingUniqueMessageId)]
pub fn prepare_seal_with_data_key(
    data_key: &[u8],
    message_id: &[u8],
    segment_size: u32,
    context: &str,
    entries: &str,
) -> Result<WebCryptoJob, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(|e| js_error(&e))?;
    let header = crate::header_with_data_key(&dek, message_id, segment_size, context, entries)?;
    let segs = ExternalSegments::for_seal(&header, &dek).map_err(|e| js_error(&e))?;
    Ok(WebCryptoJob {
        inner: Inner::Bare(header.encode(), segs),
    })
}

/// Low level: a `WebCryptoJob` for opening the message whose header starts `header_prefix` with
/// a caller-held data key (checks `require_context` and the key commitment).
#[wasm_bindgen(js_name = prepareOpenWithDataKey)]
pub fn prepare_open_with_data_key(
    header_prefix: &[u8],
    data_key: &[u8],
    require_context: &str,
) -> Result<WebCryptoJob, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(|e| js_error(&e))?;
    let req: EncryptionContext = context_from_json(require_context)?;
    let (header, n) = Header::parse(header_prefix).map_err(|e| js_error(&e))?;
    header.context().require(&req).map_err(|e| js_error(&e))?;
    let segs = ExternalSegments::for_open(&header, &dek).map_err(|e| js_error(&e))?;
    Ok(WebCryptoJob {
        inner: Inner::Bare(header_prefix[..n].to_vec(), segs),
    })
}
