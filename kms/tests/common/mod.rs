//! Test harness: starts the real `keyseal-kms` binary on 127.0.0.1 (port 0, the URL and the
//! identity key are scraped from its stdout), waits for `/healthz`, and kills it on drop. Its
//! stderr goes to `<dir>/kms.stderr` ([`Kms::stderr`]), its stdout is kept ([`Kms::stdout`]). The
//! only place Rust tests start the binary.
#![allow(clippy::unwrap_used, dead_code)]

pub mod postgres;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_keyseal-kms");

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decode standard base64.
pub fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}

/// A running key service.
pub struct Kms {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:1234/v1`.
    pub url: String,
    /// Database path.
    pub db: PathBuf,
    /// Where the process's stderr goes.
    pub stderr_path: PathBuf,
    /// Dev writer token for tenant acme.
    pub dev_token: String,
    /// The identity public key of the `KEYSEAL_KMS_IDENTITY=` line (base64 SEC1).
    pub identity: String,
    /// The KACLS URL of the `KEYSEAL_KACLS_URL=` line (`--kacls-key`), between the identity and
    /// the dev token.
    pub kacls_url: Option<String>,
    stdout: Arc<Mutex<String>>,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl Kms {
    /// Start `serve --dev` on the database in `dir` with extra arguments.
    pub async fn start(dir: &Path, extra: &[&str]) -> Kms {
        Kms::start_env(dir, extra, &[]).await
    }

    /// [`Kms::start`] with extra environment variables (SoftHSM's configuration, a PIN).
    pub async fn start_env(dir: &Path, extra: &[&str], env: &[(String, String)]) -> Kms {
        Kms::start_db(dir, dir.join("kms.db"), extra, env).await
    }

    /// [`Kms::start_env`] on database `db` (a file, or a `postgres://` URL); stderr goes to
    /// `<dir>/kms.stderr`.
    pub async fn start_db(dir: &Path, db: PathBuf, extra: &[&str], env: &[(String, String)]) -> Kms {
        let stderr_path = dir.join("kms.stderr");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let printed = Arc::new(Mutex::new(String::new()));
        let mut url = None;
        let mut identity = None;
        let mut token = None;
        let mut kacls_url = None;
        while token.is_none() {
            let line = lines
                .next()
                .expect("keyseal-kms exited before printing its URL")
                .unwrap();
            printed.lock().unwrap().push_str(&format!("{line}\n"));
            // The order is part of the interface (PROTOCOL.md §8.3): URL, IDENTITY, DEV_TOKEN.
            if let Some(u) = line.strip_prefix("KEYSEAL_KMS_URL=") {
                assert!(url.is_none() && identity.is_none(), "the URL line comes first");
                url = Some(u.to_string());
            } else if let Some(i) = line.strip_prefix("KEYSEAL_KMS_IDENTITY=") {
                assert!(
                    url.is_some() && identity.is_none(),
                    "the identity follows the URL"
                );
                identity = Some(i.to_string());
            } else if let Some(k) = line.strip_prefix("KEYSEAL_KACLS_URL=") {
                assert!(
                    identity.is_some() && token.is_none(),
                    "the KACLS URL follows the identity"
                );
                kacls_url = Some(k.to_string());
            } else if let Some(t) = line.strip_prefix("KEYSEAL_DEV_TOKEN=") {
                assert!(identity.is_some(), "the dev token follows the identity");
                token = Some(t.to_string());
            }
        }
        // Keep draining (and keeping) stdout so the child never blocks on a full pipe.
        let keep = printed.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(std::result::Result::ok) {
                keep.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let kms = Kms {
            child,
            url: url.unwrap(),
            db,
            stderr_path,
            dev_token: token.unwrap(),
            identity: identity.unwrap(),
            kacls_url,
            stdout: printed,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        };
        if kms.url.starts_with("https://") {
            // The TLS tests talk TLS themselves (tests/tls.rs); the URL line comes after the bind.
            return kms;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = kms.http.get(format!("{}/healthz", kms.url)).send().await
                && r.status().as_u16() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "keyseal-kms did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        kms
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// What the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// The OpenMetrics text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (at most 10 s) until `/metrics` reports `n` requests in flight.
    pub async fn wait_in_flight(&self, n: usize) {
        let want = format!("keyseal_kms_requests_in_flight {n}\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.metrics().await;
            if m.contains(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "requests in flight never became {n}:\n{}",
                m.lines()
                    .filter(|l| l.contains("in_flight"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`HUP`, `TERM`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let st = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits (at most 20 s) until stderr contains `needle` `n` times.
    pub async fn wait_stderr(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.stderr().matches(needle).count() < n {
            assert!(
                Instant::now() < deadline,
                "stderr never said {needle:?} {n} times:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most 20 s) for the process to exit (after [`Kms::signal`]); whether it exited 0.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.success();
            }
            assert!(Instant::now() < deadline, "keyseal-kms did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Run the CLI against this database.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.db, args)
    }

    /// Run the CLI without `--db`.
    pub fn cli_no_db(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(args).output().unwrap()
    }

    /// Mint a token with the local issuer.
    pub fn mint(&self, tenant: &str, role: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "mint", "--tenant", tenant, "--role", role];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// POST JSON, return status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// POST raw bytes.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// POST with a bearer token header.
    pub async fn post_bearer(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// GET, optionally with a bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }
}

impl Drop for Kms {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `keyseal-kms serve ARGS` on a fresh database in `dir` that is expected to refuse to
/// start; returns its output (killed after 10 s if it serves instead).
pub fn serve_refused(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--db")
        .arg(dir.join("refused.db"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Run the CLI.
pub fn cli(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).arg("--db").arg(db).output().unwrap()
}

/// Run the CLI with extra environment variables (and no `--db` added).
pub fn cli_env(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// SoftHSM2's PKCS#11 library (Debian's `softhsm2`, installed by scripts/bootstrap.sh).
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token initialised in a temp dir (its own SOFTHSM2_CONF), with user PIN
/// [`SoftHsm::PIN`]. Tests pass [`SoftHsm::env`] to every process that uses it.
pub struct SoftHsm {
    /// SOFTHSM2_CONF and KEYSEAL_KMS_PKCS11_PIN for the processes.
    pub env: Vec<(String, String)>,
    /// The token label.
    pub label: String,
}

impl SoftHsm {
    /// The user PIN of the test token.
    pub const PIN: &'static str = "7391-softhsm-pin";

    /// Initialises token `label` under `dir`.
    pub fn new(dir: &Path, label: &str) -> SoftHsm {
        assert!(
            Path::new(SOFTHSM_MODULE).exists() && Path::new("/usr/bin/softhsm2-util").exists(),
            "SoftHSM2 is not installed: run scripts/bootstrap.sh (apt-get install softhsm2)"
        );
        let tokens = dir.join("softhsm-tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let env = vec![
            ("SOFTHSM2_CONF".to_string(), conf.display().to_string()),
            ("KEYSEAL_KMS_PKCS11_PIN".to_string(), Self::PIN.to_string()),
        ];
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                Self::PIN,
                "--so-pin",
                "5678-so",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        SoftHsm {
            env,
            label: label.to_string(),
        }
    }

    /// The RFC 7512 URI of key `object` in the token.
    pub fn uri(&self, object: &str) -> String {
        format!(
            "pkcs11:token={};object={object}?module-path={SOFTHSM_MODULE}",
            self.label
        )
    }

    /// `keyseal-kms master-key create URI`: an AES-256 key `object` in the token; its URI.
    pub fn create_key(&self, object: &str) -> String {
        let uri = self.uri(object);
        let out = cli_env(&["master-key", "create", &uri], &self.env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        uri
    }
}

/// Assert an error answer.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, name: &str) {
    assert_eq!(got.0, status, "status, body {}", got.1);
    assert_eq!(got.1["error"], name, "error name, body {}", got.1);
    assert_eq!(got.1["code"], status, "code member, body {}", got.1);
    assert!(got.1["message"].is_string(), "message member, body {}", got.1);
}
