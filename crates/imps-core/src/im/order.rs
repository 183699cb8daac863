//! The order of one connection's sends while several are handled at once
//! (issue 19). A WebSocket client may pipeline its SendMessage requests;
//! handled one at a time, each waits for its recipient's acknowledgement
//! (or its commit) before the next starts, so a socket moves no faster
//! than one round trip per message. The transport may run several of
//! them together, and this keeps what the recipients see in the order the
//! sender sent: each send takes its turn when it is first polled, before
//! its first wait, and keeps it until its message is offered (pushed
//! before it is stored) or stored and queued. Only the wait for the
//! acknowledgement or the commit overlaps with the next send's work.

use std::sync::atomic::{AtomicU64, Ordering};

/// One connection's sends in arrival order. Shared by the connection's
/// requests through [`crate::RequestCtx::send_order`].
#[derive(Debug, Default)]
pub struct SendOrder {
    /// Fair: turns are given in the order they were asked for.
    turn: tokio::sync::Mutex<()>,
    /// Sends that asked for their turn so far.
    entered: AtomicU64,
}

/// A send's turn; the next send of the connection goes on once it is
/// dropped.
pub(crate) type Turn<'a> = tokio::sync::MutexGuard<'a, ()>;

impl SendOrder {
    /// How many sends have asked for their turn. A transport that polls a
    /// new send once and sees this unchanged knows the send did not reach
    /// its place in the order yet (it waits for something before), and
    /// starts nothing after it until it is done.
    pub fn entered(&self) -> u64 {
        self.entered.load(Ordering::Acquire)
    }

    /// Waits for this send's turn. Its place is taken at the first poll.
    pub(crate) async fn turn(&self) -> Turn<'_> {
        self.entered.fetch_add(1, Ordering::AcqRel);
        self.turn.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// Turns go in the order they were first asked for, whichever is
    /// polled again first, and one abandoned while waiting holds up
    /// nobody.
    #[test]
    fn turns_follow_the_first_poll_and_survive_an_abandoned_waiter() {
        let order = SendOrder::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(order.turn());
        let Poll::Ready(held) = first.as_mut().poll(&mut cx) else {
            panic!("an uncontended turn is given at once");
        };
        let mut second = Box::pin(order.turn());
        let mut third = Box::pin(order.turn());
        let mut gone = Box::pin(order.turn());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert!(gone.as_mut().poll(&mut cx).is_pending());
        assert!(third.as_mut().poll(&mut cx).is_pending());
        assert_eq!(order.entered(), 4);
        drop(gone);
        drop(held);
        // The third is polled first and still waits for the second.
        assert!(third.as_mut().poll(&mut cx).is_pending());
        let Poll::Ready(second_turn) = second.as_mut().poll(&mut cx) else {
            panic!("the second asked before the third");
        };
        assert!(third.as_mut().poll(&mut cx).is_pending());
        drop(second_turn);
        assert!(
            third.as_mut().poll(&mut cx).is_ready(),
            "the abandoned one was skipped"
        );
    }
}
