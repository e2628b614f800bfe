//! Progress bars (`indicatif`) on a terminal only: nothing is drawn when standard error is piped
//! or redirected, so scripts and logs stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar, or nothing when standard error is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A byte bar of `total` bytes (a spinner when unknown).
    pub fn new(what: &str, total: Option<u64>) -> Self {
        Self::with_unit(what, total, true)
    }

    /// A bar counting objects.
    pub fn objects(what: &str, total: u64) -> Self {
        Self::with_unit(what, Some(total), false)
    }

    fn with_unit(what: &str, total: Option<u64>, bytes: bool) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let template = if bytes {
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Self(Some(bar))
    }

    /// Advances by `n`.
    pub fn add(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// Clears the bar.
    pub fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
