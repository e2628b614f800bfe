//! P-256 on the platform: the recipient key of each key-service call made and used by the
//! platform's ECDH, and identity signatures checked by its ECDSA — node:crypto (OpenSSL,
//! synchronous) in the Node entry (Node, Bun), WebCrypto wherever else `crypto.subtle` exists
//! (browsers, workers, Deno, workerd). The HPKE key
//! schedule stays in Rust (`keyseal_format::hpke_schedule`), so results are byte-identical to the
//! `wasm` engine. In `auto`, the first platform failure to make a key switches the instance to
//! the `wasm` engine for good (a runtime without ECDH); a failure to verify falls back per call.

use std::cell::Cell;

use crate::platform::NodeCipher;
use js_sys::{Array, Uint8Array};
use keyseal::format::hpke_schedule::{DH_LEN, PUBLIC_KEY_LEN};
use keyseal::key_service::LocalBoxFuture;
use keyseal::{EphemeralKey, Error, KeyServiceErrorKind, P256Engine, RustP256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CryptoKey, CryptoKeyPair, EcKeyGenParams, EcKeyImportParams, EcdhKeyDeriveParams, SubtleCrypto,
};
use zeroize::Zeroizing;

/// Which P-256 engine (`options.p256`).
#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum P256Option {
    /// WebCrypto where it exists, else the wasm engine.
    #[default]
    Auto,
    /// The `p256` crate compiled into the wasm.
    Wasm,
    /// WebCrypto only (an error where it is missing).
    Webcrypto,
    /// node:crypto only (the Node entry).
    Node,
}

/// Where the platform's P-256 runs.
enum Backend {
    Subtle(SubtleCrypto),
    Node(NodeCipher),
}

/// The platform's P-256.
pub(crate) struct PlatformP256 {
    backend: Backend,
    /// `auto`: fall back to the wasm engine.
    fallback: bool,
    /// Set once the platform failed to make a key (with `fallback`).
    failed: Cell<bool>,
}

fn ecdh_failed() -> Error {
    Error::key_service(KeyServiceErrorKind::Protocol, "the platform's ECDH failed")
}

fn public_of(raw: &JsValue) -> Option<[u8; PUBLIC_KEY_LEN]> {
    let raw = Uint8Array::new(raw);
    let mut out = [0u8; PUBLIC_KEY_LEN];
    (raw.length() as usize == PUBLIC_KEY_LEN).then(|| {
        raw.copy_to(&mut out);
        out
    })
}

fn named(name: &str) -> EcKeyImportParams {
    let params = EcKeyImportParams::new(name);
    params.set_named_curve("P-256");
    params
}

impl PlatformP256 {
    fn new(backend: Backend, fallback: bool) -> Self {
        Self {
            backend,
            fallback,
            failed: Cell::new(false),
        }
    }

    async fn generate_platform(&self) -> Result<Box<dyn EphemeralKey>, JsValue> {
        let subtle = match &self.backend {
            Backend::Subtle(s) => s,
            Backend::Node(n) => {
                let k = n.ecdh_generate()?;
                let public = public_of(&k.public_key())
                    .ok_or_else(|| JsValue::from_str("public key of the wrong length"))?;
                return Ok(Box::new(NodeKey {
                    cipher: JsValue::from(n).unchecked_into(),
                    key: k.key(),
                    public,
                }));
            }
        };
        let params = EcKeyGenParams::new("ECDH", "P-256");
        let usages = Array::of1(&"deriveBits".into());
        let pair: CryptoKeyPair = JsFuture::from(subtle.generate_key_with_object(&params, false, &usages)?)
            .await?
            .unchecked_into();
        let raw = JsFuture::from(subtle.export_key("raw", &pair.get_public_key())?).await?;
        let public = public_of(&raw).ok_or_else(|| JsValue::from_str("public key of the wrong length"))?;
        Ok(Box::new(WebKey {
            subtle: subtle.clone(),
            private: pair.get_private_key(),
            public,
        }))
    }

    async fn verify_platform(
        &self,
        public_sec1: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue> {
        let subtle = match &self.backend {
            Backend::Subtle(s) => s,
            Backend::Node(n) => return n.ecdsa_verify(public_sec1, message, signature),
        };
        let key = crate::signing::verifying_key(subtle, public_sec1).await?;
        let ok = JsFuture::from(subtle.verify_with_object_and_u8_array_and_u8_array(
            &crate::signing::ecdsa(),
            &key,
            signature,
            message,
        )?)
        .await?;
        Ok(ok.as_bool() == Some(true))
    }
}

/// A recipient key pair held by WebCrypto: the private key is not extractable.
struct WebKey {
    subtle: SubtleCrypto,
    private: CryptoKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl WebKey {
    async fn dh(&self, peer: &[u8; PUBLIC_KEY_LEN]) -> Result<Zeroizing<[u8; DH_LEN]>, JsValue> {
        let peer: CryptoKey = JsFuture::from(self.subtle.import_key_with_object(
            "raw",
            &Uint8Array::from(&peer[..]),
            &named("ECDH"),
            true,
            &Array::new(),
        )?)
        .await?
        .unchecked_into();
        let params = EcdhKeyDeriveParams::new("ECDH", &peer);
        let bits = JsFuture::from(self.subtle.derive_bits_with_object(&params, &self.private, 256)?).await?;
        copy_secret(&Uint8Array::new(&bits))
    }
}

/// A recipient key pair held by OpenSSL (a node:crypto `ECDH` object).
struct NodeKey {
    cipher: NodeCipher,
    key: JsValue,
    public: [u8; PUBLIC_KEY_LEN],
}

impl EphemeralKey for NodeKey {
    fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    fn diffie_hellman<'a>(
        &'a self,
        peer: &'a [u8; PUBLIC_KEY_LEN],
    ) -> LocalBoxFuture<'a, Result<Zeroizing<[u8; DH_LEN]>, Error>> {
        Box::pin(async move {
            let bits = self
                .cipher
                .ecdh_compute(&self.key, peer)
                .map_err(|_| ecdh_failed())?;
            copy_secret(&bits).map_err(|_| ecdh_failed())
        })
    }
}

/// The 32 bytes of a platform's shared secret, its JS copy overwritten.
fn copy_secret(bits: &Uint8Array) -> Result<Zeroizing<[u8; DH_LEN]>, JsValue> {
    let mut out = Zeroizing::new([0u8; DH_LEN]);
    if bits.length() as usize != DH_LEN {
        return Err(JsValue::from_str("shared secret of the wrong length"));
    }
    bits.copy_to(out.as_mut());
    bits.fill(0, 0, DH_LEN as u32);
    Ok(out)
}

impl EphemeralKey for WebKey {
    fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    fn diffie_hellman<'a>(
        &'a self,
        peer: &'a [u8; PUBLIC_KEY_LEN],
    ) -> LocalBoxFuture<'a, Result<Zeroizing<[u8; DH_LEN]>, Error>> {
        Box::pin(async move { self.dh(peer).await.map_err(|_| ecdh_failed()) })
    }
}

impl P256Engine for PlatformP256 {
    fn name(&self) -> &'static str {
        match (&self.backend, self.failed.get()) {
            (_, true) => "wasm",
            (Backend::Subtle(_), false) => "webcrypto",
            (Backend::Node(_), false) => "node",
        }
    }

    fn generate(&self) -> LocalBoxFuture<'_, Result<Box<dyn EphemeralKey>, Error>> {
        Box::pin(async move {
            if !self.failed.get() {
                match self.generate_platform().await {
                    Ok(k) => return Ok(k),
                    Err(_) if self.fallback => self.failed.set(true),
                    Err(_) => return Err(ecdh_failed()),
                }
            }
            RustP256.generate().await
        })
    }

    fn verify<'a>(
        &'a self,
        public_sec1: &'a [u8],
        message: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            if !self.failed.get() {
                match self.verify_platform(public_sec1, message, signature).await {
                    Ok(ok) => return ok,
                    // malformed input, or a platform without ECDSA P-256: the wasm engine decides
                    Err(_) if self.fallback => {}
                    Err(_) => return false,
                }
            }
            RustP256.verify(public_sec1, message, signature).await
        })
    }
}

/// The engine `options.p256` asks for (`None`: the wasm engine). `auto` prefers node:crypto (the
/// Node entry), then WebCrypto.
pub(crate) fn engine_for(
    choice: P256Option,
    subtle: Option<SubtleCrypto>,
    node: Option<NodeCipher>,
) -> Result<Option<PlatformP256>, JsValue> {
    let missing = |what: &str| crate::errors::invalid_value("options.p256", what);
    Ok(match choice {
        P256Option::Wasm => None,
        P256Option::Auto => node
            .map(Backend::Node)
            .or_else(|| subtle.map(Backend::Subtle))
            .map(|b| PlatformP256::new(b, true)),
        P256Option::Webcrypto => Some(PlatformP256::new(
            Backend::Subtle(
                subtle.ok_or_else(|| missing("'webcrypto' needs crypto.subtle, which this runtime lacks"))?,
            ),
            false,
        )),
        P256Option::Node => Some(PlatformP256::new(
            Backend::Node(
                node.ok_or_else(|| missing("'node' needs node:crypto (the package's node entry)"))?,
            ),
            false,
        )),
    })
}
