//! The SDK's `HttpTransport` over node:http(s) (js/src/node-http.js, given by the Node entry):
//! the `node` transport, which `auto` prefers there because it costs a third of `fetch`'s CPU
//! per key-service call. A JS module's own object, which web-sys cannot describe.

use js_sys::{Promise, Uint8Array};
use keyseal::{HttpRequest, HttpResponse, HttpTransport, LocalBoxFuture, TransportError};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::fetch::describe;

#[wasm_bindgen]
extern "C" {
    /// The transport object (`nodeHttp`).
    pub type NodeHttp;
    /// Sends one request; returns a [`Sent`].
    #[wasm_bindgen(method, catch)]
    fn send(
        this: &NodeHttp,
        method: &str,
        url: &str,
        body: Option<Uint8Array>,
        headers: js_sys::Array,
    ) -> Result<Sent, JsValue>;

    /// `{ promise, abort }`.
    type Sent;
    #[wasm_bindgen(method, getter)]
    fn promise(this: &Sent) -> Promise;
    #[wasm_bindgen(method)]
    fn abort(this: &Sent);

    /// What the promise resolves to.
    type Answer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Answer) -> u16;
    #[wasm_bindgen(method, getter, js_name = retryAfter)]
    fn retry_after(this: &Answer) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Answer) -> Uint8Array;
}

/// Destroys the request when dropped before the answer arrived (the attempt timed out).
struct AbortOnDrop(Option<Sent>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.abort();
        }
    }
}

/// node:http(s) on the global agents.
pub struct NodeHttpTransport(pub NodeHttp);

impl HttpTransport for NodeHttpTransport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let network = |e: JsValue| TransportError::Network(describe(&e));
            let body = req.body.as_deref().map(Uint8Array::from);
            let headers = js_sys::Array::new();
            for (k, v) in &req.headers {
                headers.push(&js_sys::Array::of2(&(*k).into(), &v.as_str().into()));
            }
            let sent = self
                .0
                .send(req.method, &req.url, body, headers)
                .map_err(network)?;
            let promise = sent.promise();
            let mut guard = AbortOnDrop(Some(sent));
            let answer: Answer = JsFuture::from(promise).await.map_err(network)?.unchecked_into();
            guard.0 = None;
            Ok(HttpResponse {
                status: answer.status(),
                retry_after_ms: answer
                    .retry_after()
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(|s| (s * 1000.0) as u64),
                body: answer.body().to_vec(),
            })
        })
    }
}
