//! The format and its cryptography behind wasm-bindgen and nothing else: what the `.wasm` of a
//! package would weigh if the SDK policy ran in JS (docs/DESIGN.md "Package size: the designs
//! measured"). Each export is one format operation a JS policy layer would call: seal and open a
//! message under a data key it holds, rebuild a header with new entries, and open a key service's
//! sealed answer (HPKE) from a Diffie-Hellman value or, with `p256-fallback`, with the wasm
//! P-256. Not shipped and not an API: `make bench` only measures its size.

#[cfg(target_arch = "wasm32")]
mod exports {
    use keyseal_format::hpke_p256::{self, SealedKey};
    use keyseal_format::{
        DataKey, EncryptionContext, EntryKind, MessageId, RustCryptoEngine, WrappedKeyEntry,
    };
    use wasm_bindgen::prelude::*;

    fn err(e: keyseal_format::Error) -> JsError {
        JsError::new(match e {
            keyseal_format::Error::DecryptionFailed => "DECRYPTION_FAILED",
            _ => "FORMAT",
        })
    }

    fn context(pairs: Vec<String>) -> Result<EncryptionContext, JsError> {
        EncryptionContext::from_pairs(pairs.chunks(2).map(|p| (p[0].clone(), p[1].clone()))).map_err(err)
    }

    /// `names` = [kind, key service id, key id].
    fn entry(names: Vec<String>, wrapped: Vec<u8>) -> Result<WrappedKeyEntry, JsError> {
        let [kind, key_service_id, key_id]: [String; 3] =
            names.try_into().map_err(|_| JsError::new("FORMAT"))?;
        let kind = EntryKind::from_name(&kind).ok_or_else(|| JsError::new("FORMAT"))?;
        Ok(WrappedKeyEntry {
            kind,
            key_service_id,
            key_id,
            wrapped,
        })
    }

    /// Seals `plaintext` under `dek` with one wrapped-key entry (`entry_names`: kind, key service id, key id).
    #[wasm_bindgen]
    pub fn seal(
        dek: &[u8],
        context_pairs: Vec<String>,
        entry_names: Vec<String>,
        wrapped: Vec<u8>,
        segment_size: u32,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, JsError> {
        let dek = DataKey::from_bytes(dek).map_err(err)?;
        let header = keyseal_format::new_header(
            &dek,
            MessageId::random().map_err(err)?,
            segment_size,
            context(context_pairs)?,
            vec![entry(entry_names, wrapped)?],
        )
        .map_err(err)?;
        keyseal_format::seal(&RustCryptoEngine, &dek, &header, plaintext).map_err(err)
    }

    /// Opens `sealed` under `dek`, requiring the context pairs.
    #[wasm_bindgen]
    pub fn open(dek: &[u8], sealed: &[u8], required_pairs: Vec<String>) -> Result<Vec<u8>, JsError> {
        let dek = DataKey::from_bytes(dek).map_err(err)?;
        let (_, pt) =
            keyseal_format::open(&RustCryptoEngine, &dek, sealed, &context(required_pairs)?).map_err(err)?;
        Ok(pt)
    }

    /// The header of `sealed_prefix` with its entries replaced by one new entry (header-only rotation).
    #[wasm_bindgen]
    pub fn rewrap(
        sealed_prefix: &[u8],
        entry_names: Vec<String>,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, JsError> {
        let r = keyseal_format::rewrap(sealed_prefix, vec![entry(entry_names, wrapped)?]).map_err(err)?;
        Ok(r.header)
    }

    /// Opens a key service's sealed data key from a platform's Diffie-Hellman value.
    #[wasm_bindgen]
    pub fn open_answer_with_dh(
        dh: &[u8],
        recipient: &[u8],
        enc: Vec<u8>,
        ciphertext: Vec<u8>,
    ) -> Result<Vec<u8>, JsError> {
        let dh: &[u8; 32] = dh.try_into().map_err(|_| JsError::new("FORMAT"))?;
        let recipient = hpke_p256::sec1_array(recipient).map_err(err)?;
        let dek = hpke_p256::open_from_sender_with_dh(dh, recipient, &SealedKey { enc, ciphertext })
            .map_err(err)?;
        Ok(dek.expose_secret().to_vec())
    }

    /// With the wasm P-256: a recipient key pair (secret scalar ‖ public key), its ECDH with a
    /// sealed answer, and ECDSA verification of the signed suite.
    #[cfg(feature = "p256-fallback")]
    #[wasm_bindgen]
    pub fn open_answer(secret: &[u8], enc: Vec<u8>, ciphertext: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let secret: &[u8; 32] = secret.try_into().map_err(|_| JsError::new("FORMAT"))?;
        let pair = hpke_p256::RecipientKeyPair::from_secret_scalar(secret).map_err(err)?;
        let dek = hpke_p256::open_from_sender(&pair, &SealedKey { enc, ciphertext }).map_err(err)?;
        Ok(dek.expose_secret().to_vec())
    }

    /// A fresh recipient key: secret scalar ‖ uncompressed public key.
    #[cfg(feature = "p256-fallback")]
    #[wasm_bindgen]
    pub fn recipient_key() -> Result<Vec<u8>, JsError> {
        let pair = hpke_p256::RecipientKeyPair::try_generate().map_err(err)?;
        let mut out = pair.secret_scalar().to_vec();
        out.extend_from_slice(&pair.public_sec1());
        Ok(out)
    }

    /// ECDSA P-256 verification (the signed suite's trailer).
    #[cfg(feature = "p256-fallback")]
    #[wasm_bindgen]
    pub fn verify(public_sec1: &[u8], message: &[u8], signature: &[u8]) -> bool {
        keyseal_format::ecdsa_p256::verify(public_sec1, message, signature).is_ok()
    }
}
