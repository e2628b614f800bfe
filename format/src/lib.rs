#![doc = include_str!("../README.md")]
#![no_std]

extern crate alloc;

pub mod context;
pub mod data_key;
pub mod ecdsa_p256;
pub mod engine;
pub mod entry;
mod error;
pub mod header;
pub mod hpke_p256;
pub mod hpke_schedule;
pub mod key_schedule;
pub mod layout;
pub mod limits;
pub mod message;
pub mod range;
pub mod segment;
pub mod signature;

pub use context::EncryptionContext;
pub use data_key::{DataKey, PayloadKey};
pub use engine::{AeadEngine, RustCryptoEngine, SegmentCipher};
pub use entry::{EntryKind, WrappedKeyEntry};
pub use error::Error;
pub use header::{Header, HeaderLength, MessageId, Suite};
pub use layout::{BodyLayout, Segment, SegmentCutter, SegmentId, TAG_LEN};
pub use message::{
    Rewrapped, new_header, new_signed_header, open, open_body, rewrap, seal, seal_signed, signed_context,
};
pub use range::{RangePlan, plan_range};
pub use segment::{ExternalSegments, SegmentOpener, SegmentSealer};
