//! The entry point: one CSP message in, at most one CSP message out.
//!
//! `Service::handle` finds the session, checks that the primitive is
//! allowed, and hands it to the handler of its service area. A handler
//! returns the response primitive or a `CoreError`, which becomes a Status
//! with the error's code here and only here.

use std::net::SocketAddr;
use std::sync::Arc;

use imps_wire::{
    Element, Encoding, Message, PrimitiveKind, SessionType, Transaction, TransactionMode, Version,
    WireError,
};

use crate::base::Base;
use crate::groups::GroupsService;
use crate::im::ImService;
use crate::lists::{ListsService, PresenceGrants};
use crate::map::MapService;
use crate::presence::PresenceService;
use crate::refusal::Answer;
use crate::reply::error_status;
use crate::router::Router;
use crate::session::{Session, SessionRegistry, SessionService, SessionSummary, function_for};
use crate::{Clock, CoreConfig, CoreError, Store};
use imps_wire::wbxml::Envelope;

/// What the transport knows about a request besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct RequestCtx {
    pub peer: Option<SocketAddr>,
    /// The MSISDN asserted by a trusted operator gateway. The transport
    /// sets this only for requests from a configured proxy address.
    pub msisdn: Option<String>,
    /// Set by a transport that handles several of one connection's sends
    /// at once (WebSocket): keeps them in the order they arrived
    /// ([`crate::SendOrder`]). `None`: one request at a time.
    pub send_order: Option<std::sync::Arc<crate::SendOrder>>,
}

/// The server: one service per area, built here and only here, and the
/// dispatch between them and the sessions. Each area owns its state; what
/// they share (settings, store, clock, sessions, router) is in `Base` (`base.rs`).
pub struct Service {
    pub(crate) base: Arc<Base>,
    /// Login, logout, keep-alive, negotiation (`session`).
    pub(crate) session: Arc<SessionService>,
    pub(crate) lists: Arc<ListsService>,
    pub(crate) presence: Arc<PresenceService>,
    pub(crate) im: Arc<ImService>,
    pub(crate) groups: Arc<GroupsService>,
    pub(crate) map: Arc<MapService>,
    /// System messages and the terms asked at login (`sysmsg`).
    pub(crate) sysmsg: Arc<crate::sysmsg::SysmsgService>,
    /// Search and public profiles (`directory`).
    pub(crate) directory: Arc<crate::directory::DirectoryService>,
    /// This node's sessions alone (the base's router may also reach other
    /// nodes'): what other nodes ship here goes only there.
    pub(crate) local: Arc<crate::router::LocalRouter>,
    /// Per-primitive counts and latencies (`/metrics`).
    pub(crate) stats: crate::stats::TransactionStats,
    /// What the background work did (`workers`).
    pub(crate) worker_counts: crate::workers::WorkerCounts,
    /// Each version's overload refusal, made once (`refusal.rs`).
    refusals: crate::refusal::Refusals,
}

/// The outcome of one transaction.
pub(crate) enum Outcome {
    /// Answer with this primitive.
    Reply(Element),
    /// Answer with an empty HTTP body (a Response-mode primitive was
    /// accepted, or a poll found nothing).
    Nothing,
    /// Answer with a server-originated request (a poll found one).
    ServerRequest {
        tid: String,
        body: Element,
        more: bool,
    },
}

impl Service {
    pub fn new(cfg: CoreConfig, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Service {
        // Settings that fail `MapConfig::validate` leave maps off (the
        // binary validates them before it gets here).
        let provider = cfg.map.provider().unwrap_or_else(|e| {
            tracing::error!(error = %e, "map settings unusable; GETMAP is off");
            None
        });
        Service::build(cfg, store, clock, provider)
    }

    /// Builds every area once, lower areas first: lists, then presence,
    /// IM and groups (which ask lists), then map (which asks presence) and
    /// session (which asks IM for its capabilities).
    fn build(
        mut cfg: CoreConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        provider: Option<Arc<dyn crate::map::MapProvider>>,
    ) -> Service {
        if provider.is_none() {
            cfg.disabled_functions.push("GETMAP".into());
        }
        let sessions = Arc::new(SessionRegistry::new(cfg.expired_memory));
        let local = Arc::new(
            crate::router::LocalRouter::new(Arc::clone(&sessions), cfg.max_outbox)
                .with_cir_waker(cfg.cir_waker.clone()),
        );
        let router: Arc<dyn Router> = match &cfg.cluster {
            Some(c) => Arc::new(crate::router::ClusterRouter::new(
                Arc::clone(&local),
                Arc::clone(c),
            )),
            None => local.clone(),
        };
        let send_rate = crate::rate::SendRate::new(crate::rate::RateSettings {
            per_sec: cfg.im.send_rate_per_sec,
            burst: cfg.im.send_burst,
            max_senders: cfg.im.send_rate_senders_max,
        });
        let base = Arc::new(Base {
            draining: Default::default(),
            send_rate,
            cfg,
            store,
            clock,
            sessions,
            router,
        });
        let lists = Arc::new(ListsService::new(Arc::clone(&base)));
        let presence = Arc::new(PresenceService::new(Arc::clone(&base), Arc::clone(&lists)));
        let im = Arc::new(ImService::new(
            Arc::clone(&base),
            Arc::clone(&lists),
            Arc::clone(&presence),
        ));
        let groups = Arc::new(GroupsService::new(Arc::clone(&base), Arc::clone(&lists)));
        let map = Arc::new(MapService::new(
            Arc::clone(&base),
            provider,
            Arc::clone(&presence),
        ));
        let directory = Arc::new(crate::directory::DirectoryService::new(Arc::clone(&base)));
        let sysmsg = Arc::new(crate::sysmsg::SysmsgService::new(
            Arc::clone(&base),
            Arc::clone(&lists),
            Arc::clone(&directory),
        ));
        let hook: Arc<dyn crate::lists::AddedHook> = sysmsg.clone();
        lists.set_added_hook(Arc::downgrade(&hook));
        let session = Arc::new(SessionService::new(
            Arc::clone(&base),
            Arc::clone(&im),
            Arc::clone(&sysmsg),
        ));
        Service {
            base,
            session,
            lists,
            presence,
            im,
            groups,
            map,
            sysmsg,
            directory,
            local,
            stats: crate::stats::TransactionStats::default(),
            worker_counts: crate::workers::WorkerCounts::default(),
            refusals: crate::refusal::Refusals::default(),
        }
    }

    /// Replaces where maps come from (a provider of the operator's own).
    /// GETMAP is offered from then on unless policy switched it off. Call
    /// it before the service is used: the areas are built again.
    pub fn with_map_provider(self, p: Arc<dyn crate::map::MapProvider>) -> Service {
        let mut cfg = self.base.cfg.clone();
        if !self.map.is_on() {
            // Only the entry `build` added for "maps off": the last one.
            if let Some(i) = cfg.disabled_functions.iter().rposition(|d| d == "GETMAP") {
                cfg.disabled_functions.remove(i);
            }
        }
        let store = Arc::clone(&self.base.store);
        let clock = Arc::clone(&self.base.clock);
        Service::build(cfg, store, clock, Some(p))
    }

    pub fn config(&self) -> &CoreConfig {
        &self.base.cfg
    }

    pub fn sessions(&self) -> &SessionRegistry {
        &self.base.sessions
    }

    pub fn now_ms(&self) -> u64 {
        self.base.clock.now_ms()
    }

    /// Handles one decoded message. `None` means an empty response body.
    /// Only the first request transaction is answered (clients read one
    /// transaction per response); Response-mode transactions are
    /// acknowledgements and need no answer.
    pub async fn handle(&self, ctx: &RequestCtx, msg: Message) -> Option<Message> {
        let version = msg.version;
        let session_id = msg.session_id.clone();
        let mut answer: Option<Message> = None;
        for tx in msg.transactions {
            let tid = tx.id.clone();
            let mode = tx.mode;
            let outcome = self
                .handle_transaction(ctx, version, session_id.as_deref(), tx)
                .await;
            let reply = match outcome {
                Outcome::Nothing => None,
                Outcome::Reply(mut body) => {
                    // Areas that split a reply (GEN-1) put SegmentInfo in
                    // the body; on the wire it belongs in the descriptor.
                    let segment_info = take_child(&mut body, "SegmentInfo");
                    Some(Transaction {
                        mode: TransactionMode::Response,
                        // A request without an ID still gets an answer; the
                        // client matches it by arriving on the same POST.
                        id: tid,
                        segment_info,
                        body,
                        ext: Vec::new(),
                    })
                }
                Outcome::ServerRequest { tid, body, more } => {
                    let mut m =
                        self.envelope(version, session_id.clone(), Transaction::request(tid, body));
                    m.poll = Some(more);
                    if answer.is_none() {
                        answer = Some(m);
                    }
                    continue;
                }
            };
            if let (Some(t), None) = (reply, &answer) {
                let _ = mode;
                answer = Some(self.envelope(version, session_id.clone(), t));
            }
        }
        if let (Some(m), Some(sid)) = (answer.as_mut(), session_id.as_deref())
            && let Some(s) = self.base.sessions.get(sid)
        {
            // Tell a logged-in client when something waits for it.
            if m.poll.is_none() {
                m.poll = Some(s.has_pending());
            }
            self.in_client_form(&s, m);
        }
        answer
    }

    /// A message of a push channel bound to `s` (WebSocket) that only
    /// answers pushes with Status, on `s` itself, taken at once: the
    /// session is touched and each answer counted, as [`Service::handle`]
    /// does for it, without the session lookup, the span and the future of
    /// a request (issue 19: every watcher answers every presence
    /// notification). False when it is anything else, or the session is
    /// gone or kicked (a kicked session's answers are refused the long
    /// way); then hand it to [`Service::handle`].
    pub fn take_status_answers(&self, s: &Session, msg: &Message) -> bool {
        let only_status = !msg.transactions.is_empty()
            && msg.transactions.iter().all(|t| {
                t.mode == TransactionMode::Response && t.kind() == Some(PrimitiveKind::Status)
            });
        if !only_status || msg.session_id.as_deref() != Some(s.id.as_str()) {
            return false;
        }
        let now = self.base.now_ms();
        // One lock: live and not kicked, then touched.
        let taken = s.with_state(|st| {
            let live = !st.ended && !st.closing;
            if live {
                st.last_seen_ms = now;
            }
            live
        });
        if taken {
            // Counted as taking no time: there is nothing to time.
            for _ in &msg.transactions {
                self.stats
                    .record(PrimitiveKind::Status, std::time::Duration::ZERO, None);
            }
        }
        taken
    }

    /// Issue 19, overload: the answer to a message that came on a push
    /// channel bound to `s` while that channel already holds as many
    /// requests, read ahead and not yet handled, as it may: every request
    /// transaction in it is answered 503 (1.3: with TryAgainTimeout
    /// `im.overload_retry_secs`) and nothing of it is handled. The channel
    /// can then go on reading, so the client's answers to pushes behind
    /// its requests still reach the server: a connection that stops
    /// reading when it is full also stops acknowledgements, the delivery
    /// windows of its session fill, and every message to it is written
    /// instead of delivered. `None`: the message has no request in it.
    pub fn refuse_busy(&self, s: &Session, msg: &Message, held: usize) -> Option<Answer> {
        if let [tx] = msg.transactions.as_slice()
            && tx.mode == TransactionMode::Request
        {
            let err = self.busy_refusal(s, tx.kind(), held);
            return Some(self.refusal(s, msg, tx, &err));
        }
        let err = CoreError::Overloaded {
            what: format!("{held} requests of this connection wait to be handled"),
            retry_after_secs: self.base.cfg.im.overload_retry_secs.max(1),
        };
        let mut answers = msg
            .transactions
            .iter()
            .filter(|tx| tx.mode == TransactionMode::Request)
            .map(|tx| {
                if let Some(kind) = tx.kind() {
                    self.stats
                        .record(kind, std::time::Duration::ZERO, Some(err.status_code()));
                }
                Transaction {
                    mode: TransactionMode::Response,
                    id: tx.id.clone(),
                    segment_info: None,
                    body: crate::reply::error_status_for(&err, s.version),
                    ext: Vec::new(),
                }
            });
        let first = answers.next()?;
        tracing::debug!(session = %crate::ids::log_tag(&s.id), error = %err, "refused unread");
        let mut m = self.envelope(msg.version, msg.session_id.clone(), first);
        m.transactions.extend(answers);
        m.poll = Some(s.has_pending());
        Some(Answer::Whole(m))
    }

    /// The refusal of one request of kind `kind` on a connection holding
    /// `held` requests, counted and logged.
    fn busy_refusal(&self, s: &Session, kind: Option<PrimitiveKind>, held: usize) -> CoreError {
        let err = CoreError::Overloaded {
            what: format!("{held} requests of this connection wait to be handled"),
            retry_after_secs: self.base.cfg.im.overload_retry_secs.max(1),
        };
        if let Some(kind) = kind {
            self.stats
                .record(kind, std::time::Duration::ZERO, Some(err.status_code()));
        }
        tracing::debug!(session = %crate::ids::log_tag(&s.id), error = %err, "refused unread");
        err
    }

    /// The answer refusing `tx` of `msg` with `err` (503): from the
    /// version's template when the message is the session's own in its
    /// version with a TransactionID, else built whole.
    fn refusal(&self, s: &Session, msg: &Message, tx: &Transaction, err: &CoreError) -> Answer {
        match &tx.id {
            Some(tid) if msg.version == s.version && msg.session_id.as_deref() == Some(&s.id) => {
                self.template_refusal(s, tid)
            }
            _ => {
                let reply = Transaction {
                    mode: TransactionMode::Response,
                    id: tx.id.clone(),
                    segment_info: None,
                    body: crate::reply::error_status_for(err, s.version),
                    ext: Vec::new(),
                };
                let mut m = self.envelope(msg.version, msg.session_id.clone(), reply);
                m.poll = Some(s.has_pending());
                Answer::Whole(m)
            }
        }
    }

    /// Issue 19: whether a message on a push channel bound to `s` is one
    /// SendMessage request of `s`'s to users (not groups), the kind a
    /// transport may handle beside others of the same connection's (with
    /// a [`crate::SendOrder`] in its [`RequestCtx`]): such a send keeps
    /// its place in the connection's order by itself. Anything else
    /// should be handled alone, after what came before it.
    pub fn is_plain_send(&self, s: &Session, msg: &Message) -> bool {
        let [tx] = msg.transactions.as_slice() else {
            return false;
        };
        tx.mode == TransactionMode::Request
            && tx.kind() == Some(PrimitiveKind::SendMessageRequest)
            && msg.session_id.as_deref() == Some(s.id.as_str())
            && crate::groups::group_recipients(&tx.body).is_none()
    }

    /// Issue 19, overload: a message on a push channel bound to `s` that is
    /// one SendMessage (to users, not groups) or ForwardMessage request of
    /// `s`'s, arriving while a send would be refused
    /// ([`ImService::would_refuse_send`]): its answer, 503 with (1.3)
    /// TryAgainTimeout, made here without the session lookup, the span,
    /// the service checks and the future of a request, so that a refusal
    /// costs the server little more than reading the frame, and the
    /// transport can give it at once instead of queueing the request
    /// behind the ones in hand. Nothing of the message is looked at but its
    /// primitive, session and recipients' kind; nothing is stored or
    /// charged. `None`: anything else, the gauges are under their bounds,
    /// or the session is gone, closing, not yet ready or may not send
    /// (then [`Service::handle`] answers as always).
    pub fn refuse_if_overloaded(&self, s: &Session, msg: &Message) -> Option<Answer> {
        let [tx] = msg.transactions.as_slice() else {
            return None;
        };
        let kind = tx.kind()?;
        let is_send = match kind {
            PrimitiveKind::SendMessageRequest => {
                crate::groups::group_recipients(&tx.body).is_none()
            }
            PrimitiveKind::ForwardMessageRequest => true,
            _ => false,
        };
        if !is_send
            || tx.mode != TransactionMode::Request
            || msg.session_id.as_deref() != Some(s.id.as_str())
        {
            return None;
        }
        let err = self.send_refused_now(s, kind)?;
        Some(self.refusal(s, msg, tx, &err))
    }

    /// Issue 19, overload: whether the server refuses sends now (either
    /// gauge of `im/admit.rs` at its bound). A transport asks this, cheap,
    /// before it reads a send's envelope to refuse it unread.
    pub fn refusing_sends(&self) -> bool {
        self.im.would_refuse_send().is_err()
    }

    /// As [`Service::refuse_if_overloaded`] and [`Service::refuse_busy`]
    /// (`full`: the connection holds as many requests as it may, `held`
    /// of them), for a
    /// WBXML message of which only the envelope was read
    /// ([`imps_wire::wbxml::envelope`]): a plain SendMessage of `s`'s to
    /// users, in `s`'s version, with a TransactionID, is refused the same
    /// way, from the template. `None`: anything else (decode it whole).
    pub fn refuse_envelope(
        &self,
        s: &Session,
        env: &Envelope,
        full: bool,
        held: usize,
    ) -> Option<Answer> {
        let kind = PrimitiveKind::SendMessageRequest;
        if env.transactions != 1
            || env.mode != TransactionMode::Request
            || env.primitive != kind.name()
            || env.to_group
            || env.version != s.version
            || env.session_id.as_deref() != Some(s.id.as_str())
        {
            return None;
        }
        let tid = env.transaction_id.as_deref()?;
        if full {
            self.busy_refusal(s, Some(kind), held);
        } else {
            self.send_refused_now(s, kind)?;
        }
        Some(self.template_refusal(s, tid))
    }

    /// The version's refusal from its template, answering `tid` of `s`.
    fn template_refusal(&self, s: &Session, tid: &str) -> Answer {
        Answer::Refusal {
            body: self
                .refusals
                .body(s.version, self.base.cfg.im.overload_retry_secs.max(1)),
            version: s.version,
            session_id: s.id.clone(),
            tid: tid.to_string(),
            poll: s.has_pending(),
        }
    }

    /// The gauges' refusal of a send of `kind` by `s` now, counted and
    /// logged; `None` when the gauges take it, or when the send would be
    /// refused for another reason first (a session not live, a function
    /// not agreed), which the full handling then answers.
    fn send_refused_now(&self, s: &Session, kind: PrimitiveKind) -> Option<CoreError> {
        let err = self.im.would_refuse_send().err()?;
        // One lock: live, ready and not kicked, then touched (as the long
        // way touches a session before it checks anything else).
        let now = self.base.now_ms();
        let live = s.with_state(|st| {
            let live = !st.ended && !st.closing && st.ready;
            if live {
                st.last_seen_ms = now;
            }
            live
        });
        if !live || self.check_function(s, kind, function_for(kind)?).is_err() {
            return None;
        }
        self.im.count_refusal();
        self.stats
            .record(kind, std::time::Duration::ZERO, Some(err.status_code()));
        tracing::debug!(session = %crate::ids::log_tag(&s.id), primitive = kind.name(), error = %err, "refused before handling");
        Some(err)
    }

    /// Writes the addresses of an outgoing message the way the session's
    /// client writes them (issue 13): the areas build them fully
    /// qualified, and this is the one place they are shortened, for every
    /// answer and every server-originated primitive alike.
    fn in_client_form(&self, s: &Session, m: &mut Message) {
        if s.style().bare_ids {
            for t in &mut m.transactions {
                crate::users::localize_ids(&mut t.body, &self.base.cfg.domain);
            }
        }
    }

    fn envelope(&self, version: Version, session_id: Option<String>, tx: Transaction) -> Message {
        let mut m = Message::single(version, session_id, tx);
        if m.session_id.is_none() {
            m.session_type = SessionType::Outband;
        }
        m
    }

    /// One transaction, named in every log line written while it is
    /// handled (`txlog`), counted and timed per primitive (`stats`).
    async fn handle_transaction(
        &self,
        ctx: &RequestCtx,
        version: Version,
        session_id: Option<&str>,
        tx: Transaction,
    ) -> Outcome {
        let kind = tx.kind();
        let log = crate::txlog::TxLog::new(tx.body.name.clone(), tx.id.as_deref(), session_id);
        let started = std::time::Instant::now();
        let outcome = crate::txlog::within(
            log,
            self.transaction_in_context(ctx, version, session_id, tx),
        )
        .await;
        if let Some(k) = kind {
            let code = match &outcome {
                Outcome::Reply(body) => reply_code(body),
                _ => None,
            };
            self.stats.record(k, started.elapsed(), code);
        }
        outcome
    }

    /// Per-primitive counts and latencies since the start.
    pub fn transaction_stats(&self) -> &crate::stats::TransactionStats {
        &self.stats
    }

    async fn transaction_in_context(
        &self,
        ctx: &RequestCtx,
        version: Version,
        session_id: Option<&str>,
        tx: Transaction,
    ) -> Outcome {
        let Some(kind) = tx.kind() else {
            if tx.mode == TransactionMode::Response {
                return Outcome::Nothing;
            }
            let e = CoreError::UnknownPrimitive(tx.body.name.to_string());
            tracing::info!(primitive = %tx.body.name, "unknown primitive");
            return Outcome::Reply(error_status(&e));
        };
        if kind.allowed_without_session() {
            return match kind {
                PrimitiveKind::LoginRequest => Outcome::Reply(
                    self.session
                        .login(ctx, version, tx.id.as_deref(), &tx.body)
                        .await,
                ),
                PrimitiveKind::GetSPInfoRequest => {
                    Outcome::Reply(self.session.get_sp_info(&tx.body))
                }
                _ => Outcome::Reply(error_status(&CoreError::NotImplemented(kind.name().into()))),
            };
        }
        let session = match self.session_for(session_id) {
            Ok(s) => s,
            Err(e) => {
                if tx.mode == TransactionMode::Response {
                    return Outcome::Nothing;
                }
                tracing::debug!(primitive = kind.name(), error = %e, "request without a live session");
                return Outcome::Reply(error_status(&e));
            }
        };
        crate::txlog::found_session(&session);
        session.touch(self.base.now_ms());
        if session.is_closing() && kind != PrimitiveKind::PollingRequest {
            return Outcome::Reply(error_status(&CoreError::ForcedLogout));
        }
        if tx.mode == TransactionMode::Response {
            return self.handle_client_response(&session, kind, &tx).await;
        }
        // Refusals in a row may earn the user help; session upkeep (polls,
        // keep-alives) neither counts nor breaks the row.
        let counted = area_of(kind) != Area::Session;
        if let Some(code) = function_for(kind)
            && let Err(e) = self.check_function(&session, kind, code)
        {
            self.sysmsg.request_outcome(&session, false).await;
            return Outcome::Reply(error_status(&e));
        }
        // Peers found by discovery are looked up here, once per request,
        // so that the areas' "is this domain a peer" is answered at once.
        self.base.discover_peers(&tx.body).await;
        let outcome = self.dispatch(ctx, &session, kind, &tx).await;
        if counted {
            self.sysmsg.request_outcome(&session, outcome.is_ok()).await;
        }
        match outcome {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(session = %crate::ids::log_tag(&session.id), primitive = kind.name(), code = e.status_code(), error = %e, "request failed");
                Outcome::Reply(crate::reply::error_status_for(&e, session.version))
            }
        }
    }

    /// Routes a request on a live session to the area that owns it.
    async fn dispatch(
        &self,
        ctx: &RequestCtx,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        use PrimitiveKind as P;
        let body = &tx.body;
        let area = area_of(kind);
        if area != Area::Session {
            self.ensure_ready(s).await;
        }
        Ok(match area {
            Area::Session => match kind {
                P::LogoutRequest => {
                    self.end_session(&s.id, false).await;
                    Outcome::Reply(self.session.logout_reply(s))
                }
                P::KeepAliveRequest => Outcome::Reply(self.session.keep_alive(s, body)?),
                P::ClientCapabilityRequest => Outcome::Reply(
                    self.session
                        .client_capability(s, body, ctx.peer.map(|p| p.ip()))
                        .await,
                ),
                P::ServiceRequest => {
                    let reply = self.session.service_negotiation(s, body);
                    // SYM-13: online once the level of service is settled.
                    self.ensure_ready(s).await;
                    Outcome::Reply(reply)
                }
                P::PollingRequest => self.poll(s).await,
                // A Status sent as a request acknowledges nothing we track.
                _ => Outcome::Nothing,
            },
            Area::Lists => {
                let grants: &dyn PresenceGrants = &*self.presence;
                let out = self.lists.handle_lists(s, kind, tx, grants).await;
                if kind == P::BlockEntityRequest {
                    // Whatever part of the change was applied, presence
                    // reads the block list again (issue 14, item 10).
                    self.presence.block_list_changed(&s.user).await;
                }
                out?
            }
            Area::Presence => {
                let out = self.presence.handle_presence(s, kind, tx).await?;
                if kind == P::CreateAttributeListRequest
                    && shares_with_everyone(body)
                    && let Outcome::Reply(r) = &out
                    && matches!(reply_code(r), Some(200 | 201))
                {
                    self.sysmsg.privacy_advice(s).await;
                }
                if kind == P::UpdatePresenceRequest
                    && crate::presence::publishes_location(body)
                    && let Outcome::Reply(r) = &out
                    && matches!(reply_code(r), Some(200 | 201))
                {
                    // People authorized earlier now see where the user is.
                    self.sysmsg.location_advice(s, &self.presence).await;
                }
                out
            }
            Area::Groups => self.groups.handle_groups(s, kind, tx).await?,
            Area::Im => self.im.handle_im(s, kind, tx).await?,
            Area::Map => self.map.handle_map(s, tx).await?,
            Area::Sysmsg => Outcome::Reply(self.sysmsg.user_answers(s, body).await?),
            Area::Directory => {
                let (out, advise) = match self.directory.handle_directory(s, kind, tx).await {
                    Ok(x) => x,
                    Err(e @ CoreError::ProfileIncomplete(_)) => {
                        // PPR-7: why, and what finding others means.
                        self.sysmsg.profile_needs(s).await;
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                };
                if advise {
                    // PPR-UC: a complete profile is found only after its
                    // owner agrees to the advice.
                    self.sysmsg.profile_advice(s).await;
                }
                out
            }
            // Whether a message goes to groups or to users is decided
            // here, once, from its recipients.
            Area::Messaging => match crate::groups::group_recipients(body) {
                Some(targets) => {
                    Outcome::Reply(self.groups.send_to_groups(s, body, targets?).await?)
                }
                None => {
                    self.im
                        .send_message(s, tx, ctx.send_order.as_deref())
                        .await?
                }
            },
            Area::None => return Err(CoreError::NotImplemented(kind.name().into())),
        })
    }

    /// Runs the "session is ready" hooks once: after service negotiation
    /// (SYM-13: not online before the level of service is settled), or at
    /// the first service request of a client that skips negotiation.
    pub(crate) async fn ensure_ready(&self, s: &Arc<Session>) {
        let first = s.with_state(|st| !std::mem::replace(&mut st.ready, true));
        if first {
            self.presence.presence_session_ready(s).await;
            self.im.im_session_ready(s).await;
            self.groups.groups_session_ready(s).await;
            self.sysmsg.sysmsg_session_ready(s).await;
        }
    }

    /// A client's answer to something we sent (Status, MessageDelivered...).
    async fn handle_client_response(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Outcome {
        match self.im.client_response_im(s, kind, tx).await {
            Ok(Some(o)) => o,
            Ok(None) => Outcome::Nothing,
            Err(e) => {
                tracing::info!(session = %crate::ids::log_tag(&s.id), primitive = kind.name(), error = %e, "client response not accepted");
                Outcome::Nothing
            }
        }
    }

    fn session_for(&self, id: Option<&str>) -> Result<Arc<Session>, CoreError> {
        let id = id.unwrap_or("");
        // A kicked session is still found until its Disconnect is
        // collected; being closing, it only answers a poll.
        if let Some(s) = self.base.sessions.get(id) {
            return Ok(s);
        }
        if let Some(s) = self.base.sessions.parting(id) {
            return Ok(s);
        }
        if self.base.sessions.was_expired(id) {
            Err(CoreError::SessionExpired)
        } else {
            Err(CoreError::NotLoggedIn(id.to_string()))
        }
    }

    /// Polling-Request: one waiting server transaction, or nothing.
    async fn poll(&self, s: &Arc<Session>) -> Outcome {
        match s.pop_outgoing() {
            Some((tid, body, more)) => {
                if s.is_closing() && body.name == PrimitiveKind::Disconnect.name() {
                    self.disconnect_collected(&s.id).await;
                }
                // `handle` writes the addresses in the client's form.
                Outcome::ServerRequest { tid, body, more }
            }
            None => Outcome::Nothing,
        }
    }

    /// The next server-originated message for a push channel that carries
    /// whole messages (WebSocket).
    pub async fn next_push(&self, s: &Session) -> Option<Message> {
        let (tid, body, more) = s.pop_outgoing()?;
        let disconnect = s.is_closing() && body.name == PrimitiveKind::Disconnect.name();
        let mut m = Message::single(
            s.version,
            Some(s.id.clone()),
            Transaction::request(tid, body),
        );
        m.poll = Some(more);
        self.in_client_form(s, &mut m);
        if disconnect {
            self.disconnect_collected(&s.id).await;
        }
        Some(m)
    }

    /// The next server-originated message for a push channel that carries
    /// whole messages, encoded: the bytes of [`Service::next_push`]'s
    /// message. A primitive queued for many sessions is encoded once per
    /// version and encoding and spliced into this session's envelope
    /// (`SharedBody::encode_for`; issue 19); a session that reads IDs
    /// without our domain gets its own copy, rewritten. Some(Err) when it
    /// does not encode.
    pub async fn next_push_encoded(
        &self,
        s: &Session,
        encoding: Encoding,
    ) -> Option<Result<Vec<u8>, WireError>> {
        let (tid, body, more) = s.pop_outgoing_shared()?;
        let disconnect = s.is_closing() && body.body().name == PrimitiveKind::Disconnect.name();
        let bytes = if s.style().bare_ids {
            let mut m = Message::single(
                s.version,
                Some(s.id.clone()),
                Transaction::request(tid, body.into_body()),
            );
            m.poll = Some(more);
            self.in_client_form(s, &mut m);
            imps_wire::encode(&m, encoding)
        } else {
            body.encode_for(s.version, &s.id, &tid, more, encoding)
        };
        if disconnect {
            // Boxed: ending a session is a large future, and this one is
            // part of every push channel's task for its whole life (a
            // WebSocket's, idle or not; issue 19). It runs once per
            // kicked session.
            Box::pin(self.disconnect_collected(&s.id)).await;
        }
        Some(bytes)
    }

    /// A kicked session's Disconnect has gone out: the session ends for
    /// good (its push channels close).
    async fn disconnect_collected(&self, id: &str) {
        if self.base.sessions.finish_parting(id).is_none() {
            self.end_session(id, false).await;
        }
    }

    /// Queues a server-originated primitive for every session of a user.
    pub fn push_to_user(&self, user: &str, body: Element) -> usize {
        self.base.router.to_user(user, body)
    }

    /// IM's periodic work: offers unacknowledged messages again and drops
    /// expired ones (the workers call it; tests call it after moving a
    /// fake clock).
    pub async fn im_tick(&self) {
        self.im.im_tick().await;
    }

    /// Waits until the IM store deletes of acknowledged messages are done.
    pub async fn settle(&self) {
        self.im.settle().await;
    }

    /// Owners whose presence state is in memory (for benchmarks and logs).
    pub fn presence_owners_loaded(&self) -> usize {
        self.presence.presence_owners_loaded()
    }

    /// Admin: takes `user` out of `group` (members, joined users);
    /// whether they were in it.
    pub async fn admin_expel(&self, group: &str, user: &str) -> Result<bool, CoreError> {
        self.groups.admin_expel(group, user).await
    }

    /// Operator: stores a system message and pushes it to whoever of its
    /// audience is online with a 1.3 client (SYM-1).
    pub async fn send_system_message(
        &self,
        m: crate::sysmsg::NewSystemMessage,
    ) -> Result<crate::sysmsg::SentSystemMessage, CoreError> {
        self.sysmsg.send(m, "operator").await
    }

    /// Operator: every system message and how far each got.
    pub async fn system_messages(
        &self,
    ) -> Result<Vec<crate::sysmsg::SystemMessageSummary>, CoreError> {
        self.sysmsg.list().await
    }

    /// Operator: one system message with who was sent it and who answered
    /// what (SYM-15).
    pub async fn system_message(
        &self,
        id: &str,
    ) -> Result<crate::sysmsg::SystemMessageSummary, CoreError> {
        self.sysmsg.get(id).await
    }

    /// Operator: sends a message again to its online users who have not
    /// answered it (SYM-12); how many got it.
    pub async fn resend_system_message(&self, id: &str) -> Result<usize, CoreError> {
        self.sysmsg.resend(id).await
    }

    /// The router this service delivers through.
    pub fn router(&self) -> &Arc<dyn Router> {
        &self.base.router
    }

    /// Cluster (issue 18): this node's live sessions as the other nodes'
    /// directory holds them.
    pub fn local_sessions(&self) -> Vec<crate::cluster::RemoteSession> {
        self.base
            .sessions
            .all()
            .iter()
            .filter(|s| !s.with_state(|st| st.ended))
            .map(|s| crate::router::describe(s))
            .collect()
    }

    /// Cluster: queues primitives another node built for a session of
    /// this one. Only this node's sessions: a session the sender's
    /// directory placed here wrongly is not sent on again.
    pub fn deliver_from_peer(&self, session_id: &str, bodies: Vec<Element>) -> bool {
        let mut bodies = Some(bodies);
        self.local
            .to_session_shaped(session_id, &mut |_| bodies.take().unwrap_or_default())
    }

    /// Cluster: another node stored message `id` for `user`, who has a
    /// session here; it joins the user's queue and is offered.
    pub async fn message_from_peer(&self, user: &str, id: &str) {
        self.im.accept_from_peer(user, id).await
    }

    /// Cluster: another node changed `owner`'s presence in the store; an
    /// entry held here is read again.
    pub async fn presence_from_peer(&self, owner: &str) {
        self.presence.reload_owner(owner).await
    }

    /// Removes a session from memory and the store, then tells the
    /// service areas (presence goes offline, IM forgets pending pushes).
    pub(crate) async fn end_session(&self, id: &str, expired: bool) -> Option<Arc<Session>> {
        let s = self.base.sessions.remove(id, expired, self.base.now_ms())?;
        self.session_ended(&s, expired).await;
        Some(s)
    }

    /// What ending a session means beyond the registry: its store row
    /// goes, and every area lets go of it.
    async fn session_ended(&self, s: &Arc<Session>, expired: bool) {
        let id = s.id.as_str();
        if let Err(e) = self.base.store.delete_session(id).await {
            // The session is gone from memory; a stale row is dropped
            // again at the next start once its TTL has passed.
            tracing::warn!(session = %crate::ids::log_tag(id), error = %e, "could not delete session from store");
        }
        self.lists.lists_session_ended(s);
        self.presence.presence_session_ended(s).await;
        self.im.im_session_ended(s).await;
        self.groups.groups_session_ended(s, expired).await;
        self.directory.directory_session_ended(s);
    }

    /// Ends sessions idle past their TTL. The server calls this every
    /// second; tests call it after moving a fake clock.
    pub async fn expire_idle(&self) -> usize {
        let idle = self.base.sessions.idle(self.base.now_ms());
        for s in &idle {
            tracing::info!(session = %crate::ids::log_tag(&s.id), user = %s.user, "session expired");
            self.end_session(&s.id, true).await;
        }
        // Kicked sessions whose Disconnect nobody came for.
        for id in self.base.sessions.parting_overdue(self.base.now_ms()) {
            self.base.sessions.finish_parting(&id);
        }
        // Group join passes run out on the same clock (PGC-18/19).
        self.groups.groups_tick().await;
        idle.len()
    }

    /// Server-initiated logout (admin kick, password change). The session
    /// ends now: its ClientID is free for a new login, it is gone from the
    /// session list and the store, and the areas let go of it (presence
    /// offline, groups left). Its client is told by a Disconnect (601):
    /// pushed at once over WebSocket, announced by CIR, or collected by
    /// the next Polling-Request; until then other requests on it get 601,
    /// after it 604. Nothing queued before the Disconnect is delivered. A
    /// Disconnect nobody collects is given up after the session's
    /// keep-alive time.
    pub async fn kick(&self, session_id: &str, reason: &str) -> bool {
        self.part_session(session_id, reason, false).await
    }

    /// [`Service::kick`], keeping what was queued before the Disconnect
    /// when `keep_queued` (a drain: the client gets it, then leaves).
    async fn part_session(&self, session_id: &str, reason: &str, keep_queued: bool) -> bool {
        let Some(s) = self.base.sessions.get(session_id) else {
            return false;
        };
        s.with_state(|st| st.closing = true);
        if !keep_queued {
            s.clear_outbox();
        }
        let body = imps_wire::csp::Disconnect {
            result: crate::reply::csp_result(601, reason),
            other: Vec::new(),
        }
        .to_element(s.version);
        // Queued while the session is still routable, then taken out.
        self.base.router.to_session(&s.id, body);
        let ttl_ms = u64::from(s.with_state(|st| st.ttl_secs)).saturating_mul(1000);
        let deadline = self.base.now_ms().saturating_add(ttl_ms);
        let Some(parted) = self
            .base
            .sessions
            .part(&s.id, deadline, self.base.cfg.expired_memory)
        else {
            // Ended meanwhile by its own Logout or expiry.
            return true;
        };
        self.session_ended(&parted, false).await;
        tracing::info!(session = %crate::ids::log_tag(&s.id), user = %s.user, reason, "session kicked");
        true
    }

    /// Cluster (issue 18): the node is being drained. From now on logins
    /// are refused (503: another node takes them); every live session is
    /// ended as a server-side logout, its client told by a Disconnect
    /// (601, `reason`) after what was already queued for it, so that it
    /// logs in again elsewhere. Returns how many sessions were ended; the
    /// caller waits for their Disconnects to be collected
    /// ([`Service::parting_sessions`]).
    pub async fn drain_sessions(&self, reason: &str) -> usize {
        self.base
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut n = 0;
        for s in self.base.sessions.all() {
            if self.part_session(&s.id, reason, true).await {
                n += 1;
            }
        }
        n
    }

    /// Whether [`Service::drain_sessions`] was called.
    pub fn is_draining(&self) -> bool {
        self.base.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Kicked or drained sessions whose Disconnect was not collected yet.
    pub fn parting_sessions(&self) -> usize {
        self.base.sessions.parting_len()
    }

    /// Kicks every live session of `user` (canonical ID); how many.
    pub async fn kick_user(&self, user: &str, reason: &str) -> usize {
        let mut n = 0;
        for s in self.base.sessions.of_user(user) {
            if self.kick(&s.id, reason).await {
                n += 1;
            }
        }
        n
    }

    /// Password checks made against the dummy hash (logins naming an
    /// unknown user, or a user without a password) since the start.
    pub fn dummy_password_checks(&self) -> u64 {
        self.session
            .dummy_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Which way messages went since the start, and what waits in memory.
    pub fn im_figures(&self) -> crate::im::ImFigures {
        let mut f = self.im.im().figures();
        f.send_limit = self.im.send_bound();
        f
    }

    /// Password logins since the start: (let in by the verifier cache,
    /// checked with Argon2).
    pub fn password_check_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.session.cached_checks.load(Relaxed),
            self.session.argon2_checks.load(Relaxed),
        )
    }

    /// Forgets the password remembered for `user` (canonical ID), so its
    /// next login pays Argon2 again. A changed password misses anyway
    /// (the stored hash is part of what is remembered); the admin
    /// endpoint that ends a user's sessions after a change calls this too.
    pub fn forget_password(&self, user: &str) {
        self.session.verifiers.forget(user);
    }

    /// Users whose password the verifier cache remembers.
    pub fn remembered_passwords(&self) -> usize {
        self.session.verifiers.len()
    }

    /// User IDs and addresses the login throttle is tracking.
    pub fn login_throttle_tracked(&self) -> usize {
        self.session.throttle.tracked()
    }

    pub fn session_summaries(&self) -> Vec<SessionSummary> {
        self.base.sessions.summaries()
    }

    /// Brings back the sessions persisted before a restart.
    /// A session as its stored row describes it (`None` for a version
    /// this build does not know), not yet in the registry.
    fn session_of_record(
        r: &crate::store::SessionRecord,
        now: u64,
    ) -> Result<Option<Arc<Session>>, CoreError> {
        let Some(version) = Version::parse(&r.version) else {
            return Ok(None);
        };
        let token = crate::ids::random_token()?;
        let s = Arc::new(Session::new(
            r.id.clone(),
            r.user_id.clone(),
            crate::session::ClientIdent::url(&r.client_id),
            version,
            r.cookie.clone(),
            token,
            now,
            r.ttl_secs,
        ));
        s.with_state(|st| {
            st.style = crate::session::ClientStyle {
                bare_ids: r.bare_ids,
                android_engine: r.android_engine,
            };
            st.withheld = r.withheld.as_slice().into();
        });
        Ok(Some(s))
    }

    /// Cluster (issue 18): node `node` is dead (not heard from within
    /// the node TTL), or is this node's previous run. Takes its sessions
    /// from the store (of the nodes that ask, each row goes to one) and
    /// ends each here as an expiry would end it: its groups are left, its
    /// ClientID is free on every node (the directories dropped the node),
    /// and the watchers of each of its users, on whatever node, are told
    /// their OnlineStatus now (the dead node that told them otherwise
    /// cannot). Returns how many sessions ended.
    pub async fn end_sessions_of_node(&self, node: &str) -> Result<usize, CoreError> {
        let records = self.base.store.take_sessions_of_node(node).await?;
        let now = self.base.now_ms();
        let mut users = std::collections::BTreeSet::new();
        for r in &records {
            let Some(s) = Self::session_of_record(r, now)? else {
                continue;
            };
            // Never in this node's registry: nothing here routes to it.
            s.mark_ended();
            tracing::info!(session = %crate::ids::log_tag(&s.id), user = %s.user, node, "session of a dead node ended");
            self.session_ended_elsewhere(&s).await;
            users.insert(s.user.clone());
        }
        for u in &users {
            self.presence.presence_gone_with_node(u).await;
        }
        Ok(records.len())
    }

    /// [`Service::session_ended`] for a session another node held: its
    /// presence is announced by the caller, once per user.
    async fn session_ended_elsewhere(&self, s: &Arc<Session>) {
        self.lists.lists_session_ended(s);
        self.im.im_session_ended(s).await;
        self.groups.groups_session_ended(s, true).await;
        self.directory.directory_session_ended(s);
    }

    pub async fn restore_sessions(&self) -> Result<usize, CoreError> {
        let now = self.base.now_ms();
        let mut n = 0;
        let mut restored = Vec::new();
        for r in self.base.store.sessions().await? {
            let Some(s) = Self::session_of_record(&r, now)? else {
                continue;
            };
            let cir_target = r
                .cir_target
                .as_deref()
                .and_then(crate::cir::CirTarget::from_record);
            if r.cir_target.is_some() && cir_target.is_none() {
                tracing::warn!(session = %crate::ids::log_tag(&r.id), "stored CIR target not understood; the session is not woken until it negotiates again");
            }
            if r.delivery_method.is_some() || cir_target.is_some() {
                s.with_state(|st| {
                    st.caps = Some(crate::session::Capabilities {
                        delivery_method: r.delivery_method.as_deref().map(Into::into),
                        cir_target: cir_target.clone(),
                        ..Default::default()
                    })
                });
            }
            if self.base.sessions.insert(s.clone(), 0).is_ok() {
                n += 1;
                // UDP and SMS wake-ups resume: nothing else reaches a phone
                // that holds no connection.
                if cir_target.is_some()
                    && let Some(w) = &self.base.cfg.cir_waker
                    && s.attach_cir()
                {
                    w.attach(s.clone());
                }
                restored.push(s);
            }
        }
        // The ready hooks ran before the restart but their effects lived in
        // memory: show these users online again, and re-offer what waits
        // for them. Of the negotiation only the delivery method (push or
        // notify/get) and the UDP or SMS wake-up target are stored, both
        // restored above; every restored session
        // counts as settled (it logged in before the restart). All
        // sessions are back first, so watchers among them are told too.
        for s in &restored {
            self.ensure_ready(s).await;
        }
        Ok(n)
    }

    /// A gated primitive is refused when we do not implement its
    /// function (501), when policy switched it off, or when the client
    /// did not ask for it in service negotiation (506). Before any
    /// negotiation everything available is allowed: older clients skip it.
    fn check_function(
        &self,
        s: &Session,
        kind: PrimitiveKind,
        code: &str,
    ) -> Result<(), CoreError> {
        // GETMAP switched off in the map settings is not implemented here.
        if !crate::session::is_implemented(code) || (code == "GETMAP" && !self.map.is_on()) {
            return Err(CoreError::NotImplemented(kind.name().into()));
        }
        let available =
            crate::session::FunctionSet::offers(s.version, &self.base.cfg.disabled_functions, code);
        // SYM-11: the user's answer to the terms left it out.
        let (agreed, granted) = s.with_state(|st| {
            let agreed = st.agreed().map(|a| a.contains(code));
            let granted = st.withheld.is_empty()
                || crate::session::FunctionSet::offers(s.version, &st.withheld, code);
            (agreed, granted)
        });
        if available && !granted {
            return Err(CoreError::LevelOfService(code.into()));
        }
        if !available || agreed == Some(false) {
            return Err(CoreError::ServiceNotAgreed(code.into()));
        }
        Ok(())
    }
}

/// The service area that answers a request primitive on a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// Session upkeep: logout, keep-alive, negotiation, polling.
    Session,
    Lists,
    Presence,
    Im,
    Groups,
    Map,
    /// SystemMessage-User: answers to system messages.
    Sysmsg,
    /// Search and public profiles.
    Directory,
    /// SendMessage-Request: to groups or to users, by its recipients.
    Messaging,
    /// Not a request we serve on a session (a response primitive, or an
    /// area not built yet).
    None,
}

/// The one table from request primitive to owning area. A newcomer looks
/// here first; each area's `handle_*` then names the function.
pub(crate) fn area_of(kind: PrimitiveKind) -> Area {
    use PrimitiveKind as P;
    match kind {
        P::LogoutRequest
        | P::KeepAliveRequest
        | P::ClientCapabilityRequest
        | P::ServiceRequest
        | P::PollingRequest
        | P::Status => Area::Session,
        P::GetListRequest
        | P::CreateListRequest
        | P::DeleteListRequest
        | P::ListManageRequest
        | P::GetBlockedListRequest
        | P::BlockEntityRequest
        | P::GetSegmentRequest
        | P::DropSegmentRequest
        | P::SubscribeNotificationRequest
        | P::UnsubscribeNotificationRequest => Area::Lists,
        P::UpdatePresenceRequest
        | P::GetPresenceRequest
        | P::SubscribePresenceRequest
        | P::UnsubscribePresenceRequest
        | P::CreateAttributeListRequest
        | P::DeleteAttributeListRequest
        | P::GetAttributeListRequest
        | P::PresenceAuthUser
        | P::CancelAuthRequest
        | P::GetReactiveAuthStatusRequest
        | P::GetWatcherListRequest => Area::Presence,
        P::SendMessageRequest => Area::Messaging,
        P::ForwardMessageRequest
        | P::MessageDelivered
        | P::SetDeliveryMethodRequest
        | P::GetMessageListRequest
        | P::GetMessageRequest
        | P::RejectMessageRequest => Area::Im,
        P::CreateGroupRequest
        | P::DeleteGroupRequest
        | P::JoinGroupRequest
        | P::LeaveGroupRequest
        | P::GetGroupPropsRequest
        | P::SetGroupPropsRequest
        | P::GetJoinedUsersRequest
        | P::GetGroupMembersRequest
        | P::AddGroupMembersRequest
        | P::MemberAccessRequest
        | P::RejectListRequest
        | P::RemoveGroupMembersRequest
        | P::SubscribeGroupNoticeRequest
        | P::InviteRequest
        | P::InviteUserResponse
        | P::CancelInviteRequest
        | P::ExtendConversationRequest => Area::Groups,
        P::GetMapRequest => Area::Map,
        P::SystemMessageUser => Area::Sysmsg,
        P::SearchRequest
        | P::StopSearchRequest
        | P::GetPublicProfileRequest
        | P::UpdatePublicProfileRequest => Area::Directory,
        _ => Area::None,
    }
}

/// Whether a CreateAttributeList-Request lets everyone (DefaultList) see
/// some attribute.
fn shares_with_everyone(body: &Element) -> bool {
    body.child_bool("DefaultList") == Some(true)
        && body
            .child("PresenceSubList")
            .is_some_and(|l| !l.children.is_empty())
}

/// The status code a reply carries in its Result, if any.
fn reply_code(body: &Element) -> Option<u16> {
    body.child("Result")
        .and_then(|r| r.child_u64("Code"))
        .and_then(|c| u16::try_from(c).ok())
}

/// Removes and returns the last child named `name`.
fn take_child(body: &mut Element, name: &str) -> Option<Element> {
    let i = body.children.iter().rposition(|c| c.name == name)?;
    Some(body.children.remove(i))
}
