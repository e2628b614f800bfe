//! Native TLS (`serve --tls-cert --tls-key`, docs/PROTOCOL.md §8.3) against the real process: key
//! operations over TLS with a test CA made here (rcgen), a certificate reload on SIGHUP that keeps
//! the connections already open and gives new ones the new certificate, a failed reload that keeps
//! the certificate in force, and refused certificate files at start.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Kms, b64, serve_refused, unb64};
use keyseal_format::hpke_p256::{self, RecipientKeyPair, SealedKey};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A test CA and leaf certificates for `localhost` / 127.0.0.1 it signs.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf: its PEM chain and key, and its DER (to compare with what a handshake presents).
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "keyseal test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn leaf(&self, cn: &str) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

/// Writes a leaf to `cert.pem` / `key.pem` in `dir` (each replaced atomically, as a deploy tool
/// would), returning the paths.
fn install(dir: &Path, leaf: &Leaf) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    for (path, body) in [(&cert, &leaf.cert_pem), (&key, &leaf.key_pem)] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    (cert.display().to_string(), key.display().to_string())
}

/// One TLS connection speaking HTTP/1.1 keep-alive.
struct Conn {
    tls: TlsStream<TcpStream>,
}

impl Conn {
    async fn open(ca: &TestCa, url: &str) -> Conn {
        let authority = url.strip_prefix("https://").unwrap().split('/').next().unwrap();
        let tcp = TcpStream::connect(authority).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = ca.connector().connect(name, tcp).await.unwrap();
        Conn { tls }
    }

    /// The leaf certificate the server presented in this connection's handshake.
    fn peer_leaf(&self) -> Vec<u8> {
        let certs: &[CertificateDer<'_>] = self.tls.get_ref().1.peer_certificates().unwrap();
        certs[0].to_vec()
    }

    /// Sends one request and reads its answer (Content-Length framed) on this connection.
    async fn request(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} /v1{path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.tls.write_all(head.as_bytes()).await.unwrap();
        self.tls.write_all(body.as_bytes()).await.unwrap();
        self.tls.flush().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.tls.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the answer's head");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..header_end].to_vec()).unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .expect("content-length");
        while buf.len() < header_end + len {
            let n = self.tls.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed in the answer's body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let v = serde_json::from_slice(&buf[header_end..header_end + len]).unwrap_or(Value::Null);
        (status, v)
    }
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

async fn start(dir: &Path, leaf: &Leaf) -> Kms {
    let (cert, key) = install(dir, leaf);
    Kms::start(dir, &["--tls-cert", &cert, "--tls-key", &key]).await
}

#[tokio::test]
async fn key_operations_over_tls_with_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let leaf = ca.leaf("kms one");
    let kms = start(dir.path(), &leaf).await;
    assert!(kms.url.starts_with("https://127.0.0.1:"), "{}", kms.url);

    let mut c = Conn::open(&ca, &kms.url).await;
    assert_eq!(c.peer_leaf(), leaf.der);
    assert_eq!(c.request("GET", "/healthz", None).await.0, 200);
    let ctx = json!({"tenant": "acme", "object": "doc-tls"});
    let kp = RecipientKeyPair::generate();
    let (s, g) = c
        .request(
            "POST",
            "/generate",
            Some(&json!({"key_id": "acme/default", "context": ctx, "recipient": recipient(&kp), "authorization": kms.dev_token})),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    let dek = open_sealed(&kp, &g);
    let kp2 = RecipientKeyPair::generate();
    let (s, u) = c
        .request(
            "POST",
            "/unwrap",
            Some(&json!({"key_id": "acme/default", "wrapped_key": g["wrapped_key"], "context": ctx, "recipient": recipient(&kp2), "authorization": kms.dev_token})),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(open_sealed(&kp2, &u), dek);

    // A client that does not trust the test CA gets no answer.
    let untrusting = TestCa::new();
    let authority = kms
        .url
        .strip_prefix("https://")
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let tcp = TcpStream::connect(authority).await.unwrap();
    let refused = untrusting
        .connector()
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err(), "a certificate from another CA was accepted");
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let first = ca.leaf("kms first");
    let kms = start(dir.path(), &first).await;

    let mut old = Conn::open(&ca, &kms.url).await;
    assert_eq!(old.request("GET", "/status", None).await.0, 200);
    assert_eq!(old.peer_leaf(), first.der);

    let second = ca.leaf("kms second");
    install(dir.path(), &second);
    kms.signal("HUP");
    kms.wait_stderr("TLS certificate reloaded", 1).await;

    // The keep-alive connection made before the reload still answers, on the same TLS session.
    for _ in 0..3 {
        assert_eq!(old.request("GET", "/status", None).await.0, 200);
    }
    assert_eq!(old.peer_leaf(), first.der);
    // New connections get the new certificate.
    let mut new = Conn::open(&ca, &kms.url).await;
    assert_eq!(new.peer_leaf(), second.der);
    assert_ne!(second.der, first.der);
    assert_eq!(new.request("GET", "/healthz", None).await.0, 200);

    // A reload from broken files is refused and the certificate in force stays.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    kms.signal("HUP");
    kms.wait_stderr("TLS reload failed", 1).await;
    let mut after = Conn::open(&ca, &kms.url).await;
    assert_eq!(after.peer_leaf(), second.der);
    assert_eq!(after.request("GET", "/healthz", None).await.0, 200);
    assert_eq!(old.request("GET", "/healthz", None).await.0, 200);
    assert!(kms.stderr().contains("still serving the previous certificate"));
}

#[test]
fn unusable_tls_files_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let leaf = ca.leaf("kms");
    let other = ca.leaf("other");
    let (cert, _) = install(dir.path(), &leaf);
    // A key that is not the certificate's.
    let wrong_key = dir.path().join("wrong-key.pem");
    std::fs::write(&wrong_key, &other.key_pem).unwrap();
    // A "key" file whose bytes must never be echoed.
    let garbage_key = dir.path().join("garbage-key.pem");
    std::fs::write(&garbage_key, "SECRET-MATERIAL-7f3a").unwrap();
    let missing = dir.path().join("missing.pem");
    for key in [&wrong_key, &garbage_key, &missing] {
        let out = serve_refused(
            dir.path(),
            &["--dev", "--tls-cert", &cert, "--tls-key", key.to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("TLS certificate"), "{stderr}");
        assert!(stderr.contains("(InvalidRequest)"), "{stderr}");
        assert!(!stderr.contains("SECRET-MATERIAL"), "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "printed a URL: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // --tls-cert without --tls-key is a usage error.
    let out = serve_refused(dir.path(), &["--dev", "--tls-cert", &cert]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
