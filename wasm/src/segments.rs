//! Many segments through a platform engine: up to [`IN_FLIGHT`] under way at once, results used
//! strictly in index order (FORMAT.md §7.2), nothing used after a failure, and every started
//! operation settled before returning. Whole messages are sealed and opened here. For a signed
//! message (suite 2) each sealed segment — the output when sealing, the input when opening — also
//! goes into the signature chain, in order (§6.5).

use std::collections::VecDeque;

use js_sys::Uint8Array;
use keyseal::{BodyLayout, SegmentId};
use wasm_bindgen::prelude::*;

use crate::errors::{coded, open_failure};
use crate::platform::{IN_FLIGHT, Pending, Platform, PlatformKey};
use js_sys::{Array, Promise};
use wasm_bindgen_futures::JsFuture;

/// WebCrypto results awaited together (see [`Window::drain`]).
const GROUP: usize = IN_FLIGHT / 2;
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
    /// the outputs before it are emitted, nothing after it: the rest are settled and the error returned. WebCrypto results are
    /// awaited [`GROUP`] at a time (one `Promise.all`): every awaited promise costs a round through
    /// the wasm futures executor, which measured as much as the AES work of a 64 KiB segment in
    /// Chromium; the others stay under way meanwhile.
    pub(crate) async fn drain(
        &mut self,
        keep: usize,
        emit: &mut dyn FnMut(Uint8Array) -> Result<(), JsValue>,
    ) -> Result<(), JsValue> {
        while self.queue.len() > keep {
            let take = (self.queue.len() - keep).max(GROUP).min(self.queue.len());
            let group: Vec<_> = self.queue.drain(..take).collect();
            let outputs = outputs(group.iter().map(|(p, _)| p)).await;
            for ((_, sealed_input), out) in group.into_iter().zip(outputs) {
                let r = match out {
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
        }
        Ok(())
    }

    /// Operations under way.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Settles everything still under way and drops the results.
    pub(crate) async fn abandon(&mut self) {
        let rest: Vec<_> = self.queue.drain(..).collect();
        let promises: Array = rest
            .iter()
            .filter_map(|(p, _)| match p {
                Pending::Subtle(p) => Some(JsValue::from(p)),
                Pending::Ready(_) => None,
            })
            .collect();
        if promises.length() > 0 {
            let _ = JsFuture::from(Promise::all_settled(&promises)).await;
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

/// Segment results awaited together: one `Promise.all` for the WebCrypto ones. If that rejects,
/// the group is awaited again one promise at a time, so the segments before the failing one are
/// still released in order (FORMAT.md §6: every authenticated segment before a failure reaches the
/// reader; a cut-short body, never wrong bytes). Results of the node engine are already computed.
async fn outputs<'a>(group: impl Iterator<Item = &'a Pending>) -> Vec<Result<Uint8Array, JsValue>> {
    let group: Vec<&Pending> = group.collect();
    let promises: Array = group
        .iter()
        .filter_map(|p| match p {
            Pending::Subtle(p) => Some(JsValue::from(p)),
            Pending::Ready(_) => None,
        })
        .collect();
    if promises.length() > 0
        && let Ok(all) = JsFuture::from(Promise::all(&promises)).await
    {
        let mut settled = Array::from(&all).into_iter();
        return group
            .into_iter()
            .map(|p| match p {
                Pending::Subtle(_) => settled
                    .next()
                    .map(|buf| Uint8Array::new(&buf))
                    .ok_or_else(|| coded("INTERNAL", "a segment result is missing")),
                Pending::Ready(r) => r.clone(),
            })
            .collect();
    }
    let mut out = Vec::with_capacity(group.len());
    for p in group {
        out.push(match p {
            Pending::Subtle(p) => JsFuture::from(p.clone()).await.map(|b| Uint8Array::new(&b)),
            Pending::Ready(r) => r.clone(),
        });
    }
    out
}
