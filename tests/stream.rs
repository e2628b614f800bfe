//! The SDK's incremental API (src/stream.rs) and header-only rewrap (src/sdk.rs) against an
//! in-memory key service with key versions: streams in any chunking equal one-shot, plaintext is
//! released only per authenticated segment, ranged reads need only their segments, rewrap keeps
//! the body and follows rotation, `is_current` makes bulk rewrap idempotent.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

mod common;
use common::block_on;

use keyseal::{
    CacheConfig, Clock, DataKey, EncryptionContext, EntryKind, Error, GeneratedKey, Header, KeySeal,
    KeySealConfig, KeyService, KeyServiceErrorKind, LocalBoxFuture, Observer, PublicKeyInfo,
    REWRAP_BATCH_MAX, RewrapAnswers, RewrapQuestion, ServiceBinding, WrapMode, WrappedKeyEntry, plan_range,
};

const S: u32 = 64;

/// A key service whose `kms` wrapped keys use the keyseal-kms layout of PROTOCOL.md §7.2 in form
/// (97 bytes, format 1, version u32 BE) but hold the data key in clear: enough to test the SDK's
/// policy, not a cipher.
struct VersionedKms {
    id: &'static str,
    versions: RefCell<HashMap<String, u32>>,
    calls: RefCell<HashMap<&'static str, u32>>,
    /// `/rewrap-batch` requests under way now, and the most there were at once.
    batches_in_flight: Cell<u32>,
    most_batches_in_flight: Cell<u32>,
}

impl VersionedKms {
    fn new(id: &'static str) -> Rc<Self> {
        Rc::new(Self {
            id,
            versions: RefCell::default(),
            calls: RefCell::default(),
            batches_in_flight: Cell::new(0),
            most_batches_in_flight: Cell::new(0),
        })
    }
    fn rotate(&self, key_id: &str) {
        *self.versions.borrow_mut().entry(key_id.into()).or_insert(1) += 1;
    }
    fn version(&self, key_id: &str) -> u32 {
        *self.versions.borrow_mut().entry(key_id.into()).or_insert(1)
    }
    fn count(&self, op: &'static str) {
        *self.calls.borrow_mut().entry(op).or_default() += 1;
    }
    fn calls(&self, op: &'static str) -> u32 {
        self.calls.borrow().get(op).copied().unwrap_or(0)
    }
    fn wrap_at(&self, key_id: &str, dek: &[u8]) -> Vec<u8> {
        let mut w = vec![1u8];
        w.extend_from_slice(&self.version(key_id).to_be_bytes());
        let mut filler = [0u8; 60];
        for (f, b) in filler
            .iter_mut()
            .zip(self.id.bytes().chain([b'/']).chain(key_id.bytes()))
        {
            *f = b;
        }
        w.extend_from_slice(&filler);
        w.extend_from_slice(dek);
        w
    }
}

fn open(wrapped: &[u8]) -> Result<DataKey, Error> {
    if wrapped.len() != 97 {
        return Err(Error::key_service(KeyServiceErrorKind::InvalidCiphertext, "bad"));
    }
    Ok(DataKey::from_bytes(&wrapped[65..])?)
}

impl KeyService for VersionedKms {
    fn id(&self) -> &str {
        self.id
    }
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        _context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            self.count("generate");
            let data_key = DataKey::generate()?;
            let wrapped = self.wrap_at(key_id, data_key.expose_secret());
            Ok(GeneratedKey { data_key, wrapped })
        })
    }
    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        dek: &'a DataKey,
        _context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move { Ok(self.wrap_at(key_id, dek.expose_secret())) })
    }
    fn unwrap<'a>(
        &'a self,
        _kind: EntryKind,
        _key_id: &'a str,
        wrapped: &'a [u8],
        _context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            self.count("unwrap");
            open(wrapped)
        })
    }
    fn rewrap<'a>(
        &'a self,
        _kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        _context: &'a EncryptionContext,
        to: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            self.count("rewrap");
            let dek = open(wrapped)?;
            Ok(self.wrap_at(to.unwrap_or(key_id), dek.expose_secret()))
        })
    }
    /// Each question as `rewrap` answers it, after waiting one poll: so batches sent together are
    /// under way together, and `most_batches_in_flight` tells whether they were.
    fn rewrap_batch<'a>(
        &'a self,
        questions: &'a [RewrapQuestion<'a>],
    ) -> LocalBoxFuture<'a, Result<RewrapAnswers, Error>> {
        Box::pin(async move {
            self.count("rewrap_batch");
            self.batches_in_flight.set(self.batches_in_flight.get() + 1);
            let most = self
                .most_batches_in_flight
                .get()
                .max(self.batches_in_flight.get());
            self.most_batches_in_flight.set(most);
            let mut polled = false;
            std::future::poll_fn(|_| {
                if polled {
                    std::task::Poll::Ready(())
                } else {
                    polled = true;
                    std::task::Poll::Pending
                }
            })
            .await;
            let mut answers = Vec::with_capacity(questions.len());
            for q in questions {
                answers.push(
                    self.rewrap(q.kind, q.key_id, q.wrapped, q.context, q.to_key_id)
                        .await,
                );
            }
            self.batches_in_flight.set(self.batches_in_flight.get() - 1);
            Ok(answers)
        })
    }
    fn entry_version(&self, entry: &WrappedKeyEntry) -> Option<u32> {
        keyseal::protocol::kms_layout::version(&entry.wrapped)
    }
    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version: self.version(key_id),
                public_sec1: vec![4; 65],
            })
        })
    }
}

struct FixedClock;
impl Clock for FixedClock {
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        0.0
    }
    fn sleep(&self, _ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn sdk(services: Vec<(Rc<VersionedKms>, &str)>) -> KeySeal {
    sdk_with_cache(services, CacheConfig::disabled())
}

fn sdk_with_cache(services: Vec<(Rc<VersionedKms>, &str)>, cache: CacheConfig) -> KeySeal {
    KeySeal::new(
        KeySealConfig {
            services: services
                .into_iter()
                .map(|(s, k)| ServiceBinding {
                    service: s as Rc<dyn KeyService>,
                    key_id: k.into(),
                })
                .collect(),
            cache,
            wrap_mode: WrapMode::KeyService,
            segment_size: S,
            engine: Box::new(keyseal::RustCryptoEngine),
            decrypt: Default::default(),
        },
        Rc::new(FixedClock),
        Rc::new(Observer::with_sink(None)),
    )
    .unwrap()
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("object", "o1")]).unwrap()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn stream_seal(ks: &KeySeal, pt: &[u8], chunk: usize) -> Vec<u8> {
    let mut s = block_on(ks.begin_encrypt(&ctx(), None)).unwrap();
    let mut out = s.header().to_vec();
    for c in pt.chunks(chunk.max(1)) {
        out.extend(s.push(c).unwrap());
    }
    out.extend(s.finish().unwrap());
    out
}

/// Opens `sealed` fed in `chunk`-byte pieces; returns what was released and the error, if any.
fn stream_open(ks: &KeySeal, sealed: &[u8], chunk: usize) -> (Vec<u8>, Option<Error>) {
    let mut d = ks.begin_decrypt(EncryptionContext::new());
    let mut out = Vec::new();
    for c in sealed.chunks(chunk.max(1)) {
        match block_on(d.push(ks, c)) {
            Ok(p) => out.extend(p),
            Err(e) => return (out, Some(e)),
        }
    }
    match d.finish() {
        Ok(p) => {
            out.extend(p);
            (out, None)
        }
        Err(e) => (out, Some(e)),
    }
}

#[test]
fn streams_round_trip_in_any_chunking_and_match_one_shot() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms.clone(), "acme/k")]);
    let s = S as usize;
    for n in [0, 1, s - 1, s, s + 1, 3 * s, 1000] {
        let pt = pattern(n);
        for chunk in [1, 7, s, s + 16, 500] {
            let sealed = stream_seal(&ks, &pt, chunk);
            let (_, one_shot) = block_on(ks.decrypt(&sealed, &EncryptionContext::new())).unwrap();
            assert_eq!(one_shot, pt, "n={n} chunk={chunk}");
            let (opened, err) = stream_open(&ks, &sealed, chunk + 3);
            assert!(err.is_none(), "n={n}: {err:?}");
            assert_eq!(opened, pt);
        }
        let sealed = block_on(ks.encrypt(&pt, &ctx())).unwrap();
        assert_eq!(stream_open(&ks, &sealed, 5).0, pt);
    }
    // streams of unknown length bypass the encrypt cache: one generate each
    assert!(kms.calls("generate") >= 7 * 6);
    let m = ks.metrics();
    assert_eq!(m.encrypt_failed.len(), 0);
}

#[test]
fn stream_failures_release_only_whole_authentic_segments() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms, "acme/k")]);
    let s = S as usize;
    let seg = s + 16;
    let pt = pattern(5 * s + 10);
    let sealed = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    let (_, h) = Header::parse(&sealed).unwrap();
    let mut swapped = sealed.clone();
    swapped[h + seg..h + 2 * seg].copy_from_slice(&sealed[h + 2 * seg..h + 3 * seg]);
    swapped[h + 2 * seg..h + 3 * seg].copy_from_slice(&sealed[h + seg..h + 2 * seg]);
    let mut flipped = sealed.clone();
    flipped[h + 4 * seg + 1] ^= 1;
    let mut extended = sealed.clone();
    extended.extend_from_slice(&[0; 16]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated at a boundary", sealed[..h + 3 * seg].to_vec()),
        ("truncated inside", sealed[..h + 3 * seg + 20].to_vec()),
        ("last missing", sealed[..h + 5 * seg].to_vec()),
        ("swapped", swapped),
        ("flipped", flipped),
        ("extended", extended),
    ];
    for (what, bad) in cases {
        for chunk in [1, 33, 1000] {
            let (released, err) = stream_open(&ks, &bad, chunk);
            assert_eq!(err, Some(Error::DECRYPTION_FAILED), "{what}");
            assert_eq!(released.len() % s, 0, "{what}: whole segments");
            assert_eq!(released, pt[..released.len()], "{what}: a prefix");
        }
    }
    // ends inside the header: INVALID_FORMAT, and later calls repeat the error
    let mut d = ks.begin_decrypt(EncryptionContext::new());
    assert!(block_on(d.push(&ks, &sealed[..h - 1])).unwrap().is_empty());
    assert_eq!(d.finish().unwrap_err().code(), "INVALID_FORMAT");
    assert_eq!(d.finish().unwrap_err().code(), "INVALID_FORMAT");
    // required context is checked before the key service
    let mut d = ks.begin_decrypt(EncryptionContext::from_pairs([("tenant", "globex")]).unwrap());
    assert_eq!(
        block_on(d.push(&ks, &sealed)).unwrap_err().code(),
        "CONTEXT_MISMATCH"
    );
    // an encrypt stream refuses use after finish
    let mut e = block_on(ks.begin_encrypt(&ctx(), Some(3))).unwrap();
    assert_eq!(e.push(b"abcd").unwrap_err().code(), "INVALID_ARGUMENT");
    assert_eq!(e.push(b"a").unwrap_err().code(), "INVALID_ARGUMENT");
    let mut e = block_on(ks.begin_encrypt(&ctx(), Some(3))).unwrap();
    e.push(b"abc").unwrap();
    e.finish().unwrap();
    assert_eq!(e.finish().unwrap_err().code(), "INVALID_ARGUMENT");
}

#[test]
fn ranged_decrypt_needs_only_the_covering_segments() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms.clone(), "acme/k")]);
    let s = u64::from(S);
    let pt = pattern(10 * S as usize + 5);
    let sealed = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    let (_, h) = Header::parse(&sealed).unwrap();
    let total = sealed.len() as u64;
    let none = EncryptionContext::new();
    for (off, len) in [
        (0, 1),
        (0, s),
        (s - 1, 2),
        (3 * s + 5, 2 * s),
        (10 * s, 5),
        (10 * s + 4, 100),
        (0, 10_000),
        (4 * s, 0),
        (10_000, 3),
    ] {
        let plan = plan_range(&sealed[..h], total, off, len).unwrap();
        let fetch = &sealed[plan.fetch.start as usize..plan.fetch.end as usize];
        let got = block_on(ks.decrypt_range(&sealed[..h], total, off, len, fetch, &none)).unwrap();
        let end = (off + len).min(pt.len() as u64);
        let want = if off < end {
            &pt[off as usize..end as usize]
        } else {
            &[][..]
        };
        assert_eq!(got, want, "{off}+{len}");
        let segs = plan.segments.end - plan.segments.start;
        assert!(plan.fetch.end - plan.fetch.start <= segs * (s + 16));
    }
    // a store that cut the object after 4 segments plus 16 bytes serves an object whose length is
    // valid (an "empty last segment"): a read to the end must fail, not return 4 segments
    let cut = &sealed[..h + 4 * (S as usize + 16) + 16];
    for (off, len) in [(0, u64::MAX), (2 * s, 10 * s), (4 * s, 1)] {
        let plan = plan_range(&cut[..h], cut.len() as u64, off, len).unwrap();
        let fetch = &cut[plan.fetch.start as usize..plan.fetch.end as usize];
        assert_eq!(
            block_on(ks.decrypt_range(&cut[..h], cut.len() as u64, off, len, fetch, &none)).unwrap_err(),
            Error::DECRYPTION_FAILED,
            "truncated, {off}+{len}"
        );
    }
    // tamper inside the range fails; the wrong fetch length fails
    let mut bad = sealed.clone();
    bad[h + 2 * (S as usize + 16) + 3] ^= 1;
    let plan = plan_range(&bad[..h], total, 2 * s, 1).unwrap();
    let fetch = &bad[plan.fetch.start as usize..plan.fetch.end as usize];
    assert_eq!(
        block_on(ks.decrypt_range(&bad[..h], total, 2 * s, 1, fetch, &none)).unwrap_err(),
        Error::DECRYPTION_FAILED
    );
    assert_eq!(
        block_on(ks.decrypt_range(&bad[..h], total, 2 * s, 1, &fetch[1..], &none)).unwrap_err(),
        Error::DECRYPTION_FAILED
    );
    assert_eq!(
        plan_range(&sealed[..h], h as u64 + 3, 0, 1).unwrap_err(),
        keyseal::FormatError::DecryptionFailed
    );
    let globex = EncryptionContext::from_pairs([("tenant", "globex")]).unwrap();
    assert_eq!(
        block_on(ks.decrypt_range(
            &sealed[..h],
            total,
            0,
            1,
            &sealed[h..h + S as usize + 16],
            &globex
        ))
        .unwrap_err()
        .code(),
        "CONTEXT_MISMATCH"
    );
}

#[test]
fn rewrap_keeps_the_body_follows_rotation_and_keeps_foreign_entries() {
    let primary = VersionedKms::new("acme");
    let escrow = VersionedKms::new("escrow");
    let ks = sdk(vec![(primary.clone(), "acme/k"), (escrow.clone(), "acme/escrow")]);
    let pt = pattern(300);
    let sealed = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    let (h0, off) = Header::parse(&sealed).unwrap();
    // add an entry of an unconfigured service and one of an unknown kind: both must survive
    let mut entries = h0.entries().to_vec();
    entries.push(WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "elsewhere".into(),
        key_id: "x/y".into(),
        wrapped: vec![9; 10],
    });
    entries.push(WrappedKeyEntry {
        kind: EntryKind::Unknown(0x42),
        key_service_id: "acme".into(),
        key_id: "acme/k".into(),
        wrapped: vec![8; 10],
    });
    let r = keyseal::rewrap(&sealed, entries).unwrap();
    let mut object = r.header;
    object.extend_from_slice(&sealed[off..]);
    assert!(ks.is_current(&object, None, Some(1)).unwrap());
    assert_eq!(block_on(ks.newest_version(None)).unwrap(), 1);

    primary.rotate("acme/k");
    let newest = block_on(ks.newest_version(None)).unwrap();
    assert_eq!(newest, 2);
    assert!(!ks.is_current(&object, None, Some(newest)).unwrap());
    assert!(
        ks.is_current(&object, None, None).unwrap(),
        "without a version only key ids count"
    );

    let r = block_on(ks.rewrap(&object, None)).unwrap();
    let (old, old_off) = Header::parse(&object).unwrap();
    assert_eq!(r.body_offset, old_off);
    let mut moved = r.header.clone();
    moved.extend_from_slice(&object[r.body_offset..]);
    assert_eq!(&moved[r.header.len()..], &sealed[off..], "body identical");
    let (h, _) = Header::parse(&moved).unwrap();
    let e = h.entries();
    assert_eq!(e.len(), 4);
    assert_eq!(
        (e[0].key_id.as_str(), ks.entry_version(&e[0])),
        ("acme/k", Some(2))
    );
    assert_eq!(
        (e[1].key_service_id.as_str(), ks.entry_version(&e[1])),
        ("escrow", Some(1))
    );
    assert_eq!(e[2], old.entries()[2], "unconfigured service kept");
    assert_eq!(e[3], old.entries()[3], "unknown kind kept");
    assert_ne!(e[0].wrapped, old.entries()[0].wrapped);
    assert!(
        !r.header
            .windows(97)
            .any(|w| w == old.entries()[0].wrapped.as_slice()),
        "old wrapped key gone"
    );
    assert_eq!((primary.calls("rewrap"), escrow.calls("rewrap")), (1, 1));
    assert_eq!(block_on(ks.decrypt(&moved, &ctx())).unwrap().1, pt);
    assert!(ks.is_current(&moved, None, Some(2)).unwrap());

    // toKeyId moves the primary's entries only
    let r2 = block_on(ks.rewrap(&moved[..r.header.len()], Some("acme/new"))).unwrap();
    let (h2, _) = Header::parse(&r2.header).unwrap();
    assert_eq!(h2.entries()[0].key_id, "acme/new");
    assert_eq!(h2.entries()[1].key_id, "acme/escrow");
    assert!(!ks.is_current(&r2.header, None, None).unwrap());
    let v = block_on(ks.newest_version(Some("acme/new"))).unwrap();
    assert!(ks.is_current(&r2.header, Some("acme/new"), Some(v)).unwrap());

    // a refusal fails the whole rewrap
    let mut broken = h.entries().to_vec();
    broken[1].wrapped = vec![1; 5];
    let bad = keyseal::rewrap(&moved, broken).unwrap().header;
    assert_eq!(
        block_on(ks.rewrap(&bad, None)).unwrap_err().code(),
        "DECRYPTION_FAILED"
    );
}

#[test]
fn rewrap_asks_once_per_shared_wrapped_key_within_a_run() {
    // With the cache on, messages sealed under one context share a cached data key and so its
    // wrapped key: a rotation run asks the service once for them (src/rewrap_memo.rs).
    let kms = VersionedKms::new("acme");
    let ks = sdk_with_cache(vec![(kms.clone(), "acme/k")], CacheConfig::default());
    let other = EncryptionContext::from_pairs([("tenant", "acme"), ("object", "o2")]).unwrap();
    let pt = pattern(300);
    let sealed: Vec<Vec<u8>> = (0..3)
        .map(|_| block_on(ks.encrypt(&pt, &ctx())).unwrap())
        .chain([block_on(ks.encrypt(&pt, &other)).unwrap()])
        .collect();
    assert_eq!(kms.calls("generate"), 2, "one data key per context");
    kms.rotate("acme/k");
    assert_eq!(block_on(ks.newest_version(None)).unwrap(), 2);
    let moved: Vec<Vec<u8>> = sealed
        .iter()
        .map(|m| {
            let r = block_on(ks.rewrap(m, None)).unwrap();
            let mut out = r.header.clone();
            out.extend_from_slice(&m[r.body_offset..]);
            out
        })
        .collect();
    assert_eq!(
        kms.calls("rewrap"),
        2,
        "one /rewrap per distinct (wrapped key, context)"
    );
    for (m, want) in moved.iter().zip([ctx(), ctx(), ctx(), other.clone()]) {
        assert!(ks.is_current(m, None, Some(2)).unwrap());
        assert_eq!(block_on(ks.decrypt(m, &want)).unwrap().1, pt);
    }
    // A new run (a fresh newest-version reading) asks again; so does one after a purge.
    block_on(ks.newest_version(None)).unwrap();
    block_on(ks.rewrap(&sealed[0], None)).unwrap();
    assert_eq!(kms.calls("rewrap"), 3);
    block_on(ks.rewrap(&sealed[1], None)).unwrap();
    assert_eq!(kms.calls("rewrap"), 3, "same run, same question");
    ks.purge(Some("acme/k"));
    block_on(ks.rewrap(&sealed[2], None)).unwrap();
    assert_eq!(kms.calls("rewrap"), 4, "purged with the caches");
    // With the cache off nothing is remembered.
    let cold = VersionedKms::new("acme");
    let ks = sdk(vec![(cold.clone(), "acme/k")]);
    let a = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    block_on(ks.rewrap(&a, None)).unwrap();
    block_on(ks.rewrap(&a, None)).unwrap();
    assert_eq!(cold.calls("rewrap"), 2);
}

#[test]
fn rewrap_many_answers_per_header_in_order_and_asks_each_question_once() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms.clone(), "acme/k")]);
    let pt = pattern(200);
    let a = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    let b = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    kms.rotate("acme/k");
    let garbage = b"not a keyseal header".to_vec();
    let r = block_on(ks.rewrap_many(&[&a, &garbage, &b, &a], None));
    assert_eq!(r.len(), 4);
    assert!(
        matches!(
            r[1],
            Err(Error::Format(keyseal::FormatError::InvalidFormat { .. }))
        ),
        "{:?}",
        r[1].as_ref().err()
    );
    for (i, m) in [(0, &a), (2, &b), (3, &a)] {
        let rw = r[i].as_ref().unwrap();
        let mut moved = rw.header.clone();
        moved.extend_from_slice(&m[rw.body_offset..]);
        assert!(ks.is_current(&moved, None, Some(2)).unwrap(), "header {i} on v2");
        assert_eq!(block_on(ks.decrypt(&moved, &ctx())).unwrap().1, pt);
    }
    // a and b have their own data keys (cache off); the second `a` is the same question
    assert_eq!(kms.calls("rewrap"), 2);
}

#[test]
fn rewrap_many_sends_a_services_batches_together() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms.clone(), "acme/k")]);
    let pt = pattern(100);
    // each message its own data key (cache off): as many questions, in batches of 100, 100, 50
    let n = 2 * REWRAP_BATCH_MAX + REWRAP_BATCH_MAX / 2;
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|_| block_on(ks.encrypt(&pt, &ctx())).unwrap())
        .collect();
    kms.rotate("acme/k");
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let r = block_on(ks.rewrap_many(&refs, None));
    assert_eq!(kms.calls("rewrap_batch"), 3);
    assert_eq!(kms.calls("rewrap"), n as u32);
    // all three under way at once: one wait for the key service, not three in a row
    assert_eq!(kms.most_batches_in_flight.get(), 3);
    assert_eq!(kms.batches_in_flight.get(), 0);
    for (i, m) in messages.iter().enumerate() {
        let rw = r[i].as_ref().unwrap();
        let mut moved = rw.header.clone();
        moved.extend_from_slice(&m[rw.body_offset..]);
        assert!(ks.is_current(&moved, None, Some(2)).unwrap(), "header {i} on v2");
        assert_eq!(block_on(ks.decrypt(&moved, &ctx())).unwrap().1, pt, "message {i}");
    }
}

#[test]
fn rewrap_many_unless_current_skips_current_headers_without_asking() {
    let kms = VersionedKms::new("acme");
    let ks = sdk(vec![(kms.clone(), "acme/k")]);
    let pt = pattern(200);
    let old = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    kms.rotate("acme/k");
    let newest = block_on(ks.newest_version(None)).unwrap();
    let current = block_on(ks.encrypt(&pt, &ctx())).unwrap();
    let garbage = b"not a keyseal header".to_vec();
    let r = block_on(ks.rewrap_many_unless_current(&[&old, &current, &garbage], None, Some(newest)));
    assert_eq!(r.len(), 3);
    assert_eq!(kms.calls("rewrap"), 1, "only the old header is asked about");
    let rw = r[0].as_ref().unwrap().as_ref().expect("old header rewrapped");
    // the same bytes as the one-header path (keyseal_format::rewrap on the same answer)
    assert_eq!(
        rw,
        &keyseal::rewrap(&old, Header::parse(&rw.header).unwrap().0.entries().to_vec()).unwrap()
    );
    let mut moved = rw.header.clone();
    moved.extend_from_slice(&old[rw.body_offset..]);
    assert!(ks.is_current(&moved, None, Some(newest)).unwrap());
    assert_eq!(block_on(ks.decrypt(&moved, &ctx())).unwrap().1, pt);
    assert!(r[1].as_ref().unwrap().is_none(), "current header: no answer");
    assert!(r[2].is_err(), "garbage: its own error");
    // without `newest`, versions are not compared: both headers name the target key, so current
    let r = block_on(ks.rewrap_many_unless_current(&[&old], None, None));
    assert!(r[0].as_ref().unwrap().is_none());
    assert_eq!(kms.calls("rewrap"), 1);
}
