//! OpenTelemetry tracing (`serve --otlp-endpoint`, src/otlp.rs, PROTOCOL.md §11 "Trace context")
//! through the real binary and a real OTLP/HTTP receiver that decodes every export with the
//! official OpenTelemetry proto definitions (tests/support/otlp_receiver.py, PyPI
//! `opentelemetry-proto` in the venv scripts/bootstrap.sh makes at target/otlp-venv): one span per
//! request, a child of the request's `traceparent`, with its attributes; an invalid `traceparent`
//! gives a root span and no error; nothing secret in any span; a collector that is down fails no
//! request; the spans still queued are exported when the service stops on SIGTERM; without
//! `--otlp-endpoint` no exporter thread exists.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kms, b64};
use serde_json::{Value, json};

/// The receiver process (killed on drop) and its URL.
struct Receiver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::start_on(0)
    }

    /// The receiver on loopback port `port` (0: any free port).
    fn start_on(port: u16) -> Receiver {
        let venv = std::env::var_os("KEYSEAL_OTLP_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/otlp-venv"));
        let python = venv.join("bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/bootstrap.sh (it makes the OTLP receiver's venv)",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(root().join("kms/tests/support/otlp_receiver.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("OTLP_RECEIVER_URL=")
            .unwrap_or_else(|| panic!("receiver said {line:?}"))
            .to_string();
        Receiver {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// The spans received so far (of trace `trace_id` when given); no export may have been
    /// rejected by the official decoder.
    async fn spans(&self, trace_id: Option<&str>) -> Vec<Value> {
        let url = match trace_id {
            Some(t) => format!("{}/spans?trace_id={t}", self.url),
            None => format!("{}/spans", self.url),
        };
        let v: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["rejected"], json!([]), "exports the proto decoder refused");
        v["spans"].as_array().unwrap().clone()
    }

    /// Waits (at most 20 s) until `n` spans match `pick`; returns them.
    async fn wait_for(&self, n: usize, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: Vec<Value> = self.spans(None).await.into_iter().filter(|s| pick(s)).collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} spans arrived: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b[0] |= 1; // never all zero
    hex(&b)
}

/// POST with a `traceparent` header (and the token in the body, as the SDK sends it).
async fn post_traced(kms: &Kms, path: &str, traceparent: &str, body: &Value) -> (u16, Value) {
    let r = kms
        .http
        .post(format!("{}{path}", kms.url))
        .header("traceparent", traceparent)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn attr<'a>(span: &'a Value, name: &str) -> &'a Value {
    &span["attributes"][name]
}

fn ctx() -> Value {
    json!({"tenant": "acme", "object": "traced"})
}

#[tokio::test]
async fn one_span_per_request_parented_to_the_traceparent_with_attributes_and_nothing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let kms = Kms::start(dir.path(), &["--otlp-endpoint", &receiver.url]).await;
    assert!(kms.stderr().contains("exporting spans to"), "{}", kms.stderr());
    let token = kms.dev_token.clone();
    let trace = random_hex(16);
    let (p1, p2, p3, p4) = (random_hex(8), random_hex(8), random_hex(8), random_hex(8));
    let tp = |p: &str| format!("00-{trace}-{p}-01");

    let (s, g) = post_traced(
        &kms,
        "/generate",
        &tp(&p1),
        &json!({"key_id": "acme/default", "context": ctx(), "authorization": token}),
    )
    .await;
    assert_eq!(s, 200, "{g}");
    let dek = g["key"].as_str().unwrap().to_string();
    let wrapped = g["wrapped_key"].as_str().unwrap().to_string();
    let (s, u) = post_traced(
        &kms,
        "/unwrap",
        &tp(&p2),
        &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": token}),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["key"].as_str().unwrap(), dek);
    // refused: another tenant's key → AccessDenied, still one span, with the outcome
    let (s, _) = post_traced(
        &kms,
        "/unwrap",
        &tp(&p3),
        &json!({"key_id": "globex/k", "wrapped_key": wrapped, "context": ctx(), "authorization": token}),
    )
    .await;
    assert_eq!(s, 403);
    // a wrap of the caller's own key: key bytes in the request, never in the span
    let my_key = [0x5au8; 32];
    let (s, w) = post_traced(
        &kms,
        "/wrap",
        &tp(&p4),
        &json!({"key_id": "acme/default", "key": b64(&my_key), "context": ctx(), "authorization": token}),
    )
    .await;
    assert_eq!(s, 200, "{w}");

    // a sentinel request after the four: spans are exported in order, so once its span is in,
    // any other span of the four would be too
    let (s, _) = kms.get("/status", None).await;
    assert_eq!(s, 200);
    receiver
        .wait_for(1, |s| s["name"] == json!("keyseal.status"))
        .await;
    // exactly one span per request, each the child of the span its traceparent named
    let spans = receiver.spans(Some(&trace)).await;
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let by_parent = |p: &str| -> &Value {
        let m: Vec<&Value> = spans.iter().filter(|s| s["parent_span_id"] == json!(p)).collect();
        assert_eq!(m.len(), 1, "one span with parent {p}: {spans:#?}");
        m[0]
    };
    for (parent, name, op, key, tenant, outcome) in [
        (&p1, "keyseal.generate", "generate", "acme/default", "acme", "ok"),
        (&p2, "keyseal.unwrap", "unwrap", "acme/default", "acme", "ok"),
        (
            &p3,
            "keyseal.unwrap",
            "unwrap",
            "globex/k",
            "globex",
            "AccessDenied",
        ),
        (&p4, "keyseal.wrap", "wrap", "acme/default", "acme", "ok"),
    ] {
        let s = by_parent(parent);
        assert_eq!(s["name"], json!(name), "{s:#}");
        assert_eq!(s["kind"], json!(2), "SPAN_KIND_SERVER: {s:#}");
        assert_ne!(s["span_id"], json!(parent), "a span of its own");
        assert_eq!(s["resource"]["service.name"], json!("keyseal-kms"));
        assert_eq!(attr(s, "keyseal.op"), &json!(op));
        assert_eq!(attr(s, "keyseal.key_id"), &json!(key));
        assert_eq!(attr(s, "keyseal.tenant"), &json!(tenant));
        assert_eq!(attr(s, "keyseal.outcome"), &json!(outcome));
        assert_eq!(attr(s, "http.request.method"), &json!("POST"));
        for t in [
            "keyseal.token_check_us",
            "keyseal.store_us",
            "keyseal.crypto_us",
            "keyseal.queue_us",
        ] {
            assert!(attr(s, t).is_i64(), "{t} in {s:#}");
        }
        // status: ERROR (2) with the error name when refused, unset otherwise
        if outcome == "ok" {
            assert_eq!(s["status"]["code"], json!(0), "{s:#}");
            assert_eq!(attr(s, "http.response.status_code"), &json!(200));
        } else {
            assert_eq!(s["status"]["code"], json!(2), "{s:#}");
            assert_eq!(s["status"]["message"], json!(outcome));
        }
    }
    // a successful operation spent time checking the token and in the store (audit at least)
    let g = by_parent(&p1);
    assert!(attr(g, "keyseal.token_check_us").as_i64().unwrap() > 0, "{g:#}");
    assert!(attr(g, "keyseal.store_us").as_i64().unwrap() > 0, "{g:#}");
    assert!(attr(g, "keyseal.crypto_us").as_i64().unwrap() > 0, "{g:#}");

    // nothing secret in any span: no token (nor its signature), no data key, no caller key
    let text = serde_json::to_string(&receiver.spans(None).await).unwrap();
    let signature = token.rsplit('.').next().unwrap();
    let dek_bytes = common::unb64(&dek);
    for (what, secret) in [
        ("token", token.clone()),
        ("token signature", signature.to_string()),
        ("data key (base64)", dek.clone()),
        ("data key (hex)", hex(&dek_bytes)),
        ("caller key (base64)", b64(&my_key)),
        ("caller key (hex)", hex(&my_key)),
        ("wrapped key", wrapped.clone()),
    ] {
        assert!(!text.contains(&secret), "the {what} is in a span");
    }
}

#[tokio::test]
async fn an_invalid_traceparent_gives_a_root_span_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let kms = Kms::start(dir.path(), &["--otlp-endpoint", &receiver.url]).await;
    let token = kms.dev_token.clone();
    let bad_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let invalid = [
        format!("00-{}-00f067aa0ba902b7-01", bad_trace.to_uppercase()),
        format!("ff-{bad_trace}-00f067aa0ba902b7-01"),
        format!("00-{bad_trace}-0000000000000000-01"),
        format!("00-{}-00f067aa0ba902b7-01", &bad_trace[..31]),
        format!("00-{bad_trace}-00f067aa0ba902b7-01-extra"),
        "garbage".to_string(),
    ];
    for (i, tp) in invalid.iter().enumerate() {
        let (s, g) = post_traced(&kms, "/generate", tp, &json!({"key_id": "acme/default", "context": {"object": format!("invalid-{i}")}, "authorization": token})).await;
        assert_eq!(s, 200, "{tp}: {g}");
    }
    let spans = receiver
        .wait_for(invalid.len(), |s| s["name"] == json!("keyseal.generate"))
        .await;
    assert_eq!(spans.len(), invalid.len(), "one span per request: {spans:#?}");
    let mut traces: Vec<&str> = Vec::new();
    for s in &spans {
        assert_eq!(s["parent_span_id"], json!(""), "a root span: {s:#}");
        assert_ne!(s["trace_id"], json!(bad_trace), "a fresh trace: {s:#}");
        assert_eq!(attr(s, "keyseal.outcome"), &json!("ok"));
        traces.push(s["trace_id"].as_str().unwrap());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), invalid.len(), "each root span starts its own trace");
    // without a traceparent too: a root span; /status is traced, /healthz and /metrics are not
    let (s, _) = kms.get("/status", None).await;
    assert_eq!(s, 200);
    let status = receiver
        .wait_for(1, |s| s["name"] == json!("keyseal.status"))
        .await;
    assert_eq!(status[0]["parent_span_id"], json!(""));
    assert_eq!(attr(&status[0], "keyseal.op"), &json!("status"));
    let names: Vec<String> = receiver
        .spans(None)
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n == "keyseal.generate" || n == "keyseal.status"),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_collector_that_is_down_fails_no_request_and_sigterm_flushes_the_queue() {
    // a port nothing listens on (yet)
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &["--otlp-endpoint", &down]).await;
    let token = kms.dev_token.clone();
    let trace = random_hex(16);
    for i in 0..20 {
        let tp = format!("00-{trace}-{}-01", random_hex(8));
        let (s, g) = post_traced(&kms, "/generate", &tp, &json!({"key_id": "acme/default", "context": {"object": format!("down-{i}")}, "authorization": token})).await;
        assert_eq!(s, 200, "{g}");
        let (s, u) = post_traced(&kms, "/unwrap", &tp, &json!({"key_id": "acme/default", "wrapped_key": g["wrapped_key"], "context": {"object": format!("down-{i}")}, "authorization": token})).await;
        assert_eq!(s, 200, "{u}");
    }
    // the failure is logged once, not per batch
    kms.wait_stderr("OTLP export to", 1).await;
    assert!(
        kms.stderr()
            .contains(&format!("OTLP export to {down}/v1/traces failed")),
        "{}",
        kms.stderr()
    );
    // the collector comes up on that port: spans flow again and the recovery is logged
    let receiver = Receiver::start_on(port);
    let trace = random_hex(16);
    let tp = format!("00-{trace}-{}-01", random_hex(8));
    let (s, _) = post_traced(
        &kms,
        "/generate",
        &tp,
        &json!({"key_id": "acme/default", "context": {}, "authorization": token}),
    )
    .await;
    assert_eq!(s, 200);
    receiver.wait_for(1, |s| s["trace_id"] == json!(trace)).await;
    kms.wait_stderr("works again", 1).await;
    assert_eq!(
        kms.stderr().matches("failed, spans are dropped").count(),
        1,
        "{}",
        kms.stderr()
    );
    drop(receiver);
    drop(kms);

    // SIGTERM: the spans still queued are exported before the process exits
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let mut kms = Kms::start(dir.path(), &["--otlp-endpoint", &receiver.url]).await;
    let trace = random_hex(16);
    let parent = random_hex(8);
    let (s, _) = post_traced(
        &kms,
        "/generate",
        &format!("00-{trace}-{parent}-01"),
        &json!({"key_id": "acme/default", "context": {}, "authorization": kms.dev_token}),
    )
    .await;
    assert_eq!(s, 200);
    kms.signal("TERM");
    assert!(kms.wait_exit(), "exit 0 after SIGTERM: {}", kms.stderr());
    let spans = receiver.spans(Some(&trace)).await;
    assert_eq!(
        spans.len(),
        1,
        "the span is exported by the time the process has exited: {spans:#?}"
    );
    assert_eq!(spans[0]["parent_span_id"], json!(parent));
}

/// The names of the process's threads (Linux: /proc/PID/task/*/comm, at most 15 bytes each).
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn off_by_default_no_exporter_runs_and_a_traceparent_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let on = Kms::start(dir.path(), &["--otlp-endpoint", &receiver.url]).await;
    // the SDK's batch processor thread ("OpenTelemetry.Traces.BatchProcessor", cut to 15 bytes)
    let exporter = "OpenTelemetry.T";
    assert!(
        thread_names(on.pid()).iter().any(|n| n == exporter),
        "{:?}",
        thread_names(on.pid())
    );
    drop(on);

    let dir = tempfile::tempdir().unwrap();
    let off = Kms::start(dir.path(), &[]).await;
    let tp = format!("00-{}-{}-01", random_hex(16), random_hex(8));
    let (s, g) = post_traced(
        &off,
        "/generate",
        &tp,
        &json!({"key_id": "acme/default", "context": {}, "authorization": off.dev_token}),
    )
    .await;
    assert_eq!(s, 200, "{g}");
    let names = thread_names(off.pid());
    assert!(
        !names.iter().any(|n| n.starts_with("OpenTelemetry")),
        "no exporter thread when off: {names:?}"
    );
    assert!(!off.stderr().contains("exporting spans"), "{}", off.stderr());
}
