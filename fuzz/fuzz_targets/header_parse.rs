//! Header parsing on arbitrary bytes: `Header::length_from_prefix` and `Header::parse` must never
//! panic, must agree with each other, and a parsed header must re-encode to exactly the bytes it
//! came from and parse back to an equal header.

#![no_main]

use keyseal_format::{Header, HeaderLength};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let length = Header::length_from_prefix(data);
    let Ok((header, offset)) = Header::parse(data) else {
        return;
    };

    // §4.3: the length read from the prefix is the body offset `parse` returns.
    assert_eq!(length, Ok(HeaderLength::Complete(offset)));
    assert!(offset <= data.len());

    // Every shorter prefix of a valid header is "need more" (pointing no further than the
    // header's end) or already knows the exact length; it is never an error.
    for cut in 0..offset {
        match Header::length_from_prefix(&data[..cut]) {
            Ok(HeaderLength::NeedAtLeast(n)) => assert!(n > cut && n <= offset, "cut {cut}: need {n}"),
            Ok(HeaderLength::Complete(n)) => assert_eq!(n, offset, "cut {cut}"),
            Err(e) => panic!("prefix of a valid header rejected at {cut}: {e}"),
        }
    }

    // Re-encoding: the format has one encoding per header, and it parses back to the same value.
    let encoded = header.encode();
    assert_eq!(encoded.len(), header.encoded_len());
    assert_eq!(
        encoded.as_slice(),
        &data[..offset],
        "re-encoding differs from the input"
    );
    let (again, again_offset) = Header::parse(&encoded).expect("a re-encoded header must parse");
    assert_eq!(again, header);
    assert_eq!(again_offset, encoded.len());
});
