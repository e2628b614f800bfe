//! Load generator behind `make bench-kms`: starts the real `keyseal-kms` on loopback, drives
//! 50 concurrent clients at `POST /v1/unwrap` for a bounded time and reports req/s and latency
//! percentiles. With `--write PATH` it replaces the "Key service" section of that markdown file.
//!
//! Five rows of `--seconds` each: closed loop (capacity) for answers HPKE-sealed to a recipient
//! and for plaintext answers, then open loop at `--rate` req/s for both and at half that rate for
//! sealed answers; then a time-to-revoke measurement (about 1 s).
//!
//! With `--postgres N` the store is a real PostgreSQL (started in a temp dir, as the tests do) shared
//! by N `serve` instances, the clients spread over them; the section is then "Key service on
//! PostgreSQL (N instances)".
//!
//! Usage: `bench_kms [--bin PATH] [--clients 50] [--seconds 4] [--rate 2000] [--postgres N] [--write docs/BENCHMARKS.md]`
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyseal_format::hpke_p256::RecipientKeyPair;
use serde_json::{Value, json};

struct Args {
    bin: PathBuf,
    clients: usize,
    seconds: u64,
    rate: f64,
    workers: Option<String>,
    write: Option<PathBuf>,
    otlp_endpoint: Option<String>,
    /// Instances on one PostgreSQL database; 0: one instance on SQLite.
    postgres: usize,
}

fn args() -> Args {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/bench_kms -> target/<profile>/keyseal-kms
    let default_bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("keyseal-kms"))
        .unwrap();
    let mut a = Args {
        bin: default_bin,
        clients: 50,
        seconds: 3,
        rate: 2000.0,
        workers: None,
        write: None,
        otlp_endpoint: None,
        postgres: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--bin" => a.bin = v.into(),
            "--clients" => a.clients = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--rate" => a.rate = v.parse().unwrap(),
            "--workers" => a.workers = Some(v),
            "--write" => a.write = Some(v.into()),
            // tracing on: `serve --otlp-endpoint URL` (a span per request, docs/DESIGN.md "Tracing")
            "--otlp-endpoint" => a.otlp_endpoint = Some(v),
            "--postgres" => a.postgres = v.parse().unwrap(),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

struct Run {
    label: String,
    requests: usize,
    errors: usize,
    seconds: f64,
    lat_ms: Vec<f64>,
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        if self.lat_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.lat_ms.len() as f64 - 1.0) * p).round() as usize;
        self.lat_ms[i]
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Drive `clients` concurrent clients for `dur`. With `rate: None` each client sends as fast as it
/// can (closed loop: measures capacity). With `rate: Some(r)` the clients together send `r`
/// requests per second on a fixed schedule (open loop) and latency is measured from the scheduled
/// send time, so queueing delay is counted (no coordinated omission).
async fn drive(
    label: String,
    urls: &[String],
    bodies: Arc<Vec<Value>>,
    clients: usize,
    dur: Duration,
    rate: Option<f64>,
) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    // warm-up: open connections (client c talks to instance c mod n)
    for (c, b) in bodies.iter().take(clients).enumerate() {
        let _ = http
            .post(format!("{}/unwrap", urls[c % urls.len()]))
            .json(b)
            .send()
            .await;
    }
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let url = urls[c % urls.len()].clone();
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = c;
            let mut k = 0u64;
            while Instant::now() < deadline {
                let body = &bodies[i % bodies.len()];
                i += clients;
                let t0 = match rate {
                    None => Instant::now(),
                    Some(r) => {
                        let at = start + Duration::from_secs_f64((k as f64 * clients as f64 + c as f64) / r);
                        k += 1;
                        if at >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                };
                match http.post(format!("{url}/unwrap")).json(body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat_ms = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat_ms.extend(l);
        errors += e;
    }
    let seconds = start.elapsed().as_secs_f64();
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Run {
        label,
        requests: lat_ms.len(),
        errors,
        seconds,
        lat_ms,
    }
}

struct Revoke {
    disable_ms: f64,
    first_refusal_after_ack_ms: f64,
    ok_after_ack: usize,
    refused: usize,
}

/// Disable the key while clients unwrap; measure when refusals start.
async fn time_to_revoke(a: &Args, store: &Store, urls: &[String], bodies: Arc<Vec<Value>>) -> Revoke {
    let out = Command::new(&a.bin)
        .args([
            "token", "mint", "--tenant", "acme", "--role", "admin", "--db", &store.db,
        ])
        .envs(store.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let url = urls[0].as_str();
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients)
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let url = urls[c % urls.len()].clone();
        let (http, bodies, stop) = (http.clone(), bodies.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new(); // (sent, done, ok)
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let body = &bodies[c % bodies.len()];
                let ok = match http.post(format!("{url}/unwrap")).json(body).send().await {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                };
                seen.push((sent, Instant::now(), ok));
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    let r = http
        .post(format!("{url}/admin/keys/acme/default/disable"))
        .bearer_auth(&admin)
        .json(&json!({"reason": "bench: time to revoke"}))
        .send()
        .await
        .unwrap();
    let ack = Instant::now();
    assert!(r.status().is_success(), "disable failed: {}", r.status());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut first_refusal: Option<Instant> = None;
    let (mut ok_after_ack, mut refused) = (0, 0);
    for t in tasks {
        for (sent, done, ok) in t.await.unwrap() {
            if ok && sent > ack {
                ok_after_ack += 1;
            }
            if !ok {
                refused += 1;
                first_refusal = Some(first_refusal.map_or(done, |f| f.min(done)));
            }
        }
    }
    let first = first_refusal.map_or(f64::NAN, |f| {
        if f >= ack {
            (f - ack).as_secs_f64() * 1000.0
        } else {
            -((ack - f).as_secs_f64() * 1000.0)
        }
    });
    Revoke {
        disable_ms: (ack - t0).as_secs_f64() * 1000.0,
        first_refusal_after_ack_ms: first,
        ok_after_ack,
        refused,
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

#[tokio::main]
async fn main() {
    let a = args();
    let load_before = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let dir = std::env::temp_dir().join(format!("keyseal-bench-kms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::new(&dir, a.postgres);
    let mut children = Vec::new();
    let mut urls = Vec::new();
    let mut token = String::new();
    // one instance at a time: the first creates the dev key and the local issuer
    for _ in 0..a.postgres.max(1) {
        let mut child = Command::new(&a.bin)
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--db", &store.db])
            .envs(store.env.iter().map(|(k, v)| (k, v)))
            .args(a.workers.iter().flat_map(|w| ["--workers", w.as_str()]))
            .args(
                a.otlp_endpoint
                    .iter()
                    .flat_map(|u| ["--otlp-endpoint", u.as_str()]),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", a.bin.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut tok) = (String::new(), String::new());
        while url.is_empty() || tok.is_empty() {
            let l = lines.next().unwrap().unwrap();
            if let Some(u) = l.strip_prefix("KEYSEAL_KMS_URL=") {
                url = u.into();
            } else if let Some(t) = l.strip_prefix("KEYSEAL_DEV_TOKEN=") {
                tok = t.into();
            }
        }
        std::thread::spawn(move || for _ in lines {});
        if token.is_empty() {
            token = tok;
        }
        urls.push(url);
        children.push(child);
    }
    let url = urls[0].clone();
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{url}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let context = json!({"tenant": "acme", "object": "bench"});
    let g: Value = http
        .post(format!("{url}/generate"))
        .json(&json!({"key_id": "acme/default", "context": context, "authorization": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrapped = g["wrapped_key"].as_str().unwrap().to_string();
    // Pre-made ephemeral recipients so the client spends no CPU on key generation.
    let sealed_bodies: Vec<Value> = (0..256)
        .map(|_| {
            let kp = RecipientKeyPair::generate();
            json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": context, "authorization": token,
                   "recipient": {"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": STANDARD.encode(kp.public_sec1())}})
        })
        .collect();
    let plain_bodies = vec![
        json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": context, "authorization": token}),
    ];
    let dur = Duration::from_secs(a.seconds);
    let sealed = Arc::new(sealed_bodies);
    let plain = Arc::new(plain_bodies);
    let plain_for_revoke = plain.clone();
    let mut runs = Vec::new();
    runs.push(
        drive(
            "unwrap, DEK HPKE-sealed to a recipient (SDK default), closed loop".into(),
            &urls,
            sealed.clone(),
            a.clients,
            dur,
            None,
        )
        .await,
    );
    runs.push(
        drive(
            "unwrap, plaintext `key` answer, closed loop".into(),
            &urls,
            plain.clone(),
            a.clients,
            dur,
            None,
        )
        .await,
    );
    let target = a.rate;
    for (name, bodies, rate) in [
        ("plaintext `key`", plain, target),
        ("HPKE-sealed", sealed.clone(), target),
        ("HPKE-sealed", sealed, target / 2.0),
    ] {
        runs.push(
            drive(
                format!("unwrap, {name}, open loop at {rate:.0} req/s"),
                &urls,
                bodies,
                a.clients,
                dur,
                Some(rate),
            )
            .await,
        );
    }
    let revoke = time_to_revoke(&a, &store, &urls, plain_for_revoke).await;
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    let heading = if a.postgres == 0 {
        "## Key service".to_string()
    } else {
        format!("## Key service on PostgreSQL ({} instances)", a.postgres)
    };
    let mut md = String::new();
    md.push_str(&heading);
    md.push_str("\n\n");
    if a.postgres > 0 {
        md.push_str(&format!(
            "`make bench-kms`, second run (`--postgres {n}`): the same workload against {n} `keyseal-kms` \
             instances sharing one PostgreSQL {pgv} database (started in a temp dir on this machine, \
             as the tests do), the {c} clients spread over them (client i talks to instance i mod {n}); \
             the database server, the instances and the load generator all share the same cores. Every \
             request reads its key row from PostgreSQL and appends to the one audit chain under the \
             store's advisory write lock (docs/DESIGN.md). The time to revoke disables the key through \
             the first instance while clients unwrap through all of them. Verdict: the sealed-answer \
             goals of the SQLite table are not met here, by design: every request's audit append takes \
             the one write lock, so instances serialize on the audit chain and a second instance adds \
             availability (a `kill -9` loses nothing, kms/tests/postgres.rs), not capacity; with the \
             database server on the same two cores each request also pays a round trip per statement. \
             Appending audit rows in groups (one lock and commit for many requests) is the change that \
             would lift it.\n\n",
            n = a.postgres,
            c = a.clients,
            pgv = postgres_version(),
        ));
    }
    md.push_str(&format!(
        "`make bench-kms`: the real `keyseal-kms` (release build, {} store, every request \
         token-verified, audited and hash-chained) on 127.0.0.1, {} concurrent HTTP/1.1 \
         keep-alive clients in one load-generator process on the same machine, {} s per row. \
         Machine: {} cores, {}. The load generator shares the cores with the service, so these \
         are lower bounds. Closed loop = every client sends as fast as answers come back \
         (capacity; latency there is mostly queueing behind 50 clients). Open loop = a fixed \
         total rate, latency measured from the scheduled send time (no coordinated omission). \
         HPKE-sealed answers cost the service an ephemeral P-256 key generation and an ECDH per \
         request, and every answer one ECDSA P-256 identity signature (all three in aws-lc-rs, \
         docs/DESIGN.md \"Sealed answers at speed\"). Our targets: sealed answers ≥ 5,000 req/s \
         closed loop, p99 ≤ 10 ms at 2,000 req/s; Google asks KACLS for p99 ≤ 200 ms.\n\n",
        if a.postgres == 0 { "SQLite" } else { "PostgreSQL" },
        a.clients,
        a.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model()
    ));
    md.push_str(&format!(
        "1-minute load average just before the run: {load_before} (anything above 0 is other \
         work competing for the same cores).\n\n"
    ));
    md.push_str("| workload | req/s | p50 ms | p95 ms | p99 ms | requests | errors |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    for r in &runs {
        md.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            r.label,
            r.rps(),
            r.pct(0.50),
            r.pct(0.95),
            r.pct(0.99),
            r.requests,
            r.errors
        ));
        eprintln!(
            "{}: {:.0} req/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} errors",
            r.label,
            r.rps(),
            r.pct(0.50),
            r.pct(0.95),
            r.pct(0.99),
            r.errors
        );
    }
    let f = revoke.first_refusal_after_ack_ms;
    let when = if f < 0.0 {
        format!("{:.2} ms before the acknowledgment reached the admin client", -f)
    } else {
        format!("{f:.2} ms after the acknowledgment")
    };
    md.push_str(&format!(
        "\nTime to revoke (SLI): with {} clients unwrapping, `POST /v1/admin/keys/acme/default/disable` \
         was acknowledged after {:.2} ms; the first `KeyDisabled` answer arrived {when}; unwraps \
         sent after the acknowledgment that still succeeded: {} (must be 0); refused: {}.\n",
        a.clients, revoke.disable_ms, revoke.ok_after_ack, revoke.refused
    ));
    eprintln!(
        "revoke: first refusal {:.2} ms after ack, {} successes sent after ack",
        revoke.first_refusal_after_ack_ms, revoke.ok_after_ack
    );
    print!("{md}");
    if let Some(path) = a.write {
        let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        let new = replace_section(&old, &heading, &md);
        std::fs::write(&path, new).unwrap();
        eprintln!("wrote the {heading:?} section of {}", path.display());
    }
}

/// Replace the section under `heading` (up to the next `## ` heading) or append it.
fn replace_section(doc: &str, heading: &str, section: &str) -> String {
    let mut out = String::new();
    let mut lines = doc.lines().peekable();
    let mut done = false;
    while let Some(l) = lines.next() {
        if !done && l.trim_end() == heading {
            out.push_str(section);
            while let Some(n) = lines.peek() {
                if n.starts_with("## ") {
                    out.push('\n');
                    break;
                }
                lines.next();
            }
            done = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if !done {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(section);
    }
    out
}

/// Where the instances keep their state: a SQLite file (the master key beside it, made by
/// `--dev`), or a PostgreSQL database with the master key in the environment.
struct Store {
    db: String,
    env: Vec<(String, String)>,
    _pg: Option<postgres::Pg>,
}

impl Store {
    fn new(dir: &std::path::Path, instances: usize) -> Store {
        if instances == 0 {
            return Store {
                db: dir.join("kms.db").to_string_lossy().into_owned(),
                env: Vec::new(),
                _pg: None,
            };
        }
        let pg = postgres::Pg::start();
        let db = pg.create_db("bench");
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).unwrap();
        Store {
            db,
            env: vec![("KEYSEAL_KMS_MASTER_KEY".into(), STANDARD.encode(key))],
            _pg: Some(pg),
        }
    }
}

fn postgres_version() -> String {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).max())
        .unwrap_or_else(|| "?".into())
}
