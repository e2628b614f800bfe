//! `keyseal-kms serve`: opens the store, trusts the issuers, binds the listener, serves the router
//! and sweeps destroyed keys. Usable in-process (tests) as well as from the command line.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use keyseal_protocol::Token;

use crate::auth::{self, MintOptions, Role, Verifier};
use crate::error::{Error, Result};
use crate::http::{App, HttpConfig, Shared, router};
use crate::identity::Identity;
use crate::service::Service;
use crate::store::{Store, StoreError, open_master_key};
use crate::tls::{Tls, TlsFiles};

/// What `serve` needs to know (the flags of docs/PROTOCOL.md §8.3).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// SQLite database file.
    pub db: PathBuf,
    /// Master key file (default `<db>.master-key`).
    pub master_key_file: Option<PathBuf>,
    /// The master key in an HSM: a `pkcs11:` URI (RFC 7512), instead of a key file.
    pub master_key: Option<String>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Development mode: create what is missing and mint a writer token; loopback only.
    pub dev: bool,
    /// Allowed CORS origins.
    pub cors_origins: Vec<String>,
    /// JWKS files of trusted issuers.
    pub issuers: Vec<PathBuf>,
    /// Audience tokens must carry.
    pub audience: String,
    /// Do not trust the local issuer.
    pub no_local_issuer: bool,
    /// Request body limit in bytes.
    pub max_body: usize,
    /// Requests in flight before `Throttled`.
    pub max_in_flight: usize,
    /// Requests processed at once (default twice the cores).
    pub workers: Option<usize>,
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP); plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Also serve Google's KACLS API (src/kacls.rs) when set.
    pub kacls: Option<crate::kacls::KaclsOptions>,
    /// Export a span per protocol request to this OTLP/HTTP collector (`crate::otlp`); off when
    /// absent.
    pub otlp_endpoint: Option<String>,
}

impl ServeOptions {
    /// The defaults of the command line for `db`, on 127.0.0.1 with a free port.
    pub fn new(db: PathBuf) -> Self {
        ServeOptions {
            db,
            master_key_file: None,
            master_key: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dev: false,
            cors_origins: Vec::new(),
            issuers: Vec::new(),
            audience: auth::DEFAULT_AUDIENCE.into(),
            no_local_issuer: false,
            max_body: 64 * 1024,
            max_in_flight: 4096,
            workers: None,
            tls: None,
            kacls: None,
            otlp_endpoint: None,
        }
    }
}

/// Key created by `serve --dev` when absent.
pub const DEV_KEY: &str = "acme/default";
/// Lifetime of the dev token.
const DEV_TOKEN_TTL_SECS: i64 = 24 * 3600;

/// A bound, not yet serving, key service.
pub struct Server {
    app: Shared,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    dev_token: Option<Token>,
    tls: Option<Tls>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

/// How long open connections get to finish their requests once shutdown starts (TLS listener).
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

impl Server {
    /// Opens the store, sets up the issuers (and with `dev` the master key, the local issuer, key
    /// `acme/default` and a writer token), loads the identity key (created when the database has
    /// none, with or without `dev`, §6.3) and binds the listener.
    pub async fn bind(opts: &ServeOptions) -> Result<Server> {
        if opts.dev && !opts.listen.ip().is_loopback() {
            return Err(Error::InvalidRequest(format!(
                "--dev hands out a writer token and creates keys: it listens on loopback only \
                 (127.0.0.1 or [::1]), not on {}",
                opts.listen
            )));
        }
        // TLS first: a bad certificate is refused before anything is opened or created.
        let tls = match &opts.tls {
            Some(files) => Some(Tls::load(files).await?),
            None => None,
        };
        let master = open_master_key(
            &opts.db,
            opts.master_key_file.as_deref(),
            opts.master_key.as_deref(),
            opts.dev,
        )?;
        let store = Store::open(&opts.db, master)?;
        let local = store.local_issuer_secret(opts.dev)?;
        let mut verifier = Verifier::new(&opts.audience);
        if let Some(secret) = &local
            && !opts.no_local_issuer
        {
            verifier.add_local(&auth::public_of(secret)?)?;
        }
        for path in &opts.issuers {
            let iss = verifier.add_jwks_file(path)?;
            eprintln!("keyseal-kms: trusting issuer {iss:?} from {}", path.display());
        }
        let mut dev_token = None;
        if opts.dev {
            match store.create_key(DEV_KEY) {
                Ok(_) => eprintln!("keyseal-kms: created key {DEV_KEY}"),
                Err(StoreError::Exists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let mint = MintOptions {
                tenant: "acme",
                role: Role::Writer,
                subject: "dev",
                audience: &opts.audience,
                ttl_secs: DEV_TOKEN_TTL_SECS,
            };
            dev_token = Some(auth::mint_local(&store, &mint)?);
        }
        store.sweep_destroyed()?;
        let config = HttpConfig {
            cors_origins: opts.cors_origins.clone(),
            max_body: opts.max_body,
            max_in_flight: opts.max_in_flight,
            workers: opts.workers.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(4, |n| n.get().saturating_mul(2))
            }),
        };
        let tracing = match &opts.otlp_endpoint {
            Some(endpoint) => {
                let t = crate::otlp::Tracing::start(endpoint)?;
                eprintln!("keyseal-kms: exporting spans to {}", t.endpoint());
                Some(t)
            }
            None => None,
        };
        let service = Service::new(store, verifier)?;
        crate::policy::refresh_issuers_logged(&service);
        let app = App::with_tracing(service, config, tracing);
        if let Some(k) = &opts.kacls {
            let kacls = crate::kacls::Kacls::new(k, app.service.store())?;
            let _ = app.kacls.set(std::sync::Arc::new(kacls));
        }
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot listen on {}: {e}", opts.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        if let Some(k) = app.kacls.get() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            k.set_default_url(&format!("{scheme}://{addr}"));
        }
        // SIGHUP reloads the certificate. The handler is installed before the URL line is printed,
        // so a SIGHUP sent as soon as a caller sees the URL never kills the process.
        #[cfg(unix)]
        let hangup = match &tls {
            Some(_) => Some(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .map_err(|e| Error::Unavailable(format!("cannot handle SIGHUP: {e}")))?,
            ),
            None => None,
        };
        Ok(Server {
            app,
            listener,
            addr,
            dev_token,
            tls,
            #[cfg(unix)]
            hangup,
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://ADDR/v1`, or `https://ADDR/v1` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/v1", self.addr)
    }

    /// The KACLS URL (`serve --kacls-key`), printed as `KEYSEAL_KACLS_URL=`.
    pub fn kacls_url(&self) -> Option<String> {
        self.app.kacls.get().map(|k| k.url().to_string())
    }

    /// Whether the listener serves TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The identity key (§6.3), whose public key `serve` prints as `KEYSEAL_KMS_IDENTITY=`.
    pub fn identity(&self) -> &Identity {
        self.app.service.identity()
    }

    /// The writer token of `--dev`.
    pub fn dev_token(&self) -> Option<&Token> {
        self.dev_token.as_ref()
    }

    /// The shared app state.
    pub fn app(&self) -> &Shared {
        &self.app
    }

    /// Serves until `shutdown` completes, sweeping destroyed keys every second.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let app_for_flush = self.app.clone();
        let app = self.app.clone();
        let sweeper = tokio::spawn(async move {
            let mut sweeper = Sweeper::default();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let a = app.clone();
                let result = tokio::task::spawn_blocking(move || {
                    // a policy applied on any instance holds here within a second (PROTOCOL.md §8.6)
                    crate::policy::refresh_issuers_logged(&a.service);
                    a.service.store().sweep_destroyed()
                })
                .await
                .map_err(|e| format!("sweep task failed: {e}"))
                .and_then(|r| r.map_err(|e| e.to_string()));
                sweeper.record(result, &mut std::io::stderr().lock());
            }
        });
        // rotation on a schedule (PROTOCOL.md §8.5): every instance checks; the store's write lock
        // makes exactly one of them rotate a due key
        let app = self.app.clone();
        let rotator = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ROTATION_CHECK).await;
                let a = app.clone();
                let result =
                    tokio::task::spawn_blocking(move || a.service.store().rotate_due(crate::store::now_ms()))
                        .await;
                match result {
                    Ok(Ok(rotated)) => {
                        for (key_id, version) in rotated {
                            eprintln!(
                                "keyseal-kms: scheduled rotation: {key_id} is now at version {version}"
                            );
                        }
                    }
                    Ok(Err(e)) => eprintln!("keyseal-kms: scheduled rotation failed: {e}"),
                    Err(e) => eprintln!("keyseal-kms: scheduled rotation task failed: {e}"),
                }
            }
        });
        let served = match self.tls {
            None => axum::serve(self.listener, router(self.app))
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|e| Error::Unavailable(format!("server error: {e}"))),
            Some(tls) => {
                #[cfg(unix)]
                let reloader = self
                    .hangup
                    .map(|signal| tokio::spawn(reload_on_hangup(signal, tls.clone())));
                let served = serve_tls(self.listener, tls, router(self.app), shutdown).await;
                #[cfg(unix)]
                if let Some(r) = reloader {
                    r.abort();
                }
                served
            }
        };
        sweeper.abort();
        rotator.abort();
        // the spans still queued go out before the process ends (bounded by the export timeout)
        if app_for_flush.tracing().is_some() {
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(t) = app_for_flush.tracing() {
                    t.shutdown();
                }
            })
            .await;
        }
        served
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then lets open connections
/// finish for up to [`GRACEFUL_SHUTDOWN`].
async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Tls,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = listener
        .into_std()
        .map_err(|e| Error::Unavailable(format!("listener: {e}")))?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(GRACEFUL_SHUTDOWN));
    });
    axum_server::from_tcp_rustls(listener, tls.config())
        .map_err(|e| Error::Unavailable(format!("listener: {e}")))?
        .handle(handle)
        .serve(router.into_make_service())
        .await
        .map_err(|e| Error::Unavailable(format!("server error: {e}")))
}

/// Reloads the certificate on every SIGHUP; a failed reload keeps the one in force.
#[cfg(unix)]
async fn reload_on_hangup(mut signal: tokio::signal::unix::Signal, tls: Tls) {
    while signal.recv().await.is_some() {
        match tls.reload().await {
            Ok(()) => eprintln!(
                "keyseal-kms: SIGHUP: TLS certificate reloaded from {}",
                tls.cert_path().display()
            ),
            Err(e) => eprintln!(
                "keyseal-kms: SIGHUP: TLS reload failed, still serving the previous certificate: {}",
                e.message()
            ),
        }
    }
}

/// How often `serve` looks for keys whose scheduled rotation is due.
const ROTATION_CHECK: Duration = Duration::from_secs(30);

/// Logs the destruction sweeps: each destruction, a failure when it starts (once per distinct
/// error, not every second), and the recovery.
#[derive(Debug, Default)]
pub struct Sweeper {
    failing: Option<String>,
}

impl Sweeper {
    /// Sweeps `store` once and logs the outcome to `log`.
    pub fn sweep(&mut self, store: &Store, log: &mut dyn Write) {
        self.record(store.sweep_destroyed().map_err(|e| e.to_string()), log);
    }

    /// Logs one sweep's outcome to `log`.
    pub fn record(&mut self, result: std::result::Result<Vec<String>, String>, log: &mut dyn Write) {
        // A log that cannot be written is not a reason to stop sweeping.
        match result {
            Ok(destroyed) => {
                if self.failing.take().is_some() {
                    let _ = writeln!(log, "keyseal-kms: destruction sweep works again");
                }
                for id in destroyed {
                    let _ = writeln!(log, "keyseal-kms: key {id} destroyed (grace period elapsed)");
                }
            }
            Err(e) => {
                if self.failing.as_deref() != Some(e.as_str()) {
                    let _ = writeln!(log, "keyseal-kms: destruction sweep failed: {e}");
                    self.failing = Some(e);
                }
            }
        }
    }
}
