//! The router: the one way a service area reaches sessions other than the
//! one whose request it is handling.
//!
//! Areas never queue into a session themselves. They hand the router a
//! server-originated primitive for a user (every session of that user) or
//! for one session, or a `shape` function that builds the primitive for
//! each session from what the router tells it about that session (its CSP
//! version and its size limit), since a notification may look different
//! in 1.1 and 1.3. The shape sees plain data, not the session, so a router
//! that forwards to another node or another domain can run it where the
//! event starts and ship the bodies.
//!
//! [`LocalRouter`] serves the sessions of this process: it owns the write
//! side of their outboxes and their drop policy (a full outbox drops its
//! oldest entry; a slow client must not grow our memory).

use std::sync::Arc;

use imps_wire::{Element, SharedBody, Version};

use crate::session::{Session, SessionRegistry};

/// What a router tells a shape function about one receiving session.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub session_id: &'a str,
    pub user: &'a str,
    /// The ClientID as a comparable key.
    pub client_key: &'a str,
    pub version: Version,
    /// CFG-1: the largest message the client takes, when it said.
    pub max_message_size: Option<u64>,
    /// How the client reads IDs and member lists (issue 13).
    pub style: crate::session::ClientStyle,
    /// The session's ready hooks have run (after service negotiation).
    pub ready: bool,
    /// The language its client announced (`DefaultLanguage`), lower case.
    pub language: Option<&'a str>,
}

/// Builds the primitives one session gets; empty to pass it over.
pub type Shape<'s> = dyn FnMut(&Recipient<'_>) -> Vec<Element> + Send + 's;

/// As [`Shape`], with primitives that may be shared: one `Arc` handed
/// out for many sessions is queued in each of their outboxes without a
/// copy, and encoded once per (version, encoding) for all of them
/// ([`SharedBody`]; issue 19, the fan-out cost).
pub type SharedShape<'s> = dyn FnMut(&Recipient<'_>) -> Vec<Arc<SharedBody>> + Send + 's;

/// Delivery of server-originated primitives to sessions.
pub trait Router: Send + Sync + 'static {
    /// Queues what `shape` builds for each live session of `user`.
    /// Returns how many sessions got at least one primitive.
    fn to_user_shared(&self, user: &str, shape: &mut SharedShape<'_>) -> usize;

    /// Queues what `shape` builds for one session; false when the session
    /// is gone or `shape` built nothing for it.
    fn to_session_shared(&self, session_id: &str, shape: &mut SharedShape<'_>) -> bool;

    /// Whether `user` has a live session that `pred` accepts.
    fn reaches(&self, user: &str, pred: &mut dyn FnMut(&Recipient<'_>) -> bool) -> bool;

    /// Something queued for the session earlier still waits: its client
    /// is told again (a TCP CIR line, or the UDP or SMS wake-up of a
    /// session the server wakes by itself). Queues nothing.
    fn remind(&self, session_id: &str);

    /// [`Router::to_user_shared`] with a primitive of its own per session.
    fn to_user_shaped(&self, user: &str, shape: &mut Shape<'_>) -> usize {
        self.to_user_shared(user, &mut |r| own(shape(r)))
    }

    /// [`Router::to_session_shared`] with primitives of its own.
    fn to_session_shaped(&self, session_id: &str, shape: &mut Shape<'_>) -> bool {
        self.to_session_shared(session_id, &mut |r| own(shape(r)))
    }

    /// Queues the same primitive for every live session of `user` (one
    /// copy, shared).
    fn to_user(&self, user: &str, body: Element) -> usize {
        let body = Arc::new(SharedBody::new(body));
        self.to_user_shared(user, &mut |_| vec![Arc::clone(&body)])
    }

    /// Queues a primitive for one session; false when it is gone.
    fn to_session(&self, session_id: &str, body: Element) -> bool {
        self.to_session_body(session_id, &Arc::new(SharedBody::new(body)))
    }

    /// Queues a primitive that other sessions get too (a group message to
    /// each member's session); false when the session is gone.
    fn to_session_body(&self, session_id: &str, body: &Arc<SharedBody>) -> bool {
        self.to_session_shared(session_id, &mut |_| vec![Arc::clone(body)])
    }

    /// Whether `user` has any live session.
    fn is_online(&self, user: &str) -> bool {
        self.reaches(user, &mut |_| true)
    }
}

fn own(bodies: Vec<Element>) -> Vec<Arc<SharedBody>> {
    bodies
        .into_iter()
        .map(|b| Arc::new(SharedBody::new(b)))
        .collect()
}

/// The bodies of shared primitives, for a node that gets them as data.
fn unshare(bodies: Vec<Arc<SharedBody>>) -> Vec<Element> {
    bodies.into_iter().map(SharedBody::into_body).collect()
}

/// The router of one process: sessions are in its registry.
pub struct LocalRouter {
    sessions: Arc<SessionRegistry>,
    max_outbox: usize,
    /// Told what is queued for sessions woken by UDP or SMS.
    cir_waker: Option<Arc<dyn crate::cir::CirWaker>>,
}

impl LocalRouter {
    /// `max_outbox`: the most primitives a session's outbox holds before
    /// the oldest is dropped.
    pub fn new(sessions: Arc<SessionRegistry>, max_outbox: usize) -> LocalRouter {
        LocalRouter {
            sessions,
            max_outbox: max_outbox.max(1),
            cir_waker: None,
        }
    }

    /// Tells `waker` what is queued for the sessions attached to it.
    pub fn with_cir_waker(mut self, waker: Option<Arc<dyn crate::cir::CirWaker>>) -> LocalRouter {
        self.cir_waker = waker;
        self
    }

    fn queue(&self, s: &Arc<Session>, shape: &mut SharedShape<'_>) -> bool {
        let bodies = shape(&recipient(s));
        let any = !bodies.is_empty();
        let mut woken_by_cir = false;
        for b in bodies {
            woken_by_cir |= s.router_enqueue(b, self.max_outbox);
        }
        if woken_by_cir && let Some(w) = &self.cir_waker {
            w.news(s);
        }
        any
    }
}

fn recipient(s: &Session) -> Recipient<'_> {
    // One lock per recipient: this runs for every session of a fan-out.
    let (max_message_size, style, ready) = s.with_state(|st| {
        let size = st.caps.as_ref().and_then(|c| c.max_message_size());
        (size, st.style, st.ready)
    });
    Recipient {
        session_id: &s.id,
        user: &s.user,
        client_key: s.client_key(),
        version: s.version,
        max_message_size,
        style,
        ready,
        language: s.language(),
    }
}

impl Router for LocalRouter {
    fn to_user_shared(&self, user: &str, shape: &mut SharedShape<'_>) -> usize {
        self.sessions
            .of_user(user)
            .iter()
            .filter(|s| self.queue(s, shape))
            .count()
    }

    fn to_session_shared(&self, session_id: &str, shape: &mut SharedShape<'_>) -> bool {
        match self.sessions.get(session_id) {
            Some(s) => self.queue(&s, shape),
            None => false,
        }
    }

    fn reaches(&self, user: &str, pred: &mut dyn FnMut(&Recipient<'_>) -> bool) -> bool {
        self.sessions
            .of_user(user)
            .iter()
            .any(|s| pred(&recipient(s)))
    }

    fn remind(&self, session_id: &str) {
        let Some(s) = self.sessions.get(session_id) else {
            return;
        };
        s.remind();
        if let Some(w) = &self.cir_waker
            && s.cir_attached()
        {
            w.news(&s);
        }
    }
}

/// A router for a process that shares its users with other nodes: this
/// node's sessions through its [`LocalRouter`], the others' through the
/// [`Cluster`](crate::cluster::Cluster) port, with the shape run here and
/// the bodies shipped.
pub struct ClusterRouter {
    local: Arc<LocalRouter>,
    cluster: Arc<dyn crate::cluster::Cluster>,
}

impl ClusterRouter {
    pub fn new(
        local: Arc<LocalRouter>,
        cluster: Arc<dyn crate::cluster::Cluster>,
    ) -> ClusterRouter {
        ClusterRouter { local, cluster }
    }
}

impl Router for ClusterRouter {
    fn to_user_shared(&self, user: &str, shape: &mut SharedShape<'_>) -> usize {
        let mut n = self.local.to_user_shared(user, shape);
        for r in self.cluster.sessions_of(user) {
            let bodies = shape(&r.recipient());
            if !bodies.is_empty() {
                self.cluster.ship(&r, unshare(bodies));
                n += 1;
            }
        }
        n
    }

    fn to_session_shared(&self, session_id: &str, shape: &mut SharedShape<'_>) -> bool {
        if self.local.sessions.get(session_id).is_some() {
            return self.local.to_session_shared(session_id, shape);
        }
        match self.cluster.session(session_id) {
            Some(r) => {
                let bodies = shape(&r.recipient());
                let any = !bodies.is_empty();
                if any {
                    self.cluster.ship(&r, unshare(bodies));
                }
                any
            }
            None => false,
        }
    }

    fn reaches(&self, user: &str, pred: &mut dyn FnMut(&Recipient<'_>) -> bool) -> bool {
        self.local.reaches(user, pred)
            || self
                .cluster
                .sessions_of(user)
                .iter()
                .any(|r| pred(&r.recipient()))
    }

    fn remind(&self, session_id: &str) {
        // IM keeps queues for this node's sessions only.
        self.local.remind(session_id);
    }
}

/// What the other nodes' directory needs about one of this node's
/// sessions (`node` left empty: the caller knows who it is).
pub fn describe(s: &Session) -> crate::cluster::RemoteSession {
    let r = recipient(s);
    crate::cluster::RemoteSession {
        node: String::new(),
        session_id: s.id.clone(),
        user: s.user.clone(),
        client_key: s.client_key().to_string(),
        client_id: s.client.to_element(s.version),
        version: s.version,
        max_message_size: r.max_message_size,
        style: r.style,
        ready: r.ready,
        language: r.language.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, user: &str, client: &str, v: Version) -> Arc<Session> {
        Arc::new(Session::new(
            id.into(),
            user.into(),
            crate::session::ClientIdent::url(client),
            v,
            "c".into(),
            format!("t-{id}"),
            0,
            60,
        ))
    }

    fn setup(max_outbox: usize) -> (Arc<SessionRegistry>, LocalRouter) {
        let reg = Arc::new(SessionRegistry::default());
        for s in [
            session("a1", "alice", "phone", Version::V1_1),
            session("a2", "alice", "desk", Version::V1_3),
            session("b1", "bob", "phone", Version::V1_3),
        ] {
            reg.insert(s, 0).expect("insert");
        }
        let r = LocalRouter::new(Arc::clone(&reg), max_outbox);
        (reg, r)
    }

    fn drain(reg: &SessionRegistry, id: &str) -> Vec<String> {
        let s = reg.get(id).expect("session");
        std::iter::from_fn(|| s.pop_outgoing().map(|(_, b, _)| b.name.to_string())).collect()
    }

    #[test]
    fn to_user_reaches_every_session_of_that_user_only() {
        let (reg, r) = setup(10);
        assert_eq!(r.to_user("alice", Element::new("X")), 2);
        assert_eq!(drain(&reg, "a1"), ["X"]);
        assert_eq!(drain(&reg, "a2"), ["X"]);
        assert!(drain(&reg, "b1").is_empty());
        assert_eq!(r.to_user("nobody", Element::new("X")), 0);
    }

    /// One primitive for many sessions is one copy in all their outboxes
    /// (issue 19): encoded once per version and encoding, not cloned.
    #[test]
    fn one_body_for_many_sessions_is_shared_not_copied() {
        let (reg, r) = setup(10);
        assert_eq!(r.to_user("alice", Element::new("X")), 2);
        let take = |id: &str| reg.get(id).expect("session").pop_outgoing_shared();
        let (_, a1, _) = take("a1").expect("a1 has it");
        let (_, a2, _) = take("a2").expect("a2 has it");
        assert!(Arc::ptr_eq(&a1, &a2));
        let shared = Arc::new(SharedBody::new(Element::new("Y")));
        assert!(r.to_session_body("a1", &shared));
        assert!(r.to_session_body("b1", &shared));
        let (_, b1, _) = take("b1").expect("b1 has it");
        assert!(Arc::ptr_eq(&b1, &shared));
        assert_eq!(
            Arc::strong_count(&shared),
            3,
            "a1's outbox, b1's copy, ours"
        );
    }

    #[test]
    fn shape_sees_each_session_and_may_pass_one_over() {
        let (reg, r) = setup(10);
        let n = r.to_user_shaped("alice", &mut |rc| {
            if rc.version == Version::V1_3 {
                vec![Element::new(format!("For-{}", rc.client_key))]
            } else {
                Vec::new()
            }
        });
        assert_eq!(n, 1);
        assert!(drain(&reg, "a1").is_empty());
        assert_eq!(drain(&reg, "a2"), ["For-desk"]);
    }

    #[test]
    fn to_session_is_false_for_a_gone_session() {
        let (reg, r) = setup(10);
        assert!(r.to_session("b1", Element::new("Y")));
        assert_eq!(drain(&reg, "b1"), ["Y"]);
        reg.remove("b1", false, 0);
        assert!(!r.to_session("b1", Element::new("Y")));
        assert!(!r.is_online("bob"));
        assert!(r.reaches("alice", &mut |rc| rc.version == Version::V1_1));
    }

    #[test]
    fn a_full_outbox_drops_its_oldest_entry() {
        let (reg, r) = setup(2);
        for name in ["One", "Two", "Three"] {
            r.to_session("b1", Element::new(name));
        }
        assert_eq!(drain(&reg, "b1"), ["Two", "Three"]);
        assert_eq!(
            reg.get("b1").expect("session").with_state(|st| st.dropped),
            1
        );
    }

    /// A mark read before something is queued says whether that entry
    /// still waits: taken, dropped from a full outbox or cleared, it does
    /// not; a mark of nothing queued never does.
    #[test]
    fn an_outbox_mark_says_whether_its_entry_still_waits() {
        let (reg, r) = setup(2);
        let s = reg.get("b1").expect("session");
        let queue = |name: &str| {
            let mark = s.outbox_mark();
            assert!(r.to_session("b1", Element::new(name)));
            mark
        };
        let one = queue("One");
        let two = queue("Two");
        assert!(s.still_queued(one) && s.still_queued(two));
        assert_eq!(s.taken(), 0);
        assert!(s.pop_outgoing().is_some());
        assert_eq!(s.taken(), 1);
        assert!(!s.still_queued(one), "taken");
        assert!(s.still_queued(two));
        let three = queue("Three");
        let four = queue("Four");
        assert!(!s.still_queued(two), "dropped from the full outbox");
        assert!(s.still_queued(three) && s.still_queued(four));
        assert!(!s.still_queued(s.outbox_mark()), "nothing queued under it");
        s.clear_outbox();
        assert!(!s.still_queued(three) && !s.still_queued(four), "cleared");
        assert_eq!(s.taken(), 1);
    }

    /// Nothing but the router queues into a session: every call of
    /// `Session::router_enqueue` in this crate's sources is in this file.
    #[test]
    fn only_the_router_queues_into_sessions() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![src];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("read src").flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && !p.ends_with("router.rs")
                    && std::fs::read_to_string(&p)
                        .expect("read file")
                        .contains(".router_enqueue(")
                {
                    offenders.push(p.display().to_string());
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "queue through the router: {offenders:?}"
        );
    }
}
