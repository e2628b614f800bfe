//! Low-level functions for test vectors and tools: seal and open with a caller-held data key, on
//! the wasm engine or WebCrypto (both give the same bytes). Data keys are the caller's duty.

use js_sys::{Promise, Reflect, Uint8Array};
use keyseal::{
    BodyLayout, DataKey, EncryptionContext, EntryKind, ExternalSegments, Header, MessageId, RustCryptoEngine,
    WrappedKeyEntry,
};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::context_from;
use crate::engine::low_level_platform;
use crate::errors::{decryption_failed, invalid, invalid_value, js_error};
use crate::globals::subtle;
use crate::segments::{open_body, seal_body};
use crate::signing::{PlatformChain, verify};
use keyseal::format::ecdsa_p256::SignatureKeyPair;
use keyseal::format::signature::{SignatureChain, TRAILER_LEN};

/// One entry as the vectors write it (FORMAT.md §10): `wrapped` in hex.
#[derive(Deserialize)]
struct EntryOption {
    kind: String,
    key_service_id: String,
    key_id: String,
    wrapped: String,
}

fn unhex(s: &str) -> Result<Vec<u8>, JsValue> {
    if !s.len().is_multiple_of(2) {
        return Err(invalid("odd hex length"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| invalid("bad hex")))
        .collect()
}

fn from_js<T: for<'de> Deserialize<'de>>(v: JsValue, what: &str) -> Result<T, JsValue> {
    T::deserialize(serde_wasm_bindgen::Deserializer::from(v)).map_err(|e| invalid_value(what, &e.to_string()))
}

fn header_of(
    dek: &DataKey,
    message_id: &[u8],
    segment_size: u32,
    context: JsValue,
    entries: JsValue,
    signed: bool,
) -> Result<Header, JsValue> {
    let mid: [u8; 32] = message_id
        .try_into()
        .map_err(|_| invalid("message id is 32 bytes"))?;
    let pairs: Vec<(String, String)> = from_js(context, "contextPairs")?;
    let ctx = EncryptionContext::from_pairs(pairs).map_err(js_error)?;
    let list: Vec<EntryOption> = from_js(entries, "entries")?;
    let entries = list
        .into_iter()
        .map(|e| {
            Ok(WrappedKeyEntry {
                kind: EntryKind::from_name(&e.kind).unwrap_or(EntryKind::Unknown(0x7f)),
                key_service_id: e.key_service_id,
                key_id: e.key_id,
                wrapped: unhex(&e.wrapped)?,
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let mid = MessageId::assume_unique_for_key(mid);
    match signed {
        true => keyseal::new_signed_header(dek, mid, segment_size, ctx, entries),
        false => keyseal::new_header(dek, mid, segment_size, ctx, entries),
    }
    .map_err(js_error)
}

/// `options.signingSecret`: the signing key of a suite-2 vector (hex of its 32-byte scalar).
fn signing_key(options: &JsValue) -> Result<Option<SignatureKeyPair>, JsValue> {
    let v = Reflect::get(options, &"signingSecret".into()).unwrap_or(JsValue::UNDEFINED);
    let Some(hex) = v.as_string() else {
        return Ok(None);
    };
    let secret: [u8; 32] = unhex(&hex)?
        .try_into()
        .map_err(|_| invalid("signingSecret is 32 bytes"))?;
    SignatureKeyPair::from_secret_scalar(&secret)
        .map(Some)
        .map_err(js_error)
}

/// Seals with a caller-held data key and a caller-chosen message id, which the caller MUST never
/// reuse with that key (test vectors, engine byte-identity checks). `context_pairs`: an array of
/// `[key, value]`; `entries`: an array of `{ kind, key_service_id, key_id, wrapped (hex) }`;
/// `options.engine`: `wasm` (default) or `webcrypto`; `options.signingSecret` (hex) makes a signed
/// message (suite 2) whose context already holds that key's verification key, signed
/// deterministically (RFC 6979) with either engine.
#[wasm_bindgen(js_name = sealWithDataKeyAssumingUniqueMessageId)]
pub fn seal_with_data_key(
    data_key: &[u8],
    message_id: &[u8],
    segment_size: u32,
    context_pairs: JsValue,
    entries: JsValue,
    plaintext: Uint8Array,
    options: JsValue,
) -> Result<Promise, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(js_error)?;
    let signer = signing_key(&options)?;
    let header = header_of(
        &dek,
        message_id,
        segment_size,
        context_pairs,
        entries,
        signer.is_some(),
    )?;
    let platform = low_level_platform(&options)?;
    let Some(platform) = platform else {
        let out = match &signer {
            Some(key) => keyseal::seal_signed(&RustCryptoEngine, &dek, &header, &plaintext.to_vec(), key),
            None => keyseal::seal(&RustCryptoEngine, &dek, &header, &plaintext.to_vec()),
        }
        .map_err(js_error)?;
        let out: JsValue = Uint8Array::from(&out[..]).into();
        return Ok(Promise::resolve(&out));
    };
    let mut segs = ExternalSegments::for_seal(&header, &dek).map_err(js_error)?;
    let layout = BodyLayout::for_plaintext(segment_size, u64::from(plaintext.length())).map_err(js_error)?;
    let head = header.encode();
    let chain = signer.is_some().then(|| SignatureChain::new(header.auth_hash()));
    Ok(future_to_promise(async move {
        let key = segs.take_key().ok_or_else(|| invalid("payload key"))?;
        let key = platform.import(&key).await?;
        let trailer = if signer.is_some() { TRAILER_LEN as u64 } else { 0 };
        let out = Uint8Array::new_with_length((head.len() as u64 + layout.body_len() + trailer) as u32);
        out.set(&Uint8Array::from(&head[..]), 0);
        let chain = match chain {
            Some(chain) => Some(PlatformChain {
                subtle: subtle().ok_or_else(|| invalid("engine 'webcrypto' needs crypto.subtle"))?,
                chain,
            }),
            None => None,
        };
        let chain = seal_body(
            &platform,
            &key,
            &layout,
            &plaintext,
            &out,
            head.len() as u64,
            chain,
        )
        .await?;
        if let (Some(key), Some(c)) = (&signer, chain) {
            let sig = c.chain.sign(key);
            out.set(
                &Uint8Array::from(&sig[..]),
                (head.len() as u64 + layout.body_len()) as u32,
            );
        }
        Ok(out.into())
    }))
}

/// Opens `sealed` with a data key the caller already holds (test vectors, tools), checking
/// `options.requireContext` and the key commitment first; `options.engine`: `wasm` or `webcrypto`.
#[wasm_bindgen(js_name = openWithDataKey)]
pub fn open_with_data_key(sealed: Uint8Array, data_key: &[u8], options: JsValue) -> Result<Promise, JsValue> {
    let dek = DataKey::from_bytes(data_key).map_err(js_error)?;
    let req = context_from(
        Reflect::get(&options, &"requireContext".into()).unwrap_or(JsValue::UNDEFINED),
        "requireContext",
    )?;
    let Some(platform) = low_level_platform(&options)? else {
        let (_, pt) = keyseal::open(&RustCryptoEngine, &dek, &sealed.to_vec(), &req).map_err(js_error)?;
        let pt: JsValue = Uint8Array::from(&pt[..]).into();
        return Ok(Promise::resolve(&pt));
    };
    let head = crate::inspect::prefix(&sealed);
    let (header, n) = Header::parse(&head).map_err(js_error)?;
    header.context().require(&req).map_err(js_error)?;
    let mut segs = ExternalSegments::for_open(&header, &dek).map_err(js_error)?;
    let total = sealed.length();
    let layout = BodyLayout::for_message(&header, u64::from(total) - n as u64).map_err(js_error)?;
    let signed = header
        .verification_key()
        .map(|vk| (*vk, SignatureChain::new(header.auth_hash())));
    Ok(future_to_promise(async move {
        let key = segs.take_key().ok_or_else(|| invalid("payload key"))?;
        let key = platform.import(&key).await?;
        let out = Uint8Array::new_with_length(layout.plaintext_len() as u32);
        let body_end = n as u32 + layout.body_len() as u32;
        let (vk, chain) = match signed {
            Some((vk, chain)) => (
                Some(vk),
                Some(PlatformChain {
                    subtle: subtle().ok_or_else(|| invalid("engine 'webcrypto' needs crypto.subtle"))?,
                    chain,
                }),
            ),
            None => (None, None),
        };
        let chain = open_body(
            &platform,
            &key,
            &layout,
            &sealed.subarray(n as u32, body_end),
            &out,
            chain,
        )
        .await?;
        if let (Some(vk), Some(c)) = (vk, chain) {
            let sig = sealed.subarray(body_end, total);
            if !verify(&c.subtle, &vk, &c.chain, &sig).await? {
                out.fill(0, 0, out.length());
                return Err(decryption_failed());
            }
        }
        Ok(out.into())
    }))
}

/// The verification key (FORMAT.md §3.4 context value: base64 of the SEC1 public key) of a signing
/// key given as the hex of its 32-byte scalar, for tools and tests that build signed messages.
#[wasm_bindgen(js_name = verificationKey)]
pub fn verification_key(signing_secret: &str) -> Result<String, JsValue> {
    let secret: [u8; 32] = unhex(signing_secret)?
        .try_into()
        .map_err(|_| invalid("a signing secret is 32 bytes"))?;
    let key = SignatureKeyPair::from_secret_scalar(&secret).map_err(js_error)?;
    Ok(keyseal::format::signature::encode_verification_key(
        &key.public_sec1(),
    ))
}
