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

use keyseal_format::{
    DataKey, EncryptionContext, EntryKind, Header, MessageId, RustCryptoEngine, SegmentOpener,
    WrappedKeyEntry,
};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [0x42; 32];
/// The smallest segment size, so short inputs still span several segments.
const SEGMENT_SIZE: u32 = 64;

fn header(dek: &DataKey) -> Header {
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

fn seal_body(header: &Header, dek: &DataKey, plaintext: &[u8]) -> Vec<u8> {
    let sealed = keyseal_format::seal(&RustCryptoEngine, dek, header, plaintext).expect("sealing");
    sealed[header.encoded_len()..].to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let dek = DataKey::from_bytes(&KEY).expect("32-byte key");
    let engine = RustCryptoEngine;

    // 1. The input as a whole message.
    if let Ok((h, plaintext)) = keyseal_format::open(&engine, &dek, rest, &EncryptionContext::new()) {
        let again = keyseal_format::seal(&engine, &dek, &h, &plaintext).expect("resealing");
        assert_eq!(
            again.as_slice(),
            rest,
            "open returned a message that is not what it sealed to"
        );
    }

    // 2. The input as the body of a header made for this key.
    let h = header(&dek);
    let whole = keyseal_format::open_body(&engine, &dek, &h, rest).ok();
    let streamed = stream_open(&h, &dek, seed, rest);
    assert_eq!(whole, streamed, "whole and streamed open disagree");
    if let Some(plaintext) = &whole {
        assert_eq!(
            seal_body(&h, &dek, plaintext),
            rest,
            "opened a body that does not reseal to itself"
        );
    }

    // 3. The input as a plaintext: round trip in chunks, and a flipped bit must not open.
    let body = seal_body(&h, &dek, rest);
    assert_eq!(
        stream_open(&h, &dek, seed, &body).as_deref(),
        Some(rest),
        "round trip"
    );
    let mut tampered = body;
    let bit = (usize::from(seed) * 131 + rest.len() * 17) % (tampered.len() * 8);
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert!(
        keyseal_format::open_body(&engine, &dek, &h, &tampered).is_err(),
        "tampered body opened"
    );
    assert!(
        stream_open(&h, &dek, seed, &tampered).is_none(),
        "tampered body streamed"
    );
});
