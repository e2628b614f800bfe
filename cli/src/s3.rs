//! S3-compatible targets of `rewrap` and `backlog` (`s3://bucket/prefix`, `--endpoint` for stores
//! other than AWS), through `object_store`'s S3 client. Credentials and region come from the usual
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`;
//! `object_store::aws::AmazonS3Builder::from_env`). An S3 object cannot be changed in part, so
//! a new header means a new object: header ‖ old body, written with `If-Match` on the ETag that
//! was read (a concurrent writer's object is never overwritten: the rewrap of that object fails
//! with `IO_ERROR` and a re-run picks it up). Headers are read with ranged GETs.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::error::CliError;

/// One bucket (and its client) with the runtime its calls run on.
pub struct Bucket {
    /// `s3://bucket`.
    pub url: String,
    store: AmazonS3,
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, CliError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| CliError::Internal(format!("tokio runtime: {e}")))
}

fn s3_err(what: &str, e: object_store::Error) -> CliError {
    CliError::io(what, std::io::Error::other(e.to_string()))
}

/// Splits `s3://bucket/prefix` into bucket and prefix.
pub fn parse_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, prefix.trim_end_matches('/')))
}

impl Bucket {
    /// A client for `bucket`, at `endpoint` when given (path-style requests; plain `http` allowed
    /// only for an explicit endpoint).
    pub fn open(bucket: &str, endpoint: Option<&str>) -> Result<Arc<Self>, CliError> {
        runtime()?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(e) = endpoint {
            b = b
                .with_endpoint(e)
                .with_allow_http(e.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = b
            .build()
            .map_err(|e| CliError::Usage(format!("s3://{bucket}: {e}")))?;
        Ok(Arc::new(Self {
            url: format!("s3://{bucket}"),
            store,
        }))
    }

    /// Every object key under `prefix`, sorted, with its size.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, CliError> {
        let p = (!prefix.is_empty()).then(|| ObjPath::from(prefix));
        let mut all: Vec<(String, u64)> = runtime()?
            .block_on(self.store.list(p.as_ref()).try_collect::<Vec<_>>())
            .map_err(|e| s3_err(&self.url, e))?
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect();
        all.sort();
        Ok(all)
    }

    /// Bytes `range` of `key` (clamped to `size`).
    pub fn get_range(&self, key: &str, range: Range<u64>, size: u64) -> Result<Vec<u8>, CliError> {
        let range = range.start.min(size)..range.end.min(size);
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = runtime()?
            .block_on(self.store.get_range(&ObjPath::from(key), range))
            .map_err(|e| s3_err(key, e))?;
        Ok(bytes.to_vec())
    }

    /// Replaces `key`'s first `old_header_len` bytes with `header`: GET the object (and its
    /// ETag), PUT header ‖ body with `If-Match`.
    pub fn replace_header(&self, key: &str, header: &[u8], old_header_len: usize) -> Result<(), CliError> {
        let path = ObjPath::from(key);
        let rt = runtime()?;
        rt.block_on(async {
            let got = self.store.get(&path).await?;
            let version = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            let body = got.bytes().await?;
            let mut out = Vec::with_capacity(header.len() + body.len().saturating_sub(old_header_len));
            out.extend_from_slice(header);
            out.extend_from_slice(body.get(old_header_len..).unwrap_or_default());
            let opts = PutOptions {
                mode: PutMode::Update(version),
                ..PutOptions::default()
            };
            self.store.put_opts(&path, PutPayload::from(out), opts).await?;
            Ok::<(), object_store::Error>(())
        })
        .map_err(|e| s3_err(key, e))
    }
}
