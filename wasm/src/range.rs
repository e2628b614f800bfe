//! Ranged decrypt for JS (FORMAT.md §6.4): the header is parsed once; the plan says which message
//! bytes to fetch; the covering segments are opened on the engine their length calls for, each one
//! authenticated before its plaintext is used.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use keyseal::RangeRead;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::{KeySealCore, Shared, context_from, import_key};
use crate::errors::{js_error, length, open_failure};
use crate::platform::{IN_FLIGHT, Platform};
use crate::segments::{Op, Window};

/// One ranged read of one message.
#[wasm_bindgen]
pub struct RangeReadCore {
    shared: Rc<Shared>,
    read: Rc<RangeRead>,
}

#[wasm_bindgen]
impl RangeReadCore {
    /// First byte of the message to fetch.
    #[wasm_bindgen(getter, js_name = fetchStart)]
    pub fn fetch_start(&self) -> f64 {
        self.read.plan().fetch.start as f64
    }

    /// End (exclusive) of the bytes to fetch; equal to `fetchStart` when nothing is to be read.
    #[wasm_bindgen(getter, js_name = fetchEnd)]
    pub fn fetch_end(&self) -> f64 {
        self.read.plan().fetch.end as f64
    }

    /// Opens the fetched bytes (`fetchStart … fetchEnd`). Resolves to the plaintext of the range.
    pub fn open(&self, fetched: Uint8Array) -> Promise {
        let shared = self.shared.clone();
        let read = self.read.clone();
        future_to_promise(async move {
            let len = u64::from(fetched.length());
            let platform = match read.plan().segments.is_empty() {
                true => None,
                false => shared.engines.platform_for(Some(len)),
            };
            match platform {
                Some(p) => open_platform(&shared, p, &read, &fetched).await,
                None => {
                    let out = shared
                        .sdk
                        .read_range(&read, &fetched.to_vec())
                        .await
                        .map_err(js_error)?;
                    Ok(Uint8Array::from(&out[..]).into())
                }
            }
        })
    }
}

async fn open_platform(
    shared: &Shared,
    platform: &Platform,
    read: &RangeRead,
    fetched: &Uint8Array,
) -> Result<JsValue, JsValue> {
    let len = u64::from(fetched.length());
    let mut job = shared
        .sdk
        .prepare_external_range(read, len)
        .await
        .map_err(js_error)?;
    let plan = read.plan();
    let out = Uint8Array::new_with_length((plan.plaintext.end - plan.plaintext.start) as u32);
    let r = async {
        let key = import_key(platform, &mut job).await?;
        let mut window = Window::new(None);
        let mut k = plan.segments.start;
        let mut place = |pt: Uint8Array| {
            let (at, within) = plan.placement(k);
            out.set(&pt.subarray(within.start as u32, within.end as u32), at as u32);
            pt.fill(0, 0, pt.length());
            k += 1;
            Ok(())
        };
        for s in plan.segments.clone() {
            let r = plan.fetched_range(s);
            let input = fetched.subarray(r.start as u32, r.end as u32);
            let id = plan.layout.segment(s).id;
            window
                .push(platform, &key, false, Op { id, input }, IN_FLIGHT - 1, &mut place)
                .await?;
        }
        window.drain(0, &mut place).await
    }
    .await;
    job.finish(r.is_ok(), len);
    match r {
        Ok(()) => Ok(out.into()),
        Err(e) => {
            out.fill(0, 0, out.length());
            Err(open_failure(e))
        }
    }
}

#[wasm_bindgen]
impl KeySealCore {
    /// Plans a ranged read of plaintext `offset … offset + length` (clamped) of a message of `size`
    /// bytes whose header is `header`; checks `require_context` first. No key service is called.
    #[wasm_bindgen(js_name = beginRange)]
    pub fn begin_range(
        &self,
        header: &[u8],
        size: f64,
        offset: f64,
        len: f64,
        require_context: JsValue,
    ) -> Result<RangeReadCore, JsValue> {
        let total = length(size, "size must be a non-negative integer")?;
        let offset = length(offset, "offset must be a non-negative integer")?;
        let len = length(len, "length must be a non-negative integer")?;
        let req = context_from(require_context, "requireContext")?;
        let read = self
            .shared
            .sdk
            .plan_read(header, total, offset, len, &req)
            .map_err(js_error)?;
        Ok(RangeReadCore {
            shared: self.shared.clone(),
            read: Rc::new(read),
        })
    }
}
