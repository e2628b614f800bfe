//! What the SDK needs from its platform to reach key services: an HTTP transport, a clock with
//! sleep, and a token source. The wasm crate implements them over `fetch`/`setTimeout`/a JS
//! callback; a native client can implement them over any HTTP stack.

use alloc::string::String;
use alloc::vec::Vec;

use crate::key_service::LocalBoxFuture;

/// One HTTP request to a key service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The absolute URL.
    pub url: String,
    /// JSON body for `POST`.
    pub body: Option<Vec<u8>>,
    /// Headers besides the defaults. Empty for the keyseal protocol (whose body carries the
    /// token); a kind that signs its requests (AWS SigV4) sets `content-type`, its date and
    /// `authorization` here. A transport sends `content-type: application/json` with a body unless
    /// this list has a `content-type`.
    pub headers: Vec<(&'static str, String)>,
}

/// A key service's HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in milliseconds, when the answer carried one (seconds form).
    pub retry_after_ms: Option<u64>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Connection refused, DNS failure, CORS refusal, reset: the request may not have arrived.
    Network(String),
}

/// Sends HTTP requests. Need not be `Send`. Timeouts are applied by the caller (it races the
/// future against [`Clock::sleep`] and drops it), so implementations should cancel on drop where
/// the platform allows (e.g. `AbortController`).
pub trait HttpTransport {
    /// Sends one request.
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// Time for timeouts, backoff and cache ages.
pub trait Clock {
    /// Milliseconds since an arbitrary fixed origin (monotonic where possible).
    fn now_ms(&self) -> f64;
    /// Milliseconds since the Unix epoch (wall clock), to compare with server timestamps.
    fn unix_ms(&self) -> f64;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;
}

/// What a token is for, so one callback can serve several key services (each may trust a
/// different identity provider or tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequest<'a> {
    /// The key-service id.
    pub service: &'a str,
    /// The key the call is about (empty for calls without one).
    pub key_id: &'a str,
    /// The operation (`generate`, `wrap`, `unwrap`, `rewrap`).
    pub op: &'a str,
}

/// Supplies the caller's access token (a JWT) for each key-service call.
pub trait TokenSource {
    /// The token to send now. Errors become `ACCESS_DENIED`.
    fn token<'a>(&'a self, request: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>>;
}
