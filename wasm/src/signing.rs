//! Signed messages (FORMAT.md §6.5) on the platform: ECDSA P-256 keys, signatures and
//! verification through WebCrypto, and the SHA-256 of each sealed segment for the signature
//! chain, so that bulk data stays out of wasm memory. Signatures are `r ‖ s` (IEEE P1363), as the
//! format's Rust ECDSA makes and checks them: the two verify each other.

use js_sys::{Array, Uint8Array};
use keyseal::format::ecdsa_p256::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use keyseal::format::signature::SignatureChain;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, CryptoKeyPair, EcKeyGenParams, EcKeyImportParams, EcdsaParams, SubtleCrypto};

use crate::errors::coded;

fn platform_error(_: JsValue) -> JsValue {
    coded("INTERNAL", "the platform's ECDSA or SHA-256 failed")
}

/// ECDSA with SHA-256, as both the format's signatures and the service identity use it.
pub(crate) fn ecdsa() -> EcdsaParams {
    EcdsaParams::new("ECDSA", &"SHA-256".into())
}

/// A signed message's key pair, made by WebCrypto: the private key is not extractable and is
/// dropped with this value once the signature is appended.
pub(crate) struct WebSigner {
    private: CryptoKey,
    public_sec1: [u8; PUBLIC_KEY_LEN],
}

impl WebSigner {
    pub(crate) async fn generate(subtle: &SubtleCrypto) -> Result<Self, JsValue> {
        let params = EcKeyGenParams::new("ECDSA", "P-256");
        let usages = Array::of1(&"sign".into());
        let pair: CryptoKeyPair = JsFuture::from(subtle.generate_key_with_object(&params, false, &usages)?)
            .await
            .map_err(platform_error)?
            .unchecked_into();
        let raw = JsFuture::from(subtle.export_key("raw", &pair.get_public_key())?)
            .await
            .map_err(platform_error)?;
        let raw = Uint8Array::new(&raw);
        let mut public_sec1 = [0u8; PUBLIC_KEY_LEN];
        if raw.length() as usize != PUBLIC_KEY_LEN {
            return Err(coded(
                "INTERNAL",
                "the platform exported a public key of the wrong length",
            ));
        }
        raw.copy_to(&mut public_sec1);
        Ok(Self {
            private: pair.get_private_key(),
            public_sec1,
        })
    }

    /// The verification key for the header (FORMAT.md §3.4).
    pub(crate) fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public_sec1
    }

    /// The signature of the chain's statement.
    pub(crate) async fn sign(
        &self,
        subtle: &SubtleCrypto,
        chain: &SignatureChain,
    ) -> Result<Uint8Array, JsValue> {
        let statement = Uint8Array::from(&chain.statement()[..]);
        let sig =
            JsFuture::from(subtle.sign_with_object_and_js_u8_array(&ecdsa(), &self.private, &statement)?)
                .await
                .map_err(platform_error)?;
        let sig = Uint8Array::new(&sig);
        if sig.length() as usize != SIGNATURE_LEN {
            return Err(coded(
                "INTERNAL",
                "the platform made a signature of the wrong length",
            ));
        }
        Ok(sig)
    }
}

/// An ECDSA P-256 public key (uncompressed SEC1) imported for `verify`; the platform's error as is.
pub(crate) async fn verifying_key(subtle: &SubtleCrypto, public_sec1: &[u8]) -> Result<CryptoKey, JsValue> {
    let params = EcKeyImportParams::new("ECDSA");
    params.set_named_curve("P-256");
    let usages = Array::of1(&"verify".into());
    let raw = Uint8Array::from(public_sec1);
    Ok(
        JsFuture::from(subtle.import_key_with_object("raw", &raw, &params, false, &usages)?)
            .await?
            .unchecked_into(),
    )
}

/// Whether `signature` verifies over the chain's statement under `verification_key`.
pub(crate) async fn verify(
    subtle: &SubtleCrypto,
    verification_key: &[u8; PUBLIC_KEY_LEN],
    chain: &SignatureChain,
    signature: &Uint8Array,
) -> Result<bool, JsValue> {
    let key = verifying_key(subtle, verification_key)
        .await
        .map_err(platform_error)?;
    let statement = Uint8Array::from(&chain.statement()[..]);
    let ok = JsFuture::from(subtle.verify_with_object_and_js_u8_array_and_js_u8_array(
        &ecdsa(),
        &key,
        signature,
        &statement,
    )?)
    .await
    .map_err(platform_error)?;
    Ok(ok.as_bool() == Some(true))
}

/// SHA-256 of a sealed segment, by the platform.
pub(crate) async fn sha256(subtle: &SubtleCrypto, data: &Uint8Array) -> Result<[u8; 32], JsValue> {
    let d = JsFuture::from(subtle.digest_with_str_and_js_u8_array("SHA-256", data)?)
        .await
        .map_err(platform_error)?;
    let mut out = [0u8; 32];
    Uint8Array::new(&d).copy_to(&mut out);
    Ok(out)
}

/// A signature chain fed by platform digests, segment by segment in order.
pub(crate) struct PlatformChain {
    pub subtle: SubtleCrypto,
    pub chain: SignatureChain,
}

impl PlatformChain {
    /// Absorbs the next sealed segment.
    pub(crate) async fn absorb(&mut self, sealed_segment: &Uint8Array) -> Result<(), JsValue> {
        let d = sha256(&self.subtle, sealed_segment).await?;
        self.chain.absorb_digest(&d);
        Ok(())
    }
}
