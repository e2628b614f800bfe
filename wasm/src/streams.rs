//! Streams for JS: the state behind `encryptStream` and `decryptStream`. The wasm engine runs the
//! SDK's `EncryptStream`/`DecryptStream` on pieces of at most 1 MiB copied into wasm; a platform
//! engine cuts segments with the format's `SegmentCutter` in JS-heap buffers and keeps up to 8 in
//! flight. Either way output reaches the caller through `enqueue`, one authenticated segment at a
//! time and in order, and after an error nothing more (FORMAT.md §7.2).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use keyseal::{DecryptStream, EncryptStream, EncryptionContext, Header, HeaderLength};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::{KeySealCore, Shared, context_from};
use crate::errors::{invalid, js_error, open_failure};
use crate::platform::Platform;
use crate::platform_stream::{PlatformSegments, emit};
use crate::signing::WebSigner;

/// Largest piece copied into wasm memory at once on the wasm engine, so memory stays bounded
/// whatever the chunk size.
const PIECE: u32 = 1 << 20;

fn pieces(chunk: &Uint8Array) -> impl Iterator<Item = Uint8Array> + '_ {
    let n = chunk.length();
    (0..n.div_ceil(PIECE)).map(move |i| chunk.subarray(i * PIECE, ((i + 1) * PIECE).min(n)))
}

fn platform_of(shared: &Shared) -> Result<&Platform, JsValue> {
    shared
        .engines
        .platform_for(None)
        .ok_or_else(|| invalid("the platform engine went away"))
}

enum EncState {
    Wasm(Box<EncryptStream>),
    Platform(Box<PlatformSegments>, u64),
    Done,
}

/// Sealing state of one `encryptStream`.
#[wasm_bindgen]
pub struct EncryptStreamCore {
    shared: Rc<Shared>,
    header: Vec<u8>,
    state: Rc<RefCell<EncState>>,
}

#[wasm_bindgen]
impl EncryptStreamCore {
    /// The header bytes, to be enqueued before any body bytes.
    pub fn header(&self) -> Uint8Array {
        Uint8Array::from(&self.header[..])
    }

    /// Adds plaintext; the sealed segments it completes go to `enqueue` in order.
    pub fn push(&self, chunk: Uint8Array, enqueue: Function) -> Promise {
        let shared = self.shared.clone();
        let slot = self.state.clone();
        future_to_promise(async move {
            let mut state = slot.replace(EncState::Done);
            let r = match &mut state {
                EncState::Wasm(s) => pieces(&chunk).try_for_each(|p| {
                    let out = s.push(&p.to_vec()).map_err(js_error)?;
                    emit(&enqueue, &Uint8Array::from(&out[..]))
                }),
                EncState::Platform(p, total) => {
                    let platform = platform_of(&shared)?;
                    *total += u64::from(chunk.length());
                    p.push(platform, &chunk, &enqueue).await
                }
                EncState::Done => Err(invalid("the stream is finished or failed")),
            };
            match r {
                Ok(()) => {
                    slot.replace(state);
                    Ok(JsValue::UNDEFINED)
                }
                Err(e) => {
                    fail_encrypt(state).await;
                    Err(e)
                }
            }
        })
    }

    /// Seals the last segment; its bytes (and any still in flight) go to `enqueue`.
    pub fn finish(&self, enqueue: Function) -> Promise {
        let shared = self.shared.clone();
        let slot = self.state.clone();
        future_to_promise(async move {
            let mut state = slot.replace(EncState::Done);
            let r = match &mut state {
                EncState::Wasm(s) => s
                    .finish()
                    .map_err(js_error)
                    .and_then(|out| emit(&enqueue, &Uint8Array::from(&out[..]))),
                EncState::Platform(p, total) => {
                    let platform = platform_of(&shared)?;
                    let r = p.finish(platform, &enqueue).await;
                    p.job.finish(r.is_ok(), *total);
                    r
                }
                EncState::Done => Err(invalid("the stream is finished or failed")),
            };
            if r.is_err() {
                fail_encrypt(state).await;
            }
            r.map(|()| JsValue::UNDEFINED)
        })
    }
}

async fn fail_encrypt(state: EncState) {
    if let EncState::Platform(mut p, total) = state {
        p.window.abandon().await;
        p.job.finish(false, total);
    }
}

enum DecState {
    Wasm(Box<DecryptStream>),
    /// Platform engine, collecting the header (at most as many bytes as it needs).
    Header(Vec<u8>, EncryptionContext, u64, bool),
    Body(Box<PlatformSegments>, u64),
    Done(Option<JsValue>),
}

/// Opening state of one `decryptStream`. `push` is asynchronous (the header's completion asks a
/// key service); the JS layer never calls it again before the previous Promise settled.
#[wasm_bindgen]
pub struct DecryptStreamCore {
    shared: Rc<Shared>,
    state: Rc<RefCell<DecState>>,
}

#[wasm_bindgen]
impl DecryptStreamCore {
    /// Adds sealed bytes; the plaintext of every segment that authenticated goes to `enqueue`.
    pub fn push(&self, chunk: Uint8Array, enqueue: Function) -> Promise {
        let shared = self.shared.clone();
        let slot = self.state.clone();
        future_to_promise(async move {
            let state = slot.replace(DecState::Done(None));
            let (next, r) = push_decrypt(&shared, state, chunk, &enqueue).await;
            slot.replace(next);
            r.map(|()| JsValue::UNDEFINED)
        })
    }

    /// The end of the sealed bytes: opens the last segment. Fails with `DECRYPTION_FAILED` when the
    /// body is truncated and with `INVALID_FORMAT` when not even the header was complete.
    pub fn finish(&self, enqueue: Function) -> Promise {
        let shared = self.shared.clone();
        let slot = self.state.clone();
        future_to_promise(async move {
            let state = slot.replace(DecState::Done(None));
            let (next, r) = finish_decrypt(&shared, state, &enqueue).await;
            slot.replace(next);
            r.map(|()| JsValue::UNDEFINED)
        })
    }
}

/// After a failure every later call repeats it.
fn failed(e: JsValue) -> (DecState, Result<(), JsValue>) {
    (DecState::Done(Some(e.clone())), Err(e))
}

async fn push_decrypt(
    shared: &Shared,
    state: DecState,
    chunk: Uint8Array,
    enqueue: &Function,
) -> (DecState, Result<(), JsValue>) {
    match state {
        DecState::Done(e) => {
            let e = e.unwrap_or_else(|| invalid("the stream is finished"));
            (DecState::Done(Some(e.clone())), Err(e))
        }
        DecState::Wasm(mut s) => {
            for p in pieces(&chunk) {
                match s.push(&shared.sdk, &p.to_vec()).await {
                    Ok(out) => {
                        if let Err(e) = emit(enqueue, &Uint8Array::from(&out[..])) {
                            return failed(e);
                        }
                    }
                    Err(e) => return failed(js_error(e)),
                }
            }
            (DecState::Wasm(s), Ok(()))
        }
        DecState::Header(mut head, req, sealed, signed_only) => {
            let sealed = sealed + u64::from(chunk.length());
            let n = chunk.length();
            let mut at = 0u32;
            let header_len = loop {
                match Header::length_from_prefix(&head) {
                    Ok(HeaderLength::Complete(len)) if len <= head.len() => break len,
                    Ok(HeaderLength::Complete(want) | HeaderLength::NeedAtLeast(want)) => {
                        let more = ((want - head.len()) as u32).min(n - at);
                        if more == 0 {
                            return (DecState::Header(head, req, sealed, signed_only), Ok(()));
                        }
                        head.extend(chunk.subarray(at, at + more).to_vec());
                        at += more;
                    }
                    // the SDK parses what was read and reports (and counts) exactly what is wrong
                    Err(_) => break head.len(),
                }
            };
            match begin_body(shared, &head[..header_len], &req, signed_only).await {
                Ok(mut p) => {
                    let Ok(platform) = platform_of(shared) else {
                        return failed(invalid("the platform engine went away"));
                    };
                    match p.push(platform, &chunk.subarray(at, n), enqueue).await {
                        Ok(()) => (DecState::Body(p, sealed), Ok(())),
                        Err(e) => fail_body(p, sealed, e).await,
                    }
                }
                Err(e) => failed(e),
            }
        }
        DecState::Body(mut p, sealed) => {
            let sealed = sealed + u64::from(chunk.length());
            let Ok(platform) = platform_of(shared) else {
                return failed(invalid("the platform engine went away"));
            };
            match p.push(platform, &chunk, enqueue).await {
                Ok(()) => (DecState::Body(p, sealed), Ok(())),
                Err(e) => fail_body(p, sealed, e).await,
            }
        }
    }
}

/// The header is complete: the SDK checks it and the required context, gets the data key and
/// verifies the commitment (FORMAT.md §7.2 steps 1–4).
async fn begin_body(
    shared: &Shared,
    header: &[u8],
    req: &EncryptionContext,
    signed_only: bool,
) -> Result<Box<PlatformSegments>, JsValue> {
    let job = shared
        .sdk
        .prepare_external_decrypt(header, None, req, signed_only)
        .await
        .map_err(js_error)?;
    let platform = platform_of(shared)?;
    let subtle = crate::globals::subtle();
    PlatformSegments::new(platform, job, false, subtle, None)
        .await
        .map(Box::new)
}

async fn fail_body(mut p: Box<PlatformSegments>, sealed: u64, e: JsValue) -> (DecState, Result<(), JsValue>) {
    p.window.abandon().await;
    p.job.finish(false, sealed);
    failed(open_failure(e))
}

async fn finish_decrypt(
    shared: &Shared,
    state: DecState,
    enqueue: &Function,
) -> (DecState, Result<(), JsValue>) {
    match state {
        DecState::Done(e) => {
            let e = e.unwrap_or_else(|| invalid("the stream is finished"));
            (DecState::Done(Some(e.clone())), Err(e))
        }
        DecState::Wasm(mut s) => match s.finish() {
            Ok(out) => match emit(enqueue, &Uint8Array::from(&out[..])) {
                Ok(()) => (DecState::Done(None), Ok(())),
                Err(e) => failed(e),
            },
            Err(e) => failed(js_error(e)),
        },
        // a stream that ended inside the header: the SDK reports it (INVALID_FORMAT) and counts it
        DecState::Header(head, req, _, signed_only) => {
            match begin_body(shared, &head, &req, signed_only).await {
                Ok(_) => failed(js_error(keyseal::FormatError::InvalidFormat {
                    reason: "truncated header",
                })),
                Err(e) => failed(e),
            }
        }
        DecState::Body(mut p, sealed) => {
            let Ok(platform) = platform_of(shared) else {
                return failed(invalid("the platform engine went away"));
            };
            match p.finish(platform, enqueue).await {
                Ok(()) => {
                    p.job.finish(true, sealed);
                    (DecState::Done(None), Ok(()))
                }
                Err(e) => fail_body(p, sealed, e).await,
            }
        }
    }
}

#[wasm_bindgen]
impl KeySealCore {
    /// Starts an encrypt stream under `context`, signed (suite 2) when `sign`. Resolves to an
    /// `EncryptStreamCore`.
    #[wasm_bindgen(js_name = beginEncrypt)]
    pub fn begin_encrypt(&self, context: JsValue, sign: bool) -> Promise {
        let shared = self.shared.clone();
        let ctx = context_from(context, "context");
        future_to_promise(async move {
            let ctx = ctx?;
            let route = match sign {
                true => shared.engines.signing_platform().map(|(p, sc)| (p, Some(sc))),
                false => shared.engines.platform_for(None).map(|p| (p, None)),
            };
            let (header, state) = match route {
                Some((platform, subtle)) => {
                    let signer = match &subtle {
                        Some(sc) => Some(WebSigner::generate(sc).await?),
                        None => None,
                    };
                    let vk = signer.as_ref().map(|k| *k.public_sec1());
                    let job = shared
                        .sdk
                        .prepare_external_encrypt(&ctx, None, vk.as_ref())
                        .await
                        .map_err(js_error)?;
                    let header = job.header.clone();
                    let p = PlatformSegments::new(platform, job, true, subtle, signer).await?;
                    (header, EncState::Platform(Box::new(p), 0))
                }
                None => {
                    let s = match sign {
                        true => shared.sdk.begin_encrypt_signed(&ctx).await,
                        false => shared.sdk.begin_encrypt(&ctx, None).await,
                    }
                    .map_err(js_error)?;
                    (s.header().to_vec(), EncState::Wasm(Box::new(s)))
                }
            };
            Ok(EncryptStreamCore {
                shared: shared.clone(),
                header,
                state: Rc::new(RefCell::new(state)),
            }
            .into())
        })
    }

    /// Starts a decrypt stream requiring `require_context` (an object of strings, or nothing) and,
    /// with `require_signed`, a signed message. A signed message takes the platform engine only
    /// where WebCrypto can check its signature.
    #[wasm_bindgen(js_name = beginDecrypt)]
    pub fn begin_decrypt(
        &self,
        require_context: JsValue,
        require_signed: bool,
    ) -> Result<DecryptStreamCore, JsValue> {
        let req = context_from(require_context, "requireContext")?;
        let platform = self.shared.engines.platform_for(None).is_some() && crate::globals::subtle().is_some();
        let state = match (platform, require_signed) {
            (true, _) => DecState::Header(Vec::new(), req, 0, require_signed),
            (false, true) => DecState::Wasm(Box::new(self.shared.sdk.begin_decrypt_signed(req))),
            (false, false) => DecState::Wasm(Box::new(self.shared.sdk.begin_decrypt(req))),
        };
        Ok(DecryptStreamCore {
            shared: self.shared.clone(),
            state: Rc::new(RefCell::new(state)),
        })
    }
}

#[wasm_bindgen]
impl DecryptStreamCore {
    /// The header facts (as `inspect` gives them) once the header was read and accepted — its
    /// context matched and the data key was obtained — else `undefined`.
    #[wasm_bindgen(js_name = headerInfo)]
    pub fn header_info(&self) -> Result<JsValue, JsValue> {
        let bytes = match &*self.state.borrow() {
            DecState::Wasm(s) => s.header().map(|h| h.encode()),
            DecState::Body(p, _) => Some(p.job.header.clone()),
            DecState::Header(..) | DecState::Done(_) => None,
        };
        match bytes {
            Some(b) => crate::inspect::info_to_js(self.shared.sdk.inspect(&b), 0),
            None => Ok(JsValue::UNDEFINED),
        }
    }
}
