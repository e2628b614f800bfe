//! The key schedule of FORMAT.md §5: commitment and payload key from the data key.

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Error;
use crate::data_key::{DataKey, PayloadKey};
use crate::header::{COMMITMENT_LEN, MessageId, Suite};

/// HKDF info label of the key commitment (FORMAT.md §5).
pub const COMMIT_LABEL: &[u8] = b"keyseal/v1 commit";
/// HKDF info label of the payload key (FORMAT.md §5).
pub const PAYLOAD_LABEL: &[u8] = b"keyseal/v1 payload";

fn prk(dek: &DataKey, message_id: &MessageId) -> Hkdf<Sha256> {
    Hkdf::<Sha256>::new(Some(message_id.as_bytes()), dek.expose_secret())
}

/// §5: `commitment = HKDF-Expand(PRK, "keyseal/v1 commit" ‖ suite, 32)`.
pub fn commitment(
    dek: &DataKey,
    suite: Suite,
    message_id: &MessageId,
) -> Result<[u8; COMMITMENT_LEN], Error> {
    let mut out = [0u8; COMMITMENT_LEN];
    prk(dek, message_id)
        .expand_multi_info(&[COMMIT_LABEL, &suite.id().to_be_bytes()], &mut out)
        .map_err(|_| Error::InvalidArgument {
            reason: "HKDF output length",
        })?;
    Ok(out)
}

/// §5: `payload_key = HKDF-Expand(PRK, "keyseal/v1 payload" ‖ suite ‖ SHA-256(auth part), 32)`.
pub fn payload_key(
    dek: &DataKey,
    suite: Suite,
    message_id: &MessageId,
    auth_hash: &[u8; 32],
) -> Result<PayloadKey, Error> {
    let mut key = PayloadKey([0u8; 32]);
    prk(dek, message_id)
        .expand_multi_info(&[PAYLOAD_LABEL, &suite.id().to_be_bytes(), auth_hash], &mut key.0)
        .map_err(|_| Error::InvalidArgument {
            reason: "HKDF output length",
        })?;
    Ok(key)
}

/// §6.1 step 3: recompute the commitment and compare in constant time. A mismatch is
/// [`Error::DecryptionFailed`], like every other authentication failure.
pub fn verify_commitment(
    dek: &DataKey,
    suite: Suite,
    message_id: &MessageId,
    expected: &[u8; COMMITMENT_LEN],
) -> Result<(), Error> {
    let got = commitment(dek, suite, message_id)?;
    if bool::from(got.ct_eq(expected)) {
        Ok(())
    } else {
        Err(Error::DecryptionFailed)
    }
}

/// §6.1 step 3 and §5 in one HKDF extract: checks `dek` against the header's commitment (a
/// mismatch is [`Error::DecryptionFailed`]) and derives the payload key — what a reader or writer
/// needs before the first segment.
pub fn committed_payload_key(
    dek: &DataKey,
    suite: Suite,
    message_id: &MessageId,
    expected: &[u8; COMMITMENT_LEN],
    auth_hash: &[u8; 32],
) -> Result<PayloadKey, Error> {
    let hk = prk(dek, message_id);
    let suite_id = suite.id().to_be_bytes();
    let mut got = [0u8; COMMITMENT_LEN];
    let mut key = PayloadKey([0u8; 32]);
    let len = |_| Error::InvalidArgument {
        reason: "HKDF output length",
    };
    hk.expand_multi_info(&[COMMIT_LABEL, &suite_id], &mut got)
        .map_err(len)?;
    if !bool::from(got.ct_eq(expected)) {
        return Err(Error::DecryptionFailed);
    }
    hk.expand_multi_info(&[PAYLOAD_LABEL, &suite_id, auth_hash], &mut key.0)
        .map_err(len)?;
    Ok(key)
}
