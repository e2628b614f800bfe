//! `keyseal`: parses the command line, runs the command, and exits with the status of the error
//! code (cli/README.md "Exit statuses"). Errors go to standard error as `keyseal: CODE: message`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = keyseal_cli::args::Cli::parse();
    match keyseal_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyseal: {}: {e}", e.code());
            ExitCode::from(e.exit_status())
        }
    }
}
