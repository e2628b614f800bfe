//! `keyseal rewrap`: header-only rotation of stored objects (FORMAT.md §4.4, PROTOCOL.md §3.5.1).
//!
//! The job: list the objects (sorted; `--shard I/N` keeps those whose path hashes to I), drop the
//! ones the journal records as done, then `--concurrency` workers — each with its own `KeySeal`
//! and key-service connection — take batches of `--batch-size` objects: read each header, skip
//! it when already current and rewrap the rest in one `/rewrap-batch` request
//! (`KeySeal::rewrap_many_unless_current`, against the newest version read once per worker; one
//! parse per header for both), and write each new header. A header
//! of the same length is written in place with one `pwrite` (the body is not read); a header of
//! another length (the key id changed length) means a new file: header ‖ old body, written to a
//! temporary file beside the object and renamed over it. The journal gets one JSON line per
//! object once its new header is in place, so a job killed at any point resumes with nothing
//! lost and nothing rewrapped twice: an object rewritten but not yet journaled is found current
//! and skipped.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::channel;

use serde_json::json;

use crate::args::RewrapArgs;
use crate::engine::EngineChoice;
use crate::error::CliError;
use crate::progress::Progress;
use crate::service::Settings;
use crate::transport::block_on;
use crate::walk::{Object, Place, objects, read_object_header, shard_of};

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its new header is in place (or, with `--dry-run`, it would be rewrapped).
    Done,
    /// Already current.
    Skipped,
    /// Not a keyseal object (no magic): left alone.
    Ignored,
    /// Failed with this code and message.
    Failed(&'static str, String),
}

/// The journal of a job: the objects done or current so far, appended as they finish.
pub struct Journal {
    file: File,
    finished: HashSet<String>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads what it recorded.
    pub fn open(path: &Path, to_key_id: &str, shard: Option<(u32, u32)>) -> Result<Self, CliError> {
        let mut finished = HashSet::new();
        if let Ok(f) = File::open(path) {
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| CliError::io(path, e))?;
                // A line cut by a crash is not valid JSON and is ignored.
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if let Some(to) = v["toKeyId"].as_str()
                    && to != to_key_id
                {
                    return Err(CliError::Usage(format!(
                        "{} is the journal of a job to {to}; use another --journal",
                        path.display()
                    )));
                }
                if matches!(v["status"].as_str(), Some("done" | "skipped"))
                    && let Some(o) = v["object"].as_str()
                {
                    finished.insert(o.to_owned());
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| CliError::io(path, e))?;
        let start = json!({
            "job": "rewrap",
            "toKeyId": to_key_id,
            "shard": shard.map(|(i, n)| format!("{i}/{n}")),
            "resumedWith": finished.len(),
        });
        // A line cut by a crash ends without a newline: start on a fresh line.
        writeln!(file, "\n{start}").map_err(|e| CliError::io(path, e))?;
        Ok(Self { file, finished })
    }

    fn record(&mut self, object: &str, outcome: &Outcome) -> std::io::Result<()> {
        let v = match outcome {
            Outcome::Done => json!({"object": object, "status": "done"}),
            Outcome::Skipped => json!({"object": object, "status": "skipped"}),
            Outcome::Ignored => json!({"object": object, "status": "ignored"}),
            Outcome::Failed(code, _) => json!({"object": object, "status": "failed", "code": code}),
        };
        writeln!(self.file, "{v}")
    }
}

/// The final report.
#[derive(Debug, Default)]
pub struct Report {
    /// Objects in scope (after the shard).
    pub objects: u64,
    /// Rewrapped (or would be, on a dry run).
    pub done: u64,
    /// Already current (this run, or done by an earlier run of the journal).
    pub skipped: u64,
    /// Skipped because the journal had them.
    pub from_journal: u64,
    /// Not keyseal objects.
    pub ignored: u64,
    /// Failed, by code.
    pub failed: BTreeMap<&'static str, u64>,
    /// The first failures (object, code, message).
    pub failures: Vec<(String, &'static str, String)>,
}

impl Report {
    fn add(&mut self, id: &str, o: Outcome) {
        match o {
            Outcome::Done => self.done += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Ignored => self.ignored += 1,
            Outcome::Failed(code, msg) => {
                *self.failed.entry(code).or_default() += 1;
                if self.failures.len() < 100 {
                    self.failures.push((id.to_owned(), code, msg));
                }
            }
        }
    }

    fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

fn default_journal(shard: Option<(u32, u32)>) -> PathBuf {
    match shard {
        Some((i, n)) => PathBuf::from(format!("keyseal-rewrap.shard-{i}-of-{n}.journal")),
        None => PathBuf::from("keyseal-rewrap.journal"),
    }
}

/// `keyseal rewrap`.
pub fn run(a: RewrapArgs) -> Result<(), CliError> {
    let settings = Settings::from_args(&a.service)?;
    if a.concurrency == 0 || a.batch_size == 0 || a.batch_size > 1000 {
        return Err(CliError::Usage(
            "--concurrency must be ≥ 1 and --batch-size 1..=1000".into(),
        ));
    }
    let journal_path = a.journal.clone().unwrap_or_else(|| default_journal(a.shard));
    let mut journal = if a.dry_run {
        None
    } else {
        Some(Journal::open(&journal_path, &a.to_key_id, a.shard)?)
    };
    let mut report = Report::default();
    let mut todo = Vec::new();
    for o in objects(&a.targets, a.endpoint.as_deref())? {
        if let Some((i, n)) = a.shard
            && shard_of(&o.rel, n) != i
        {
            continue;
        }
        report.objects += 1;
        if journal.as_ref().is_some_and(|j| j.finished.contains(&o.id)) {
            report.skipped += 1;
            report.from_journal += 1;
            continue;
        }
        todo.push(o);
    }
    let progress = Progress::objects("rewrap", todo.len() as u64);
    let batches: VecDeque<Vec<Object>> = todo.chunks(a.batch_size).map(<[Object]>::to_vec).collect();
    let queue = Mutex::new(batches);
    let (tx, rx) = channel::<Vec<(String, Outcome)>>();
    let workers = a.concurrency.min(queue.lock().map_or(1, |q| q.len()).max(1));
    let result: Result<(), CliError> = std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, settings, a) = (&queue, &settings, &a);
            scope.spawn(move || worker(settings, a, queue, &tx));
        }
        drop(tx);
        for batch in rx {
            for (id, outcome) in batch {
                if let Some(j) = journal.as_mut() {
                    j.record(&id, &outcome)
                        .map_err(|e| CliError::io(&journal_path, e))?;
                }
                progress.add(1);
                report.add(&id, outcome);
            }
            if let Some(j) = journal.as_mut() {
                j.file.flush().map_err(|e| CliError::io(&journal_path, e))?;
                if !a.no_fsync {
                    j.file.sync_data().map_err(|e| CliError::io(&journal_path, e))?;
                }
            }
        }
        Ok(())
    });
    progress.done();
    result?;
    print_report(&report, &a)?;
    match report.failed_total() {
        0 => Ok(()),
        n => Err(CliError::Incomplete { failed: n }),
    }
}

fn worker(
    settings: &Settings,
    a: &RewrapArgs,
    queue: &Mutex<VecDeque<Vec<Object>>>,
    tx: &std::sync::mpsc::Sender<Vec<(String, Outcome)>>,
) {
    let setup = settings
        .keyseal(
            Some(&a.to_key_id),
            EngineChoice::Native,
            keyseal::DEFAULT_SEGMENT_SIZE,
        )
        .and_then(|ks| {
            let newest = if settings.has_versions() {
                Some(block_on(ks.newest_version(Some(&a.to_key_id)))?)
            } else {
                None
            };
            Ok((ks, newest))
        });
    loop {
        let Some(batch) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            return;
        };
        let outcomes = match &setup {
            Ok((ks, newest)) => rewrap_batch(ks, *newest, a, &batch),
            Err(e) => batch
                .iter()
                .map(|o| (o.id.clone(), Outcome::Failed(e.code(), e.to_string())))
                .collect(),
        };
        if tx.send(outcomes).is_err() {
            return;
        }
    }
}

fn failed(e: &CliError) -> Outcome {
    Outcome::Failed(e.code(), e.to_string())
}

fn rewrap_batch(
    ks: &keyseal::KeySeal,
    newest: Option<u32>,
    a: &RewrapArgs,
    batch: &[Object],
) -> Vec<(String, Outcome)> {
    let mut out: Vec<(String, Outcome)> = Vec::with_capacity(batch.len());
    let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
    for o in batch {
        let outcome = match read_object_header(o) {
            Ok(None) => Outcome::Ignored,
            // --dry-run only reports what a run would do: the skip check alone
            Ok(Some(h)) if a.dry_run => match ks.is_current(&h, Some(&a.to_key_id), newest) {
                Ok(true) => Outcome::Skipped,
                Ok(false) => Outcome::Done,
                Err(e) => failed(&e.into()),
            },
            // the check and the rewrap together below, on one parse of each header
            Ok(Some(h)) => {
                pending.push((out.len(), h));
                Outcome::Done
            }
            Err(e) => failed(&e),
        };
        out.push((o.id.clone(), outcome));
    }
    if pending.is_empty() {
        return out;
    }
    let prefixes: Vec<&[u8]> = pending.iter().map(|(_, h)| h.as_slice()).collect();
    let answers = block_on(ks.rewrap_many_unless_current(&prefixes, Some(&a.to_key_id), newest));
    for ((i, _), answer) in pending.iter().zip(answers) {
        let o = &batch[*i];
        out[*i].1 = match answer {
            Ok(None) => Outcome::Skipped,
            Ok(Some(rw)) => match write_object_header(o, &rw, !a.no_fsync) {
                Ok(()) => Outcome::Done,
                Err(e) => failed(&e),
            },
            Err(e) => failed(&e.into()),
        };
    }
    out
}

fn write_object_header(o: &Object, rw: &keyseal::Rewrapped, fsync: bool) -> Result<(), CliError> {
    match &o.place {
        Place::File(p) => write_header(p, rw, fsync),
        Place::S3(b, key, _) => b.replace_header(key, &rw.header, rw.body_offset),
    }
}

/// Puts `rw.header` in place of a file's header: in place when the length is the same,
/// else a new file (header ‖ old body) renamed over the object.
fn write_header(path: &Path, rw: &keyseal::Rewrapped, fsync: bool) -> Result<(), CliError> {
    let io = |e| CliError::io(path, e);
    if rw.header.len() == rw.body_offset {
        let f = OpenOptions::new().write(true).open(path).map_err(io)?;
        f.write_all_at(&rw.header, 0).map_err(io)?;
        if fsync {
            f.sync_data().map_err(io)?;
        }
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut old = File::open(path).map_err(io)?;
    let perms = old.metadata().map_err(io)?.permissions();
    old.seek(SeekFrom::Start(rw.body_offset as u64)).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".keyseal-tmp-")
        .tempfile_in(dir)
        .map_err(|e| CliError::io(dir, e))?;
    tmp.write_all(&rw.header).map_err(io)?;
    std::io::copy(&mut old, &mut tmp).map_err(io)?;
    tmp.as_file().set_permissions(perms).map_err(io)?;
    if fsync {
        tmp.as_file().sync_all().map_err(io)?;
    }
    tmp.persist(path).map_err(|e| CliError::io(path, e.error))?;
    if fsync {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CliError::io(dir, e))?;
    }
    Ok(())
}

fn print_report(r: &Report, a: &RewrapArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let failed: serde_json::Map<String, serde_json::Value> = r
        .failed
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    if a.json {
        let v = json!({
            "toKeyId": a.to_key_id,
            "dryRun": a.dry_run,
            "shard": a.shard.map(|(i, n)| format!("{i}/{n}")),
            "objects": r.objects,
            "done": r.done,
            "skipped": r.skipped,
            "skippedFromJournal": r.from_journal,
            "ignored": r.ignored,
            "failed": r.failed_total(),
            "failedByCode": failed,
            "failures": r.failures.iter().map(|(o, c, m)| json!({"object": o, "code": c, "message": m})).collect::<Vec<_>>(),
        });
        writeln!(out, "{v}").map_err(|e| CliError::io("-", e))?;
        return Ok(());
    }
    let verb = if a.dry_run { "would rewrap" } else { "rewrapped" };
    writeln!(
        out,
        "{} objects: {verb} {}, skipped {} (current; {} from the journal), ignored {} (not keyseal), failed {}",
        r.objects, r.done, r.skipped, r.from_journal, r.ignored, r.failed_total()
    )
    .map_err(|e| CliError::io("-", e))?;
    for (code, n) in &r.failed {
        writeln!(out, "  failed {code}: {n}").map_err(|e| CliError::io("-", e))?;
    }
    for (o, code, m) in &r.failures {
        writeln!(out, "  {o}: {code}: {m}").map_err(|e| CliError::io("-", e))?;
    }
    Ok(())
}
