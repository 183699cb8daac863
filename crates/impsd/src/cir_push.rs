//! CIR the server sends by itself, to a client that holds no connection:
//! a UDP datagram (SUDP, WAPUDP) to the address ClientCapability agreed,
//! or an SMS (SSMS, WAPSMS) through the SMSC to the user's number. The
//! client then polls.
//!
//! One task per session that agreed one, started by [`CirPusher::attach`]
//! and ended with the session (or the server). Wake-ups are coalesced:
//! one goes out when something waits and none was sent in the last
//! interval (`cir.udp_min_interval_ms`, `sms.cir_min_interval_secs`);
//! what arrives in between is announced by one more at the end of that
//! interval, and only if it still waits (the client may have polled it
//! already). So a burst of messages costs one wake-up, and a lost one is
//! repeated once the interval has passed and something new arrives.
//! SMS wake-ups go through the store's queue, which also keeps at most
//! one waiting per session.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use imps_core::Session;
use imps_core::cir::{CirTarget, CirWaker};
use imps_wire::cir::{CirLine, WapPush};
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::sms::SmsGateway;

/// Datagram CIR: the socket and the least time between two datagrams.
#[derive(Debug)]
pub struct UdpPush {
    pub socket: UdpSocket,
    pub min_interval: Duration,
}

/// Sends the wake-ups of every session that agreed a CIR method the
/// server serves by itself.
#[derive(Debug)]
pub struct CirPusher {
    udp: Option<Arc<UdpPush>>,
    sms: Option<Arc<SmsGateway>>,
    metrics: Arc<Metrics>,
    /// Sessions with a running task (one each, however often the client
    /// negotiates again).
    watching: Arc<Mutex<HashSet<String>>>,
    shutdown: watch::Receiver<bool>,
}

impl CirPusher {
    pub fn new(
        udp: Option<UdpPush>,
        sms: Option<Arc<SmsGateway>>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<CirPusher> {
        Arc::new(CirPusher {
            udp: udp.map(Arc::new),
            sms,
            metrics,
            watching: Arc::new(Mutex::new(HashSet::new())),
            shutdown,
        })
    }
}

impl CirWaker for CirPusher {
    fn attach(&self, session: Arc<Session>) {
        if !self.watching.lock().insert(session.id.clone()) {
            // Already watched: the task reads the target at each send.
            return;
        }
        let task = Watch {
            udp: self.udp.clone(),
            sms: self.sms.clone(),
            metrics: self.metrics.clone(),
            session,
            tid: 0,
        };
        let watching = self.watching.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let id = task.session.id.clone();
            tokio::select! {
                _ = task.run() => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            watching.lock().remove(&id);
        });
    }
}

struct Watch {
    udp: Option<Arc<UdpPush>>,
    sms: Option<Arc<SmsGateway>>,
    metrics: Arc<Metrics>,
    session: Arc<Session>,
    /// WSP transaction ID of the last datagram push.
    tid: u8,
}

impl Watch {
    /// The least time between two wake-ups by the session's current target.
    fn interval(&self) -> Duration {
        match self.session.cir_target() {
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

    async fn run(mut self) {
        let mut wake = self.session.subscribe();
        let mut last_sent: Option<Instant> = None;
        // Something queued before the task started counts as news.
        let mut news = self.session.has_pending();
        loop {
            if !news {
                wake.changed().await;
            }
            news = false;
            if self.session.is_ended() {
                return;
            }
            if let Some(t) = last_sent {
                // Within the interval: one wake-up at its end for
                // everything that arrives meanwhile.
                // Boxed, as the send below: the task of an idle session
                // keeps only the wait for news (issue 19).
                Box::pin(tokio::time::sleep_until(t + self.interval())).await;
                if self.session.is_ended() {
                    return;
                }
            }
            // What was queued up to now is announced by this wake-up (or
            // was collected already); only later news owes another.
            wake.mark_seen();
            if self.session.has_pending() {
                Box::pin(self.send()).await;
                last_sent = Some(Instant::now());
            }
        }
    }

    async fn send(&mut self) {
        // The session may have negotiated again, or left this CIR.
        let Some(target) = self.session.cir_target() else {
            return;
        };
        let line = CirLine::new(self.session.version, self.session.cookie.clone());
        let (addr, bytes) = match target {
            CirTarget::Udp(a) => (a, line.to_text().into_bytes()),
            CirTarget::WapUdp(a) => {
                self.tid = self.tid.wrapping_add(1);
                (a, WapPush::cir(self.tid, &line).encode())
            }
            CirTarget::Sms(ref to) | CirTarget::WapSms(ref to) => {
                let wap = matches!(target, CirTarget::WapSms(_));
                if let Some(sms) = &self.sms {
                    sms.queue_cir(&self.session.id, &line, to, wap).await;
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
}
