//! `inspect` and `headerLength`: header facts read from a message's first bytes, copied into wasm
//! no further than the header (FORMAT.md §4.3), so a large message never enters wasm memory.

use js_sys::Uint8Array;
use keyseal::{Error, Header, HeaderInfo, HeaderLength};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::core::to_js;
use crate::errors::{invalid, js_error};

/// The header bytes at the start of `sealed` (in at most three small copies), or the whole of it
/// when its first bytes are not a complete header, so that the parser reports exactly what is wrong.
pub(crate) fn prefix(sealed: &Uint8Array) -> Vec<u8> {
    let total = sealed.length();
    let mut want = (keyseal::header::PREFIX_LEN as u32).min(total);
    loop {
        let head = sealed.subarray(0, want).to_vec();
        match Header::length_from_prefix(&head) {
            Ok(HeaderLength::Complete(n)) if n as u32 <= total => {
                return if n as u32 == want {
                    head
                } else {
                    sealed.subarray(0, n as u32).to_vec()
                };
            }
            Ok(HeaderLength::NeedAtLeast(n)) if n as u32 <= total && n as u32 > want => want = n as u32,
            _ => return sealed.to_vec(),
        }
    }
}

/// [`HeaderInfo`] as a JS object, with the plaintext length and segment count computed from the
/// sealed message's full length `total` (FORMAT.md §6.3); both `null` when the length is
/// inconsistent with the header.
pub(crate) fn info_to_js(info: Result<HeaderInfo, Error>, total: u64) -> Result<JsValue, JsValue> {
    let mut info = info.map_err(js_error)?;
    // FORMAT.md §6.3: a signed message's 64-byte signature follows the body (§6.5)
    let trailer = keyseal::Suite::from_id(info.suite).map_or(0, |s| s.trailer_len() as u64);
    if total > info.header_len as u64
        && let Some(body) = (total - info.header_len as u64).checked_sub(trailer)
        && let Ok(layout) = keyseal::BodyLayout::for_body(info.segment_size, body)
    {
        info.plaintext_len = Some(layout.plaintext_len());
        info.segment_count = Some(layout.segment_count());
    }
    to_js(&info)
}

/// The whole message's length: `sealed_length` when given (`sealed` is then its first bytes, e.g.
/// a stored object's header and its size from the store), else `sealed`'s own length.
pub(crate) fn total_length(sealed: &Uint8Array, sealed_length: Option<f64>) -> Result<u64, JsValue> {
    match sealed_length {
        None => Ok(u64::from(sealed.length())),
        Some(n) if n.fract() == 0.0 && n >= f64::from(sealed.length()) && n <= MAX_SAFE_INTEGER => {
            Ok(n as u64)
        }
        Some(_) => Err(invalid(
            "sealedLength must be a whole number of bytes, at least the bytes given",
        )),
    }
}

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Header facts of a sealed message (or its first bytes). No key service involved.
#[wasm_bindgen]
pub fn inspect(sealed: &Uint8Array, sealed_length: Option<f64>) -> Result<JsValue, JsValue> {
    let total = total_length(sealed, sealed_length)?;
    info_to_js(keyseal::inspect(&prefix(sealed)), total)
}

/// What [`header_length`] tells.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Length {
    /// The whole header is this long (the body starts here).
    #[serde(skip_serializing_if = "Option::is_none")]
    header_len: Option<usize>,
    /// Otherwise: how many bytes from the start are needed to learn more.
    #[serde(skip_serializing_if = "Option::is_none")]
    need_at_least: Option<usize>,
}

/// FORMAT.md §4.3: how long the header is, from a prefix of the message:
/// `{ headerLen }` when the prefix tells it, else `{ needAtLeast }`.
#[wasm_bindgen(js_name = headerLength)]
pub fn header_length(prefix: &[u8]) -> Result<JsValue, JsValue> {
    let l = match Header::length_from_prefix(prefix).map_err(js_error)? {
        HeaderLength::Complete(n) => Length {
            header_len: Some(n),
            need_at_least: None,
        },
        HeaderLength::NeedAtLeast(n) => Length {
            header_len: None,
            need_at_least: Some(n),
        },
    };
    to_js(&l)
}
