//! The rewrap memo (DESIGN.md "Streams and rotation"). Messages sealed through one cached data
//! key share its wrapped key, so rotating many objects would ask the key service the same
//! question once per object. The memo keeps each `/rewrap` answer for the data-key cache's
//! `max_age_ms`, keyed by everything the answer depends on (service, entry kind, key id, wrapped
//! bytes, context, target), bounded by `max_entries` (oldest first out), and is purged with the
//! caches, at once on `KEY_DISABLED`, and emptied by `KeySeal::newest_version` (the start of a
//! rotation run, so a later run never gets an answer made for an older key version). It holds
//! wrapped keys only, never a data key. With the cache disabled (`max_age_ms == 0`) it holds
//! nothing: every rewrap asks the service.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::cache::CacheConfig;
use crate::{EntryKind, WrappedKeyEntry};

/// What a `/rewrap` answer depends on.
pub(crate) struct MemoKey<'a> {
    /// Index of the key service in the SDK's configuration.
    pub service: usize,
    /// Kind of the entry being rewrapped.
    pub kind: EntryKind,
    /// Key id of the entry.
    pub key_id: &'a str,
    /// The entry's wrapped key.
    pub wrapped: &'a [u8],
    /// The message's encoded context (bound into the wrapped key by the service).
    pub context: &'a [u8],
    /// Target key id, when not the entry's own key.
    pub to: Option<&'a str>,
}

impl<'a> MemoKey<'a> {
    /// The question for entry `e` of a message whose encoded context is `context`.
    pub(crate) fn of(service: usize, e: &'a WrappedKeyEntry, context: &'a [u8], to: Option<&'a str>) -> Self {
        Self {
            service,
            kind: e.kind,
            key_id: &e.key_id,
            wrapped: &e.wrapped,
            context,
            to,
        }
    }

    /// The question as one fixed-size key: SHA-256 over its fields, each length-prefixed, so
    /// lookups are logarithmic however many questions a rotation run asks (a linear scan made a
    /// run over N objects cost O(N²) comparisons).
    pub(crate) fn digest(&self) -> QuestionDigest {
        let mut h = Sha256::new();
        h.update((self.service as u64).to_be_bytes());
        h.update([self.kind.to_byte()]);
        for field in [self.key_id.as_bytes(), self.wrapped, self.context] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        match self.to {
            Some(to) => {
                h.update([1]);
                h.update(to.as_bytes());
            }
            None => h.update([0]),
        }
        h.finalize().into()
    }
}

/// [`MemoKey::digest`]: a question's identity in maps.
pub(crate) type QuestionDigest = [u8; 32];

/// A map from question digests to numbers, as a sorted `Vec` searched by halving: logarithmic
/// lookups at the size of a rotation batch or the memo (at most the cache's `max_entries`),
/// without the code a `BTreeMap` instance adds to the wasm (about 3 KB gzip, measured).
#[derive(Default)]
pub(crate) struct DigestIndex(Vec<(QuestionDigest, usize)>);

impl DigestIndex {
    fn find(&self, d: &QuestionDigest) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(d))
    }

    /// The number stored for `d`.
    pub(crate) fn get(&self, d: &QuestionDigest) -> Option<usize> {
        self.find(d).ok().map(|i| self.0[i].1)
    }

    /// Stores `n` for `d`, replacing any number it had.
    pub(crate) fn insert(&mut self, d: QuestionDigest, n: usize) {
        match self.find(&d) {
            Ok(i) => self.0[i].1 = n,
            Err(i) => self.0.insert(i, (d, n)),
        }
    }

    fn remove(&mut self, d: &QuestionDigest) {
        if let Ok(i) = self.find(d) {
            self.0.remove(i);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

struct Remembered {
    digest: QuestionDigest,
    key_id: String,
    to: Option<String>,
    answer: Vec<u8>,
    at_ms: f64,
}

/// Recent `/rewrap` answers; see the module documentation. The answers sit in insertion order
/// (oldest first: what is evicted when full, and where expiry starts); `index` finds the live one
/// of a question by its number, `seq`, which is `first_seq` + its place in `slots`. A slot that
/// was replaced by a newer answer or purged is `None` or no longer indexed, and is dropped when
/// it comes up.
pub(crate) struct RewrapMemo {
    config: CacheConfig,
    index: DigestIndex,
    slots: VecDeque<Option<Remembered>>,
    first_seq: usize,
}

impl RewrapMemo {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Self {
            config,
            index: DigestIndex::default(),
            slots: VecDeque::new(),
            first_seq: 0,
        }
    }

    fn enabled(&self) -> bool {
        self.config.max_age_ms > 0.0 && self.config.max_entries > 0
    }

    /// Drops the oldest slot, and its index entry if that still points at it.
    fn pop_oldest(&mut self) {
        let seq = self.first_seq;
        if let Some(slot) = self.slots.pop_front() {
            self.first_seq += 1;
            if let Some(r) = slot
                && self.index.get(&r.digest) == Some(seq)
            {
                self.index.remove(&r.digest);
            }
        }
    }

    fn slot(&self, seq: usize) -> Option<&Remembered> {
        self.slots.get(seq - self.first_seq)?.as_ref()
    }

    /// The remembered answer to the question with digest `d` ([`MemoKey::digest`]), if it is
    /// younger than `max_age_ms`.
    pub(crate) fn get(&mut self, d: &QuestionDigest, now_ms: f64) -> Option<Vec<u8>> {
        let max_age = self.config.max_age_ms;
        while let Some(front) = self.slots.front() {
            match front {
                Some(r) if now_ms - r.at_ms < max_age => break,
                _ => self.pop_oldest(),
            }
        }
        let seq = self.index.get(d)?;
        self.slot(seq)
            .filter(|r| now_ms - r.at_ms < max_age)
            .map(|r| r.answer.clone())
    }

    /// Remembers the service's answer to the question with digest `d`, which rewraps an entry
    /// of `key_id` to `to` (kept to purge by key).
    pub(crate) fn put(
        &mut self,
        d: QuestionDigest,
        key_id: &str,
        to: Option<&str>,
        answer: &[u8],
        now_ms: f64,
    ) {
        if !self.enabled() {
            return;
        }
        while self.index.len() >= self.config.max_entries
            && self.index.get(&d).is_none()
            && !self.slots.is_empty()
        {
            self.pop_oldest();
        }
        let seq = self.first_seq + self.slots.len();
        self.slots.push_back(Some(Remembered {
            digest: d,
            key_id: key_id.into(),
            to: to.map(String::from),
            answer: answer.to_vec(),
            at_ms: now_ms,
        }));
        self.index.insert(d, seq);
    }

    /// Forgets answers about `key_id` (as source or target), or all.
    pub(crate) fn purge(&mut self, key_id: Option<&str>) {
        let Some(id) = key_id else {
            self.index.0.clear();
            self.first_seq += self.slots.len();
            self.slots.clear();
            return;
        };
        for slot in self.slots.iter_mut() {
            if slot
                .as_ref()
                .is_some_and(|r| r.key_id == id || r.to.as_deref() == Some(id))
                && let Some(r) = slot.take()
            {
                self.index.remove(&r.digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> WrappedKeyEntry {
        WrappedKeyEntry {
            kind: EntryKind::Kms,
            key_service_id: "acme".into(),
            key_id: "acme/k".into(),
            wrapped: alloc::vec![n; 40],
        }
    }

    fn put(m: &mut RewrapMemo, q: &MemoKey<'_>, answer: &[u8], now_ms: f64) {
        m.put(q.digest(), q.key_id, q.to, answer, now_ms);
    }

    fn get(m: &mut RewrapMemo, q: &MemoKey<'_>, now_ms: f64) -> Option<Vec<u8>> {
        m.get(&q.digest(), now_ms)
    }

    fn memo(max_entries: usize) -> RewrapMemo {
        RewrapMemo::new(CacheConfig {
            max_age_ms: 1000.0,
            max_entries,
            ..CacheConfig::default()
        })
    }

    #[test]
    fn every_field_of_the_question_tells_answers_apart() {
        let (a, b) = (entry(1), entry(2));
        let base = MemoKey::of(0, &a, b"ctx", None);
        let variants = [
            MemoKey::of(1, &a, b"ctx", None),
            MemoKey::of(0, &b, b"ctx", None),
            MemoKey::of(0, &a, b"ctx2", None),
            MemoKey::of(0, &a, b"ctx", Some("acme/k")),
            MemoKey {
                kind: EntryKind::Kacls,
                ..MemoKey::of(0, &a, b"ctx", None)
            },
            MemoKey {
                key_id: "acme/j",
                ..MemoKey::of(0, &a, b"ctx", None)
            },
        ];
        for v in &variants {
            assert_ne!(v.digest(), base.digest());
        }
        // length prefixes: ("acme/k1", 1×40) and ("acme/k", "1" ‖ 1×40) concatenate to the
        // same bytes but are different questions
        let c = WrappedKeyEntry {
            key_id: "acme/k1".into(),
            ..entry(1)
        };
        let d = WrappedKeyEntry {
            key_id: "acme/k".into(),
            wrapped: [&b"1"[..], &entry(1).wrapped].concat(),
            ..entry(1)
        };
        assert_ne!(
            MemoKey::of(0, &c, b"", None).digest(),
            MemoKey::of(0, &d, b"", None).digest()
        );
        assert_eq!(base.digest(), MemoKey::of(0, &entry(1), b"ctx", None).digest());
    }

    #[test]
    fn bounded_oldest_out_expiring_and_purged_by_key() {
        let es: Vec<WrappedKeyEntry> = (0..4).map(entry).collect();
        let q = |i: usize| MemoKey::of(0, &es[i], b"ctx", None);
        let mut m = memo(2);
        put(&mut m, &q(0), b"a0", 0.0);
        put(&mut m, &q(1), b"a1", 1.0);
        // answering the same question again replaces it and evicts nothing
        put(&mut m, &q(1), b"a1'", 2.0);
        assert_eq!(get(&mut m, &q(0), 3.0).as_deref(), Some(&b"a0"[..]));
        assert_eq!(get(&mut m, &q(1), 3.0).as_deref(), Some(&b"a1'"[..]));
        put(&mut m, &q(2), b"a2", 4.0);
        assert_eq!(get(&mut m, &q(0), 5.0), None, "oldest out");
        assert!(get(&mut m, &q(1), 5.0).is_some() && get(&mut m, &q(2), 5.0).is_some());
        assert_eq!(get(&mut m, &q(1), 1002.0), None, "older than max_age_ms");
        assert!(get(&mut m, &q(2), 1002.0).is_some());
        let other = WrappedKeyEntry {
            key_id: "acme/other".into(),
            ..entry(3)
        };
        put(&mut m, &MemoKey::of(0, &other, b"ctx", None), b"o", 1003.0);
        m.purge(Some("acme/k"));
        assert_eq!(get(&mut m, &q(2), 1004.0), None);
        assert!(get(&mut m, &MemoKey::of(0, &other, b"ctx", None), 1004.0).is_some());
        m.purge(None);
        assert!(m.index.0.is_empty() && m.slots.is_empty());
    }

    #[test]
    fn disabled_remembers_nothing() {
        let e = entry(1);
        let mut m = memo(0);
        put(&mut m, &MemoKey::of(0, &e, b"ctx", None), b"a", 0.0);
        assert_eq!(get(&mut m, &MemoKey::of(0, &e, b"ctx", None), 0.0), None);
    }
}
