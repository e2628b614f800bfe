//! Policy as code (PROTOCOL.md §8.6): `plan` shows the difference, `apply` makes it so,
//! idempotently and audited; destructive changes need `--allow-destructive`; issuers the policy
//! trusts grant only their tenants and roles, on a running instance within a poll; a stored policy
//! that does not open is refused (fail closed); bad files are refused with the reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Kms, assert_error, cli};
use serde_json::{Value, json};

const IDP: &str = "https://idp.policy.test";

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[track_caller]
fn ok(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {out}\nstderr: {err}",
        o.status
    );
    out
}

fn init(dir: &Path) -> PathBuf {
    let db = dir.join("kms.db");
    ok(common::cli_env(&["init", "--db", db.to_str().unwrap()], &[]));
    db
}

/// An ES256 issuer: the JWKS file `idp.jwks.json` in `dir` and the signing key.
fn issuer(dir: &Path) -> jsonwebtoken::EncodingKey {
    use base64::Engine as _;
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::SecretKey::from_slice(&[9u8; 32]).unwrap();
    let pt = sk.public_key().to_sec1_bytes();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "p1", "alg": "ES256",
        "x": url.encode(&pt[1..33]), "y": url.encode(&pt[33..65])}]});
    std::fs::write(dir.join("idp.jwks.json"), jwks.to_string()).unwrap();
    jsonwebtoken::EncodingKey::from_ec_der(sk.to_pkcs8_der().unwrap().as_bytes())
}

fn token(key: &jsonwebtoken::EncodingKey, tenant: &str, role: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("p1".into());
    let claims = json!({"iss": IDP, "aud": "keyseal-kms", "sub": "svc", "iat": now, "exp": now + 600,
        "tenant": tenant, "role": role});
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

fn write(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("policy.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn audit_rows(db: &Path) -> Vec<Value> {
    let out = ok(cli(db, &["audit", "export"]));
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn key(db: &Path, key_id: &str) -> Value {
    serde_json::from_str(&ok(cli(db, &["key", "show", key_id]))).unwrap()
}

fn schedule(db: &Path, key_id: &str) -> Value {
    ok(cli(db, &["key", "schedule"]))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["key_id"] == key_id)
        .unwrap()
}

const POLICY: &str = r#"
version = 1

[[issuer]]
name = "https://idp.policy.test"
jwks = "idp.jwks.json"
tenants = ["acme"]
roles = ["reader"]

[[tenant]]
name = "acme"

[[tenant.key]]
name = "orders"
rotate_every = "90d"

[[tenant.key]]
name = "archive"
state = "disabled"
"#;

#[test]
fn plan_shows_the_difference_and_apply_is_idempotent_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    issuer(dir.path());
    ok(cli(&db, &["key", "create", "acme/legacy"]));
    let file = write(dir.path(), POLICY);
    let f = file.to_str().unwrap();

    let plan = ok(cli(&db, &["plan", f]));
    for line in [
        "+ key acme/orders: create",
        "~ key acme/orders: rotation off -> 90d",
        "+ key acme/archive: create",
        "! key acme/archive: disable\n",
        "+ issuer \"https://idp.policy.test\": trust: tenants acme; roles reader; 1 key(s)",
        "= key acme/legacy: not in the policy, left as it is",
        "Plan: 5 change(s), none destructive.",
    ] {
        assert!(plan.contains(line), "plan lacks {line:?}:\n{plan}");
    }
    let check = cli(&db, &["plan", "--check", f]);
    assert_eq!(check.status.code(), Some(1), "--check: the store differs");
    let json: Value = serde_json::from_str(&ok(cli(&db, &["plan", "--format", "json", f]))).unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 5);
    assert_eq!(json["unmanaged"], json!(["acme/legacy"]));
    assert!(
        key(&db, "acme/legacy")["state"] == "enabled",
        "plan changes nothing"
    );
    assert!(cli(&db, &["key", "show", "acme/orders"]).status.code() != Some(0));

    let applied = ok(cli(&db, &["apply", f]));
    assert!(applied.contains("Applied (sha256:"), "{applied}");
    assert_eq!(key(&db, "acme/orders")["state"], "enabled");
    assert_eq!(key(&db, "acme/archive")["state"], "disabled");
    assert_eq!(
        schedule(&db, "acme/orders")["rotate_every_ms"],
        90 * 86_400_000_i64
    );
    assert_eq!(
        key(&db, "acme/legacy")["state"],
        "enabled",
        "unmanaged keys are left alone"
    );

    // audited as admin operations, with the file's revision as the reason
    let rows = audit_rows(&db);
    let revision = applied
        .split("Applied (")
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches(").")
        .to_string();
    let reason = format!("policy {revision}");
    for op in ["key.create", "key.disable", "policy.issuer.add"] {
        assert!(
            rows.iter()
                .any(|r| r["event"]["action"] == op && r["event"]["reason"] == reason.as_str()),
            "no audited {op} with reason {reason:?} in {rows:#?}"
        );
    }
    assert!(rows.iter().any(|r| r["event"]["action"] == "key.schedule"));

    // idempotent: nothing to do, nothing audited
    let before = audit_rows(&db).len();
    assert!(ok(cli(&db, &["plan", f])).contains("No changes: the store matches the policy."));
    assert_eq!(cli(&db, &["plan", "--check", f]).status.code(), Some(0));
    let again = ok(cli(&db, &["apply", f]));
    assert!(again.contains("No changes"), "{again}");
    assert_eq!(audit_rows(&db).len(), before, "a second apply audits nothing");

    // drift made by hand shows up, and apply puts it back
    ok(cli(&db, &["key", "set", "acme/orders", "--rotate-every", "30d"]));
    let drift = ok(cli(&db, &["plan", f]));
    assert!(
        drift.contains("~ key acme/orders: rotation 30d -> 90d"),
        "{drift}"
    );
    assert_eq!(cli(&db, &["plan", "--check", f]).status.code(), Some(1));
    ok(cli(&db, &["apply", f]));
    assert_eq!(
        schedule(&db, "acme/orders")["rotate_every_ms"],
        90 * 86_400_000_i64
    );
    assert!(ok(cli(&db, &["audit", "verify"])).contains("audit log OK"));
}

#[test]
fn destructive_changes_need_the_flag_and_nothing_is_applied_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    issuer(dir.path());
    let f = write(dir.path(), POLICY);
    ok(cli(&db, &["apply", f.to_str().unwrap()]));

    // disable orders, destroy archive, add a key, drop the issuer
    let next = r#"
version = 1
[[tenant]]
name = "acme"
[[tenant.key]]
name = "orders"
rotate_every = "90d"
state = "disabled"
[[tenant.key]]
name = "archive"
state = "destroyed"
destroy_grace = "1d"
[[tenant.key]]
name = "fresh"
"#;
    let f = write(dir.path(), next);
    let f = f.to_str().unwrap();
    let plan = ok(cli(&db, &["plan", f]));
    for line in [
        "! key acme/orders: disable   [destructive]",
        "- key acme/archive: schedule destruction in 1d   [destructive]",
        "- issuer \"https://idp.policy.test\": stop trusting   [destructive]",
        "+ key acme/fresh: create\n",
        "Plan: 4 change(s), 3 destructive (apply needs --allow-destructive).",
    ] {
        assert!(plan.contains(line), "plan lacks {line:?}:\n{plan}");
    }
    let before = audit_rows(&db).len();
    let refused = cli(&db, &["apply", f]);
    assert_eq!(audit_rows(&db).len(), before, "nothing audited");
    let (_, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("destructive changes"), "{err}");
    assert!(err.contains("key acme/orders: disable"), "{err}");
    assert!(err.contains("(InvalidRequest)"), "{err}");
    assert_eq!(key(&db, "acme/orders")["state"], "enabled", "nothing applied");
    assert!(
        cli(&db, &["key", "show", "acme/fresh"]).status.code() != Some(0),
        "nothing applied"
    );

    ok(cli(&db, &["apply", "--allow-destructive", f]));
    assert_eq!(key(&db, "acme/orders")["state"], "disabled");
    assert_eq!(key(&db, "acme/archive")["state"], "destroy_pending");
    assert_eq!(key(&db, "acme/fresh")["state"], "enabled");
    assert!(ok(cli(&db, &["plan", f])).contains("No changes"));

    // bringing keys back is not destructive: the destruction is cancelled, the key enabled
    let back = next
        .replace("state = \"disabled\"\n", "")
        .replace("state = \"destroyed\"\ndestroy_grace = \"1d\"\n", "");
    let f = write(dir.path(), &back);
    let plan = ok(cli(&db, &["plan", f.to_str().unwrap()]));
    assert!(
        plan.contains("~ key acme/archive: cancel the scheduled destruction"),
        "{plan}"
    );
    assert!(plan.contains("none destructive"), "{plan}");
    ok(cli(&db, &["apply", f.to_str().unwrap()]));
    assert_eq!(key(&db, "acme/archive")["state"], "enabled");
    assert_eq!(key(&db, "acme/orders")["state"], "enabled");
}

async fn wait_status(kms: &Kms, path: &str, body: &Value, status: u16) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = kms.post(path, body).await;
        if got.0 == status || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn policy_issuers_grant_only_their_tenants_and_roles_and_removal_holds_on_a_running_instance() {
    let dir = tempfile::tempdir().unwrap();
    let idp = issuer(dir.path());
    let kms = Kms::start(dir.path(), &[]).await;
    let ctx = json!({"tenant": "acme", "object": "o-1"});
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx, "authorization": kms.dev_token}),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    let unwrap = |t: String| json!({"key_id": "acme/default", "wrapped_key": g["wrapped_key"], "context": ctx, "authorization": t});
    let reader = token(&idp, "acme", "reader");
    assert_error(
        &kms.post("/unwrap", &unwrap(reader.clone())).await,
        401,
        "Unauthenticated",
    );

    let policy = POLICY.replace("[[tenant]]", "[[tenant]]\n# acme/default is the dev key\n")
        + "\n[[tenant.key]]\nname = \"default\"\n";
    let f = write(dir.path(), &policy);
    ok(kms.cli(&["apply", f.to_str().unwrap()]));
    let got = wait_status(&kms, "/unwrap", &unwrap(reader.clone()), 200).await;
    assert_eq!(
        got.0, 200,
        "the policy issuer's reader token works once applied: {}",
        got.1
    );
    kms.wait_stderr("policy issuers loaded", 1).await;

    // a role the policy does not grant: refused, though the signature is good
    let writer = token(&idp, "acme", "writer");
    let got = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx, "authorization": writer}),
        )
        .await;
    assert_error(&got, 403, "AccessDenied");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("may not grant role writer"),
        "{}",
        got.1
    );
    // a tenant the policy does not grant
    let other = token(&idp, "globex", "reader");
    let got = kms.post("/unwrap", &unwrap(other)).await;
    assert_error(&got, 403, "AccessDenied");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("may not grant tenant"),
        "{}",
        got.1
    );

    // removing the issuer (destructive) holds on the running instance: the remembered token too
    let without = policy.replace(
        "[[issuer]]\nname = \"https://idp.policy.test\"\njwks = \"idp.jwks.json\"\ntenants = [\"acme\"]\nroles = [\"reader\"]\n",
        "",
    );
    assert!(!without.contains("[[issuer]]"));
    let f = write(dir.path(), &without);
    ok(kms.cli(&["apply", "--allow-destructive", f.to_str().unwrap()]));
    let got = wait_status(&kms, "/unwrap", &unwrap(reader), 401).await;
    assert_error(&got, 401, "Unauthenticated");
    assert!(
        kms.stderr().contains("policy issuers loaded: []"),
        "{}",
        kms.stderr()
    );
}

#[tokio::test]
async fn a_stored_policy_that_does_not_open_is_refused_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let idp = issuer(dir.path());
    let kms = Kms::start(dir.path(), &[]).await;
    let f = write(dir.path(), POLICY);
    ok(kms.cli(&["apply", f.to_str().unwrap()]));
    let ctx = json!({"tenant": "acme", "object": "o-2"});
    let (_, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx, "authorization": kms.dev_token}),
        )
        .await;
    let body = json!({"key_id": "acme/default", "wrapped_key": g["wrapped_key"], "context": ctx,
        "authorization": token(&idp, "acme", "reader")});
    assert_eq!(wait_status(&kms, "/unwrap", &body, 200).await.0, 200);

    // someone with write access to the database but not the master key swaps in their own issuer
    // list: the row no longer opens under the master key
    {
        let conn = rusqlite::Connection::open(&kms.db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut v: Vec<u8> = conn
            .query_row("SELECT v FROM meta WHERE k='policy_issuers'", [], |r| r.get(0))
            .unwrap();
        let last = v.len() - 1;
        v[last] ^= 1;
        conn.execute("UPDATE meta SET v=?1 WHERE k='policy_issuers'", [v])
            .unwrap();
    }
    let got = wait_status(&kms, "/unwrap", &body, 401).await;
    assert_error(&got, 401, "Unauthenticated");
    kms.wait_stderr("the stored policy issuers are refused (none trusted)", 1)
        .await;
    // the command line says so too, with the error's name
    let plan = kms.cli(&["plan", f.to_str().unwrap()]);
    let (_, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(2), "{err}");
    assert!(err.contains("do not open under the master key"), "{err}");
}

#[test]
fn bad_policy_files_are_refused_with_the_reason_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    issuer(dir.path());
    ok(cli(&db, &["key", "create", "acme/gone"]));
    ok(cli(&db, &["key", "destroy", "acme/gone", "--grace", "0s"]));
    let cases: &[(&str, &str)] = &[
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"x\"\nrotate_evry = \"9d\"\n",
            "unknown field `rotate_evry`",
        ),
        ("version = 2\n", "version 2 is not supported"),
        (
            "version = 1\n[[issuer]]\nname = \"i\"\njwks = \"idp.jwks.json\"\ntenants = [\"acme\"]\nroles = [\"root\"]\n",
            "role \"root\" is not reader, writer or admin",
        ),
        (
            "version = 1\n[[issuer]]\nname = \"i\"\njwks = \"missing.json\"\ntenants = [\"acme\"]\nroles = [\"reader\"]\n",
            "missing.json",
        ),
        (
            "version = 1\n[[issuer]]\nname = \"keyseal-kms-local\"\njwks = \"idp.jwks.json\"\ntenants = [\"*\"]\nroles = [\"admin\"]\n",
            "reserved",
        ),
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"x\"\n[[tenant.key]]\nname = \"x\"\n",
            "key acme/x is listed twice",
        ),
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"x\"\nrotate_every = \"30s\"\n",
            "at least 1m",
        ),
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"x\"\nstate = \"paused\"\n",
            "state \"paused\" is not enabled, disabled or destroyed",
        ),
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"x\"\nstate = \"destroyed\"\n",
            "cannot create it destroyed",
        ),
        (
            "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"gone\"\n",
            "acme/gone is destroyed: the policy cannot bring it back",
        ),
        ("version = 1\n[[tenant]]\nname = \"ac me\"\n", "bad tenant name"),
    ];
    // a plan sweeps the destroyed key (audited) and audits nothing itself
    ok(cli(
        &db,
        &["plan", write(dir.path(), "version = 1\n").to_str().unwrap()],
    ));
    let before = audit_rows(&db).len();
    for (body, want) in cases {
        let f = write(dir.path(), body);
        for cmd in ["plan", "apply"] {
            let o = cli(&db, &[cmd, f.to_str().unwrap()]);
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {body}: {err}");
            assert!(err.contains(want), "{cmd} {body}: want {want:?} in {err}");
            assert!(err.contains("(InvalidRequest)"), "{err}");
        }
    }
    assert_eq!(audit_rows(&db).len(), before, "nothing was applied");
    assert!(cli(&db, &["key", "show", "acme/x"]).status.code() != Some(0));
}
