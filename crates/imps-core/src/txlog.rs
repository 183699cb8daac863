//! Which transaction a log line was written under.
//!
//! Every line logged while a CSP transaction is handled names it: the
//! primitive, the TransactionID, the session's log tag and, once the
//! session is found, the user (`tx{primitive=.. tid=.. session=..
//! user=..}`, written by the process's log formatter through
//! [`write_current`]).
//!
//! This was a `tracing` span per transaction. At the default level
//! (info) such a span costs its registration, the eager formatting of its
//! fields and two lock-taking callbacks on every poll of the handler,
//! for lines that are almost never written: about a tenth of the server's
//! CPU per message on the phone path (docs/benchmarks.md section 52).
//! Here the context is a task-local value: set once per transaction,
//! swapped in and out on each poll, and formatted only when a line is
//! written.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use imps_wire::element::Name;

use crate::session::Session;

/// The transaction being handled by the current task.
pub struct TxLog {
    primitive: Name,
    tid: Option<Box<str>>,
    session_id: Option<Box<str>>,
    session: RefCell<Option<Arc<Session>>>,
}

impl TxLog {
    pub fn new(primitive: Name, tid: Option<&str>, session_id: Option<&str>) -> TxLog {
        TxLog {
            primitive,
            tid: tid.map(Box::from),
            session_id: session_id.filter(|s| !s.is_empty()).map(Box::from),
            session: RefCell::new(None),
        }
    }
}

tokio::task_local! {
    static CURRENT: TxLog;
}

/// Runs `fut` with `tx` as the transaction its log lines name.
pub async fn within<F: Future>(tx: TxLog, fut: F) -> F::Output {
    CURRENT.scope(tx, fut).await
}

/// The session of the current transaction is known: its user is named
/// from here on. Outside a transaction, nothing happens.
pub fn found_session(s: &Arc<Session>) {
    let _ = CURRENT.try_with(|tx| *tx.session.borrow_mut() = Some(s.clone()));
}

/// Writes `tx{primitive=.. tid=.. session=.. user=..}: ` when the caller
/// runs inside a transaction, nothing otherwise. The session appears only
/// as its log tag ([`crate::ids::log_tag`]).
pub fn write_current(w: &mut dyn fmt::Write) -> fmt::Result {
    CURRENT.try_with(|tx| write_tx(w, tx)).unwrap_or(Ok(()))
}

fn write_tx(w: &mut dyn fmt::Write, tx: &TxLog) -> fmt::Result {
    write!(w, "tx{{primitive={}", tx.primitive.as_str())?;
    if let Some(t) = &tx.tid {
        write!(w, " tid={t}")?;
    }
    if let Some(s) = &tx.session_id {
        write!(w, " session={}", crate::ids::log_tag(s))?;
    }
    // `try_borrow`: a log line never panics, whatever it interrupts.
    if let Ok(s) = tx.session.try_borrow()
        && let Some(s) = s.as_ref()
    {
        write!(w, " user={}", s.user)?;
    }
    w.write_str("}: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> String {
        let mut s = String::new();
        let _ = write_current(&mut s);
        s
    }

    #[tokio::test]
    async fn a_line_inside_a_transaction_names_it_and_outside_nothing() {
        assert_eq!(current(), "");
        let tx = TxLog::new(
            Name::from_static("SendMessage-Request"),
            Some("7"),
            Some("abc"),
        );
        let inside = within(tx, async {
            tokio::task::yield_now().await;
            current()
        })
        .await;
        let tag = crate::ids::log_tag("abc").to_string();
        assert_eq!(
            inside,
            format!("tx{{primitive=SendMessage-Request tid=7 session={tag}}}: ")
        );
        assert!(
            !inside.contains("abc"),
            "the SessionID itself is never written"
        );
        assert_eq!(current(), "");
        let bare = within(
            TxLog::new(Name::from_static("Login-Request"), None, Some("")),
            async { current() },
        )
        .await;
        assert_eq!(bare, "tx{primitive=Login-Request}: ");
    }
}
