//! Segments sealed and opened in parallel across cores, released in order (FORMAT.md §6).
//!
//! A reader thread cuts the input into items of whole segments (each read straight into its
//! place in the sealed layout, a tag's room after each), worker threads seal or open every segment
//! of an item with the [`RingCipher`] (and, for a signed message, hash it for the signature chain,
//! §6.5), and the calling thread writes items strictly in order, absorbing each segment's digest
//! into the chain. Buffers come from a fixed pool that the writer refills, so memory is bounded
//! by `pool × item size` (a few MiB) whatever the message size. A segment is released only after
//! its tag checked; after a failure nothing later is written. A signed message's last segment is
//! released only once the signature verified (as `SegmentOpener::finish` does).

use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use keyseal::format::signature::{SignatureChain, TRAILER_LEN};
use keyseal::layout::TAG_LEN;
use keyseal::{FormatError, SegmentId};

use crate::engine::RingCipher;
use crate::error::CliError;

/// Target bytes of one work item (several segments when segments are small).
const ITEM_BYTES: usize = 1 << 20;

/// What the pipeline does to each segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext in, sealed segments out.
    Seal,
    /// Sealed segments in, plaintext out.
    Open,
}

/// How a pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Seal or open.
    pub direction: Direction,
    /// The message's segment size (plaintext bytes per full segment).
    pub segment_size: u32,
    /// Worker threads (at least 1).
    pub threads: usize,
}

/// A suite-2 message's signature work: the chain, and on seal the key that signs it.
pub enum Signing<'a> {
    /// Unsigned (suite 1).
    None,
    /// Sealing: absorb every sealed segment, then append the signature.
    Sign(SignatureChain, &'a keyseal::format::ecdsa_p256::SignatureKeyPair),
    /// Opening: absorb every sealed segment, then verify the trailer under this key before the
    /// last segment is released.
    Verify(SignatureChain, [u8; keyseal::format::ecdsa_p256::PUBLIC_KEY_LEN]),
}

struct Item {
    seq: u64,
    first: u64,
    buf: Vec<u8>,
    /// Input bytes of each segment (plaintext on seal, sealed on open), at stride `S + 16`.
    lens: Vec<usize>,
    /// Whether the item holds the message's last segment.
    last: bool,
    digests: Vec<[u8; 32]>,
    /// Plaintext bytes of each segment, after opening.
    out_lens: Vec<usize>,
    /// A signed message's trailer, on the last item.
    trailer: Option<Vec<u8>>,
    error: Option<CliError>,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Holds back the last `hold` bytes of a stream: what a signed message's body is followed by.
pub struct HoldBack<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    hold: usize,
}

impl<R: Read> HoldBack<R> {
    /// Wraps `inner`, holding back `hold` bytes.
    pub fn new(inner: R, hold: usize) -> Self {
        Self {
            inner,
            buf: vec![0; (1 << 16) + hold],
            start: 0,
            end: 0,
            eof: false,
            hold,
        }
    }

    /// What was held back, once the stream ended (fewer than `hold` bytes if it was shorter).
    pub fn held(&self) -> Vec<u8> {
        self.buf[self.start..self.end].to_vec()
    }
}

impl<R: Read> Read for HoldBack<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let avail = self.end - self.start;
            if avail > self.hold {
                let n = out.len().min(avail - self.hold);
                out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                self.start += n;
                return Ok(n);
            }
            if self.eof || out.is_empty() {
                return Ok(0);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = self.inner.read(&mut self.buf[self.end..])?;
            if n == 0 {
                self.eof = true;
            } else {
                self.end += n;
            }
        }
    }
}

/// Runs the pipeline from `input` to `output`; returns `(bytes in, bytes out)` of the body.
/// `progress` is called with the input bytes of each item written.
pub fn run(
    plan: Plan,
    cipher: &RingCipher,
    input: &mut (dyn Read + Send),
    output: &mut dyn Write,
    mut signing: Signing<'_>,
    progress: &dyn Fn(u64),
) -> Result<(u64, u64), CliError> {
    let s = plan.segment_size as usize;
    let unit = s + TAG_LEN;
    let per_item = (ITEM_BYTES / unit).max(1);
    let threads = plan.threads.max(1);
    let pool_len = threads * 2 + 2;
    let signed = !matches!(signing, Signing::None);
    let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(pool_len);
    for _ in 0..pool_len {
        pool_tx
            .send(vec![0u8; per_item * unit])
            .map_err(|_| CliError::Internal("buffer pool".into()))?;
    }
    let (work_tx, work_rx) = sync_channel::<Item>(pool_len);
    let (done_tx, done_rx) = sync_channel::<Item>(pool_len);
    let work_rx = Mutex::new(work_rx);
    let direction = plan.direction;
    std::thread::scope(|scope| {
        scope.spawn(move || reader(direction, s, per_item, signed, input, &pool_rx, &work_tx));
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || worker(direction, s, signed, cipher, work_rx, &done_tx));
        }
        drop(done_tx);
        writer(direction, s, done_rx, pool_tx, output, &mut signing, progress)
    })
}

enum Input<'a> {
    Plain(&'a mut (dyn Read + Send)),
    Held(HoldBack<&'a mut (dyn Read + Send)>),
}

impl Input<'_> {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Self::Plain(r) => r,
            Self::Held(h) => h,
        }
    }
}

fn reader(
    direction: Direction,
    s: usize,
    per_item: usize,
    signed: bool,
    input: &mut (dyn Read + Send),
    pool: &Receiver<Vec<u8>>,
    work: &SyncSender<Item>,
) {
    let unit = s + TAG_LEN;
    let want = match direction {
        Direction::Seal => s,
        Direction::Open => unit,
    };
    // Only a sealed signed message ends with a trailer to hold back; plaintext has none.
    let mut input = if signed && direction == Direction::Open {
        Input::Held(HoldBack::new(input, TRAILER_LEN))
    } else {
        Input::Plain(input)
    };
    let mut seq = 0u64;
    let mut next_segment = 0u64;
    loop {
        let Ok(buf) = pool.recv() else { return };
        let mut item = Item {
            seq,
            first: next_segment,
            buf,
            lens: Vec::with_capacity(per_item),
            last: false,
            digests: Vec::new(),
            out_lens: Vec::new(),
            trailer: None,
            error: None,
        };
        for k in 0..per_item {
            let off = k * unit;
            match read_full(input.reader(), &mut item.buf[off..off + want]) {
                Ok(got) => {
                    item.lens.push(got);
                    if got < want {
                        item.last = true;
                        break;
                    }
                }
                Err(e) => {
                    item.error = Some(CliError::io("-", e));
                    break;
                }
            }
        }
        if item.last {
            item.trailer = match &input {
                Input::Held(h) => Some(h.held()),
                Input::Plain(_) => None,
            };
        }
        next_segment += item.lens.len() as u64;
        seq += 1;
        let stop = item.last || item.error.is_some();
        if work.send(item).is_err() || stop {
            return;
        }
    }
}

fn worker(
    direction: Direction,
    s: usize,
    signed: bool,
    cipher: &RingCipher,
    work: &Mutex<Receiver<Item>>,
    done: &SyncSender<Item>,
) {
    let unit = s + TAG_LEN;
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(mut item) = next else { return };
        if item.error.is_none() {
            let n = item.lens.len();
            for k in 0..n {
                let off = k * unit;
                let last = item.last && k + 1 == n;
                let r = SegmentId::new(item.first + k as u64, last).and_then(|id| {
                    let nonce = id.nonce();
                    match direction {
                        Direction::Seal => {
                            let seg = &mut item.buf[off..off + item.lens[k] + TAG_LEN];
                            cipher.seal_segment(&nonce, seg)?;
                            if signed {
                                item.digests.push(sha256(seg));
                            }
                            item.out_lens.push(seg.len());
                            Ok(())
                        }
                        Direction::Open => {
                            let seg = &mut item.buf[off..off + item.lens[k]];
                            if signed {
                                item.digests.push(sha256(seg));
                            }
                            let n = cipher.open_segment(&nonce, seg)?;
                            item.out_lens.push(n);
                            Ok(())
                        }
                    }
                });
                if let Err(e) = r {
                    item.error = Some(e.into());
                    break;
                }
            }
        }
        if done.send(item).is_err() {
            return;
        }
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn writer(
    direction: Direction,
    s: usize,
    done: Receiver<Item>,
    pool: SyncSender<Vec<u8>>,
    output: &mut dyn Write,
    signing: &mut Signing<'_>,
    progress: &dyn Fn(u64),
) -> Result<(u64, u64), CliError> {
    let unit = s + TAG_LEN;
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0u64;
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let out_err = |e| CliError::io("-", e);
    loop {
        let Some(mut item) = waiting.remove(&next) else {
            // A worker or the reader ended without sending the next item only on a failure
            // that is reported by an earlier item; treat a silent end as internal.
            let item = done
                .recv()
                .map_err(|_| CliError::Internal("pipeline ended early".into()))?;
            waiting.insert(item.seq, item);
            continue;
        };
        next += 1;
        let has_trailer = item.trailer.is_some();
        if let Some(e) = item.error.take() {
            return Err(e);
        }
        let n = item.out_lens.len();
        // Segments that lie back to back (every sealed segment but an item's last) go out in one
        // write; plaintext segments have a tag's gap between them.
        let mut run = 0..0;
        for k in 0..n {
            let off = k * unit;
            let seg = off..off + item.out_lens[k];
            let last = item.last && k + 1 == n;
            match signing {
                Signing::None => {}
                Signing::Sign(chain, _) | Signing::Verify(chain, _) => chain.absorb_digest(&item.digests[k]),
            }
            if last && let Signing::Verify(chain, vk) = signing {
                let trailer = item.trailer.take().unwrap_or_default();
                let verified = if trailer.len() == TRAILER_LEN {
                    chain.verify(vk, &trailer).map_err(CliError::from)
                } else {
                    Err(FormatError::DecryptionFailed.into())
                };
                if let Err(e) = verified {
                    zeroize::Zeroize::zeroize(&mut item.buf[seg]);
                    return Err(e);
                }
            }
            if run.end != seg.start {
                output.write_all(&item.buf[run.clone()]).map_err(out_err)?;
                run = seg.start..seg.start;
            }
            run.end = seg.end;
            bytes_out += (seg.end - seg.start) as u64;
        }
        output.write_all(&item.buf[run]).map_err(out_err)?;
        let consumed: u64 = item.lens.iter().map(|&l| l as u64).sum();
        bytes_in += consumed;
        progress(consumed);
        if item.last {
            if let Signing::Sign(chain, key) = signing {
                let sig = chain.sign(key);
                output.write_all(&sig).map_err(out_err)?;
                bytes_out += sig.len() as u64;
            }
            if direction == Direction::Open && has_trailer {
                bytes_in += TRAILER_LEN as u64;
            }
            return Ok((bytes_in, bytes_out));
        }
        // The buffer goes back to the reader; plaintext in it is overwritten by the next read.
        let _ = pool.send(item.buf);
    }
}
