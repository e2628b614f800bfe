//! The `keyseal` command line (crate `keyseal-cli`): encrypt, decrypt, inspect, rewrap and
//! backlog over the keyseal core, with a native AES-GCM engine (`ring`) and segments sealed and
//! opened in parallel. The binary (`src/main.rs`) only parses the command line and maps errors to
//! exit statuses; README.md has the commands and the table of exit statuses.

pub mod args;
pub mod backlog;
pub mod crypt;
pub mod engine;
pub mod error;
pub mod files;
pub mod inspect;
pub mod pipeline;
pub mod progress;
pub mod rewrap;
pub mod s3;
pub mod service;
pub mod transport;
pub mod walk;

pub use error::{CliError, EXIT_STATUSES, exit_status};

/// Runs one parsed command.
pub fn run(cli: args::Cli) -> Result<(), CliError> {
    match cli.command {
        args::Command::Encrypt(a) => crypt::encrypt(a),
        args::Command::Decrypt(a) => crypt::decrypt(a),
        args::Command::Inspect(a) => inspect::run(a),
        args::Command::Rewrap(a) => rewrap::run(a),
        args::Command::Backlog(a) => backlog::run(a),
    }
}
