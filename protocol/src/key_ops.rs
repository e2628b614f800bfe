//! §3.2–§3.5.1: the key operations (and §3.2.1, the optional `/generate-batch`). Unknown request members are ignored (§2), so these structs
//! do not deny unknown fields.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::bytes::{Bytes, SecretBytes};
use crate::context::WireContext;
use crate::hpke::{Recipient, SealedKey};
use crate::token::Token;

/// §3.2 `POST /generate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The key, `tenant/name`.
    pub key_id: String,
    /// The encryption context bound into the wrapped key.
    pub context: WireContext,
    /// Where to seal the new data key (§6.1); without it the key comes back in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// The caller's token (§4); may come as `Authorization: Bearer` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The most contexts one `/generate-batch` may carry (§3.2.1).
pub const MAX_GENERATE_BATCH: usize = 100;

/// §3.2.1 `POST /generate-batch` (OPTIONAL): one data key per context, all under `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateBatchRequest {
    /// The key, `tenant/name`.
    pub key_id: String,
    /// One context per data key, 1 to [`MAX_GENERATE_BATCH`].
    pub contexts: Vec<WireContext>,
    /// Where to seal the data keys (§6.1): REQUIRED here.
    pub recipient: Recipient,
    /// The caller's token (§4); may come as `Authorization: Bearer` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One data key of a `/generate-batch` answer (§3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedItem {
    /// The wrapped key, bound to its context.
    pub wrapped_key: Bytes,
    /// The data key sealed in the batch's HPKE context: message `i` of the answer's `enc`.
    pub ciphertext: Bytes,
}

/// The answer of `/generate-batch` (§3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateBatchAnswer {
    /// The key.
    pub key_id: String,
    /// The version every item is wrapped under.
    pub key_version: u32,
    /// The HPKE encapsulation of the batch (one for all items).
    pub enc: Bytes,
    /// One item per context, in order.
    pub items: Vec<GeneratedItem>,
    /// The service identity's signature of the batch statement (§6.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_signature: Option<Bytes>,
}

/// §3.3 `POST /wrap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapRequest {
    /// The key, `tenant/name`.
    pub key_id: String,
    /// The data key to wrap (32 bytes).
    pub key: SecretBytes,
    /// The encryption context bound into the wrapped key.
    pub context: WireContext,
    /// The caller's token (§4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// §3.4 `POST /unwrap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnwrapRequest {
    /// The key the wrapped key was made with.
    pub key_id: String,
    /// `kms` (default) or `hpke-p256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The wrapped key.
    pub wrapped_key: Bytes,
    /// The encryption context it must be bound to.
    pub context: WireContext,
    /// Where to seal the data key (§6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// The caller's token (§4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// §3.5 `POST /rewrap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapRequest {
    /// The question (shared with one item of `/rewrap-batch`).
    #[serde(flatten)]
    pub item: RewrapItem,
    /// The caller's token (§4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One rewrap question: the members of §3.5 without token and reason (also one item of §3.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapItem {
    /// The key the wrapped key was made with.
    pub key_id: String,
    /// `kms` (default) or `hpke-p256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The wrapped key.
    pub wrapped_key: Bytes,
    /// The encryption context it is bound to (and stays bound to).
    pub context: WireContext,
    /// The key to re-wrap under (default `key_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_key_id: Option<String>,
}

/// §3.5.1 `POST /rewrap-batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapBatchRequest {
    /// 1 … [`crate::MAX_REWRAP_BATCH`] questions.
    pub items: Vec<RewrapItem>,
    /// The caller's token (§4), checked once for the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
    /// Free text for the audit log, recorded with every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of a key operation (§3.2–§3.5): which members are present depends on the operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyAnswer {
    /// The key that was used or now wraps the data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key version used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
    /// The wrapped key (generate, wrap, rewrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<Bytes>,
    /// The data key sealed to the request's recipient (generate, unwrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<SealedKey>,
    /// The data key in clear, only when no recipient was sent (generate, unwrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SecretBytes>,
    /// The service identity's signature of the answer statement (§6.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_signature: Option<Bytes>,
}

/// One result of `/rewrap-batch` (§3.5.1): the `/rewrap` answer or that item's error. On the wire
/// an item with an `error` member is a refusal, any other a rewrap answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BatchItemAnswer {
    /// The item was refused: the error name and message `/rewrap` would have answered (§5).
    Refused {
        /// The stable error name.
        error: String,
        /// For humans.
        message: String,
    },
    /// The item was rewrapped.
    Rewrapped(KeyAnswer),
}

/// Every member either shape of [`BatchItemAnswer`] may have (a plain struct instead of serde's
/// untagged enums, which buffer every value and weigh on the wasm).
#[derive(Deserialize)]
struct BatchItemWire {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    key_version: Option<u32>,
    #[serde(default)]
    wrapped_key: Option<Bytes>,
}

impl<'de> Deserialize<'de> for BatchItemAnswer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = BatchItemWire::deserialize(d)?;
        Ok(match w.error {
            Some(error) => BatchItemAnswer::Refused {
                error,
                message: w.message.unwrap_or_default(),
            },
            None => BatchItemAnswer::Rewrapped(KeyAnswer {
                key_id: w.key_id,
                key_version: w.key_version,
                wrapped_key: w.wrapped_key,
                ..KeyAnswer::default()
            }),
        })
    }
}

/// The answer of `/rewrap-batch` (§3.5.1): one result per item, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapBatchAnswer {
    /// The results.
    pub items: Vec<BatchItemAnswer>,
    /// The service identity's signature of the batch statement (§6.3): one for the whole batch;
    /// the items carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_signature: Option<Bytes>,
}
