//! Header-only rotation for JS (FORMAT.md §4.4): `rewrap`, `rewrapManyUnlessCurrent` (PROTOCOL.md
//! §3.5.1) and `newestVersion`, as the SDK does them.

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

/// `{ error }`: one header's refusal, as a `KeySealError`.
fn refused(e: keyseal::Error) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"error".into(), &js_error(e))?;
    Ok(o.into())
}

/// The headers of an array of `Uint8Array`s, each copied once into wasm memory
/// (`new Uint8Array(h)` would copy it first).
fn copied(headers: &Array) -> Vec<Vec<u8>> {
    headers
        .iter()
        .map(|h| match h.dyn_into::<Uint8Array>() {
            Ok(a) => a.to_vec(),
            Err(h) => Uint8Array::new(&h).to_vec(),
        })
        .collect()
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

    /// Rewraps many headers for `rewrapAll` (`/rewrap-batch`, PROTOCOL.md §3.5.1). `headers` is an
    /// array of `Uint8Array`; resolves to an array with, per header, `{ header, bodyOffset }`,
    /// `{ error }`, or `{ current: true }` for a header already current against version `newest`
    /// (`KeySeal::is_current`), which costs no question; each header is parsed once for both.
    #[wasm_bindgen(js_name = rewrapManyUnlessCurrent)]
    pub fn rewrap_many_unless_current(
        &self,
        headers: Array,
        to_key_id: Option<String>,
        newest: Option<u32>,
    ) -> Promise {
        let s = self.shared.clone();
        let headers = copied(&headers);
        future_to_promise(async move {
            let prefixes: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            let out = Array::new();
            let answers = s
                .sdk
                .rewrap_many_unless_current(&prefixes, to_key_id.as_deref(), newest)
                .await;
            for r in answers {
                out.push(&match r {
                    Ok(Some(r)) => rewrapped(&r)?,
                    Ok(None) => {
                        let o = Object::new();
                        Reflect::set(&o, &"current".into(), &JsValue::TRUE)?;
                        o.into()
                    }
                    Err(e) => refused(e)?,
                });
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
}
