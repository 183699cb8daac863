//! The replica of the other nodes' session directories, in memory: what
//! the core's synchronous router asks (`sessions_of`, `session`) is
//! answered here without waiting on the bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imps_core::cluster::RemoteSession;

/// One other node's sessions.
struct NodeEntry {
    incarnation: u64,
    last_seen: Instant,
    by_id: HashMap<String, Arc<RemoteSession>>,
    by_user: HashMap<String, Vec<String>>,
}

impl NodeEntry {
    fn new(incarnation: u64) -> NodeEntry {
        NodeEntry {
            incarnation,
            last_seen: Instant::now(),
            by_id: HashMap::new(),
            by_user: HashMap::new(),
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id)
            && let Some(v) = self.by_user.get_mut(&old.user)
        {
            v.retain(|x| x != id);
            if v.is_empty() {
                self.by_user.remove(&old.user);
            }
        }
    }

    fn put(&mut self, s: RemoteSession) {
        self.remove(&s.session_id);
        self.by_user
            .entry(s.user.clone())
            .or_default()
            .push(s.session_id.clone());
        self.by_id.insert(s.session_id.clone(), Arc::new(s));
    }
}

/// How the store names one run of a node (its sessions' `node` column):
/// the name and the incarnation, so that a node restarted under the same
/// name is never taken for the run that died.
pub(super) fn holder(node: &str, incarnation: u64) -> String {
    format!("{node}.{incarnation:016x}")
}

#[derive(Default)]
pub(super) struct Directory {
    nodes: HashMap<String, NodeEntry>,
}

impl Directory {
    /// Applies one directory message of `node`. A new incarnation (the
    /// node restarted) or a `reset` (the start of its whole directory)
    /// replaces what was known of it. Returns the incarnation replaced by
    /// a new one: that run of the node is over, as if it had expired.
    pub(super) fn apply(
        &mut self,
        node: &str,
        incarnation: u64,
        reset: bool,
        put: Vec<RemoteSession>,
        del: &[String],
    ) -> Option<u64> {
        let e = self
            .nodes
            .entry(node.to_string())
            .or_insert_with(|| NodeEntry::new(incarnation));
        let mut ended = None;
        if e.incarnation != incarnation {
            ended = Some(e.incarnation);
            *e = NodeEntry::new(incarnation);
        } else if reset {
            *e = NodeEntry::new(incarnation);
        }
        e.last_seen = Instant::now();
        for id in del {
            e.remove(id);
        }
        for s in put {
            e.put(s);
        }
        ended
    }

    /// Drops the nodes not heard from within `ttl` before `now`; returns
    /// their names and incarnations.
    pub(super) fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<(String, u64)> {
        let dead: Vec<(String, u64)> = self
            .nodes
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last_seen) > ttl)
            .map(|(n, e)| (n.clone(), e.incarnation))
            .collect();
        for (n, _) in &dead {
            self.nodes.remove(n);
        }
        dead
    }

    /// The runs of nodes heard from, as `holder` names them.
    pub(super) fn holders(&self) -> std::collections::HashSet<String> {
        self.nodes
            .iter()
            .map(|(n, e)| holder(n, e.incarnation))
            .collect()
    }

    pub(super) fn sessions_of(&self, user: &str) -> Vec<Arc<RemoteSession>> {
        let mut out = Vec::new();
        for e in self.nodes.values() {
            if let Some(ids) = e.by_user.get(user) {
                out.extend(ids.iter().filter_map(|id| e.by_id.get(id).cloned()));
            }
        }
        out
    }

    pub(super) fn session(&self, id: &str) -> Option<Arc<RemoteSession>> {
        self.nodes.values().find_map(|e| e.by_id.get(id).cloned())
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.values().map(|e| e.by_id.len()).sum()
    }

    pub(super) fn nodes(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use imps_wire::{Element, Version};

    fn s(node: &str, id: &str, user: &str) -> RemoteSession {
        RemoteSession {
            node: node.into(),
            session_id: id.into(),
            user: user.into(),
            client_key: "c".into(),
            client_id: Element::new("ClientID"),
            version: Version::V1_3,
            max_message_size: None,
            style: Default::default(),
            ready: true,
            language: None,
        }
    }

    #[test]
    fn reset_and_new_incarnation_replace_a_node_and_deltas_edit_it() {
        let mut d = Directory::default();
        d.apply(
            "n1",
            1,
            true,
            vec![s("n1", "a", "alice"), s("n1", "b", "bob")],
            &[],
        );
        assert_eq!(d.len(), 2);
        d.apply("n1", 1, false, vec![], &["a".into()]);
        assert!(d.sessions_of("alice").is_empty());
        assert_eq!(d.session("b").unwrap().user, "bob");
        // Restarted: what the old process had is gone, and that run is over.
        assert_eq!(
            d.apply("n1", 2, false, vec![s("n1", "c", "carol")], &[]),
            Some(1)
        );
        assert!(d.session("b").is_none());
        assert_eq!(d.sessions_of("carol").len(), 1);
        d.apply("n1", 2, true, vec![], &[]);
        assert_eq!(d.len(), 0);
        assert_eq!(d.nodes(), 1);
    }

    #[test]
    fn a_silent_node_expires() {
        let mut d = Directory::default();
        d.apply("n1", 1, true, vec![s("n1", "a", "alice")], &[]);
        let ttl = Duration::from_secs(5);
        assert!(d.expire(Instant::now(), ttl).is_empty());
        let later = Instant::now() + Duration::from_secs(6);
        assert_eq!(d.expire(later, ttl), [("n1".to_string(), 1)]);
        assert!(d.sessions_of("alice").is_empty());
    }
}
