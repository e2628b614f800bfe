//! `keyseal-kms serve --kacls-key`: Google Workspace client-side encryption's KACLS API against the
//! real binary (docs/KEY-SERVICES.md "keyseal-kms as a KACLS"). Authentication tokens are ES256
//! from a test IdP; authorization tokens are RS256, as Google signs them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Kms, b64, unb64};
use serde_json::{Value, json};

const IDP: &str = "https://idp.example";
const GOOGLE: &str = "gsuitecse-tokenissuer-drive@system.gserviceaccount.com";
const ALICE: &str = "alice@example.com";
const ADMIN: &str = "Admin@Example.com";
/// Google's example DEK (unwrap reference page).
const GOOGLE_DEK: &str = "0saNxttLMQULfXuTbRFJzi/QJokN1jW16u0yaNvvLdQ=";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An ES256 issuer: its signing key and JWKS file.
fn es_issuer(dir: &Path, file: &str, issuer: &str, seed: u8) -> (jsonwebtoken::EncodingKey, PathBuf) {
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::SecretKey::from_slice(&[seed; 32]).unwrap();
    let pt = sk.public_key().to_sec1_bytes();
    let jwks = json!({"issuer": issuer, "keys": [{"kty": "EC", "crv": "P-256", "kid": "e1", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&pt[1..33]), "y": URL_SAFE_NO_PAD.encode(&pt[33..65])}]});
    let path = dir.join(file);
    std::fs::write(&path, jwks.to_string()).unwrap();
    let der = sk.to_pkcs8_der().unwrap();
    (jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()), path)
}

fn es_token(key: &jsonwebtoken::EncodingKey, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("e1".into());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

/// An RS256 issuer (as Google's authorization issuer): its key pair and JWKS file.
fn rsa_issuer(dir: &Path, file: &str, issuer: &str) -> (KeyPair, PathBuf) {
    let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let pk = kp.public_key();
    let jwks = json!({"issuer": issuer, "keys": [{"kty": "RSA", "kid": "r1", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero())}]});
    let path = dir.join(file);
    std::fs::write(&path, jwks.to_string()).unwrap();
    (kp, path)
}

fn rs_token(kp: &KeyPair, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "kid": "r1"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A KACLS-mode key service with its two issuers.
struct Fx {
    kms: Kms,
    url: String,
    idp: jsonwebtoken::EncodingKey,
    google: KeyPair,
    _dir: tempfile::TempDir,
}

impl Fx {
    async fn start() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let (idp, authn) = es_issuer(dir.path(), "idp.jwks.json", IDP, 7);
        let (google, authz) = rsa_issuer(dir.path(), "google.jwks.json", GOOGLE);
        let kms = Kms::start(
            dir.path(),
            &[
                "--kacls-key",
                "acme/default",
                "--kacls-authn-issuer",
                authn.to_str().unwrap(),
                "--kacls-authz-issuer",
                authz.to_str().unwrap(),
                "--kacls-privileged-email",
                ADMIN,
            ],
        )
        .await;
        let url = kms.kacls_url.clone().expect("KEYSEAL_KACLS_URL line");
        Fx {
            kms,
            url,
            idp,
            google,
            _dir: dir,
        }
    }

    fn authn_claims(&self, email: &str) -> Value {
        json!({"iss": IDP, "aud": "cse-authentication", "email": email, "iat": now(), "exp": now() + 300})
    }

    fn authn(&self, email: &str) -> String {
        es_token(&self.idp, &self.authn_claims(email))
    }

    fn authz_claims(&self, email: &str, role: &str, resource: &str) -> Value {
        json!({"iss": GOOGLE, "aud": "cse-authorization", "email": email, "role": role,
            "resource_name": resource, "perimeter_id": "", "kacls_url": self.url,
            "iat": now(), "exp": now() + 300})
    }

    fn authz(&self, email: &str, role: &str, resource: &str) -> String {
        rs_token(&self.google, &self.authz_claims(email, role, resource))
    }

    async fn post(&self, op: &str, body: &Value) -> (u16, Value) {
        let r = self
            .kms
            .http
            .post(format!("{}/{op}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap())
    }

    /// Wraps `key` for `resource` as alice (writer).
    async fn wrap(&self, key: &str, resource: &str) -> String {
        let (s, v) = self
            .post(
                "wrap",
                &json!({"authentication": self.authn(ALICE), "authorization": self.authz(ALICE, "writer", resource),
                    "key": key, "reason": "{client:'drive' op:'write'}"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["wrapped_key"].as_str().unwrap().to_string()
    }

    fn unwrap_body(&self, wrapped: &str, authn: String, authz: String) -> Value {
        json!({"authentication": authn, "authorization": authz, "wrapped_key": wrapped,
            "reason": "{client:'drive' op:'read'}"})
    }

    async fn unwrap_as(&self, wrapped: &str, email: &str, role: &str, resource: &str) -> (u16, Value) {
        let body = self.unwrap_body(wrapped, self.authn(email), self.authz(email, role, resource));
        self.post("unwrap", &body).await
    }
}

/// Google's structured error: exactly `{code, message, details}`, `code` the HTTP status.
fn assert_kacls_error(got: &(u16, Value), status: u16, details: &str, message: &str) {
    let (s, v) = got;
    assert_eq!(*s, status, "{v}");
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "details", "message"], "{v}");
    assert_eq!(v["code"].as_u64(), Some(u64::from(status)), "{v}");
    assert_eq!(v["details"], details, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains(message),
        "message {:?} lacks {message:?}",
        v["message"]
    );
}

fn hmac_hash(dek: &[u8], resource: &str, perimeter: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(dek).unwrap();
    m.update(format!("ResourceKeyDigest:{resource}:{perimeter}").as_bytes());
    b64(&m.finalize().into_bytes())
}

fn fields(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn wrap_unwrap_rewrap_digest_round_trip() {
    let fx = Fx::start().await;
    let dek = b64(&[0x42u8; 32]);
    let wrapped = fx.wrap(&dek, "drive/file-1").await;
    // reader and writer unwrap
    for role in ["reader", "writer"] {
        let (s, v) = fx.unwrap_as(&wrapped, ALICE, role, "drive/file-1").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["key"], dek);
    }
    // upgrader wraps
    let (s, v) = fx
        .post(
            "wrap",
            &json!({"authentication": fx.authn(ALICE), "authorization": fx.authz(ALICE, "upgrader", "drive/file-2"), "key": dek, "reason": ""}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // digest (verifier) is Google's resource key hash of the DEK
    let (s, d) = fx
        .post(
            "digest",
            &json!({"authorization": fx.authz(ALICE, "verifier", "drive/file-1"), "wrapped_key": wrapped, "reason": "check"}),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        d["resource_key_hash"],
        hmac_hash(&[0x42u8; 32], "drive/file-1", "")
    );

    // rewrap (migrator) from this KACLS: a new wrapped key of the same DEK, same hash
    let (s, r) = fx
        .post(
            "rewrap",
            &json!({"authorization": fx.authz(ALICE, "migrator", "drive/file-1"), "original_kacls_url": fx.url,
                "wrapped_key": wrapped, "reason": "migration"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["resource_key_hash"], d["resource_key_hash"]);
    let rewrapped = r["wrapped_key"].as_str().unwrap();
    assert_ne!(rewrapped, wrapped);
    let (s, v) = fx.unwrap_as(rewrapped, ALICE, "reader", "drive/file-1").await;
    assert_eq!((s, v["key"].as_str()), (200, Some(dek.as_str())));

    // a rewrap from another KACLS is not something this one can open
    let got = fx
        .post(
            "rewrap",
            &json!({"authorization": fx.authz(ALICE, "migrator", "drive/file-1"),
                "original_kacls_url": "https://other-kacls.example/v1", "wrapped_key": wrapped}),
        )
        .await;
    assert_kacls_error(
        &got,
        400,
        "InvalidRequest",
        "original_kacls_url is not this KACLS",
    );
}

#[tokio::test]
async fn token_refusals_have_googles_status_and_shape() {
    let fx = Fx::start().await;
    let wrapped = fx.wrap(&b64(&[1u8; 32]), "res-1").await;
    let authz = || fx.authz(ALICE, "reader", "res-1");

    // missing authentication token
    let got = fx
        .post(
            "unwrap",
            &json!({"authorization": authz(), "wrapped_key": wrapped}),
        )
        .await;
    assert_kacls_error(&got, 401, "Unauthenticated", "missing authentication token");

    // forged: right iss and kid, signed by another key
    let (other, _) = es_issuer(fx._dir.path(), "forger.jwks.json", IDP, 9);
    let forged = es_token(&other, &fx.authn_claims(ALICE));
    let got = fx
        .post("unwrap", &fx.unwrap_body(&wrapped, forged, authz()))
        .await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authentication token signature does not verify",
    );

    // wrong issuer: the authorization issuer is not an authentication issuer (and vice versa)
    let mut c = fx.authn_claims(ALICE);
    c["iss"] = json!(GOOGLE);
    let as_authn = rs_token(&fx.google, &c);
    let got = fx
        .post("unwrap", &fx.unwrap_body(&wrapped, as_authn, authz()))
        .await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authentication token issuer is not trusted",
    );
    // the IdP's name on a token signed with another key type (RS256 where the IdP has ES256)
    let confused = rs_token(&fx.google, &fx.authn_claims(ALICE));
    let got = fx
        .post("unwrap", &fx.unwrap_body(&wrapped, confused, authz()))
        .await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authentication token signature does not verify",
    );
    let mut c = fx.authz_claims(ALICE, "reader", "res-1");
    c["iss"] = json!(IDP);
    let idp_authz = es_token(&fx.idp, &c);
    let got = fx
        .post("unwrap", &fx.unwrap_body(&wrapped, fx.authn(ALICE), idp_authz))
        .await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authorization token issuer is not trusted",
    );

    // expired authorization token (past the 30 s leeway)
    let mut c = fx.authz_claims(ALICE, "reader", "res-1");
    c["exp"] = json!(now() - 120);
    let got = fx
        .post(
            "unwrap",
            &fx.unwrap_body(&wrapped, fx.authn(ALICE), rs_token(&fx.google, &c)),
        )
        .await;
    assert_kacls_error(&got, 401, "Unauthenticated", "authorization token has expired");

    // authentication token for another audience
    let mut c = fx.authn_claims(ALICE);
    c["aud"] = json!("someone-else");
    let got = fx
        .post(
            "unwrap",
            &fx.unwrap_body(&wrapped, es_token(&fx.idp, &c), authz()),
        )
        .await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authentication token audience is not",
    );

    // issued in the future
    let mut c = fx.authn_claims(ALICE);
    c["iat"] = json!(now() + 3600);
    let got = fx
        .post(
            "unwrap",
            &fx.unwrap_body(&wrapped, es_token(&fx.idp, &c), authz()),
        )
        .await;
    assert_kacls_error(&got, 401, "Unauthenticated", "issued in the future");

    // HS256 is refused before any key is looked up
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &fx.authn_claims(ALICE),
        &jsonwebtoken::EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    let got = fx.post("unwrap", &fx.unwrap_body(&wrapped, hs, authz())).await;
    assert_kacls_error(&got, 401, "Unauthenticated", "only ES256 and RS256");
}

#[tokio::test]
async fn email_role_url_resource_and_perimeter_checks() {
    let fx = Fx::start().await;
    let dek = b64(&[2u8; 32]);
    let wrapped = fx.wrap(&dek, "res-a").await;

    // email mismatch between the two tokens
    let body = fx.unwrap_body(
        &wrapped,
        fx.authn("mallory@example.com"),
        fx.authz(ALICE, "reader", "res-a"),
    );
    let got = fx.post("unwrap", &body).await;
    assert_kacls_error(
        &got,
        403,
        "AccessDenied",
        "email does not match the authenticated user",
    );
    // case-insensitive match
    let body = fx.unwrap_body(
        &wrapped,
        fx.authn("ALICE@Example.COM"),
        fx.authz(ALICE, "reader", "res-a"),
    );
    assert_eq!(fx.post("unwrap", &body).await.0, 200);
    // google_email wins over email when present
    let mut c = fx.authn_claims("alice@corp-idp.example");
    c["google_email"] = json!(ALICE);
    let body = fx.unwrap_body(
        &wrapped,
        es_token(&fx.idp, &c),
        fx.authz(ALICE, "reader", "res-a"),
    );
    assert_eq!(fx.post("unwrap", &body).await.0, 200);
    let mut c = fx.authn_claims(ALICE);
    c["google_email"] = json!("bob@example.com");
    let body = fx.unwrap_body(
        &wrapped,
        es_token(&fx.idp, &c),
        fx.authz(ALICE, "reader", "res-a"),
    );
    assert_kacls_error(
        &fx.post("unwrap", &body).await,
        403,
        "AccessDenied",
        "email does not match",
    );

    // roles: a reader does not wrap, an upgrader or verifier does not unwrap
    let got = fx
        .post(
            "wrap",
            &json!({"authentication": fx.authn(ALICE), "authorization": fx.authz(ALICE, "reader", "res-b"), "key": dek}),
        )
        .await;
    assert_kacls_error(&got, 403, "AccessDenied", "role \"reader\" may not call wrap");
    for role in ["upgrader", "verifier", "migrator"] {
        let got = fx.unwrap_as(&wrapped, ALICE, role, "res-a").await;
        assert_kacls_error(
            &got,
            403,
            "AccessDenied",
            &format!("role \"{role}\" may not call unwrap"),
        );
    }
    let got = fx
        .post(
            "digest",
            &json!({"authorization": fx.authz(ALICE, "reader", "res-a"), "wrapped_key": wrapped}),
        )
        .await;
    assert_kacls_error(&got, 403, "AccessDenied", "may not call digest");

    // Google may send `aud` as an array; one member must be cse-authorization
    let mut c = fx.authz_claims(ALICE, "reader", "res-a");
    c["aud"] = json!(["cse-authorization", "cse-authorization1"]);
    let body = fx.unwrap_body(&wrapped, fx.authn(ALICE), rs_token(&fx.google, &c));
    assert_eq!(fx.post("unwrap", &body).await.0, 200);
    c["aud"] = json!(["cse-authentication"]);
    let body = fx.unwrap_body(&wrapped, fx.authn(ALICE), rs_token(&fx.google, &c));
    let got = fx.post("unwrap", &body).await;
    assert_kacls_error(
        &got,
        401,
        "Unauthenticated",
        "authorization token audience is not",
    );

    // a token minted for another KACLS
    let mut c = fx.authz_claims(ALICE, "reader", "res-a");
    c["kacls_url"] = json!("https://other-kacls.example/v1");
    let body = fx.unwrap_body(&wrapped, fx.authn(ALICE), rs_token(&fx.google, &c));
    let got = fx.post("unwrap", &body).await;
    assert_kacls_error(&got, 403, "AccessDenied", "for another KACLS");

    // resource swap: the wrapped key of res-a presented for res-b (a user who may read res-b)
    let got = fx.unwrap_as(&wrapped, ALICE, "reader", "res-b").await;
    assert_kacls_error(&got, 403, "AccessDenied", "made for another resource_name");
    let got = fx
        .post(
            "digest",
            &json!({"authorization": fx.authz(ALICE, "verifier", "res-b"), "wrapped_key": wrapped}),
        )
        .await;
    assert_kacls_error(&got, 403, "AccessDenied", "made for another resource_name");

    // perimeter: sealed at wrap, must match at unwrap
    let mut c = fx.authz_claims(ALICE, "writer", "res-p");
    c["perimeter_id"] = json!("eu-only");
    let (s, w) = fx
        .post(
            "wrap",
            &json!({"authentication": fx.authn(ALICE), "authorization": rs_token(&fx.google, &c), "key": dek}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    let wp = w["wrapped_key"].as_str().unwrap();
    let got = fx.unwrap_as(wp, ALICE, "reader", "res-p").await;
    assert_kacls_error(&got, 403, "AccessDenied", "made for another perimeter_id");
    let mut c = fx.authz_claims(ALICE, "reader", "res-p");
    c["perimeter_id"] = json!("eu-only");
    let body = fx.unwrap_body(wp, fx.authn(ALICE), rs_token(&fx.google, &c));
    let (s, v) = fx.post("unwrap", &body).await;
    assert_eq!((s, v["key"].as_str()), (200, Some(dek.as_str())));

    // the wrapped key's header is authenticated: renaming the resource inside it fails
    let mut raw = unb64(&wrapped);
    raw[7] = b'x'; // "res-a" -> "xes-a"
    let got = fx.unwrap_as(&b64(&raw), ALICE, "reader", "xes-a").await;
    assert_kacls_error(&got, 400, "InvalidCiphertext", "wrapped_key is not authentic");
    let got = fx
        .unwrap_as(&b64(b"not a wrapped key at all"), ALICE, "reader", "res-a")
        .await;
    assert_kacls_error(&got, 400, "InvalidCiphertext", "not a keyseal KACLS wrapped key");
}

#[tokio::test]
async fn rotation_disabled_key_and_privileged_unwrap() {
    let fx = Fx::start().await;
    let dek = b64(&[3u8; 32]);
    let w1 = fx.wrap(&dek, "res-r").await;
    assert_eq!(unb64(&w1)[2..6], 1u32.to_be_bytes());
    assert!(fx.kms.cli(&["key", "rotate", "acme/default"]).status.success());
    let w2 = fx.wrap(&dek, "res-r").await;
    assert_eq!(
        unb64(&w2)[2..6],
        2u32.to_be_bytes(),
        "wraps after rotate use the new version"
    );
    for w in [&w1, &w2] {
        let (s, v) = fx.unwrap_as(w, ALICE, "reader", "res-r").await;
        assert_eq!((s, v["key"].as_str()), (200, Some(dek.as_str())));
    }

    // privilegedunwrap: a valid authentication token is not enough (the mistake of a public
    // KACLS: any authenticated user could call it)
    let priv_body = |email: &str, resource: &str| json!({"authentication": fx.authn(email), "resource_name": resource, "wrapped_key": w1, "reason": "takeout"});
    let got = fx.post("privilegedunwrap", &priv_body(ALICE, "res-r")).await;
    assert_kacls_error(
        &got,
        403,
        "AccessDenied",
        "privilegedunwrap needs an explicit grant",
    );
    let got = fx
        .post(
            "privilegedunwrap",
            &json!({"resource_name": "res-r", "wrapped_key": w1}),
        )
        .await;
    assert_kacls_error(&got, 401, "Unauthenticated", "missing authentication token");
    // the granted admin (email compared case-insensitively) may, for the right resource only
    let (s, v) = fx
        .post("privilegedunwrap", &priv_body("admin@example.com", "res-r"))
        .await;
    assert_eq!((s, v["key"].as_str()), (200, Some(dek.as_str())), "{v}");
    let got = fx.post("privilegedunwrap", &priv_body(ADMIN, "res-other")).await;
    assert_kacls_error(&got, 403, "AccessDenied", "made for another resource_name");

    // a disabled key refuses wrap and unwrap with 403
    assert!(fx.kms.cli(&["key", "disable", "acme/default"]).status.success());
    let got = fx
        .post(
            "wrap",
            &json!({"authentication": fx.authn(ALICE), "authorization": fx.authz(ALICE, "writer", "res-r"), "key": dek}),
        )
        .await;
    assert_kacls_error(&got, 403, "KeyDisabled", "disabled");
    let got = fx.unwrap_as(&w1, ALICE, "reader", "res-r").await;
    assert_kacls_error(&got, 403, "KeyDisabled", "disabled");
}

#[tokio::test]
async fn conformance_with_the_api_documents_examples() {
    let fx = Fx::start().await;
    // status: Google's fields, server_type KACLS
    let r = fx
        .kms
        .http
        .get(format!("{}/status", fx.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let st: Value = r.json().await.unwrap();
    assert_eq!(
        fields(&st),
        [
            "name",
            "operations_supported",
            "server_type",
            "vendor_id",
            "version"
        ]
    );
    assert_eq!(st["server_type"], "KACLS");
    assert_eq!(st["vendor_id"], "keyseal");
    assert_eq!(st["name"], "keyseal-kms");
    assert_eq!(
        st["operations_supported"],
        json!(["wrap", "unwrap", "rewrap", "digest", "privilegedunwrap", "status"])
    );
    assert!(fx.url.ends_with("/kacls/v1"), "{}", fx.url);

    // the document's example DEK and reason, answer members exactly as documented
    let (s, w) = fx
        .post(
            "wrap",
            &json!({"key": GOOGLE_DEK, "authorization": fx.authz(ALICE, "writer", "doc-1"),
                "authentication": fx.authn(ALICE), "reason": "{client:'drive' op:'write'}"}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(fields(&w), ["wrapped_key"]);
    let wrapped = w["wrapped_key"].as_str().unwrap();
    assert!(unb64(wrapped).len() <= 1024, "wrapped_key max size 1 KB");
    let (s, u) = fx.unwrap_as(wrapped, ALICE, "reader", "doc-1").await;
    assert_eq!(s, 200);
    assert_eq!(fields(&u), ["key"]);
    assert_eq!(u["key"], GOOGLE_DEK);
    let (s, d) = fx
        .post("digest", &json!({"authorization": fx.authz(ALICE, "verifier", "doc-1"), "reason": "", "wrapped_key": wrapped}))
        .await;
    assert_eq!((s, fields(&d)), (200, vec!["resource_key_hash".to_string()]));
    let (s, r) = fx
        .post(
            "rewrap",
            &json!({"authorization": fx.authz(ALICE, "migrator", "doc-1"), "original_kacls_url": fx.url, "reason": "", "wrapped_key": wrapped}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(fields(&r), ["resource_key_hash", "wrapped_key"]);

    // the document's example wrapped key is another KACLS's: a structured 400
    let foreign = "7qTh6Mp+svVwYPlnZMyuj8WHTrM59wl/UI50jo61Qt/QubZ9tfsUc1sD62xdg3zgxC9quV4r+y7AkbfIDhbmxGqP64pWbZgFzOkP0JcSn+1xm/CB2E5IknKsAbwbYREGpiHM3nzZu+eLnvlfbzvTnJuJwBpLoPYQcnPvcgm+5gU1j1BjUaNKS/uDn7VbVm7hjbKA3wkniORC2TU2MiHElutnfrEVZ8wQfrCEpuWkOXs98H8QxUK4pBM2ea1xxGj7vREAZZg1x/Ci/E77gHxymnZ/ekhUIih6Pwu75jf+dvKcMnpmdLpwAVlE1G4dNginhFVyV/199llf9jmHasQQuaMFzQ9UMWGjA1Hg2KsaD9e3EL74A5fLkKc2EEmBD5v/aP+1RRZ3ISbTOXvxqYIFCdSFSCfPbUhkc9I2nHS0obEH7Q7KiuagoDqV0cTNXWfCGJ1DtIlGQ9IA6mPDAjX8Lg==";
    let got = fx.unwrap_as(foreign, ALICE, "reader", "doc-1").await;
    assert_kacls_error(&got, 400, "InvalidCiphertext", "not a keyseal KACLS wrapped key");

    // limits: resource_name 128 bytes passes, 129 does not; reason 1 KB passes, 1 KB + 1 does not
    let r128 = "r".repeat(128);
    fx.wrap(GOOGLE_DEK, &r128).await;
    let wrap_body = |resource: &str, reason: &str| json!({"authentication": fx.authn(ALICE), "authorization": fx.authz(ALICE, "writer", resource), "key": GOOGLE_DEK, "reason": reason});
    let got = fx.post("wrap", &wrap_body(&"r".repeat(129), "")).await;
    assert_kacls_error(&got, 400, "InvalidRequest", "resource_name is over 128 bytes");
    assert_eq!(
        fx.post("wrap", &wrap_body("doc-2", &"x".repeat(1024))).await.0,
        200
    );
    let got = fx.post("wrap", &wrap_body("doc-2", &"x".repeat(1025))).await;
    assert_kacls_error(&got, 400, "InvalidRequest", "reason is over 1024 bytes");
    let got = fx
        .post("privilegedunwrap", &json!({"authentication": fx.authn(ADMIN), "resource_name": "r".repeat(129), "wrapped_key": wrapped}))
        .await;
    assert_kacls_error(&got, 400, "InvalidRequest", "resource_name is over 128 bytes");
    // missing resource_name, bad key, malformed body
    let got = fx.post("wrap", &wrap_body("", "")).await;
    assert_kacls_error(&got, 400, "InvalidRequest", "resource_name is missing");
    let mut b = wrap_body("doc-3", "");
    b["key"] = json!("%%%");
    assert_kacls_error(
        &fx.post("wrap", &b).await,
        400,
        "InvalidRequest",
        "key is not standard base64",
    );
    b["key"] = json!(b64(&[1u8; 8]));
    assert_kacls_error(
        &fx.post("wrap", &b).await,
        400,
        "InvalidRequest",
        "key must be 16 to 64 bytes",
    );
    let r = fx
        .kms
        .http
        .post(format!("{}/unwrap", fx.url))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let got = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_kacls_error(&got, 400, "InvalidRequest", "malformed JSON");
}

#[tokio::test]
async fn every_call_is_audited_without_keys_or_tokens() {
    let fx = Fx::start().await;
    let dek = b64(&[0x5au8; 32]);
    let authn = fx.authn(ALICE);
    let authz = fx.authz(ALICE, "writer", "audited-doc");
    let (s, w) = fx
        .post(
            "wrap",
            &json!({"authentication": authn, "authorization": authz, "key": dek, "reason": "{client:'drive'}\u{7}bell"}),
        )
        .await;
    assert_eq!(s, 200);
    let wrapped = w["wrapped_key"].as_str().unwrap();
    let (s, _) = fx.unwrap_as(wrapped, ALICE, "reader", "audited-doc").await;
    assert_eq!(s, 200);
    let (s, _) = fx.unwrap_as(wrapped, ALICE, "reader", "other-doc").await;
    assert_eq!(s, 403);
    let (s, _) = fx
        .post("privilegedunwrap", &json!({"authentication": fx.authn("bob@example.com"), "resource_name": "audited-doc", "wrapped_key": wrapped}))
        .await;
    assert_eq!(s, 403);

    let out = fx.kms.cli(&["audit", "export"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let kacls: Vec<&Value> = rows.iter().filter(|r| r.to_string().contains("kacls.")).collect();
    assert!(kacls.len() >= 4, "{text}");
    let find = |op: &str, outcome: &str| {
        kacls
            .iter()
            .find(|r| r.to_string().contains(&format!("\"{op}\"")) && r.to_string().contains(outcome))
            .unwrap_or_else(|| panic!("no {op} {outcome} row in {text}"))
            .to_string()
    };
    let wrap_row = find("kacls.wrap", "ok");
    assert!(wrap_row.contains(ALICE), "{wrap_row}");
    assert!(wrap_row.contains("audited-doc"), "{wrap_row}");
    assert!(wrap_row.contains("acme/default"), "{wrap_row}");
    assert!(
        wrap_row.contains("{client:'drive'} bell"),
        "reason kept, control character replaced: {wrap_row}"
    );
    let refused = find("kacls.unwrap", "AccessDenied");
    assert!(
        refused.contains("another resource_name") && refused.contains("other-doc"),
        "{refused}"
    );
    let privileged = find("kacls.privilegedunwrap", "AccessDenied");
    assert!(
        privileged.contains("bob@example.com") && privileged.contains("explicit grant"),
        "{privileged}"
    );

    // no DEK, wrapped key or token bytes anywhere in the export
    for secret in [dek.as_str(), authn.as_str(), authz.as_str(), wrapped] {
        assert!(!text.contains(secret));
    }
    for part in authn.split('.').chain(authz.split('.')) {
        assert!(!text.contains(part), "a token part is in the audit export");
    }
    assert!(!text.contains(&URL_SAFE_NO_PAD.encode([0x5au8; 32])));
}

#[tokio::test]
async fn serve_checks_the_kacls_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (_, authn) = es_issuer(dir.path(), "idp.jwks.json", IDP, 7);
    let (google, authz) = rsa_issuer(dir.path(), "google.jwks.json", GOOGLE);
    let (authn, authz) = (authn.to_str().unwrap(), authz.to_str().unwrap());
    let dev = ["--dev", "--listen", "127.0.0.1:0"];

    // the key must exist
    let mut args = dev.to_vec();
    args.extend([
        "--kacls-key",
        "acme/missing",
        "--kacls-authn-issuer",
        authn,
        "--kacls-authz-issuer",
        authz,
    ]);
    let out = common::serve_refused(dir.path(), &args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("acme/missing"),
        "{out:?}"
    );
    // both issuer kinds are required
    let mut args = dev.to_vec();
    args.extend(["--kacls-key", "acme/default", "--kacls-authn-issuer", authn]);
    let out = common::serve_refused(dir.path(), &args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--kacls-authz-issuer"),
        "{out:?}"
    );

    // --kacls-url names the public URL: printed, and the one tokens must carry
    let kms = Kms::start(
        dir.path(),
        &[
            "--kacls-key",
            "acme/default",
            "--kacls-authn-issuer",
            authn,
            "--kacls-authz-issuer",
            authz,
            "--kacls-url",
            "https://kacls.example.com/v1/",
            "--cors-origin",
            "https://app.example",
        ],
    )
    .await;
    assert_eq!(kms.kacls_url.as_deref(), Some("https://kacls.example.com/v1"));
    let listener = kms.url.replace("/v1", "/kacls/v1");
    let claims = json!({"iss": GOOGLE, "aud": "cse-authorization", "email": ALICE, "role": "verifier",
        "resource_name": "r", "kacls_url": listener, "iat": now(), "exp": now() + 300});
    let r = kms
        .http
        .post(format!("{listener}/digest"))
        .json(&json!({"authorization": rs_token(&google, &claims), "wrapped_key": b64(b"whatever")}))
        .send()
        .await
        .unwrap();
    let got = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_kacls_error(&got, 403, "AccessDenied", "for another KACLS");
    assert!(
        kms.stdout()
            .contains("KEYSEAL_KACLS_URL=https://kacls.example.com/v1\n")
    );
    // the same CORS layer as /v1: a browser on an allowed origin may call, another may not
    for (origin, status) in [("https://app.example", 204), ("https://evil.example", 403)] {
        let r = kms
            .http
            .request(reqwest::Method::OPTIONS, format!("{listener}/unwrap"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{origin}");
        let allow = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(allow.as_deref(), (status == 204).then_some(origin), "{origin}");
    }

    // without --kacls-key there is no KACLS API and no URL line
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = Kms::start(plain_dir.path(), &[]).await;
    assert_eq!(plain.kacls_url, None);
    assert!(!plain.stdout().contains("KEYSEAL_KACLS_URL="));
    let r = plain
        .http
        .get(plain.url.replace("/v1", "/kacls/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
