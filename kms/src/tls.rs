//! Native TLS of `keyseal-kms serve --tls-cert PEM --tls-key PEM` (docs/PROTOCOL.md §8.3): rustls
//! with the aws-lc-rs provider, served by `axum-server`, whose configuration is swapped atomically
//! on SIGHUP ([`Tls::reload`]): connections already open keep the certificate they were made with,
//! new connections get the new one, and nothing is dropped (docs/DESIGN.md "Native TLS").

use std::path::{Path, PathBuf};

use axum_server::tls_rustls::RustlsConfig;

use crate::error::{Error, Result};

/// The certificate chain and private key files of the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1) of the leaf.
    pub key: PathBuf,
}

/// The listener's live TLS configuration.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    config: RustlsConfig,
}

/// Makes aws-lc-rs the process's rustls provider (the first call wins; later calls are no-ops),
/// so the configuration never depends on which providers other crates enabled.
fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn refused(files: &TlsFiles, e: &std::io::Error) -> Error {
    // rustls and axum-server name the problem (no certificate, no key, key does not match); the
    // key's bytes never appear in their messages.
    Error::InvalidRequest(format!(
        "TLS certificate {} / key {} refused: {e}",
        files.cert.display(),
        files.key.display()
    ))
}

impl Tls {
    /// Loads the certificate and key; a missing, unreadable or mismatched pair is refused.
    pub async fn load(files: &TlsFiles) -> Result<Tls> {
        install_provider();
        let config = RustlsConfig::from_pem_chain_file(&files.cert, &files.key)
            .await
            .map_err(|e| refused(files, &e))?;
        Ok(Tls {
            files: files.clone(),
            config,
        })
    }

    /// Reads the files again and swaps the configuration for new connections. On failure the
    /// configuration in force stays.
    pub async fn reload(&self) -> Result<()> {
        let fresh = RustlsConfig::from_pem_chain_file(&self.files.cert, &self.files.key)
            .await
            .map_err(|e| refused(&self.files, &e))?;
        self.config.reload_from_config(fresh.get_inner());
        Ok(())
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.files.cert
    }

    /// The configuration the acceptor reads for each new connection.
    pub fn config(&self) -> RustlsConfig {
        self.config.clone()
    }
}
