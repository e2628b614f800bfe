//! Errors to JS: a JS `Error` whose `code` is the stable keyseal code; the JS layer turns it into
//! the matching `KeySealError` subclass (js/src/errors.js).

use keyseal::{Error, FormatError};
use wasm_bindgen::prelude::*;

/// A JS `Error` carrying `code` (and the message of the Rust error), `retryable`, and where they
/// apply the structured facts behind the message (jose-style): `service`, `op` and `status` of a
/// key-service failure, `contextKey` of a context mismatch.
pub(crate) fn js_error<E: Into<Error>>(e: E) -> JsValue {
    let e: Error = e.into();
    let err = coded(e.code(), &e.to_string());
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&err, &k.into(), &v);
    };
    set("retryable", e.is_retryable().into());
    if let Some(o) = e.origin() {
        set("service", o.service.as_str().into());
        set("op", o.op.into());
        set("status", o.status.map_or(JsValue::NULL, |s| s.into()));
    }
    if let Error::Format(FormatError::ContextMismatch { key }) = &e {
        set("contextKey", key.as_str().into());
    }
    err
}

/// A JS `Error` with an explicit code and message.
pub(crate) fn coded(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// `INVALID_ARGUMENT` with a fixed reason.
pub(crate) fn invalid(reason: &'static str) -> JsValue {
    js_error(FormatError::InvalidArgument { reason })
}

/// `INVALID_ARGUMENT` naming what was wrong, for shapes of JS values (options, contexts).
pub(crate) fn invalid_value(what: &str, detail: &str) -> JsValue {
    coded("INVALID_ARGUMENT", &format!("invalid argument: {what}: {detail}"))
}

/// The opaque authentication failure.
pub(crate) fn decryption_failed() -> JsValue {
    js_error(FormatError::DecryptionFailed)
}

/// A failure of the platform engine (WebCrypto's `OperationError`, node:crypto's bad tag) while
/// opening: any keyseal error passes through; anything else is `DECRYPTION_FAILED`.
pub(crate) fn open_failure(e: JsValue) -> JsValue {
    if has_code(&e) { e } else { decryption_failed() }
}

/// Whether `e` already carries a keyseal `code`.
pub(crate) fn has_code(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &"code".into()).is_ok_and(|c| c.is_string())
}

/// A JS number that must be a non-negative safe integer (byte counts and offsets).
pub(crate) fn length(x: f64, what: &'static str) -> Result<u64, JsValue> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 {
        Ok(x as u64)
    } else {
        Err(invalid(what))
    }
}

/// Every code an error can carry (the JS error classes are checked against this list).
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    keyseal::ERROR_CODES.iter().map(|s| String::from(*s)).collect()
}
