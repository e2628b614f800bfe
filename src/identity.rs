//! Service identity on the client side (PROTOCOL.md §6.3): with a key service's identity key
//! pinned in the configuration, every answer and public key the client uses must carry a valid
//! signature by it, so whoever answers in the service's place (an active TLS-terminating proxy)
//! cannot hand this client a data key, a wrapped key or a public key of its own.

use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;

use keyseal_format::ecdsa_p256;
use keyseal_protocol::identity::{AnswerFacts, BatchStatement, public_key_statement};
use keyseal_protocol::{Bytes, KeyAnswer};

use crate::error::{Error, KeyServiceErrorKind};
use crate::p256_engine::P256Engine;

/// A pinned identity public key (uncompressed SEC1), checked by a P-256 engine.
pub(crate) struct PinnedIdentity {
    public_sec1: Vec<u8>,
    engine: Rc<dyn P256Engine>,
}

fn mismatch(what: &str) -> Error {
    Error::key_service(
        KeyServiceErrorKind::IdentityMismatch,
        format!("{what} is not signed by the pinned key-service identity"),
    )
}

impl PinnedIdentity {
    /// Checks the key: an uncompressed SEC1 P-256 point.
    pub(crate) fn new(public_sec1: Vec<u8>, engine: Rc<dyn P256Engine>) -> Result<Self, Error> {
        ecdsa_p256::check_public_key(&public_sec1)
            .map_err(|_| Error::invalid("identity must be a 65-byte uncompressed SEC1 P-256 public key"))?;
        Ok(Self { public_sec1, engine })
    }

    /// Uses `engine` for the signature checks from now on.
    pub(crate) fn set_engine(&mut self, engine: Rc<dyn P256Engine>) {
        self.engine = engine;
    }

    async fn verify(&self, statement: &[u8], signature: Option<&Bytes>, what: &str) -> Result<(), Error> {
        let sig = signature.ok_or_else(|| mismatch(what))?;
        if self.engine.verify(&self.public_sec1, statement, &sig.0).await {
            Ok(())
        } else {
            Err(mismatch(what))
        }
    }

    /// Verifies a key-operation answer: `request` holds what the client asked (op, key ids,
    /// context, recipient, wrapped key in); the rest comes from the answer itself.
    pub(crate) async fn check_answer(&self, request: AnswerFacts<'_>, a: &KeyAnswer) -> Result<(), Error> {
        self.verify(
            &answer_statement(request, a),
            a.identity_signature.as_ref(),
            request.op,
        )
        .await
    }

    /// Verifies the one signature of a `/rewrap-batch` answer over its batch statement.
    pub(crate) async fn check_batch(
        &self,
        statement: BatchStatement,
        signature: Option<&Bytes>,
    ) -> Result<(), Error> {
        self.verify(&statement.into_bytes(), signature, "the batch answer")
            .await
    }

    /// Verifies a public key for offline wraps (§3.6).
    pub(crate) async fn check_public_key(
        &self,
        key_id: &str,
        version: u32,
        public_sec1: &[u8],
        signature: Option<&Bytes>,
    ) -> Result<(), Error> {
        self.verify(
            &public_key_statement(key_id, version, public_sec1),
            signature,
            "the public key",
        )
        .await
    }
}

/// The answer statement (§6.3) of answer `a` to the request described by `request`.
pub(crate) fn answer_statement(request: AnswerFacts<'_>, a: &KeyAnswer) -> Vec<u8> {
    let sealed = a.sealed_key.as_ref();
    AnswerFacts {
        wrapped_out: a.wrapped_key.as_ref().map_or(&[][..], |w| &w.0),
        key_version: a.key_version.unwrap_or(0),
        enc: sealed.map_or(&[][..], |s| &s.enc.0),
        ciphertext: sealed.map_or(&[][..], |s| &s.ciphertext.0),
        ..request
    }
    .statement()
}
