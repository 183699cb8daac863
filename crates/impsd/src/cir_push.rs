//! CIR the server sends by itself, to a client that holds no connection:
//! a UDP datagram (SUDP, WAPUDP) to the address ClientCapability agreed,
//! or an SMS (SSMS, WAPSMS) through the SMSC to the user's number. The
//! client then polls.
//!
//! One task for every session, started with the pusher and ended with the
//! server: the router tells it what it queues for an attached session
//! ([`CirWaker::news`]), so an idle session costs it nothing (issue 19: a
//! task per session cost about 1 KB each). Wake-ups are coalesced:
//! one goes out when something waits and none was sent in the last
//! interval (`cir.udp_min_interval_ms`, `sms.cir_min_interval_secs`);
//! what arrives in between is announced by one more at the end of that
//! interval, and only if it still waits (the client may have polled it
//! already). So a burst of messages costs one wake-up. A datagram may be
//! lost: when the client has taken nothing from its outbox
//! `cir.udp_retry_ms` after a wake-up and something still waits, the
//! datagram is sent again, at most `cir.udp_retries` times (and IM
//! reminds the session of what it still has not taken every
//! `im.redeliver_secs`).
//! SMS wake-ups go through the store's queue, which also keeps at most
//! one waiting per session.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use imps_core::Session;
use imps_core::cir::{CirTarget, CirWaker};
use imps_wire::cir::{CirLine, WapPush};
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::sms::SmsGateway;

/// Datagram CIR: the socket, the least time between two datagrams, and
/// how a datagram that woke nobody is repeated.
#[derive(Debug)]
pub struct UdpPush {
    pub socket: UdpSocket,
    pub min_interval: Duration,
    /// How long after a datagram the client has to come before it is sent
    /// again (never sooner than `min_interval`); zero for never.
    pub retry_after: Duration,
    /// How many times one datagram is repeated.
    pub retries: u32,
}

/// Sends the wake-ups of every session that agreed a CIR method the
/// server serves by itself.
#[derive(Debug)]
pub struct CirPusher {
    udp: Option<Arc<UdpPush>>,
    sms: Option<Arc<SmsGateway>>,
    metrics: Arc<Metrics>,
    /// Sessions with news the task has not looked at yet, by ID: one entry
    /// each however much is queued, so bounded by the sessions.
    news: Mutex<HashMap<String, Arc<Session>>>,
    /// Wakes the task for `news` (a permit is kept if it is busy).
    woken: Notify,
    /// WSP transaction ID of the last datagram push.
    tid: AtomicU8,
}

/// A session sent a datagram, to be sent it again if its client does not
/// come for what waits.
struct Retry {
    session: Arc<Session>,
    /// `Session::taken` when the datagram went.
    taken: u64,
    /// Repeats left.
    left: u32,
    /// When this check is due (an older heap entry for the same session
    /// is stale).
    at: Instant,
}

/// A session woken within its interval.
struct Recent {
    session: Arc<Session>,
    /// News came since: one more wake-up is owed at the interval's end.
    due: bool,
}

impl CirPusher {
    /// Starts the pusher's task, which ends with `shutdown`.
    pub fn new(
        udp: Option<UdpPush>,
        sms: Option<Arc<SmsGateway>>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<CirPusher> {
        let pusher = Arc::new(CirPusher {
            udp: udp.map(Arc::new),
            sms,
            metrics,
            news: Mutex::new(HashMap::new()),
            woken: Notify::new(),
            tid: AtomicU8::new(0),
        });
        tokio::spawn(pusher.clone().run(shutdown));
        pusher
    }

    async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // Sessions woken less than their interval ago, and when each
        // interval ends (the soonest first).
        let mut recent: HashMap<String, Recent> = HashMap::new();
        let mut ends: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
        // Datagrams not yet followed by their client's poll, and when each
        // is checked (the soonest first).
        let mut retries: HashMap<String, Retry> = HashMap::new();
        let mut checks: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
        loop {
            let next_end = [ends.peek(), checks.peek()]
                .into_iter()
                .flatten()
                .map(|Reverse((at, _))| *at)
                .min();
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = self.woken.notified() => {}
                () = sleep_until(next_end) => {}
            }
            let news = std::mem::take(&mut *self.news.lock());
            for (id, session) in news {
                match recent.get_mut(&id) {
                    // Within the interval: one wake-up at its end for
                    // everything that arrives meanwhile.
                    Some(r) => r.due = true,
                    None => {
                        if let Some(taken) = self.wake(&session, &id, &mut recent, &mut ends).await
                        {
                            self.arm(session, id, taken, &mut retries, &mut checks);
                        }
                    }
                }
            }
            let now = Instant::now();
            while let Some(Reverse((at, _))) = ends.peek()
                && *at <= now
            {
                let Some(Reverse((_, id))) = ends.pop() else {
                    break;
                };
                if let Some(r) = recent.remove(&id)
                    && r.due
                    && let Some(taken) = self.wake(&r.session, &id, &mut recent, &mut ends).await
                {
                    self.arm(r.session, id, taken, &mut retries, &mut checks);
                }
            }
            while let Some(Reverse((at, _))) = checks.peek()
                && *at <= now
            {
                let Some(Reverse((at, id))) = checks.pop() else {
                    break;
                };
                self.check(at, id, &mut retries, &mut checks, &mut recent, &mut ends)
                    .await;
            }
        }
    }

    /// After a datagram to `session` (`taken`: [`Session::taken`] before
    /// it went): checks at the retry time whether its client came,
    /// replacing an earlier check of the same session. Repeats left from
    /// a datagram the client did not come after are not given back.
    fn arm(
        &self,
        session: Arc<Session>,
        id: String,
        taken: u64,
        retries: &mut HashMap<String, Retry>,
        checks: &mut BinaryHeap<Reverse<(Instant, String)>>,
    ) {
        let Some(after) = self.retry_after(&session) else {
            retries.remove(&id);
            return;
        };
        let at = Instant::now() + after;
        let left = match retries.get(&id) {
            Some(r) if r.taken == taken => r.left,
            _ => self.udp.as_ref().map_or(0, |u| u.retries),
        };
        checks.push(Reverse((at, id.clone())));
        retries.insert(
            id,
            Retry {
                session,
                taken,
                left,
                at,
            },
        );
    }

    /// The retry time of a datagram to `session`; none for an SMS target
    /// (each costs the operator) or when repeats are off.
    fn retry_after(&self, session: &Session) -> Option<Duration> {
        let udp = self.udp.as_ref()?;
        if udp.retries == 0 || udp.retry_after.is_zero() {
            return None;
        }
        match session.cir_target() {
            Some(CirTarget::Udp(_) | CirTarget::WapUdp(_)) => {
                Some(udp.retry_after.max(udp.min_interval))
            }
            _ => None,
        }
    }

    /// A retry check is due: the datagram is sent again when the client
    /// has taken nothing since and something still waits; the repeat
    /// starts an interval as any wake-up does.
    async fn check(
        &self,
        at: Instant,
        id: String,
        retries: &mut HashMap<String, Retry>,
        checks: &mut BinaryHeap<Reverse<(Instant, String)>>,
        recent: &mut HashMap<String, Recent>,
        ends: &mut BinaryHeap<Reverse<(Instant, String)>>,
    ) {
        let Some(r) = retries.get_mut(&id) else {
            return;
        };
        if r.at != at {
            // A later datagram armed a later check.
            return;
        }
        let session = Arc::clone(&r.session);
        let came = session.taken() != r.taken;
        if came || r.left == 0 || session.is_ended() || !session.has_pending() {
            retries.remove(&id);
            return;
        }
        let Some(after) = self.retry_after(&session) else {
            retries.remove(&id);
            return;
        };
        tracing::debug!(session = %imps_core::ids::log_tag(&id), left = r.left, "client did not come after a datagram wake-up; sending it again");
        Metrics::inc(&self.metrics.cir_udp_retries);
        self.send(&session).await;
        r.left -= 1;
        r.at = Instant::now() + after;
        checks.push(Reverse((r.at, id.clone())));
        // News meanwhile waits for the interval's end, as after `wake`.
        self.start_interval(&session, &id, recent, ends);
    }

    /// After a datagram: news for `session` waits for the end of its
    /// interval (one already running is kept, with what it owes).
    fn start_interval(
        &self,
        session: &Arc<Session>,
        id: &str,
        recent: &mut HashMap<String, Recent>,
        ends: &mut BinaryHeap<Reverse<(Instant, String)>>,
    ) {
        if let std::collections::hash_map::Entry::Vacant(e) = recent.entry(id.to_string()) {
            ends.push(Reverse((
                Instant::now() + self.interval(session),
                e.key().clone(),
            )));
            e.insert(Recent {
                session: Arc::clone(session),
                due: false,
            });
        }
    }

    /// Sends a wake-up if something still waits (the client may have
    /// polled it already) and the session lives; its interval starts.
    /// When it was sent, [`Session::taken`] from just before.
    async fn wake(
        &self,
        session: &Arc<Session>,
        id: &str,
        recent: &mut HashMap<String, Recent>,
        ends: &mut BinaryHeap<Reverse<(Instant, String)>>,
    ) -> Option<u64> {
        if session.is_ended() || !session.has_pending() {
            return None;
        }
        let taken = session.taken();
        self.send(session).await;
        self.start_interval(session, id, recent, ends);
        Some(taken)
    }

    /// The least time between two wake-ups by the session's current target.
    fn interval(&self, session: &Session) -> Duration {
        match session.cir_target() {
            Some(CirTarget::Sms(_) | CirTarget::WapSms(_)) => self
                .sms
                .as_ref()
                .map(|s| s.cir_interval())
                .unwrap_or_default(),
            _ => self
                .udp
                .as_ref()
                .map(|u| u.min_interval)
                .unwrap_or_default(),
        }
    }

    async fn send(&self, session: &Arc<Session>) {
        // The session may have negotiated again, or left this CIR.
        let Some(target) = session.cir_target() else {
            return;
        };
        let line = CirLine::new(session.version, session.cookie.to_string());
        let (addr, bytes) = match target {
            CirTarget::Udp(a) => (a, line.to_text().into_bytes()),
            CirTarget::WapUdp(a) => {
                let tid = self.tid.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
                (a, WapPush::cir(tid, &line).encode())
            }
            CirTarget::Sms(ref to) | CirTarget::WapSms(ref to) => {
                let wap = matches!(target, CirTarget::WapSms(_));
                if let Some(sms) = &self.sms {
                    // Through the store: not awaited here, where it would
                    // hold up every other session's wake-up.
                    let (sms, id, to) = (sms.clone(), session.id.clone(), to.clone());
                    tokio::spawn(async move { sms.queue_cir(&id, &line, &to, wap).await });
                }
                return;
            }
        };
        let Some(udp) = &self.udp else {
            return;
        };
        match udp.socket.send_to(&bytes, addr).await {
            Ok(_) => Metrics::inc(&self.metrics.cir_udp_wakeups),
            Err(e) => {
                Metrics::inc(&self.metrics.cir_udp_failures);
                tracing::debug!(%addr, error = %e, "datagram CIR not sent");
            }
        }
    }

    fn note(&self, session: &Arc<Session>) {
        {
            let mut news = self.news.lock();
            if news.contains_key(&session.id) {
                return;
            }
            news.insert(session.id.clone(), session.clone());
        }
        self.woken.notify_one();
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl CirWaker for CirPusher {
    fn attach(&self, session: Arc<Session>) {
        // Something queued before it agreed counts as news.
        if session.has_pending() {
            self.note(&session);
        }
    }

    fn news(&self, session: &Arc<Session>) {
        self.note(session);
    }
}
