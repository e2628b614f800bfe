//! CORS (docs/PROTOCOL.md §11): an allow-list of exact origins. Unknown origins get no CORS
//! headers, and their preflights are refused with 403 `AccessDenied`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::http::{Shared, error_response};

/// The CORS middleware.
pub async fn cors(State(app): State<Shared>, req: Request, next: Next) -> Response {
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
            return error_response(&Error::AccessDenied("origin is not allowed (CORS)".into()));
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
            // traceparent: the SDK's W3C trace context (docs/PROTOCOL.md §11)
            HeaderValue::from_static("authorization, content-type, traceparent"),
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
