//! `keyseal-kms`: the reference customer key service of keyseal (protocol v1, docs/PROTOCOL.md),
//! as a library. The `keyseal-kms` binary is its command line.
//!
//! One process, one embedded SQLite file ([`store`]). Key material at rest is encrypted under a
//! master key (`KEYSEAL_KMS_MASTER_KEY` or a key file); tokens are ES256 JWTs from trusted issuers
//! ([`auth`]); every key-operation answer and public key is signed by the service's identity key
//! ([`identity`]). The operations ([`service::Service`], [`key_ops`], [`admin`]) take and answer the
//! `keyseal-protocol` types; [`http`] binds them to HTTP and [`server`] runs it all.
//!
//! ```no_run
//! # async fn demo() -> keyseal_kms::error::Result<()> {
//! use keyseal_kms::server::{ServeOptions, Server};
//! let mut opts = ServeOptions::new("/tmp/kms.db".into());
//! opts.dev = true;
//! let server = Server::bind(&opts).await?;
//! println!("KEYSEAL_KMS_URL={}", server.url());
//! println!("KEYSEAL_KMS_IDENTITY={}", server.identity().public_base64());
//! server.run(std::future::pending()).await
//! # }
//! ```

pub mod admin;
pub mod auth;
pub mod backup;
pub mod cors;
pub mod crypto;
pub mod error;
pub mod http;
pub mod http_admin;
pub mod identity;
pub mod kacls;
pub mod kacls_tokens;
pub mod key_id;
pub mod key_loads;
pub mod key_ops;
pub mod master;
pub mod metrics;
pub mod otlp;
pub mod pkcs11;
pub mod policy;
pub mod server;
pub mod service;
pub mod siem;
pub mod store;
pub mod tls;

pub use error::{Error, Result};
pub use service::Service;
pub use store::Store;
