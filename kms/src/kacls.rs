//! `keyseal-kms` as a Google Workspace client-side encryption key service (KACLS):
//! `serve --kacls-key TENANT/NAME` adds `/kacls/v1/{status,wrap,unwrap,rewrap,digest,privilegedunwrap}`
//! on the same listener (docs/KEY-SERVICES.md "keyseal-kms as a KACLS" is the contract; Google's
//! published KACLS API is the reference).
//!
//! Every call is checked as Google requires (tokens in src/kacls_tokens.rs): both JWTs verified,
//! the emails of the two tokens equal (case-insensitively; `google_email` when present), the role
//! allowed for the operation, `kacls_url` equal to this server's. The `resource_name` and
//! `perimeter_id` of the wrap's authorization token are sealed into the wrapped key and must
//! equal those of the unwrap's. `privilegedunwrap` needs an explicit grant
//! (`--kacls-privileged-email`). Every call, answered or refused, is one row of the hash-chained
//! audit log (`kacls.<operation>`, subject the authenticated email, detail the resource,
//! perimeter and role, reason sanitized).
//!
//! Wrapped key layout (v1), all integers big-endian:
//!
//! ```text
//! 'K' 0x01 | key version (u32) | len(resource_name) (u8, 1..=128) | resource_name
//!          | len(perimeter_id) (u8, 0..=128) | perimeter_id | nonce (12) | AES-256-GCM(DEK) | tag (16)
//! ```
//!
//! The AES-256-GCM key is the version's KACLS KEK (HKDF of the version root, separate from the
//! `kms` layout's KEK, [`crate::crypto::VersionKeys::kacls_kek`]); its additional data is
//! `"keyseal-kms/v1 kacls\0" ‖ key_id ‖ 0x00 ‖ everything before the nonce`, so the version,
//! resource name and perimeter are authenticated, and readable without the key: unwrap compares
//! them with the token before any key is loaded, and a swapped resource is a precise 403, while
//! an edited header fails authentication (400).

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::crypto::{self, b64};
use crate::error::{Error, Result};
use crate::http::Shared;
use crate::kacls_tokens::{AUTHZ_AUDIENCE, AuthnClaims, AuthzClaims, Issuers};
use crate::service::Call;
use crate::store::Store;

/// Most bytes of `resource_name` and `perimeter_id` (Google's limit).
pub const MAX_NAME: usize = 128;
/// Most bytes of `reason` (Google's limit: 1 KB).
pub const MAX_REASON: usize = 1024;
/// Accepted DEK sizes in bytes.
pub const DEK_LEN: std::ops::RangeInclusive<usize> = 16..=64;
/// Path of the KACLS API under the listener's base URL.
pub const PATH: &str = "/kacls/v1";

const MAGIC: [u8; 2] = [b'K', 0x01];
const AAD_PREFIX: &[u8] = b"keyseal-kms/v1 kacls\0";

/// Roles of Google's authorization tokens allowed per operation.
const WRAP_ROLES: &[&str] = &["writer", "upgrader"];
const UNWRAP_ROLES: &[&str] = &["reader", "writer"];
const REWRAP_ROLES: &[&str] = &["migrator"];
const DIGEST_ROLES: &[&str] = &["verifier"];

/// The `serve` flags of the KACLS API.
#[derive(Debug, Clone)]
pub struct KaclsOptions {
    /// `--kacls-key`: the keyseal key whose versions wrap the DEKs.
    pub key_id: String,
    /// `--kacls-authn-issuer`: JWKS files of the customer's IdP (authentication tokens).
    pub authn_issuers: Vec<PathBuf>,
    /// `--kacls-authz-issuer`: JWKS files of the application's authorization issuer.
    pub authz_issuers: Vec<PathBuf>,
    /// `--kacls-url`: this server's public KACLS URL (default `<listener base URL>/kacls/v1`).
    pub url: Option<String>,
    /// `--kacls-authn-audience`.
    pub authn_audience: String,
    /// `--kacls-privileged-email`: who may call `privilegedunwrap`.
    pub privileged_emails: Vec<String>,
}

/// The KACLS API's state: key, issuers, own URL and the privileged grant.
pub struct Kacls {
    key_id: String,
    authn: Issuers,
    authz: Issuers,
    url: OnceLock<String>,
    privileged: Vec<String>,
}

fn trim_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

fn denied(msg: impl Into<String>) -> Error {
    Error::AccessDenied(msg.into())
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidRequest(msg.into())
}

impl Kacls {
    /// Loads the issuers and checks the key exists in `store`.
    pub fn new(opts: &KaclsOptions, store: &Store) -> Result<Kacls> {
        if crate::key_id::split(&opts.key_id).is_none() {
            return Err(bad(format!("--kacls-key: {}", crate::key_id::SYNTAX)));
        }
        store.origin(&opts.key_id)?;
        if opts.authn_issuers.is_empty() || opts.authz_issuers.is_empty() {
            return Err(bad(
                "--kacls-key needs at least one --kacls-authn-issuer and one --kacls-authz-issuer",
            ));
        }
        let mut authn = Issuers::new("authentication", &opts.authn_audience);
        for p in &opts.authn_issuers {
            let iss = authn.add_jwks_file(p)?;
            eprintln!(
                "keyseal-kms: KACLS trusts authentication issuer {iss:?} from {}",
                p.display()
            );
        }
        let mut authz = Issuers::new("authorization", AUTHZ_AUDIENCE);
        for p in &opts.authz_issuers {
            let iss = authz.add_jwks_file(p)?;
            eprintln!(
                "keyseal-kms: KACLS trusts authorization issuer {iss:?} from {}",
                p.display()
            );
        }
        let url = OnceLock::new();
        if let Some(u) = &opts.url {
            let _ = url.set(trim_slash(u).to_string());
        }
        Ok(Kacls {
            key_id: opts.key_id.clone(),
            authn,
            authz,
            url,
            privileged: opts.privileged_emails.iter().map(|e| e.to_lowercase()).collect(),
        })
    }

    /// Sets the URL to `<base>/kacls/v1` unless `--kacls-url` gave one (`base` is
    /// `http(s)://ADDR`, known once the listener is bound).
    pub fn set_default_url(&self, base: &str) {
        let _ = self.url.set(format!("{}{PATH}", trim_slash(base)));
    }

    /// This server's KACLS URL, compared with every authorization token's `kacls_url`.
    pub fn url(&self) -> &str {
        self.url.get().map_or("", String::as_str)
    }

    /// The key id of `--kacls-key`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Verifies the authentication token; records the user as the call's subject.
    fn authenticate(&self, call: &mut Call, token: &str) -> Result<String> {
        let authn: AuthnClaims = self.authn.verify(token)?;
        let who = authn
            .identity()
            .ok_or_else(|| Error::Unauthenticated("authentication token has no email".into()))?
            .to_string();
        call.event.subject = who.clone();
        Ok(who)
    }

    /// Verifies the authorization token and its claims for `op`: email equal to `who` (when an
    /// authentication token was given), role in `roles`, `kacls_url` this server's, and the
    /// resource name and perimeter within their limits.
    fn authorize(
        &self,
        call: &mut Call,
        who: Option<&str>,
        token: &str,
        roles: &[&str],
        op: &str,
    ) -> Result<AuthzClaims> {
        let authz: AuthzClaims = self.authz.verify(token)?;
        let email = authz
            .email
            .as_deref()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| denied("authorization token has no email"))?;
        match who {
            Some(who) if who.to_lowercase() != email.to_lowercase() => {
                return Err(denied(
                    "the authorization token's email does not match the authenticated user",
                ));
            }
            Some(_) => {}
            None => call.event.subject = email.to_string(),
        }
        let role = authz.role.as_deref().unwrap_or_default();
        call.event.detail = format!("role={role:?}");
        if !roles.contains(&role) {
            return Err(denied(format!(
                "role {role:?} may not call {op} (allowed: {})",
                roles.join(", ")
            )));
        }
        let url = authz.kacls_url.as_deref().unwrap_or_default();
        if trim_slash(url) != self.url() {
            return Err(denied(
                "the authorization token is for another KACLS (kacls_url differs from this server's)",
            ));
        }
        let resource = authz.resource_name.as_deref().unwrap_or_default();
        let perimeter = authz.perimeter_id.as_deref().unwrap_or_default();
        check_name("resource_name", resource, true)?;
        check_name("perimeter_id", perimeter, false)?;
        call.event.detail = format!(
            "resource_name={}; perimeter_id={}; role={role:?}",
            quoted(resource),
            quoted(perimeter)
        );
        Ok(authz)
    }

    /// `POST /wrap`.
    fn wrap(&self, store: &Store, req: &WrapRequest, call: &mut Call) -> Result<WrapAnswer> {
        check_reason(call, req.reason.as_deref())?;
        let who = self.authenticate(call, &req.authentication)?;
        let authz = self.authorize(call, Some(&who), &req.authorization, WRAP_ROLES, "wrap")?;
        let dek = Zeroizing::new(b64::dec(&req.key).ok_or_else(|| bad("key is not standard base64"))?);
        if !DEK_LEN.contains(&dek.len()) {
            return Err(bad(format!(
                "key must be {} to {} bytes",
                DEK_LEN.start(),
                DEK_LEN.end()
            )));
        }
        let loaded = store.reserve_wrap(&self.key_id)?;
        call.event.key_version = Some(loaded.version);
        let kek = loaded.keys.kacls_kek()?;
        let wrapped = seal(
            &kek,
            &self.key_id,
            loaded.version,
            authz.resource_name.as_deref().unwrap_or_default(),
            authz.perimeter_id.as_deref().unwrap_or_default(),
            &dek,
        )?;
        Ok(WrapAnswer {
            wrapped_key: b64::enc(&wrapped),
        })
    }

    /// Opens `wrapped` after checking it was made for `resource` (and `perimeter`, unless
    /// `None`); records its version.
    fn open(
        &self,
        store: &Store,
        call: &mut Call,
        wrapped: &str,
        resource: &str,
        perimeter: Option<&str>,
    ) -> Result<Opened> {
        let bytes = b64::dec(wrapped).ok_or_else(|| bad("wrapped_key is not standard base64"))?;
        let parsed = parse(&bytes)?;
        call.event.key_version = Some(parsed.version);
        if parsed.resource != resource.as_bytes() {
            return Err(denied("the wrapped key was made for another resource_name"));
        }
        if let Some(p) = perimeter
            && parsed.perimeter != p.as_bytes()
        {
            return Err(denied("the wrapped key was made for another perimeter_id"));
        }
        let loaded = store.load(&self.key_id, Some(parsed.version))?;
        let kek = loaded.keys.kacls_kek()?;
        let dek = crypto::open(&kek, &aad(&self.key_id, parsed.header), parsed.sealed)
            .map_err(|_| Error::InvalidCiphertext("wrapped_key is not authentic".into()))?;
        Ok(Opened {
            dek,
            perimeter: String::from_utf8_lossy(parsed.perimeter).into_owned(),
        })
    }

    /// `POST /unwrap`.
    fn unwrap(&self, store: &Store, req: &UnwrapRequest, call: &mut Call) -> Result<KeyAnswer> {
        check_reason(call, req.reason.as_deref())?;
        let who = self.authenticate(call, &req.authentication)?;
        let authz = self.authorize(call, Some(&who), &req.authorization, UNWRAP_ROLES, "unwrap")?;
        let opened = self.open(
            store,
            call,
            &req.wrapped_key,
            authz.resource_name.as_deref().unwrap_or_default(),
            Some(authz.perimeter_id.as_deref().unwrap_or_default()),
        )?;
        Ok(KeyAnswer {
            key: Secret(Zeroizing::new(b64::enc(&opened.dek))),
        })
    }

    /// `POST /rewrap`: a key this KACLS wrapped, wrapped again under the key's primary version.
    fn rewrap(&self, store: &Store, req: &RewrapRequest, call: &mut Call) -> Result<RewrapAnswer> {
        check_reason(call, req.reason.as_deref())?;
        let authz = self.authorize(call, None, &req.authorization, REWRAP_ROLES, "rewrap")?;
        if trim_slash(&req.original_kacls_url) != self.url() {
            return Err(bad(
                "original_kacls_url is not this KACLS: it rewraps only keys it wrapped itself",
            ));
        }
        let resource = authz.resource_name.as_deref().unwrap_or_default();
        let perimeter = authz.perimeter_id.as_deref().unwrap_or_default();
        let opened = self.open(store, call, &req.wrapped_key, resource, Some(perimeter))?;
        let loaded = store.reserve_wrap(&self.key_id)?;
        call.event.key_version = Some(loaded.version);
        let kek = loaded.keys.kacls_kek()?;
        let wrapped = seal(
            &kek,
            &self.key_id,
            loaded.version,
            resource,
            perimeter,
            &opened.dek,
        )?;
        Ok(RewrapAnswer {
            resource_key_hash: resource_key_hash(&opened.dek, resource, perimeter)?,
            wrapped_key: b64::enc(&wrapped),
        })
    }

    /// `POST /digest`.
    fn digest(&self, store: &Store, req: &DigestRequest, call: &mut Call) -> Result<DigestAnswer> {
        check_reason(call, req.reason.as_deref())?;
        let authz = self.authorize(call, None, &req.authorization, DIGEST_ROLES, "digest")?;
        let resource = authz.resource_name.as_deref().unwrap_or_default();
        let perimeter = authz.perimeter_id.as_deref().unwrap_or_default();
        let opened = self.open(store, call, &req.wrapped_key, resource, Some(perimeter))?;
        Ok(DigestAnswer {
            resource_key_hash: resource_key_hash(&opened.dek, resource, perimeter)?,
        })
    }

    /// `POST /privilegedunwrap`: only for the emails of `--kacls-privileged-email`.
    fn privileged_unwrap(
        &self,
        store: &Store,
        req: &PrivilegedUnwrapRequest,
        call: &mut Call,
    ) -> Result<KeyAnswer> {
        check_reason(call, req.reason.as_deref())?;
        let who = self.authenticate(call, &req.authentication)?;
        check_name("resource_name", &req.resource_name, true)?;
        call.event.detail = format!("resource_name={}", quoted(&req.resource_name));
        if !self.privileged.contains(&who.to_lowercase()) {
            return Err(denied(
                "privilegedunwrap needs an explicit grant (--kacls-privileged-email); the authenticated user has none",
            ));
        }
        // A privileged unwrap is not tied to the document's perimeter: the resource name only.
        let opened = self.open(store, call, &req.wrapped_key, &req.resource_name, None)?;
        call.event.detail = format!(
            "resource_name={}; perimeter_id={}; privileged",
            quoted(&req.resource_name),
            quoted(&opened.perimeter)
        );
        Ok(KeyAnswer {
            key: Secret(Zeroizing::new(b64::enc(&opened.dek))),
        })
    }
}

/// A name as the audit detail shows it (JSON-quoted, so no control characters reach a log).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn check_name(what: &str, v: &str, required: bool) -> Result<()> {
    if required && v.is_empty() {
        return Err(bad(format!("{what} is missing or empty")));
    }
    if v.len() > MAX_NAME {
        return Err(bad(format!("{what} is over {MAX_NAME} bytes")));
    }
    Ok(())
}

/// Keeps the reason in the audit row (control characters replaced, at most [`MAX_REASON`]
/// bytes) and refuses one over the limit.
fn check_reason(call: &mut Call, reason: Option<&str>) -> Result<()> {
    let r = reason.unwrap_or_default();
    let mut kept: String = r.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::store::audit::truncate(&mut kept, MAX_REASON);
    call.event.reason = kept;
    if r.len() > MAX_REASON {
        return Err(bad(format!("reason is over {MAX_REASON} bytes")));
    }
    Ok(())
}

/// Google's resource key hash: base64 of HMAC-SHA256 keyed with the DEK over
/// `"ResourceKeyDigest:" ‖ resource_name ‖ ":" ‖ perimeter_id`.
pub fn resource_key_hash(dek: &[u8], resource: &str, perimeter: &str) -> Result<String> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(dek)
        .map_err(|_| Error::Internal("HMAC key".into()))?;
    mac.update(b"ResourceKeyDigest:");
    mac.update(resource.as_bytes());
    mac.update(b":");
    mac.update(perimeter.as_bytes());
    Ok(b64::enc(&mac.finalize().into_bytes()))
}

fn aad(key_id: &str, header: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_PREFIX.len() + key_id.len() + 1 + header.len());
    a.extend_from_slice(AAD_PREFIX);
    a.extend_from_slice(key_id.as_bytes());
    a.push(0);
    a.extend_from_slice(header);
    a
}

/// Builds a wrapped key (layout in the module documentation).
pub fn seal(
    kek: &[u8; 32],
    key_id: &str,
    version: u32,
    resource: &str,
    perimeter: &str,
    dek: &[u8],
) -> Result<Vec<u8>> {
    let len = |s: &str| u8::try_from(s.len()).map_err(|_| bad("name over 255 bytes"));
    let mut out = Vec::with_capacity(8 + resource.len() + perimeter.len() + 28 + dek.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.push(len(resource)?);
    out.extend_from_slice(resource.as_bytes());
    out.push(len(perimeter)?);
    out.extend_from_slice(perimeter.as_bytes());
    let sealed = crypto::seal(kek, &aad(key_id, &out), dek)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// A wrapped key split into its parts (not yet authenticated).
pub struct Parsed<'a> {
    /// Key version.
    pub version: u32,
    /// Resource name bytes.
    pub resource: &'a [u8],
    /// Perimeter bytes (empty when none).
    pub perimeter: &'a [u8],
    /// Everything before the nonce (the additional data's tail).
    header: &'a [u8],
    /// nonce ‖ ciphertext ‖ tag.
    sealed: &'a [u8],
}

/// Splits a wrapped key; a malformed one is `InvalidCiphertext`.
pub fn parse(w: &[u8]) -> Result<Parsed<'_>> {
    let malformed = || Error::InvalidCiphertext("wrapped_key is not a keyseal KACLS wrapped key".into());
    if w.len() < 7 || w[..2] != MAGIC {
        return Err(malformed());
    }
    let version = u32::from_be_bytes([w[2], w[3], w[4], w[5]]);
    let rlen = usize::from(w[6]);
    let r_end = 7 + rlen;
    let plen = usize::from(*w.get(r_end).ok_or_else(malformed)?);
    let p_end = r_end + 1 + plen;
    if rlen == 0 || rlen > MAX_NAME || plen > MAX_NAME || w.len() < p_end + 12 + 16 {
        return Err(malformed());
    }
    Ok(Parsed {
        version,
        resource: &w[7..r_end],
        perimeter: &w[r_end + 1..p_end],
        header: &w[..p_end],
        sealed: &w[p_end..],
    })
}

struct Opened {
    dek: Zeroizing<Vec<u8>>,
    perimeter: String,
}

/// A secret string of an answer: zeroized on drop, never printed.
struct Secret(Zeroizing<String>);

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// `POST /wrap` body.
#[derive(Deserialize)]
struct WrapRequest {
    #[serde(default)]
    authentication: String,
    #[serde(default)]
    authorization: String,
    key: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /unwrap` body.
#[derive(Deserialize)]
struct UnwrapRequest {
    #[serde(default)]
    authentication: String,
    #[serde(default)]
    authorization: String,
    wrapped_key: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /rewrap` body.
#[derive(Deserialize)]
struct RewrapRequest {
    #[serde(default)]
    authorization: String,
    original_kacls_url: String,
    wrapped_key: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /digest` body.
#[derive(Deserialize)]
struct DigestRequest {
    #[serde(default)]
    authorization: String,
    wrapped_key: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /privilegedunwrap` body.
#[derive(Deserialize)]
struct PrivilegedUnwrapRequest {
    #[serde(default)]
    authentication: String,
    resource_name: String,
    wrapped_key: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Serialize)]
struct WrapAnswer {
    wrapped_key: String,
}

#[derive(Serialize)]
struct KeyAnswer {
    key: Secret,
}

#[derive(Serialize)]
struct RewrapAnswer {
    resource_key_hash: String,
    wrapped_key: String,
}

#[derive(Serialize)]
struct DigestAnswer {
    resource_key_hash: String,
}

/// `GET /status`.
#[derive(Serialize)]
struct StatusAnswer {
    server_type: &'static str,
    vendor_id: &'static str,
    version: &'static str,
    name: &'static str,
    operations_supported: [&'static str; 6],
}

/// The HTTP status a KACLS error is answered with (Google's structured errors): 400 invalid
/// argument, 401 bad token, 403 permission denied (also a disabled or destroyed key), 500/503.
pub fn status_of(e: &Error) -> u16 {
    match e {
        Error::InvalidRequest(_) | Error::InvalidCiphertext(_) | Error::ContextMismatch(_) => 400,
        Error::Unauthenticated(_) => 401,
        Error::AccessDenied(_) | Error::KeyDisabled { .. } | Error::KeyDestroyed(_) => 403,
        Error::NotFound(_) => 404,
        Error::MethodNotAllowed(_) => 405,
        Error::PayloadTooLarge(_) => 413,
        Error::Throttled(_) => 429,
        Error::Unavailable(_) => 503,
        _ => 500,
    }
}

/// Google's structured error reply `{code, message, details}`; `details` is keyseal's stable
/// error name.
pub fn error_response(e: &Error) -> Response {
    let code = status_of(e);
    let body = serde_json::json!({
        "code": code,
        "message": e.message(),
        "details": e.name().as_str(),
    });
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(body)).into_response();
    if code == 429 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn respond<T: Serialize>(result: Result<T>) -> Response {
    match result {
        Ok(v) => crate::http::ok_no_store(v),
        Err(e) => error_response(&e),
    }
}

/// Records the outcome in the row: the error's message before what was learnt of the call.
fn settle<T>(call: &mut Call, result: &Result<T>) {
    match result {
        Ok(_) => call.event.outcome = "ok".into(),
        Err(e) => {
            call.event.outcome = e.name().as_str().into();
            call.event.detail = if call.event.detail.is_empty() {
                e.message().to_string()
            } else {
                format!("{}; {}", e.message(), call.event.detail)
            };
        }
    }
}

type Op<Req, Ans> = fn(&Kacls, &Store, &Req, &mut Call) -> Result<Ans>;

/// One KACLS call on a worker (in-flight limit, metrics), audited whatever its outcome.
async fn call<Req, Ans>(
    app: Shared,
    name: &'static str,
    body: std::result::Result<Bytes, BytesRejection>,
    op: Op<Req, Ans>,
) -> Response
where
    Req: DeserializeOwned + 'static,
    Ans: Serialize + Send + 'static,
{
    let work = move |app: &crate::http::App| {
        let Some(k) = app.kacls.get() else {
            return Err(Error::NotFound("the KACLS API is not enabled".into()));
        };
        let mut call = Call::new(name, &k.key_id, None);
        let result =
            crate::http::parse_body::<Req>(&body).and_then(|req| op(k, app.service.store(), &req, &mut call));
        settle(&mut call, &result);
        app.service.finish(call, result)
    };
    crate::http::run_with(app, name, work, respond::<Ans>).await
}

async fn status() -> Response {
    respond(Ok(StatusAnswer {
        server_type: "KACLS",
        vendor_id: "keyseal",
        version: env!("CARGO_PKG_VERSION"),
        name: "keyseal-kms",
        operations_supported: ["wrap", "unwrap", "rewrap", "digest", "privilegedunwrap", "status"],
    }))
}

async fn wrap(State(app): State<Shared>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    call(app, "kacls.wrap", body, Kacls::wrap).await
}

async fn unwrap(State(app): State<Shared>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    call(app, "kacls.unwrap", body, Kacls::unwrap).await
}

async fn rewrap(State(app): State<Shared>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    call(app, "kacls.rewrap", body, Kacls::rewrap).await
}

async fn digest(State(app): State<Shared>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    call(app, "kacls.digest", body, Kacls::digest).await
}

async fn privileged_unwrap(
    State(app): State<Shared>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    call(app, "kacls.privilegedunwrap", body, Kacls::privileged_unwrap).await
}

/// The routes under [`PATH`] (nested by [`crate::http::router`] when the API is enabled).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/status", get(status))
        .route("/wrap", post(wrap))
        .route("/unwrap", post(unwrap))
        .route("/rewrap", post(rewrap))
        .route("/digest", post(digest))
        .route("/privilegedunwrap", post(privileged_unwrap))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resource_key_hash_matches_googles_example() {
        // Google's example: resource "my_resource", perimeter "my_perimeter", DEK 0xf00d; the
        // value was computed with the document's own command, independently of this code:
        // echo -n "ResourceKeyDigest:my_resource:my_perimeter" \
        //   | openssl sha256 -mac HMAC -macopt hexkey:f00d -binary | base64
        let h = resource_key_hash(&[0xf0, 0x0d], "my_resource", "my_perimeter").unwrap();
        assert_eq!(h, "EfRLb/AKdtsPSfX+vZ/Pi8h6bmKhBTu4egOABRnEdCg=");
        assert_ne!(
            resource_key_hash(&[0xf0, 0x0d], "my_resource", "").unwrap(),
            h,
            "the perimeter is part of the hash"
        );
    }

    #[test]
    fn layout_round_trip_and_tamper() {
        let kek = [3u8; 32];
        let w = seal(&kek, "acme/k", 7, "res", "per", &[9u8; 32]).unwrap();
        let p = parse(&w).unwrap();
        assert_eq!(
            (p.version, p.resource, p.perimeter),
            (7, &b"res"[..], &b"per"[..])
        );
        assert_eq!(
            *crypto::open(&kek, &aad("acme/k", p.header), p.sealed).unwrap(),
            vec![9u8; 32]
        );
        // the resource name is authenticated: editing it in place breaks the tag
        let mut t = w.clone();
        t[7] = b'x';
        let p = parse(&t).unwrap();
        assert!(crypto::open(&kek, &aad("acme/k", p.header), p.sealed).is_err());
        assert!(parse(&w[..20]).is_err());
        assert!(parse(b"KX").is_err());
    }
}
