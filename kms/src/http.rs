//! HTTP binding of protocol v1 (axum): routes, body limit, CORS allow-list, metrics, errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::service::{AdminOp, Service};

/// Protocol version served.
pub const PROTOCOL_VERSION: &str = "1";

/// Server configuration for the HTTP layer.
pub struct HttpConfig {
    /// Allowed CORS origins (exact match; `*` allows any).
    pub cors_origins: Vec<String>,
    /// Request body limit in bytes.
    pub max_body: usize,
    /// Maximum requests in flight before `Throttled`.
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
    /// Bounds the request work (crypto + store) running at once (`--workers`, default twice the
    /// cores), so requests queue in FIFO order instead of time-slicing against each other.
    workers: tokio::sync::Semaphore,
}

type Shared = Arc<App>;

impl App {
    /// Build the app state.
    pub fn new(service: Service, config: HttpConfig) -> Shared {
        let workers = config.workers.max(1);
        Arc::new(App {
            service,
            metrics: Metrics::new(),
            config,
            in_flight: AtomicUsize::new(0),
            workers: tokio::sync::Semaphore::new(workers),
        })
    }
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(e.body())).into_response();
    if e.kind == ErrorKind::PayloadTooLarge {
        // The rest of the body is not read: tell the client not to reuse the connection.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if e.kind == ErrorKind::Unauthenticated {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"keyseal-kms\""),
        );
    }
    resp
}

fn json_response(v: Result<Value>) -> Response {
    match v {
        Ok(v) => {
            let mut r = (StatusCode::OK, axum::Json(v)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => error_response(&e),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn parse_body<T: DeserializeOwned>(body: std::result::Result<Bytes, BytesRejection>) -> Result<T> {
    let bytes = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorKind::PayloadTooLarge, "request body is over the limit")
        } else {
            ApiError::invalid(format!("cannot read body: {rej}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("malformed JSON: {e}")))
}

struct InFlight<'a>(&'a AtomicUsize);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Run a blocking service call with timing, metrics, throttling.
async fn run<F>(app: Shared, op: &'static str, f: F) -> Response
where
    F: FnOnce(&App) -> Result<Value> + Send + 'static,
{
    let start = Instant::now();
    let n = app.in_flight.fetch_add(1, Ordering::Relaxed);
    let result = if n >= app.config.max_in_flight {
        app.in_flight.fetch_sub(1, Ordering::Relaxed);
        let e = ApiError::new(ErrorKind::Throttled, "too many requests in flight; retry later");
        app.service.audit_refusal(op, &e);
        Err(e)
    } else {
        let app2 = app.clone();
        let permit = app.workers.acquire().await;
        let joined = tokio::task::spawn_blocking(move || {
            let _guard = InFlight(&app2.in_flight);
            f(&app2)
        })
        .await;
        drop(permit);
        joined.unwrap_or_else(|_| Err(ApiError::internal("request task failed")))
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind.name(),
    };
    app.metrics.observe(op, outcome, start.elapsed().as_secs_f64());
    let mut resp = json_response(result);
    if outcome == "Throttled" {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

macro_rules! data_handler {
    ($name:ident, $op:literal, $req:ty, $method:ident) => {
        async fn $name(
            State(app): State<Shared>,
            headers: HeaderMap,
            body: std::result::Result<Bytes, BytesRejection>,
        ) -> Response {
            let token = bearer(&headers);
            run(app, $op, move |app| {
                let req: $req = match parse_body(body) {
                    Ok(r) => r,
                    Err(e) => {
                        app.service.audit_refusal($op, &e);
                        return Err(e);
                    }
                };
                app.service.$method(req, token.as_deref())
            })
            .await
        }
    };
}

data_handler!(generate, "generate", crate::service::GenerateRequest, generate);
data_handler!(wrap, "wrap", crate::service::WrapRequest, wrap);
data_handler!(unwrap, "unwrap", crate::service::UnwrapRequest, unwrap);
data_handler!(rewrap, "rewrap", crate::service::RewrapRequest, rewrap);
data_handler!(
    rewrap_batch,
    "rewrap_batch",
    crate::service::RewrapBatchRequest,
    rewrap_batch
);

async fn status() -> Response {
    json_response(Ok(json!({
        "server_type": "KEYSEAL_KMS",
        "vendor_id": "keyseal",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol_version": PROTOCOL_VERSION,
        "name": "keyseal-kms reference key service",
        "operations_supported": ["generate", "wrap", "unwrap", "rewrap", "rewrap_batch", "public_key", "admin"],
        "wrapped_key_kinds": ["kms", "hpke-p256"],
        "hpke_suites": [{"kem": 16, "kdf": 1, "aead": 2}],
    })))
}

async fn healthz(State(app): State<Shared>) -> Response {
    let app2 = app.clone();
    let ok = tokio::task::spawn_blocking(move || app2.service.store.state_counts().is_ok())
        .await
        .unwrap_or(false);
    if ok {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        error_response(&ApiError::unavailable("store is not available"))
    }
}

async fn metrics(State(app): State<Shared>) -> Response {
    let app2 = app.clone();
    let counts = tokio::task::spawn_blocking(move || app2.service.store.state_counts()).await;
    if let Ok(Ok(counts)) = counts {
        for (s, n) in counts {
            app.metrics.set_keys(s.as_str(), n);
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

// ---- admin ----

#[derive(Deserialize, Default)]
struct AdminBody {
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    grace_seconds: Option<u64>,
    #[serde(default)]
    enc: Option<String>,
    #[serde(default)]
    ciphertext: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    authorization: Option<String>,
}

fn admin_body(body: std::result::Result<Bytes, BytesRejection>) -> Result<AdminBody> {
    match &body {
        Ok(b) if b.is_empty() => Ok(AdminBody::default()),
        _ => parse_body(body),
    }
}

/// Default grace period of `destroy`: 7 days.
pub const DEFAULT_GRACE_SECS: u64 = 7 * 24 * 3600;

fn admin_call(
    app: &App,
    header_token: Option<String>,
    body: std::result::Result<Bytes, BytesRejection>,
    key_id: Option<String>,
    action: &str,
) -> Result<Value> {
    let op_name = format!("key.{action}");
    let body = match admin_body(body) {
        Ok(b) => b,
        Err(e) => {
            app.service.audit_refusal(&op_name, &e);
            return Err(e);
        }
    };
    let token = body.authorization.clone().or(header_token);
    let actor = match app.service.admin_actor(token.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            app.service.audit_refusal(&op_name, &e);
            return Err(e);
        }
    };
    let key_id = key_id.or(body.key_id.clone()).unwrap_or_default();
    let op = match action {
        "create" => AdminOp::Create,
        "rotate" => AdminOp::Rotate,
        "disable" => AdminOp::Disable,
        "enable" => AdminOp::Enable,
        "destroy" => AdminOp::Destroy {
            grace_secs: body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECS),
        },
        "cancel-destroy" => AdminOp::CancelDestroy,
        "import" => AdminOp::Import {
            enc: body.enc.clone().unwrap_or_default(),
            ciphertext: body.ciphertext.clone().unwrap_or_default(),
        },
        "show" => AdminOp::Show,
        other => {
            let e = ApiError::new(ErrorKind::NotFound, format!("unknown admin action {other:?}"));
            app.service.audit_refusal(&op_name, &e);
            return Err(e);
        }
    };
    let info = app.service.admin(&actor, &key_id, op, body.reason.as_deref())?;
    serde_json::to_value(info).map_err(|e| ApiError::internal(e.to_string()))
}

async fn admin_create(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        admin_call(app, token, body, None, "create")
    })
    .await
}

async fn admin_action(
    State(app): State<Shared>,
    Path((tenant, name, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let token = bearer(&headers);
    let key_id = format!("{tenant}/{name}");
    run(app, "admin", move |app| {
        admin_call(app, token, body, Some(key_id), &action)
    })
    .await
}

async fn admin_show(
    State(app): State<Shared>,
    Path((tenant, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers);
    let key_id = format!("{tenant}/{name}");
    run(app, "admin", move |app| {
        admin_call(app, token, Ok(Bytes::new()), Some(key_id), "show")
    })
    .await
}

#[derive(Deserialize)]
struct ListQuery {
    tenant: Option<String>,
}

async fn admin_list(State(app): State<Shared>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        let actor = match app.service.admin_actor(token.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                app.service.audit_refusal("key.list", &e);
                return Err(e);
            }
        };
        let keys = app.service.admin_list(&actor, q.tenant.as_deref())?;
        Ok(json!({ "keys": keys }))
    })
    .await
}

async fn admin_import_key(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        app.service.admin_actor(token.as_deref())?;
        app.service.import_jwk()
    })
    .await
}

async fn not_found() -> Response {
    error_response(&ApiError::new(ErrorKind::NotFound, "no such endpoint"))
}

async fn method_not_allowed() -> Response {
    error_response(&ApiError::new(
        ErrorKind::MethodNotAllowed,
        "method not allowed on this endpoint",
    ))
}

/// CORS allow-list: exact origins; unknown origins get no CORS headers; preflights from unknown
/// origins are refused with 403.
async fn cors(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let allowed = origin.filter(|o| {
        app.config
            .cors_origins
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
    });
    let is_preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let Some(o) = allowed else {
            return error_response(&ApiError::new(
                ErrorKind::AccessDenied,
                "origin is not allowed (CORS)",
            ));
        };
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return resp;
    }
    let mut resp = next.run(req).await;
    if let Some(o) = allowed
        && let Ok(v) = HeaderValue::from_str(&o)
    {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after, www-authenticate"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

/// The router.
pub fn router(app: Shared) -> Router {
    let v1 = Router::new()
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/generate", post(generate))
        .route("/wrap", post(wrap))
        .route("/unwrap", post(unwrap))
        .route("/rewrap", post(rewrap))
        .route("/rewrap-batch", post(rewrap_batch))
        .route("/keys/{tenant}/{name}/public", get(public_key))
        .route("/keys/{key_id}/public", get(public_key_encoded))
        .route("/admin/keys", get(admin_list).post(admin_create))
        .route("/admin/keys/{tenant}/{name}", get(admin_show))
        .route("/admin/keys/{tenant}/{name}/{action}", post(admin_action))
        .route("/admin/import-key", get(admin_import_key));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.config.max_body))
        .layer(axum::middleware::from_fn_with_state(app.clone(), cors))
        .with_state(app)
}
