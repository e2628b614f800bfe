//! HTTP binding of protocol v1 (axum): routes, body limit, in-flight limit and worker pool,
//! metrics, and the error answers of docs/PROTOCOL.md §5. Bodies and answers are the
//! `keyseal-protocol` types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keyseal_protocol::{
    GenerateBatchRequest, GenerateRequest, HealthAnswer, PROTOCOL_VERSION, RewrapBatchRequest, RewrapRequest,
    StatusAnswer, Suite, Token, UnwrapRequest, WrapRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::service::Service;

/// Server configuration of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Allowed CORS origins (exact match; `*` allows any).
    pub cors_origins: Vec<String>,
    /// Request body limit in bytes.
    pub max_body: usize,
    /// Most requests in flight (queued or running) before `Throttled`.
    pub max_in_flight: usize,
    /// Requests processed at once.
    pub workers: usize,
}

/// State shared by handlers.
pub struct App {
    /// The service.
    pub service: Service,
    /// Metrics.
    pub metrics: Metrics,
    /// Config.
    pub config: HttpConfig,
    in_flight: AtomicUsize,
    /// Bounds the request work (crypto + store) running at once (`--workers`), so requests queue
    /// in FIFO order instead of time-slicing against each other.
    workers: Arc<tokio::sync::Semaphore>,
    /// The KACLS API when `serve --kacls-key` enabled it (src/kacls.rs), set once before serving.
    pub kacls: std::sync::OnceLock<Arc<crate::kacls::Kacls>>,
    /// The span exporter of `--otlp-endpoint` (`crate::otlp`); `None`: tracing is off.
    tracing: Option<crate::otlp::Tracing>,
}

/// The app as handlers hold it.
pub type Shared = Arc<App>;

impl App {
    /// Builds the app state.
    pub fn new(service: Service, config: HttpConfig) -> Shared {
        Self::with_tracing(service, config, None)
    }

    /// Builds the app state, exporting a span per request with `tracing`.
    pub fn with_tracing(
        service: Service,
        config: HttpConfig,
        tracing: Option<crate::otlp::Tracing>,
    ) -> Shared {
        let workers = config.workers.max(1);
        Arc::new(App {
            service,
            metrics: Metrics::new(),
            config,
            in_flight: AtomicUsize::new(0),
            workers: Arc::new(tokio::sync::Semaphore::new(workers)),
            kacls: std::sync::OnceLock::new(),
            tracing,
        })
    }

    /// The span exporter, when tracing is on.
    pub fn tracing(&self) -> Option<&crate::otlp::Tracing> {
        self.tracing.as_ref()
    }

    /// Requests in flight now (queued for a worker or running).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// The §5 answer of an error, with its headers.
pub fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.name().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(e.body())).into_response();
    let h = resp.headers_mut();
    match e {
        // The rest of the body is not read: tell the client not to reuse the connection.
        Error::PayloadTooLarge(_) => {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Error::Unauthenticated(_) => {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keyseal-kms\""),
            );
        }
        Error::Throttled(_) => {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    resp
}

fn answer<T: Serialize>(result: Result<T>) -> Response {
    match result {
        Ok(v) => ok_no_store(v),
        Err(e) => error_response(&e),
    }
}

/// A 200 JSON answer that no cache may keep (answers carry wrapped or sealed keys).
pub fn ok_no_store<T: Serialize>(v: T) -> Response {
    let mut r = (StatusCode::OK, axum::Json(v)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The `Authorization: Bearer` token, if any.
pub fn bearer(headers: &HeaderMap) -> Option<Token> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| Token::new(token.trim().to_string()))
}

/// What a malformed body is told: where and what kind of problem, but none of the request's own
/// text (serde quotes the offending value in some messages).
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("malformed JSON at {at}"),
        Category::Data => {
            let text = e.to_string();
            let safe = text.starts_with("missing field")
                || text.starts_with("duplicate field")
                || text.starts_with(crate::crypto::b64::EXPECTED);
            if safe {
                text
            } else if let Some(i) = text.find(", expected ") {
                // "invalid type: <the request's value>, expected <what>": keep only the expectation.
                format!("a member has the wrong type or value: {}", &text[i + 2..])
            } else {
                format!("a member has the wrong type or value at {at}")
            }
        }
    }
}

/// Parses a body into a protocol type (§2: InvalidRequest, or PayloadTooLarge past the limit).
pub fn parse_body<T: DeserializeOwned>(body: &std::result::Result<Bytes, BytesRejection>) -> Result<T> {
    let bytes = match body {
        Ok(b) => b,
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Error::PayloadTooLarge("request body is over the limit".into()));
        }
        Err(_) => return Err(Error::InvalidRequest("cannot read the request body".into())),
    };
    serde_json::from_slice(bytes).map_err(|e| Error::InvalidRequest(json_error(&e)))
}

/// The key id a body names, when it is well formed: what a refusal of the body is audited under.
pub fn key_id_hint(body: &std::result::Result<Bytes, BytesRejection>) -> String {
    #[derive(serde::Deserialize)]
    struct Named {
        key_id: String,
    }
    body.as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice::<Named>(b).ok())
        .map(|n| n.key_id)
        .filter(|id| crate::key_id::split(id).is_some())
        .unwrap_or_default()
}

/// Parses a key-operation body, auditing a refusal as `operation`.
fn parse_or_refuse<T: DeserializeOwned>(
    app: &App,
    operation: &str,
    body: &std::result::Result<Bytes, BytesRejection>,
) -> Result<T> {
    parse_body(body).inspect_err(|e| app.service.audit_refusal(operation, &key_id_hint(body), e))
}

/// One slot of the in-flight limit (§11), given back when dropped: when the request finishes,
/// and also when it is dropped while queued for a worker (the client went away).
struct InFlight(Shared);

impl InFlight {
    fn enter(app: &Shared) -> Option<InFlight> {
        let n = app.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = InFlight(app.clone());
        (n < app.config.max_in_flight).then_some(slot)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a blocking service call on a worker, with the in-flight limit, timing and metrics.
pub async fn run<T, F>(app: Shared, op: &'static str, f: F) -> Response
where
    T: Serialize + Send + 'static,
    F: FnOnce(&App) -> Result<T> + Send + 'static,
{
    run_with(app, op, f, answer).await
}

/// [`run`] with the answer built by `respond` (the KACLS routes answer errors in Google's shape,
/// src/kacls.rs).
pub async fn run_with<T, F>(
    app: Shared,
    op: &'static str,
    f: F,
    respond: fn(Result<T>) -> Response,
) -> Response
where
    T: Send + 'static,
    F: FnOnce(&App) -> Result<T> + Send + 'static,
{
    let start = Instant::now();
    // tracing (`crate::otlp`): the request's span record, carried into the worker thread
    let scope = crate::otlp::current();
    let scope2 = scope.clone();
    let mut queued = Duration::ZERO;
    let result = match InFlight::enter(&app) {
        None => {
            let e = Error::Throttled("too many requests in flight; retry later".into());
            // §9: audited before the answer; SQLite blocks, so not on the async threads.
            let (app2, e2) = (app.clone(), e.clone());
            let _ = tokio::task::spawn_blocking(move || app2.service.audit_refusal(op, "", &e2)).await;
            Err(e)
        }
        Some(slot) => match app.workers.clone().acquire_owned().await {
            Err(_) => Err(Error::Unavailable("the service is shutting down".into())),
            Ok(permit) => {
                queued = start.elapsed();
                let app2 = app.clone();
                // Slot and permit move into the task: a request whose client goes away keeps
                // both until its work is done, and none is held by a request that never ran.
                tokio::task::spawn_blocking(move || {
                    let _held = (slot, permit);
                    crate::otlp::within(scope2.as_ref(), || f(&app2))
                })
                .await
                .unwrap_or_else(|_| Err(Error::Internal("request task failed".into())))
            }
        },
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.name().as_str(),
    };
    app.metrics.observe(op, outcome, start.elapsed().as_secs_f64());
    if let Some(s) = &scope {
        s.settle(op, outcome, queued);
    }
    respond(result)
}

macro_rules! key_handler {
    ($name:ident, $op:literal, $req:ty, $method:ident) => {
        async fn $name(
            State(app): State<Shared>,
            headers: HeaderMap,
            body: std::result::Result<Bytes, BytesRejection>,
        ) -> Response {
            let token = bearer(&headers);
            run(app, $op, move |app| {
                let req: $req = parse_or_refuse(app, $op, &body)?;
                app.service.$method(&req, token.as_ref())
            })
            .await
        }
    };
}

key_handler!(generate, "generate", GenerateRequest, generate);
key_handler!(
    generate_batch,
    "generate_batch",
    GenerateBatchRequest,
    generate_batch
);
key_handler!(wrap, "wrap", WrapRequest, wrap);
key_handler!(unwrap, "unwrap", UnwrapRequest, unwrap);
key_handler!(rewrap, "rewrap", RewrapRequest, rewrap);
key_handler!(rewrap_batch, "rewrap_batch", RewrapBatchRequest, rewrap_batch);

/// `GET /status` (§3.1), reporting `identity_key` (§6.3, for display: clients pin it out of band).
pub fn status_answer(identity: &Identity) -> StatusAnswer {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    StatusAnswer {
        server_type: "KEYSEAL_KMS".into(),
        vendor_id: "keyseal".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: PROTOCOL_VERSION.into(),
        name: "keyseal-kms reference key service".into(),
        operations_supported: strings(&[
            "generate",
            "generate_batch",
            "wrap",
            "unwrap",
            "rewrap",
            "rewrap_batch",
            "public_key",
            "admin",
        ]),
        wrapped_key_kinds: strings(&["kms", "hpke-p256"]),
        hpke_suites: vec![Suite::V1],
        identity_key: Some(keyseal_protocol::Bytes(identity.public_sec1().to_vec())),
    }
}

async fn status(State(app): State<Shared>) -> Response {
    answer(Ok(status_answer(app.service.identity())))
}

async fn healthz(State(app): State<Shared>) -> Response {
    let app2 = app.clone();
    let ok = tokio::task::spawn_blocking(move || app2.service.store().state_counts().is_ok())
        .await
        .unwrap_or(false);
    if ok {
        (StatusCode::OK, axum::Json(HealthAnswer { status: "ok".into() })).into_response()
    } else {
        error_response(&Error::Unavailable("store is not available".into()))
    }
}

/// How long `/metrics` waits for the key counts before answering with the last ones.
const METRICS_STORE_WAIT: Duration = Duration::from_millis(500);

async fn metrics(State(app): State<Shared>) -> Response {
    app.metrics.set_in_flight(app.in_flight());
    let app2 = app.clone();
    let counts = tokio::time::timeout(
        METRICS_STORE_WAIT,
        tokio::task::spawn_blocking(move || {
            let store = app2.service.store();
            Ok::<_, crate::store::StoreError>((
                store.state_counts()?,
                store.backup_stats()?,
                store.schedules(None)?,
            ))
        }),
    )
    .await;
    if let Ok(Ok(Ok((counts, backups, schedules)))) = counts {
        for (s, n) in counts {
            app.metrics.set_keys(s.as_str(), n);
        }
        app.metrics.set_backups(&backups);
        let now = crate::store::now_ms();
        for r in schedules {
            app.metrics
                .set_rotation(&r.key_id, r.next_at_ms, r.primary_since_ms, now);
        }
    }
    let mut resp = app.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

async fn public_key(State(app): State<Shared>, Path((tenant, name)): Path<(String, String)>) -> Response {
    let key_id = format!("{tenant}/{name}");
    run(app, "public_key", move |app| app.service.public_jwk(&key_id)).await
}

async fn public_key_encoded(State(app): State<Shared>, Path(key_id): Path<String>) -> Response {
    run(app, "public_key", move |app| app.service.public_jwk(&key_id)).await
}

async fn not_found() -> Response {
    error_response(&Error::NotFound("no such endpoint".into()))
}

async fn method_not_allowed() -> Response {
    error_response(&Error::MethodNotAllowed(
        "method not allowed on this endpoint".into(),
    ))
}

/// The router.
pub fn router(app: Shared) -> Router {
    use crate::http_admin as admin;
    let v1 = Router::new()
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/generate", post(generate))
        .route("/generate-batch", post(generate_batch))
        .route("/wrap", post(wrap))
        .route("/unwrap", post(unwrap))
        .route("/rewrap", post(rewrap))
        .route("/rewrap-batch", post(rewrap_batch))
        .route("/keys/{tenant}/{name}/public", get(public_key))
        .route("/keys/{key_id}/public", get(public_key_encoded))
        .route("/admin/keys", get(admin::list).post(admin::create))
        .route("/admin/keys/{tenant}/{name}", get(admin::show))
        .route("/admin/keys/{tenant}/{name}/{action}", post(admin::action))
        .route("/admin/import-key", get(admin::import_key));
    let mut r = Router::new().nest("/v1", v1);
    if app.kacls.get().is_some() {
        r = r.nest("/kacls/v1", crate::kacls::routes());
    }
    let mut r = r
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.config.max_body));
    // only with --otlp-endpoint (no cost when off); inside CORS, so preflights are not traced
    if app.tracing().is_some() {
        r = r.layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::otlp::middleware,
        ));
    }
    r.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        crate::cors::cors,
    ))
    .with_state(app)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_errors_do_not_quote_the_request() {
        let e = serde_json::from_str::<UnwrapRequest>(
            r#"{"key_id": "acme/k", "wrapped_key": "AAAA", "context": {"a": 1}, "kind": {"evil-text": 1}}"#,
        )
        .unwrap_err();
        let m = json_error(&e);
        assert!(!m.contains("evil-text"), "{m}");
        let e =
            serde_json::from_str::<UnwrapRequest>(r#"{"key_id": 7, "wrapped_key": "AAAA", "context": {}}"#)
                .unwrap_err();
        assert!(json_error(&e).contains("expected a string"), "{}", json_error(&e));
        let e = serde_json::from_str::<UnwrapRequest>(r#"{"key_id": "evil-text"}"#).unwrap_err();
        assert!(json_error(&e).starts_with("missing field"), "{}", json_error(&e));
        let e = serde_json::from_str::<UnwrapRequest>(r#"{"key_id": "evil-text""#).unwrap_err();
        assert!(!json_error(&e).contains("evil-text"));
        let e = serde_json::from_str::<UnwrapRequest>(
            r#"{"key_id": "a/b", "wrapped_key": "evil-text", "context": {}}"#,
        )
        .unwrap_err();
        assert!(json_error(&e).contains("RFC 4648"), "{}", json_error(&e));
    }

    #[test]
    fn a_bearer_token_never_prints() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer eyJsecret.part.sig"),
        );
        let t = bearer(&h).unwrap();
        assert_eq!(t.expose_secret(), "eyJsecret.part.sig");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
