//! §7.2: the `kms` wrapped-key layout of `keyseal-kms`. Other services' wrapped keys are opaque;
//! this layout is read by the `keyseal-kms` server (which makes it) and by the SDK's client for
//! that kind of service, through its `KeyService` implementation only — never by SDK policy.

/// Format byte of the v1 layout.
pub const FORMAT_V1: u8 = 0x01;
/// Length of a v1 wrapped key: format(1) ‖ version(4) ‖ context hash(32) ‖ nonce(12) ‖ ct(32) ‖ tag(16).
pub const LEN_V1: usize = 1 + 4 + 32 + 12 + 32 + 16;
/// Where the sealed part (nonce ‖ ciphertext ‖ tag) starts.
pub const SEALED_OFFSET: usize = 37;

/// The key version a v1 wrapped key names in clear, or `None` when `wrapped` is not in the layout.
pub fn version(wrapped: &[u8]) -> Option<u32> {
    if wrapped.len() != LEN_V1 || wrapped[0] != FORMAT_V1 {
        return None;
    }
    Some(u32::from_be_bytes([
        wrapped[1], wrapped[2], wrapped[3], wrapped[4],
    ]))
}

/// The SHA-256 of the canonical context a v1 wrapped key is bound to (in clear, §7.3 step 3).
pub fn context_hash(wrapped: &[u8]) -> Option<&[u8; 32]> {
    version(wrapped)?;
    wrapped[5..SEALED_OFFSET].try_into().ok()
}
