//! Sessions: the in-memory registry, login, and negotiation.
//!
//! A session's mutable state has one owner, its own mutex, held only for
//! short non-async sections. Server-originated transactions wait in a
//! bounded outbox; push channels (TCP CIR, HTTP CIR, WebSocket) watch the
//! session's generation counter and the client collects with a poll.

mod client;
mod functions;
mod login;
mod negotiate;
mod password;
mod registry;
mod throttle;

pub use client::{ClientIdent, WholeClientId};
pub use functions::{FunctionSet, function_for, is_function_name, is_implemented};
pub use password::{PASSWORD_DEFAULTS, PasswordConfig};
pub use registry::{SessionRegistry, SessionSummary};
pub use throttle::{LOGIN_THROTTLE_DEFAULTS, LoginThrottleConfig};

/// The session area: login (with its digest challenges), logout,
/// keep-alive, capability and service negotiation. Starting and ending a
/// session's life in the other areas is the service's job
/// (`Service::ensure_ready`, `Service::end_session`). It asks IM which
/// content it accepts (ClientCapability).
pub(crate) struct SessionService {
    pub(crate) base: std::sync::Arc<crate::base::Base>,
    im: std::sync::Arc<crate::im::ImService>,
    /// Refusals and the terms asked before a login completes.
    sysmsg: std::sync::Arc<crate::sysmsg::SysmsgService>,
    /// Pending digest challenges, keyed by user and ClientID.
    challenges: Mutex<std::collections::HashMap<(String, String), login::Challenge>>,
    /// Bounds concurrent argon2 checks (`CoreConfig::max_password_checks`).
    password_checks: tokio::sync::Semaphore,
    /// Failed logins per user and per address (`CoreConfig::login_throttle`).
    pub(crate) throttle: throttle::LoginThrottle,
    /// What an unknown user's password is checked against, made at first need.
    dummy_hash: tokio::sync::OnceCell<String>,
    /// Password checks made against the dummy hash.
    pub(crate) dummy_checks: std::sync::atomic::AtomicU64,
    /// Passwords that passed Argon2, remembered as keyed digests
    /// (`CoreConfig::password`).
    pub(crate) verifiers: password::VerifierCache,
    /// Password logins let in by the verifier cache, and those that paid
    /// for Argon2 (real or dummy hash), since the start.
    pub(crate) cached_checks: std::sync::atomic::AtomicU64,
    pub(crate) argon2_checks: std::sync::atomic::AtomicU64,
}

impl SessionService {
    pub(crate) fn new(
        base: std::sync::Arc<crate::base::Base>,
        im: std::sync::Arc<crate::im::ImService>,
        sysmsg: std::sync::Arc<crate::sysmsg::SysmsgService>,
    ) -> SessionService {
        let password_checks = tokio::sync::Semaphore::new(base.cfg.max_password_checks.max(1));
        let throttle = throttle::LoginThrottle::new(base.cfg.login_throttle.clone());
        let verifiers = password::VerifierCache::new(base.cfg.password.verifier_cache);
        SessionService {
            base,
            im,
            sysmsg,
            challenges: Mutex::new(std::collections::HashMap::new()),
            password_checks,
            throttle,
            dummy_hash: tokio::sync::OnceCell::new(),
            dummy_checks: std::sync::atomic::AtomicU64::new(0),
            verifiers,
            cached_checks: std::sync::atomic::AtomicU64::new(0),
            argon2_checks: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

use std::collections::VecDeque;

use std::sync::Arc;

use std::sync::atomic::{AtomicU32, Ordering};

use imps_wire::{Element, SharedBody, Version};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What is read later of what the client told us in ClientCapability and
/// what we agreed (the rest is answered and forgotten: this lives as long
/// as the session, issue 19).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// CFG-1: the largest message the client can take, in bytes
    /// ([`Capabilities::max_message_size`]; kept in 32 bits, 8 bytes less
    /// in every session, issue 19: it is capped by the server's own
    /// largest message first).
    pub(crate) max_message: Option<u32>,
    /// `P` (push NewMessage) or `N` (notify, then get). Boxed: 8 bytes
    /// less than a `String` in every session (issue 19).
    pub delivery_method: Option<Box<str>>,
    /// Where the server sends wake-ups by itself (SUDP, WAPUDP), when the
    /// client's preferred agreed method is one of those.
    pub cir_target: Option<crate::cir::CirTarget>,
}

impl Capabilities {
    /// CFG-1: the largest message the client can take, in bytes.
    pub fn max_message_size(&self) -> Option<u64> {
        self.max_message.map(u64::from)
    }

    /// Sets it; a limit past 32 bits is kept as the largest 32-bit one.
    pub fn set_max_message_size(&mut self, bytes: Option<u64>) {
        self.max_message = bytes.map(|b| u32::try_from(b).unwrap_or(u32::MAX));
    }
}

/// How a client reads what we send, learned from its own requests
/// (issue 13). Kept with the session across a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStyle {
    /// It logged in with an address without a domain (`wv:alice`): IDs of
    /// our domain go to it without `@domain`, in every primitive.
    pub bare_ids: bool,
    /// Its ClientCapability showed the Android engine, which reads some
    /// primitives only in their 1.2 shape whatever the version: joined-user
    /// lists as `UserMapList{Mapping*}`, GetList-Response with the lists
    /// directly under it, reactive authorization as PresenceAuth-Request.
    pub android_engine: bool,
}

/// Mutable state of one session.
#[derive(Debug)]
pub struct SessionState {
    pub last_seen_ms: u64,
    /// Seconds (a `u32` beside `dropped`: 8 bytes, issue 19).
    pub ttl_secs: u32,
    pub caps: Option<Capabilities>,
    pub style: ClientStyle,
    /// Functions agreed in Service negotiation, once `negotiated`
    /// ([`SessionState::agreed`]; apart, the flag sits beside the other
    /// flags instead of padding the set: 8 bytes, issue 19).
    agreed_set: FunctionSet,
    negotiated: bool,
    /// Functions the user's level of service leaves out (SYM-11), in the
    /// notation of the `disabled` setting; empty for full service.
    pub withheld: Box<[String]>,
    /// Set when the server has ended the session (admin kick): the queued
    /// Disconnect is delivered, then the session is gone.
    pub closing: bool,
    /// Set when the session is gone from the registry; push channels
    /// watching it close.
    pub ended: bool,
    /// The ready hooks (presence online, offline delivery) have run.
    pub ready: bool,
    /// The CIR waker was told of this session ([`Session::attach_cir`]):
    /// what is queued here is news for it.
    cir_attached: bool,
    /// Requests refused in a row, and whether help was offered (the
    /// system message area's help trigger).
    pub(crate) errors_in_row: u32,
    pub(crate) helped: bool,
    /// Privacy advice was sent to this session.
    pub(crate) advised: bool,
    /// Location privacy advice was sent to this session.
    pub(crate) advised_location: bool,
    /// This session was told what a profile search needs (PPR-7).
    pub(crate) told_profile_needs: bool,
    /// Shared with every other outbox the same primitive went to.
    outbox: VecDeque<Arc<SharedBody>>,
    /// How many entries were ever queued: the outbox holds the ones
    /// numbered `queued - outbox.len()` up to `queued` (see
    /// [`Session::outbox_mark`]).
    queued: u64,
    next_tid: u64,
    /// Notifications dropped because the outbox was full (stops at the
    /// largest `u32`).
    pub dropped: u32,
}

impl SessionState {
    /// Functions agreed in Service negotiation; `None` until then.
    pub fn agreed(&self) -> Option<&FunctionSet> {
        self.negotiated.then_some(&self.agreed_set)
    }

    /// Records the functions agreed in Service negotiation.
    pub fn set_agreed(&mut self, agreed: FunctionSet) {
        self.agreed_set = agreed;
        self.negotiated = true;
    }
}

/// A push channel's view of its session's changes: something was queued,
/// or the session ended, since it last looked.
#[derive(Debug)]
pub struct Wake {
    session: Arc<Session>,
    seen: u32,
}

impl Wake {
    /// Waits until the session changed since this last looked (or was
    /// made), and marks that change seen.
    pub async fn changed(&mut self) {
        let Wake { session, seen } = self;
        loop {
            let woken = session.woken.notified();
            tokio::pin!(woken);
            // Registered before the count is read: a change after the read
            // wakes this.
            woken.as_mut().enable();
            if Wake::see(session, seen) {
                return;
            }
            woken.await;
        }
    }

    /// Marks every change up to now seen; true when there was one.
    pub fn mark_seen(&mut self) -> bool {
        Wake::see(&self.session, &mut self.seen)
    }

    fn see(session: &Session, seen: &mut u32) -> bool {
        let now = session.generation.load(Ordering::SeqCst);
        std::mem::replace(seen, now) != now
    }
}

/// One logged-in session.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    /// Canonical user ID.
    pub user: String,
    /// The ClientID as the client sent it, and its key (URL or MSISDN, as
    /// sent): one string for the usual shapes (issue 19).
    pub client: ClientIdent,
    pub version: Version,
    /// Boxed, as the token below: 8 bytes less each than a `String` in
    /// every session (issue 19).
    pub cookie: Box<str>,
    /// Secret part of this session's HTTP CIR URL.
    pub cir_token: Box<str>,
    pub created_ms: u64,
    /// The `DefaultLanguage` of its first ClientCapability, lower case,
    /// for server text (set once; the router reads it without a lock).
    language: std::sync::OnceLock<Box<str>>,
    state: Mutex<SessionState>,
    /// Counts what was queued (and the end): push channels wait on it
    /// through a [`Wake`]. Kept inline, where a `watch` channel cost a
    /// shared allocation of about 350 bytes per session (issue 19). It
    /// wraps; a `Wake` only compares it for a change, and every channel
    /// looks at the session's state itself when woken.
    generation: AtomicU32,
    woken: Notify,
    /// Cuts of the connections carrying this session asked so far (the
    /// admin's cut, as a network drop would): each connection compares
    /// it with what it saw when it took the session.
    cuts: AtomicU32,
    /// Connections (WebSockets) carrying this session now.
    carriers: AtomicU32,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: String,
        user: String,
        client: ClientIdent,
        version: Version,
        cookie: String,
        cir_token: String,
        now_ms: u64,
        ttl_secs: u64,
    ) -> Session {
        Session {
            id,
            user,
            client,
            version,
            cookie: cookie.into_boxed_str(),
            cir_token: cir_token.into_boxed_str(),
            created_ms: now_ms,
            language: std::sync::OnceLock::new(),
            state: Mutex::new(SessionState {
                last_seen_ms: now_ms,
                ttl_secs: u32::try_from(ttl_secs).unwrap_or(u32::MAX),
                caps: None,
                style: ClientStyle::default(),
                agreed_set: FunctionSet::default(),
                negotiated: false,
                withheld: Box::default(),
                closing: false,
                ended: false,
                ready: false,
                cir_attached: false,
                errors_in_row: 0,
                helped: false,
                advised: false,
                advised_location: false,
                told_profile_needs: false,
                outbox: VecDeque::new(),
                queued: 0,
                next_tid: 1,
                dropped: 0,
            }),
            generation: AtomicU32::new(0),
            woken: Notify::new(),
            cuts: AtomicU32::new(0),
            carriers: AtomicU32::new(0),
        }
    }

    /// What this session's ClientID is compared by (GEN-13).
    pub fn client_key(&self) -> &str {
        self.client.key()
    }

    /// A connection now carries this session (until [`Session::uncarry`]).
    pub fn carry(&self) {
        self.carriers.fetch_add(1, Ordering::SeqCst);
    }

    /// A connection stopped carrying this session.
    pub fn uncarry(&self) {
        self.carriers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Cuts asked so far: a connection that sees this move closes.
    pub fn cuts(&self) -> u32 {
        self.cuts.load(Ordering::SeqCst)
    }

    /// Asks every connection carrying this session to close, as a
    /// network drop would; the session stays. False when none carries it.
    pub fn cut_connections(&self) -> bool {
        if self.carriers.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.cuts.fetch_add(1, Ordering::SeqCst);
        self.wake_up();
        true
    }

    /// The durable part of this session: what a restart brings back.
    pub(crate) fn record(&self) -> crate::store::SessionRecord {
        let (ttl_secs, delivery_method, style, withheld, cir_target) = self.with_state(|st| {
            let caps = st.caps.as_ref();
            let method = caps.and_then(|c| c.delivery_method.as_deref().map(String::from));
            let cir = caps.and_then(|c| c.cir_target.as_ref().map(|t| t.to_record()));
            (st.ttl_secs, method, st.style, st.withheld.to_vec(), cir)
        });
        crate::store::SessionRecord {
            id: self.id.clone(),
            user_id: self.user.clone(),
            client_id: self.client.key().to_string(),
            version: self.version.as_str().to_string(),
            cookie: self.cookie.to_string(),
            ttl_secs: u64::from(ttl_secs),
            created_ms: self.created_ms,
            delivery_method,
            bare_ids: style.bare_ids,
            android_engine: style.android_engine,
            withheld,
            cir_target,
            node: None,
        }
    }

    /// The language its client announced, if any.
    pub fn language(&self) -> Option<&str> {
        self.language.get().map(|l| &**l)
    }

    /// Keeps the first language a client announces.
    pub(crate) fn set_language(&self, language: String) {
        let _ = self.language.set(language.into_boxed_str());
    }

    pub fn style(&self) -> ClientStyle {
        self.state.lock().style
    }

    /// Runs `f` with the state locked. Never hold this across an await.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut SessionState) -> R) -> R {
        f(&mut self.state.lock())
    }

    pub fn touch(&self, now_ms: u64) {
        self.state.lock().last_seen_ms = now_ms;
    }

    /// Queues a server-originated primitive and wakes the push channels;
    /// true when the CIR waker is to be told too. When the outbox is full
    /// the oldest entry is dropped: a slow client must not grow our memory.
    /// Only the router calls this (a test in `router` checks); areas go
    /// through `Router`.
    pub(crate) fn router_enqueue(&self, body: Arc<SharedBody>, max_outbox: usize) -> bool {
        let cir = {
            let mut st = self.state.lock();
            if st.outbox.len() >= max_outbox.max(1) {
                st.outbox.pop_front();
                st.dropped = st.dropped.saturating_add(1);
                tracing::warn!(session = %crate::ids::log_tag(&self.id), user = %self.user, "outbox full, dropped oldest notification");
            }
            st.outbox.push_back(body);
            st.queued += 1;
            st.cir_attached
        };
        self.wake_up();
        cir
    }

    /// Notes that the CIR waker wakes this session from now on; true the
    /// first time (the caller then attaches it).
    pub(crate) fn attach_cir(&self) -> bool {
        !std::mem::replace(&mut self.state.lock().cir_attached, true)
    }

    /// Tells the push channels to look again at what is queued, as if
    /// something new had come: a standing TCP CIR announces it again.
    pub(crate) fn remind(&self) {
        self.wake_up();
    }

    /// The CIR waker wakes this session (see [`Session::attach_cir`]).
    pub(crate) fn cir_attached(&self) -> bool {
        self.state.lock().cir_attached
    }

    /// Counts a change and wakes every [`Wake`] waiting on this session.
    fn wake_up(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.woken.notify_waiters();
    }

    /// Drops what waits in the outbox (a kicked session: its Disconnect
    /// is queued next, and nothing queued before it is delivered; IM
    /// offers unacknowledged messages again as for any ended session).
    pub(crate) fn clear_outbox(&self) {
        self.state.lock().outbox.clear();
    }

    /// Takes the next server-originated primitive with a fresh server
    /// TransactionID, and whether more are waiting.
    pub fn pop_outgoing(&self) -> Option<(String, Element, bool)> {
        self.pop_outgoing_shared()
            .map(|(tid, body, more)| (tid, body.into_body(), more))
    }

    /// As [`Session::pop_outgoing`], with the primitive as queued: shared
    /// with the other sessions it went to, its encodings made once.
    pub fn pop_outgoing_shared(&self) -> Option<(String, Arc<SharedBody>, bool)> {
        let mut st = self.state.lock();
        let body = st.outbox.pop_front()?;
        if st.outbox.is_empty() {
            // Nothing kept for an idle session (issue 19).
            st.outbox.shrink_to_fit();
        }
        let tid = format!("s{}", st.next_tid);
        st.next_tid += 1;
        Some((tid, body, !st.outbox.is_empty()))
    }

    /// The number the next entry queued here will have. An area that
    /// reads it just before it queues something can later ask
    /// [`Session::still_queued`] whether that entry still waits.
    pub fn outbox_mark(&self) -> u64 {
        self.state.lock().queued
    }

    /// True when the entry numbered `mark` (or, when something else was
    /// queued between the read of the mark and the entry, an earlier one
    /// after which it came) still waits in the outbox: the client has not
    /// taken it, and it was not dropped. False when in doubt.
    pub fn still_queued(&self, mark: u64) -> bool {
        let st = self.state.lock();
        let first = st.queued - st.outbox.len() as u64;
        (first..st.queued).contains(&mark)
    }

    /// How many entries the client has taken from the outbox so far (a
    /// poll, a push): a change says it came for them.
    pub fn taken(&self) -> u64 {
        self.state.lock().next_tid - 1
    }

    pub fn has_pending(&self) -> bool {
        !self.state.lock().outbox.is_empty()
    }

    /// Wake-ups for whatever is queued (or the end of the session) from
    /// now on.
    pub fn subscribe(self: &Arc<Self>) -> Wake {
        Wake {
            seen: self.generation.load(Ordering::SeqCst),
            session: self.clone(),
        }
    }

    /// Marks the session gone and wakes its push channels so they close.
    pub(crate) fn mark_ended(&self) {
        self.state.lock().ended = true;
        self.wake_up();
    }

    pub fn is_ended(&self) -> bool {
        self.state.lock().ended
    }

    pub fn is_closing(&self) -> bool {
        self.state.lock().closing
    }

    /// The CIR line for this session: `WVCI <version> <cookie>`.
    pub fn cir_line(&self) -> String {
        imps_wire::cir::CirLine::new(self.version, self.cookie.to_string()).to_text()
    }

    /// Where the server sends this session's wake-ups by itself, as last
    /// negotiated.
    pub fn cir_target(&self) -> Option<crate::cir::CirTarget> {
        self.state
            .lock()
            .caps
            .as_ref()
            .and_then(|c| c.cir_target.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<Session> {
        Arc::new(Session::new(
            "s1".into(),
            "alice".into(),
            ClientIdent::url("phone"),
            Version::V1_3,
            "cookie".into(),
            "token".into(),
            0,
            60,
        ))
    }

    /// Queues one primitive for session `s1` through a router, as areas do.
    fn queue(router: &crate::router::LocalRouter) {
        use crate::router::Router;
        assert!(router.to_session("s1", Element::new("NewMessage")));
    }

    /// A session lives as long as its user is logged in, idle or not
    /// (issue 19): capabilities keep only what is read later.
    #[test]
    fn a_session_keeps_only_what_is_read_later() {
        // 544 with the ClientID element inline, 472 with it behind an
        // `Arc` and the connections' cut counts (with the `Arc`'s counts
        // one 512-byte block); 432 with the ClientID as one string, the
        // function set without 16-byte alignment and the language boxed:
        // 448 with the counts, the allocator's next size down. 368 with
        // the cookie, CIR token and delivery method boxed, the withheld
        // functions a boxed slice, the agreed set's flag among the
        // flags, the TTL, drop count and wake-up count in 32 bits and the
        // client's message limit too: 384 with the counts, one size down
        // again.
        let size = std::mem::size_of::<Session>();
        assert!(size <= 368, "Session is {size} bytes");
        // 72 with the message limit in 64 bits, 64 in 32.
        let caps = std::mem::size_of::<Option<Capabilities>>();
        assert!(caps <= 64, "Option<Capabilities> is {caps} bytes");
    }

    /// The wake-up a push channel waits on: what was queued before it
    /// subscribed is not news, what comes after is, once; the end of the
    /// session wakes it too.
    #[tokio::test]
    async fn a_wake_sees_each_change_after_it_subscribed() {
        let s = session();
        let registry = Arc::new(SessionRegistry::default());
        registry.insert(s.clone(), 0).expect("insert");
        let router = crate::router::LocalRouter::new(registry, 10);
        queue(&router);
        let mut wake = s.subscribe();
        assert!(!wake.mark_seen(), "queued before it subscribed");

        queue(&router);
        tokio::time::timeout(std::time::Duration::from_secs(5), wake.changed())
            .await
            .expect("woken by what was queued before it waited");
        assert!(!wake.mark_seen(), "the change was marked seen");

        let waiting = tokio::spawn({
            let mut wake = s.subscribe();
            async move { wake.changed().await }
        });
        // Let the task register its wait before the session ends.
        tokio::task::yield_now().await;
        s.mark_ended();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken by the end")
            .expect("task");
        assert!(wake.mark_seen(), "the end is a change");
    }
}
