//! OpenTelemetry tracing of protocol requests (`serve --otlp-endpoint URL`; docs/PROTOCOL.md §11
//! "Trace context", docs/DESIGN.md "Tracing the key service").
//!
//! One span per protocol request, named `keyseal.<op>` (`keyseal.unwrap`, `keyseal.admin`, ...),
//! kind server, child of the request's W3C `traceparent` when it carries a valid one (else a root
//! span), with the attributes of [`attr`] — operation, key id, tenant, outcome and the time spent
//! checking the token, in the store and in crypto — and the resource `service.name=keyseal-kms`.
//! Spans are exported over OTLP/HTTP (protobuf) by a batch processor on its own thread: a request
//! only hands its finished span to a bounded queue (dropped when full), so a slow or absent
//! collector never slows or fails a request. Nothing secret is ever put in a span: no token, no key
//! material, no request body.
//!
//! No cost when off: without `--otlp-endpoint` no exporter or provider exists, the middleware is
//! not in the router, and the timing hooks ([`time`]) cost one thread-local read.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};

use crate::error::{Error, Result};
use crate::http::Shared;

/// The span attribute names (stable: dashboards and tests use them).
pub mod attr {
    /// The protocol operation (`generate`, `unwrap`, `admin`, `status`, ...).
    pub const OP: &str = "keyseal.op";
    /// The key id the request named (empty when none or malformed).
    pub const KEY_ID: &str = "keyseal.key_id";
    /// The tenant of that key, else of the verified token.
    pub const TENANT: &str = "keyseal.tenant";
    /// `ok`, or the error name of docs/PROTOCOL.md §5 (`AccessDenied`, `NotFound`, ...).
    pub const OUTCOME: &str = "keyseal.outcome";
    /// Microseconds spent verifying the token (§4.1).
    pub const TOKEN_CHECK_US: &str = "keyseal.token_check_us";
    /// Microseconds spent in the store: key loads, wrap counting, the audit append (§9).
    pub const STORE_US: &str = "keyseal.store_us";
    /// Microseconds spent in the operation's own work (key derivation, wrap/unwrap, HPKE seal,
    /// answer and identity signature), store time inside it excluded.
    pub const CRYPTO_US: &str = "keyseal.crypto_us";
    /// Microseconds queued for a worker (`--workers`) before the work started.
    pub const QUEUE_US: &str = "keyseal.queue_us";
    /// The HTTP method (OpenTelemetry semantic conventions).
    pub const HTTP_METHOD: &str = "http.request.method";
    /// The HTTP status code of the answer (OpenTelemetry semantic conventions).
    pub const HTTP_STATUS: &str = "http.response.status_code";
}

/// The service name of the OTLP resource.
pub const SERVICE_NAME: &str = "keyseal-kms";

/// How long one export may take before it is abandoned (the spans of that batch are lost).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The exporter of a `serve --otlp-endpoint`: the SDK tracer provider (batch processor + OTLP/HTTP).
pub struct Tracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    endpoint: String,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The traces URL of an `--otlp-endpoint`: the OTLP base URL (`http://collector:4318`) gets the
/// standard `/v1/traces` path, as `OTEL_EXPORTER_OTLP_ENDPOINT` does; a URL already ending in
/// `/v1/traces` is used as given.
pub fn traces_url(endpoint: &str) -> Result<String> {
    let e = endpoint.trim();
    let Some(rest) = e.strip_prefix("http://") else {
        return Err(Error::InvalidRequest(format!(
            "--otlp-endpoint must be an http:// URL (OTLP/HTTP; run a local collector for TLS), not {e:?}"
        )));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(Error::InvalidRequest(format!(
            "--otlp-endpoint has no host: {e:?}"
        )));
    }
    let base = e.trim_end_matches('/');
    Ok(if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    })
}

impl Tracing {
    /// Starts the batch exporter to `endpoint` (see [`traces_url`]). Nothing is sent until the
    /// first span ends; a collector that is down only loses spans.
    pub fn start(endpoint: &str) -> Result<Tracing> {
        let url = traces_url(endpoint)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| Error::InvalidRequest(format!("--otlp-endpoint: {e}")))?;
        let exporter = Logged {
            inner: exporter,
            endpoint: url.clone(),
            failing: Mutex::default(),
        };
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(4096)
                    .with_scheduled_delay(Duration::from_millis(500))
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder_empty().with_service_name(SERVICE_NAME).build())
            .build();
        let tracer = provider.tracer(SERVICE_NAME);
        Ok(Tracing {
            provider,
            tracer,
            endpoint: url,
        })
    }

    /// The traces URL spans go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports what is queued and stops the exporter (blocking: at most the export timeout).
    /// Called when `serve` stops (SIGTERM, ctrl-c).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown_with_timeout(EXPORT_TIMEOUT) {
            eprintln!("keyseal-kms: OTLP: last spans not exported: {e}");
        }
    }
}

/// The OTLP exporter, logging to stderr when exports start failing (once, not per batch) and when
/// they work again, with the number of spans lost in between.
#[derive(Debug)]
struct Logged<E> {
    inner: E,
    endpoint: String,
    /// While exports fail: the spans lost so far.
    failing: Mutex<Option<usize>>,
}

impl<E: SpanExporter> Logged<E> {
    fn record(&self, spans: usize, result: &OTelSdkResult) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match (result, failing.as_mut()) {
            (Ok(()), Some(lost)) => {
                eprintln!(
                    "keyseal-kms: OTLP export to {} works again ({lost} spans were lost)",
                    self.endpoint
                );
                *failing = None;
            }
            (Err(e), None) => {
                eprintln!(
                    "keyseal-kms: OTLP export to {} failed, spans are dropped until it works again: {e}",
                    self.endpoint
                );
                *failing = Some(spans);
            }
            (Err(_), Some(lost)) => *lost += spans,
            (Ok(()), None) => {}
        }
    }
}

impl<E: SpanExporter> SpanExporter for Logged<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        self.record(n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The parent span of a request: its `traceparent` header when valid per W3C Trace Context
/// (<https://www.w3.org/TR/trace-context/#traceparent-header>), else `None` (the span is a root).
/// An invalid header is ignored, never an error (§11). Written out rather than taken from
/// `opentelemetry_sdk`'s `TraceContextPropagator`, which accepts ids of the wrong length.
pub fn parent_of(headers: &HeaderMap) -> Option<SpanContext> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None; // two traceparent headers: ambiguous, ignored
    }
    parse_traceparent(value)
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses a `traceparent` value: `version-traceid-parentid-flags`, lowercase hex of 2, 32, 16 and 2
/// digits; version `ff` is invalid; version `00` has exactly these four fields, a later version may
/// append `-…` fields, which are ignored; all-zero ids are invalid.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let v = value.trim_matches([' ', '\t']);
    let mut parts = v.splitn(5, '-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let more = parts.next();
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && more.is_some()) {
        return None;
    }
    if !lower_hex(trace, 32) || !lower_hex(parent, 16) || !lower_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok().filter(|t| *t != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(parent).ok().filter(|s| *s != SpanId::INVALID)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// What one request's span says, gathered while it runs.
#[derive(Debug, Default)]
struct Record {
    op: Option<&'static str>,
    key_id: Option<String>,
    tenant: Option<String>,
    outcome: Option<String>,
    token: Duration,
    store: Duration,
    crypto: Duration,
    queue: Duration,
    /// Sum of the phases recorded so far: what a nested [`time`] subtracts.
    timed: Duration,
}

type RecordRef = Arc<Mutex<Record>>;

tokio::task_local! {
    static REQUEST: RecordRef;
}

thread_local! {
    static ACTIVE: RefCell<Option<RecordRef>> = const { RefCell::new(None) };
}

fn with_record(f: impl FnOnce(&mut Record)) {
    ACTIVE.with(|a| {
        if let Some(r) = a.borrow().as_ref() {
            f(&mut r.lock().unwrap_or_else(PoisonError::into_inner));
        }
    });
}

/// The current request's record, to carry into its blocking task ([`within`]); `None` when
/// tracing is off (one task-local read).
pub fn current() -> Option<RequestScope> {
    REQUEST.try_with(|r| RequestScope(r.clone())).ok()
}

/// A traced request's record, moved into the thread that runs its work.
#[derive(Debug, Clone)]
pub struct RequestScope(RecordRef);

impl RequestScope {
    /// Records the operation name, its outcome (`ok` or the §5 error name) and the time it
    /// waited for a worker.
    pub fn settle(&self, op: &'static str, outcome: &str, queued: Duration) {
        let mut r = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        r.op = Some(op);
        r.outcome = Some(outcome.to_string());
        r.queue = queued;
    }
}

/// Runs `f` with `scope` as this thread's current request, so [`time`] and [`note_call`] record
/// into it.
pub fn within<T>(scope: Option<&RequestScope>, f: impl FnOnce() -> T) -> T {
    /// Puts the previous record back, also when `f` panics (worker threads are reused).
    struct Restore(Option<RecordRef>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            ACTIVE.with(|a| *a.borrow_mut() = prev);
        }
    }
    let Some(scope) = scope else { return f() };
    let _restore = Restore(ACTIVE.with(|a| a.borrow_mut().replace(scope.0.clone())));
    f()
}

/// What [`time`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Token verification.
    Token,
    /// Store access.
    Store,
    /// The operation's own work.
    Crypto,
}

/// Runs `f`, adding its time — less what nested [`time`] calls recorded — to `phase` of the
/// current traced request. Without one (tracing off), just runs `f`.
pub fn time<T>(phase: Phase, f: impl FnOnce() -> T) -> T {
    let active = ACTIVE.with(|a| a.borrow().is_some());
    if !active {
        return f();
    }
    let mut before = Duration::ZERO;
    with_record(|r| before = r.timed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    with_record(|r| {
        let own = elapsed.saturating_sub(r.timed.saturating_sub(before));
        match phase {
            Phase::Token => r.token += own,
            Phase::Store => r.store += own,
            Phase::Crypto => r.crypto += own,
        }
        r.timed += own;
    });
    out
}

/// Notes the key id a call names (the first one wins: a batch's span names its first key) and
/// its tenant.
pub fn note_call(key_id: &str) {
    if key_id.is_empty() {
        return;
    }
    with_record(|r| {
        if r.key_id.is_none() {
            r.key_id = Some(key_id.to_string());
            if let Some((tenant, _)) = crate::key_id::split(key_id) {
                r.tenant = Some(tenant.to_string());
            }
        }
    });
}

/// Notes the tenant of a verified token, when no key id gave one.
pub fn note_tenant(tenant: &str) {
    with_record(|r| {
        if r.tenant.is_none() {
            r.tenant = Some(tenant.to_string());
        }
    });
}

/// The operation of a request that does not go through [`crate::http::run`], by path; `None`:
/// not traced (`/healthz`, `/metrics`, unknown paths).
fn op_of_path(path: &str) -> Option<&'static str> {
    (path == "/v1/status").then_some("status")
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The tracing middleware (only in the router with `--otlp-endpoint`): runs the request with a
/// fresh record, then builds and ends its span.
pub async fn middleware(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let Some(tracing) = app.tracing() else {
        return next.run(req).await;
    };
    let parent = parent_of(req.headers());
    let method = req.method().as_str().to_string();
    let path_op = op_of_path(req.uri().path());
    let start = SystemTime::now();
    let record: RecordRef = Arc::default();
    let resp = REQUEST.scope(record.clone(), next.run(req)).await;
    let end = SystemTime::now();
    let r = std::mem::take(&mut *record.lock().unwrap_or_else(PoisonError::into_inner));
    let Some(op) = r.op.or(path_op) else {
        return resp;
    };
    let status = resp.status().as_u16();
    let outcome = r
        .outcome
        .unwrap_or_else(|| if resp.status().is_success() { "ok" } else { "error" }.to_string());
    let attributes = vec![
        KeyValue::new(attr::OP, op),
        KeyValue::new(attr::KEY_ID, r.key_id.unwrap_or_default()),
        KeyValue::new(attr::TENANT, r.tenant.unwrap_or_default()),
        KeyValue::new(attr::OUTCOME, outcome.clone()),
        KeyValue::new(attr::TOKEN_CHECK_US, micros(r.token)),
        KeyValue::new(attr::STORE_US, micros(r.store)),
        KeyValue::new(attr::CRYPTO_US, micros(r.crypto)),
        KeyValue::new(attr::QUEUE_US, micros(r.queue)),
        KeyValue::new(attr::HTTP_METHOD, method),
        KeyValue::new(attr::HTTP_STATUS, i64::from(status)),
    ];
    let cx = match parent {
        Some(p) => Context::new().with_remote_span_context(p),
        None => Context::new(),
    };
    let mut span = tracing
        .tracer
        .span_builder(format!("keyseal.{op}"))
        .with_kind(SpanKind::Server)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracing.tracer, &cx);
    use opentelemetry::trace::Span as _;
    if outcome != "ok" {
        span.set_status(Status::error(outcome));
    }
    span.end_with_timestamp(end);
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const P: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_parses() {
        let c = parse_traceparent(P).unwrap();
        assert_eq!(c.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id().to_string(), "00f067aa0ba902b7");
        assert!(c.is_sampled() && c.is_remote());
        // a later version may carry more fields
        assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        // unknown flags are dropped, sampling kept
        assert!(
            !parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")
                .unwrap()
                .is_sampled()
        );
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "",
            "garbage",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-abc-def-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
        let mut h = HeaderMap::new();
        h.append("traceparent", P.parse().unwrap());
        assert!(parent_of(&h).is_some());
        h.append("traceparent", P.parse().unwrap());
        assert!(parent_of(&h).is_none(), "two headers are ambiguous");
    }

    #[test]
    fn the_endpoint_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(traces_url("http://c:4318/").unwrap(), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert!(traces_url("https://c:4318").is_err());
        assert!(traces_url("c:4318").is_err());
        assert!(traces_url("http://").is_err());
    }

    #[test]
    fn nested_phases_count_once() {
        let scope = RequestScope(Arc::default());
        within(Some(&scope), || {
            time(Phase::Crypto, || {
                time(Phase::Store, || std::thread::sleep(Duration::from_millis(2)));
            });
        });
        let r = scope.0.lock().unwrap();
        assert!(r.store >= Duration::from_millis(2));
        assert_eq!(
            r.timed,
            r.store + r.crypto,
            "exclusive times add up to the outer time"
        );
        // off: nothing recorded, f still runs
        assert_eq!(time(Phase::Token, || 7), 7);
    }
}
