//! The hot delivery state of instant messaging, in memory.
//!
//! For every user with at least one ready session we keep the messages
//! waiting for them (a prefix of their store queue, in seq order, at most
//! `memory_per_user`) and, per session, which of them were offered and
//! not yet acknowledged. The store stays the truth: this state is rebuilt
//! from it when a session becomes ready, and losing it (a restart) only
//! means messages are offered again.
//!
//! Invariant of a user's queue: `msgs` holds every waiting message with
//! seq <= `horizon` (all of them when `horizon` is `None`); messages above
//! the horizon are only in the store and are read in by `refill` as room
//! frees up. A send that lands above the horizon while a refill reads is
//! noted (`skipped`) so that refill reads again.
//!
//! Locks: one mutex per shard of users, never held across an await; it
//! is taken before a session's own lock (when pushing), never after.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::session::Session;
use crate::store::StoredMessage;

const SHARDS: usize = 16;

/// What a client said it can take (GEN-10), from its ClientCapability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientContent {
    /// Accepted content types; `None` = anything (AnyContent, or none
    /// listed).
    pub types: Option<Vec<String>>,
}

/// One ready session of a user, as IM sees it.
pub(crate) struct SessionQ {
    pub session: Arc<Session>,
    /// Notify/get (`N`) rather than push (`P`).
    pub notify: bool,
    /// seq -> when and where it was offered, for messages not yet
    /// acknowledged.
    pub offered: BTreeMap<u64, Offer>,
    /// `pump` has considered every message below this seq for this
    /// session (offered it, or found it not for this session), so it
    /// starts here: with a long backlog each pump costs the window, not
    /// the backlog. Lowered when a message below it comes into memory.
    pub cursor: u64,
    /// MessageIDs this session fetched with GetMessage, so that a repeated
    /// MessageDelivered for one of them is not "unknown". Boxed: most
    /// sessions never fetch (pushed messages are not fetched), and inline
    /// it took the entry to the next allocation size (issue 19).
    #[allow(clippy::box_collection)] // the box is the point: 8 bytes inline, not 32
    pub fetched: Option<Box<VecDeque<String>>>,
    /// Messages pushed to this session before they were stored (see
    /// [`Unstored`]) and not yet acknowledged or stored: they take room
    /// in the window like `offered` ones.
    pub unstored: usize,
}

/// One offer of a message to a session: when (ms), and the session's
/// outbox mark just before it was queued ([`NOT_QUEUED`] when it did not
/// go into the outbox), so that redelivery does not queue a second copy
/// behind a first the client has not taken yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offer {
    pub at: u64,
    pub mark: u64,
}

/// The mark of an offer that queued nothing.
pub(crate) const NOT_QUEUED: u64 = u64::MAX;

impl SessionQ {
    pub fn new(session: Arc<Session>, notify: bool) -> SessionQ {
        SessionQ {
            session,
            notify,
            offered: BTreeMap::new(),
            cursor: 0,
            fetched: None,
            unstored: 0,
        }
    }

    /// Offered and not acknowledged, stored or not.
    pub fn in_flight(&self) -> usize {
        self.offered.len() + self.unstored
    }

    /// Whether a message offered to this session has waited longer than
    /// `window_ms` for its acknowledgement: the session is slow or stalled
    /// now, so a new message for it is stored before it is pushed and its
    /// sender does not wait on it. It ends as soon as the session has
    /// acknowledged what was overdue (issue 19: a fixed spell of storing
    /// first after one late acknowledgement kept a briefly busy client on
    /// the costly path long after it had caught up).
    pub fn overdue(&self, now: u64, window_ms: u64) -> bool {
        self.offered
            .values()
            .any(|o| now.saturating_sub(o.at) > window_ms)
    }
}

/// A one-to-one message pushed to its online recipient before it was
/// stored (`im.ack_window_ms`). Its sender waits for the acknowledgement
/// up to the window: acknowledged, it is never written; otherwise the
/// sender stores it, and only then is it answered.
pub(crate) struct Unstored {
    /// Told when a session acknowledged it within the window. Taken by
    /// the sender when the window closes: from then on it is being
    /// written.
    pub acked: Option<tokio::sync::oneshot::Sender<()>>,
    /// Set when a session acknowledged it after its write began: once
    /// stored, it is deleted rather than offered again.
    pub acked_late: Arc<AtomicBool>,
    /// The sessions it was pushed to (with their outbox marks, as in
    /// [`Offer`]), and when.
    pub sessions: Vec<(String, u64)>,
    pub at: u64,
}

/// How many fetched MessageIDs a session remembers.
pub(crate) const FETCHED_MEMORY: usize = 64;

/// A user's queue: kept for every online user, idle or not, so it holds
/// only its sessions and the horizon until messages flow; what messages
/// need lives in [`Held`], made at the first change and dropped when it
/// is empty again (issue 19: about 300 bytes per idle user otherwise).
/// `q.msgs` and the like read through `Deref` (an empty `Held` when there
/// is none); writing through `DerefMut` makes one.
#[derive(Default)]
pub(crate) struct UserQ {
    pub horizon: Option<u64>,
    pub refilling: bool,
    pub skipped: bool,
    pub sessions: Vec<SessionQ>,
    held: Option<Box<Held>>,
}

/// The messages of a user's queue, and what goes with them.
#[derive(Default)]
pub(crate) struct Held {
    pub msgs: BTreeMap<u64, Arc<StoredMessage>>,
    pub by_id: HashMap<String, u64>,
    pub removed_while_refilling: HashSet<String>,
    /// Acknowledged messages whose store delete is still running: not to
    /// be read back in by a refill, nor acknowledged (and reported) twice.
    pub deleting: HashSet<String>,
    /// MessageID -> a message pushed before it was stored.
    pub unstored: HashMap<String, Unstored>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.msgs.is_empty()
            && self.by_id.is_empty()
            && self.removed_while_refilling.is_empty()
            && self.deleting.is_empty()
            && self.unstored.is_empty()
    }
}

/// What a user's queue without a [`Held`] reads.
fn no_messages() -> &'static Held {
    static EMPTY: std::sync::LazyLock<Held> = std::sync::LazyLock::new(Held::default);
    &EMPTY
}

impl std::ops::Deref for UserQ {
    type Target = Held;

    fn deref(&self) -> &Held {
        self.held.as_deref().unwrap_or_else(|| no_messages())
    }
}

impl std::ops::DerefMut for UserQ {
    fn deref_mut(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }
}

impl UserQ {
    /// Gives back the room of an empty [`Held`] (after every use, by
    /// [`ImState`]).
    fn settle(&mut self) {
        if self.held.as_ref().is_some_and(|h| h.is_empty()) {
            self.held = None;
        }
    }

    /// Forgets which messages went while a refill read (making no
    /// [`Held`] for it).
    pub fn clear_removed_while_refilling(&mut self) {
        if let Some(h) = self.held.as_mut() {
            h.removed_while_refilling.clear();
        }
    }

    /// The messages, and the sessions to change while reading them.
    pub fn msgs_and_sessions(
        &mut self,
    ) -> (&BTreeMap<u64, Arc<StoredMessage>>, &mut Vec<SessionQ>) {
        let held = self.held.as_deref().unwrap_or_else(|| no_messages());
        (&held.msgs, &mut self.sessions)
    }

    pub fn insert(&mut self, m: Arc<StoredMessage>) {
        for sq in &mut self.sessions {
            sq.cursor = sq.cursor.min(m.seq);
        }
        self.by_id.insert(m.id.clone(), m.seq);
        self.msgs.insert(m.seq, m);
    }

    /// Drops a message (acknowledged, rejected...) from memory and from
    /// every session's offered set.
    pub fn remove(&mut self, id: &str) -> Option<Arc<StoredMessage>> {
        if self.refilling {
            self.removed_while_refilling.insert(id.to_string());
        }
        let seq = self.by_id.remove(id)?;
        for sq in &mut self.sessions {
            sq.offered.remove(&seq);
        }
        self.msgs.remove(&seq)
    }

    /// Takes a message just stored for this user, unless it lies above
    /// the horizon (then refill reads it later).
    pub fn accept_new(&mut self, m: Arc<StoredMessage>, cap: usize) {
        match self.horizon {
            None if self.msgs.len() < cap => self.insert(m),
            None => {
                // Full: everything below this one is (or will be, as its
                // send finishes) in memory; this one and later wait.
                self.horizon = Some(m.seq.saturating_sub(1));
                self.skipped |= self.refilling;
            }
            Some(h) if m.seq <= h => self.insert(m),
            Some(_) => self.skipped |= self.refilling,
        }
    }

    /// Whether every message in memory has been passed by every
    /// session's offering (offered to it, or passed over as not for it):
    /// a message pushed now comes after all of them in every outbox.
    pub fn all_offered(&self) -> bool {
        match self.msgs.keys().next_back() {
            None => true,
            Some(last) => self.sessions.iter().all(|sq| sq.cursor > *last),
        }
    }

    /// Whether a store read should top the queue up.
    pub fn wants_refill(&self, cap: usize) -> bool {
        self.horizon.is_some() && !self.refilling && self.msgs.len() <= cap / 2
    }

    pub fn session_mut(&mut self, id: &str) -> Option<&mut SessionQ> {
        self.sessions.iter_mut().find(|q| q.session.id == id)
    }

    /// A session acknowledged (or rejected) a message pushed before it was
    /// stored. Within the window its sender is told and it leaves memory:
    /// nothing is ever written. After it (its sender is writing it), it is
    /// marked, and is deleted once stored. False when no such message.
    pub fn end_unstored(&mut self, id: &str) -> bool {
        let Some(u) = self.unstored.get_mut(id) else {
            return false;
        };
        match u.acked.take() {
            Some(tx) => {
                self.take_unstored(id);
                // The sender may have given up this very moment; it then
                // finds the entry gone and the answer in its channel.
                let _ = tx.send(());
            }
            None => u.acked_late.store(true, Ordering::SeqCst),
        }
        true
    }

    /// Takes an unstored message out, giving its sessions their window
    /// room back.
    pub fn take_unstored(&mut self, id: &str) -> Option<Unstored> {
        let u = self.unstored.remove(id)?;
        for (sid, _) in &u.sessions {
            if let Some(sq) = self.session_mut(sid) {
                sq.unstored = sq.unstored.saturating_sub(1);
            }
        }
        Some(u)
    }
}

/// What content sessions accept, for those that named types (issue 19:
/// a session that takes anything, as most do, keeps no entry; sessions
/// of one client model, which send the same list, share one copy).
#[derive(Default)]
struct Contents {
    by_session: HashMap<String, Arc<ClientContent>>,
    /// The list set last, shared with the next session that sends it.
    last: Option<Arc<ClientContent>>,
}

/// All of IM's memory for one service.
/// Which way messages went, counted since the start: what an operator
/// reads on `/metrics` to see whether the server is on its cheap path
/// (pushed, acknowledged in the window, never written) or writing what
/// its online recipients do not take in time (issue 19).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImFigures {
    /// Pushed before they were stored and acknowledged within
    /// `im.ack_window_ms`: delivered without a write.
    pub unwritten: u64,
    /// Pushed before they were stored and not acknowledged in the window:
    /// written after all.
    pub written_late: u64,
    /// Recipient entries a send wrote to the store, on any of its paths
    /// (batches received from other domains are not counted).
    pub stored: u64,
    /// Sends refused with 503 because the server was past its bounds.
    pub refused_overloaded: u64,
    /// Messages waiting in memory for online recipients now.
    pub waiting_in_memory: usize,
    /// SendMessage/ForwardMessage being handled now.
    pub sends_in_flight: usize,
    /// The bound on them now (0 = none): `im.max_sends_in_flight`, or
    /// lower while the runtime lags (`im/admit.rs`).
    pub send_limit: usize,
    /// The runtime lag (µs) the bound was last decided on.
    pub runtime_lag_us: u64,
}

#[derive(Default)]
pub(crate) struct PathCounts {
    pub unwritten: AtomicU64,
    pub written_late: AtomicU64,
    pub stored: AtomicU64,
    pub refused_overloaded: AtomicU64,
}

impl PathCounts {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

pub(crate) struct ImState {
    shards: Vec<Mutex<HashMap<String, UserQ>>>,
    /// Users known to exist (never removed: accounts are not deleted).
    known_users: Mutex<HashSet<String>>,
    /// Bound on each per-user memory (known users, names, notices); past
    /// it that memory starts over (`im.known_users_max`).
    users_max: usize,
    /// Per session: content it accepts (GEN-10).
    client_content: Mutex<Contents>,
    /// Sender -> (friendly name, when read): IMR-8 on the send path
    /// without a store read per message.
    names: Mutex<HashMap<String, (Option<String>, u64)>>,
    /// User -> when the last offline notification went out.
    notified: Mutex<HashMap<String, u64>>,
    notify_key: [u8; 32],
    ticks: AtomicU64,
    /// Acknowledged messages whose store delete is still running, and a
    /// wake-up for whoever waits for them to finish (a clean shutdown).
    background_deletes: std::sync::atomic::AtomicUsize,
    deletes_done: tokio::sync::Notify,
    /// Woken after every batch of background deletes (commit and
    /// bookkeeping both done).
    batch_done: tokio::sync::Notify,
    /// Acknowledged (user, MessageID) waiting for their store delete.
    to_delete: Mutex<Vec<(String, String)>>,
    /// The `deleting` sets of queues that went with their user's last
    /// session before the deletes committed: a queue made again for that
    /// user starts from it, so a quick reconnect is not offered what was
    /// acknowledged just before. Taken after a shard lock, never before.
    orphan_deletes: Mutex<HashMap<String, HashSet<String>>>,
    /// SendMessage/ForwardMessage being checked and stored now (`admit`).
    sends_in_flight: std::sync::atomic::AtomicUsize,
    /// The bound on `sends_in_flight` that follows the runtime's lag
    /// (`admit.rs`); `usize::MAX` until the first probe lowers it.
    send_limit: std::sync::atomic::AtomicUsize,
    /// The runtime lag (µs) of the probe's last decision.
    last_lag_us: AtomicU64,
    /// Messages in memory for online users at the last background pass.
    waiting: std::sync::atomic::AtomicUsize,
    /// Messages queued for online users since that pass.
    arrived: std::sync::atomic::AtomicUsize,
    /// Messages acknowledged since that pass.
    acked: std::sync::atomic::AtomicUsize,
    pub(crate) counts: PathCounts,
}

impl ImState {
    pub(crate) fn new(notify_key: [u8; 32], users_max: usize) -> ImState {
        ImState {
            users_max: users_max.max(1),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            known_users: Mutex::new(HashSet::new()),
            client_content: Mutex::new(Contents::default()),
            names: Mutex::new(HashMap::new()),
            notified: Mutex::new(HashMap::new()),
            notify_key,
            ticks: AtomicU64::new(0),
            background_deletes: std::sync::atomic::AtomicUsize::new(0),
            deletes_done: tokio::sync::Notify::new(),
            batch_done: tokio::sync::Notify::new(),
            to_delete: Mutex::new(Vec::new()),
            orphan_deletes: Mutex::new(HashMap::new()),
            sends_in_flight: std::sync::atomic::AtomicUsize::new(0),
            send_limit: std::sync::atomic::AtomicUsize::new(usize::MAX),
            last_lag_us: AtomicU64::new(0),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            arrived: std::sync::atomic::AtomicUsize::new(0),
            acked: std::sync::atomic::AtomicUsize::new(0),
            counts: PathCounts::default(),
        }
    }

    /// The counts and the gauge, read now.
    pub fn figures(&self) -> ImFigures {
        let c = &self.counts;
        ImFigures {
            unwritten: c.unwritten.load(Ordering::Relaxed),
            written_late: c.written_late.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            refused_overloaded: c.refused_overloaded.load(Ordering::Relaxed),
            waiting_in_memory: self.waiting_in_memory(),
            sends_in_flight: self.sends_in_flight.load(Ordering::Relaxed),
            // Filled in by `Service::im_figures`, which has the settings.
            send_limit: 0,
            runtime_lag_us: self.last_lag_us.load(Ordering::Relaxed),
        }
    }

    fn shard(&self, user: &str) -> &Mutex<HashMap<String, UserQ>> {
        // FNV-1a: cheap and stable; the shard only spreads lock traffic.
        let h = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// Runs `f` on a user's queue when they have one (a ready session).
    pub fn with_user<R>(&self, user: &str, f: impl FnOnce(&mut UserQ) -> R) -> Option<R> {
        self.shard(user).lock().get_mut(user).map(|q| {
            let r = f(q);
            q.settle();
            r
        })
    }

    /// Runs `f` on a user's queue, creating it (empty, everything still in
    /// the store) when missing.
    pub fn with_user_or_new<R>(&self, user: &str, f: impl FnOnce(&mut UserQ) -> R) -> R {
        let mut g = self.shard(user).lock();
        let q = g.entry(user.to_string()).or_insert_with(|| {
            let mut q = UserQ {
                horizon: Some(0),
                ..UserQ::default()
            };
            if let Some(deleting) = self.orphan_deletes.lock().remove(user) {
                q.deleting = deleting;
            }
            q
        });
        let r = f(q);
        q.settle();
        r
    }

    /// A message acknowledged while its user had no queue: remembered as
    /// being deleted, in the queue if one was made meanwhile, or for the
    /// next one, so that it is not offered again before its store delete
    /// commits.
    pub fn acknowledged_without_queue(&self, user: &str, id: &str) {
        let mut g = self.shard(user).lock();
        match g.get_mut(user) {
            Some(q) => {
                q.remove(id);
                q.deleting.insert(id.to_string());
            }
            None => {
                self.orphan_deletes
                    .lock()
                    .entry(user.to_string())
                    .or_default()
                    .insert(id.to_string());
            }
        }
    }

    /// Removes a session; the user's queue goes with their last session.
    pub fn drop_session(&self, user: &str, session_id: &str) {
        let mut g = self.shard(user).lock();
        if let Some(q) = g.get_mut(user) {
            q.sessions.retain(|s| s.session.id != session_id);
            if q.sessions.is_empty()
                && let Some(mut q) = g.remove(user).filter(|q| !q.deleting.is_empty())
            {
                self.orphan_deletes
                    .lock()
                    .insert(user.to_string(), std::mem::take(&mut q.deleting));
            }
        }
        self.client_content.lock().by_session.remove(session_id);
    }

    /// Every user with a queue (for the periodic redelivery check).
    pub fn users(&self) -> Vec<String> {
        self.shards
            .iter()
            .flat_map(|s| s.lock().keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    pub fn is_known_user(&self, user: &str) -> bool {
        self.known_users.lock().contains(user)
    }

    pub fn remember_user(&self, user: &str) {
        let mut g = self.known_users.lock();
        if g.len() >= self.users_max {
            g.clear();
        }
        g.insert(user.to_string());
    }

    pub fn set_client_content(&self, session_id: &str, c: ClientContent) {
        let mut g = self.client_content.lock();
        if c.types.is_none() {
            // What no entry means too (`policy::fits_body`).
            g.by_session.remove(session_id);
            return;
        }
        let shared = match &g.last {
            Some(last) if **last == c => last.clone(),
            _ => Arc::new(c),
        };
        g.last = Some(shared.clone());
        g.by_session.insert(session_id.to_string(), shared);
    }

    pub fn client_content(&self, session_id: &str) -> Option<Arc<ClientContent>> {
        self.client_content
            .lock()
            .by_session
            .get(session_id)
            .cloned()
    }

    /// A friendly name read less than `max_age_ms` ago.
    pub fn cached_name(&self, user: &str, now_ms: u64, max_age_ms: u64) -> Option<Option<String>> {
        let g = self.names.lock();
        let (name, at) = g.get(user)?;
        (now_ms.saturating_sub(*at) < max_age_ms).then(|| name.clone())
    }

    pub fn cache_name(&self, user: &str, name: Option<String>, now_ms: u64) {
        let mut g = self.names.lock();
        if g.len() >= self.users_max {
            g.clear();
        }
        g.insert(user.to_string(), (name, now_ms));
    }

    /// Whether an offline notification for `user` may go out now (and, if
    /// so, notes that it did).
    pub fn may_notify(&self, user: &str, now_ms: u64, interval_ms: u64) -> bool {
        let mut g = self.notified.lock();
        if let Some(at) = g.get(user)
            && now_ms.saturating_sub(*at) < interval_ms
        {
            return false;
        }
        if g.len() >= self.users_max {
            g.retain(|_, at| now_ms.saturating_sub(*at) < interval_ms);
        }
        g.insert(user.to_string(), now_ms);
        true
    }

    /// The user is online again: the next offline period notifies afresh.
    pub fn forget_notified(&self, user: &str) {
        self.notified.lock().remove(user);
    }

    /// Counts calls; the periodic work uses it to run some jobs less often.
    pub fn sends_in_flight(&self) -> &std::sync::atomic::AtomicUsize {
        &self.sends_in_flight
    }

    /// The adaptive bound on sends in flight (`usize::MAX`: none yet).
    pub(crate) fn send_limit(&self) -> &std::sync::atomic::AtomicUsize {
        &self.send_limit
    }

    /// The runtime lag (µs) the lag probe last decided on.
    pub(crate) fn last_lag_us(&self) -> &AtomicU64 {
        &self.last_lag_us
    }

    /// Messages in memory for online users now: the last background
    /// pass's count, plus what came since, less what was acknowledged
    /// since. The pass recounts every second, so what this misses (a
    /// message that expired, a queue that went with its user's last
    /// session) is wrong for a second at most; a burst is seen at once.
    pub fn waiting_in_memory(&self) -> usize {
        (self.waiting.load(Ordering::Relaxed) + self.arrived.load(Ordering::Relaxed))
            .saturating_sub(self.acked.load(Ordering::Relaxed))
    }

    /// What the background pass counted in memory for online users.
    pub fn set_waiting_in_memory(&self, n: usize) {
        self.waiting.store(n, Ordering::Relaxed);
        self.arrived.store(0, Ordering::Relaxed);
        self.acked.store(0, Ordering::Relaxed);
    }

    /// A message joined the queue of an online user.
    pub fn note_arrived(&self) {
        self.arrived.fetch_add(1, Ordering::Relaxed);
    }

    /// An online user acknowledged a message.
    pub fn note_acked(&self) {
        self.acked.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn notify_key(&self) -> &[u8; 32] {
        &self.notify_key
    }
}

impl ImState {
    /// Counts a store delete that runs in the background.
    pub fn delete_started(&self) {
        self.background_deletes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn delete_finished(&self) {
        if self
            .background_deletes
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.deletes_done.notify_waiters();
        }
    }

    /// Queues a store delete; true when the queue was empty, so the
    /// caller must start a task to drain it.
    pub fn queue_delete(&self, user: &str, id: &str) -> bool {
        let mut q = self.to_delete.lock();
        q.push((user.to_string(), id.to_string()));
        q.len() == 1
    }

    /// Whether this user's message was acknowledged and its store delete
    /// has not committed yet (the store still holds it, but it is over).
    pub fn is_acknowledged(&self, user: &str, id: &str) -> bool {
        if self
            .orphan_deletes
            .lock()
            .get(user)
            .is_some_and(|ids| ids.contains(id))
        {
            return true;
        }
        self.with_user(user, |q| q.deleting.contains(id))
            .unwrap_or(false)
    }

    /// A queued delete has committed (or failed): no queue need remember
    /// it any more.
    pub fn delete_done(&self, user: &str, id: &str) {
        {
            let mut o = self.orphan_deletes.lock();
            if let Some(ids) = o.get_mut(user) {
                ids.remove(id);
                if ids.is_empty() {
                    o.remove(user);
                }
            }
        }
        self.with_user(user, |q| q.deleting.remove(id));
    }

    /// Up to `max` queued deletes, oldest first.
    pub fn take_deletes(&self, max: usize) -> Vec<(String, String)> {
        let mut q = self.to_delete.lock();
        if q.len() <= max {
            std::mem::take(&mut *q)
        } else {
            q.drain(..max).collect()
        }
    }

    /// A batch of background deletes is over.
    pub fn batch_finished(&self) {
        self.batch_done.notify_waiters();
    }

    /// Waits (at most `limit`) until no acknowledged message of `user` is
    /// still waiting for its store delete, so that what the store lists
    /// next is what is really waiting. False when the limit passed.
    pub async fn user_deletes_settled(&self, user: &str, limit: std::time::Duration) -> bool {
        let wait = async {
            loop {
                let woken = self.batch_done.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let busy = self
                    .orphan_deletes
                    .lock()
                    .get(user)
                    .is_some_and(|ids| !ids.is_empty())
                    || self
                        .with_user(user, |q| !q.deleting.is_empty())
                        .unwrap_or(false);
                if !busy {
                    return;
                }
                woken.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Waits until no background delete is running.
    pub async fn deletes_settled(&self) {
        loop {
            let woken = self.deletes_done.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self
                .background_deletes
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
            {
                return;
            }
            woken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: a session that accepts any content keeps no entry, and
    /// sessions sending the same list share one copy of it.
    #[test]
    fn accepted_content_is_kept_only_when_named_and_shared() {
        let st = ImState::new([0; 32], 1_000);
        st.set_client_content("s1", ClientContent { types: None });
        assert!(st.client_content.lock().by_session.is_empty());
        assert!(st.client_content("s1").is_none());

        let list = || ClientContent {
            types: Some(vec!["text/plain".into()]),
        };
        st.set_client_content("s2", list());
        st.set_client_content("s3", list());
        let (two, three) = (st.client_content("s2"), st.client_content("s3"));
        assert!(matches!((&two, &three), (Some(a), Some(b)) if Arc::ptr_eq(a, b)));
        assert_eq!(two.as_deref(), Some(&list()));

        // Taking anything again forgets the list.
        st.set_client_content("s2", ClientContent { types: None });
        assert!(st.client_content("s2").is_none());
        assert!(st.client_content("s3").is_some());
    }

    /// A user who acknowledges, logs out and comes back before the store
    /// delete commits must not be offered the message again: the new
    /// queue starts knowing it is being deleted.
    #[test]
    fn base_im_acknowledged_messages_stay_acknowledged_across_a_quick_reconnect() {
        let st = ImState::new([0; 32], 1_000);
        st.with_user_or_new("bob", |q| {
            q.deleting.insert("m1".into());
        });
        st.drop_session("bob", "gone");
        assert!(
            st.with_user("bob", |_| ()).is_none(),
            "queue gone with the session"
        );
        let seeded = st.with_user_or_new("bob", |q| q.deleting.contains("m1"));
        assert!(seeded, "a new queue remembers the delete in flight");
        st.delete_done("bob", "m1");
        assert!(
            st.with_user("bob", |q| q.deleting.is_empty())
                .unwrap_or(false)
        );
        assert!(st.orphan_deletes.lock().is_empty());
    }

    /// Every online user has a queue, most with nothing waiting (issue
    /// 19): it holds its sessions and horizon only; the message maps come
    /// with the first message and go when it is empty again.
    #[test]
    fn an_idle_users_queue_holds_no_message_maps() {
        let size = std::mem::size_of::<UserQ>();
        assert!(size <= 64, "UserQ is {size} bytes");
        let st = ImState::new([0; 32], 1_000);
        st.with_user_or_new("bob", |q| {
            q.clear_removed_while_refilling();
            assert!(q.msgs.is_empty() && !q.deleting.contains("m1"));
        });
        assert_eq!(st.with_user("bob", |q| q.held.is_none()), Some(true));
        st.acknowledged_without_queue("bob", "m1");
        assert_eq!(st.with_user("bob", |q| q.held.is_some()), Some(true));
        assert!(st.is_acknowledged("bob", "m1"));
        st.delete_done("bob", "m1");
        assert_eq!(st.with_user("bob", |q| q.held.is_none()), Some(true));
    }

    /// A ready session's entry in its user's queue keeps no room for
    /// fetched MessageIDs until it fetches one (issue 19): inline, the
    /// list made the entry 88 bytes, a 96-byte block.
    #[test]
    fn a_session_entry_keeps_no_fetched_list_until_it_fetches() {
        let size = std::mem::size_of::<SessionQ>();
        assert!(size <= 64, "SessionQ is {size} bytes");
    }
}
