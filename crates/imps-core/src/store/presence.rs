//! Presence attributes, authorizations, reactive requests and
//! subscriptions (BASE-PRES, PRR-*), as the service keeps them durably.
//!
//! The store does not interpret presence: a user's attributes are an
//! opaque document the core encodes (the XML of a `PresenceSubList`,
//! written by imps-wire's codec), and attribute sets are lists of
//! attribute names. OnlineStatus is never stored: it follows live sessions.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// Who an attribute list (proactive authorization) applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantSubject {
    /// The owner's DefaultList: everyone not covered by a more specific list.
    Default,
    /// One user (canonical ID).
    User(String),
    /// One of the owner's contact lists (the list ID as the client sent it).
    List(String),
}

/// One attribute list: these attributes are visible to `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub subject: GrantSubject,
    /// Attribute names; empty means "nothing" (an explicit denial).
    pub attrs: Vec<String>,
}

/// Where a reactive authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactiveState {
    Pending,
    Granted,
    Denied,
}

impl ReactiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReactiveState::Pending => "PENDING",
            ReactiveState::Granted => "GRANTED",
            ReactiveState::Denied => "DENIED",
        }
    }

    pub fn parse(s: &str) -> Option<ReactiveState> {
        match s {
            "PENDING" => Some(ReactiveState::Pending),
            "GRANTED" => Some(ReactiveState::Granted),
            "DENIED" => Some(ReactiveState::Denied),
            _ => None,
        }
    }
}

/// A watcher asked to see an owner's presence without being authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactiveRecord {
    pub watcher: String,
    pub state: ReactiveState,
    /// The attributes asked for; `None` = all.
    pub attrs: Option<Vec<String>>,
    pub updated_ms: u64,
}

/// Everything an owner decided about who sees what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceAuthRecords {
    pub grants: Vec<GrantRecord>,
    pub reactive: Vec<ReactiveRecord>,
}

/// One change to an owner's authorizations, applied atomically (PRR-1:
/// several users in one request means one transaction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthChange {
    /// Inserted or replaced.
    pub put_grants: Vec<GrantRecord>,
    pub delete_grants: Vec<GrantSubject>,
    /// Inserted or replaced, by watcher.
    pub put_reactive: Vec<ReactiveRecord>,
    /// Watchers whose reactive record is removed.
    pub delete_reactive: Vec<String>,
}

impl AuthChange {
    pub fn is_empty(&self) -> bool {
        self.put_grants.is_empty()
            && self.delete_grants.is_empty()
            && self.put_reactive.is_empty()
            && self.delete_reactive.is_empty()
    }
}

/// A watcher's subscription to an owner's presence. Subscriptions belong to
/// the subscribing user (not a session): every session of the watcher gets
/// the notifications. An ended subscription is kept with `active = false`
/// so the 1.3 watcher list can show former subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub owner: String,
    pub watcher: String,
    /// Attribute names subscribed to; `None` = all.
    pub attrs: Option<Vec<String>>,
    pub active: bool,
    pub updated_ms: u64,
}

#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// The user's stored attributes; `None` when never set.
    async fn presence_doc(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the user's stored attributes.
    async fn put_presence_doc(
        &self,
        user: &str,
        doc: Vec<u8>,
        updated_ms: u64,
    ) -> Result<(), StoreError>;
    /// The owner's attribute lists and reactive requests.
    async fn presence_auth(&self, owner: &str) -> Result<PresenceAuthRecords, StoreError>;
    /// Applies one change to the owner's authorizations in one transaction.
    async fn update_presence_auth(&self, owner: &str, change: AuthChange)
    -> Result<(), StoreError>;
    /// Inserts or replaces subscriptions (by owner and watcher), all in one
    /// transaction.
    async fn put_subscriptions(&self, subs: Vec<SubscriptionRecord>) -> Result<(), StoreError>;
    /// Subscriptions to an owner's presence, active and former, by watcher.
    async fn subscriptions_to(&self, owner: &str) -> Result<Vec<SubscriptionRecord>, StoreError>;
    /// Subscriptions a watcher holds, active and former, by owner.
    async fn subscriptions_of(&self, watcher: &str) -> Result<Vec<SubscriptionRecord>, StoreError>;
}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemPresence {
    docs: HashMap<String, Vec<u8>>,
    grants: HashMap<String, Vec<GrantRecord>>,
    reactive: HashMap<String, Vec<ReactiveRecord>>,
    /// By (owner, watcher).
    subs: HashMap<(String, String), SubscriptionRecord>,
}

#[async_trait]
impl PresenceStore for MemStore {
    async fn presence_doc(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.presence.lock().docs.get(user).cloned())
    }

    async fn put_presence_doc(
        &self,
        user: &str,
        doc: Vec<u8>,
        _updated_ms: u64,
    ) -> Result<(), StoreError> {
        self.presence.lock().docs.insert(user.to_string(), doc);
        Ok(())
    }

    async fn presence_auth(&self, owner: &str) -> Result<PresenceAuthRecords, StoreError> {
        let g = self.presence.lock();
        let mut grants = g.grants.get(owner).cloned().unwrap_or_default();
        grants.sort_by(|a, b| a.subject.cmp(&b.subject));
        let mut reactive = g.reactive.get(owner).cloned().unwrap_or_default();
        reactive.sort_by(|a, b| a.watcher.cmp(&b.watcher));
        Ok(PresenceAuthRecords { grants, reactive })
    }

    async fn update_presence_auth(&self, owner: &str, c: AuthChange) -> Result<(), StoreError> {
        let mut g = self.presence.lock();
        let grants = g.grants.entry(owner.to_string()).or_default();
        grants.retain(|r| !c.delete_grants.contains(&r.subject));
        for put in c.put_grants {
            grants.retain(|r| r.subject != put.subject);
            grants.push(put);
        }
        let reactive = g.reactive.entry(owner.to_string()).or_default();
        reactive.retain(|r| !c.delete_reactive.contains(&r.watcher));
        for put in c.put_reactive {
            reactive.retain(|r| r.watcher != put.watcher);
            reactive.push(put);
        }
        Ok(())
    }

    async fn put_subscriptions(&self, subs: Vec<SubscriptionRecord>) -> Result<(), StoreError> {
        let mut g = self.presence.lock();
        for s in subs {
            g.subs.insert((s.owner.clone(), s.watcher.clone()), s);
        }
        Ok(())
    }

    async fn subscriptions_to(&self, owner: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let g = self.presence.lock();
        let mut v: Vec<_> = g
            .subs
            .values()
            .filter(|s| s.owner == owner)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.watcher.cmp(&b.watcher));
        Ok(v)
    }

    async fn subscriptions_of(&self, watcher: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let g = self.presence.lock();
        let mut v: Vec<_> = g
            .subs
            .values()
            .filter(|s| s.watcher == watcher)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.owner.cmp(&b.owner));
        Ok(v)
    }
}
