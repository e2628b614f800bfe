//! The SDK's `Clock`: `performance.now`, `Date.now`, `setTimeout` on the global scope.

use js_sys::Promise;
use keyseal::{Clock, LocalBoxFuture};
use wasm_bindgen_futures::JsFuture;

use crate::globals::{performance, set_timeout};

/// Time from the JS global scope.
pub struct JsClock {
    performance: Option<web_sys::Performance>,
}

impl JsClock {
    /// Reads `globalThis.performance` once.
    pub fn new() -> Self {
        Self {
            performance: performance(),
        }
    }
}

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        self.performance
            .as_ref()
            .map_or_else(js_sys::Date::now, web_sys::Performance::now)
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
