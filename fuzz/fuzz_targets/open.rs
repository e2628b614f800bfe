//! Opening arbitrary bytes must never panic and never return plaintext that did not
//! authenticate.
//!
//! The first input byte picks the chunk sizes for streaming; the rest is used three ways:
//! 1. as a whole message, through `keyseal_format::open` with a fixed data key;
//! 2. as the body of a header made for that key (so the key commitment checks and the segment
//!    code is reached), opened whole and streamed through `SegmentOpener` in arbitrary chunks;
//! 3. as a plaintext, sealed under that header, then streamed back in arbitrary chunks, and
//!    with one bit flipped (which must fail).
//!
//! Any `Ok` in 1 and 2 must be a real message: sealing its plaintext again under the same header
//! and key (deterministic) must give back the very bytes that were opened.

#![no_main]

use keyseal_format::ecdsa_p256::SignatureKeyPair;
use keyseal_format::{
    DataKey, EncryptionContext, EntryKind, Header, MessageId, RustCryptoEngine, SegmentOpener,
    WrappedKeyEntry,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEY: [u8; 32] = [0x42; 32];
/// The smallest segment size, so short inputs still span several segments.
const SEGMENT_SIZE: u32 = 64;

/// The unsigned header of paths 2 and 3, made once per process.
fn header(dek: &DataKey) -> &'static Header {
    static HEADER: OnceLock<Header> = OnceLock::new();
    HEADER.get_or_init(|| unsigned_header(dek))
}

fn unsigned_header(dek: &DataKey) -> Header {
    let entry = WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "fuzz".into(),
        key_id: "fuzz/key".into(),
        wrapped: vec![1],
    };
    keyseal_format::new_header(
        dek,
        MessageId::assume_unique_for_key([7; 32]),
        SEGMENT_SIZE,
        EncryptionContext::new(),
        vec![entry],
    )
    .expect("a fixed, valid header")
}

/// Chunk sizes from 1 to 256 bytes, varying with `seed` and from chunk to chunk.
fn chunks(seed: u8, mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut size = usize::from(seed) + 1;
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let (chunk, rest) = data.split_at(size.min(data.len()));
        data = rest;
        size = (size * 7 + 3) % 256 + 1;
        Some(chunk)
    })
}

/// Streams `body` through a `SegmentOpener` in chunks; `None` if opening failed at any point.
fn stream_open(header: &Header, dek: &DataKey, seed: u8, body: &[u8]) -> Option<Vec<u8>> {
    let mut opener = SegmentOpener::new(&RustCryptoEngine, header, dek).ok()?;
    let mut out = Vec::new();
    for chunk in chunks(seed, body) {
        opener.push(chunk, &mut out).ok()?;
    }
    opener.finish(&mut out).ok()?;
    Some(out)
}

/// The signing key and the signed header of path 4, made once per process.
fn signed() -> &'static (SignatureKeyPair, Header) {
    static SIGNED: OnceLock<(SignatureKeyPair, Header)> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let dek = DataKey::from_bytes(&KEY).expect("32-byte key");
        let key = SignatureKeyPair::from_secret_scalar(&[0x17; 32]).expect("signing key");
        let ctx =
            keyseal_format::signed_context(&EncryptionContext::new(), &key.public_sec1()).expect("context");
        let entry = WrappedKeyEntry {
            kind: EntryKind::Kms,
            key_service_id: "fuzz".into(),
            key_id: "fuzz/key".into(),
            wrapped: vec![1],
        };
        let h = keyseal_format::new_signed_header(
            &dek,
            MessageId::assume_unique_for_key([7; 32]),
            SEGMENT_SIZE,
            ctx,
            vec![entry],
        )
        .expect("signed header");
        (key, h)
    })
}

fn seal_body(header: &Header, dek: &DataKey, plaintext: &[u8]) -> Vec<u8> {
    let sealed = keyseal_format::seal(&RustCryptoEngine, dek, header, plaintext).expect("sealing");
    sealed[header.encoded_len()..].to_vec()
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
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let dek = DataKey::from_bytes(&KEY).expect("32-byte key");
    let engine = RustCryptoEngine;

    // 1. The input as a whole message. (A signed message cannot be resealed without its
    // signing key; it opened only if its signature verified.)
    if let Ok((h, plaintext)) = keyseal_format::open(&engine, &dek, rest, &EncryptionContext::new())
        && h.suite() == keyseal_format::Suite::Aead
    {
        let again = keyseal_format::seal(&engine, &dek, &h, &plaintext).expect("resealing");
        assert_eq!(
            again.as_slice(),
            rest,
            "open returned a message that is not what it sealed to"
        );
    }

    // 2. The input as the body of a header made for this key.
    let h = header(&dek);
    let whole = keyseal_format::open_body(&engine, &dek, h, rest).ok();
    let streamed = stream_open(h, &dek, seed, rest);
    assert_eq!(whole, streamed, "whole and streamed open disagree");
    if let Some(plaintext) = &whole {
        assert_eq!(
            seal_body(h, &dek, plaintext),
            rest,
            "opened a body that does not reseal to itself"
        );
    }

    // 3. The input as a plaintext: round trip in chunks, and a flipped bit must not open.
    let body = seal_body(h, &dek, rest);
    assert_eq!(
        stream_open(h, &dek, seed, &body).as_deref(),
        Some(rest),
        "round trip"
    );
    let mut tampered = body;
    let bit = (usize::from(seed) * 131 + rest.len() * 17) % (tampered.len() * 8);
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert!(
        keyseal_format::open_body(&engine, &dek, h, &tampered).is_err(),
        "tampered body opened"
    );
    assert!(
        stream_open(h, &dek, seed, &tampered).is_none(),
        "tampered body streamed"
    );

    // 4. Signed (suite 2): the same round trip, and a flipped bit anywhere after the header —
    // a segment or the signature — must not open, whole or streamed. ECDSA under the fuzzer's
    // instrumentation costs as much as thousands of unsigned runs, so one input in 256 takes this
    // path, chosen by a hash of the whole input (a flag byte would let the corpus fill with signed
    // inputs, whose coverage is new, and slow every later run); the key and header are made once.
    if !one_in_256(data) {
        return;
    }
    let (key, sh) = signed();
    let sealed = keyseal_format::seal_signed(&engine, &dek, sh, rest, key).expect("signed seal");
    let sbody = &sealed[sh.encoded_len()..];
    assert_eq!(
        stream_open(sh, &dek, seed, sbody).as_deref(),
        Some(rest),
        "signed round trip"
    );
    let mut tampered = sbody.to_vec();
    let bit = (usize::from(seed) * 97 + rest.len() * 13) % (tampered.len() * 8);
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert!(
        keyseal_format::open_body(&engine, &dek, sh, &tampered).is_err(),
        "tampered signed message opened"
    );
    assert!(
        stream_open(sh, &dek, seed, &tampered).is_none(),
        "tampered signed message streamed"
    );
});
