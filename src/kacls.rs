//! `KaclsClient`: a [`KeyService`] over Google Workspace client-side encryption's Key Access
//! Control List Service API, the `kacls` kind (docs/KEY-SERVICES.md "KACLS"). The data key is made
//! here and sent to `/wrap` with the caller's two tokens (an authentication JWT from the customer's
//! IdP, an authorization JWT for the resource); `/unwrap` gives it back. The resource is named by
//! one key of the message's context ([`KaclsConfig::resource_name_key`]), so a `wrapped_key` moved
//! to another object is refused by the KACLS (its authorization token names another resource).
//!
//! A KACLS answers `/unwrap` with the data key in clear (inside TLS), unlike the keyseal protocol's
//! sealed answers: the kind needs `https` (plain `http` on loopback only, for tests) and the
//! caller's explicit [`KaclsConfig::accept_plaintext_key_answers`]. `/status` is read once, before
//! the first key operation, and must say `server_type: "KACLS"`.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

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
use crate::transport::{Clock, HttpResponse, HttpTransport};
use crate::{DataKey, EncryptionContext, EntryKind};

/// Google's limit on a resource name (bytes).
pub const MAX_RESOURCE_NAME_LEN: usize = 128;
/// Google's limit on the `reason` passthrough (bytes).
pub const MAX_REASON_LEN: usize = 1024;

/// Where the SDK gets the two JWTs a KACLS call carries, asked once per call. An error becomes
/// `ACCESS_DENIED`.
pub trait KaclsTokenSource {
    /// The authentication token (the customer's IdP: who the user is) for `op` (`wrap`, `unwrap`).
    fn authentication<'a>(&'a self, op: &'a str) -> LocalBoxFuture<'a, Result<String, String>>;
    /// The authorization token (the application's issuer: this user may `op` this resource).
    fn authorization<'a>(
        &'a self,
        op: &'a str,
        resource_name: &'a str,
    ) -> LocalBoxFuture<'a, Result<String, String>>;
}

/// Configuration of one KACLS.
pub struct KaclsConfig {
    /// The id written into wrapped-key entries (`acme-kacls`).
    pub id: String,
    /// The KACLS URL(s), tried in order (`https://kacls.example.com/v1`); each must equal the
    /// `kacls_url` its authorization tokens name.
    pub urls: Vec<String>,
    /// The context key whose value is the KACLS `resource_name` (e.g. `object`).
    pub resource_name_key: String,
    /// The `reason` sent with each call (≤ 1 KB; empty by default).
    pub reason: String,
    /// The caller's acknowledgement that a KACLS answers data keys in clear, inside TLS only
    /// (no sealed answer as in the keyseal protocol). Required.
    pub accept_plaintext_key_answers: bool,
    /// Retries, timeouts, circuit breaker.
    pub policy: RetryPolicy,
}

/// A Google CSE KACLS as a key service.
pub struct KaclsClient {
    id: String,
    /// The first URL: the `original_kacls_url` of a `/rewrap` (this KACLS wrapped the key).
    url: String,
    resource_name_key: String,
    reason: String,
    endpoints: Endpoints,
    tokens: Rc<dyn KaclsTokenSource>,
    /// `/status` said `server_type: "KACLS"`.
    status_checked: Cell<bool>,
}

#[derive(Serialize)]
struct WrapRequest<'a> {
    authentication: &'a str,
    authorization: &'a str,
    key: Zeroizing<String>,
    reason: &'a str,
}

#[derive(Serialize)]
struct UnwrapRequest<'a> {
    authentication: &'a str,
    authorization: &'a str,
    reason: &'a str,
    wrapped_key: String,
}

#[derive(Serialize)]
struct RewrapRequest<'a> {
    authorization: &'a str,
    original_kacls_url: &'a str,
    reason: &'a str,
    wrapped_key: String,
}

#[derive(Deserialize)]
struct WrapAnswer {
    wrapped_key: Option<String>,
}

#[derive(Deserialize)]
struct UnwrapAnswer {
    key: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
struct StatusAnswer {
    server_type: Option<String>,
}

/// Google's error reply: `{"code": <HTTP status>, "message": …, "details": …}`.
#[derive(Deserialize)]
struct KaclsError {
    message: Option<String>,
    details: Option<String>,
}

/// Reads a non-2xx KACLS answer. Google's API has no distinct code for a revoked key: a 403 is
/// `ACCESS_DENIED`, unless its `details` names a revoked key as keyseal-kms's do.
fn classify(resp: &HttpResponse) -> Refusal {
    use KeyServiceErrorKind as K;
    let body = serde_json::from_slice::<KaclsError>(&resp.body).ok();
    let details = body.as_ref().and_then(|b| b.details.as_deref());
    let kind = match resp.status {
        400 => K::InvalidRequest,
        // keyseal-kms names a revoked key in `details` (docs/KEY-SERVICES.md "Error mapping")
        403 if matches!(details, Some("KeyDisabled" | "KeyDestroyed")) => K::KeyDisabled,
        401 | 403 => K::AccessDenied,
        404 => K::KeyNotFound,
        429 => K::Throttled,
        500..=599 => K::Unavailable,
        _ => K::Protocol,
    };
    let retry = match kind {
        K::Throttled => Retry::SameUrl,
        K::Unavailable => Retry::NextUrl,
        _ => Retry::Never,
    };
    let (message, details) = body.map_or((String::new(), String::new()), |b| {
        (b.message.unwrap_or_default(), b.details.unwrap_or_default())
    });
    let text = if details.is_empty() {
        message
    } else {
        format!("{message} ({details})")
    };
    Refusal {
        error: Error::key_service(kind, format!("KACLS HTTP {}: {text}", resp.status)),
        retry,
        disabled_at_ms: None,
    }
}

fn callback_failed(which: &str, e: String) -> Error {
    Error::key_service(
        KeyServiceErrorKind::AccessDenied,
        format!("the KACLS {which} callback failed: {e}"),
    )
}

impl KaclsClient {
    /// A client; no request is made until the first call.
    pub fn new(
        config: KaclsConfig,
        transport: Rc<dyn HttpTransport>,
        clock: Rc<dyn Clock>,
        tokens: Rc<dyn KaclsTokenSource>,
        observer: Rc<Observer>,
    ) -> Result<Self, Error> {
        check_service_id(&config.id)?;
        if !config.accept_plaintext_key_answers {
            return Err(Error::invalid(
                "a KACLS answers data keys in clear inside TLS, not sealed to the client: set \
                 acceptPlaintextKeyAnswers: true to use one (docs/KEY-SERVICES.md)",
            ));
        }
        if config.urls.is_empty() {
            return Err(Error::invalid("a KACLS needs its URL (urls)"));
        }
        config.urls.iter().try_for_each(|u| check_url(u))?;
        if config.resource_name_key.is_empty() {
            return Err(Error::invalid(
                "a KACLS needs resourceNameKey: the context key whose value is the resource name",
            ));
        }
        if config.reason.len() > MAX_REASON_LEN {
            return Err(Error::invalid("a KACLS reason is at most 1 KB"));
        }
        let urls: Vec<String> = config
            .urls
            .iter()
            .map(|u| String::from(u.trim_end_matches('/')))
            .collect();
        let url = urls.first().cloned().unwrap_or_default();
        let endpoints = Endpoints::new(&config.id, urls, config.policy, transport, clock, observer)?;
        Ok(Self {
            id: config.id,
            url,
            resource_name_key: config.resource_name_key,
            reason: config.reason,
            endpoints,
            tokens,
            status_checked: Cell::new(false),
        })
    }

    /// Sends each attempt as a child span of `trace`'s current W3C trace context (`traceparent`).
    #[must_use]
    pub fn with_trace(mut self, trace: Rc<dyn crate::TraceSource>) -> Self {
        self.endpoints.set_trace(trace);
        self
    }

    /// The resource name: the value of the configured context key (≤ 128 bytes).
    fn resource_name<'c>(&self, context: &'c EncryptionContext) -> Result<&'c str, Error> {
        let name = context
            .iter()
            .find(|(k, _)| *k == self.resource_name_key)
            .map(|(_, v)| v)
            .ok_or(Error::invalid(
                "a KACLS entry needs the resource name: the context has no value under the resourceNameKey option",
            ))?;
        if name.is_empty() || name.len() > MAX_RESOURCE_NAME_LEN {
            return Err(Error::invalid("a KACLS resource name is 1..=128 bytes"));
        }
        Ok(name)
    }

    async fn tokens(&self, op: &str, resource: &str) -> Result<(String, String), Error> {
        let authn = self
            .tokens
            .authentication(op)
            .await
            .map_err(|e| callback_failed("authentication", e))?;
        Ok((authn, self.authorization(op, resource).await?))
    }

    async fn authorization(&self, op: &str, resource: &str) -> Result<String, Error> {
        self.tokens
            .authorization(op, resource)
            .await
            .map_err(|e| callback_failed("authorization", e))
    }

    async fn post(
        &self,
        op: &'static str,
        key_id: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        self.check_status(key_id).await?;
        let call = Call {
            op,
            key_id,
            method: "POST",
            path,
            body: Some(body),
            classify,
            sign: None,
        };
        self.endpoints.call(&call).await.map_err(|e: CallError| e.error)
    }

    /// `GET /status` once: the server must say it is a KACLS.
    async fn check_status(&self, key_id: &str) -> Result<(), Error> {
        if self.status_checked.get() {
            return Ok(());
        }
        let call = Call {
            op: "status",
            key_id,
            method: "GET",
            path: "/status",
            body: None,
            classify,
            sign: None,
        };
        let bytes = self.endpoints.call(&call).await.map_err(|e: CallError| e.error)?;
        let status: StatusAnswer =
            serde_json::from_slice(&bytes).map_err(|_| protocol_error("KACLS /status is not JSON"))?;
        if status.server_type.as_deref() != Some("KACLS") {
            return Err(protocol_error(
                "the server's /status does not say server_type \"KACLS\": is the URL a KACLS?",
            ));
        }
        self.status_checked.set(true);
        Ok(())
    }

    async fn wrap_key(
        &self,
        key_id: &str,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        let resource = self.resource_name(context)?;
        let (authn, authz) = self.tokens("wrap", resource).await?;
        let q = WrapRequest {
            authentication: &authn,
            authorization: &authz,
            key: Zeroizing::new(b64encode(data_key.expose_secret())),
            reason: &self.reason,
        };
        let body = Zeroizing::new(serde_json::to_vec(&q).map_err(|_| protocol_error("request encoding"))?);
        let bytes = self.post("wrap", key_id, "/wrap", body.to_vec()).await?;
        let a: WrapAnswer =
            serde_json::from_slice(&bytes).map_err(|_| protocol_error("KACLS /wrap answer is not JSON"))?;
        a.wrapped_key
            .as_deref()
            .and_then(b64decode)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| protocol_error("KACLS /wrap answer lacks a base64 wrapped_key"))
    }

    async fn unwrap_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<DataKey, Error> {
        let resource = self.resource_name(context)?;
        let (authn, authz) = self.tokens("unwrap", resource).await?;
        let q = UnwrapRequest {
            authentication: &authn,
            authorization: &authz,
            reason: &self.reason,
            wrapped_key: b64encode(wrapped),
        };
        let body = serde_json::to_vec(&q).map_err(|_| protocol_error("request encoding"))?;
        let bytes = Zeroizing::new(self.post("unwrap", key_id, "/unwrap", body).await?);
        let a: UnwrapAnswer =
            serde_json::from_slice(&bytes).map_err(|_| protocol_error("KACLS /unwrap answer is not JSON"))?;
        let key = a
            .key
            .as_deref()
            .and_then(|k| b64decode(k))
            .map(Zeroizing::new)
            .ok_or_else(|| protocol_error("KACLS /unwrap answer lacks a base64 key"))?;
        DataKey::from_bytes(&key)
            .map_err(|_| protocol_error("KACLS answered a data key that is not 32 bytes"))
    }
}

impl KeyService for KaclsClient {
    fn id(&self) -> &str {
        &self.id
    }

    fn entry_kind(&self) -> EntryKind {
        EntryKind::Kacls
    }

    fn reads_versions(&self) -> bool {
        false
    }

    /// The data key is made here (a KACLS has no generate) and wrapped by `/wrap`.
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            let data_key = DataKey::generate().map_err(Error::from)?;
            let wrapped = self.wrap_key(key_id, &data_key, context).await?;
            Ok(GeneratedKey { data_key, wrapped })
        })
    }

    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        data_key: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(self.wrap_key(key_id, data_key, context))
    }

    fn unwrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            if kind != EntryKind::Kacls {
                return Err(protocol_error("a KACLS opens kacls entries only"));
            }
            self.unwrap_key(key_id, wrapped, context).await
        })
    }

    /// Header-only rotation: Google's `/rewrap` with `original_kacls_url` = this KACLS, under an
    /// authorization token for `op: 'rewrap'` (role `migrator`): the KACLS re-wraps under its
    /// current key and the data key never leaves it. `to_key_id` only renames the entry (a KACLS
    /// has one key).
    fn rewrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to_key_id: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        let _ = to_key_id;
        Box::pin(async move {
            if kind != EntryKind::Kacls {
                return Err(protocol_error("a KACLS rewraps kacls entries only"));
            }
            let resource = self.resource_name(context)?;
            let authz = self.authorization("rewrap", resource).await?;
            let q = RewrapRequest {
                authorization: &authz,
                original_kacls_url: &self.url,
                reason: &self.reason,
                wrapped_key: b64encode(wrapped),
            };
            let body = serde_json::to_vec(&q).map_err(|_| protocol_error("request encoding"))?;
            let bytes = self.post("rewrap", key_id, "/rewrap", body).await?;
            let a: WrapAnswer = serde_json::from_slice(&bytes)
                .map_err(|_| protocol_error("KACLS /rewrap answer is not JSON"))?;
            a.wrapped_key
                .as_deref()
                .and_then(b64decode)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| protocol_error("KACLS /rewrap answer lacks a base64 wrapped_key"))
        })
    }

    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        let _ = key_id;
        Box::pin(async move {
            Err(Error::key_service(
                KeyServiceErrorKind::InvalidRequest,
                "a KACLS has no public key: wrapMode 'public-key' needs a keyseal key service",
            ))
        })
    }
}
