//! A handful of counters in the Prometheus text format. Small enough that
//! a metrics library would be more code to configure than to write.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub http_bad_requests: AtomicU64,
    pub csp_transactions: AtomicU64,
    pub csp_empty_responses: AtomicU64,
    pub ws_connections: AtomicU64,
    pub cir_tcp_connections: AtomicU64,
    pub cir_tcp_wakeups: AtomicU64,
    pub sessions_expired: AtomicU64,
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every counter plus the live session gauge.
    pub fn render(&self, sessions: usize) -> String {
        let mut out = String::new();
        let rows: [(&str, &str, &AtomicU64); 8] = [
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
                "impsd_sessions_expired_total",
                "sessions ended by keep-alive expiry",
                &self.sessions_expired,
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
            "# HELP impsd_sessions live sessions\n# TYPE impsd_sessions gauge\nimpsd_sessions {sessions}"
        );
        out
    }
}
