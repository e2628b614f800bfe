//! P-256 for the key-service protocol, pluggable like the transport: the ephemeral recipient key
//! of every `/generate` and `/unwrap` (PROTOCOL.md §6.1: key generation, then ECDH with the
//! answer's `enc`) and the verification of the service's identity signatures (§6.3). The rest
//! of HPKE (key schedule, AES-GCM of 32 bytes) stays in `keyseal_format::hpke_schedule`, so every
//! engine gives byte-identical results. [`RustP256`] is the portable engine (the `p256` crate);
//! the wasm crate adds WebCrypto, which runs the same two scalar multiplications natively.

use alloc::boxed::Box;
use alloc::rc::Rc;

use keyseal_format::ecdsa_p256;
use keyseal_format::hpke_p256::RecipientKeyPair;
use keyseal_format::hpke_schedule::{DH_LEN, PUBLIC_KEY_LEN};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::key_service::LocalBoxFuture;

/// An ephemeral ECDH key pair made by a [`P256Engine`]; its private half never leaves it and is
/// dropped with it.
pub trait EphemeralKey {
    /// The public key, uncompressed SEC1.
    fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN];
    /// `DH(private, peer)`: the x-coordinate of the shared point. An error when `peer` is not a
    /// valid P-256 point (the caller turns it into its own error).
    fn diffie_hellman<'a>(
        &'a self,
        peer: &'a [u8; PUBLIC_KEY_LEN],
    ) -> LocalBoxFuture<'a, Result<Zeroizing<[u8; DH_LEN]>, Error>>;
}

/// P-256 key agreement and signature verification.
pub trait P256Engine {
    /// `wasm` (the `p256` crate compiled in) or the platform's name (`webcrypto`).
    fn name(&self) -> &'static str;
    /// A fresh ephemeral ECDH key pair.
    fn generate(&self) -> LocalBoxFuture<'_, Result<Box<dyn EphemeralKey>, Error>>;
    /// Whether `signature` (`r ‖ s`, 64 bytes) is a valid ECDSA-SHA256 signature of `message`
    /// under `public_sec1`. Any malformed input is `false`.
    fn verify<'a>(
        &'a self,
        public_sec1: &'a [u8],
        message: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool>;
}

/// The portable engine: the RustCrypto `p256` crate (in wasm: the `wasm` engine).
#[derive(Debug, Default, Clone, Copy)]
pub struct RustP256;

struct RustKey {
    pair: RecipientKeyPair,
    public: [u8; PUBLIC_KEY_LEN],
}

impl EphemeralKey for RustKey {
    fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    fn diffie_hellman<'a>(
        &'a self,
        peer: &'a [u8; PUBLIC_KEY_LEN],
    ) -> LocalBoxFuture<'a, Result<Zeroizing<[u8; DH_LEN]>, Error>> {
        Box::pin(async move { Ok(self.pair.diffie_hellman(peer)?) })
    }
}

impl P256Engine for RustP256 {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn generate(&self) -> LocalBoxFuture<'_, Result<Box<dyn EphemeralKey>, Error>> {
        Box::pin(async move {
            let pair = RecipientKeyPair::try_generate()?;
            let public = pair.public_sec1();
            Ok(Box::new(RustKey { pair, public }) as Box<dyn EphemeralKey>)
        })
    }

    fn verify<'a>(
        &'a self,
        public_sec1: &'a [u8],
        message: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move { ecdsa_p256::verify(public_sec1, message, signature).is_ok() })
    }
}

/// The default engine, shared.
pub fn rust_p256() -> Rc<dyn P256Engine> {
    Rc::new(RustP256)
}
