#![doc = include_str!("../README.md")]
#![no_std]

extern crate alloc;

pub mod context;
pub mod data_key;
pub mod engine;
mod error;
pub mod header;
pub mod hpke_p256;
pub mod key_schedule;
pub mod key_service;
pub mod limits;
pub mod message;
pub mod segment;

pub use context::EncryptionContext;
pub use data_key::{DataKey, PayloadKey};
pub use engine::{AeadEngine, RustCryptoEngine, SegmentCipher};
pub use error::{Error, KeyServiceErrorKind};
pub use header::{EntryKind, Header, HeaderLength, MessageId, WrappedKeyEntry};
pub use key_service::{GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo};
pub use message::{Rewrapped, new_header, open, open_body, rewrap, seal};
pub use segment::{BodyLayout, SegmentOpener, SegmentSealer};
