//! Key-service protocol v1 messages (PROTOCOL.md §3, §5, §6): JSON request bodies and the
//! parsing of answers, including the mapping of error names to SDK error kinds.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::context::EncryptionContext;
use crate::data_key::DataKey;
use crate::error::{Error, KeyServiceErrorKind};
use crate::hpke_p256::{RecipientKeyPair, SealedKey, open_from_sender};

/// The one HPKE suite of protocol v1: KEM 16, KDF 1, AEAD 2 (PROTOCOL.md §6.1).
pub fn recipient_json(kp: &RecipientKeyPair) -> Value {
    json!({"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": STANDARD.encode(kp.public_sec1())})
}

/// `context` as a JSON object (PROTOCOL.md §2).
pub fn context_json(ctx: &EncryptionContext) -> Value {
    let mut m = Map::new();
    for (k, v) in ctx.iter() {
        m.insert(k.to_string(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

/// Base64 (RFC 4648 §4, padded).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn protocol(message: impl Into<String>) -> Error {
    Error::KeyService {
        kind: KeyServiceErrorKind::Protocol,
        message: message.into(),
    }
}

fn unb64(s: &str, what: &str) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(s)
        .map_err(|_| protocol(format!("{what} is not base64")))
}

#[derive(Deserialize)]
struct SealedJson {
    enc: String,
    ciphertext: String,
}

/// A successful key-operation answer (PROTOCOL.md §3.2–§3.5).
#[derive(Deserialize)]
pub struct KeyAnswer {
    /// The key that was used or now wraps the DEK.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The key version used.
    #[serde(default)]
    pub key_version: Option<u32>,
    /// Base64 wrapped key (generate, wrap, rewrap).
    #[serde(default)]
    pub wrapped_key: Option<String>,
    sealed_key: Option<SealedJson>,
    key: Option<String>,
}

impl KeyAnswer {
    /// Parses a 2xx body.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(|_| protocol("answer is not the expected JSON"))
    }

    /// The wrapped key bytes, required.
    pub fn wrapped(&self) -> Result<Vec<u8>, Error> {
        let w = self
            .wrapped_key
            .as_deref()
            .ok_or_else(|| protocol("answer lacks wrapped_key"))?;
        unb64(w, "wrapped_key")
    }

    /// The DEK: opened from `sealed_key` with our ephemeral `recipient`, or taken from a plaintext
    /// `key` only when `allow_plaintext` (otherwise `DOWNGRADE_REFUSED`, PROTOCOL.md §3.2).
    pub fn data_key(&self, recipient: &RecipientKeyPair, allow_plaintext: bool) -> Result<DataKey, Error> {
        if let Some(s) = &self.sealed_key {
            let sealed = SealedKey {
                enc: unb64(&s.enc, "enc")?,
                ciphertext: unb64(&s.ciphertext, "ciphertext")?,
            };
            return open_from_sender(recipient, &sealed).map_err(|_| protocol("sealed_key does not open"));
        }
        match &self.key {
            Some(_) if !allow_plaintext => Err(Error::KeyService {
                kind: KeyServiceErrorKind::DowngradeRefused,
                message: "key service answered a plaintext key although a recipient was sent".into(),
            }),
            Some(k) => {
                let mut raw = unb64(k, "key")?;
                let dek = DataKey::from_bytes(&raw).map_err(|_| protocol("key is not 32 bytes"));
                zeroize::Zeroize::zeroize(&mut raw);
                dek
            }
            None => Err(protocol("answer lacks sealed_key")),
        }
    }
}

/// The answer of `POST /rewrap-batch` (PROTOCOL.md §3.5.1): exactly `expected` items, each a
/// `/rewrap` answer (its wrapped key) or a protocol error (mapped as §5 maps a whole answer).
pub fn parse_rewrap_batch(body: &[u8], expected: usize) -> Result<crate::key_service::RewrapAnswers, Error> {
    #[derive(Deserialize)]
    struct Batch {
        items: Vec<Value>,
    }
    let b: Batch =
        serde_json::from_slice(body).map_err(|_| protocol("batch answer is not the expected JSON"))?;
    if b.items.len() != expected {
        return Err(protocol("batch answer has the wrong number of items"));
    }
    Ok(b.items
        .into_iter()
        .map(|item| {
            if item.get("error").is_some() {
                let e = error_answer(400, &item);
                return Err(Error::KeyService {
                    kind: e.kind,
                    message: e.message,
                });
            }
            let w = item
                .get("wrapped_key")
                .and_then(Value::as_str)
                .ok_or_else(|| protocol("batch item lacks wrapped_key"))?;
            unb64(w, "wrapped_key")
        })
        .collect())
}

/// A public-key answer (PROTOCOL.md §3.6), reduced to what offline wraps need.
pub fn parse_public_jwk(body: &[u8]) -> Result<(u32, Vec<u8>), Error> {
    #[derive(Deserialize)]
    struct Jwk {
        kty: String,
        crv: String,
        x: String,
        y: String,
        key_version: u32,
    }
    let j: Jwk = serde_json::from_slice(body).map_err(|_| protocol("public key is not a JWK"))?;
    if j.kty != "EC" || j.crv != "P-256" {
        return Err(protocol("public key is not an EC P-256 JWK"));
    }
    let x = URL_SAFE_NO_PAD.decode(&j.x).map_err(|_| protocol("JWK x"))?;
    let y = URL_SAFE_NO_PAD.decode(&j.y).map_err(|_| protocol("JWK y"))?;
    if x.len() != 32 || y.len() != 32 {
        return Err(protocol("JWK coordinates are not 32 bytes"));
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    Ok((j.key_version, sec1))
}

/// A parsed error answer (PROTOCOL.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorAnswer {
    /// The SDK error kind for the protocol `error` name.
    pub kind: KeyServiceErrorKind,
    /// `error` name and `message`, for humans.
    pub message: String,
    /// `disabled_at` (Unix ms) on `KeyDisabled`, when the service reports it.
    pub disabled_at_ms: Option<f64>,
}

/// Maps an error status and body to an SDK error kind. Unknown names fall back on the status.
pub fn parse_error(status: u16, body: &[u8]) -> ErrorAnswer {
    error_answer(status, &serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// [`parse_error`] of an already parsed body (also one item of a `/rewrap-batch` answer).
pub fn error_answer(status: u16, v: &Value) -> ErrorAnswer {
    let name = v.get("error").and_then(Value::as_str).unwrap_or("");
    let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
    let disabled_at_ms = v.get("disabled_at").and_then(Value::as_f64);
    let kind = match name {
        "InvalidRequest" | "PayloadTooLarge" => KeyServiceErrorKind::InvalidRequest,
        "InvalidCiphertext" => KeyServiceErrorKind::InvalidCiphertext,
        "ContextMismatch" => KeyServiceErrorKind::ContextMismatch,
        "Unauthenticated" | "AccessDenied" => KeyServiceErrorKind::AccessDenied,
        "KeyDisabled" => KeyServiceErrorKind::KeyDisabled,
        "KeyNotFound" | "KeyDestroyed" => KeyServiceErrorKind::KeyNotFound,
        "Throttled" => KeyServiceErrorKind::Throttled,
        "Internal" | "Unavailable" => KeyServiceErrorKind::Unavailable,
        _ => match status {
            401 | 403 => KeyServiceErrorKind::AccessDenied,
            404 => KeyServiceErrorKind::Protocol,
            429 => KeyServiceErrorKind::Throttled,
            500..=599 => KeyServiceErrorKind::Unavailable,
            _ => KeyServiceErrorKind::Protocol,
        },
    };
    let message = if name.is_empty() {
        format!("HTTP {status} without a protocol error body")
    } else {
        format!("{name}: {msg}")
    };
    ErrorAnswer {
        kind,
        message,
        disabled_at_ms,
    }
}

/// Whether a status is worth retrying or failing over (PROTOCOL.md §5 "Retries").
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}
