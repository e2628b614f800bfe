//! Data-key caches (DESIGN.md "Caches"). Encrypt: reuse a generated data key for the same
//! key id and context within `max_age_ms`, `max_messages`, `max_bytes` (every message still gets its
//! own payload key from its random message id, FORMAT.md §5). Decrypt: remember unwrapped data keys
//! by wrapped key within `max_age_ms`. Both purge per key id, at once on `KEY_DISABLED`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::WrappedKeyEntry;
use crate::data_key::DataKey;

/// Cache limits. `max_age_ms == 0` disables caching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheConfig {
    /// Longest a data key is used after it was generated or unwrapped. Also bounds how long a
    /// revoked key can go on working in this process.
    pub max_age_ms: f64,
    /// Most messages encrypted under one cached data key.
    pub max_messages: u64,
    /// Most plaintext bytes encrypted under one cached data key.
    pub max_bytes: u64,
    /// Most cached keys per cache (oldest evicted first).
    pub max_entries: usize,
}

impl Default for CacheConfig {
    /// 60 s, 10,000 messages, 1 GiB, 1,000 keys (DESIGN.md "SDK defaults").
    fn default() -> Self {
        Self {
            max_age_ms: 60_000.0,
            max_messages: 10_000,
            max_bytes: 1 << 30,
            max_entries: 1000,
        }
    }
}

impl CacheConfig {
    /// No caching.
    pub fn disabled() -> Self {
        Self {
            max_age_ms: 0.0,
            max_messages: 0,
            max_bytes: 0,
            max_entries: 0,
        }
    }
    fn enabled(&self) -> bool {
        self.max_age_ms > 0.0 && self.max_entries > 0
    }
}

struct EncEntry {
    dek: DataKey,
    entries: Vec<WrappedKeyEntry>,
    created_ms: f64,
    messages: u64,
    bytes: u64,
}

/// (primary key id, canonical context)
type EncKey = (String, Vec<u8>);
/// (service id, key id, wrapped key, canonical context)
type DecKey = (String, String, Vec<u8>, Vec<u8>);

/// Both caches.
pub struct DataKeyCache {
    config: CacheConfig,
    enc: BTreeMap<EncKey, EncEntry>,
    dec: BTreeMap<DecKey, (DataKey, f64)>,
}

impl DataKeyCache {
    /// An empty cache with these limits.
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            enc: BTreeMap::new(),
            dec: BTreeMap::new(),
        }
    }

    /// A data key and its entries for one more message of `len` bytes, if one is cached and
    /// within every limit; counts the use.
    pub fn take_for_encrypt(
        &mut self,
        key_id: &str,
        context: &[u8],
        len: u64,
        now_ms: f64,
    ) -> Option<(DataKey, Vec<WrappedKeyEntry>)> {
        if !self.config.enabled() {
            return None;
        }
        let k = (String::from(key_id), context.to_vec());
        let e = self.enc.get_mut(&k)?;
        let fresh = now_ms - e.created_ms < self.config.max_age_ms;
        if !fresh
            || e.messages + 1 > self.config.max_messages
            || e.bytes.saturating_add(len) > self.config.max_bytes
        {
            self.enc.remove(&k);
            return None;
        }
        e.messages += 1;
        e.bytes += len;
        Some((e.dek.clone_secret(), e.entries.clone()))
    }

    /// Caches a freshly generated data key that was just used for one message of `len` bytes.
    pub fn put_for_encrypt(
        &mut self,
        key_id: &str,
        context: &[u8],
        dek: &DataKey,
        entries: &[WrappedKeyEntry],
        len: u64,
        now_ms: f64,
    ) {
        if !self.config.enabled() || len > self.config.max_bytes {
            return;
        }
        if self.enc.len() >= self.config.max_entries
            && let Some(oldest) = self
                .enc
                .iter()
                .min_by(|a, b| a.1.created_ms.total_cmp(&b.1.created_ms))
                .map(|(k, _)| k.clone())
        {
            self.enc.remove(&oldest);
        }
        self.enc.insert(
            (key_id.into(), context.to_vec()),
            EncEntry {
                dek: dek.clone_secret(),
                entries: entries.to_vec(),
                created_ms: now_ms,
                messages: 1,
                bytes: len,
            },
        );
    }

    /// A cached unwrapped data key for this entry, if fresh.
    pub fn get_for_decrypt(
        &mut self,
        entry: &WrappedKeyEntry,
        context: &[u8],
        now_ms: f64,
    ) -> Option<DataKey> {
        if !self.config.enabled() {
            return None;
        }
        let k = (
            entry.key_service_id.clone(),
            entry.key_id.clone(),
            entry.wrapped.clone(),
            context.to_vec(),
        );
        let (dek, at) = self.dec.get(&k)?;
        if now_ms - at < self.config.max_age_ms {
            return Some(dek.clone_secret());
        }
        self.dec.remove(&k);
        None
    }

    /// Remembers an unwrapped data key.
    pub fn put_for_decrypt(&mut self, entry: &WrappedKeyEntry, context: &[u8], dek: &DataKey, now_ms: f64) {
        if !self.config.enabled() {
            return;
        }
        if self.dec.len() >= self.config.max_entries
            && let Some(oldest) = self
                .dec
                .iter()
                .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
                .map(|(k, _)| k.clone())
        {
            self.dec.remove(&oldest);
        }
        let k = (
            entry.key_service_id.clone(),
            entry.key_id.clone(),
            entry.wrapped.clone(),
            context.to_vec(),
        );
        self.dec.insert(k, (dek.clone_secret(), now_ms));
    }

    /// Drops every cached key of `key_id` (every key when `None`); returns how many.
    pub fn purge(&mut self, key_id: Option<&str>) -> usize {
        let before = self.len();
        match key_id {
            None => {
                self.enc.clear();
                self.dec.clear();
            }
            Some(id) => {
                self.enc
                    .retain(|k, e| k.0 != id && !e.entries.iter().any(|x| x.key_id == id));
                self.dec.retain(|k, _| k.1 != id);
            }
        }
        before - self.len()
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.enc.len() + self.dec.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
