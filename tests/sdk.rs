//! The SDK over the key-service trait: an in-memory key service drives a real envelope flow, and
//! `inspect` reads key versions only where the kind of service can tell them.
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::collections::HashMap;

mod common;
use common::block_on;

use keyseal::hpke_p256::RecipientKeyPair;
use keyseal::{
    DataKey, EncryptionContext, EntryKind, Error, GeneratedKey, Header, KeyService, KeyServiceErrorKind,
    LocalBoxFuture, MessageId, PublicKeyInfo, RustCryptoEngine, WrappedKeyEntry,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn entry(w: &[u8]) -> WrappedKeyEntry {
    WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "acme".into(),
        key_id: "acme/default".into(),
        wrapped: w.to_vec(),
    }
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("object", "o1")]).unwrap()
}

#[test]
fn generated_key_debug_shows_no_key_bytes() {
    let dek = DataKey::from_bytes(&[0xab; 32]).unwrap();
    let shown = format!(
        "{:?}",
        GeneratedKey {
            data_key: dek.clone_secret(),
            wrapped: vec![1]
        }
    );
    assert_eq!(shown.matches("ab").count(), 0, "{shown}");
}

/// An in-memory key service: wraps data keys by HPKE-sealing them to its own key pair, so the
/// trait is exercised end to end without a network.
struct MemoryKeyService {
    kp: RecipientKeyPair,
    disabled: RefCell<bool>,
    calls: RefCell<HashMap<&'static str, u32>>,
}

impl MemoryKeyService {
    fn count(&self, op: &'static str) {
        *self.calls.borrow_mut().entry(op).or_default() += 1;
    }
    fn check(&self) -> Result<(), Error> {
        if *self.disabled.borrow() {
            return Err(Error::key_service(
                KeyServiceErrorKind::KeyDisabled,
                "key disabled",
            ));
        }
        Ok(())
    }
}

impl KeyService for MemoryKeyService {
    fn id(&self) -> &str {
        "memory"
    }
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            self.count("generate");
            self.check()?;
            let data_key = DataKey::generate()?;
            let wrapped =
                keyseal::hpke_p256::seal_entry(&self.kp.public_sec1(), key_id, 1, context, &data_key)?;
            Ok(GeneratedKey { data_key, wrapped })
        })
    }
    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        dek: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            Ok(keyseal::hpke_p256::seal_entry(
                &self.kp.public_sec1(),
                key_id,
                1,
                context,
                dek,
            )?)
        })
    }
    fn unwrap<'a>(
        &'a self,
        _kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            self.count("unwrap");
            self.check()?;
            Ok(keyseal::hpke_p256::open_entry(
                &self.kp.secret_scalar(),
                key_id,
                wrapped,
                context,
            )?)
        })
    }
    fn rewrap<'a>(
        &'a self,
        _kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let dek = keyseal::hpke_p256::open_entry(&self.kp.secret_scalar(), key_id, wrapped, context)?;
            Ok(keyseal::hpke_p256::seal_entry(
                &self.kp.public_sec1(),
                to.unwrap_or(key_id),
                1,
                context,
                &dek,
            )?)
        })
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

#[test]
fn key_service_trait_drives_an_envelope_flow() {
    let ks = MemoryKeyService {
        kp: RecipientKeyPair::generate(),
        disabled: RefCell::new(false),
        calls: RefCell::default(),
    };
    let svc: &dyn KeyService = &ks;
    let c = ctx();
    let g = block_on(svc.generate("acme/default", &c)).unwrap();
    let e = WrappedKeyEntry {
        kind: EntryKind::HpkeP256,
        key_service_id: svc.id().into(),
        key_id: "acme/default".into(),
        wrapped: g.wrapped,
    };
    let header =
        keyseal::new_header(&g.data_key, MessageId::random().unwrap(), 64, c.clone(), vec![e]).unwrap();
    let sealed = keyseal::seal(&RustCryptoEngine, &g.data_key, &header, b"secret report").unwrap();

    let (h, _) = Header::parse(&sealed).unwrap();
    let e = &h.entries()[0];
    let dek = block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, h.context())).unwrap();
    assert_eq!(
        keyseal::open(&RustCryptoEngine, &dek, &sealed, &c).unwrap().1,
        b"secret report"
    );

    // Moving the wrapped key to another context fails at the key service.
    let other = EncryptionContext::from_pairs([("tenant", "evil")]).unwrap();
    assert_eq!(
        block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, &other)).unwrap_err(),
        Error::DECRYPTION_FAILED
    );

    // Rewrap through the trait: new header, same body, still opens.
    let w2 = block_on(svc.rewrap(e.kind, &e.key_id, &e.wrapped, h.context(), Some("acme/2027"))).unwrap();
    let r = keyseal::rewrap(
        &sealed,
        vec![WrappedKeyEntry {
            key_id: "acme/2027".into(),
            wrapped: w2,
            ..e.clone()
        }],
    )
    .unwrap();
    let mut moved = r.header;
    moved.extend_from_slice(&sealed[r.body_offset..]);
    let (h2, _) = Header::parse(&moved).unwrap();
    let e2 = &h2.entries()[0];
    let dek2 = block_on(svc.unwrap(e2.kind, &e2.key_id, &e2.wrapped, h2.context())).unwrap();
    assert_eq!(
        keyseal::open(&RustCryptoEngine, &dek2, &moved, &c).unwrap().1,
        b"secret report"
    );

    *ks.disabled.borrow_mut() = true;
    assert_eq!(
        block_on(svc.unwrap(e2.kind, &e2.key_id, &e2.wrapped, h2.context()))
            .unwrap_err()
            .code(),
        "KEY_DISABLED"
    );
    assert_eq!(ks.calls.borrow()["unwrap"], 4);
}

#[test]
fn inspect_reads_the_key_version_of_keyseal_kms_entries_only() {
    // PROTOCOL.md §7.2: a keyseal-kms wrapped key is 97 bytes, layout version 1, then the key
    // version (u32 BE). Any other shape is opaque: no version.
    let dek = DataKey::from_bytes(&[3; 32]).unwrap();
    let mut wrapped = vec![0u8; 97];
    wrapped[0] = 1;
    wrapped[1..5].copy_from_slice(&7u32.to_be_bytes());
    let mut other = entry(b"opaque bytes of another key service");
    other.key_service_id = "dr".into();
    let h = keyseal::new_header(
        &dek,
        MessageId::random().unwrap(),
        1024,
        ctx(),
        vec![entry(&wrapped), other],
    )
    .unwrap();
    let info = keyseal::inspect(&keyseal::seal(&RustCryptoEngine, &dek, &h, b"x").unwrap()).unwrap();
    assert_eq!(info.entries[0].key_version, Some(7));
    assert_eq!(info.entries[1].key_version, None);
}
