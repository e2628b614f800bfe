#![doc = include_str!("../README.md")]
#![no_std]

extern crate alloc;

pub mod cache;
pub mod client;
pub mod context;
pub mod data_key;
pub mod engine;
mod error;
pub mod events;
pub mod header;
pub mod hpke_p256;
pub mod key_schedule;
pub mod key_service;
pub mod limits;
pub mod message;
pub mod protocol;
mod race;
mod rewrap_memo;
pub mod sdk;
pub mod segment;
pub mod stream;
pub mod transport;

pub use cache::CacheConfig;
pub use client::{KmsClient, KmsClientConfig, RetryPolicy};
pub use context::EncryptionContext;
pub use data_key::{DataKey, PayloadKey};
pub use engine::{AeadEngine, RustCryptoEngine, SegmentCipher};
pub use error::{Error, KeyServiceErrorKind};
pub use events::{Event, MetricsSnapshot, Observer};
pub use header::{EntryKind, Header, HeaderLength, MessageId, WrappedKeyEntry};
pub use key_service::{
    GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo, RewrapAnswers, RewrapQuestion, rewrap_one_by_one,
};
pub use message::{Rewrapped, new_header, open, open_body, rewrap, seal};
pub use sdk::{HeaderInfo, KeySeal, KeySealConfig, ServiceBinding, WrapMode, entry_key_version, inspect};
pub use segment::{BodyLayout, ExternalSegments, SegmentOpener, SegmentSealer};
pub use stream::{DecryptStream, EncryptStream, ExternalJob, RangePlan, plan_range};
pub use transport::{
    Clock, HttpRequest, HttpResponse, HttpTransport, TokenRequest, TokenSource, TransportError,
};
