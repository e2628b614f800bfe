//! What a protocol-v1 key service's refusals mean to the SDK (PROTOCOL.md §5): the error, whether
//! to retry or fail over, and the `disabled_at` of a disabled key.

use alloc::format;
use alloc::string::String;

use keyseal_protocol::{ErrorBody, ErrorName};

use crate::endpoints::{Refusal, Retry};
use crate::error::{Error, KeyServiceErrorKind};
use crate::transport::HttpResponse;

pub(crate) fn protocol_error(message: impl Into<String>) -> Error {
    Error::key_service(KeyServiceErrorKind::Protocol, message)
}

/// The SDK kind for a protocol error name (PROTOCOL.md §5); `None` for names §5 does not define.
fn kind_of(name: ErrorName) -> KeyServiceErrorKind {
    match name {
        ErrorName::InvalidRequest | ErrorName::PayloadTooLarge => KeyServiceErrorKind::InvalidRequest,
        ErrorName::InvalidCiphertext => KeyServiceErrorKind::InvalidCiphertext,
        ErrorName::ContextMismatch => KeyServiceErrorKind::ContextMismatch,
        ErrorName::Unauthenticated | ErrorName::AccessDenied => KeyServiceErrorKind::AccessDenied,
        ErrorName::KeyDisabled => KeyServiceErrorKind::KeyDisabled,
        ErrorName::KeyNotFound | ErrorName::KeyDestroyed => KeyServiceErrorKind::KeyNotFound,
        ErrorName::Throttled => KeyServiceErrorKind::Throttled,
        ErrorName::Internal | ErrorName::Unavailable => KeyServiceErrorKind::Unavailable,
        _ => KeyServiceErrorKind::Protocol,
    }
}

/// The SDK kind for an answer without a known error name: by its status class.
fn kind_of_status(status: u16) -> KeyServiceErrorKind {
    match status {
        401 | 403 => KeyServiceErrorKind::AccessDenied,
        429 => KeyServiceErrorKind::Throttled,
        500..=599 => KeyServiceErrorKind::Unavailable,
        _ => KeyServiceErrorKind::Protocol,
    }
}

/// A 404 that is not about a key (`KeyNotFound`) usually means a base URL without its `/v1`.
fn hint_404(status: u16) -> &'static str {
    if status == 404 {
        " (is the URL the key service's base URL, ending in /v1?)"
    } else {
        ""
    }
}

/// PROTOCOL.md §5: an error body (or a whole `/rewrap-batch` item) as an SDK error.
pub(crate) fn refusal_of(status: u16, body: Option<&ErrorBody>) -> (Error, Option<f64>) {
    match body {
        Some(b) => {
            let kind = b.name().map_or_else(|| kind_of_status(status), kind_of);
            let hint = if kind == KeyServiceErrorKind::Protocol {
                hint_404(status)
            } else {
                ""
            };
            let e = Error::key_service(kind, format!("{}: {}{hint}", b.error, b.message));
            (e, b.disabled_at.map(|t| t as f64))
        }
        None => (
            Error::key_service(
                kind_of_status(status),
                format!("HTTP {status} without a protocol error body{}", hint_404(status)),
            ),
            None,
        ),
    }
}

/// Reads a non-2xx answer of a protocol-v1 service (PROTOCOL.md §5 "Retries"). A redirect (3xx,
/// or the opaque status 0 a browser reports for one) is refused and never followed: following it
/// would send the token — and for `/wrap` the data key — wherever it points.
pub(crate) fn classify(resp: &HttpResponse) -> Refusal {
    if resp.status == 0 || (300..400).contains(&resp.status) {
        return Refusal {
            error: protocol_error(format!(
                "the key service answered a redirect (HTTP {}); keyseal does not follow redirects: configure the final URL",
                resp.status
            )),
            retry: Retry::Never,
            disabled_at_ms: None,
        };
    }
    let body = serde_json::from_slice::<ErrorBody>(&resp.body).ok();
    let (error, disabled_at_ms) = refusal_of(resp.status, body.as_ref());
    let retry = match resp.status {
        429 => Retry::SameUrl,
        s if keyseal_protocol::errors::status_is_retryable(s) => Retry::NextUrl,
        _ => Retry::Never,
    };
    Refusal {
        error,
        retry,
        disabled_at_ms,
    }
}
