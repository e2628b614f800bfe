//! A two-future race without an executor dependency (used for per-call timeouts).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Which future finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `a` then `b`; resolves with the first that is ready. `a` wins ties.
pub(crate) struct Race<A, B> {
    a: Pin<alloc::boxed::Box<A>>,
    b: Pin<alloc::boxed::Box<B>>,
}

pub(crate) fn race<A: Future, B: Future>(a: A, b: B) -> Race<A, B> {
    Race {
        a: alloc::boxed::Box::pin(a),
        b: alloc::boxed::Box::pin(b),
    }
}

impl<A: Future, B: Future> Future for Race<A, B> {
    type Output = Either<A::Output, B::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = self.b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    }
}
