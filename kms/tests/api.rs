//! Protocol v1 against the real `keyseal-kms` process: happy paths for every endpoint, and every
//! refusal with its status and error name.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kms, assert_error, b64, unb64};
use keyseal_format::hpke_p256::{self, RecipientKeyPair, SealedKey};
use keyseal_format::{DataKey, EncryptionContext};
use serde_json::{Value, json};

fn ctx() -> Value {
    json!({"tenant": "acme", "object": "doc-42"})
}

fn recipient(kp: &RecipientKeyPair) -> Value {
    json!({"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": b64(&kp.public_sec1())})
}

fn open_sealed(kp: &RecipientKeyPair, v: &Value) -> [u8; 32] {
    let sealed = SealedKey {
        enc: unb64(v["sealed_key"]["enc"].as_str().unwrap()),
        ciphertext: unb64(v["sealed_key"]["ciphertext"].as_str().unwrap()),
    };
    *hpke_p256::open_from_sender(kp, &sealed).unwrap().expose_secret()
}

#[tokio::test]
async fn happy_paths_for_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let t = &kms.dev_token;

    // status, healthz
    let (s, v) = kms.get("/status", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["hpke_suites"][0], json!({"kem": 16, "kdf": 1, "aead": 2}));
    assert!(
        v["operations_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("unwrap"))
    );
    assert_eq!(kms.get("/healthz", None).await.0, 200);

    // generate with a recipient: the DEK comes HPKE-sealed, never in clear.
    let kp = RecipientKeyPair::generate();
    let (s, g) = kms
        .post("/generate", &json!({"key_id": "acme/default", "context": ctx(), "recipient": recipient(&kp), "authorization": t, "reason": "test"}))
        .await;
    assert_eq!(s, 200, "{g}");
    assert!(g.get("key").is_none());
    assert_eq!(g["key_version"], 1);
    let dek = open_sealed(&kp, &g);
    let wrapped = g["wrapped_key"].as_str().unwrap().to_string();

    // unwrap, sealed to a fresh ephemeral key
    let kp2 = RecipientKeyPair::generate();
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "recipient": recipient(&kp2), "authorization": t, "reason": "read"}))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(open_sealed(&kp2, &u), dek);

    // unwrap by a reader, without recipient: plaintext `key`; token in the header instead.
    let reader = kms.mint("acme", "reader", &[]);
    let (s, u) = kms
        .post_bearer(
            "/unwrap",
            &reader,
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx()}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(unb64(u["key"].as_str().unwrap()), dek);

    // generate without recipient returns `key`
    let (s, g2) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": {}, "authorization": t}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(unb64(g2["key"].as_str().unwrap()).len(), 32);

    // wrap an existing key
    let my_key = [42u8; 32];
    let (s, w) = kms
        .post(
            "/wrap",
            &json!({"key_id": "acme/default", "key": b64(&my_key), "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": w["wrapped_key"], "context": ctx(), "authorization": t}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(unb64(u["key"].as_str().unwrap()), my_key);

    // admin over HTTP: rotate, then old wrapped keys still unwrap and rewrap moves to v2
    let admin = kms.mint("acme", "admin", &["--sub", "alice"]);
    let (s, info) = kms
        .post_bearer(
            "/admin/keys/acme/default/rotate",
            &admin,
            &json!({"reason": "quarterly"}),
        )
        .await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["primary_version"], 2);
    let (s, r) = kms
        .post(
            "/rewrap",
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["key_version"], 2);
    assert!(
        r.get("key").is_none() && r.get("sealed_key").is_none(),
        "rewrap never returns plaintext"
    );
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": r["wrapped_key"], "context": ctx(), "authorization": t}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(unb64(u["key"].as_str().unwrap()), dek);
    let (s, u) = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200, "version 1 still unwraps after rotate");
    assert_eq!(u["key_version"], 1);

    // create a second key, rewrap to it
    let (s, info) = kms
        .post_bearer("/admin/keys", &admin, &json!({"key_id": "acme/archive"}))
        .await;
    assert_eq!(s, 200, "{info}");
    let (s, r2) = kms
        .post("/rewrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "to_key_id": "acme/archive", "authorization": t}))
        .await;
    assert_eq!(s, 200, "{r2}");
    assert_eq!(r2["key_id"], "acme/archive");
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/archive", "wrapped_key": r2["wrapped_key"], "context": ctx(), "authorization": t}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(unb64(u["key"].as_str().unwrap()), dek);

    // public key JWK (newest version) + offline hpke-p256 entry unwrapped by the service
    for path in ["/keys/acme/default/public", "/keys/acme%2Fdefault/public"] {
        let (s, jwk) = kms.get(path, None).await;
        assert_eq!(s, 200, "{jwk}");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["use"], "enc");
        assert_eq!(jwk["kid"], "acme/default#2");
        assert_eq!(jwk["key_version"], 2);
    }
    let (_, jwk) = kms.get("/keys/acme/default/public", None).await;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let mut pk = vec![4u8];
    pk.extend(url.decode(jwk["x"].as_str().unwrap()).unwrap());
    pk.extend(url.decode(jwk["y"].as_str().unwrap()).unwrap());
    let offline_dek = DataKey::generate().unwrap();
    let c = EncryptionContext::from_pairs([("tenant", "acme"), ("object", "doc-42")]).unwrap();
    let entry = hpke_p256::seal_entry(&pk, "acme/default", 2, &c, &offline_dek).unwrap();
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "kind": "hpke-p256", "wrapped_key": b64(&entry), "context": ctx(), "authorization": t}))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(unb64(u["key"].as_str().unwrap()), offline_dek.expose_secret());
    // hpke-p256 entry with another context
    let (s, u) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "kind": "hpke-p256", "wrapped_key": b64(&entry), "context": {"tenant": "acme"}, "authorization": t}))
        .await;
    assert_error(&(s, u), 400, "InvalidCiphertext");

    // admin list / show
    let (s, l) = kms.get("/admin/keys", Some(&admin)).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["keys"].as_array().unwrap().len(), 2);
    let (s, sh) = kms.get("/admin/keys/acme/default", Some(&admin)).await;
    assert_eq!(s, 200);
    assert_eq!(sh["versions"].as_array().unwrap().len(), 2);
    assert_eq!(sh["state"], "enabled");

    // BYOK import: seal 32 bytes of customer material to the import key
    let (s, ik) = kms.get("/admin/import-key", Some(&admin)).await;
    assert_eq!(s, 200, "{ik}");
    let import_pk = unb64(ik["public_key"].as_str().unwrap());
    let material = [7u8; 32];
    let mut info = b"keyseal-kms/v1 import".to_vec();
    info.push(0);
    info.extend_from_slice(b"acme/byok");
    let sealed = hpke_p256::seal(&import_pk, &info, b"", &material).unwrap();
    let (s, imp) = kms
        .post_bearer(
            "/admin/keys/acme/byok/import",
            &admin,
            &json!({"enc": b64(&sealed.enc), "ciphertext": b64(&sealed.ciphertext)}),
        )
        .await;
    assert_eq!(s, 200, "{imp}");
    assert_eq!(imp["versions"][0]["origin"], "imported");
    // the same material sealed for another key id is refused
    let (s, bad) = kms
        .post_bearer(
            "/admin/keys/acme/other/import",
            &admin,
            &json!({"enc": b64(&sealed.enc), "ciphertext": b64(&sealed.ciphertext)}),
        )
        .await;
    assert_error(&(s, bad), 400, "InvalidCiphertext");
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/byok", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200, "{g}");

    // metrics show requests by op and outcome, and keys by state
    let m = kms
        .http
        .get(format!("{}/metrics", kms.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("keyseal_kms_requests_total{operation=\"unwrap\",outcome=\"ok\"}"),
        "{m}"
    );
    assert!(m.contains("keyseal_kms_request_duration_seconds_bucket"));
    assert!(m.contains("keyseal_kms_keys{state=\"enabled\"} 3"), "{m}");

    // the CLI sees the same keys
    let out = kms.cli(&["key", "list"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let out = kms.cli(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // No plaintext DEK, imported material or master key anywhere in the store files.
    let master = std::fs::read_to_string(dir.path().join("kms.db.master-key")).unwrap();
    let master = unb64(master.trim());
    let mut store_bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", kms.db.display())) {
            store_bytes.extend(b);
        }
    }
    for secret in [
        &dek[..],
        &my_key[..],
        &material[..],
        &master[..],
        offline_dek.expose_secret(),
    ] {
        assert!(
            !store_bytes.windows(32).any(|w| w == secret),
            "secret found in the store"
        );
    }
}

/// An external issuer (JWKS file) plus the local one.
fn write_issuer(dir: &std::path::Path) -> (jsonwebtoken::EncodingKey, std::path::PathBuf) {
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::SecretKey::from_slice(&[5u8; 32]).unwrap();
    let pt = sk.public_key().to_sec1_bytes();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let jwks = json!({"issuer": "https://idp.test", "keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "x": url.encode(&pt[1..33]), "y": url.encode(&pt[33..65])}]});
    let path = dir.join("idp.jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let der = sk.to_pkcs8_der().unwrap();
    (jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()), path)
}

fn idp_token(key: &jsonwebtoken::EncodingKey, kid: &str, claims: Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(kid.to_string());
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn refusals_have_status_and_error_name() {
    let dir = tempfile::tempdir().unwrap();
    let (idp_key, jwks) = write_issuer(dir.path());
    let kms = Kms::start(dir.path(), &["--issuer", jwks.to_str().unwrap()]).await;
    let t = kms.dev_token.clone();
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200);
    let wrapped = g["wrapped_key"].as_str().unwrap().to_string();
    let unwrap_with = |token: String| json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": token});

    // external issuer works
    let good = idp_token(
        &idp_key,
        "k1",
        json!({"iss": "https://idp.test", "aud": "keyseal-kms", "sub": "svc", "exp": now() + 300, "iat": now(), "tenant": "acme", "role": "reader"}),
    );
    assert_eq!(kms.post("/unwrap", &unwrap_with(good)).await.0, 200);

    // missing token
    let got = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx()}),
        )
        .await;
    assert_error(&got, 401, "Unauthenticated");
    // expired token (beyond the 30 s skew)
    let expired = kms.mint("acme", "writer", &["--ttl=-120"]);
    assert_error(
        &kms.post("/unwrap", &unwrap_with(expired)).await,
        401,
        "Unauthenticated",
    );
    // bad signature: signature bytes altered
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    let mut sig = parts[2].clone().into_bytes();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(sig).unwrap();
    assert_error(
        &kms.post("/unwrap", &unwrap_with(parts.join("."))).await,
        401,
        "Unauthenticated",
    );
    // bad signature: right issuer and kid, wrong key
    let other_sk = p256::SecretKey::from_slice(&[6u8; 32]).unwrap();
    let other = {
        use p256::pkcs8::EncodePrivateKey;
        jsonwebtoken::EncodingKey::from_ec_der(other_sk.to_pkcs8_der().unwrap().as_bytes())
    };
    let forged = idp_token(
        &other,
        "k1",
        json!({"iss": "https://idp.test", "aud": "keyseal-kms", "sub": "evil", "exp": now() + 300, "tenant": "acme", "role": "writer"}),
    );
    assert_error(
        &kms.post("/unwrap", &unwrap_with(forged)).await,
        401,
        "Unauthenticated",
    );
    // untrusted issuer
    let stranger = idp_token(
        &idp_key,
        "k1",
        json!({"iss": "https://other.test", "aud": "keyseal-kms", "sub": "x", "exp": now() + 300, "tenant": "acme", "role": "writer"}),
    );
    assert_error(
        &kms.post("/unwrap", &unwrap_with(stranger)).await,
        401,
        "Unauthenticated",
    );
    // wrong audience
    let wrong_aud = kms.mint("acme", "writer", &["--aud", "someone-else"]);
    assert_error(
        &kms.post("/unwrap", &unwrap_with(wrong_aud)).await,
        401,
        "Unauthenticated",
    );
    // not yet valid (nbf beyond skew)
    let future = idp_token(
        &idp_key,
        "k1",
        json!({"iss": "https://idp.test", "aud": "keyseal-kms", "sub": "svc", "nbf": now() + 600, "exp": now() + 900, "tenant": "acme", "role": "reader"}),
    );
    assert_error(
        &kms.post("/unwrap", &unwrap_with(future)).await,
        401,
        "Unauthenticated",
    );
    // other tenant
    let globex = kms.mint("globex", "writer", &[]);
    assert_error(
        &kms.post("/unwrap", &unwrap_with(globex.clone())).await,
        403,
        "AccessDenied",
    );
    // reader calling wrap / generate / rewrap
    let reader = kms.mint("acme", "reader", &[]);
    let got = kms.post("/wrap", &json!({"key_id": "acme/default", "key": b64(&[1u8; 32]), "context": ctx(), "authorization": reader})).await;
    assert_error(&got, 403, "AccessDenied");
    let got = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx(), "authorization": reader}),
        )
        .await;
    assert_error(&got, 403, "AccessDenied");
    let got = kms.post("/rewrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": reader})).await;
    assert_error(&got, 403, "AccessDenied");
    // writer calling admin
    let got = kms
        .post_bearer("/admin/keys/acme/default/disable", &t, &json!({}))
        .await;
    assert_error(&got, 403, "AccessDenied");
    // admin of another tenant
    let globex_admin = kms.mint("globex", "admin", &[]);
    let got = kms
        .post_bearer("/admin/keys/acme/default/disable", &globex_admin, &json!({}))
        .await;
    assert_error(&got, 403, "AccessDenied");
    // rewrap into another tenant's key
    let got = kms.post("/rewrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "to_key_id": "globex/k", "authorization": t})).await;
    assert_error(&got, 403, "AccessDenied");

    // context mismatch
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": {"tenant": "acme", "object": "doc-43"}, "authorization": t})).await;
    assert_error(&got, 400, "ContextMismatch");
    // tampered wrapped key (ciphertext byte, and version byte)
    for pos in [60usize, 4] {
        let mut bytes = unb64(&wrapped);
        bytes[pos] ^= 0x01;
        let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": b64(&bytes), "context": ctx(), "authorization": t})).await;
        assert_error(&got, 400, "InvalidCiphertext");
    }
    // truncated
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": b64(&unb64(&wrapped)[..40]), "context": ctx(), "authorization": t})).await;
    assert_error(&got, 400, "InvalidCiphertext");
    // bad base64
    let got = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/default", "wrapped_key": "***", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_error(&got, 400, "InvalidRequest");
    // base64 without its padding, and base64url, are refused
    assert!(wrapped.ends_with('='));
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped.trim_end_matches('='), "context": ctx(), "authorization": t})).await;
    assert_error(&got, 400, "InvalidRequest");
    let url_safe = wrapped.replace('+', "-").replace('/', "_");
    if url_safe != wrapped {
        let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": url_safe, "context": ctx(), "authorization": t})).await;
        assert_error(&got, 400, "InvalidRequest");
    }
    // wrong recipient suite
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "recipient": {"suite": {"kem": 32, "kdf": 1, "aead": 2}, "public_key": b64(&[4u8; 65])}, "authorization": t})).await;
    assert_error(&got, 400, "InvalidRequest");
    // a recipient key that is not a point on the curve
    let mut off_curve = vec![4u8];
    off_curve.extend([1u8; 64]);
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "recipient": {"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": b64(&off_curve)}, "authorization": t})).await;
    assert_error(&got, 400, "InvalidRequest");
    // oversize body
    let big = json!({"key_id": "acme/default", "wrapped_key": "A".repeat(80 * 1024), "context": ctx(), "authorization": t});
    let got = kms.post_raw("/unwrap", big.to_string().into_bytes()).await;
    assert_error(&got, 413, "PayloadTooLarge");
    // unknown key
    let got = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/nope", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_error(&got, 404, "KeyNotFound");
    assert_error(&kms.get("/keys/acme/nope/public", None).await, 404, "KeyNotFound");
    // malformed JSON, missing fields, bad key id
    assert_error(
        &kms.post_raw("/unwrap", b"{\"key_id\": ".to_vec()).await,
        400,
        "InvalidRequest",
    );
    assert_error(
        &kms.post("/unwrap", &json!({"key_id": "acme/default"})).await,
        400,
        "InvalidRequest",
    );
    let got = kms
        .post(
            "/generate",
            &json!({"key_id": "no-slash", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_error(&got, 400, "InvalidRequest");
    // repeated context key, empty context key, non-string value
    let body = format!(
        r#"{{"key_id":"acme/default","wrapped_key":"{wrapped}","context":{{"tenant":"acme","tenant":"evil"}},"authorization":"{t}"}}"#
    );
    assert_error(
        &kms.post_raw("/unwrap", body.into_bytes()).await,
        400,
        "InvalidRequest",
    );
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": {"": "x"}, "authorization": t})).await;
    assert_error(&got, 400, "InvalidRequest");
    let got = kms.post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": {"n": 1}, "authorization": t})).await;
    assert_error(&got, 400, "InvalidRequest");
    // wrap of a 31-byte key
    let got = kms
        .post(
            "/wrap",
            &json!({"key_id": "acme/default", "key": b64(&[1u8; 31]), "context": ctx(), "authorization": t}),
        )
        .await;
    assert_error(&got, 400, "InvalidRequest");
    // unknown route
    assert_error(&kms.get("/nothing", None).await, 404, "NotFound");

    // disabled key: refused on the very next request, by a CLI change to the same database
    let out = kms.cli(&["key", "disable", "acme/default", "--reason", "incident 7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before_ms = (now() - 60) * 1000;
    let got = kms.post("/unwrap", &unwrap_with(t.clone())).await;
    assert_error(&got, 403, "KeyDisabled");
    let disabled_at = got.1["disabled_at"].as_i64().unwrap();
    assert!(disabled_at > before_ms && disabled_at <= (now() + 1) * 1000);
    let got = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx(), "authorization": t}),
        )
        .await;
    assert_error(&got, 403, "KeyDisabled");
    assert_error(
        &kms.get("/keys/acme/default/public", None).await,
        403,
        "KeyDisabled",
    );
    // enable over HTTP (admin) and it works again
    let admin = kms.mint("acme", "admin", &[]);
    assert_eq!(
        kms.post_bearer("/admin/keys/acme/default/enable", &admin, &json!({}))
            .await
            .0,
        200
    );
    assert_eq!(kms.post("/unwrap", &unwrap_with(t.clone())).await.0, 200);

    // destroy with a grace period: refused as KeyDisabled during the grace, cancelable
    let (s, info) = kms
        .post_bearer(
            "/admin/keys/acme/default/destroy",
            &admin,
            &json!({"grace_seconds": 3600}),
        )
        .await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["state"], "destroy_pending");
    let got = kms.post("/unwrap", &unwrap_with(t.clone())).await;
    assert_error(&got, 403, "KeyDisabled");
    assert!(
        got.1["disabled_at"].as_i64().unwrap() > disabled_at,
        "re-enabled, then scheduled"
    );
    let out = kms.cli(&["key", "cancel-destroy", "acme/default"]);
    assert!(out.status.success());
    let out = kms.cli(&["key", "enable", "acme/default"]);
    assert!(out.status.success());
    assert_eq!(kms.post("/unwrap", &unwrap_with(t.clone())).await.0, 200);
    // ... and after the grace the material is gone for good
    let out = kms.cli(&["key", "destroy", "acme/default", "--grace", "1s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_error(
        &kms.post("/unwrap", &unwrap_with(t.clone())).await,
        410,
        "KeyDestroyed",
    );
    let got = kms
        .post_bearer("/admin/keys/acme/default/cancel-destroy", &admin, &json!({}))
        .await;
    assert_error(&got, 410, "KeyDestroyed");
    let (_, sh) = kms.get("/admin/keys/acme/default", Some(&admin)).await;
    assert_eq!(sh["state"], "destroyed");
    assert_eq!(sh["versions"][0]["destroyed"], true);

    // refusals are counted and audited
    let m = kms
        .http
        .get(format!("{}/metrics", kms.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("outcome=\"Unauthenticated\""), "{m}");
    assert!(m.contains("outcome=\"KeyDisabled\""));
    let conn = rusqlite::Connection::open(&kms.db).unwrap();
    let refusals: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit WHERE outcome != 'ok'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(refusals >= 25, "only {refusals} refusals audited");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit WHERE operation='key.disable' AND reason='incident 7' AND subject LIKE 'cli:%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let out = kms.cli(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn cors_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &["--cors-origin", "https://app.example"]).await;
    let pre = |origin: &'static str| {
        kms.http
            .request(reqwest::Method::OPTIONS, format!("{}/unwrap", kms.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type, authorization")
            .send()
    };
    let ok = pre("https://app.example").await.unwrap();
    assert_eq!(ok.status().as_u16(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example");
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(ok.headers().get("access-control-allow-credentials").is_none());

    let bad = pre("https://evil.example").await.unwrap();
    assert_eq!(bad.status().as_u16(), 403);
    assert!(
        bad.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );

    // actual requests
    let get = |origin: &'static str| {
        kms.http
            .get(format!("{}/status", kms.url))
            .header("Origin", origin)
            .send()
    };
    let r = get("https://app.example").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example");
    assert!(
        r.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("retry-after")
    );
    let r = get("https://evil.example").await.unwrap();
    assert!(
        r.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
}

#[tokio::test]
async fn throttled_over_the_in_flight_limit() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &["--max-in-flight", "0"]).await;
    let r = kms
        .http
        .post(format!("{}/generate", kms.url))
        .json(&json!({"key_id": "acme/default", "context": {}, "authorization": kms.dev_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    let got = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_error(&got, 429, "Throttled");
}

#[tokio::test]
async fn rewrap_batch_answers_each_item_in_order_under_one_token() {
    // PROTOCOL.md §3.5.1
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let t = &kms.dev_token;
    let mut wrapped = Vec::new();
    for i in 0..3 {
        let c = json!({"tenant": "acme", "object": format!("o{i}")});
        let (s, g) = kms
            .post(
                "/generate",
                &json!({"key_id": "acme/default", "context": c, "authorization": t}),
            )
            .await;
        assert_eq!(s, 200, "{g}");
        wrapped.push((
            c,
            g["wrapped_key"].as_str().unwrap().to_string(),
            unb64(g["key"].as_str().unwrap()),
        ));
    }
    let out = kms.cli(&["key", "rotate", "acme/default"]);
    assert!(out.status.success());
    let item =
        |i: usize| json!({"key_id": "acme/default", "wrapped_key": wrapped[i].1, "context": wrapped[i].0});
    let wrong_ctx = json!({"key_id": "acme/default", "wrapped_key": wrapped[0].1, "context": wrapped[1].0});
    let other_tenant = json!({"key_id": "acme/default", "wrapped_key": wrapped[2].1, "context": wrapped[2].0, "to_key_id": "globex/k"});
    let (s, r) = kms
        .post("/rewrap-batch", &json!({"items": [item(0), wrong_ctx, item(1), other_tenant, item(2)], "authorization": t, "reason": "rotation"}))
        .await;
    assert_eq!(s, 200, "{r}");
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for (k, i) in [(0usize, 0usize), (2, 1), (4, 2)] {
        assert_eq!(items[k]["key_version"], 2, "{}", items[k]);
        assert!(items[k].get("key").is_none(), "rewrap never returns plaintext");
        let (s, u) = kms
            .post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": items[k]["wrapped_key"], "context": wrapped[i].0, "authorization": t}))
            .await;
        assert_eq!(s, 200, "{u}");
        assert_eq!(
            unb64(u["key"].as_str().unwrap()),
            wrapped[i].2,
            "item {k} holds the same data key"
        );
        assert_eq!(u["key_version"], 2);
    }
    assert_eq!(items[1]["error"], "ContextMismatch", "{}", items[1]);
    assert_eq!(items[3]["error"], "AccessDenied", "{}", items[3]);
    assert!(items[1]["message"].is_string());

    // the whole batch is refused for a bad token, a reader, an empty or an oversized batch
    let body = |items: Vec<Value>, auth: &str| json!({"items": items, "authorization": auth});
    assert_error(
        &kms.post("/rewrap-batch", &body(vec![item(0)], "not-a-token"))
            .await,
        401,
        "Unauthenticated",
    );
    let reader = kms.mint("acme", "reader", &[]);
    let (s, r) = kms.post("/rewrap-batch", &body(vec![item(0)], &reader)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["items"][0]["error"], "AccessDenied",
        "a reader may not rewrap: {r}"
    );
    assert_error(
        &kms.post("/rewrap-batch", &body(vec![], t)).await,
        400,
        "InvalidRequest",
    );
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"key_id": "acme/default", "wrapped_key": "AA==", "context": {}}))
        .collect();
    let got = kms.post("/rewrap-batch", &body(many, t)).await;
    assert!(got.0 == 400 || got.0 == 413, "oversized batch: {}", got.0);

    // every item is audited as a rewrap of its own, under the one token's subject
    let out = kms.cli(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = rusqlite::Connection::open(&kms.db).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE operation='rewrap' AND reason='rotation'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 5, "one audit record per item");
}
