//! The two JWTs of a Google Workspace client-side encryption call (docs/KEY-SERVICES.md
//! "keyseal-kms as a KACLS"): the customer IdP's *authentication* token (who the user is) and the
//! application's *authorization* token (what the user may do with which resource). Each is verified
//! against its own set of issuers, loaded from JWKS files with a top-level `issuer` member (the
//! format of `--issuer`, see [`crate::auth::Verifier::add_jwks_file`]).
//!
//! Accepted algorithms: ES256 (EC P-256 JWKs) and RS256 (RSA JWKs; Google signs its authorization
//! tokens with RSA). The RSA verification is jsonwebtoken's `rust_crypto` backend, whose `rsa`
//! crate is already in the build, so RS256 costs no new dependency. Every other `alg` is refused
//! before a key is looked up; a key is used only with the algorithm of its type.

use std::collections::HashMap;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::auth::LEEWAY_SECS;
use crate::error::{Error, Result};

/// Audience of authorization tokens (fixed by Google's API).
pub const AUTHZ_AUDIENCE: &str = "cse-authorization";
/// Default audience of authentication tokens (`--kacls-authn-audience`).
pub const DEFAULT_AUTHN_AUDIENCE: &str = "cse-authentication";

struct IssuerKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// A set of trusted issuers of one kind of token, and the audience its tokens must carry.
pub struct Issuers {
    /// What these tokens are, for messages: `authentication` or `authorization`.
    what: &'static str,
    audience: String,
    by_name: HashMap<String, Vec<IssuerKey>>,
}

/// The claims of a verified authentication token the KACLS uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthnClaims {
    /// The user's email at the IdP.
    #[serde(default)]
    pub email: Option<String>,
    /// The user's Google Workspace email when it differs from `email`.
    #[serde(default)]
    pub google_email: Option<String>,
    /// Issuance time (checked against the clock with the leeway).
    #[serde(default)]
    pub iat: Option<i64>,
}

impl AuthnClaims {
    /// The identity to compare with the authorization token's `email`: `google_email` when
    /// present, else `email` (Google's rule).
    pub fn identity(&self) -> Option<&str> {
        self.google_email
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.email.as_deref().filter(|s| !s.is_empty()))
    }
}

/// The claims of a verified authorization token the KACLS uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthzClaims {
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// `writer`, `reader`, `upgrader`, `migrator`, `verifier`, ...
    #[serde(default)]
    pub role: Option<String>,
    /// The KACLS the token was minted for.
    #[serde(default)]
    pub kacls_url: Option<String>,
    /// The object the DEK encrypts (at most 128 bytes).
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Optional perimeter tied to the document location (at most 128 bytes).
    #[serde(default)]
    pub perimeter_id: Option<String>,
    /// Issuance time (checked against the clock with the leeway).
    #[serde(default)]
    pub iat: Option<i64>,
}

fn unauth(msg: impl Into<String>) -> Error {
    Error::Unauthenticated(msg.into())
}

#[derive(Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

/// The usable keys of a JWK list: EC P-256 for ES256, RSA for RS256.
fn jwk_keys(keys: &[serde_json::Value], what: &str) -> Result<Vec<IssuerKey>> {
    let mut out = Vec::new();
    for k in keys {
        let s = |name: &str| k.get(name).and_then(|x| x.as_str());
        let kid = s("kid").map(str::to_string);
        let parsed = match (s("kty"), s("alg")) {
            (Some("EC"), None | Some("ES256")) if s("crv") == Some("P-256") => {
                let (Some(x), Some(y)) = (s("x"), s("y")) else {
                    continue;
                };
                DecodingKey::from_ec_components(x, y).map(|key| (Algorithm::ES256, key))
            }
            (Some("RSA"), None | Some("RS256")) => {
                let (Some(n), Some(e)) = (s("n"), s("e")) else {
                    continue;
                };
                DecodingKey::from_rsa_components(n, e).map(|key| (Algorithm::RS256, key))
            }
            _ => continue,
        };
        let (alg, key) = parsed.map_err(|e| Error::InvalidRequest(format!("{what}: bad key: {e}")))?;
        out.push(IssuerKey { kid, alg, key });
    }
    if out.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{what}: no key usable for ES256 (EC P-256) or RS256 (RSA)"
        )));
    }
    Ok(out)
}

impl Issuers {
    /// No issuers yet; tokens must carry `audience`.
    pub fn new(what: &'static str, audience: &str) -> Self {
        Issuers {
            what,
            audience: audience.to_string(),
            by_name: HashMap::new(),
        }
    }

    /// Whether no issuer is trusted.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Trusts the issuer of a JWKS file `{"issuer": "...", "keys": [JWKs]}`; returns its name.
    pub fn add_jwks_file(&mut self, path: &Path) -> Result<String> {
        let (issuer, keys) = crate::auth::read_jwks_file(path)?;
        let found = jwk_keys(&keys, &path.display().to_string())?;
        self.by_name.entry(issuer.clone()).or_default().extend(found);
        Ok(issuer)
    }

    /// Verifies `token` (signature, `iss`, `aud`, `exp` and `iat` with [`LEEWAY_SECS`]) and
    /// returns its claims. Messages never echo unverified claims.
    pub fn verify<C: serde::de::DeserializeOwned>(&self, token: &str) -> Result<C> {
        let what = self.what;
        let token = token.trim();
        if token.is_empty() {
            return Err(unauth(format!("missing {what} token")));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauth(format!("{what} token is not a well-formed JWT")))?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
            return Err(unauth(format!("{what} token: only ES256 and RS256 are accepted")));
        }
        let iss: IssOnly = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| unauth(format!("{what} token is not a well-formed JWT")))?;
        let iss = iss
            .iss
            .ok_or_else(|| unauth(format!("{what} token has no iss")))?;
        let Some(keys) = self.by_name.get(&iss) else {
            return Err(unauth(format!("{what} token issuer is not trusted")));
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&iss]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut last = unauth(format!("{what} token signature does not verify"));
        for k in keys {
            if k.alg != header.alg {
                continue;
            }
            if let (Some(want), Some(have)) = (&header.kid, &k.kid)
                && want != have
            {
                continue;
            }
            match jsonwebtoken::decode::<serde_json::Value>(token, &k.key, &validation) {
                Ok(data) => {
                    let now = crate::store::now_ms() / 1000;
                    if let Some(iat) = data.claims.get("iat") {
                        let iat = iat
                            .as_i64()
                            .ok_or_else(|| unauth(format!("{what} token iat is not a number")))?;
                        if iat > now.saturating_add(LEEWAY_SECS as i64) {
                            return Err(unauth(format!("{what} token is issued in the future (iat)")));
                        }
                    }
                    return serde_json::from_value(data.claims)
                        .map_err(|_| unauth(format!("{what} token claims are malformed")));
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind as K;
                    last = match e.kind() {
                        K::InvalidSignature => unauth(format!("{what} token signature does not verify")),
                        K::ExpiredSignature => unauth(format!("{what} token has expired")),
                        K::ImmatureSignature => unauth(format!("{what} token is not valid yet (nbf)")),
                        K::InvalidAudience => {
                            unauth(format!("{what} token audience is not {:?}", self.audience))
                        }
                        K::InvalidIssuer => unauth(format!("{what} token issuer mismatch")),
                        K::MissingRequiredClaim(c) => unauth(format!("{what} token has no {c} claim")),
                        _ => unauth(format!("{what} token is invalid")),
                    };
                    if !matches!(e.kind(), K::InvalidSignature) {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}
