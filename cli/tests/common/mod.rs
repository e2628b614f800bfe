//! Test harness of the command line: starts the real `keyseal-kms` binary on 127.0.0.1 (port 0;
//! the URL and dev token are read from its stdout, as kms/tests/common does), runs the real
//! `keyseal` binary, and kills the key service on drop.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

pub mod moto;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use keyseal::{
    CacheConfig, KeySeal, KeySealConfig, KmsClient, KmsClientConfig, Observer, RetryPolicy, ServiceBinding,
};
use keyseal_cli::transport::{StdClock, Tokens, UreqTransport};

/// The binary under test.
pub const KEYSEAL: &str = env!("CARGO_BIN_EXE_keyseal");

/// The service id the tests write into entries.
pub const SERVICE_ID: &str = "acme";

/// `keyseal-kms`, built beside `keyseal` (by `cargo test --workspace`, or here on first use).
pub fn kms_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = Path::new(KEYSEAL).with_file_name("keyseal-kms");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let st = Command::new(cargo)
                .args(["build", "-p", "keyseal-kms", "--bin", "keyseal-kms"])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                .status()
                .unwrap();
            assert!(st.success(), "building keyseal-kms failed");
        }
        bin
    })
}

/// A running key service.
pub struct Kms {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
    /// Writer token for tenant acme.
    pub token: String,
    /// The identity public key.
    pub identity: String,
    /// Database.
    pub db: PathBuf,
}

impl Kms {
    /// `serve --dev` on a fresh database in `dir`.
    pub fn start(dir: &Path) -> Kms {
        let db = dir.join("kms.db");
        let stderr = std::fs::File::create(dir.join("kms.stderr")).unwrap();
        let mut child = Command::new(kms_bin())
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut token, mut identity) = (None, None, None);
        while token.is_none() {
            let line = lines.next().expect("keyseal-kms exited early").unwrap();
            if let Some(u) = line.strip_prefix("KEYSEAL_KMS_URL=") {
                url = Some(u.to_owned());
            } else if let Some(i) = line.strip_prefix("KEYSEAL_KMS_IDENTITY=") {
                identity = Some(i.to_owned());
            } else if let Some(t) = line.strip_prefix("KEYSEAL_DEV_TOKEN=") {
                token = Some(t.to_owned());
            }
        }
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        let kms = Kms {
            child,
            url: url.unwrap(),
            token: token.unwrap(),
            identity: identity.unwrap(),
            db,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        while !agent
            .get(format!("{}/healthz", kms.url))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 200)
        {
            assert!(Instant::now() < deadline, "keyseal-kms did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        kms
    }

    /// Runs `keyseal-kms ARGS --db DB` (admin commands).
    pub fn admin(&self, args: &[&str]) -> Output {
        let out = Command::new(kms_bin())
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// A `keyseal` command with this service in its environment (KEYSEAL_TOKEN, not a flag).
    pub fn keyseal(&self) -> Command {
        let mut c = Command::new(KEYSEAL);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KEYSEAL_KEY_SERVICE", &self.url)
            .env("KEYSEAL_TOKEN", &self.token)
            .env("KEYSEAL_KEY_ID", "acme/default")
            .env("KEYSEAL_SERVICE_ID", SERVICE_ID);
        c
    }

    /// The core over this service in-process, with the encrypt cache on (for making many test
    /// objects quickly: one data key per context).
    pub fn sdk(&self) -> KeySeal {
        let clock: Rc<dyn keyseal::Clock> = Rc::new(StdClock::default());
        let observer = Rc::new(Observer::default());
        let client = KmsClient::new(
            KmsClientConfig {
                id: SERVICE_ID.into(),
                urls: vec![self.url.clone()],
                policy: RetryPolicy::default(),
                allow_plaintext_keys: false,
                reason: None,
                identity: None,
            },
            Rc::new(UreqTransport::new(Duration::from_secs(10))),
            clock.clone(),
            Rc::new(Tokens::Fixed(self.token.clone().into())),
            observer.clone(),
        )
        .unwrap();
        let mut config = KeySealConfig::new(vec![ServiceBinding {
            service: Rc::new(client),
            key_id: "acme/default".into(),
        }]);
        config.cache = CacheConfig {
            max_age_ms: 600_000.0,
            max_messages: 1_000_000,
            max_bytes: 1 << 40,
            max_entries: 10_000,
        };
        KeySeal::new(config, clock, observer).unwrap()
    }
}

impl Drop for Kms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` with `stdin` piped in.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Asserts a failure with `code` on stderr and its exit status from the table.
#[track_caller]
pub fn assert_fails(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(keyseal_cli::exit_status(code))),
        "exit status for {code}; stderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!("keyseal: {code}:")),
        "stderr names {code}: {stderr}"
    );
}

/// A scratch directory removed on drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("keyseal-cli-test-")
        .tempdir()
        .unwrap()
}

/// Deterministic test bytes.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
