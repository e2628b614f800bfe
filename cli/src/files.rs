//! Inputs and outputs of `encrypt`/`decrypt`: a file or a pipe in, a file or a pipe out. A file
//! output is written to a temporary file in the target's directory and renamed over the target
//! only on success, so a failure never leaves a partial or unauthenticated output behind.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::CliError;

/// Where bytes come from.
pub struct Source {
    /// The reader.
    pub reader: Box<dyn Read + Send>,
    /// The length, for a regular file.
    pub len: Option<u64>,
    /// The path (`-` for standard input).
    pub path: PathBuf,
}

impl Source {
    /// `-` is standard input.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        if path == Path::new("-") {
            return Ok(Self {
                reader: Box::new(std::io::stdin()),
                len: None,
                path: path.into(),
            });
        }
        let f = File::open(path).map_err(|e| CliError::io(path, e))?;
        let meta = f.metadata().map_err(|e| CliError::io(path, e))?;
        Ok(Self {
            reader: Box::new(f),
            len: meta.is_file().then_some(meta.len()),
            path: path.into(),
        })
    }
}

/// Where bytes go.
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<std::io::Stdout>),
    /// Something that is not a regular file (`/dev/null`, a FIFO, a terminal): written in place,
    /// like standard output. Never a temporary file renamed over it: that would replace the device
    /// or pipe with a regular file (a rename over `/dev/null` breaks every later `> /dev/null` on
    /// the machine).
    Special(BufWriter<File>, PathBuf),
    /// A temporary file renamed to `dest` by [`Sink::commit`]; deleted when dropped before that.
    File {
        /// The temporary file.
        tmp: BufWriter<NamedTempFile>,
        /// The final path.
        dest: PathBuf,
    },
}

impl Sink {
    /// `-` is standard output.
    pub fn create(path: &Path) -> Result<Self, CliError> {
        if path == Path::new("-") {
            return Ok(Self::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())));
        }
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
            && !meta.is_dir()
        {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| CliError::io(path, e))?;
            return Ok(Self::Special(BufWriter::with_capacity(1 << 16, f), path.into()));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".keyseal-tmp-")
            .tempfile_in(dir)
            .map_err(|e| CliError::io(dir, e))?;
        Ok(Self::File {
            tmp: BufWriter::with_capacity(1 << 16, tmp),
            dest: path.into(),
        })
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Stdout(w) => w,
            Self::Special(w, _) => w,
            Self::File { tmp, .. } => tmp,
        }
    }

    /// Flushes, and for a file syncs and renames it into place.
    pub fn commit(self) -> Result<(), CliError> {
        match self {
            Self::Stdout(mut w) => w.flush().map_err(|e| CliError::io("-", e)),
            Self::Special(mut w, path) => w.flush().map_err(|e| CliError::io(&path, e)),
            Self::File { tmp, dest } => {
                let tmp = tmp
                    .into_inner()
                    .map_err(|e| CliError::io(&dest, e.into_error()))?;
                tmp.as_file().sync_all().map_err(|e| CliError::io(&dest, e))?;
                tmp.persist(&dest).map_err(|e| CliError::io(&dest, e.error))?;
                Ok(())
            }
        }
    }
}

/// Reads exactly the header at the start of `r` (FORMAT.md §4.3); a stream that ends first is
/// `INVALID_FORMAT`.
pub fn read_header(r: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    loop {
        let want = match keyseal::Header::length_from_prefix(&buf)? {
            keyseal::HeaderLength::NeedAtLeast(n) => n,
            keyseal::HeaderLength::Complete(n) if n <= buf.len() => return Ok(buf),
            keyseal::HeaderLength::Complete(n) => n,
        };
        let have = buf.len();
        buf.resize(want, 0);
        let mut got = have;
        while got < want {
            match r.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(keyseal::FormatError::InvalidFormat {
                        reason: "truncated header",
                    }
                    .into());
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CliError::io("-", e)),
            }
        }
    }
}
