//! The SDK's `HttpTransport` over the global `fetch`, with web-sys' `Request`, `Headers`,
//! `Response` and an `AbortController` that aborts the request when the future is dropped (the
//! SDK drops it when the attempt's timeout wins the race).

use js_sys::Uint8Array;
use keyseal::{HttpRequest, HttpResponse, HttpTransport, LocalBoxFuture, TransportError};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestInit, RequestRedirect, Response};

use crate::globals::global_fetch;

/// The message of a rejected fetch (a `TypeError` with a `cause` in Node: kept, so that
/// `ECONNREFUSED` or a DNS failure reach the error instead of only "fetch failed").
pub(crate) fn describe(e: &JsValue) -> String {
    let Some(err) = e.dyn_ref::<js_sys::Error>() else {
        return e.as_string().unwrap_or_else(|| "fetch failed".into());
    };
    let mut msg = String::from(err.message());
    // node:http errors carry their code on the error itself ("connect ECONNREFUSED …" already
    // names it in the message)
    let cause = err.cause();
    if let Some(c) = cause.dyn_ref::<js_sys::Error>() {
        let code = js_sys::Reflect::get(c, &"code".into())
            .ok()
            .and_then(|v| v.as_string());
        msg.push_str(": ");
        msg.push_str(&code.unwrap_or_else(|| String::from(c.message())));
    }
    msg
}

/// Aborts the request when dropped before the answer was read.
struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.abort();
        }
    }
}

fn network(e: JsValue) -> TransportError {
    TransportError::Network(describe(&e))
}

fn request(req: &HttpRequest, ctl: &AbortController) -> Result<Request, JsValue> {
    let init = RequestInit::new();
    init.set_method(req.method);
    init.set_signal(Some(&ctl.signal()));
    // Never follow a redirect: the SDK refuses it (its token, and for /wrap a data key, would go
    // wherever it points).
    init.set_redirect(RequestRedirect::Manual);
    if req.body.is_some() || !req.headers.is_empty() {
        let headers = Headers::new()?;
        if req.body.is_some() && !req.headers.iter().any(|(k, _)| *k == "content-type") {
            headers.set("content-type", "application/json")?;
        }
        for (k, v) in &req.headers {
            headers.set(k, v)?;
        }
        init.set_headers(&headers);
    }
    if let Some(body) = &req.body {
        init.set_body(&Uint8Array::from(&body[..]));
    }
    Request::new_with_str_and_init(&req.url, &init)
}

/// `fetch` on the global scope.
pub struct FetchTransport;

impl HttpTransport for FetchTransport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let ctl = AbortController::new().map_err(network)?;
            let request = request(&req, &ctl).map_err(network)?;
            let mut guard = AbortOnDrop(Some(ctl));
            let resp: Response = JsFuture::from(global_fetch(&request))
                .await
                .map_err(network)?
                .unchecked_into();
            let status = resp.status();
            let retry_after_ms = resp
                .headers()
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| (s * 1000.0) as u64);
            let buf = JsFuture::from(resp.array_buffer().map_err(network)?)
                .await
                .map_err(network)?;
            guard.0 = None;
            Ok(HttpResponse {
                status,
                retry_after_ms,
                body: Uint8Array::new(&buf).to_vec(),
            })
        })
    }
}
