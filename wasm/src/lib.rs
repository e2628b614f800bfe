//! keyseal for JavaScript: the wasm-bindgen exports. This crate only translates — JS values to SDK
//! types and back (serde-wasm-bindgen, no JSON text), the global `fetch`/`setTimeout`/token
//! callback to the SDK's transport traits, the platform AES-GCM engines (WebCrypto through web-sys,
//! node:crypto through one small interface) driven over the format's segment layout, and errors to
//! JS errors with a stable `code`. All policy is in the `keyseal` crate, every format rule in
//! `keyseal-format`.
#![cfg(target_arch = "wasm32")]

mod clock;
mod core;
mod diagnostics;
mod engine;
mod errors;
mod fetch;
mod globals;
mod inspect;
mod low_level;
mod messages;
mod node_http;
mod options;
mod p256;
mod platform;
mod platform_stream;
mod range;
mod rotation;
mod segments;
mod signing;
mod streams;
mod tokens;

pub use crate::core::KeySealCore;
pub use crate::range::RangeReadCore;
pub use crate::streams::{DecryptStreamCore, EncryptStreamCore};
