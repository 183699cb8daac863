//! A handful of counters in the Prometheus text format. Small enough that
//! a metrics library would be more code to configure than to write.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use imps_core::ImFigures;
use imps_core::stats::{BUCKETS_US, PrimitiveFigures};

#[derive(Debug, Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub http_bad_requests: AtomicU64,
    pub csp_transactions: AtomicU64,
    pub csp_empty_responses: AtomicU64,
    pub ws_connections: AtomicU64,
    /// Issue 19: requests a WebSocket answered 503 unhandled because it
    /// already held as many read ahead as it may.
    pub ws_busy_refusals: AtomicU64,
    pub cir_tcp_connections: AtomicU64,
    pub cir_tcp_wakeups: AtomicU64,
    pub cir_udp_wakeups: AtomicU64,
    pub cir_udp_failures: AtomicU64,
    /// Datagram wake-ups sent again because the client did not come.
    pub cir_udp_retries: AtomicU64,
    pub sms_queued: AtomicU64,
    pub sms_coalesced: AtomicU64,
    pub sms_sent: AtomicU64,
    pub sms_dropped: AtomicU64,
    pub sms_expired: AtomicU64,
    pub sms_receipts_delivered: AtomicU64,
    pub sms_receipts_failed: AtomicU64,
}

/// What the core reports, read at one moment for one rendering.
#[derive(Debug, Default)]
pub struct CoreFigures {
    /// Live sessions.
    pub sessions: usize,
    /// Sessions ended by keep-alive expiry since the start.
    pub sessions_expired: u64,
    pub per_primitive: Vec<PrimitiveFigures>,
    /// Issue 19: password logins let in by the verifier cache, and those
    /// checked with Argon2, since the start.
    pub password_checks: (u64, u64),
    /// Issue 19: which way messages went, and what waits in memory.
    pub im: ImFigures,
}

impl CoreFigures {
    pub fn of(service: &imps_core::Service) -> CoreFigures {
        CoreFigures {
            sessions: service.sessions().len(),
            sessions_expired: service
                .worker_counts()
                .sessions_expired
                .load(Ordering::Relaxed),
            per_primitive: service.transaction_stats().snapshot(),
            password_checks: service.password_check_counts(),
            im: service.im_figures(),
        }
    }
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every counter, the live session gauge, and per-primitive
    /// transaction counts and latency histograms.
    pub fn render(&self, core: &CoreFigures) -> String {
        let mut out = String::new();
        let rows: [(&str, &str, &AtomicU64); 18] = [
            (
                "impsd_http_requests_total",
                "CSP POSTs received",
                &self.http_requests,
            ),
            (
                "impsd_http_bad_requests_total",
                "bodies that were not CSP or broke a limit",
                &self.http_bad_requests,
            ),
            (
                "impsd_csp_transactions_total",
                "CSP messages handled on any transport",
                &self.csp_transactions,
            ),
            (
                "impsd_csp_empty_responses_total",
                "answers with an empty body",
                &self.csp_empty_responses,
            ),
            (
                "impsd_ws_busy_refusals_total",
                "CSP messages a WebSocket answered 503 unhandled because it already held as many requests read ahead as it may",
                &self.ws_busy_refusals,
            ),
            (
                "impsd_ws_connections_total",
                "WebSocket connections accepted",
                &self.ws_connections,
            ),
            (
                "impsd_cir_tcp_connections_total",
                "TCP CIR connections accepted",
                &self.cir_tcp_connections,
            ),
            (
                "impsd_cir_tcp_wakeups_total",
                "WVCI lines sent on TCP CIR",
                &self.cir_tcp_wakeups,
            ),
            (
                "impsd_cir_udp_wakeups_total",
                "datagrams sent for SUDP and WAPUDP CIR, repeats included",
                &self.cir_udp_wakeups,
            ),
            (
                "impsd_cir_udp_failures_total",
                "datagram CIR sends that failed",
                &self.cir_udp_failures,
            ),
            (
                "impsd_cir_udp_retries_total",
                "datagram CIR wake-ups sent again because the client did not poll",
                &self.cir_udp_retries,
            ),
            (
                "impsd_sms_queued_total",
                "short messages put in the SMS queue",
                &self.sms_queued,
            ),
            (
                "impsd_sms_coalesced_total",
                "SMS wake-ups not queued because one already waited",
                &self.sms_coalesced,
            ),
            (
                "impsd_sms_sent_total",
                "short messages the SMSC accepted",
                &self.sms_sent,
            ),
            (
                "impsd_sms_dropped_total",
                "short messages dropped (queue full, refused for good)",
                &self.sms_dropped,
            ),
            (
                "impsd_sms_expired_total",
                "short messages dropped unsent: too old, or failed sms.max_attempts times",
                &self.sms_expired,
            ),
            (
                "impsd_sms_receipts_delivered_total",
                "delivery receipts saying a short message reached the phone",
                &self.sms_receipts_delivered,
            ),
            (
                "impsd_sms_receipts_failed_total",
                "delivery receipts saying a short message will never arrive (expired, undeliverable, rejected, deleted)",
                &self.sms_receipts_failed,
            ),
        ];
        for (name, help, c) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP impsd_sessions_expired_total sessions ended by keep-alive expiry\n# TYPE impsd_sessions_expired_total counter\nimpsd_sessions_expired_total {}",
            core.sessions_expired
        );
        let _ = writeln!(
            out,
            "# HELP impsd_sessions live sessions\n# TYPE impsd_sessions gauge\nimpsd_sessions {}",
            core.sessions
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let _ = writeln!(
                out,
                "# HELP impsd_runtime_workers threads of the async runtime that run the server's tasks\n# TYPE impsd_runtime_workers gauge\nimpsd_runtime_workers {}",
                rt.metrics().num_workers()
            );
        }
        let (cached, argon2) = core.password_checks;
        let _ = writeln!(
            out,
            "# HELP impsd_password_checks_total password logins by how the password was checked\n# TYPE impsd_password_checks_total counter\nimpsd_password_checks_total{{way=\"cache\"}} {cached}\nimpsd_password_checks_total{{way=\"argon2\"}} {argon2}"
        );
        render_im(&mut out, &core.im);
        render_primitives(&mut out, &core.per_primitive);
        out
    }
}

/// `impsd_im_*`: the way each message went (never written, written after
/// its window, stored), overload refusals, and the in-memory backlog.
fn render_im(out: &mut String, im: &ImFigures) {
    let _ = writeln!(
        out,
        "# HELP impsd_im_messages_total messages by the way they went: pushed and acknowledged within im.ack_window_ms so never written (unwritten), pushed and written when the window closed (written_late), and recipient entries a send wrote (stored)\n\
         # TYPE impsd_im_messages_total counter\n\
         impsd_im_messages_total{{way=\"unwritten\"}} {}\n\
         impsd_im_messages_total{{way=\"written_late\"}} {}\n\
         impsd_im_messages_total{{way=\"stored\"}} {}",
        im.unwritten, im.written_late, im.stored
    );
    let _ = writeln!(
        out,
        "# HELP impsd_im_overload_refusals_total sends refused with 503 because the server was past its bounds\n# TYPE impsd_im_overload_refusals_total counter\nimpsd_im_overload_refusals_total {}",
        im.refused_overloaded
    );
    let _ = writeln!(
        out,
        "# HELP impsd_im_waiting_in_memory messages in memory waiting for online recipients to acknowledge them\n# TYPE impsd_im_waiting_in_memory gauge\nimpsd_im_waiting_in_memory {}",
        im.waiting_in_memory
    );
    let _ = writeln!(
        out,
        "# HELP impsd_im_sends_in_flight SendMessage/ForwardMessage requests being handled now\n# TYPE impsd_im_sends_in_flight gauge\nimpsd_im_sends_in_flight {}\n\
         # HELP impsd_im_send_limit the bound on sends in flight now (im.max_sends_in_flight, lowered while the runtime lags past im.overload_lag_ms; 0 = none)\n# TYPE impsd_im_send_limit gauge\nimpsd_im_send_limit {}\n\
         # HELP impsd_runtime_lag_seconds how long a task that yielded waited to run again, at the last decision of the overload probe\n# TYPE impsd_runtime_lag_seconds gauge\nimpsd_runtime_lag_seconds {}",
        im.sends_in_flight,
        im.send_limit,
        im.runtime_lag_us as f64 / 1e6
    );
}

/// `impsd_csp_primitive_*`: counts, failures and a latency histogram per
/// request primitive, labelled with its CSP name.
fn render_primitives(out: &mut String, rows: &[PrimitiveFigures]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP impsd_csp_primitive_failed_total transactions answered with a status outside 2xx\n# TYPE impsd_csp_primitive_failed_total counter"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "impsd_csp_primitive_failed_total{{primitive=\"{}\"}} {}",
            r.kind.name(),
            r.failed
        );
    }
    let _ = writeln!(
        out,
        "# HELP impsd_csp_primitive_seconds time to handle a transaction, by primitive\n# TYPE impsd_csp_primitive_seconds histogram"
    );
    for r in rows {
        let name = r.kind.name();
        let mut cumulative = 0u64;
        for (bound, n) in BUCKETS_US.iter().zip(&r.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "impsd_csp_primitive_seconds_bucket{{primitive=\"{name}\",le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e6
            );
        }
        let _ = writeln!(
            out,
            "impsd_csp_primitive_seconds_bucket{{primitive=\"{name}\",le=\"+Inf\"}} {}\n\
             impsd_csp_primitive_seconds_sum{{primitive=\"{name}\"}} {}\n\
             impsd_csp_primitive_seconds_count{{primitive=\"{name}\"}} {}",
            r.count,
            r.sum_us as f64 / 1e6,
            r.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imps_core::stats::TransactionStats;
    use imps_wire::PrimitiveKind;
    use std::time::Duration;

    #[test]
    fn per_primitive_histogram_is_cumulative_and_labelled() {
        let stats = TransactionStats::default();
        let k = PrimitiveKind::GetPresenceRequest;
        stats.record(k, Duration::from_micros(200), Some(200));
        stats.record(k, Duration::from_millis(3), Some(531));
        let text = Metrics::default().render(&CoreFigures {
            per_primitive: stats.snapshot(),
            ..CoreFigures::default()
        });
        assert!(
            text.contains("impsd_csp_primitive_failed_total{primitive=\"GetPresence-Request\"} 1")
        );
        assert!(text.contains(
            "impsd_csp_primitive_seconds_bucket{primitive=\"GetPresence-Request\",le=\"0.00025\"} 1"
        ));
        assert!(text.contains(
            "impsd_csp_primitive_seconds_bucket{primitive=\"GetPresence-Request\",le=\"0.005\"} 2"
        ));
        assert!(
            text.contains("impsd_csp_primitive_seconds_count{primitive=\"GetPresence-Request\"} 2")
        );
        assert!(
            !text.contains("Login-Request"),
            "unseen primitives are left out"
        );
    }
}
