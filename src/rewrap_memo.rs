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

use crate::cache::CacheConfig;
use crate::{EntryKind, WrappedKeyEntry};

/// What a `/rewrap` answer depends on.
#[derive(PartialEq, Eq)]
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
}

struct Remembered {
    service: usize,
    kind: EntryKind,
    key_id: String,
    wrapped: Vec<u8>,
    context: Vec<u8>,
    to: Option<String>,
    answer: Vec<u8>,
    at_ms: f64,
}

impl Remembered {
    fn answers(&self, q: &MemoKey<'_>) -> bool {
        self.service == q.service
            && self.kind == q.kind
            && self.key_id == q.key_id
            && self.wrapped == q.wrapped
            && self.context == q.context
            && self.to.as_deref() == q.to
    }
}

/// Recent `/rewrap` answers; see the module documentation.
pub(crate) struct RewrapMemo {
    config: CacheConfig,
    entries: VecDeque<Remembered>,
}

impl RewrapMemo {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Self {
            config,
            entries: VecDeque::new(),
        }
    }

    fn enabled(&self) -> bool {
        self.config.max_age_ms > 0.0 && self.config.max_entries > 0
    }

    /// The remembered answer to `q`, if it is younger than `max_age_ms`.
    pub(crate) fn get(&mut self, q: &MemoKey<'_>, now_ms: f64) -> Option<Vec<u8>> {
        let max_age = self.config.max_age_ms;
        self.entries.retain(|e| now_ms - e.at_ms < max_age);
        self.entries
            .iter()
            .find(|e| e.answers(q))
            .map(|e| e.answer.clone())
    }

    /// Remembers the service's answer to `q`.
    pub(crate) fn put(&mut self, q: &MemoKey<'_>, answer: &[u8], now_ms: f64) {
        if !self.enabled() {
            return;
        }
        while self.entries.len() >= self.config.max_entries {
            self.entries.pop_front();
        }
        self.entries.push_back(Remembered {
            service: q.service,
            kind: q.kind,
            key_id: q.key_id.into(),
            wrapped: q.wrapped.to_vec(),
            context: q.context.to_vec(),
            to: q.to.map(String::from),
            answer: answer.to_vec(),
            at_ms: now_ms,
        });
    }

    /// Forgets answers about `key_id` (as source or target), or all.
    pub(crate) fn purge(&mut self, key_id: Option<&str>) {
        match key_id {
            Some(id) => self
                .entries
                .retain(|e| e.key_id != id && e.to.as_deref() != Some(id)),
            None => self.entries.clear(),
        }
    }
}
