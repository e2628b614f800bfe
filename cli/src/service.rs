//! Key-service settings from flags, the environment and a config file, and the `KeySeal` built
//! from them. Settings are plain data (`Send`), so every worker thread builds its own `KeySeal`
//! (the core's objects are single-threaded, as in the browser).

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use keyseal::{
    AwsCredentialSource, AwsCredentials, AwsKmsClient, AwsKmsConfig, CacheConfig, DecryptPolicy, KeySeal,
    KeySealConfig, KeyService, KmsClient, KmsClientConfig, LocalBoxFuture, Observer, RetryPolicy,
    ServiceBinding, WrapMode,
};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::args::{Kind, ServiceArgs};
use crate::engine::{EngineChoice, RingEngine};
use crate::error::CliError;
use crate::transport::{StdClock, Tokens, UreqTransport};

/// The JSON config file (`--config`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    kind: Option<Kind>,
    region: Option<String>,
    #[serde(default)]
    key_service: Vec<String>,
    service_id: Option<String>,
    key_id: Option<String>,
    token_cmd: Option<String>,
    identity: Option<String>,
}

/// Everything needed to build a `KeySeal`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The kind of key service.
    pub kind: Kind,
    /// AWS region (`aws-kms`).
    pub region: Option<String>,
    /// Base URLs (endpoints for `aws-kms`), in failover order.
    pub urls: Vec<String>,
    /// Key-service id of entries.
    pub service_id: String,
    /// Key id of new data keys (and of rewrap/backlog when no other is given).
    pub key_id: Option<String>,
    /// Token source.
    pub tokens: Tokens,
    /// Pinned identity (SEC1 bytes).
    pub identity: Option<Vec<u8>>,
    /// Decrypt policy.
    pub policy: DecryptPolicy,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
}

impl Settings {
    /// From the command line (and env, via clap), completed by `--config`.
    pub fn from_args(a: &ServiceArgs) -> Result<Self, CliError> {
        let file: ConfigFile = match &a.config {
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|e| CliError::io(p, e))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?
            }
            None => ConfigFile::default(),
        };
        let urls = if a.key_service.is_empty() {
            file.key_service
        } else {
            a.key_service.clone()
        };
        let token_cmd = a.token_cmd.clone().or(file.token_cmd);
        let tokens = match (token_cmd, std::env::var("KEYSEAL_TOKEN")) {
            (Some(cmd), _) => Tokens::Command(cmd),
            (None, Ok(t)) => Tokens::Fixed(Zeroizing::new(t)),
            (None, Err(_)) => Tokens::None,
        };
        let identity = match a.identity.clone().or(file.identity) {
            Some(b64) => {
                Some(decode_b64(&b64).ok_or_else(|| CliError::Usage("--identity is not base64".into()))?)
            }
            None => None,
        };
        let mut allow = a.allow_key_id.clone();
        if allow.is_empty() {
            allow.push("*".into());
        }
        let service_id = if a.service_id == "keyseal" {
            file.service_id.unwrap_or_else(|| a.service_id.clone())
        } else {
            a.service_id.clone()
        };
        Ok(Self {
            kind: a.kind.or(file.kind).unwrap_or_default(),
            region: a.region.clone().or(file.region),
            urls,
            service_id,
            key_id: a.key_id.clone().or(file.key_id),
            tokens,
            identity,
            policy: DecryptPolicy {
                allow_key_ids: allow,
                accept_public_key_entries: a.accept_public_key_entries,
            },
            timeout_ms: a.timeout_ms,
        })
    }

    /// The SDK over these services. `key_id` is the key new entries (and rewraps) go to.
    pub fn keyseal(
        &self,
        key_id: Option<&str>,
        engine: EngineChoice,
        segment_size: u32,
    ) -> Result<KeySeal, CliError> {
        let clock: Rc<dyn keyseal::Clock> = Rc::new(StdClock::default());
        let observer = Rc::new(Observer::default());
        let policy = RetryPolicy {
            attempt_timeout_ms: self.timeout_ms,
            deadline_ms: self.timeout_ms.saturating_mul(3),
            ..RetryPolicy::default()
        };
        let transport = Rc::new(UreqTransport::new(Duration::from_millis(self.timeout_ms)));
        let client: Rc<dyn KeyService> = match self.kind {
            Kind::Keyseal => {
                if self.urls.is_empty() {
                    return Err(CliError::Usage(
                        "no key service: pass --key-service URL or set KEYSEAL_KEY_SERVICE".into(),
                    ));
                }
                Rc::new(KmsClient::new(
                    KmsClientConfig {
                        id: self.service_id.clone(),
                        urls: self.urls.clone(),
                        policy,
                        allow_plaintext_keys: false,
                        reason: Some("keyseal-cli".into()),
                        identity: self.identity.clone(),
                    },
                    transport,
                    clock.clone(),
                    Rc::new(self.tokens.clone()),
                    observer.clone(),
                )?)
            }
            Kind::AwsKms => Rc::new(AwsKmsClient::new(
                AwsKmsConfig {
                    id: self.service_id.clone(),
                    region: self
                        .region
                        .clone()
                        .ok_or_else(|| CliError::Usage("aws-kms needs --region (or AWS_REGION)".into()))?,
                    endpoints: self.urls.clone(),
                    policy,
                },
                transport,
                clock.clone(),
                Rc::new(EnvCredentials),
                observer.clone(),
            )?),
        };
        let engine: Box<dyn keyseal::AeadEngine> = match engine {
            EngineChoice::Native => Box::new(RingEngine),
            EngineChoice::Rustcrypto => Box::new(keyseal::RustCryptoEngine),
        };
        let key_id = key_id
            .map(String::from)
            .or_else(|| self.key_id.clone())
            .unwrap_or_default();
        Ok(KeySeal::new(
            KeySealConfig {
                services: vec![ServiceBinding {
                    service: client,
                    key_id,
                }],
                cache: CacheConfig::disabled(),
                wrap_mode: WrapMode::KeyService,
                segment_size,
                engine,
                decrypt: self.policy.clone(),
            },
            clock,
            observer,
        )?)
    }
}

/// AWS credentials from the environment, read for every call (so refreshed temporary credentials
/// are picked up): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
struct EnvCredentials;

impl AwsCredentialSource for EnvCredentials {
    fn credentials(&self) -> LocalBoxFuture<'_, Result<AwsCredentials, String>> {
        Box::pin(async {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            Ok(AwsCredentials {
                access_key_id: var("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
                secret_access_key: Zeroizing::new(
                    var("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
                ),
                session_token: var("AWS_SESSION_TOKEN").map(Zeroizing::new),
            })
        })
    }
}

impl Settings {
    /// Whether the key service tells key versions (the newest through its public key, an entry's
    /// from its bytes): the keyseal kind does, AWS KMS does not (rotation there keeps the key id;
    /// a rewrap to another key id is still seen).
    pub fn has_versions(&self) -> bool {
        self.kind == Kind::Keyseal
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim().bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The data key in a `--data-key-file` (64 hex digits, whitespace ignored).
pub fn data_key_from_file(p: &Path) -> Result<keyseal::DataKey, CliError> {
    let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| CliError::io(p, e))?);
    let bytes = Zeroizing::new(
        hex::decode(text.trim()).map_err(|_| CliError::Usage(format!("{}: not hex", p.display())))?,
    );
    Ok(keyseal::DataKey::from_bytes(&bytes)?)
}
