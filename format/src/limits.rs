//! The limits of FORMAT.md §8. A reader MUST reject a message beyond any of them.

/// Most context pairs.
pub const MAX_CONTEXT_PAIRS: usize = 64;
/// Longest context key, in bytes (keys are at least 1 byte).
pub const MAX_CONTEXT_KEY_LEN: usize = 256;
/// Longest context value, in bytes.
pub const MAX_CONTEXT_VALUE_LEN: usize = 4096;
/// Largest encoded context (the whole §3.3 encoding).
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;
/// Largest authenticated header part.
pub const MAX_AUTH_LEN: usize = 17 * 1024;
/// Fewest and most wrapped-key entries.
pub const MIN_ENTRIES: usize = 1;
/// Most wrapped-key entries.
pub const MAX_ENTRIES: usize = 16;
/// Longest key-service id (at least 1 byte).
pub const MAX_SERVICE_ID_LEN: usize = 255;
/// Longest key id (at least 1 byte).
pub const MAX_KEY_ID_LEN: usize = 1024;
/// Longest wrapped key (at least 1 byte).
pub const MAX_WRAPPED_LEN: usize = 8192;
/// Largest wrapped-key section after its length field.
pub const MAX_SECTION_LEN: usize =
    2 + MAX_ENTRIES * (1 + 1 + MAX_SERVICE_ID_LEN + 2 + MAX_KEY_ID_LEN + 2 + MAX_WRAPPED_LEN);
/// Smallest segment size in plaintext bytes.
pub const MIN_SEGMENT_SIZE: u32 = 64;
/// Largest segment size in plaintext bytes (16 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// Most segments in one message (the index is a u32; the last value is reserved).
pub const MAX_SEGMENTS: u64 = u32::MAX as u64;
/// The default segment size chosen by the SDK: 64 KiB, measured against 16 KiB, 256 KiB and 1 MiB
/// with both engines (DESIGN.md "Engines"). Changing it does not change the format.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
