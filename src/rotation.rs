//! Rotation: header-only rewrap through the key services (FORMAT.md §4.4, PROTOCOL.md §3.5,
//! §3.5.1), with the rewrap memo and batches, and what counts as "already current".

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::join::join_all;
use crate::key_service::RewrapQuestion;
use crate::keyseal::KeySeal;
use crate::rewrap_memo::{DigestIndex, MemoKey, QuestionDigest};
use crate::{EncryptionContext, EntryKind, Header, Rewrapped, WrappedKeyEntry};

impl KeySeal {
    /// The key id the primary service's entries end up under: `to_key_id` or the configured one.
    /// A decrypt-only instance (no key id for the primary) must be told the target.
    fn rewrap_target<'a>(&'a self, to_key_id: Option<&'a str>) -> Result<&'a str, Error> {
        match to_key_id {
            Some(t) => Ok(t),
            None => self.encrypt_key_id(),
        }
    }

    /// The newest (primary) version of the rewrap target at the primary service, read fresh from
    /// `GET /keys/{key_id}/public` (PROTOCOL.md §3.6; no token needed). `rewrap_all`-style jobs call
    /// it once and pass the answer to [`Self::is_current`]. Starts a new rotation run: the rewrap
    /// memo is emptied, so no answer from before this reading (maybe an older version) is reused.
    pub async fn newest_version(&self, to_key_id: Option<&str>) -> Result<u32, Error> {
        self.rewrap_memo.borrow_mut().purge(None);
        let b = &self.services[0];
        let target = self.rewrap_target(to_key_id)?;
        // a service without readable versions (AWS KMS): 0, and `is_current` compares key ids only
        if !b.service.reads_versions() {
            return Ok(0);
        }
        let info = b
            .service
            .public_key(target)
            .await
            .map_err(|e| self.on_key_error(target, e))?;
        Ok(info.version)
    }

    /// Whether the message whose header starts `header_prefix` is already where [`Self::rewrap`]
    /// with `to_key_id` would put it: every entry of the primary service names the target key id
    /// and, where the entry's key version is readable ([`KeySeal::entry_version`]) and `newest` is
    /// given, was made with that version. A message with no entry of the primary service is
    /// current (a rewrap would not change it).
    pub fn is_current(
        &self,
        header_prefix: &[u8],
        to_key_id: Option<&str>,
        newest: Option<u32>,
    ) -> Result<bool, Error> {
        let (header, _) = Header::parse(header_prefix)?;
        self.header_is_current(&header, to_key_id, newest)
    }

    /// [`Self::is_current`] of a parsed header.
    fn header_is_current(
        &self,
        header: &Header,
        to_key_id: Option<&str>,
        newest: Option<u32>,
    ) -> Result<bool, Error> {
        let primary = self.services[0].service.id();
        let target = self.rewrap_target(to_key_id)?;
        Ok(header
            .entries()
            .iter()
            .filter(|e| e.key_service_id == primary && !matches!(e.kind, EntryKind::Unknown(_)))
            .all(|e| {
                e.key_id == target
                    && match (newest, self.entry_version(e)) {
                        (Some(n), Some(v)) => v >= n,
                        _ => true,
                    }
            }))
    }

    /// FORMAT.md §4.4: replaces the wrapped-key section of the header at the start of
    /// `header_prefix` (the header, or the whole message). Each entry of a configured key service
    /// is re-wrapped by that service's `/rewrap` (the DEK never leaves it): the primary service's
    /// entries go to `to_key_id` when given (else to the newest version of their own key), the
    /// other services' entries to the newest version of their own key. The answers are `kms`
    /// entries. Entries of unconfigured services and of unknown kinds are kept unchanged
    /// (§4.2). Any refusal fails the whole rewrap: a header is never half rotated.
    pub async fn rewrap(&self, header_prefix: &[u8], to_key_id: Option<&str>) -> Result<Rewrapped, Error> {
        let mut r = self.rewrap_many(&[header_prefix], to_key_id).await;
        r.pop().unwrap_or(Err(Error::invalid("nothing to rewrap")))
    }

    /// [`Self::rewrap`] for many headers at once: one result per header, in order, each as
    /// [`Self::rewrap`] would give it (a refusal fails only the headers that need that answer).
    /// The questions go to each key service in `/rewrap-batch` requests of at most
    /// [`REWRAP_BATCH_MAX`] (PROTOCOL.md §3.5.1), after the rewrap memo and with duplicates asked
    /// once: objects sealed under one cached data key share their question.
    pub async fn rewrap_many(
        &self,
        header_prefixes: &[&[u8]],
        to_key_id: Option<&str>,
    ) -> Vec<Result<Rewrapped, Error>> {
        self.rewrap_headers(header_prefixes, to_key_id, None)
            .await
            .into_iter()
            // without `skip_current` every parsed header is answered `Some`
            .map(|r| r.and_then(|h| h.ok_or_else(|| Error::invalid("nothing to rewrap"))))
            .collect()
    }

    /// [`Self::rewrap_many`] for a rotation job: a header that is already current
    /// ([`Self::is_current`] with `newest`) is answered `Ok(None)` and costs no question. Each
    /// header is parsed once for both (`rewrapAll` and `keyseal rewrap` used to parse it for the
    /// check, again for the questions and, in `rewrapAll`, again to rebuild it).
    pub async fn rewrap_many_unless_current(
        &self,
        header_prefixes: &[&[u8]],
        to_key_id: Option<&str>,
        newest: Option<u32>,
    ) -> Vec<Result<Option<Rewrapped>, Error>> {
        self.rewrap_headers(header_prefixes, to_key_id, Some(newest))
            .await
    }

    /// Both of the above: with `skip_current` = `Some(newest)`, current headers are `Ok(None)`.
    async fn rewrap_headers(
        &self,
        header_prefixes: &[&[u8]],
        to_key_id: Option<&str>,
        skip_current: Option<Option<u32>>,
    ) -> Vec<Result<Option<Rewrapped>, Error>> {
        // Each header with its body offset, or why it cannot be rewrapped; `Ok(None)`: current.
        let parsed: Vec<Result<Option<(Header, usize)>, Error>> = header_prefixes
            .iter()
            .map(|p| {
                let (h, body_offset) = Header::parse(p)?;
                match skip_current {
                    Some(newest) if self.header_is_current(&h, to_key_id, newest)? => Ok(None),
                    _ => Ok(Some((h, body_offset))),
                }
            })
            .collect();
        // Every distinct question, with its answer when the memo has one. Each question is known
        // by its digest (src/rewrap_memo.rs), computed once per entry;
        // `digests[h]` lists header h's, in the order of its entries that a service rewraps.
        let mut asked: Vec<Asked<'_>> = Vec::new();
        let mut index = DigestIndex::default();
        let mut digests: Vec<Vec<QuestionDigest>> = Vec::with_capacity(parsed.len());
        let now = self.clock.now_ms();
        for h in &parsed {
            let mut own = Vec::new();
            if let Ok(Some((h, _))) = h {
                let context = h.context().encode();
                for e in h.entries() {
                    let Some(i) = self.rewrap_binding(e) else { continue };
                    let to = if i == 0 { to_key_id } else { None };
                    let digest = MemoKey::of(i, e, &context, to).digest();
                    own.push(digest);
                    if index.get(&digest).is_some() {
                        continue;
                    }
                    index.insert(digest, asked.len());
                    asked.push(Asked {
                        service: i,
                        entry: e,
                        context: h.context(),
                        to,
                        digest,
                        answer: self.rewrap_memo.borrow_mut().get(&digest, now).map(Ok),
                    });
                }
            }
            digests.push(own);
        }
        // Ask each service what the memo did not know, in batches of at most REWRAP_BATCH_MAX,
        // a service's batches all at once (src/join.rs): a key service answers them in parallel
        // and the call waits for it once, not once per batch.
        for i in 0..self.services.len() {
            let open: Vec<usize> = (0..asked.len())
                .filter(|&k| asked[k].service == i && asked[k].answer.is_none())
                .collect();
            let chunks: Vec<&[usize]> = open.chunks(REWRAP_BATCH_MAX).collect();
            let questions: Vec<Vec<RewrapQuestion<'_>>> = chunks
                .iter()
                .map(|chunk| {
                    chunk
                        .iter()
                        .map(|&k| RewrapQuestion {
                            kind: asked[k].entry.kind,
                            key_id: &asked[k].entry.key_id,
                            wrapped: &asked[k].entry.wrapped,
                            context: asked[k].context,
                            to_key_id: asked[k].to,
                        })
                        .collect()
                })
                .collect();
            let service = &self.services[i].service;
            let answers = join_all(questions.iter().map(|q| service.rewrap_batch(q))).await;
            drop(questions);
            for (chunk, answers) in chunks.iter().zip(answers) {
                let answers: Vec<Result<Vec<u8>, Error>> = match answers {
                    Ok(a) => a,
                    Err(e) => chunk.iter().map(|_| Err(e.clone())).collect(),
                };
                for (&k, answer) in chunk.iter().zip(answers) {
                    let answer = answer.map_err(|err| self.on_key_error(&asked[k].entry.key_id, err));
                    if let Ok(w) = &answer {
                        let a = &asked[k];
                        let source = &a.entry.key_id;
                        self.rewrap_memo
                            .borrow_mut()
                            .put(a.digest, source, a.to, w, self.clock.now_ms());
                    }
                    asked[k].answer = Some(answer);
                }
            }
        }
        // Each header: its new entries, or the first refusal among them.
        parsed
            .iter()
            .zip(&digests)
            .map(|(h, own)| {
                let Some((h, body_offset)) = h.as_ref().map_err(Clone::clone)? else {
                    return Ok(None);
                };
                let mut own = own.iter();
                let mut entries = Vec::with_capacity(h.entries().len());
                for e in h.entries() {
                    let Some(i) = self.rewrap_binding(e) else {
                        entries.push(e.clone());
                        continue;
                    };
                    let to = if i == 0 { to_key_id } else { None };
                    let found = own
                        .next()
                        .and_then(|d| index.get(d))
                        .and_then(|k| asked[k].answer.as_ref());
                    let wrapped = match found {
                        Some(Ok(w)) => w.clone(),
                        Some(Err(err)) => return Err(err.clone()),
                        // Every question above was asked or remembered; a service answering fewer
                        // items fails its whole batch (parse_rewrap_batch).
                        None => {
                            return Err(Error::NoUsableEntry {
                                detail: "the key service answered fewer items than asked".into(),
                            });
                        }
                    };
                    let kind = self
                        .services
                        .iter()
                        .find(|b| b.service.id() == e.key_service_id)
                        .map_or(EntryKind::Kms, |b| b.service.entry_kind());
                    entries.push(WrappedKeyEntry {
                        kind,
                        key_service_id: e.key_service_id.clone(),
                        key_id: to.map_or_else(|| e.key_id.clone(), String::from),
                        wrapped,
                    });
                }
                // FORMAT.md §4.4 on the header parsed above
                Ok(Some(Rewrapped::of_parsed(h, *body_offset, entries)?))
            })
            .collect()
    }

    /// The configured service that rewraps entry `e` (§4.2: unconfigured services and unknown
    /// kinds are kept as they are).
    fn rewrap_binding(&self, e: &WrappedKeyEntry) -> Option<usize> {
        if matches!(e.kind, EntryKind::Unknown(_)) {
            return None;
        }
        self.services
            .iter()
            .position(|b| b.service.id() == e.key_service_id)
    }
}

/// Most questions in one `/rewrap-batch` request: 100 items stay well under the reference
/// service's 64 KiB default body limit (about 300 bytes each).
pub const REWRAP_BATCH_MAX: usize = 100;

/// One distinct rewrap question of [`KeySeal::rewrap_many`] and, once known, its answer.
struct Asked<'a> {
    service: usize,
    entry: &'a WrappedKeyEntry,
    context: &'a EncryptionContext,
    to: Option<&'a str>,
    digest: QuestionDigest,
    answer: Option<Result<Vec<u8>, Error>>,
}
