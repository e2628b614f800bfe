//! The platform the core needs on a native build (`keyseal::transport`): blocking HTTP(S) with
//! `ureq` (rustls), the system clock, and tokens from the environment or a command. Every future
//! here is ready when first polled, so [`block_on`] drives the core's async API on the calling
//! thread; per-attempt timeouts are the HTTP client's (the core's race against `Clock::sleep` is
//! then never reached).

use std::future::Future;
use std::io::Read;
use std::process::Command;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keyseal::{
    Clock, HttpRequest, HttpResponse, HttpTransport, LocalBoxFuture, TokenRequest, TokenSource,
    TransportError,
};
use zeroize::Zeroizing;

/// Drives a future whose awaits are all ready at once (blocking I/O underneath).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        // Nothing in this crate returns Pending; yield rather than spin if a future ever does.
        std::thread::yield_now();
    }
}

/// Largest answer body read from a key service.
const MAX_ANSWER: u64 = 16 << 20;

/// HTTP over `ureq`: no redirects (PROTOCOL.md §1), statuses returned as answers.
pub struct UreqTransport(ureq::Agent);

impl UreqTransport {
    /// A transport whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("keyseal-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        Self(config.into())
    }

    fn send_now(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let net = |e: ureq::Error| TransportError::Network(e.to_string());
        // The kind's own headers (AWS SigV4's date and authorization, a trace context);
        // `content-type: application/json` with a body unless the kind set its own.
        let typed = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let mut resp = match &req.body {
            Some(body) => {
                let mut r = self.0.post(&req.url);
                if !typed {
                    r = r.header("content-type", "application/json");
                }
                for (k, v) in &req.headers {
                    r = r.header(*k, v.as_str());
                }
                r.send(&body[..]).map_err(net)?
            }
            None => {
                let mut r = self.0.get(&req.url);
                for (k, v) in &req.headers {
                    r = r.header(*k, v.as_str());
                }
                r.call().map_err(net)?
            }
        };
        let status = resp.status().as_u16();
        let retry_after_ms = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000));
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_ANSWER)
            .read_to_end(&mut body)
            .map_err(|e| TransportError::Network(e.to_string()))?;
        Ok(HttpResponse {
            status,
            retry_after_ms,
            body,
        })
    }
}

impl HttpTransport for UreqTransport {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move { self.send_now(&request) })
    }
}

/// The system clock; `sleep` blocks the thread.
pub struct StdClock(Instant);

impl Default for StdClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for StdClock {
    fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1000.0
    }
    fn unix_ms(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64)
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move { std::thread::sleep(Duration::from_millis(ms)) })
    }
}

/// Where tokens come from.
#[derive(Clone)]
pub enum Tokens {
    /// One token for every call (`KEYSEAL_TOKEN`).
    Fixed(Zeroizing<String>),
    /// A shell command run for each token; its standard output (trimmed) is the token. It gets
    /// `KEYSEAL_TOKEN_SERVICE`, `KEYSEAL_TOKEN_KEY_ID` and `KEYSEAL_TOKEN_OP` in its environment.
    Command(String),
    /// No token (public-key reads only; other calls are refused by the service).
    None,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Tokens::Fixed(<redacted>)"),
            Self::Command(c) => f.debug_tuple("Tokens::Command").field(c).finish(),
            Self::None => f.write_str("Tokens::None"),
        }
    }
}

impl Tokens {
    fn get(&self, r: TokenRequest<'_>) -> Result<String, String> {
        match self {
            Self::Fixed(t) => Ok(t.as_str().to_owned()),
            Self::None => Err("no token configured (KEYSEAL_TOKEN or --token-cmd)".into()),
            Self::Command(cmd) => {
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .env("KEYSEAL_TOKEN_SERVICE", r.service)
                    .env("KEYSEAL_TOKEN_KEY_ID", r.key_id)
                    .env("KEYSEAL_TOKEN_OP", r.op)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| format!("token command: {e}"))?;
                if !out.status.success() {
                    return Err(format!("token command exited with {}", out.status));
                }
                let t = Zeroizing::new(
                    String::from_utf8(out.stdout).map_err(|_| "token command printed non-UTF-8")?,
                );
                Ok(t.trim().to_owned())
            }
        }
    }
}

impl TokenSource for Tokens {
    fn token<'a>(&'a self, request: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move { self.get(request) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_token_never_prints() {
        let t = Tokens::Fixed(Zeroizing::new("eyJ.secret-token".into()));
        assert_eq!(format!("{t:?}"), "Tokens::Fixed(<redacted>)");
        assert!(!format!("{:?}", Tokens::Command("idp-login".into())).contains("secret"));
    }
}
