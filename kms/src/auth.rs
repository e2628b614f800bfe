//! Token verification and minting (docs/PROTOCOL.md §4).
//!
//! Library choice: `jsonwebtoken` 12 with its `rust_crypto` backend. It is the most used JWT crate,
//! does strict `alg` checking and the standard `exp`/`nbf`/`aud`/`iss` validation with a leeway,
//! parses JWKs, and its pure-Rust backend sits on exactly the `p256` 0.14 / `sha2` 0.11 versions the
//! core already uses (one copy of each, no C toolchain, no aws-lc). `jwt-simple` would add a second
//! `p256` generation and more surface. We only accept ES256; every other `alg` is refused before any
//! key is looked up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use keyseal_protocol::Token;
use p256::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, b64};
use crate::error::{Error, Result};

/// Issuer name of the service's own (local/dev) token issuer.
pub const LOCAL_ISSUER: &str = "keyseal-kms-local";
/// Default audience.
pub const DEFAULT_AUDIENCE: &str = "keyseal-kms";
/// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// A role carried in the `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Unwrap only.
    Reader,
    /// Generate, wrap, unwrap, rewrap.
    Writer,
    /// Key management.
    Admin,
}

impl Role {
    /// Parse a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    /// Role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `sub` claim.
    pub subject: String,
    /// `tenant` claim.
    pub tenant: String,
    /// `role` claim.
    pub role: Role,
}

#[derive(Debug, Deserialize)]
struct VerifiedClaims {
    exp: i64,
    sub: String,
    tenant: String,
    role: String,
}

#[derive(Debug, Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

#[derive(Debug, Serialize)]
struct MintClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    tenant: &'a str,
    role: &'a str,
}

struct IssuerKey {
    kid: Option<String>,
    key: DecodingKey,
}

/// An issuer trusted by the policy in the store (src/policy.rs; PROTOCOL.md §8.6): its tokens are
/// accepted only for the tenants and roles the policy grants it.
struct PolicyIssuer {
    keys: Vec<IssuerKey>,
    /// Tenants its tokens may name; `*` is any.
    tenants: Vec<String>,
    roles: Vec<Role>,
}

/// The issuers of the stored policy, and the fingerprint (SHA-256 of the sealed policy) they were
/// loaded from.
#[derive(Default)]
struct PolicyIssuers {
    fingerprint: Option<[u8; 32]>,
    by_name: HashMap<String, PolicyIssuer>,
}

/// A trusted issuer as the policy stores it (PROTOCOL.md §8.6): the `iss` name, its public JWKs
/// and what its tokens may claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The `iss` claim.
    pub issuer: String,
    /// Its public keys (EC P-256 JWKs, ES256).
    pub keys: Vec<serde_json::Value>,
    /// Tenants its tokens may name (`*`: any).
    pub tenants: Vec<String>,
    /// Roles its tokens may carry.
    pub roles: Vec<String>,
}

/// The usable ES256 keys of a JWK list; `what` names the source in errors.
fn es256_keys(keys: &[serde_json::Value], what: &str) -> Result<Vec<IssuerKey>> {
    let mut out = Vec::new();
    for k in keys {
        let s = |name: &str| k.get(name).and_then(|x| x.as_str());
        if s("kty") != Some("EC") || s("crv") != Some("P-256") {
            continue;
        }
        if let Some(alg) = s("alg")
            && alg != "ES256"
        {
            continue;
        }
        let (Some(x), Some(y)) = (s("x"), s("y")) else {
            continue;
        };
        let key = DecodingKey::from_ec_components(x, y)
            .map_err(|e| Error::InvalidRequest(format!("{what}: bad key: {e}")))?;
        out.push(IssuerKey {
            kid: s("kid").map(str::to_string),
            key,
        });
    }
    if out.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{what}: no EC P-256 keys usable for ES256"
        )));
    }
    Ok(out)
}

/// Reads a JWKS file with a top-level `issuer` member (`--issuer`, `--kacls-authn-issuer`, …):
/// the issuer's name and its JWKs, unchecked.
pub fn read_jwks_file(path: &Path) -> Result<(String, Vec<serde_json::Value>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::InvalidRequest(format!("cannot read {}: {e}", path.display())))?;
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidRequest(format!("{}: not JSON: {e}", path.display())))?;
    let issuer = v
        .get("issuer")
        .and_then(|i| i.as_str())
        .ok_or_else(|| Error::InvalidRequest(format!("{}: missing string member `issuer`", path.display())))?
        .to_string();
    let keys = match v.get_mut("keys").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(keys)) => keys,
        _ => {
            return Err(Error::InvalidRequest(format!(
                "{}: missing array `keys`",
                path.display()
            )));
        }
    };
    Ok((issuer, keys))
}

/// Checks a policy issuer's JWKs: the count of usable ES256 keys.
pub fn check_jwks(keys: &[serde_json::Value], what: &str) -> Result<usize> {
    es256_keys(keys, what).map(|k| k.len())
}

/// Most verified tokens remembered (the cache is cleared when full).
const CACHE_MAX: usize = 10_000;

/// Verifies tokens against the trusted issuers. Successfully verified tokens are remembered
/// (keyed by their SHA-256) until their `exp` (plus the leeway), so a client that reuses its token
/// pays for one ECDSA verification, not one per request.
pub struct Verifier {
    audience: String,
    issuers: HashMap<String, Vec<IssuerKey>>,
    policy: RwLock<PolicyIssuers>,
    cache: Mutex<HashMap<[u8; 32], (Principal, i64)>>,
}

fn unauth(msg: impl Into<String>) -> Error {
    Error::Unauthenticated(msg.into())
}

/// `kid` of a P-256 public key: first 16 hex digits of SHA-256 of its SEC1 encoding.
pub fn kid_of(public_sec1: &[u8]) -> String {
    crypto::sha256(&[public_sec1])[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Public key (SEC1 uncompressed) of a P-256 scalar.
pub fn public_of(secret: &[u8; 32]) -> Result<Vec<u8>> {
    let sk = p256::SecretKey::from_slice(secret).map_err(|_| Error::Internal("bad issuer key".into()))?;
    Ok(sk.public_key().to_sec1_bytes().to_vec())
}

/// A JWK (public) for a P-256 key given as SEC1 uncompressed bytes.
pub fn ec_jwk_xy(public_sec1: &[u8]) -> Result<(String, String)> {
    if public_sec1.len() != 65 || public_sec1[0] != 0x04 {
        return Err(Error::Internal("not an uncompressed P-256 point".into()));
    }
    Ok((b64::url(&public_sec1[1..33]), b64::url(&public_sec1[33..65])))
}

impl Verifier {
    /// A verifier for `audience` with no issuers.
    pub fn new(audience: &str) -> Self {
        Verifier {
            audience: audience.to_string(),
            issuers: HashMap::new(),
            policy: RwLock::new(PolicyIssuers::default()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Trust the local issuer (its public key).
    pub fn add_local(&mut self, public_sec1: &[u8]) -> Result<()> {
        let (x, y) = ec_jwk_xy(public_sec1)?;
        let key = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| Error::Internal(format!("local issuer key: {e}")))?;
        self.issuers
            .entry(LOCAL_ISSUER.to_string())
            .or_default()
            .push(IssuerKey {
                kid: Some(kid_of(public_sec1)),
                key,
            });
        Ok(())
    }

    /// Trust an issuer from a JWKS file: `{"issuer": "...", "keys": [EC P-256 JWKs]}`.
    pub fn add_jwks_file(&mut self, path: &Path) -> Result<String> {
        let (issuer, keys) = read_jwks_file(path)?;
        let found = es256_keys(&keys, &path.display().to_string())?;
        self.issuers.entry(issuer.clone()).or_default().extend(found);
        Ok(issuer)
    }

    /// The fingerprint of the stored policy the policy issuers were loaded from.
    pub fn policy_fingerprint(&self) -> Option<[u8; 32]> {
        self.policy.read().ok().and_then(|p| p.fingerprint)
    }

    /// Replaces the policy issuers (those of the policy sealed with `fingerprint`) and forgets
    /// every remembered token, so that a removed issuer or a narrowed grant holds from the next
    /// request. Issuers also given as files or the local issuer keep their unrestricted trust;
    /// the policy entry of the same name is ignored. Returns the names loaded.
    pub fn set_policy(&self, fingerprint: [u8; 32], issuers: &[TrustedIssuer]) -> Result<Vec<String>> {
        let mut by_name = HashMap::new();
        for t in issuers {
            if self.issuers.contains_key(&t.issuer) {
                continue;
            }
            let roles = t
                .roles
                .iter()
                .map(|r| Role::parse(r).ok_or_else(|| Error::InvalidRequest(format!("unknown role {r:?}"))))
                .collect::<Result<Vec<_>>>()?;
            let keys = es256_keys(&t.keys, &format!("issuer {:?}", t.issuer))?;
            by_name.insert(
                t.issuer.clone(),
                PolicyIssuer {
                    keys,
                    tenants: t.tenants.clone(),
                    roles,
                },
            );
        }
        let names = by_name.keys().cloned().collect();
        let mut policy = self
            .policy
            .write()
            .map_err(|_| Error::Internal("policy lock poisoned".into()))?;
        *policy = PolicyIssuers {
            fingerprint: Some(fingerprint),
            by_name,
        };
        drop(policy);
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
        Ok(names)
    }

    /// Verify a compact JWS and return the caller.
    pub fn verify(&self, token: &str) -> Result<Principal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(unauth("missing authorization token"));
        }
        let digest = crypto::sha256(&[token.as_bytes()]);
        let now = crate::store::now_ms() / 1000;
        if let Ok(cache) = self.cache.lock()
            && let Some((p, exp)) = cache.get(&digest)
            && now <= exp.saturating_add(LEEWAY_SECS as i64)
        {
            return Ok(p.clone());
        }
        let (p, exp) = self.verify_uncached(token)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(digest, (p.clone(), exp));
        }
        Ok(p)
    }

    fn verify_uncached(&self, token: &str) -> Result<(Principal, i64)> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauth("authorization is not a well-formed JWT"))?;
        if header.alg != Algorithm::ES256 {
            return Err(unauth("only ES256 tokens are accepted"));
        }
        let iss: IssOnly = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| unauth("authorization is not a well-formed JWT"))?;
        let iss = iss.iss.ok_or_else(|| unauth("token has no iss"))?;
        let policy = self
            .policy
            .read()
            .map_err(|_| Error::Internal("policy lock poisoned".into()))?;
        let (keys, grant) = match self.issuers.get(&iss) {
            Some(keys) => (keys, None),
            None => match policy.by_name.get(&iss) {
                Some(p) => (&p.keys, Some(p)),
                // The issuer is not verified yet: the message must not echo it (nor the audit log).
                None => return Err(unauth("token issuer is not trusted")),
            },
        };
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&iss]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut last_err = unauth("token signature does not verify");
        for k in keys {
            if let (Some(want), Some(have)) = (&header.kid, &k.kid)
                && want != have
            {
                continue;
            }
            match jsonwebtoken::decode::<VerifiedClaims>(token, &k.key, &validation) {
                Ok(data) => {
                    let c = data.claims;
                    let role = Role::parse(&c.role).ok_or_else(|| {
                        Error::AccessDenied("token role is not reader, writer or admin".into())
                    })?;
                    if c.tenant.is_empty() {
                        return Err(unauth("token has an empty tenant"));
                    }
                    if let Some(g) = grant {
                        // PROTOCOL.md §8.6: a policy issuer grants only what the policy lists.
                        if !g.roles.contains(&role) {
                            return Err(Error::AccessDenied(format!(
                                "issuer {iss:?} may not grant role {}",
                                role.as_str()
                            )));
                        }
                        if !g.tenants.iter().any(|t| t == "*" || *t == c.tenant) {
                            return Err(Error::AccessDenied(format!(
                                "issuer {iss:?} may not grant tenant {:?}",
                                c.tenant
                            )));
                        }
                    }
                    return Ok((
                        Principal {
                            subject: c.sub,
                            tenant: c.tenant,
                            role,
                        },
                        c.exp,
                    ));
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind as K;
                    last_err = match e.kind() {
                        K::InvalidSignature => unauth("token signature does not verify"),
                        K::ExpiredSignature => unauth("token has expired"),
                        K::ImmatureSignature => unauth("token is not valid yet (nbf)"),
                        K::InvalidAudience => unauth(format!("token audience is not {:?}", self.audience)),
                        K::InvalidIssuer => unauth("token issuer mismatch"),
                        K::MissingRequiredClaim(c) => unauth(format!("token has no {c} claim")),
                        K::Json(_) => unauth("token claims are malformed (need sub, tenant, role)"),
                        _ => unauth("token is invalid"),
                    };
                    if !matches!(e.kind(), K::InvalidSignature) {
                        return Err(last_err);
                    }
                }
            }
        }
        Err(last_err)
    }
}

/// Options for minting a token with the local issuer.
pub struct MintOptions<'a> {
    /// Tenant claim.
    pub tenant: &'a str,
    /// Role claim.
    pub role: Role,
    /// Subject.
    pub subject: &'a str,
    /// Audience.
    pub audience: &'a str,
    /// Lifetime in seconds (negative values mint already-expired tokens, for tests).
    pub ttl_secs: i64,
}

/// Mint an ES256 token signed by the local issuer.
pub fn mint(secret: &Zeroizing<[u8; 32]>, opts: &MintOptions<'_>) -> Result<String> {
    let sk =
        p256::SecretKey::from_slice(secret.as_ref()).map_err(|_| Error::Internal("bad issuer key".into()))?;
    let der = sk
        .to_pkcs8_der()
        .map_err(|_| Error::Internal("cannot encode issuer key".into()))?;
    let key = EncodingKey::from_ec_der(der.as_bytes());
    let public = sk.public_key().to_sec1_bytes();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid_of(&public));
    let now = crate::store::now_ms() / 1000;
    let claims = MintClaims {
        iss: LOCAL_ISSUER,
        sub: opts.subject,
        aud: opts.audience,
        iat: now,
        nbf: now,
        exp: now.saturating_add(opts.ttl_secs),
        tenant: opts.tenant,
        role: opts.role.as_str(),
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| Error::Internal(format!("cannot sign token: {e}")))
}

/// Mints a token with the local issuer of `store` (§4.3): `keyseal-kms token mint` and the dev
/// token of `serve --dev`.
pub fn mint_local(store: &crate::store::Store, opts: &MintOptions<'_>) -> Result<Token> {
    if !crate::key_id::is_tenant(opts.tenant) {
        return Err(Error::InvalidRequest(
            "tenant must be 1-64 of [A-Za-z0-9._-]".into(),
        ));
    }
    let secret = store.local_issuer_secret(false)?.ok_or_else(|| {
        Error::InvalidRequest(
            "this database has no local issuer: run `keyseal-kms init` or `serve --dev` first".into(),
        )
    })?;
    mint(&secret, opts).map(Token::new)
}
