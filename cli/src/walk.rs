//! The objects under rewrap/backlog targets: files, directories walked recursively (symbolic
//! links and our own temporary files are not followed or taken) and S3 prefixes
//! (`s3://bucket/prefix`, `s3.rs`), sorted; reading a header and writing a new one wherever the
//! object lives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::s3::Bucket;

use sha2::{Digest, Sha256};

use crate::error::CliError;

/// Where an object lives.
#[derive(Clone)]
pub enum Place {
    /// A file.
    File(PathBuf),
    /// An S3 object: its bucket, key and size.
    S3(Arc<Bucket>, String, u64),
}

/// One stored object.
#[derive(Clone)]
pub struct Object {
    /// Where it is.
    pub place: Place,
    /// Its id in journals and reports: the path as given, or `s3://bucket/key`.
    pub id: String,
    /// Its path relative to its target (what the shard is computed from).
    pub rel: String,
}

/// Whether a file name is one of ours (temporary files, journals).
fn ours(name: &str) -> bool {
    name.starts_with(".keyseal-tmp-") || (name.starts_with("keyseal-rewrap") && name.ends_with(".journal"))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Object>) -> Result<(), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CliError::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::io(dir, e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let ft = e.file_type().map_err(|err| CliError::io(e.path(), err))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if ours(&name) {
            continue;
        }
        let path = e.path();
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push(Object {
                id: path.to_string_lossy().into_owned(),
                place: Place::File(path),
                rel,
            });
        }
    }
    Ok(())
}

/// Every object under `targets`, in a stable order. `endpoint` is the S3 endpoint of `s3://` targets.
pub fn objects(targets: &[PathBuf], endpoint: Option<&str>) -> Result<Vec<Object>, CliError> {
    let mut out = Vec::new();
    for t in targets {
        if let Some((bucket, prefix)) = t.to_str().and_then(crate::s3::parse_url) {
            let b = Bucket::open(bucket, endpoint)?;
            for (key, size) in b.list(prefix)? {
                let rel = key
                    .strip_prefix(prefix)
                    .map_or(key.as_str(), |r| r.trim_start_matches('/'))
                    .to_owned();
                out.push(Object {
                    id: format!("{}/{key}", b.url),
                    place: Place::S3(b.clone(), key, size),
                    rel,
                });
            }
            continue;
        }
        let meta = std::fs::symlink_metadata(t).map_err(|e| CliError::io(t, e))?;
        if meta.is_dir() {
            walk(t, t, &mut out)?;
        } else {
            let rel = t.file_name().map_or_else(
                || t.to_string_lossy().into_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            out.push(Object {
                id: t.to_string_lossy().into_owned(),
                place: Place::File(t.clone()),
                rel,
            });
        }
    }
    Ok(out)
}

/// Shard of an object: SHA-256 of its relative path, mod `n` (stable across runs and machines).
pub fn shard_of(rel: &str, n: u32) -> u32 {
    let d = Sha256::digest(rel.as_bytes());
    let x = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    (x % u64::from(n)) as u32
}

/// The header of an object (FORMAT.md §4.3). `Ok(None)` when it is not a keyseal object at all
/// (no magic).
pub fn read_object_header(o: &Object) -> Result<Option<Vec<u8>>, CliError> {
    match &o.place {
        Place::File(p) => read_file_header(p),
        Place::S3(b, key, size) => {
            let mut have = b.get_range(key, 0..4096, *size)?;
            if have.len() < 4 || have[..4] != keyseal::header::MAGIC {
                return Ok(None);
            }
            loop {
                match keyseal::Header::length_from_prefix(&have)? {
                    keyseal::HeaderLength::Complete(n) if n <= have.len() => {
                        have.truncate(n);
                        return Ok(Some(have));
                    }
                    keyseal::HeaderLength::NeedAtLeast(n) | keyseal::HeaderLength::Complete(n) => {
                        if n as u64 > *size {
                            return Err(keyseal::FormatError::InvalidFormat {
                                reason: "truncated header",
                            }
                            .into());
                        }
                        have = b.get_range(key, 0..n as u64, *size)?;
                    }
                }
            }
        }
    }
}

fn read_file_header(path: &Path) -> Result<Option<Vec<u8>>, CliError> {
    let mut f = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match std::io::Read::read(&mut f, &mut magic[got..]) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CliError::io(path, e)),
        }
    }
    if magic != keyseal::header::MAGIC {
        return Ok(None);
    }
    let mut r = std::io::Read::chain(&magic[..], f);
    crate::files::read_header(&mut r).map(Some)
}
