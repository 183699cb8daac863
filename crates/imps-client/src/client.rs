//! The session handle shared by every transport: who we are, the current
//! SessionID, TransactionID numbering, and the low-level exchange.

use std::sync::{Arc, Mutex, MutexGuard};

use imps_wire::{Element, Message, Transaction, TransactionMode};

use crate::config::ClientConfig;
use crate::http::HttpTransport;
use crate::primitives::status;
use crate::transport::Transport;
use crate::{ClientError, Result};

/// Android's TransactionID range: decimal "1".."999", then round again.
/// We copy it so the server sees IDs shaped like a real phone's.
pub const MAX_TRANSACTION_ID: u16 = 999;

/// Hands out TransactionIDs "1".."999", wrapping to "1".
#[derive(Debug, Clone)]
pub struct TidCounter {
    next: u16,
}

impl Default for TidCounter {
    fn default() -> Self {
        TidCounter { next: 1 }
    }
}

impl TidCounter {
    /// A counter that hands out `next` first (clamped into 1..=999), so a
    /// session resumed by another process carries on its numbering.
    pub fn starting_at(next: u16) -> TidCounter {
        TidCounter {
            next: next.clamp(1, MAX_TRANSACTION_ID),
        }
    }

    /// The ID the next call to [`TidCounter::next_id`] returns.
    pub fn peek(&self) -> u16 {
        self.next
    }

    pub fn next_id(&mut self) -> String {
        let id = self.next;
        self.next = if id >= MAX_TRANSACTION_ID { 1 } else { id + 1 };
        id.to_string()
    }
}

#[derive(Debug, Default)]
struct State {
    session_id: Option<String>,
    last_poll: Option<bool>,
    tids: TidCounter,
}

struct Inner<T> {
    transport: T,
    config: ClientConfig,
    cookie: String,
    state: Mutex<State>,
}

/// A CSP session over some transport (HTTP by default; see `WsClient`).
/// Cloning is cheap and clones share the session.
pub struct Client<T: Transport = HttpTransport> {
    inner: Arc<Inner<T>>,
}

impl<T: Transport> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Transport> std::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.config.url)
            .field("version", &self.inner.config.version)
            .field("encoding", &self.inner.config.encoding)
            .field("session_id", &self.session_id())
            .finish()
    }
}

impl<T: Transport> Client<T> {
    /// Wraps a transport. Each client gets its own random SessionCookie,
    /// kept for every login it makes, so a test can match `WVCI` lines.
    pub fn with_transport(transport: T, config: ClientConfig) -> Client<T> {
        Self::with_transport_and_cookie(transport, config, random_cookie())
    }

    /// Like [`Client::with_transport`] with a chosen SessionCookie: a
    /// session resumed from a saved profile keeps the cookie it logged in
    /// with, so CIR lines still match it.
    pub fn with_transport_and_cookie(
        transport: T,
        config: ClientConfig,
        cookie: String,
    ) -> Client<T> {
        Client {
            inner: Arc::new(Inner {
                transport,
                config,
                cookie,
                state: Mutex::new(State::default()),
            }),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn transport(&self) -> &T {
        &self.inner.transport
    }

    /// The session cookie sent in Login-Request (echoed in CIR lines).
    pub fn session_cookie(&self) -> &str {
        &self.inner.cookie
    }

    pub fn session_id(&self) -> Option<String> {
        self.state().session_id.clone()
    }

    /// Overrides the session, e.g. to replay a stale SessionID in a test.
    pub fn set_session_id(&self, id: Option<String>) {
        self.state().session_id = id;
    }

    /// The message-level Poll flag of the last answer: `Some(true)` means
    /// more server transactions are waiting.
    pub fn last_poll(&self) -> Option<bool> {
        self.state().last_poll
    }

    pub fn next_transaction_id(&self) -> String {
        self.state().tids.next_id()
    }

    /// The TransactionID the next request will use (for saving a session).
    pub fn peek_transaction_id(&self) -> u16 {
        self.state().tids.peek()
    }

    /// Continues TransactionID numbering from `next` (a resumed session).
    pub fn set_next_transaction_id(&self, next: u16) {
        self.state().tids = TidCounter::starting_at(next);
    }

    /// A one-transaction message in our version, carrying the current
    /// session (Inband) or none (Outband).
    pub fn message(&self, tx: Transaction) -> Message {
        Message::single(self.inner.config.version, self.session_id(), tx)
    }

    /// Sends any message as is. `None` means the server had nothing to say
    /// (an empty HTTP body).
    pub async fn send_raw(&self, msg: &Message) -> Result<Option<Message>> {
        let answer = self.inner.transport.send(msg).await?;
        if let Some(m) = &answer {
            self.state().last_poll = m.poll;
        }
        Ok(answer)
    }

    /// Sends `body` as a Request under the next TransactionID and returns
    /// the body of the matching Response, whatever its code.
    pub async fn request(&self, body: Element) -> Result<Element> {
        let tid = self.next_transaction_id();
        self.request_with_id(&tid, body).await
    }

    /// Like [`Client::request`] with a chosen TransactionID (the 4-way
    /// login reuses one ID for both legs). A successful Login-Response
    /// starts the session whichever helper sent it.
    pub async fn request_with_id(&self, tid: &str, body: Element) -> Result<Element> {
        let name = body.name.clone();
        let msg = self.message(Transaction::request(tid, body));
        let answer = self
            .send_raw(&msg)
            .await?
            .ok_or_else(|| ClientError::Protocol(format!("empty answer to {name}")))?;
        let tx = take_response(answer, tid)?;
        if tx.body.name == "Login-Response" {
            self.adopt_session(&tx.body);
        }
        Ok(tx.body)
    }

    /// Answers a server-originated request (Response mode, its ID).
    pub async fn answer(&self, tid: &str, body: Element) -> Result<Option<Message>> {
        let msg = self.message(Transaction::response(Some(tid.to_string()), body));
        self.send_raw(&msg).await
    }

    /// Acknowledges a server request with `Status 200`.
    pub async fn answer_status(&self, tid: &str) -> Result<Option<Message>> {
        self.answer(tid, status(200, "")).await
    }

    /// Sends a Polling-Request without a TransactionID, as Android does.
    /// Over WebSocket the answer is pushed, so this returns `None` there.
    pub async fn poll(&self) -> Result<Option<Message>> {
        let tx = Transaction {
            id: None,
            ..Transaction::request("", Element::new("Polling-Request"))
        };
        self.send_raw(&self.message(tx)).await
    }

    fn adopt_session(&self, body: &Element) {
        let ok = crate::primitives::status_of(body).is_some_and(|(c, _)| c == 200);
        if let Some(id) = body.child_text("SessionID").filter(|s| ok && !s.is_empty()) {
            self.state().session_id = Some(id.to_string());
        }
    }

    /// The state lock is never held across an await, so a poisoned lock
    /// only means another thread panicked mid-update of plain values;
    /// carrying on is safe.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Finds the Response to our request in an answer. Anything else (a server
/// Request, a different ID) is a protocol error: over HTTP the answer to a
/// POST is that POST's response.
fn take_response(mut answer: Message, tid: &str) -> Result<Transaction> {
    let found = answer
        .transactions
        .iter()
        .position(|t| t.mode == TransactionMode::Response && t.id.as_deref() == Some(tid));
    match found {
        Some(i) => Ok(answer.transactions.swap_remove(i)),
        None => {
            let seen: Vec<String> = answer
                .transactions
                .iter()
                .map(|t| format!("{} {:?} id={:?}", t.body.name, t.mode, t.id))
                .collect();
            Err(ClientError::Protocol(format!(
                "no Response with TransactionID {tid} in answer: [{}]",
                seen.join(", ")
            )))
        }
    }
}

/// 16 hex digits from the OS RNG; falls back to the clock, because a
/// cookie only needs to differ between sessions, not be secret.
fn random_cookie() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (nanos as u64).to_be_bytes();
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_run_1_to_999_then_wrap() {
        let mut c = TidCounter::default();
        assert_eq!(c.next_id(), "1");
        assert_eq!(c.next_id(), "2");
        for _ in 3..999 {
            c.next_id();
        }
        assert_eq!(c.next_id(), "999");
        assert_eq!(c.next_id(), "1");
    }

    #[test]
    fn take_response_matches_mode_and_id() {
        let v = imps_wire::Version::V1_2;
        let ok = Message::single(
            v,
            None,
            Transaction::response(Some("7".into()), status(200, "")),
        );
        assert!(take_response(ok.clone(), "7").is_ok());
        assert!(matches!(
            take_response(ok, "8"),
            Err(ClientError::Protocol(_))
        ));
        let req = Message::single(
            v,
            None,
            Transaction::request("7", Element::new("Disconnect")),
        );
        assert!(take_response(req, "7").is_err());
    }

    /// The load tool spawns sessions on a multi-threaded runtime, so every
    /// client future must be Send. This only has to compile.
    #[allow(dead_code)]
    fn client_futures_are_send(http: Client, ws: crate::WsClient) {
        fn send<F: Send>(_: F) {}
        send(http.login_digest("alice", "pw", &["SHA"]));
        send(http.poll());
        send(http.http_cir_check("http://h/cir"));
        send(ws.login_password("bob", "pw"));
        send(ws.next_push(std::time::Duration::ZERO));
    }

    #[test]
    fn cookies_are_hex_and_differ() {
        let (a, b) = (random_cookie(), random_cookie());
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
