//! Range plans and rewrap on arbitrary inputs (FORMAT.md §4.4, §6.4):
//! 1. `plan_range` on arbitrary bytes, total length, offset and length never panics, and a plan
//!    stays inside the message;
//! 2. on a real message (unsigned or signed, built from the input), every planned read returns
//!    exactly the requested plaintext, opening only the planned segments; the same message cut
//!    at an arbitrary point never yields a successful read that reaches the end of its claimed
//!    plaintext, unless the cut is the whole message;
//! 3. `rewrap` with entries taken from the input keeps the authenticated part and the body byte for
//!    byte, and the rewrapped message opens to the same plaintext.

#![no_main]

use keyseal_format::ecdsa_p256::SignatureKeyPair;
use keyseal_format::{
    DataKey, EncryptionContext, EntryKind, Header, MessageId, RustCryptoEngine, SegmentOpener,
    WrappedKeyEntry, plan_range,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEY: [u8; 32] = [0x42; 32];
const SIGNING: [u8; 32] = [0x17; 32];

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fn entry(wrapped: &[u8]) -> WrappedKeyEntry {
    WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "fuzz".into(),
        key_id: "fuzz/key".into(),
        wrapped: if wrapped.is_empty() {
            vec![0]
        } else {
            wrapped.to_vec()
        },
    }
}

/// The signing key and both headers (unsigned, signed), made once per process.
fn fixed() -> &'static (SignatureKeyPair, Header, Header) {
    static FIXED: OnceLock<(SignatureKeyPair, Header, Header)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let dek = DataKey::from_bytes(&KEY).expect("key");
        let mid = || MessageId::assume_unique_for_key([9; 32]);
        let ctx = EncryptionContext::from_pairs([("tenant", "fuzz")]).expect("context");
        let key = SignatureKeyPair::from_secret_scalar(&SIGNING).expect("signing key");
        let plain =
            keyseal_format::new_header(&dek, mid(), 64, ctx.clone(), vec![entry(b"w")]).expect("header");
        let ctx = keyseal_format::signed_context(&ctx, &key.public_sec1()).expect("signed context");
        let signed =
            keyseal_format::new_signed_header(&dek, mid(), 64, ctx, vec![entry(b"w")]).expect("header");
        (key, plain, signed)
    })
}

fn message(signed: bool, plaintext: &[u8]) -> Vec<u8> {
    let dek = DataKey::from_bytes(&KEY).expect("key");
    let (key, plain, signed_header) = fixed();
    if signed {
        keyseal_format::seal_signed(&RustCryptoEngine, &dek, signed_header, plaintext, key).expect("seal")
    } else {
        keyseal_format::seal(&RustCryptoEngine, &dek, plain, plaintext).expect("seal")
    }
}

/// Reads plaintext `offset .. offset + len` of `msg` (as a store of `total` bytes claims it) by its
/// plan alone; `None` when the plan or any planned segment fails.
fn read(msg: &[u8], total: u64, offset: u64, len: u64) -> Option<Vec<u8>> {
    let dek = DataKey::from_bytes(&KEY).ok()?;
    let (h, _) = Header::parse(msg).ok()?;
    let plan = plan_range(msg, total, offset, len).ok()?;
    assert!(
        plan.fetch.start >= plan.header_len && plan.fetch.end <= total,
        "fetch outside the message"
    );
    assert!(plan.segments.end <= plan.layout.segment_count());
    let fetched = msg.get(plan.fetch.start as usize..plan.fetch.end as usize)?;
    let opener = SegmentOpener::new(&RustCryptoEngine, &h, &dek).ok()?;
    let mut out = vec![0u8; (plan.plaintext.end - plan.plaintext.start) as usize];
    for k in plan.segments.clone() {
        let r = plan.fetched_range(k);
        let pt = opener
            .open_segment(&plan.layout, k, &fetched[r.start as usize..r.end as usize])
            .ok()?;
        let (at, within) = plan.placement(k);
        out[at as usize..at as usize + (within.end - within.start) as usize]
            .copy_from_slice(&pt[within.start as usize..within.end as usize]);
    }
    Some(out)
}

/// True for about one input in 256: FNV-1a of the whole input, so a mutation of a chosen input is
/// itself chosen only by chance.
fn one_in_256(data: &[u8]) -> bool {
    let h = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h >> 56 == 0
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (offset, len) = (u64_at(data, 1), u64_at(data, 9) % 4096);
    let rest = &data[17..];

    // 1. Arbitrary bytes as a message.
    let _ = read(
        rest,
        u64_at(data, 5) % (rest.len() as u64 + 200),
        offset % 8192,
        len,
    );

    // 2. A real message, signed for one input in 256, chosen by a hash of the whole input: ECDSA
    // under the fuzzer's instrumentation costs as much as thousands of unsigned runs, and a flag
    // byte would let the corpus fill with signed inputs (their coverage is new).
    let signed = one_in_256(data);
    let plaintext = rest;
    let msg = message(signed, plaintext);
    let total = msg.len() as u64;
    let offset = offset % (plaintext.len() as u64 + 70);
    let got = read(&msg, total, offset, len).expect("a planned read of a real message");
    let end = (offset + len).min(plaintext.len() as u64);
    let want = if offset < end {
        &plaintext[offset as usize..end as usize]
    } else {
        &[][..]
    };
    assert_eq!(got, want, "range {offset}+{len}");

    // ...cut at an arbitrary point: a read that reaches the end of what it believes is the
    // plaintext must fail, whatever the cut.
    let cut = (u64_at(data, 3) % total) as usize;
    let short = &msg[..cut];
    if let Ok((h, hl)) = Header::parse(short) {
        let _ = h;
        if let Ok(plan) = plan_range(short, cut as u64, 0, u64::MAX) {
            assert!(
                read(short, cut as u64, 0, u64::MAX).is_none(),
                "a message cut to {cut} of {total} bytes read to its end (header {hl}, plan {plan:?})"
            );
        }
    }

    // 3. Rewrap with entries from the input.
    let entries: Vec<WrappedKeyEntry> = rest.chunks(40).take(16).map(entry).collect();
    if entries.is_empty() {
        return;
    }
    let r = keyseal_format::rewrap(&msg, entries.clone()).expect("rewrap of a real message");
    let (h, hl) = Header::parse(&msg).expect("header");
    let auth_len = u32::from_be_bytes(msg[7..11].try_into().expect("4 bytes")) as usize;
    assert_eq!(
        &r.header[..auth_len],
        &msg[..auth_len],
        "authenticated part changed"
    );
    assert_eq!(r.body_offset, hl);
    let mut moved = r.header.clone();
    moved.extend_from_slice(&msg[r.body_offset..]);
    let (h2, _) = Header::parse(&moved).expect("rewrapped header");
    assert_eq!(h2.entries(), entries.as_slice());
    assert_eq!(h2.auth_hash(), h.auth_hash());
    let dek = DataKey::from_bytes(&KEY).expect("key");
    let (_, again) = keyseal_format::open(&RustCryptoEngine, &dek, &moved, &EncryptionContext::new())
        .expect("the rewrapped message opens");
    assert_eq!(again, plaintext);
});
