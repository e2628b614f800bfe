//! One message streamed through a platform engine: segments cut by the format's `SegmentCutter`
//! in JS-heap buffers, up to 8 in flight, outputs to `enqueue` in order. A signed message
//! (FORMAT.md §6.5) also runs its signature chain; sealing ends with the signature, opening holds
//! back the last 64 bytes (the signature) and releases the last segment only once it verified.

use js_sys::{Function, Uint8Array};
use keyseal::format::ecdsa_p256::PUBLIC_KEY_LEN;
use keyseal::format::signature::TRAILER_LEN;
use keyseal::{ExternalJob, SegmentCutter};
use wasm_bindgen::prelude::*;
use web_sys::SubtleCrypto;

use crate::core::import_key;
use crate::errors::{coded, decryption_failed, js_error};
use crate::messages::platform_chain;
use crate::platform::{IN_FLIGHT, Platform, PlatformKey};
use crate::segments::{Op, Window};
use crate::signing::{WebSigner, verify};

pub(crate) fn emit(enqueue: &Function, bytes: &Uint8Array) -> Result<(), JsValue> {
    if bytes.length() > 0 {
        enqueue.call1(&JsValue::NULL, bytes)?;
    }
    Ok(())
}

fn concat(a: &Uint8Array, b: &Uint8Array) -> Uint8Array {
    let out = Uint8Array::new_with_length(a.length() + b.length());
    out.set(a, 0);
    out.set(b, a.length());
    out
}

/// Segments of one message on a platform engine.
pub(crate) struct PlatformSegments {
    pub(crate) job: ExternalJob,
    key: PlatformKey,
    cutter: SegmentCutter,
    buf: Uint8Array,
    pub(crate) window: Window,
    seal: bool,
    /// Sealing a signed message: its key.
    signer: Option<WebSigner>,
    /// Opening a signed message: its verification key and the bytes held back (≤ 64).
    verifying: Option<([u8; PUBLIC_KEY_LEN], Uint8Array)>,
}

impl PlatformSegments {
    pub(crate) async fn new(
        platform: &Platform,
        mut job: ExternalJob,
        seal: bool,
        subtle: Option<SubtleCrypto>,
        signer: Option<WebSigner>,
    ) -> Result<Self, JsValue> {
        let key = import_key(platform, &mut job).await?;
        let s = job.segments.segment_size();
        let cutter = if seal {
            SegmentCutter::for_plaintext(s)
        } else {
            SegmentCutter::for_body(s)
        };
        let signed = job.signature.is_some();
        let chain = platform_chain(&mut job, subtle.as_ref());
        if signed && chain.is_none() {
            return Err(coded(
                "INTERNAL",
                "a signed message needs WebCrypto on this engine",
            ));
        }
        let verifying = match (seal, job.verification_key) {
            (false, Some(vk)) => Some((vk, Uint8Array::new_with_length(0))),
            _ => None,
        };
        Ok(Self {
            buf: Uint8Array::new_with_length(cutter.unit() as u32),
            job,
            key,
            cutter,
            window: Window::new(chain),
            seal,
            signer,
            verifying,
        })
    }

    /// Takes a chunk; for a signed message being opened, feeds all but the last 64 bytes seen.
    pub(crate) async fn push(
        &mut self,
        platform: &Platform,
        chunk: &Uint8Array,
        enqueue: &Function,
    ) -> Result<(), JsValue> {
        let Some((vk, held)) = self.verifying.take() else {
            return self.cut(platform, chunk, enqueue).await;
        };
        let both = concat(&held, chunk);
        let free = both.length().saturating_sub(TRAILER_LEN as u32);
        self.verifying = Some((vk, both.slice(free, both.length())));
        self.cut(platform, &both.subarray(0, free), enqueue).await
    }

    /// Cuts `chunk` into segments; each complete one is started, and outputs go to `enqueue`.
    async fn cut(
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
                let fresh = Uint8Array::new_with_length(self.cutter.unit() as u32);
                let input = std::mem::replace(&mut self.buf, fresh);
                let mut out = |b: Uint8Array| emit(enqueue, &b);
                let op = Op { id, input };
                self.window
                    .push(platform, &self.key, self.seal, op, IN_FLIGHT - 1, &mut out)
                    .await?;
            }
        }
        Ok(())
    }

    /// The last segment, everything still in flight, and the signature: appended when sealing,
    /// checked before the last segment is released when opening.
    pub(crate) async fn finish(&mut self, platform: &Platform, enqueue: &Function) -> Result<(), JsValue> {
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
        let Some((vk, signature)) = self.verifying.take() else {
            self.window
                .push(platform, &self.key, self.seal, Op { id, input }, 0, &mut out)
                .await?;
            return self.append_signature(enqueue).await;
        };
        // Opening a signed message: every segment but the last goes out as it authenticates; the
        // last waits for the signature.
        let mut last: Option<Uint8Array> = None;
        let mut pending = self.window_len() + 1;
        let mut hold_last = |b: Uint8Array| {
            pending -= 1;
            if pending == 0 {
                last = Some(b);
                Ok(())
            } else {
                emit(enqueue, &b)
            }
        };
        self.window
            .push(platform, &self.key, false, Op { id, input }, 0, &mut hold_last)
            .await?;
        let chain = self.window.chain.as_ref().ok_or_else(decryption_failed)?;
        if signature.length() as usize != TRAILER_LEN
            || !verify(&chain.subtle, &vk, &chain.chain, &signature).await?
        {
            if let Some(l) = &last {
                l.fill(0, 0, l.length());
            }
            return Err(decryption_failed());
        }
        match last {
            Some(l) => emit(enqueue, &l),
            None => Ok(()),
        }
    }

    fn window_len(&self) -> usize {
        self.window.len()
    }

    async fn append_signature(&mut self, enqueue: &Function) -> Result<(), JsValue> {
        let (Some(signer), Some(chain)) = (self.signer.take(), self.window.chain.as_ref()) else {
            return Ok(());
        };
        let sig = signer.sign(&chain.subtle, &chain.chain).await?;
        emit(enqueue, &sig)
    }
}
