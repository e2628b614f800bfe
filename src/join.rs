//! Several futures polled together, without an executor dependency: the `/rewrap-batch`
//! requests of one rewrap call go out at once (src/rotation.rs), so a key service can work on
//! them in parallel while the client waits once.

use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Resolves, when every future has, to their outputs in the order given. A future is polled
/// until it is ready and then dropped, never polled again.
pub(crate) struct JoinAll<F: Future + Unpin> {
    futures: Vec<Option<F>>,
    outputs: Vec<Option<F::Output>>,
}

pub(crate) fn join_all<F: Future + Unpin>(futures: impl IntoIterator<Item = F>) -> JoinAll<F> {
    let futures: Vec<Option<F>> = futures.into_iter().map(Some).collect();
    let outputs = futures.iter().map(|_| None).collect();
    JoinAll { futures, outputs }
}

// The outputs are never pinned (only moved out), and the futures are `Unpin` themselves.
impl<F: Future + Unpin> Unpin for JoinAll<F> {}

impl<F: Future + Unpin> Future for JoinAll<F> {
    type Output = Vec<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = slot {
                match Pin::new(f).poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        Poll::Ready(this.outputs.iter_mut().filter_map(Option::take).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::rc::Rc;
    use alloc::vec;
    use core::cell::Cell;
    use core::task::Waker;

    /// Ready on its `ready_at`-th poll, with `value`; counts its polls.
    struct After {
        ready_at: u32,
        polls: Rc<Cell<u32>>,
        value: u32,
    }

    impl Future for After {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            self.polls.set(self.polls.get() + 1);
            if self.polls.get() >= self.ready_at {
                Poll::Ready(self.value)
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn outputs_in_the_order_given_and_a_ready_future_is_not_polled_again() {
        let polls: Vec<Rc<Cell<u32>>> = (0..3).map(|_| Rc::new(Cell::new(0))).collect();
        // ready on the 3rd, 1st and 2nd poll: they finish out of order
        let futures: Vec<Pin<Box<After>>> = [(3, 30), (1, 10), (2, 20)]
            .iter()
            .zip(&polls)
            .map(|(&(ready_at, value), p)| {
                Box::pin(After {
                    ready_at,
                    polls: p.clone(),
                    value,
                })
            })
            .collect();
        let mut join = join_all(futures);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert_eq!(Pin::new(&mut join).poll(&mut cx), Poll::Ready(vec![30, 10, 20]));
        // each polled until ready, then never again
        assert_eq!(polls.iter().map(|p| p.get()).collect::<Vec<_>>(), vec![3, 1, 2]);
    }

    #[test]
    fn nothing_to_join_is_ready_at_once() {
        let mut join = join_all(Vec::<Pin<Box<After>>>::new());
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(Pin::new(&mut join).poll(&mut cx), Poll::Ready(vec![]));
    }
}
