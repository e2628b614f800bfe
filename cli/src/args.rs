//! The command line (clap derive). Each command's work is in a file of its own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::EngineChoice;

/// keyseal: client-side envelope encryption under your own key service.
#[derive(Debug, Parser)]
#[command(name = "keyseal", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal a file or standard input.
    Encrypt(EncryptArgs),
    /// Open a sealed file or standard input.
    Decrypt(DecryptArgs),
    /// Print header facts (key ids and versions, context, sizes, signed or not); no key is used.
    Inspect(InspectArgs),
    /// Re-wrap data keys of every object under TARGETs to the newest version of a key, header only.
    Rewrap(RewrapArgs),
    /// Count objects not on the newest version of their key (or not under --to-key-id).
    Backlog(BacklogArgs),
}

/// The kinds of key service the SDK speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The keyseal key-service protocol v1 (`keyseal-kms` and compatible services).
    #[default]
    Keyseal,
    /// AWS KMS (SigV4; credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
    AwsKms,
}

/// Key services, from flags, the environment or a config file.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// The kind of key service.
    #[arg(long, value_enum, env = "KEYSEAL_KIND")]
    pub kind: Option<Kind>,
    /// AWS region of an `aws-kms` service (its endpoint defaults to `https://kms.REGION.amazonaws.com`).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Key-service base URL ending in /v1 (repeat for failover, tried in order); for `aws-kms`
    /// the endpoint(s). Env: a comma-separated KEYSEAL_KEY_SERVICE.
    #[arg(long = "key-service", env = "KEYSEAL_KEY_SERVICE", value_delimiter = ',')]
    pub key_service: Vec<String>,
    /// The key-service id written into (and looked for in) wrapped-key entries.
    #[arg(long = "service-id", env = "KEYSEAL_SERVICE_ID", default_value = "keyseal")]
    pub service_id: String,
    /// The key new data keys are wrapped under (encrypt), or the default rewrap target.
    #[arg(long = "key-id", env = "KEYSEAL_KEY_ID")]
    pub key_id: Option<String>,
    /// A command run for each token (its standard output is the token). Without it the token
    /// is KEYSEAL_TOKEN from the environment (never a flag: command lines are visible to others).
    #[arg(long = "token-cmd", env = "KEYSEAL_TOKEN_CMD")]
    pub token_cmd: Option<String>,
    /// The key service's identity public key (base64 SEC1, `keyseal-kms identity show`): every
    /// answer must be signed by it.
    #[arg(long = "identity", env = "KEYSEAL_KMS_IDENTITY")]
    pub identity: Option<String>,
    /// Key ids decrypt may use besides --key-id (exact, or a prefix ending in `*`; repeatable).
    /// Default `*`: any key id at the configured service, which still authorizes each unwrap.
    #[arg(long = "allow-key-id")]
    pub allow_key_id: Vec<String>,
    /// Accept `hpke-p256` entries (offline wraps anyone with the public key can make).
    #[arg(long)]
    pub accept_public_key_entries: bool,
    /// A JSON config file: {"keyService": [URL…], "serviceId", "keyId", "tokenCmd", "identity"}.
    /// Flags and environment variables win over it.
    #[arg(long, env = "KEYSEAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Per-attempt timeout of key-service calls, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// AES-GCM engine settings.
#[derive(Debug, Clone, Copy, Args)]
pub struct EngineArgs {
    /// The AES-256-GCM engine.
    #[arg(long, value_enum, default_value_t = EngineChoice::Native)]
    pub engine: EngineChoice,
    /// Threads sealing or opening segments (default: the cores available).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `keyseal encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Input file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
    /// Output file (written to a temporary file beside it and renamed on success), or `-`.
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Context pair bound to the data key (repeatable).
    #[arg(long = "context", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Sign the message (suite 2: writer-authenticated).
    #[arg(long)]
    pub sign: bool,
    /// Plaintext bytes per segment.
    #[arg(long, default_value_t = keyseal::DEFAULT_SEGMENT_SIZE)]
    pub segment_size: u32,
    /// Key services.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Engine.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `keyseal decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Input file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
    /// Output file (written to a temporary file beside it and renamed on success), or `-`.
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// A context pair the message must carry (repeatable); checked before any key-service call.
    #[arg(long = "require-context", value_parser = parse_pair)]
    pub require_context: Vec<(String, String)>,
    /// Refuse messages that are not signed (DOWNGRADE_REFUSED).
    #[arg(long)]
    pub require_signed: bool,
    /// Open with this data key (a file holding 64 hex digits) instead of asking a key service:
    /// for test vectors and break-glass recovery. Never pass keys on the command line.
    #[arg(long)]
    pub data_key_file: Option<PathBuf>,
    /// Key services.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Engine.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `keyseal inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Sealed files (`-` for standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per file, one per line.
    #[arg(long)]
    pub json: bool,
}

/// `keyseal rewrap`.
#[derive(Debug, Args)]
pub struct RewrapArgs {
    /// Files, directories (recursive) and S3 prefixes (`s3://bucket/prefix`).
    #[arg(required = true)]
    pub targets: Vec<PathBuf>,
    /// The S3 endpoint for `s3://` targets on stores other than AWS (e.g. `http://127.0.0.1:9000`).
    #[arg(long, env = "KEYSEAL_S3_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The key the primary service's entries end up under (its newest version).
    #[arg(long = "to-key-id", env = "KEYSEAL_TO_KEY_ID")]
    pub to_key_id: String,
    /// Worker threads, each with its own key-service connection.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Headers per /rewrap-batch request.
    #[arg(long, default_value_t = keyseal::REWRAP_BATCH_MAX)]
    pub batch_size: usize,
    /// Count what would be rewrapped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take only shard I of N (`I/N`, 0-based): objects are assigned by a hash of their path
    /// relative to their target, so N processes cover every object exactly once.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
    /// The journal (JSON lines): objects done are appended as they finish; a re-run skips them.
    /// Default: `keyseal-rewrap[.shard-I-of-N].journal` in the current directory.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Skip fsync of each rewritten object and its directory (faster; not crash-safe on power loss).
    #[arg(long)]
    pub no_fsync: bool,
    /// The final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Key services.
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// `keyseal backlog`.
#[derive(Debug, Args)]
pub struct BacklogArgs {
    /// Files, directories (recursive) and S3 prefixes (`s3://bucket/prefix`).
    #[arg(required = true)]
    pub targets: Vec<PathBuf>,
    /// The S3 endpoint for `s3://` targets on stores other than AWS.
    #[arg(long, env = "KEYSEAL_S3_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Count objects not under this key id as behind too (the target of a rotation job).
    #[arg(long = "to-key-id")]
    pub to_key_id: Option<String>,
    /// JSON output.
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Prometheus text exposition format (for a textfile collector or a scrape).
    #[arg(long)]
    pub prometheus: bool,
    /// Key services.
    #[command(flatten)]
    pub service: ServiceArgs,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("expected KEY=VALUE")?;
    Ok((k.to_owned(), v.to_owned()))
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: u32 = i.parse().map_err(|_| "I is not a number")?;
    let n: u32 = n.parse().map_err(|_| "N is not a number")?;
    if n == 0 || i >= n {
        return Err("need 0 <= I < N".into());
    }
    Ok((i, n))
}
