#![doc = include_str!("../README.md")]
#![no_std]

extern crate alloc;

mod attempt;
pub mod aws_kms;
mod breaker;
pub mod cache;
pub mod data_keys;
pub mod decrypt_policy;
mod endpoints;
mod error;
pub mod events;
pub mod external;
mod generate_queue;
mod identity;
pub mod inspect;
mod join;
pub mod kacls;
pub mod key_service;
pub mod keyseal;
pub mod kms_client;
pub mod metrics;
pub mod p256_engine;
mod race;
pub mod range;
mod refusal;
pub mod retry;
mod rewrap_memo;
pub mod rotation;
pub mod sigv4;
pub mod streams;
pub mod trace;
pub mod transport;

/// The sealed format (crate `keyseal-format`), re-exported: the SDK's messages are its messages.
pub use keyseal_format as format;
pub use keyseal_format::limits::DEFAULT_SEGMENT_SIZE;
pub use keyseal_format::{
    AeadEngine, BodyLayout, DataKey, EncryptionContext, EntryKind, ExternalSegments, Header, HeaderLength,
    MessageId, PayloadKey, RangePlan, Rewrapped, RustCryptoEngine, Segment, SegmentCipher, SegmentCutter,
    SegmentId, SegmentOpener, SegmentSealer, Suite, WrappedKeyEntry, context, data_key, engine, header,
    hpke_p256, key_schedule, layout, limits, new_header, new_signed_header, open, open_body, plan_range,
    rewrap, seal, seal_signed, signed_context,
};
/// The key-service protocol (crate `keyseal-protocol`), re-exported.
pub use keyseal_protocol as protocol;

pub use aws_kms::{AwsCredentialSource, AwsKmsClient, AwsKmsConfig};
pub use cache::CacheConfig;
pub use decrypt_policy::DecryptPolicy;
pub use error::{CallOrigin, ERROR_CODES, Error, FormatError, KeyServiceErrorKind};
pub use events::{Event, Observer};
pub use external::ExternalJob;
pub use inspect::{EntryInfo, HeaderInfo, WrappedBytes, inspect};
pub use kacls::{KaclsClient, KaclsConfig, KaclsTokenSource};
pub use key_service::{
    GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo, RewrapAnswers, RewrapQuestion, rewrap_one_by_one,
};
pub use keyseal::{KeySeal, KeySealConfig, ServiceBinding, WrapMode};
pub use kms_client::{KmsClient, KmsClientConfig};
pub use metrics::{MetricsSnapshot, OpSnapshot};
pub use p256_engine::{EphemeralKey, P256Engine, RustP256};
pub use range::RangeRead;
pub use retry::RetryPolicy;
pub use rotation::REWRAP_BATCH_MAX;
pub use sigv4::AwsCredentials;
pub use streams::{DecryptStream, EncryptStream};
pub use trace::TraceSource;
pub use transport::{
    Clock, HttpRequest, HttpResponse, HttpTransport, TokenRequest, TokenSource, TransportError,
};
