//! Logging: one subscriber for the process, whose filter an operator can
//! change while the server runs (`POST /admin/log?filter=...`, or
//! `impsd log FILTER`), e.g. to turn on `debug` for one module while a
//! problem is happening and back off afterwards.

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Reads and changes the log filter of the running process.
pub trait LogControl: Send + Sync {
    /// The filter in force, in `EnvFilter` syntax.
    fn current(&self) -> String;
    /// Replaces the filter; an unparsable one is refused and the old one
    /// stays.
    fn set(&self, filter: &str) -> Result<(), String>;
}

/// A [`LogControl`] over a reloadable `EnvFilter` layer.
pub struct ReloadFilter(reload::Handle<EnvFilter, Registry>);

impl ReloadFilter {
    pub fn new(handle: reload::Handle<EnvFilter, Registry>) -> ReloadFilter {
        ReloadFilter(handle)
    }
}

impl LogControl for ReloadFilter {
    fn current(&self) -> String {
        self.0
            .with_current(|f| f.to_string())
            .unwrap_or_else(|e| format!("unavailable: {e}"))
    }

    fn set(&self, filter: &str) -> Result<(), String> {
        let f = EnvFilter::try_new(filter.trim()).map_err(|e| e.to_string())?;
        self.0.reload(f).map_err(|e| e.to_string())
    }
}

/// Installs the process's subscriber: `IMPSD_LOG` if set, else `filter`
/// from the settings; logs to stderr, coloured only on a terminal.
/// Returns the handle that changes the filter later.
pub fn init(filter: &str) -> Arc<dyn LogControl> {
    let filter = EnvFilter::try_from_env("IMPSD_LOG").unwrap_or_else(|_| EnvFilter::new(filter));
    let (layer, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(Lines)
                .with_ansi(ansi)
                .with_writer(std::io::stderr),
        )
        .init();
    Arc::new(ReloadFilter::new(handle))
}

/// One log line: time, level, the spans it was written in (a library's;
/// the server makes none), the CSP transaction it was written under
/// ([`imps_core::txlog`]), then the event's message and fields.
pub struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut w)?;
        let level = *event.metadata().level();
        if w.has_ansi_escapes() {
            let colour = match level {
                Level::ERROR => 31,
                Level::WARN => 33,
                Level::INFO => 32,
                Level::DEBUG => 34,
                Level::TRACE => 35,
            };
            write!(w, " \x1b[{colour}m{level:>5}\x1b[0m ")?;
        } else {
            write!(w, " {level:>5} ")?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(f) = ext.get::<FormattedFields<N>>()
                    && !f.is_empty()
                {
                    write!(w, "{{{f}}}")?;
                }
                w.write_str(": ")?;
            }
        }
        imps_core::txlog::write_current(&mut w)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_replaced_and_a_bad_one_refused() {
        let (layer, handle) = reload::Layer::new(EnvFilter::new("info"));
        // Kept alive, not installed: the handle reaches the layer while
        // the subscriber holding it lives.
        let _subscriber = tracing_subscriber::registry().with(layer);
        let c = ReloadFilter::new(handle);
        assert_eq!(c.current(), "info");
        c.set("warn,imps_core::im=debug").expect("valid filter");
        assert!(
            c.current().contains("imps_core::im=debug"),
            "{}",
            c.current()
        );
        assert!(c.set("imps_core=notalevel").is_err());
        assert!(
            c.current().contains("imps_core::im=debug"),
            "old filter stays"
        );
    }
}
