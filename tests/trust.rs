//! The decrypt policy against the attacks it stops (SECURITY.md): an `hpke-p256` entry anyone can
//! make from a key's public key, an entry under a key id this reader was not configured for, and a
//! cached data key that does not match the message. Each would succeed without the policy.
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;

mod common;
use common::block_on;

use keyseal::hpke_p256::{RecipientKeyPair, open_entry, seal_entry};
use keyseal::{
    CacheConfig, Clock, DataKey, DecryptPolicy, EncryptionContext, EntryKind, Error, GeneratedKey, KeySeal,
    KeySealConfig, KeyService, LocalBoxFuture, MessageId, Observer, PublicKeyInfo, RustCryptoEngine,
    ServiceBinding, WrappedKeyEntry,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Frozen;
impl Clock for Frozen {
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        0.0
    }
    fn sleep(&self, _: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// A key service that opens `hpke-p256` entries with its key pair and `kms` entries whose wrapped
/// bytes are the data key itself, and records every unwrap it is asked for (key id).
struct Recorder {
    kp: RecipientKeyPair,
    unwraps: RefCell<Vec<String>>,
}

impl KeyService for Recorder {
    fn id(&self) -> &str {
        "acme"
    }
    fn generate<'a>(
        &'a self,
        _: &'a str,
        _: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async { unreachable!("readers do not generate") })
    }
    fn wrap<'a>(
        &'a self,
        _: &'a str,
        _: &'a DataKey,
        _: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async { unreachable!("readers do not wrap") })
    }
    fn unwrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        self.unwraps.borrow_mut().push(key_id.into());
        Box::pin(async move {
            match kind {
                EntryKind::HpkeP256 => Ok(open_entry(&self.kp.secret_scalar(), key_id, wrapped, context)?),
                _ => Ok(DataKey::from_bytes(wrapped)?),
            }
        })
    }
    fn rewrap<'a>(
        &'a self,
        _: EntryKind,
        _: &'a str,
        _: &'a [u8],
        _: &'a EncryptionContext,
        _: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async { unreachable!() })
    }
    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version: 1,
                public_sec1: self.kp.public_sec1().to_vec(),
            })
        })
    }
}

fn reader(service: Rc<Recorder>, policy: DecryptPolicy) -> KeySeal {
    let mut config = KeySealConfig::new(vec![ServiceBinding {
        service,
        key_id: "acme/default".into(),
    }]);
    config.decrypt = policy;
    config.cache = CacheConfig::default();
    KeySeal::new(config, Rc::new(Frozen), Rc::new(Observer::default())).unwrap()
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("object", "payroll")]).unwrap()
}

fn message(dek: &DataKey, entries: Vec<WrappedKeyEntry>, plaintext: &[u8]) -> Vec<u8> {
    let h = keyseal::new_header(dek, MessageId::random().unwrap(), 1024, ctx(), entries).unwrap();
    keyseal::seal(&RustCryptoEngine, dek, &h, plaintext).unwrap()
}

fn no_usable_entry(r: Result<(keyseal::Header, Vec<u8>), Error>) -> String {
    match r {
        Err(Error::NoUsableEntry { detail }) => detail,
        other => panic!("expected NO_USABLE_ENTRY, got {:?}", other.map(|(_, p)| p)),
    }
}

#[test]
fn a_public_key_forgery_is_refused_unless_the_reader_opted_in() {
    let svc = Rc::new(Recorder {
        kp: RecipientKeyPair::generate(),
        unwraps: RefCell::default(),
    });
    // The attacker needs only the public key (GET /keys/acme/default/public, no token).
    let forged_dek = DataKey::generate().unwrap();
    let entry = WrappedKeyEntry {
        kind: EntryKind::HpkeP256,
        key_service_id: "acme".into(),
        key_id: "acme/default".into(),
        wrapped: seal_entry(&svc.kp.public_sec1(), "acme/default", 1, &ctx(), &forged_dek).unwrap(),
    };
    let forged = message(&forged_dek, vec![entry], b"pay the attacker");

    let strict = reader(svc.clone(), DecryptPolicy::default());
    let detail = no_usable_entry(block_on(strict.decrypt(&forged, &ctx())));
    assert!(
        detail.contains("public-key (hpke-p256) entries not accepted"),
        "{detail}"
    );
    assert!(
        svc.unwraps.borrow().is_empty(),
        "no key-service call for a refused entry"
    );

    let opted_in = reader(
        svc.clone(),
        DecryptPolicy {
            accept_public_key_entries: true,
            ..DecryptPolicy::default()
        },
    );
    let (_, pt) = block_on(opted_in.decrypt(&forged, &ctx())).unwrap();
    assert_eq!(pt, b"pay the attacker", "public-key mode authenticates no sender");
}

#[test]
fn an_entry_under_another_key_id_is_skipped_without_a_call() {
    let svc = Rc::new(Recorder {
        kp: RecipientKeyPair::generate(),
        unwraps: RefCell::default(),
    });
    let dek = DataKey::generate().unwrap();
    let entry = WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "acme".into(),
        key_id: "acme/other".into(),
        wrapped: dek.expose_secret().to_vec(),
    };
    let sealed = message(&dek, vec![entry], b"x");
    let strict = reader(svc.clone(), DecryptPolicy::default());
    let detail = no_usable_entry(block_on(strict.decrypt(&sealed, &ctx())));
    assert!(
        detail.contains("acme:acme/other (kms): key id not allowed")
            && detail.contains("knows key services [acme]"),
        "{detail}"
    );
    assert!(svc.unwraps.borrow().is_empty());

    let allowed = reader(
        svc.clone(),
        DecryptPolicy {
            allow_key_ids: vec!["acme/*".into()],
            ..DecryptPolicy::default()
        },
    );
    assert_eq!(block_on(allowed.decrypt(&sealed, &ctx())).unwrap().1, b"x");
    assert_eq!(*svc.unwraps.borrow(), ["acme/other"]);
}

#[test]
fn an_unconfigured_service_is_named_in_the_error() {
    let svc = Rc::new(Recorder {
        kp: RecipientKeyPair::generate(),
        unwraps: RefCell::default(),
    });
    let dek = DataKey::generate().unwrap();
    let entry = WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "default".into(),
        key_id: "acme/default".into(),
        wrapped: dek.expose_secret().to_vec(),
    };
    let sealed = message(&dek, vec![entry], b"x");
    let detail = no_usable_entry(block_on(
        reader(svc, DecryptPolicy::default()).decrypt(&sealed, &ctx()),
    ));
    assert!(
        detail.contains("default:acme/default (kms): key service not configured"),
        "{detail}"
    );
}

#[test]
fn a_cached_key_that_does_not_match_moves_on_to_the_next_entry() {
    let svc = Rc::new(Recorder {
        kp: RecipientKeyPair::generate(),
        unwraps: RefCell::default(),
    });
    let ks = reader(svc.clone(), DecryptPolicy::default());
    let dek = DataKey::generate().unwrap();
    let good = |wrapped: Vec<u8>| WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "acme".into(),
        key_id: "acme/default".into(),
        wrapped,
    };
    // Message 1 puts (entry A → dek) in the decrypt cache.
    let a = good(dek.expose_secret().to_vec());
    let first = message(&dek, vec![a.clone()], b"first");
    block_on(ks.decrypt(&first, &ctx())).unwrap();
    // Message 2 is under another data key but lists entry A first (a stale or planted entry),
    // then its real entry B.
    let dek2 = DataKey::generate().unwrap();
    let b = good(dek2.expose_secret().to_vec());
    let second = message(&dek2, vec![a, b], b"second");
    assert_eq!(block_on(ks.decrypt(&second, &ctx())).unwrap().1, b"second");
}
