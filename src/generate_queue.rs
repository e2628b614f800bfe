//! Concurrent encrypts of different contexts share `/generate-batch` requests (PROTOCOL.md
//! §3.2.1). A cache miss asks for its data key at once while fewer than [`LANES`] requests are
//! under way, so a caller alone never waits; beyond that it queues, and when a request ends the
//! first one queued takes its lane and asks for itself and up to [`MAX_BATCH`]` - 1` others in one
//! `/generate-batch`. So a burst of per-record encrypts costs a few requests instead of one each,
//! and the key service one token check, one HPKE context and one identity signature per request.
//! Only for services whose batch is one request ([`KeyService::batches_generate`]).

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::EncryptionContext;
use crate::error::{Error, KeyServiceErrorKind};
use crate::key_service::{GeneratedKey, KeyService};

/// Requests to the key service under way at once before cache misses queue.
pub(crate) const LANES: usize = 2;
/// Contexts per `/generate-batch` (PROTOCOL.md §3.2.1 allows 100).
pub(crate) const MAX_BATCH: usize = 50;

/// One queued cache miss.
struct Waiter {
    context: EncryptionContext,
    outcome: RefCell<Option<Result<GeneratedKey, Error>>>,
    /// Set when a lane was handed to this waiter: it asks for the next batch.
    lead: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Waiter {
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The queue of one key service's `/generate` calls.
#[derive(Default)]
pub(crate) struct GenerateQueue {
    in_flight: Cell<usize>,
    waiting: RefCell<VecDeque<Rc<Waiter>>>,
}

/// A lane held: handed on when dropped (also when the holder's future is dropped).
struct Lane<'a>(&'a GenerateQueue);

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        self.0.hand_over();
    }
}

/// A waiter in the queue: removed if its future is dropped, and a lane handed to it passed on.
struct Queued<'a> {
    queue: &'a GenerateQueue,
    waiter: Rc<Waiter>,
    armed: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.waiter.lead.get() {
            self.queue.hand_over();
        } else {
            self.queue
                .waiting
                .borrow_mut()
                .retain(|w| !Rc::ptr_eq(w, &self.waiter));
        }
    }
}

/// The waiters a leader asks for: whoever has no outcome when this is dropped (the leader's
/// future was dropped mid-request) gets an error instead of waiting for ever.
struct Batch(Vec<Rc<Waiter>>);

impl Drop for Batch {
    fn drop(&mut self) {
        for w in &self.0 {
            if w.outcome.borrow().is_none() {
                *w.outcome.borrow_mut() = Some(Err(Error::key_service(
                    KeyServiceErrorKind::Unavailable,
                    "the /generate-batch request this encrypt joined was cancelled",
                )));
            }
            w.wake();
        }
    }
}

/// Resolves when the waiter has an outcome or a lane.
struct Turn<'a>(&'a Waiter);

impl Future for Turn<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let w = self.0;
        if w.outcome.borrow().is_some() || w.lead.get() {
            return Poll::Ready(());
        }
        *w.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl GenerateQueue {
    /// A lane came free: the first waiter takes it, or there is one lane fewer under way.
    fn hand_over(&self) {
        let next = self.waiting.borrow_mut().pop_front();
        match next {
            Some(w) => {
                w.lead.set(true);
                w.wake();
            }
            None => self.in_flight.set(self.in_flight.get().saturating_sub(1)),
        }
    }

    /// A data key for `context` from `service`, alone or in a batch with concurrent callers.
    pub(crate) async fn generate(
        &self,
        service: &dyn KeyService,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey, Error> {
        if !service.batches_generate() {
            return service.generate(key_id, context).await;
        }
        if self.in_flight.get() < LANES {
            self.in_flight.set(self.in_flight.get() + 1);
            let _lane = Lane(self);
            return service.generate(key_id, context).await;
        }
        let waiter = Rc::new(Waiter {
            context: context.clone(),
            outcome: RefCell::new(None),
            lead: Cell::new(false),
            waker: RefCell::new(None),
        });
        self.waiting.borrow_mut().push_back(waiter.clone());
        let mut queued = Queued {
            queue: self,
            waiter: waiter.clone(),
            armed: true,
        };
        Turn(&waiter).await;
        queued.armed = false;
        if let Some(done) = waiter.outcome.borrow_mut().take() {
            return done;
        }
        // this waiter holds a lane now: it asks for itself and the next ones queued
        let _lane = Lane(self);
        let mut others = Vec::new();
        {
            let mut q = self.waiting.borrow_mut();
            while others.len() + 1 < MAX_BATCH {
                match q.pop_front() {
                    Some(w) => others.push(w),
                    None => break,
                }
            }
        }
        if others.is_empty() {
            return service.generate(key_id, context).await;
        }
        let mut contexts = Vec::with_capacity(others.len() + 1);
        contexts.push(context.clone());
        contexts.extend(others.iter().map(|w| w.context.clone()));
        let batch = Batch(others);
        let result = service.generate_batch(key_id, &contexts).await;
        match result {
            Ok(keys) if keys.len() == contexts.len() => {
                let mut keys = keys.into_iter();
                let own = keys.next();
                for (w, k) in batch.0.iter().zip(keys) {
                    *w.outcome.borrow_mut() = Some(Ok(k));
                }
                own.ok_or_else(|| Error::key_service(KeyServiceErrorKind::Protocol, "empty batch answer"))
            }
            Ok(_) => {
                let e = Error::key_service(
                    KeyServiceErrorKind::Protocol,
                    "batch answer has the wrong number of items",
                );
                for w in &batch.0 {
                    *w.outcome.borrow_mut() = Some(Err(e.clone()));
                }
                Err(e)
            }
            Err(e) => {
                for w in &batch.0 {
                    *w.outcome.borrow_mut() = Some(Err(e.clone()));
                }
                Err(e)
            }
        }
        // `batch` drops here: every waiter is woken
    }
}
