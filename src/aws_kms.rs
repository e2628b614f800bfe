//! `AwsKmsClient`: a [`KeyService`] over the AWS KMS JSON API (`TrentService`), the `aws-kms` kind
//! (docs/KEY-SERVICES.md). Requests are signed with SigV4 (`sigv4.rs`) using credentials from the
//! caller's [`AwsCredentialSource`]; the resilience policy is the same `Endpoints` as every kind.
//! `GenerateDataKey` on encrypt, `Encrypt` for escrow entries, `Decrypt` with `KeyId` pinned on
//! decrypt, `ReEncrypt` for header-only rotation (the data key never leaves AWS). The message's
//! context is the AWS `EncryptionContext`, so AWS binds it into the `CiphertextBlob`.
//!
//! AWS KMS answers `GenerateDataKey` and `Decrypt` with the data key in clear (inside TLS): the
//! kind needs `https` (plain `http` on loopback only, for tests), like every kind.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use keyseal_protocol::bytes::{decode as b64decode, encode as b64encode};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::endpoints::{Call, CallError, Endpoints, Refusal, Retry};
use crate::error::{Error, KeyServiceErrorKind};
use crate::events::Observer;
use crate::key_service::{GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo};
use crate::kms_client::{check_service_id, check_url};
use crate::refusal::protocol_error;
use crate::retry::RetryPolicy;
use crate::sigv4::{AwsCredentials, SigningRequest, amz_date, authorization};
use crate::transport::{Clock, HttpRequest, HttpResponse, HttpTransport};
use crate::{DataKey, EncryptionContext, EntryKind};

/// Where the SDK gets AWS credentials, asked once per key-service call (so rotated or refreshed
/// temporary credentials are picked up). An error becomes `ACCESS_DENIED`.
pub trait AwsCredentialSource {
    /// The credentials to sign the next call with.
    fn credentials(&self) -> LocalBoxFuture<'_, Result<AwsCredentials, String>>;
}

/// Configuration of one AWS KMS key service.
pub struct AwsKmsConfig {
    /// The id written into wrapped-key entries (`acme-aws`).
    pub id: String,
    /// The region requests are signed for (`us-east-1`).
    pub region: String,
    /// Endpoints tried in order; default `https://kms.{region}.amazonaws.com`.
    pub endpoints: Vec<String>,
    /// Retries, timeouts, circuit breaker.
    pub policy: RetryPolicy,
}

/// AWS KMS as a key service.
pub struct AwsKmsClient {
    id: String,
    region: String,
    endpoints: Endpoints,
    credentials: Rc<dyn AwsCredentialSource>,
}

/// The AWS KMS operations this kind uses (the `X-Amz-Target` suffix), with the SDK op name of
/// events and metrics.
#[derive(Clone, Copy)]
enum Op {
    GenerateDataKey,
    Encrypt,
    Decrypt,
    ReEncrypt,
}

impl Op {
    fn target(self) -> &'static str {
        match self {
            Op::GenerateDataKey => "TrentService.GenerateDataKey",
            Op::Encrypt => "TrentService.Encrypt",
            Op::Decrypt => "TrentService.Decrypt",
            Op::ReEncrypt => "TrentService.ReEncrypt",
        }
    }
    fn sdk_op(self) -> &'static str {
        match self {
            Op::GenerateDataKey => "generate",
            Op::Encrypt => "wrap",
            Op::Decrypt => "unwrap",
            Op::ReEncrypt => "rewrap",
        }
    }
}

fn aws_context(context: &EncryptionContext) -> BTreeMap<&str, &str> {
    context.iter().collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyRequest<'a> {
    key_id: &'a str,
    key_spec: &'static str,
    encryption_context: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest<'a> {
    key_id: &'a str,
    plaintext: Zeroizing<String>,
    encryption_context: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest<'a> {
    key_id: &'a str,
    ciphertext_blob: String,
    encryption_context: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptRequest<'a> {
    ciphertext_blob: String,
    source_key_id: &'a str,
    source_encryption_context: BTreeMap<&'a str, &'a str>,
    destination_key_id: &'a str,
    destination_encryption_context: BTreeMap<&'a str, &'a str>,
}

/// The fields of the answers this kind reads (`GenerateDataKey`, `Encrypt`, `Decrypt`, `ReEncrypt`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    ciphertext_blob: Option<String>,
    plaintext: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
struct AwsError {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// What an AWS KMS error means to the SDK (docs/KEY-SERVICES.md "Error mapping").
fn kind_of(aws: &str) -> Option<KeyServiceErrorKind> {
    use KeyServiceErrorKind as K;
    Some(match aws {
        "DisabledException" | "KMSInvalidStateException" => K::KeyDisabled,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException" => K::AccessDenied,
        "InvalidCiphertextException" | "IncorrectKeyException" => K::InvalidCiphertext,
        "NotFoundException" => K::KeyNotFound,
        "ThrottlingException" | "LimitExceededException" | "TooManyRequestsException" => K::Throttled,
        "KMSInternalException" | "DependencyTimeoutException" | "KeyUnavailableException" => K::Unavailable,
        "ValidationException" | "SerializationException" | "InvalidKeyUsageException" => K::InvalidRequest,
        _ => return None,
    })
}

/// Reads a non-2xx AWS answer: `{"__type": "…#Name", "message": …}`.
fn classify(resp: &HttpResponse) -> Refusal {
    use KeyServiceErrorKind as K;
    let body = serde_json::from_slice::<AwsError>(&resp.body).ok();
    let name: String = body
        .as_ref()
        .and_then(|b| b.kind.as_deref())
        .map(|t| t.rsplit('#').next().unwrap_or(t))
        .unwrap_or("")
        .into();
    let kind = kind_of(&name).unwrap_or(match resp.status {
        401 | 403 => K::AccessDenied,
        429 => K::Throttled,
        500..=599 => K::Unavailable,
        _ => K::Protocol,
    });
    let message = body.and_then(|b| b.message).unwrap_or_default();
    let retry = match kind {
        K::Throttled => Retry::SameUrl,
        K::Unavailable => Retry::NextUrl,
        _ => Retry::Never,
    };
    Refusal {
        error: Error::key_service(kind, format!("AWS KMS {name} (HTTP {}): {message}", resp.status)),
        retry,
        disabled_at_ms: None,
    }
}

/// `host[:port]` and path of an absolute URL without query (the endpoint URL, `…/`).
fn host_and_path(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

impl AwsKmsClient {
    /// A client; no request is made until the first call.
    pub fn new(
        config: AwsKmsConfig,
        transport: Rc<dyn HttpTransport>,
        clock: Rc<dyn Clock>,
        credentials: Rc<dyn AwsCredentialSource>,
        observer: Rc<Observer>,
    ) -> Result<Self, Error> {
        check_service_id(&config.id)?;
        if config.region.is_empty()
            || !config
                .region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::invalid(
                "an AWS region is letters, digits and '-' (us-east-1)",
            ));
        }
        let urls = if config.endpoints.is_empty() {
            alloc::vec![format!("https://kms.{}.amazonaws.com", config.region)]
        } else {
            config.endpoints
        };
        urls.iter().try_for_each(|u| check_url(u))?;
        let endpoints = Endpoints::new(&config.id, urls, config.policy, transport, clock, observer)?;
        Ok(Self {
            id: config.id,
            region: config.region,
            endpoints,
            credentials,
        })
    }

    /// Sends each attempt as a child span of `trace`'s current W3C trace context (`traceparent`).
    #[must_use]
    pub fn with_trace(mut self, trace: Rc<dyn crate::TraceSource>) -> Self {
        self.endpoints.set_trace(trace);
        self
    }

    async fn call<R: Serialize>(&self, op: Op, key_id: &str, request: &R) -> Result<Answer, Error> {
        let creds = self.credentials.credentials().await.map_err(|e| {
            Error::key_service(
                KeyServiceErrorKind::AccessDenied,
                format!("credentials callback failed: {e}"),
            )
        })?;
        let body =
            Zeroizing::new(serde_json::to_vec(request).map_err(|_| protocol_error("request encoding"))?);
        let region = self.region.as_str();
        let sign = |req: &mut HttpRequest, unix_ms: f64| {
            let date = amz_date(unix_ms);
            let (host, path) = host_and_path(&req.url);
            let mut signed: Vec<(&str, &str)> = alloc::vec![
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", op.target()),
            ];
            if let Some(t) = &creds.session_token {
                signed.push(("x-amz-security-token", t.as_str()));
            }
            let auth = authorization(
                &creds,
                region,
                "kms",
                &date,
                &SigningRequest {
                    method: req.method,
                    host,
                    path,
                    query: "",
                    headers: &signed,
                    body: req.body.as_deref().unwrap_or(&[]),
                },
            );
            req.headers = signed.iter().map(|(k, v)| (*k, String::from(*v))).collect();
            req.headers.push(("x-amz-date", date));
            req.headers.push(("authorization", auth));
        };
        let call = Call {
            op: op.sdk_op(),
            key_id,
            method: "POST",
            path: "/",
            body: Some(body.to_vec()),
            classify,
            sign: Some(&sign),
        };
        let bytes = self.endpoints.call(&call).await.map_err(|e: CallError| e.error)?;
        serde_json::from_slice(&bytes).map_err(|_| protocol_error("AWS KMS answer is not the expected JSON"))
    }

    fn blob(a: &Answer) -> Result<Vec<u8>, Error> {
        a.ciphertext_blob
            .as_deref()
            .and_then(b64decode)
            .ok_or_else(|| protocol_error("AWS KMS answer lacks a base64 CiphertextBlob"))
    }

    fn data_key(a: &Answer) -> Result<DataKey, Error> {
        let bytes = a
            .plaintext
            .as_deref()
            .and_then(|p| b64decode(p))
            .map(Zeroizing::new)
            .ok_or_else(|| protocol_error("AWS KMS answer lacks a base64 Plaintext"))?;
        DataKey::from_bytes(&bytes).map_err(|_| {
            protocol_error("AWS KMS answered a data key that is not 32 bytes (is the key AES_256?)")
        })
    }
}

impl KeyService for AwsKmsClient {
    fn id(&self) -> &str {
        &self.id
    }

    fn entry_kind(&self) -> EntryKind {
        EntryKind::AwsKms
    }

    fn reads_versions(&self) -> bool {
        false
    }

    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            let q = GenerateDataKeyRequest {
                key_id,
                key_spec: "AES_256",
                encryption_context: aws_context(context),
            };
            let a = self.call(Op::GenerateDataKey, key_id, &q).await?;
            Ok(GeneratedKey {
                data_key: Self::data_key(&a)?,
                wrapped: Self::blob(&a)?,
            })
        })
    }

    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        data_key: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let q = EncryptRequest {
                key_id,
                plaintext: Zeroizing::new(b64encode(data_key.expose_secret())),
                encryption_context: aws_context(context),
            };
            Self::blob(&self.call(Op::Encrypt, key_id, &q).await?)
        })
    }

    fn unwrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            if kind != EntryKind::AwsKms {
                return Err(protocol_error(
                    "an AWS KMS key service opens aws-kms entries only",
                ));
            }
            let q = DecryptRequest {
                key_id,
                ciphertext_blob: b64encode(wrapped),
                encryption_context: aws_context(context),
            };
            Self::data_key(&self.call(Op::Decrypt, key_id, &q).await?)
        })
    }

    fn rewrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to_key_id: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            if kind != EntryKind::AwsKms {
                return Err(protocol_error(
                    "an AWS KMS key service rewraps aws-kms entries only",
                ));
            }
            let q = ReEncryptRequest {
                ciphertext_blob: b64encode(wrapped),
                source_key_id: key_id,
                source_encryption_context: aws_context(context),
                destination_key_id: to_key_id.unwrap_or(key_id),
                destination_encryption_context: aws_context(context),
            };
            Self::blob(&self.call(Op::ReEncrypt, key_id, &q).await?)
        })
    }

    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        let _ = key_id;
        Box::pin(async move {
            Err(Error::key_service(
                KeyServiceErrorKind::InvalidRequest,
                "AWS KMS symmetric keys have no public key: wrapMode 'public-key' needs a keyseal key service",
            ))
        })
    }
}
