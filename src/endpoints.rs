//! The resilient call of every key-service kind: the URL list in order with a circuit breaker per
//! URL, per-attempt timeouts, an overall deadline, rounds with full-jitter backoff, `Retry-After`
//! on throttling, metrics and an event per attempt (DESIGN.md "Timeouts and retries"). What an
//! answer means is the kind's business: it classifies every non-2xx answer as a [`Refusal`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::attempt::{Outcome, attempt};
use crate::breaker::Breaker;
use crate::error::{Error, KeyServiceErrorKind};
use crate::events::{Event, Observer};
use crate::retry::RetryPolicy;
use crate::transport::{Clock, HttpRequest, HttpResponse, HttpTransport};

/// What a non-2xx answer means, as the kind of key service reads it.
pub(crate) struct Refusal {
    /// The error the caller sees.
    pub error: Error,
    /// What the policy may do about it.
    pub retry: Retry,
    /// On `KEY_DISABLED`: when the key became unusable (Unix ms), for time to revoke.
    pub disabled_at_ms: Option<f64>,
}

/// Whether and where a refused attempt may be tried again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A definitive answer (a 4xx other than throttling): no retry, no failover.
    Never,
    /// The service is alive and asked to slow down: the same URL after `Retry-After` or the backoff.
    SameUrl,
    /// A failure of this URL (5xx): the next URL, and it counts against this URL's breaker.
    NextUrl,
}

/// Reads a non-2xx answer.
pub(crate) type Classify = fn(&HttpResponse) -> Refusal;

/// A failed call: the error, and the HTTP status of the answer that ended it, if any.
pub(crate) struct CallError {
    pub status: Option<u16>,
    pub error: Error,
}

struct Endpoint {
    base: String,
    breaker: RefCell<Breaker>,
}

/// One key service's URLs and the machinery to call them.
pub(crate) struct Endpoints {
    /// The caller's trace context, asked at each attempt (`trace.rs`).
    trace: Option<Rc<dyn crate::trace::TraceSource>>,
    service: String,
    list: Vec<Endpoint>,
    policy: RetryPolicy,
    transport: Rc<dyn HttpTransport>,
    clock: Rc<dyn Clock>,
    observer: Rc<Observer>,
}

/// Signs one attempt: the request as it will be sent, and the wall clock in Unix ms.
pub(crate) type Signer<'a> = dyn Fn(&mut HttpRequest, f64) + 'a;

/// What one call is: its operation name (metrics, events), the key it is about, the request.
pub(crate) struct Call<'a> {
    pub op: &'static str,
    pub key_id: &'a str,
    pub method: &'static str,
    pub path: &'a str,
    pub body: Option<Vec<u8>>,
    pub classify: Classify,
    /// Signs each attempt (its URL and the wall clock in Unix ms), for kinds whose requests carry
    /// a signature over the host and time (AWS SigV4); `None` for the keyseal protocol.
    pub sign: Option<&'a Signer<'a>>,
}

/// What one attempt at one URL decided.
enum Step {
    Done(Result<Vec<u8>, CallError>),
    NextUrl,
    SameUrl,
}

fn unavailable(message: String) -> CallError {
    CallError {
        status: None,
        error: Error::key_service(KeyServiceErrorKind::Unavailable, message),
    }
}

impl Endpoints {
    pub(crate) fn new(
        service: &str,
        urls: Vec<String>,
        policy: RetryPolicy,
        transport: Rc<dyn HttpTransport>,
        clock: Rc<dyn Clock>,
        observer: Rc<Observer>,
    ) -> Result<Self, Error> {
        if urls.is_empty() {
            return Err(Error::invalid("a key service needs at least one URL"));
        }
        let list = urls
            .into_iter()
            .map(|u| Endpoint {
                base: u.trim_end_matches('/').to_string(),
                breaker: RefCell::default(),
            })
            .collect();
        Ok(Self {
            trace: None,
            service: service.into(),
            list,
            policy,
            transport,
            clock,
            observer,
        })
    }

    /// Sends every attempt as a child span of `trace`'s current context (W3C `traceparent`).
    pub(crate) fn set_trace(&mut self, trace: Rc<dyn crate::trace::TraceSource>) {
        self.trace = Some(trace);
    }

    fn deadline_passed(&self, op: &str) -> CallError {
        CallError {
            status: None,
            error: Error::key_service(
                KeyServiceErrorKind::Timeout,
                format!("{op}: deadline of {} ms passed", self.policy.deadline_ms),
            ),
        }
    }

    /// One call with the whole policy: the 2xx body, or the error that ended it (with its
    /// [`crate::CallOrigin`]: this service, the op and the status).
    pub(crate) async fn call(&self, call: &Call<'_>) -> Result<Vec<u8>, CallError> {
        self.call_all_urls(call).await.map_err(|e| CallError {
            status: e.status,
            error: e.error.with_origin(&self.service, call.op, e.status),
        })
    }

    async fn call_all_urls(&self, call: &Call<'_>) -> Result<Vec<u8>, CallError> {
        let deadline = self.clock.now_ms() + self.policy.deadline_ms as f64;
        let mut last = unavailable("no key-service URL could be tried".into());
        let mut attempts = 0u32;
        for round in 0..self.policy.max_rounds.max(1) {
            if round > 0 {
                let wait = self.policy.backoff_ms(round - 1) as f64;
                if self.clock.now_ms() + wait >= deadline {
                    break;
                }
                self.clock.sleep(wait as u64).await;
            }
            let mut i = 0;
            while i < self.list.len() {
                match self
                    .try_url(call, i, round, deadline, &mut attempts, &mut last)
                    .await
                {
                    Step::Done(r) => return r,
                    Step::NextUrl => i += 1,
                    Step::SameUrl => {}
                }
            }
        }
        if self.clock.now_ms() >= deadline {
            return Err(self.deadline_passed(call.op));
        }
        Err(last)
    }

    async fn try_url(
        &self,
        call: &Call<'_>,
        i: usize,
        round: u32,
        deadline: f64,
        attempts: &mut u32,
        last: &mut CallError,
    ) -> Step {
        let ep = &self.list[i];
        let now = self.clock.now_ms();
        if !ep.breaker.borrow_mut().allow(now) {
            *last = unavailable(format!("circuit open for {}", ep.base));
            return Step::NextUrl;
        }
        let remaining = deadline - now;
        if remaining <= 0.0 {
            return Step::Done(Err(self.deadline_passed(call.op)));
        }
        let limit = (self.policy.attempt_timeout_ms as f64).min(remaining).ceil() as u64;
        *attempts += 1;
        let mut request = HttpRequest {
            method: call.method,
            url: format!("{}{}", ep.base, call.path),
            body: call.body.clone(),
            headers: Vec::new(),
        };
        if let Some(sign) = call.sign {
            sign(&mut request, self.clock.unix_ms());
        }
        let span = self
            .trace
            .as_ref()
            .and_then(|t| t.traceparent())
            .and_then(|p| crate::trace::new_span_id().and_then(|s| crate::trace::child_of(&p, &s)));
        if let Some(s) = &span {
            request.headers.push(("traceparent", s.header.clone()));
        }
        let outcome = attempt(self.transport.as_ref(), self.clock.as_ref(), request, limit).await;
        let latency = self.clock.now_ms() - now;
        let (failure, retry, retry_after) = match outcome {
            Outcome::Answered(resp) if (200..300).contains(&resp.status) => {
                ep.breaker.borrow_mut().success();
                self.record(
                    call.op,
                    &ep.base,
                    (Some(resp.status), None),
                    latency,
                    *attempts,
                    span,
                );
                return Step::Done(Ok(resp.body));
            }
            Outcome::Answered(resp) => {
                let r = (call.classify)(&resp);
                if let Error::KeyService {
                    kind: KeyServiceErrorKind::KeyDisabled,
                    ..
                } = r.error
                {
                    self.observer
                        .key_disabled(call.key_id, r.disabled_at_ms, self.clock.unix_ms());
                }
                let failure = CallError {
                    status: Some(resp.status),
                    error: r.error,
                };
                (failure, r.retry, resp.retry_after_ms)
            }
            Outcome::Network(m) => (
                unavailable(format!("{} to {}: {m}", call.op, ep.base)),
                Retry::NextUrl,
                None,
            ),
            Outcome::TimedOut => (
                CallError {
                    status: None,
                    error: Error::key_service(
                        KeyServiceErrorKind::Timeout,
                        format!("{} to {} timed out after {limit} ms", call.op, ep.base),
                    ),
                },
                Retry::NextUrl,
                None,
            ),
        };
        self.record(
            call.op,
            &ep.base,
            (failure.status, Some(failure.error.code())),
            latency,
            *attempts,
            span,
        );
        match retry {
            Retry::Never => {
                ep.breaker.borrow_mut().success();
                Step::Done(Err(failure))
            }
            Retry::SameUrl => {
                ep.breaker.borrow_mut().success();
                let wait = retry_after.unwrap_or_else(|| self.policy.backoff_ms(round)) as f64;
                *last = failure;
                if self.clock.now_ms() + wait >= deadline
                    || *attempts >= self.policy.max_attempts(self.list.len())
                {
                    return Step::Done(Err(core::mem::replace(last, unavailable(String::new()))));
                }
                self.clock.sleep(wait as u64).await;
                Step::SameUrl
            }
            Retry::NextUrl => {
                let opened = ep.breaker.borrow_mut().failure(self.clock.now_ms(), &self.policy);
                if opened {
                    self.observer.emit(Event::CircuitOpen {
                        service: self.service.clone(),
                        url: ep.base.clone(),
                    });
                }
                *last = failure;
                Step::NextUrl
            }
        }
    }

    /// Metrics and the `kmsCall` event of one attempt.
    fn record(
        &self,
        op: &'static str,
        url: &str,
        (status, code): (Option<u16>, Option<&'static str>),
        latency_ms: f64,
        attempt: u32,
        span: Option<crate::trace::ChildSpan>,
    ) {
        self.observer.kms_attempt(op, code, latency_ms);
        let (trace_id, span_id) = span.map_or((None, None), |s| (Some(s.trace_id), Some(s.span_id)));
        self.observer.emit(Event::KmsCall {
            service: self.service.clone(),
            url: url.into(),
            op,
            ok: code.is_none(),
            code,
            status,
            latency_ms,
            attempt,
            trace_id,
            span_id,
        });
    }
}
