//! `keyseal encrypt` and `keyseal decrypt`: the core prepares the message (context, data key from
//! the key service, header, commitment; FORMAT.md §7.1–§7.2 up to the body) and the body streams
//! through the native pipeline (`pipeline.rs`) or, with `--engine rustcrypto`, through the core's
//! own streams. Memory is bounded by the segment size whatever the message size.

use std::io::{Chain, Cursor, Read};

use keyseal::format::ecdsa_p256::SignatureKeyPair;
use keyseal::format::signature::SignatureChain;
use keyseal::{EncryptionContext, ExternalJob, Header, Suite};

use crate::args::{DecryptArgs, EncryptArgs, EngineArgs};
use crate::engine::{EngineChoice, RingCipher};
use crate::error::CliError;
use crate::files::{Sink, Source, read_header};
use crate::pipeline::{self, Direction, Plan, Signing};
use crate::progress::Progress;
use crate::service::{Settings, data_key_from_file};
use crate::transport::block_on;

fn threads(e: &EngineArgs) -> usize {
    e.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1)
}

fn context_of(pairs: &[(String, String)]) -> Result<EncryptionContext, CliError> {
    Ok(EncryptionContext::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?)
}

/// Reads `r` in chunks of `n` bytes, calling `f` on each, until it ends.
fn chunks(
    r: &mut dyn Read,
    n: usize,
    mut f: impl FnMut(&[u8]) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut buf = vec![0u8; n];
    loop {
        let got = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io("-", e)),
        };
        f(&buf[..got])?;
    }
}

/// `keyseal encrypt`.
pub fn encrypt(a: EncryptArgs) -> Result<(), CliError> {
    let settings = Settings::from_args(&a.service)?;
    if settings.key_id.is_none() {
        return Err(CliError::Usage(
            "encrypt needs --key-id (or KEYSEAL_KEY_ID)".into(),
        ));
    }
    let ks = settings.keyseal(None, a.engine.engine, a.segment_size)?;
    let context = context_of(&a.context)?;
    let mut src = Source::open(&a.input)?;
    let mut sink = Sink::create(&a.output)?;
    let progress = Progress::new("encrypt", src.len);
    match a.engine.engine {
        EngineChoice::Rustcrypto => {
            let mut stream = if a.sign {
                block_on(ks.begin_encrypt_signed(&context))?
            } else {
                block_on(ks.begin_encrypt(&context, None))?
            };
            let w = sink.writer();
            w.write_all(stream.header()).map_err(|e| CliError::io("-", e))?;
            chunks(&mut src.reader, 1 << 16, |c| {
                let out = stream.push(c)?;
                progress.add(c.len() as u64);
                w.write_all(&out).map_err(|e| CliError::io("-", e))
            })?;
            let out = stream.finish()?;
            w.write_all(&out).map_err(|e| CliError::io("-", e))?;
        }
        EngineChoice::Native => {
            let signer = a.sign.then(SignatureKeyPair::generate).transpose()?;
            let vk = signer.as_ref().map(SignatureKeyPair::public_sec1);
            let mut job = block_on(ks.prepare_external_encrypt(&context, None, vk.as_ref()))?;
            let r = seal_body(
                &mut job,
                &a.engine,
                a.segment_size,
                &mut src,
                &mut sink,
                signer.as_ref(),
                &progress,
            );
            job.finish(r.is_ok(), r.as_ref().map_or(0, |n| *n));
            r?;
        }
    }
    progress.done();
    sink.commit()
}

fn seal_body(
    job: &mut ExternalJob,
    engine: &EngineArgs,
    segment_size: u32,
    src: &mut Source,
    sink: &mut Sink,
    signer: Option<&SignatureKeyPair>,
    progress: &Progress,
) -> Result<u64, CliError> {
    let key = job
        .segments
        .take_key()
        .ok_or_else(|| CliError::Internal("payload key taken twice".into()))?;
    let cipher = RingCipher::new(&key)?;
    drop(key);
    let w = sink.writer();
    w.write_all(&job.header).map_err(|e| CliError::io("-", e))?;
    let signing = match (job.signature.take(), signer) {
        (Some(chain), Some(k)) => Signing::Sign(chain, k),
        _ => Signing::None,
    };
    let plan = Plan {
        direction: Direction::Seal,
        segment_size,
        threads: threads(engine),
    };
    let (n, _) = pipeline::run(plan, &cipher, &mut src.reader, w, signing, &|n| progress.add(n))?;
    Ok(n)
}

/// `keyseal decrypt`.
pub fn decrypt(a: DecryptArgs) -> Result<(), CliError> {
    let required = context_of(&a.require_context)?;
    let mut src = Source::open(&a.input)?;
    let header_bytes = read_header(&mut src.reader)?;
    let after_header = src.len.map(|l| l.saturating_sub(header_bytes.len() as u64));
    let progress = Progress::new("decrypt", src.len);
    let mut sink = Sink::create(&a.output)?;
    if let Some(p) = &a.data_key_file {
        // Break-glass / vectors: no key service; the same checks in the same order (§7.2).
        let dek = data_key_from_file(p)?;
        let (header, _) = Header::parse(&header_bytes)?;
        header.context().require(&required)?;
        if a.require_signed && header.suite() != Suite::Signed {
            return Err(keyseal::Error::Unsigned.into());
        }
        if let Some(n) = after_header {
            keyseal::BodyLayout::for_message(&header, n)?;
        }
        match a.engine.engine {
            EngineChoice::Rustcrypto => {
                let mut opener = keyseal::SegmentOpener::new(&keyseal::RustCryptoEngine, &header, &dek)?;
                let w = sink.writer();
                chunks(&mut src.reader, 1 << 16, |c| {
                    let mut out = Vec::new();
                    opener.push(c, &mut out)?;
                    progress.add(c.len() as u64);
                    w.write_all(&out).map_err(|e| CliError::io("-", e))
                })?;
                let mut out = Vec::new();
                opener.finish(&mut out)?;
                w.write_all(&out).map_err(|e| CliError::io("-", e))?;
            }
            EngineChoice::Native => {
                let mut segs = keyseal::ExternalSegments::for_open(&header, &dek)?;
                let chain =
                    (header.suite() == Suite::Signed).then(|| SignatureChain::new(header.auth_hash()));
                let vk = header.verification_key().copied();
                open_body(
                    &mut segs,
                    chain,
                    vk,
                    header.segment_size(),
                    &a.engine,
                    &mut src.reader,
                    &mut sink,
                    &progress,
                )?;
            }
        }
        progress.done();
        return sink.commit();
    }
    let settings = Settings::from_args(&a.service)?;
    let ks = settings.keyseal(None, a.engine.engine, keyseal::DEFAULT_SEGMENT_SIZE)?;
    match a.engine.engine {
        EngineChoice::Rustcrypto => {
            let mut stream = if a.require_signed {
                ks.begin_decrypt_signed(required)
            } else {
                ks.begin_decrypt(required)
            };
            let w = sink.writer();
            let mut input: Chain<Cursor<Vec<u8>>, &mut Box<dyn Read + Send>> =
                Cursor::new(header_bytes).chain(&mut src.reader);
            chunks(&mut input, 1 << 16, |c| {
                let out = block_on(stream.push(&ks, c))?;
                progress.add(c.len() as u64);
                w.write_all(&out).map_err(|e| CliError::io("-", e))
            })?;
            let out = stream.finish()?;
            w.write_all(&out).map_err(|e| CliError::io("-", e))?;
        }
        EngineChoice::Native => {
            let mut job = block_on(ks.prepare_external_decrypt(
                &header_bytes,
                after_header,
                &required,
                a.require_signed,
            ))?;
            let (header, _) = Header::parse(&header_bytes)?;
            let chain = job.signature.take();
            let vk = job.verification_key;
            let r = open_body(
                &mut job.segments,
                chain,
                vk,
                header.segment_size(),
                &a.engine,
                &mut src.reader,
                &mut sink,
                &progress,
            );
            let sealed = header_bytes.len() as u64 + r.as_ref().map_or(0, |n| *n);
            job.finish(r.is_ok(), sealed);
            r?;
        }
    }
    progress.done();
    sink.commit()
}

#[allow(clippy::too_many_arguments)]
fn open_body(
    segs: &mut keyseal::ExternalSegments,
    chain: Option<SignatureChain>,
    vk: Option<[u8; keyseal::format::ecdsa_p256::PUBLIC_KEY_LEN]>,
    segment_size: u32,
    engine: &EngineArgs,
    input: &mut (dyn Read + Send),
    sink: &mut Sink,
    progress: &Progress,
) -> Result<u64, CliError> {
    let key = segs
        .take_key()
        .ok_or_else(|| CliError::Internal("payload key taken twice".into()))?;
    let cipher = RingCipher::new(&key)?;
    drop(key);
    let signing = match (chain, vk) {
        (Some(c), Some(vk)) => Signing::Verify(c, vk),
        _ => Signing::None,
    };
    let plan = Plan {
        direction: Direction::Open,
        segment_size,
        threads: threads(engine),
    };
    let (n, _) = pipeline::run(plan, &cipher, input, sink.writer(), signing, &|n| progress.add(n))?;
    Ok(n)
}
