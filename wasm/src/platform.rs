//! The core's platform traits over the JS global scope: `fetch` (with `AbortController` on
//! drop), `setTimeout`, `performance.now`, and the caller's token callback. Only globals that exist
//! in browsers, workers, Node, Deno, Bun and workerd are used — never `window`.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use keyseal::{
    Clock, HttpRequest, HttpResponse, HttpTransport, LocalBoxFuture, TokenRequest, TokenSource,
    TransportError,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &Object) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    type Response;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Response) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &Response) -> Headers;
    #[wasm_bindgen(method, js_name = arrayBuffer)]
    fn array_buffer(this: &Response) -> Promise;

    type Headers;
    #[wasm_bindgen(method)]
    fn get(this: &Headers, name: &str) -> Option<String>;

    type AbortController;
    #[wasm_bindgen(constructor)]
    fn new() -> AbortController;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method)]
    fn abort(this: &AbortController);
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "fetch failed".into())
}

/// Aborts the request when the future is dropped (timeout lost the race).
struct AbortOnDrop(Option<AbortController>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.abort();
        }
    }
}

/// `fetch` on the global scope.
pub struct FetchTransport;

impl HttpTransport for FetchTransport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let ctl = AbortController::new();
            let init = Object::new();
            let _ = Reflect::set(&init, &"method".into(), &req.method.into());
            let _ = Reflect::set(&init, &"signal".into(), &ctl.signal());
            if let Some(body) = &req.body {
                let headers = Object::new();
                let _ = Reflect::set(&headers, &"content-type".into(), &"application/json".into());
                let _ = Reflect::set(&init, &"headers".into(), &headers);
                let _ = Reflect::set(&init, &"body".into(), &Uint8Array::from(&body[..]));
            }
            let mut guard = AbortOnDrop(Some(ctl));
            let resp = JsFuture::from(global_fetch(&req.url, &init))
                .await
                .map_err(|e| TransportError::Network(describe(&e)))?;
            let resp: Response = resp.unchecked_into();
            let status = resp.status();
            let retry_after_ms = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| (s * 1000.0) as u64);
            let buf = JsFuture::from(resp.array_buffer())
                .await
                .map_err(|e| TransportError::Network(describe(&e)))?;
            guard.0 = None;
            Ok(HttpResponse {
                status,
                retry_after_ms,
                body: Uint8Array::new(&buf).to_vec(),
            })
        })
    }
}

/// `performance.now`, `Date.now`, `setTimeout`.
pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        performance_now()
    }
    fn unix_ms(&self) -> f64 {
        js_sys::Date::now()
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        let p = Promise::new(&mut |resolve, _| {
            let _ = set_timeout(&resolve, ms as f64);
        });
        Box::pin(async move {
            let _ = JsFuture::from(p).await;
        })
    }
}

/// The caller's `token({ service, keyId, op })` callback (returns a string or a Promise of one).
pub struct JsTokens(pub Function);

impl TokenSource for JsTokens {
    fn token<'a>(&'a self, r: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        let arg = Object::new();
        let _ = Reflect::set(&arg, &"service".into(), &r.service.into());
        let _ = Reflect::set(&arg, &"keyId".into(), &r.key_id.into());
        let _ = Reflect::set(&arg, &"op".into(), &r.op.into());
        Box::pin(async move {
            let v = self.0.call1(&JsValue::NULL, &arg).map_err(|e| describe(&e))?;
            let v = if v.has_type::<Promise>() || v.is_instance_of::<Promise>() {
                JsFuture::from(v.unchecked_into::<Promise>())
                    .await
                    .map_err(|e| describe(&e))?
            } else {
                v
            };
            v.as_string()
                .ok_or_else(|| "token callback must return a string".into())
        })
    }
}
