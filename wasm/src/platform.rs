//! The platform AES-256-GCM engines, driven from Rust: WebCrypto (`crypto.subtle`, through
//! web-sys) and node:crypto (the small engine object of js/src/node-cipher.js, given by the Node
//! entry). Plaintext and ciphertext stay JS `Uint8Array`s handed over by handle, so bulk data never
//! enters wasm memory. Which segment is which — boundaries, nonces, the last-segment rule — comes
//! from `keyseal_format::layout` only (FORMAT.md §6).

use std::cell::Cell;

use js_sys::{Array, Promise, Uint8Array};
use keyseal::PayloadKey;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::errors::{coded, has_code};

#[wasm_bindgen]
extern "C" {
    /// The node:crypto engine object (js/src/node-cipher.js): a JS module's own object, which
    /// web-sys cannot describe. Synchronous OpenSSL calls, plus a way to yield to the event loop.
    pub type NodeCipher;
    /// Imports a raw 32-byte key as a `KeyObject`.
    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(this: &NodeCipher, raw: &Uint8Array) -> Result<JsValue, JsValue>;
    /// Seals `data` (ciphertext ‖ tag) into `out` at `offset`.
    #[wasm_bindgen(method, catch, js_name = sealInto)]
    fn seal_into(
        this: &NodeCipher,
        key: &JsValue,
        iv: &Uint8Array,
        data: &Uint8Array,
        out: &Uint8Array,
        offset: f64,
    ) -> Result<(), JsValue>;
    /// Opens `data` (ciphertext ‖ tag) into `out` at `offset`; throws on a bad tag, writing nothing.
    #[wasm_bindgen(method, catch, js_name = openInto)]
    fn open_into(
        this: &NodeCipher,
        key: &JsValue,
        iv: &Uint8Array,
        data: &Uint8Array,
        out: &Uint8Array,
        offset: f64,
    ) -> Result<(), JsValue>;
    /// Resolves after pending I/O has run (`setImmediate`).
    #[wasm_bindgen(method, js_name = yieldToIo)]
    fn yield_to_io(this: &NodeCipher) -> Promise;
    /// A fresh P-256 key pair held by OpenSSL: `{ key, publicKey }`.
    #[wasm_bindgen(method, catch, js_name = ecdhGenerate)]
    pub(crate) fn ecdh_generate(this: &NodeCipher) -> Result<NodeEcdhKey, JsValue>;
    /// `DH(key, peer)`, 32 bytes; throws on an invalid point.
    #[wasm_bindgen(method, catch, js_name = ecdhCompute)]
    pub(crate) fn ecdh_compute(this: &NodeCipher, key: &JsValue, peer: &[u8]) -> Result<Uint8Array, JsValue>;
    /// ECDSA-SHA256 (`r ‖ s`) verification.
    #[wasm_bindgen(method, catch, js_name = ecdsaVerify)]
    pub(crate) fn ecdsa_verify(
        this: &NodeCipher,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue>;

    /// What `ecdhGenerate` returns.
    pub(crate) type NodeEcdhKey;
    /// The node:crypto `ECDH` object.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn key(this: &NodeEcdhKey) -> JsValue;
    /// Its public key, uncompressed SEC1.
    #[wasm_bindgen(method, getter, js_name = publicKey)]
    pub(crate) fn public_key(this: &NodeEcdhKey) -> Uint8Array;
}

/// Segments in flight per message on the WebCrypto engine.
pub(crate) const IN_FLIGHT: usize = 8;
/// The node engine yields to the event loop every this many segments (1 MiB at the default
/// segment size): OpenSSL runs synchronously, so a long chain of segments would otherwise starve
/// concurrent callers' key-service I/O (seen: `/generate` answers waiting 4 s, then `TIMEOUT`).
const YIELD_EVERY: u32 = 16;

/// A platform engine.
pub(crate) enum Platform {
    /// `crypto.subtle`.
    Subtle(SubtleCrypto),
    /// node:crypto.
    Node {
        /// The engine object.
        cipher: NodeCipher,
        /// Segments since the last yield.
        since_yield: Cell<u32>,
    },
}

/// A payload key imported into a platform engine (a non-extractable `CryptoKey`, or a node
/// `KeyObject` held by OpenSSL).
pub(crate) enum PlatformKey {
    Subtle(CryptoKey),
    Node(JsValue),
}

/// One segment operation under way: a WebCrypto promise, or a node result already computed.
pub(crate) enum Pending {
    /// A `crypto.subtle` promise of an `ArrayBuffer`, with a rejection handler attached (so a
    /// failure never surfaces as an unhandled rejection before the window awaits it).
    Subtle(Promise),
    Ready(Result<Uint8Array, JsValue>),
}

thread_local! {
    /// One handler for every segment promise: marks a rejection handled until it is awaited.
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_| {});
}

/// `p` with a rejection handler attached.
fn handled(p: Promise) -> Pending {
    IGNORE.with(|h| {
        let _ = p.catch(h);
    });
    Pending::Subtle(p)
}

fn gcm(nonce: &[u8; 12]) -> AesGcmParams {
    let p = AesGcmParams::new("AES-GCM", &Uint8Array::from(&nonce[..]));
    p.set_tag_length(128);
    p
}

impl Platform {
    /// A node engine over the object the Node entry gives.
    pub(crate) fn node(cipher: NodeCipher) -> Self {
        Self::Node {
            cipher,
            since_yield: Cell::new(0),
        }
    }

    /// `webcrypto` or `node`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Subtle(_) => "webcrypto",
            Self::Node { .. } => "node",
        }
    }

    /// Imports the payload key: its bytes are copied once into a JS-heap array that only the
    /// import sees and that is zero-filled at once (the core's copy zeroizes when dropped).
    pub(crate) async fn import(&self, key: &PayloadKey) -> Result<PlatformKey, JsValue> {
        let raw = Uint8Array::from(&key.expose_secret()[..]);
        let r = match self {
            Self::Subtle(s) => {
                let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
                let alg = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&alg, &"name".into(), &"AES-GCM".into());
                match s.import_key_with_object("raw", &raw, &alg, false, &usages) {
                    Ok(p) => JsFuture::from(p)
                        .await
                        .map(|k| PlatformKey::Subtle(k.unchecked_into())),
                    Err(e) => Err(e),
                }
            }
            Self::Node { cipher, .. } => cipher.import_key(&raw).map(PlatformKey::Node),
        };
        raw.fill(0, 0, raw.length());
        r.map_err(|e| {
            if has_code(&e) {
                e
            } else {
                coded("INTERNAL", "the platform refused the payload key")
            }
        })
    }

    /// Starts sealing one segment (`data`: its plaintext).
    pub(crate) fn seal(&self, key: &PlatformKey, nonce: &[u8; 12], data: &Uint8Array) -> Pending {
        match (self, key) {
            (Self::Subtle(s), PlatformKey::Subtle(k)) => {
                match s.encrypt_with_object_and_js_u8_array(&gcm(nonce), k, data) {
                    Ok(p) => handled(p),
                    Err(e) => Pending::Ready(Err(e)),
                }
            }
            (Self::Node { cipher, .. }, PlatformKey::Node(k)) => {
                let out = Uint8Array::new_with_length(data.length() + 16);
                let iv = Uint8Array::from(&nonce[..]);
                Pending::Ready(cipher.seal_into(k, &iv, data, &out, 0.0).map(|()| out))
            }
            _ => Pending::Ready(Err(coded("INTERNAL", "key of another engine"))),
        }
    }

    /// Starts opening one segment (`data`: ciphertext ‖ tag).
    pub(crate) fn open(&self, key: &PlatformKey, nonce: &[u8; 12], data: &Uint8Array) -> Pending {
        match (self, key) {
            (Self::Subtle(s), PlatformKey::Subtle(k)) => {
                match s.decrypt_with_object_and_js_u8_array(&gcm(nonce), k, data) {
                    Ok(p) => handled(p),
                    Err(e) => Pending::Ready(Err(e)),
                }
            }
            (Self::Node { cipher, .. }, PlatformKey::Node(k)) => {
                let n = data.length().saturating_sub(16);
                let out = Uint8Array::new_with_length(n);
                let iv = Uint8Array::from(&nonce[..]);
                Pending::Ready(cipher.open_into(k, &iv, data, &out, 0.0).map(|()| out))
            }
            _ => Pending::Ready(Err(coded("INTERNAL", "key of another engine"))),
        }
    }

    /// Whether [`Self::direct`] works (node: one copy fewer for whole
    /// messages).
    pub(crate) fn direct_supported(&self) -> bool {
        matches!(self, Self::Node { .. })
    }

    /// Seals (`seal`) or opens one segment straight into `out` at `offset` when the engine can
    /// (node), else `None` and the caller uses the engine's copying calls.
    pub(crate) fn direct(
        &self,
        key: &PlatformKey,
        seal: bool,
        nonce: &[u8; 12],
        data: &Uint8Array,
        out: &Uint8Array,
        offset: u64,
    ) -> Option<Result<(), JsValue>> {
        match (self, key) {
            (Self::Node { cipher, .. }, PlatformKey::Node(k)) => {
                let iv = Uint8Array::from(&nonce[..]);
                Some(if seal {
                    cipher.seal_into(k, &iv, data, out, offset as f64)
                } else {
                    cipher.open_into(k, &iv, data, out, offset as f64)
                })
            }
            _ => None,
        }
    }

    /// Between segments: the node engine yields to the event loop every [`YIELD_EVERY`]
    /// segments; WebCrypto never needs to (its work is off the thread).
    pub(crate) async fn fair(&self) {
        if let Self::Node { cipher, since_yield } = self {
            let n = since_yield.get() + 1;
            if n >= YIELD_EVERY {
                since_yield.set(0);
                let _ = JsFuture::from(cipher.yield_to_io()).await;
            } else {
                since_yield.set(n);
            }
        }
    }
}
