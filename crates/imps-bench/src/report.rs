//! One benchmark's result, as a line for people or JSON for scripts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::runner::RunStats;

/// A finished load benchmark: what was run, with which settings, and what
/// the runner measured.
pub struct Report {
    pub bench: String,
    /// Settings that shape the figures (mode, encoding, concurrency...).
    pub params: Value,
    pub stats: RunStats,
    /// CPU time (user + system) of a server started for the run, over the
    /// measured run; `None` for an external server.
    pub server_cpu: Option<Duration>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        let s = &self.stats;
        let h = &s.latency_us;
        json!({
            "bench": self.bench,
            "params": self.params,
            "ok": s.ok,
            "errors": s.errors,
            "elapsed_secs": s.elapsed.as_secs_f64(),
            "per_sec": s.rate(),
            "latency_us": {
                "p50": h.value_at_quantile(0.50),
                "p99": h.value_at_quantile(0.99),
                "max": h.max(),
                "mean": h.mean(),
            },
            "first_error": s.first_error,
            "server_cpu_secs": self.server_cpu.map(|c| c.as_secs_f64()),
        })
    }

    pub fn to_text(&self) -> String {
        let s = &self.stats;
        let h = &s.latency_us;
        let mut out = format!(
            "{} {}\n  {} ok, {} errors in {:.2} s -> {:.1}/s\n  latency p50 {} p99 {} max {}",
            self.bench,
            params_line(&self.params),
            s.ok,
            s.errors,
            s.elapsed.as_secs_f64(),
            s.rate(),
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        );
        if let Some(cpu) = self.server_cpu {
            let secs = s.elapsed.as_secs_f64();
            out.push_str(&format!(
                "\n  server cpu {:.2} s ({:.0}% of one core)",
                cpu.as_secs_f64(),
                if secs > 0.0 {
                    100.0 * cpu.as_secs_f64() / secs
                } else {
                    0.0
                }
            ));
        }
        if let Some(e) = &s.first_error {
            out.push_str(&format!("\n  first error: {e}"));
        }
        out
    }

    pub fn print(&self, as_json: bool) {
        if as_json {
            println!("{}", self.to_json());
        } else {
            println!("{}", self.to_text());
        }
    }
}

/// `key=value` pairs of a flat JSON object, in its order.
fn params_line(params: &Value) -> String {
    match params.as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => params.to_string(),
    }
}

/// Microseconds as milliseconds with enough digits for sub-ms latencies.
pub fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}
