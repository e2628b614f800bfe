//! Shared by the test files and examples/open_sealed.rs.

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Drives a future whose every await is ready without waiting (scripted transports, virtual
/// clocks, blocking loopback I/O). Panics instead of spinning forever if one is not.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future never finished");
}
