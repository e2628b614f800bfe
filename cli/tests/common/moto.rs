//! moto's server (PyPI `moto[server]`, in the venv scripts/bootstrap.sh makes at target/moto-venv)
//! on 127.0.0.1: S3 for the S3 rewrap test, AWS KMS for the aws-kms kind.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("KEYSEAL_MOTO_SERVER") {
        return p.into();
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/moto-venv/bin/moto_server"
    ));
    assert!(
        p.exists(),
        "{} is missing: run scripts/bootstrap.sh (make bootstrap)",
        p.display()
    );
    p
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl Moto {
    /// Starts moto on a free port.
    pub fn start(dir: &std::path::Path) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("moto.log")).unwrap();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let m = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent().get(format!("{}/", m.url)).call().is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    /// PUT an object (or a bucket) without credentials.
    pub fn put(&self, path: &str, body: &[u8]) {
        let r = agent().put(format!("{}/{path}", self.url)).send(body).unwrap();
        assert_eq!(r.status().as_u16(), 200, "PUT {path}");
    }

    /// GET an object as the test user.
    pub fn get(&self, path: &str) -> Vec<u8> {
        // Objects the CLI wrote with credentials are private: read them as that (unverified) user.
        let mut r = agent()
            .get(format!("{}/{path}", self.url))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            )
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.body_mut().read_to_vec().unwrap()
    }
}

impl Moto {
    /// Creates a symmetric AWS KMS key and returns its id.
    pub fn create_kms_key(&self) -> String {
        let mut r = agent()
            .post(format!("{}/", self.url))
            .header("x-amz-target", "TrentService.CreateKey")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
            )
            .send("{}")
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }
}
