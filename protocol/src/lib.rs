#![doc = include_str!("../README.md")]
//! Secrets on the wire (a data key in `/wrap`, a plaintext `key` answer) are [`SecretBytes`], and
//! tokens are [`Token`]: both zeroize and neither prints in `Debug`.
#![no_std]

extern crate alloc;

pub mod admin;
pub mod bytes;
pub mod context;
pub mod errors;
pub mod hpke;
pub mod identity;
pub mod key_ops;
pub mod kms_layout;
pub mod public_key;
pub mod status;
pub mod token;

pub use bytes::{Bytes, SecretBytes};
pub use context::WireContext;
pub use errors::{ErrorBody, ErrorName};
pub use hpke::{Recipient, SealedKey, Suite};
pub use key_ops::{
    BatchItemAnswer, GenerateBatchAnswer, GenerateBatchRequest, GenerateRequest, GeneratedItem, KeyAnswer,
    MAX_GENERATE_BATCH, RewrapBatchAnswer, RewrapBatchRequest, RewrapItem, RewrapRequest, UnwrapRequest,
    WrapRequest,
};
pub use public_key::PublicKeyJwk;
pub use status::{HealthAnswer, StatusAnswer};
pub use token::Token;

/// The protocol version served under `/v1` (§12).
pub const PROTOCOL_VERSION: &str = "1";
/// Most items in one `POST /rewrap-batch` (§3.5.1).
pub const MAX_REWRAP_BATCH: usize = 1000;
/// Longest `reason` a service keeps in its audit log (§3; longer ones are truncated).
pub const MAX_REASON_LEN: usize = 512;
