//! Where a key operation gets its key material: straight from the store, or — for the items of
//! one `/rewrap-batch` — from loads shared by the whole batch: each (key, version) is opened once,
//! and the wraps of all items that target a key are counted in one transaction when the first of
//! them is wrapped (PROTOCOL.md §8.4). The batch is one request, so key states are read once for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::Result;
use crate::store::{Loaded, Store};

/// A load shared by the items of a batch (or the error each of them gets).
type Shared = Result<Rc<Loaded>>;

/// Key material for the items of one `/rewrap-batch`.
pub struct BatchKeys {
    /// Wraps still to come per target key: reserved at once by the first item of that target.
    pending: RefCell<HashMap<String, u32>>,
    reserved: RefCell<HashMap<String, Shared>>,
    loaded: RefCell<HashMap<(String, u32), Shared>>,
}

impl BatchKeys {
    /// For a batch whose items wrap under `targets` (one entry per item).
    pub fn new<'a>(targets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut pending = HashMap::new();
        for t in targets {
            *pending.entry(t.to_string()).or_insert(0u32) += 1;
        }
        Self {
            pending: RefCell::new(pending),
            reserved: RefCell::default(),
            loaded: RefCell::default(),
        }
    }
}

/// The source of key material of one operation.
#[derive(Clone, Copy)]
pub enum KeyLoads<'a> {
    /// A request of its own: every load and wrap goes to the store.
    Store(&'a Store),
    /// An item of a batch.
    Batch(&'a Store, &'a BatchKeys),
}

impl KeyLoads<'_> {
    /// Version `version` of `key_id` for opening (its state checked as [`Store::load`] does).
    pub fn load(&self, key_id: &str, version: u32) -> Result<Rc<Loaded>> {
        crate::otlp::time(crate::otlp::Phase::Store, || self.load_untimed(key_id, version))
    }

    fn load_untimed(&self, key_id: &str, version: u32) -> Result<Rc<Loaded>> {
        match self {
            Self::Store(store) => Ok(Rc::new(store.load(key_id, Some(version))?)),
            Self::Batch(store, b) => b
                .loaded
                .borrow_mut()
                .entry((key_id.to_string(), version))
                .or_insert_with(|| store.load(key_id, Some(version)).map(Rc::new).map_err(Into::into))
                .clone(),
        }
    }

    /// The primary version of `key_id` for one new wrap, counted (§8.4).
    pub fn reserve_wrap(&self, key_id: &str) -> Result<Rc<Loaded>> {
        crate::otlp::time(crate::otlp::Phase::Store, || self.reserve_wrap_untimed(key_id))
    }

    fn reserve_wrap_untimed(&self, key_id: &str) -> Result<Rc<Loaded>> {
        match self {
            Self::Store(store) => Ok(Rc::new(store.reserve_wrap(key_id)?)),
            Self::Batch(store, b) => b
                .reserved
                .borrow_mut()
                .entry(key_id.to_string())
                .or_insert_with(|| {
                    let n = b.pending.borrow_mut().remove(key_id).unwrap_or(1).max(1);
                    store.reserve_wraps(key_id, n).map(Rc::new).map_err(Into::into)
                })
                .clone(),
        }
    }
}
