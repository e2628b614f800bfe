//! Many segments through a platform engine: up to [`IN_FLIGHT`] under way at once, results used
//! strictly in index order (FORMAT.md §7.2), nothing used after a failure, and every started
//! operation settled before returning. Whole messages are sealed and opened here. For a signed
//! message (suite 2) each sealed segment — the output when sealing, the input when opening — also
//! goes into the signature chain, in order (§6.5).

use std::collections::VecDeque;

use js_sys::Uint8Array;
use keyseal::{BodyLayout, SegmentId};
use wasm_bindgen::prelude::*;

use crate::errors::open_failure;
use crate::platform::{IN_FLIGHT, Pending, Platform, PlatformKey};
use crate::signing::PlatformChain;

/// One segment to seal or open: its id (nonce) and its input bytes.
pub(crate) struct Op {
    pub id: SegmentId,
    pub input: Uint8Array,
}

/// A window of segment operations in flight, emitted in order.
pub(crate) struct Window {
    queue: VecDeque<(Pending, Option<Uint8Array>)>,
    /// A signed message's chain.
    pub(crate) chain: Option<PlatformChain>,
}

impl Window {
    pub(crate) fn new(chain: Option<PlatformChain>) -> Self {
        Self {
            queue: VecDeque::with_capacity(IN_FLIGHT),
            chain,
        }
    }

    /// Starts `op` (sealing or opening), then waits for the oldest until at most `keep` are under
    /// way, handing each finished output to `emit` in order.
    pub(crate) async fn push(
        &mut self,
        platform: &Platform,
        key: &PlatformKey,
        seal: bool,
        op: Op,
        keep: usize,
        emit: &mut dyn FnMut(Uint8Array) -> Result<(), JsValue>,
    ) -> Result<(), JsValue> {
        platform.fair().await;
        let nonce = op.id.nonce();
        let p = if seal {
            platform.seal(key, &nonce, &op.input)
        } else {
            platform.open(key, &nonce, &op.input)
        };
        let sealed_input = (!seal && self.chain.is_some()).then_some(op.input);
        self.queue.push_back((p, sealed_input));
        self.drain(keep, emit).await
    }

    /// Waits until at most `keep` operations are under way, emitting outputs in order. On a failure
    /// nothing more is emitted: the rest are settled and the error returned.
    pub(crate) async fn drain(
        &mut self,
        keep: usize,
        emit: &mut dyn FnMut(Uint8Array) -> Result<(), JsValue>,
    ) -> Result<(), JsValue> {
        while self.queue.len() > keep {
            let Some((p, sealed_input)) = self.queue.pop_front() else {
                break;
            };
            let r = match p.output().await {
                Ok(out) => match self.absorb(sealed_input.as_ref().unwrap_or(&out)).await {
                    Ok(()) => emit(out),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                self.abandon().await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Operations under way.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Settles everything still under way and drops the results.
    pub(crate) async fn abandon(&mut self) {
        while let Some((p, _)) = self.queue.pop_front() {
            let _ = p.output().await;
        }
    }

    /// The next sealed segment into the signature chain, if the message is signed.
    pub(crate) async fn absorb(&mut self, sealed: &Uint8Array) -> Result<(), JsValue> {
        match self.chain.as_mut() {
            Some(c) => c.absorb(sealed).await,
            None => Ok(()),
        }
    }
}

/// Seals a whole body: `plaintext` laid out as `layout`, into `out` from `at` on. Hands the
/// signature chain back.
pub(crate) async fn seal_body(
    platform: &Platform,
    key: &PlatformKey,
    layout: &BodyLayout,
    plaintext: &Uint8Array,
    out: &Uint8Array,
    at: u64,
    chain: Option<PlatformChain>,
) -> Result<Option<PlatformChain>, JsValue> {
    whole_body(platform, key, true, layout, plaintext, out, at, chain).await
}

/// Opens a whole body laid out as `layout` into `out` (the plaintext, preallocated): all or
/// nothing — on any failure `out` is zero-filled and the error is `DECRYPTION_FAILED` (or the
/// keyseal error that caused it). Hands the signature chain back, for the caller to verify
/// before it releases `out`.
pub(crate) async fn open_body(
    platform: &Platform,
    key: &PlatformKey,
    layout: &BodyLayout,
    body: &Uint8Array,
    out: &Uint8Array,
    chain: Option<PlatformChain>,
) -> Result<Option<PlatformChain>, JsValue> {
    let r = whole_body(platform, key, false, layout, body, out, 0, chain).await;
    if r.is_err() {
        out.fill(0, 0, out.length());
    }
    r.map_err(open_failure)
}

/// Seals (`seal`: `input` is the plaintext) or opens (`input` is the body) every segment of
/// `layout`, into `out` from `at` on, in order; the sealed side of every segment goes through the
/// signature chain.
#[allow(clippy::too_many_arguments)]
async fn whole_body(
    platform: &Platform,
    key: &PlatformKey,
    seal: bool,
    layout: &BodyLayout,
    input: &Uint8Array,
    out: &Uint8Array,
    at: u64,
    chain: Option<PlatformChain>,
) -> Result<Option<PlatformChain>, JsValue> {
    let mut window = Window::new(chain);
    if platform.direct_supported() {
        for s in layout.segments() {
            platform.fair().await;
            let (from, to) = (
                if seal { &s.plaintext } else { &s.body },
                if seal { &s.body } else { &s.plaintext },
            );
            let data = input.subarray(from.start as u32, from.end as u32);
            if !seal {
                window.absorb(&data).await?;
            }
            if let Some(r) = platform.direct(key, seal, &s.id.nonce(), &data, out, at + to.start) {
                r?;
            }
            if seal {
                window
                    .absorb(&out.subarray((at + to.start) as u32, (at + to.end) as u32))
                    .await?;
            }
        }
        return Ok(window.chain);
    }
    let mut next = at;
    let mut emit = |bytes: Uint8Array| {
        out.set(&bytes, next as u32);
        next += u64::from(bytes.length());
        Ok(())
    };
    for s in layout.segments() {
        let from = if seal { &s.plaintext } else { &s.body };
        let op = Op {
            id: s.id,
            input: input.subarray(from.start as u32, from.end as u32),
        };
        window
            .push(platform, key, seal, op, IN_FLIGHT - 1, &mut emit)
            .await?;
    }
    window.drain(0, &mut emit).await?;
    Ok(window.chain)
}
