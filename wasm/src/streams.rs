//! Streams for JS: the state behind `encryptStream` and `decryptStream`. The wasm engine runs the
//! SDK's `EncryptStream`/`DecryptStream` on pieces of at most 1 MiB copied into wasm; a platform
//! engine cuts segments with the format's `SegmentCutter` in JS-heap buffers and keeps up to 8 in
//! flight. Either way output reaches the caller through `enqueue`, one authenticated segment at a
//! time and in order, and after an error nothing more (FORMAT.md §7.2).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use keyseal::{
    DecryptStream, EncryptStream, EncryptionContext, ExternalJob, Header, HeaderLength, SegmentCutter,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::{KeySealCore, Shared, context_from, import_key};
use crate::errors::{invalid, js_error, open_failure};
use crate::platform::{IN_FLIGHT, Platform, PlatformKey};
use crate::segments::{Op, Window};

/// Largest piece copied into wasm memory at once on the wasm engine, so memory stays bounded
/// whatever the chunk size.
const PIECE: u32 = 1 << 20;

fn pieces(chunk: &Uint8Array) -> impl Iterator<Item = Uint8Array> + '_ {
    let n = chunk.length();
    (0..n.div_ceil(PIECE)).map(move |i| chunk.subarray(i * PIECE, ((i + 1) * PIECE).min(n)))
}

fn emit(enqueue: &Function, bytes: &Uint8Array) -> Result<(), JsValue> {
    if bytes.length() > 0 {
        enqueue.call1(&JsValue::NULL, bytes)?;
    }
    Ok(())
}

fn platform_of(shared: &Shared) -> Result<&Platform, JsValue> {
    shared
        .engines
        .platform_for(None)
        .ok_or_else(|| invalid("the platform engine went away"))
}

/// Segments of one message on a platform engine: the cutter, the buffer being filled, the window.
struct PlatformSegments {
    job: ExternalJob,
    key: PlatformKey,
    cutter: SegmentCutter,
    buf: Uint8Array,
    window: Window,
    seal: bool,
}

impl PlatformSegments {
    async fn new(platform: &Platform, mut job: ExternalJob, seal: bool) -> Result<Self, JsValue> {
        let key = import_key(platform, &mut job).await?;
        let s = job.segments.segment_size();
        let cutter = if seal {
            SegmentCutter::for_plaintext(s)
        } else {
            SegmentCutter::for_body(s)
        };
        Ok(Self {
            buf: Uint8Array::new_with_length(cutter.unit() as u32),
            job,
            key,
            cutter,
            window: Window::new(),
            seal,
        })
    }

    /// Cuts `chunk` into segments; each complete one is started, and outputs go to `enqueue`.
    async fn push(
        &mut self,
        platform: &Platform,
        chunk: &Uint8Array,
        enqueue: &Function,
    ) -> Result<(), JsValue> {
        let n = chunk.length() as usize;
        let mut at = 0usize;
        while at < n {
            let filled = self.cutter.filled();
            let (take, done) = self.cutter.take(n - at).map_err(js_error)?;
            self.buf
                .set(&chunk.subarray(at as u32, (at + take) as u32), filled as u32);
            at += take;
            if let Some(id) = done {
                let input = std::mem::replace(
                    &mut self.buf,
                    Uint8Array::new_with_length(self.cutter.unit() as u32),
                );
                let mut out = |b: Uint8Array| emit(enqueue, &b);
                self.window
                    .push(
                        platform,
                        &self.key,
                        self.seal,
                        Op { id, input },
                        IN_FLIGHT - 1,
                        &mut out,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The last segment, then everything still in flight.
    async fn finish(&mut self, platform: &Platform, enqueue: &Function) -> Result<(), JsValue> {
        let filled = self.cutter.filled() as u32;
        let mut out = |b: Uint8Array| emit(enqueue, &b);
        let id = match self.cutter.finish() {
            Ok(id) => id,
            Err(e) => {
                // a truncated body: release what authenticated, then fail
                self.window.drain(0, &mut out).await?;
                return Err(js_error(e));
            }
        };
        let input = self.buf.subarray(0, filled);
        self.window
            .push(platform, &self.key, self.seal, Op { id, input }, 0, &mut out)
            .await
    }
}

enum EncState {
    Wasm(EncryptStream),
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
    Wasm(DecryptStream),
    /// Platform engine, collecting the header (at most as many bytes as it needs).
    Header(Vec<u8>, EncryptionContext, u64),
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
        DecState::Header(mut head, req, sealed) => {
            let sealed = sealed + u64::from(chunk.length());
            let n = chunk.length();
            let mut at = 0u32;
            let header_len = loop {
                match Header::length_from_prefix(&head) {
                    Ok(HeaderLength::Complete(len)) if len <= head.len() => break len,
                    Ok(HeaderLength::Complete(want) | HeaderLength::NeedAtLeast(want)) => {
                        let more = ((want - head.len()) as u32).min(n - at);
                        if more == 0 {
                            return (DecState::Header(head, req, sealed), Ok(()));
                        }
                        head.extend(chunk.subarray(at, at + more).to_vec());
                        at += more;
                    }
                    // the SDK parses what was read and reports (and counts) exactly what is wrong
                    Err(_) => break head.len(),
                }
            };
            match begin_body(shared, &head[..header_len], &req).await {
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
) -> Result<Box<PlatformSegments>, JsValue> {
    let job = shared
        .sdk
        .prepare_external_decrypt(header, None, req)
        .await
        .map_err(js_error)?;
    let platform = platform_of(shared)?;
    PlatformSegments::new(platform, job, false).await.map(Box::new)
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
        DecState::Header(head, req, _) => match begin_body(shared, &head, &req).await {
            Ok(_) => failed(js_error(keyseal::FormatError::InvalidFormat {
                reason: "truncated header",
            })),
            Err(e) => failed(e),
        },
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
    /// Starts an encrypt stream under `context`. Resolves to an `EncryptStreamCore`.
    #[wasm_bindgen(js_name = beginEncrypt)]
    pub fn begin_encrypt(&self, context: JsValue) -> Promise {
        let shared = self.shared.clone();
        let ctx = context_from(context, "context");
        future_to_promise(async move {
            let ctx = ctx?;
            let (header, state) = match shared.engines.platform_for(None) {
                Some(platform) => {
                    let job = shared
                        .sdk
                        .prepare_external_encrypt(&ctx, None)
                        .await
                        .map_err(js_error)?;
                    let header = job.header.clone();
                    let p = PlatformSegments::new(platform, job, true).await?;
                    (header, EncState::Platform(Box::new(p), 0))
                }
                None => {
                    let s = shared.sdk.begin_encrypt(&ctx, None).await.map_err(js_error)?;
                    (s.header().to_vec(), EncState::Wasm(s))
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

    /// Starts a decrypt stream requiring `require_context` (an object of strings, or nothing).
    #[wasm_bindgen(js_name = beginDecrypt)]
    pub fn begin_decrypt(&self, require_context: JsValue) -> Result<DecryptStreamCore, JsValue> {
        let req = context_from(require_context, "requireContext")?;
        let state = match self.shared.engines.platform_for(None) {
            Some(_) => DecState::Header(Vec::new(), req, 0),
            None => DecState::Wasm(self.shared.sdk.begin_decrypt(req)),
        };
        Ok(DecryptStreamCore {
            shared: self.shared.clone(),
            state: Rc::new(RefCell::new(state)),
        })
    }
}
