//! Whole messages for JS: sealed and opened on the engine the size calls for. A signed message
//! (suite 2, FORMAT.md §6.5) goes to the platform engine wherever the runtime has WebCrypto, which
//! then also makes the key pair, the segment digests and the signature (or checks it); elsewhere
//! (and with `engine: 'wasm'`) the SDK signs and verifies with the format's Rust ECDSA. Both give
//! signatures the other verifies.

use js_sys::Uint8Array;
use keyseal::format::signature::TRAILER_LEN;
use keyseal::{EncryptionContext, ExternalJob, Header, HeaderLength, Suite};
use wasm_bindgen::prelude::*;
use web_sys::SubtleCrypto;

use crate::core::{Shared, import_key};
use crate::errors::{decryption_failed, invalid, js_error};
use crate::platform::Platform;
use crate::segments::{open_body, seal_body};
use crate::signing::{PlatformChain, WebSigner, verify};

/// `encrypt`: the engine, then the SDK or the platform path.
pub(crate) async fn encrypt(
    s: &Shared,
    plaintext: &Uint8Array,
    ctx: &EncryptionContext,
    sign: bool,
) -> Result<JsValue, JsValue> {
    let len = u64::from(plaintext.length());
    if sign {
        return match s.engines.signing_platform() {
            Some((p, subtle)) => seal_platform(s, p, plaintext, ctx, Some(subtle)).await,
            None => {
                let out = s
                    .sdk
                    .encrypt_signed(&plaintext.to_vec(), ctx)
                    .await
                    .map_err(js_error)?;
                Ok(Uint8Array::from(&out[..]).into())
            }
        };
    }
    match s.engines.platform_for(Some(len)) {
        Some(p) => seal_platform(s, p, plaintext, ctx, None).await,
        None => {
            let out = s.sdk.encrypt(&plaintext.to_vec(), ctx).await.map_err(js_error)?;
            Ok(Uint8Array::from(&out[..]).into())
        }
    }
}

/// `decrypt`: a signed message on the platform where it can check the signature there.
pub(crate) async fn decrypt(
    s: &Shared,
    sealed: &Uint8Array,
    req: &EncryptionContext,
    require_signed: bool,
) -> Result<JsValue, JsValue> {
    // Routing needs only the suite bytes (§3.1); the header is parsed once, by whichever path opens.
    let signed = Suite::peek(&sealed.subarray(0, 7).to_vec()) == Some(Suite::Signed);
    let route = if signed {
        s.engines.signing_platform().map(|(p, subtle)| (p, Some(subtle)))
    } else {
        s.engines
            .platform_for(Some(u64::from(sealed.length())))
            .map(|p| (p, None))
    };
    match route {
        Some((p, subtle)) => {
            let head = crate::inspect::prefix(sealed);
            open_platform(s, p, sealed, &head, req, require_signed, subtle).await
        }
        None => {
            let (_, pt) = match require_signed {
                true => s.sdk.decrypt_signed(&sealed.to_vec(), req).await,
                false => s.sdk.decrypt(&sealed.to_vec(), req).await,
            }
            .map_err(js_error)?;
            Ok(Uint8Array::from(&pt[..]).into())
        }
    }
}

/// The signature chain of a signed job, fed by the platform's digests.
pub(crate) fn platform_chain(job: &mut ExternalJob, subtle: Option<&SubtleCrypto>) -> Option<PlatformChain> {
    let chain = job.signature.take()?;
    subtle.map(|subtle| PlatformChain {
        subtle: subtle.clone(),
        chain,
    })
}

/// Whole-message seal on a platform engine: header, every segment, and for a signed message
/// (`subtle` given) the signature, into one new array.
async fn seal_platform(
    s: &Shared,
    platform: &Platform,
    plaintext: &Uint8Array,
    ctx: &EncryptionContext,
    subtle: Option<SubtleCrypto>,
) -> Result<JsValue, JsValue> {
    let len = u64::from(plaintext.length());
    let signer = match &subtle {
        Some(sc) => Some(WebSigner::generate(sc).await?),
        None => None,
    };
    let vk = signer.as_ref().map(|k| *k.public_sec1());
    let mut job = s
        .sdk
        .prepare_external_encrypt(ctx, Some(len), vk.as_ref())
        .await
        .map_err(js_error)?;
    let r = async {
        let layout = job.layout.ok_or_else(|| invalid("layout"))?;
        let key = import_key(platform, &mut job).await?;
        let header_len = job.header.len() as u64;
        let trailer = if signer.is_some() { TRAILER_LEN as u64 } else { 0 };
        let out = Uint8Array::new_with_length((header_len + layout.body_len() + trailer) as u32);
        out.set(&Uint8Array::from(&job.header[..]), 0);
        let chain = platform_chain(&mut job, subtle.as_ref());
        let chain = seal_body(platform, &key, &layout, plaintext, &out, header_len, chain).await?;
        if let (Some(signer), Some(c)) = (&signer, chain) {
            let sig = signer.sign(&c.subtle, &c.chain).await?;
            out.set(&sig, (header_len + layout.body_len()) as u32);
        }
        Ok::<_, JsValue>(out)
    }
    .await;
    job.finish(r.is_ok(), len);
    r.map(Into::into)
}

/// Whole-message open on a platform engine: the SDK checks the header, the context, the length
/// and the commitment; a signed message's signature is checked before anything is returned.
async fn open_platform(
    s: &Shared,
    platform: &Platform,
    sealed: &Uint8Array,
    head: &[u8],
    req: &EncryptionContext,
    require_signed: bool,
    subtle: Option<SubtleCrypto>,
) -> Result<JsValue, JsValue> {
    let total = u64::from(sealed.length());
    let header_len = match Header::length_from_prefix(head) {
        Ok(HeaderLength::Complete(n)) if n as u64 <= total => n as u64,
        _ => total,
    };
    let mut job = s
        .sdk
        .prepare_external_decrypt(
            &head[..header_len.min(head.len() as u64) as usize],
            Some(total - header_len),
            req,
            require_signed,
        )
        .await
        .map_err(js_error)?;
    let r = async {
        let layout = job.layout.ok_or_else(|| invalid("layout"))?;
        let key = import_key(platform, &mut job).await?;
        let out = Uint8Array::new_with_length(layout.plaintext_len() as u32);
        let body_end = header_len + layout.body_len();
        let body = sealed.subarray(header_len as u32, body_end as u32);
        let vk = job.verification_key;
        let chain = platform_chain(&mut job, subtle.as_ref());
        let chain = open_body(platform, &key, &layout, &body, &out, chain).await?;
        if let (Some(c), Some(vk)) = (chain, vk) {
            let signature = sealed.subarray(body_end as u32, total as u32);
            if !verify(&c.subtle, &vk, &c.chain, &signature).await? {
                out.fill(0, 0, out.length());
                return Err(decryption_failed());
            }
        }
        Ok::<_, JsValue>(out)
    }
    .await;
    job.finish(r.is_ok(), total);
    r.map(Into::into)
}
