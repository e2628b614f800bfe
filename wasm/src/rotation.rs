//! Header-only rotation for JS (FORMAT.md §4.4): `rewrap`, `rewrapMany` (PROTOCOL.md §3.5.1),
//! `newestVersion` and `isCurrent`, as the SDK does them.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use keyseal::Rewrapped;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::KeySealCore;
use crate::errors::js_error;

/// `{ header: Uint8Array, bodyOffset: number }`: the new object is `header ‖ old[bodyOffset..]`.
fn rewrapped(r: &Rewrapped) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"header".into(), &Uint8Array::from(&r.header[..]))?;
    Reflect::set(&o, &"bodyOffset".into(), &JsValue::from_f64(r.body_offset as f64))?;
    Ok(o.into())
}

#[wasm_bindgen]
impl KeySealCore {
    /// Rewraps the header at the start of `header`. Resolves to `{ header, bodyOffset }`.
    pub fn rewrap(&self, header: Vec<u8>, to_key_id: Option<String>) -> Promise {
        let s = self.shared.clone();
        future_to_promise(async move {
            let r = s
                .sdk
                .rewrap(&header, to_key_id.as_deref())
                .await
                .map_err(js_error)?;
            rewrapped(&r)
        })
    }

    /// Rewraps many headers (`/rewrap-batch`). `headers` is an array of `Uint8Array`; resolves to
    /// an array with, per header, `{ header, bodyOffset }` or `{ error }`.
    #[wasm_bindgen(js_name = rewrapMany)]
    pub fn rewrap_many(&self, headers: Array, to_key_id: Option<String>) -> Promise {
        let s = self.shared.clone();
        let headers: Vec<Vec<u8>> = headers.iter().map(|h| Uint8Array::new(&h).to_vec()).collect();
        future_to_promise(async move {
            let prefixes: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            let out = Array::new();
            for r in s.sdk.rewrap_many(&prefixes, to_key_id.as_deref()).await {
                match r {
                    Ok(r) => out.push(&rewrapped(&r)?),
                    Err(e) => {
                        let o = Object::new();
                        Reflect::set(&o, &"error".into(), &js_error(e))?;
                        out.push(&o)
                    }
                };
            }
            Ok(out.into())
        })
    }

    /// The newest version of the rewrap target (`GET /keys/{id}/public`). Resolves to a number.
    #[wasm_bindgen(js_name = newestVersion)]
    pub fn newest_version(&self, to_key_id: Option<String>) -> Promise {
        let s = self.shared.clone();
        future_to_promise(async move {
            let v = s
                .sdk
                .newest_version(to_key_id.as_deref())
                .await
                .map_err(js_error)?;
            Ok(JsValue::from_f64(f64::from(v)))
        })
    }

    /// Whether the header is already where a rewrap to `to_key_id` would put it.
    #[wasm_bindgen(js_name = isCurrent)]
    pub fn is_current(
        &self,
        header: &[u8],
        to_key_id: Option<String>,
        newest: Option<u32>,
    ) -> Result<bool, JsValue> {
        self.shared
            .sdk
            .is_current(header, to_key_id.as_deref(), newest)
            .map_err(js_error)
    }
}
