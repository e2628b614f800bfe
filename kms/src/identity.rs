//! The service identity (docs/PROTOCOL.md §6.3): one long-term ECDSA P-256 key per service,
//! stored sealed under the master key ([`Store::identity_secret`]). It signs the answer statement
//! of every key operation and the public-key statement of every JWK; clients pin its public key,
//! which `keyseal-kms identity show` prints and `/status` reports.
//!
//! The secret scalar lives only inside the signing key (zeroized on drop); nothing here prints it.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use keyseal_format::ecdsa_p256::{PUBLIC_KEY_LEN, SignatureKeyPair};
use keyseal_protocol::Bytes;
use keyseal_protocol::identity::public_key_statement;
use serde::Serialize;

use crate::auth;
use crate::crypto::b64;
use crate::error::{Error, Result};
use crate::store::Store;

/// The service's identity key.
pub struct Identity {
    /// The signing key in aws-lc-rs (ECDSA P-256 / SHA-256, `r ‖ s`): one signature per answer,
    /// so its speed is the service's (docs/DESIGN.md "Sealed answers at speed").
    signer: EcdsaKeyPair,
    rng: SystemRandom,
    public: [u8; PUBLIC_KEY_LEN],
}

/// The identity public key as an RFC 7517 JWK (`keyseal-kms identity show --format jwk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityJwk {
    /// `EC`.
    pub kty: &'static str,
    /// `P-256`.
    pub crv: &'static str,
    /// base64url (no padding) of the x coordinate.
    pub x: String,
    /// base64url (no padding) of the y coordinate.
    pub y: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// `ES256`.
    pub alg: &'static str,
    /// First 16 hex digits of SHA-256 of the SEC1 public key.
    pub kid: String,
}

impl Identity {
    /// The identity key of `store`. With `create`, a database without one (new, or made before
    /// identity keys) gets one; without, its absence is an error naming the commands that make it.
    pub fn open(store: &Store, create: bool) -> Result<Identity> {
        let secret = store.identity_secret(create)?.ok_or_else(|| {
            Error::InvalidRequest(
                "this database has no identity key yet: run `keyseal-kms init` or `keyseal-kms serve`".into(),
            )
        })?;
        let bad = || Error::Internal("the stored identity key is not a P-256 private key".into());
        let public = SignatureKeyPair::from_secret_scalar(&secret)
            .map_err(|_| bad())?
            .public_sec1();
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            secret.as_ref(),
            &public,
        )
        .map_err(|_| bad())?;
        Ok(Identity {
            signer,
            rng: SystemRandom::new(),
            public,
        })
    }

    /// The public key, uncompressed SEC1 (65 bytes): what clients pin.
    pub fn public_sec1(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// The public key as standard base64 (`identity show`, `/status`, the `serve` line).
    pub fn public_base64(&self) -> String {
        b64::enc(&self.public)
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Result<IdentityJwk> {
        let (x, y) = auth::ec_jwk_xy(&self.public)?;
        Ok(IdentityJwk {
            kty: "EC",
            crv: "P-256",
            x,
            y,
            use_: "sig",
            alg: "ES256",
            kid: auth::kid_of(&self.public),
        })
    }

    /// §6.3: the signature of an answer or batch statement (64 bytes `r ‖ s`).
    pub fn sign_statement(&self, statement: &[u8]) -> Bytes {
        self.sign(statement)
    }

    /// ECDSA P-256 over SHA-256 of `message`, `r ‖ s`. Signing fails only without randomness,
    /// which leaves the service nothing sound to do.
    fn sign(&self, message: &[u8]) -> Bytes {
        #[allow(clippy::expect_used)]
        let sig = self
            .signer
            .sign(&self.rng, message)
            .expect("the system has no randomness for an ECDSA signature");
        Bytes(sig.as_ref().to_vec())
    }

    /// §6.3: the signature of the public-key statement of version `version` of `key_id`.
    pub fn sign_public_key(&self, key_id: &str, version: u32, public_sec1: &[u8]) -> Bytes {
        self.sign(&public_key_statement(key_id, version, public_sec1))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(public {})", self.public_base64())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use keyseal_format::ecdsa_p256::verify;
    use keyseal_protocol::identity::AnswerFacts;
    use zeroize::Zeroizing;

    use super::*;

    #[test]
    fn created_once_then_reopened_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("id.db");
        let store = Store::open(&db, Zeroizing::new([3u8; 32])).unwrap();
        let e = Identity::open(&store, false).unwrap_err();
        assert!(e.message().contains("keyseal-kms init"), "{e}");
        let id = Identity::open(&store, true).unwrap();
        let again = Identity::open(&store, false).unwrap();
        assert_eq!(id.public_sec1(), again.public_sec1());
        let secret = store.identity_secret(false).unwrap().unwrap();
        let shown = format!("{id:?}");
        assert!(shown.contains(&id.public_base64()), "{shown}");
        assert!(!shown.contains(&b64::enc(secret.as_ref())), "{shown}");

        let facts = AnswerFacts {
            op: "wrap",
            key_id: "acme/default",
            to_key_id: "acme/default",
            key_version: 1,
            wrapped_out: b"wrapped",
            ..AnswerFacts::default()
        };
        let sig = id.sign_statement(&facts.statement());
        verify(id.public_sec1(), &facts.statement(), &sig.0).unwrap();
        let sig = id.sign_public_key("acme/default", 2, &[4u8; 65]);
        verify(
            id.public_sec1(),
            &public_key_statement("acme/default", 2, &[4u8; 65]),
            &sig.0,
        )
        .unwrap();
        let jwk = id.jwk().unwrap();
        assert_eq!((jwk.use_, jwk.alg), ("sig", "ES256"));
    }
}
