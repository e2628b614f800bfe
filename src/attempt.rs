//! One HTTP attempt to one key-service URL, raced against its timeout. The outcome keeps
//! everything the retry policy decides on: the status and `Retry-After` of an answer, or why
//! there was none.

use alloc::string::String;

use crate::race::{Either, race};
use crate::transport::{Clock, HttpRequest, HttpResponse, HttpTransport, TransportError};

/// How one attempt ended.
pub(crate) enum Outcome {
    /// The service answered (any status).
    Answered(HttpResponse),
    /// No answer: connection refused, DNS, CORS, reset.
    Network(String),
    /// No answer within the attempt's time limit (the request was dropped, which aborts it).
    TimedOut,
}

/// Sends `request` and waits at most `limit_ms` for the answer.
pub(crate) async fn attempt(
    transport: &dyn HttpTransport,
    clock: &dyn Clock,
    request: HttpRequest,
    limit_ms: u64,
) -> Outcome {
    match race(transport.send(request), clock.sleep(limit_ms)).await {
        Either::Left(Ok(resp)) => Outcome::Answered(resp),
        Either::Left(Err(TransportError::Network(m))) => Outcome::Network(m),
        Either::Right(()) => Outcome::TimedOut,
    }
}
