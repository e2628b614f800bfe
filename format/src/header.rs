//! Header encode and parse (FORMAT.md §3 and §4). Parsing never panics and never allocates from a
//! length it has not checked against both a limit and the bytes actually present.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::context::EncryptionContext;
use crate::entry::{EntryKind, WrappedKeyEntry};
use crate::limits::*;

/// The four magic bytes every message starts with (FORMAT.md §3.1).
pub const MAGIC: [u8; 4] = [0x89, b'K', b'S', b'L'];
/// Format version 1.
pub const VERSION_1: u8 = 1;
/// Suite 1: AES-256-GCM, HKDF-SHA256, key commitment, STREAM segments (FORMAT.md §2).
pub const SUITE_1: u16 = 0x0001;
/// Suite 2: suite 1 plus an ECDSA P-256 signature (FORMAT.md §2, §6.5).
pub const SUITE_2: u16 = 0x0002;

/// The algorithm suites of FORMAT.md §2.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Suite {
    /// `0x0001`: AES-256-GCM, HKDF-SHA256, key commitment, STREAM segments.
    Aead,
    /// `0x0002`: suite 1 plus a per-message ECDSA P-256 signature (§6.5).
    Signed,
}

impl Suite {
    /// The suite id in the header.
    pub fn id(self) -> u16 {
        match self {
            Self::Aead => SUITE_1,
            Self::Signed => SUITE_2,
        }
    }

    /// The suite of an id; any other is [`Error::UnsupportedSuite`].
    pub fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            SUITE_1 => Ok(Self::Aead),
            SUITE_2 => Ok(Self::Signed),
            other => Err(Error::UnsupportedSuite(other)),
        }
    }

    /// The suite a message's first bytes name (§3.1: bytes 5–6), when its magic and version are
    /// right; `None` otherwise. For routing only: nothing is validated beyond those bytes, and the
    /// reader still parses the header.
    pub fn peek(prefix: &[u8]) -> Option<Self> {
        match prefix {
            [m0, m1, m2, m3, VERSION_1, hi, lo, ..] if [*m0, *m1, *m2, *m3] == MAGIC => {
                Self::from_id(u16::from_be_bytes([*hi, *lo])).ok()
            }
            _ => None,
        }
    }

    /// Bytes after the body: the signature of suite 2, nothing for suite 1.
    pub fn trailer_len(self) -> usize {
        match self {
            Self::Aead => 0,
            Self::Signed => crate::signature::TRAILER_LEN,
        }
    }
}
/// Length of the fixed prefix of the authenticated part: magic, version, suite, `auth_len`.
pub const PREFIX_LEN: usize = 11;
/// Length of a message id.
pub const MESSAGE_ID_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Smallest possible authenticated part (empty context).
pub const MIN_AUTH_LEN: usize = PREFIX_LEN + MESSAGE_ID_LEN + 4 + 2 + COMMITMENT_LEN;

/// The 32-byte random message id, the HKDF salt of the key schedule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MessageId([u8; MESSAGE_ID_LEN]);

impl MessageId {
    /// Draws a fresh random message id.
    pub fn random() -> Result<Self, Error> {
        let mut id = [0u8; MESSAGE_ID_LEN];
        getrandom::fill(&mut id).map_err(|_| Error::RandomUnavailable)?;
        Ok(Self(id))
    }

    /// Uses caller-chosen bytes. The caller MUST ensure they are never reused with the same data
    /// key (test vectors and engine byte-identity checks only).
    pub fn assume_unique_for_key(bytes: [u8; MESSAGE_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.0
    }
}

/// A parsed or newly built header.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Header {
    suite: Suite,
    verification_key: Option<[u8; crate::ecdsa_p256::PUBLIC_KEY_LEN]>,
    message_id: MessageId,
    segment_size: u32,
    context: EncryptionContext,
    commitment: [u8; COMMITMENT_LEN],
    entries: Vec<WrappedKeyEntry>,
    auth_hash: [u8; 32],
}

/// How much of a header is present in a prefix of a message (FORMAT.md §4.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HeaderLength {
    /// At least this many bytes from the start are needed to learn more.
    NeedAtLeast(usize),
    /// The whole header is this long; the body starts at this offset.
    Complete(usize),
}

impl Header {
    /// Builds a header for a new message. Computes nothing secret: the commitment comes from the
    /// key schedule.
    pub(crate) fn new(
        suite: Suite,
        message_id: MessageId,
        segment_size: u32,
        context: EncryptionContext,
        commitment: [u8; COMMITMENT_LEN],
        entries: Vec<WrappedKeyEntry>,
    ) -> Result<Self, Error> {
        check_segment_size(segment_size)?;
        context.check_limits()?;
        check_entries(&entries)?;
        let verification_key = verification_key_of(suite, &context)?;
        let mut h = Self {
            suite,
            verification_key,
            message_id,
            segment_size,
            context,
            commitment,
            entries,
            auth_hash: [0; 32],
        };
        h.auth_hash = Sha256::digest(h.encode_auth()).into();
        Ok(h)
    }

    /// The algorithm suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// The verification key of a signed message (suite 2, §3.4): uncompressed SEC1.
    pub fn verification_key(&self) -> Option<&[u8; crate::ecdsa_p256::PUBLIC_KEY_LEN]> {
        self.verification_key.as_ref()
    }
    /// The message id.
    pub fn message_id(&self) -> &MessageId {
        &self.message_id
    }
    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }
    /// The encryption context.
    pub fn context(&self) -> &EncryptionContext {
        &self.context
    }
    /// The key commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }
    /// The wrapped-key entries, in order.
    pub fn entries(&self) -> &[WrappedKeyEntry] {
        &self.entries
    }
    /// SHA-256 of the authenticated part (FORMAT.md §5).
    pub fn auth_hash(&self) -> &[u8; 32] {
        &self.auth_hash
    }

    /// FORMAT.md §5: whether `dek` is this message's data key (constant-time commitment check).
    /// Another key is [`Error::DecryptionFailed`].
    pub fn check_data_key(&self, dek: &crate::DataKey) -> Result<(), Error> {
        crate::key_schedule::verify_commitment(dek, self.suite, &self.message_id, &self.commitment)
    }

    /// The same header with its wrapped-key section replaced (rewrap, FORMAT.md §4.4). The
    /// authenticated part, and so the body, stay valid.
    pub fn with_entries(&self, entries: Vec<WrappedKeyEntry>) -> Result<Self, Error> {
        check_entries(&entries)?;
        let mut h = self.clone();
        h.entries = entries;
        Ok(h)
    }

    fn encode_auth(&self) -> Vec<u8> {
        let auth_len = MIN_AUTH_LEN - 2 + self.context.encoded_len();
        let mut out = Vec::with_capacity(auth_len);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION_1);
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&(auth_len as u32).to_be_bytes());
        out.extend_from_slice(&self.message_id.0);
        out.extend_from_slice(&self.segment_size.to_be_bytes());
        self.context.encode_into(&mut out);
        out.extend_from_slice(&self.commitment);
        debug_assert_eq!(out.len(), auth_len);
        out
    }

    /// The header's bytes: authenticated part then wrapped-key section.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_auth();
        let section_len: usize = 2 + self
            .entries
            .iter()
            .map(|e| 1 + 1 + e.key_service_id.len() + 2 + e.key_id.len() + 2 + e.wrapped.len())
            .sum::<usize>();
        out.reserve(4 + section_len);
        out.extend_from_slice(&(section_len as u32).to_be_bytes());
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for e in &self.entries {
            out.push(e.kind.to_byte());
            out.push(e.key_service_id.len() as u8);
            out.extend_from_slice(e.key_service_id.as_bytes());
            out.extend_from_slice(&(e.key_id.len() as u16).to_be_bytes());
            out.extend_from_slice(e.key_id.as_bytes());
            out.extend_from_slice(&(e.wrapped.len() as u16).to_be_bytes());
            out.extend_from_slice(&e.wrapped);
        }
        out
    }

    /// Length of the encoded header, i.e. the body offset.
    pub fn encoded_len(&self) -> usize {
        MIN_AUTH_LEN - 2
            + self.context.encoded_len()
            + 4
            + 2
            + self
                .entries
                .iter()
                .map(|e| 1 + 1 + e.key_service_id.len() + 2 + e.key_id.len() + 2 + e.wrapped.len())
                .sum::<usize>()
    }

    /// FORMAT.md §4.3: how long the header is, from any prefix of a message. Lets a store fetch
    /// exactly the header by range. Errors as soon as the prefix shows the message is invalid.
    pub fn length_from_prefix(prefix: &[u8]) -> Result<HeaderLength, Error> {
        if prefix.len() < PREFIX_LEN {
            check_prefix_so_far(prefix)?;
            return Ok(HeaderLength::NeedAtLeast(PREFIX_LEN));
        }
        let auth_len = check_prefix(prefix)?;
        if prefix.len() < auth_len + 4 {
            return Ok(HeaderLength::NeedAtLeast(auth_len + 4));
        }
        let section_len = read_u32(prefix, auth_len) as usize;
        if !(2..=MAX_SECTION_LEN).contains(&section_len) {
            return Err(Error::limit("wrapped-key section length"));
        }
        Ok(HeaderLength::Complete(auth_len + 4 + section_len))
    }

    /// Parses a header from the start of `bytes` (which may hold more: the body). Returns the
    /// header and the body offset. Implements every MUST of FORMAT.md §3–§4 and §8.
    pub fn parse(bytes: &[u8]) -> Result<(Self, usize), Error> {
        let total = match Self::length_from_prefix(bytes)? {
            HeaderLength::Complete(n) if n <= bytes.len() => n,
            _ => return Err(Error::format("truncated header")),
        };
        let auth_len = read_u32(bytes, 7) as usize;
        let auth = &bytes[..auth_len];
        let mut r = Reader::new(auth, PREFIX_LEN);
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        message_id.copy_from_slice(r.take(MESSAGE_ID_LEN)?);
        let segment_size = r.u32()?;
        check_segment_size(segment_size)?;
        // §8: the limit is on the whole §3.3 encoding, pair count included (as writers count it).
        let ctx_start = r.pos;
        let pair_count = r.u16()? as usize;
        if pair_count > MAX_CONTEXT_PAIRS {
            return Err(Error::limit("context pair count"));
        }
        let mut map = BTreeMap::new();
        let mut prev: Option<&[u8]> = None;
        for _ in 0..pair_count {
            let klen = r.u16()? as usize;
            if klen == 0 {
                return Err(Error::format("empty context key"));
            }
            if klen > MAX_CONTEXT_KEY_LEN {
                return Err(Error::limit("context key length"));
            }
            let k = r.take(klen)?;
            let vlen = r.u16()? as usize;
            if vlen > MAX_CONTEXT_VALUE_LEN {
                return Err(Error::limit("context value length"));
            }
            let v = r.take(vlen)?;
            if let Some(p) = prev
                && p >= k
            {
                return Err(Error::format("context keys not sorted and unique"));
            }
            prev = Some(k);
            let k = core::str::from_utf8(k).map_err(|_| Error::format("context key not UTF-8"))?;
            let v = core::str::from_utf8(v).map_err(|_| Error::format("context value not UTF-8"))?;
            map.insert(String::from(k), String::from(v));
        }
        if r.pos - ctx_start > MAX_CONTEXT_BYTES {
            return Err(Error::limit("context size"));
        }
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(r.take(COMMITMENT_LEN)?);
        if r.pos != auth_len {
            return Err(Error::format("authenticated part length mismatch"));
        }

        // Wrapped-key section (§4.2).
        let mut r = Reader::new(&bytes[..total], auth_len + 4);
        let count = r.u16()? as usize;
        if count < MIN_ENTRIES {
            return Err(Error::format("no wrapped-key entries"));
        }
        if count > MAX_ENTRIES {
            return Err(Error::limit("wrapped-key entry count"));
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = EntryKind::from_byte(r.u8()?)?;
            let slen = r.u8()? as usize;
            if slen == 0 {
                return Err(Error::format("empty key service id"));
            }
            let sid =
                core::str::from_utf8(r.take(slen)?).map_err(|_| Error::format("key service id not UTF-8"))?;
            let klen = r.u16()? as usize;
            if klen == 0 || klen > MAX_KEY_ID_LEN {
                return Err(Error::limit("key id length"));
            }
            let kid = core::str::from_utf8(r.take(klen)?).map_err(|_| Error::format("key id not UTF-8"))?;
            let wlen = r.u16()? as usize;
            if wlen == 0 || wlen > MAX_WRAPPED_LEN {
                return Err(Error::limit("wrapped key length"));
            }
            if kind == EntryKind::HpkeP256 && wlen != crate::hpke_p256::ENTRY_LEN {
                return Err(Error::format("hpke-p256 entry has the wrong length"));
            }
            let wrapped = r.take(wlen)?.to_vec();
            entries.push(WrappedKeyEntry {
                kind,
                key_service_id: sid.into(),
                key_id: kid.into(),
                wrapped,
            });
        }
        if r.pos != total {
            return Err(Error::format("wrapped-key section length mismatch"));
        }
        let suite = Suite::from_id(u16::from_be_bytes([bytes[5], bytes[6]]))?;
        let context = EncryptionContext::from_sorted_map(map);
        let verification_key = verification_key_of(suite, &context)?;
        let header = Self {
            suite,
            verification_key,
            message_id: MessageId(message_id),
            segment_size,
            context,
            commitment,
            entries,
            auth_hash: Sha256::digest(auth).into(),
        };
        Ok((header, total))
    }
}

/// §3.4: a suite-2 header carries a valid verification key in its context; a suite-1 header none.
fn verification_key_of(
    suite: Suite,
    context: &EncryptionContext,
) -> Result<Option<[u8; crate::ecdsa_p256::PUBLIC_KEY_LEN]>, Error> {
    let value = context.get(crate::signature::VERIFICATION_KEY_CONTEXT_KEY);
    match (suite, value) {
        (Suite::Aead, None) => Ok(None),
        (Suite::Aead, Some(_)) => Err(Error::format("a verification key in an unsigned message")),
        (Suite::Signed, None) => Err(Error::format("a signed message without a verification key")),
        (Suite::Signed, Some(v)) => {
            crate::signature::decode_verification_key(v)
                .map(Some)
                .ok_or(Error::format(
                    "the verification key is not a P-256 point in base64",
                ))
        }
    }
}

fn check_prefix_so_far(prefix: &[u8]) -> Result<(), Error> {
    let n = prefix.len().min(4);
    if prefix[..n] != MAGIC[..n] {
        return Err(Error::format("not a keyseal message (bad magic)"));
    }
    if prefix.len() > 4 && prefix[4] != VERSION_1 {
        return Err(Error::UnsupportedVersion(prefix[4]));
    }
    Ok(())
}

/// Checks magic, version, suite and `auth_len` (§3.1); returns `auth_len`.
fn check_prefix(prefix: &[u8]) -> Result<usize, Error> {
    check_prefix_so_far(&prefix[..5])?;
    Suite::from_id(u16::from_be_bytes([prefix[5], prefix[6]]))?;
    let auth_len = read_u32(prefix, 7) as usize;
    if auth_len < MIN_AUTH_LEN {
        return Err(Error::format("authenticated part too short"));
    }
    if auth_len > MAX_AUTH_LEN {
        return Err(Error::limit("authenticated part length"));
    }
    Ok(auth_len)
}

/// FORMAT.md §8: a segment size must be 64 … 16 MiB.
pub fn check_segment_size(s: u32) -> Result<(), Error> {
    if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&s) {
        return Err(Error::limit(
            "segment size must be 64 … 16777216 bytes (FORMAT.md §8)",
        ));
    }
    Ok(())
}

fn check_entries(entries: &[WrappedKeyEntry]) -> Result<(), Error> {
    if entries.is_empty() {
        return Err(Error::invalid("at least one wrapped-key entry is required"));
    }
    if entries.len() > MAX_ENTRIES {
        return Err(Error::limit("wrapped-key entry count"));
    }
    entries.iter().try_for_each(WrappedKeyEntry::check)
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A bounds-checked cursor: every read checks the bytes are present first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Error::format("length field points past the end of the header"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}
