//! Opens sealed files with the native core and a real key service: the native leg of the
//! cross-runtime test (js/test/harness.mjs runs it on what every JS runtime sealed).
//!
//! `cargo run --example open_sealed -- URL TOKEN SERVICE_ID FILE...` prints `ok FILE BYTES` or
//! `FAIL FILE CODE` per file and exits non-zero if any failed. Plain `http://` on loopback only: a
//! minimal blocking HTTP/1.1 transport, enough for a test tool (a real native client would use an
//! HTTP library with TLS).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../tests/common/mod.rs"]
mod common;
use common::block_on;

use keyseal::{
    CacheConfig, Clock, EncryptionContext, HttpRequest, HttpResponse, HttpTransport, KeySeal, KeySealConfig,
    KmsClient, KmsClientConfig, LocalBoxFuture, Observer, RetryPolicy, ServiceBinding, TokenRequest,
    TokenSource, TransportError, WrapMode,
};

struct LoopbackHttp;

fn http(req: &HttpRequest) -> Result<HttpResponse, String> {
    let rest = req
        .url
        .strip_prefix("http://")
        .ok_or("only http:// on loopback")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !(host.starts_with("127.") || host.starts_with("localhost")) {
        return Err("loopback only".into());
    }
    let mut s = TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let body = req.body.clone().unwrap_or_default();
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        req.method,
        path,
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(&body))
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or("bad status")?;
    let lower = head.to_ascii_lowercase();
    if lower.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..p]).trim(), 16)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[p + 2..p + 2 + n]);
            rest = &rest[p + 2 + n + 2..];
        }
        body = out;
    }
    let retry_after_ms = lower
        .lines()
        .find_map(|l| l.strip_prefix("retry-after:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s * 1000);
    Ok(HttpResponse {
        status,
        retry_after_ms,
        body,
    })
}

impl HttpTransport for LoopbackHttp {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move { http(&req).map_err(TransportError::Network) })
    }
}

struct StdClock(Instant);
impl Clock for StdClock {
    fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1000.0
    }
    fn unix_ms(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0)
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move { std::thread::sleep(Duration::from_millis(ms)) })
    }
}

struct Token(String);
impl TokenSource for Token {
    fn token<'a>(&'a self, _: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: open_sealed URL TOKEN SERVICE_ID FILE...");
        std::process::exit(2);
    }
    let clock: Rc<dyn Clock> = Rc::new(StdClock(Instant::now()));
    let observer = Rc::new(Observer::default());
    let client = KmsClient::new(
        KmsClientConfig {
            id: args[2].clone(),
            urls: vec![args[0].clone()],
            policy: RetryPolicy::default(),
            allow_plaintext_keys: false,
            reason: Some("native cross-runtime check".into()),
            identity: None,
        },
        Rc::new(LoopbackHttp),
        clock.clone(),
        Rc::new(Token(args[1].clone())),
        observer.clone(),
    )
    .unwrap();
    let ks = KeySeal::new(
        KeySealConfig {
            services: vec![ServiceBinding {
                service: Rc::new(client),
                key_id: "unused/encrypt".into(),
            }],
            cache: CacheConfig::disabled(),
            wrap_mode: WrapMode::KeyService,
            segment_size: keyseal::DEFAULT_SEGMENT_SIZE,
            engine: Box::new(keyseal::RustCryptoEngine),
            // A tool that opens whatever the other runtimes sealed: every key id at this one
            // service (the key service still authorizes each unwrap by the token).
            decrypt: keyseal::DecryptPolicy {
                allow_key_ids: vec!["*".into()],
                accept_public_key_entries: false,
            },
        },
        clock,
        observer,
    )
    .unwrap();
    let mut failed = 0;
    for f in &args[3..] {
        let sealed = std::fs::read(f).unwrap();
        match block_on(ks.decrypt(&sealed, &EncryptionContext::new())) {
            Ok((_, pt)) => println!("ok {f} {}", pt.len()),
            Err(e) => {
                failed += 1;
                println!("FAIL {f} {}", e.code());
            }
        }
    }
    std::process::exit(i32::from(failed > 0));
}
