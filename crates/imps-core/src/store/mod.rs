//! The storage interface, in domain terms, and an in-memory store for
//! unit tests. Backends (SQLite, later PostgreSQL) live in `imps-store` and
//! must pass the same conformance suite.

mod directory;
mod groups;
mod im;
mod lists;
mod peers;
mod presence;
mod remote_joins;
mod sms;
mod ssp;
mod sysmsg;

pub use directory::{
    Birth, ContactDetails, DirectoryStore, GroupField, GroupLeaf, PublicProfile, Term, UserField,
    UserLeaf, group_keys, group_listed, search_key, user_keys,
};
pub use groups::{
    Access, GroupPass, GroupRecord, GroupStore, InviteRecord, JoinOutcome, JoinedUser, PassKind,
    WelcomeNote,
};
pub use im::{
    FontSpec, MessageBody, MessageStore, NewStoredMessage, PutOutcome, RecipientQuota,
    RemovedMessage, StoredMessage, full_peers, recipients_ref,
};
pub use lists::{
    AccessChange, AccessCheck, AccessLists, ContactEntry, ContactListRecord, CreateListOutcome,
    DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, ListChange, ListChangeOutcome, ListStore,
};
pub use peers::{PeerStore, StoredPeer};
pub use presence::{
    AuthChange, GrantRecord, GrantSubject, PresenceAuthRecords, PresenceStore, ReactiveRecord,
    ReactiveState, SubscriptionRecord,
};
pub use remote_joins::{RemoteJoin, RemoteJoinStore};
pub use sms::{NewSms, SmsJob, SmsPut, SmsStore};
pub use ssp::{InboundSsp, InboundTaken, NewSspItem, SspItem, SspPut, SspStore, id_taken_by};
pub use sysmsg::{
    SysDelivery, SysMessageRecord, SysOption, SysmsgStore, TermsAgreement, sysmsg_is_due,
};

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The thing already exists (a user ID or MSISDN taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (I/O, corruption, pool exhausted).
    #[error("backend: {0}")]
    Backend(String),
}

/// A registered user. IDs are the canonical local part (`alice`), lower
/// case, without `wv:` or the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    /// Argon2id PHC string; `None` for users that can only log in by MSISDN.
    pub password_hash: Option<String>,
    /// The digest secret (the password), encrypted with the server key.
    /// Present only when digest login is enabled for this account.
    pub digest_secret: Option<Vec<u8>>,
    /// E.164 number, `+` and digits.
    pub msisdn: Option<String>,
    pub friendly_name: Option<String>,
    pub created_ms: u64,
}

/// What it takes to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: String,
    pub password_hash: Option<String>,
    pub digest_secret: Option<Vec<u8>>,
    pub msisdn: Option<String>,
    pub friendly_name: Option<String>,
    pub created_ms: u64,
}

/// A session as persisted, so that sessions survive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    /// CSP version as `1.1`/`1.2`/`1.3`.
    pub version: String,
    pub cookie: String,
    pub ttl_secs: u64,
    pub created_ms: u64,
    /// How the client takes messages, as it last chose (`P` push, `N`
    /// notify/get); `None` when it never said (push).
    pub delivery_method: Option<String>,
    /// How the client reads IDs and member lists (issue 13; see
    /// `session::ClientStyle`).
    pub bare_ids: bool,
    pub android_engine: bool,
    /// Functions withheld by the level of service the user's answer to a
    /// system message granted (SYM-11): names of features, function
    /// groups or codes, as in the `disabled` setting. Empty: full service.
    pub withheld: Vec<String>,
    /// Where the server wakes this session by itself (UDP or SMS CIR), in
    /// `CirTarget::to_record`'s form; `None` when it agreed none.
    pub cir_target: Option<String>,
    /// The process that holds the session, when several share the store
    /// (the cluster's node name); `None` for a process alone.
    pub node: Option<String>,
}

/// Everything the service keeps durably. One trait per area, so each area
/// (and each backend's file for it) can grow on its own; a backend
/// implements them all and is then a `Store`.
pub trait Store:
    AccountStore
    + ListStore
    + PresenceStore
    + MessageStore
    + GroupStore
    + SysmsgStore
    + DirectoryStore
    + SmsStore
    + SspStore
    + RemoteJoinStore
    + PeerStore
{
}

impl<T> Store for T where
    T: AccountStore
        + ListStore
        + PresenceStore
        + MessageStore
        + GroupStore
        + SysmsgStore
        + DirectoryStore
        + SmsStore
        + SspStore
        + RemoteJoinStore
        + PeerStore
{
}

/// Users, credentials and sessions.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a user; `Conflict` when the ID or MSISDN is taken.
    async fn create_user(&self, user: NewUser) -> Result<(), StoreError>;
    /// Creates many users at once, each with its public profile
    /// (friendly name taken from the profile) and contact details, and
    /// their search keys: all or none (`Conflict` when an ID or MSISDN is
    /// taken, also within the batch). For bulk loading (`impsd user
    /// add-many --profiles`), where one write per user is too slow.
    async fn import_users(
        &self,
        users: Vec<(NewUser, PublicProfile, ContactDetails)>,
    ) -> Result<(), StoreError>;
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_msisdn(&self, msisdn: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Replaces the password hash and digest secret; false if no such user.
    async fn set_password(
        &self,
        id: &str,
        password_hash: Option<String>,
        digest_secret: Option<Vec<u8>>,
    ) -> Result<bool, StoreError>;

    async fn put_session(&self, s: SessionRecord) -> Result<(), StoreError>;
    async fn delete_session(&self, id: &str) -> Result<(), StoreError>;
    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// Deletes the sessions `node` held and returns them, at once: of
    /// several processes asking for the same node, each row goes to
    /// exactly one (the one that ends those sessions for everybody).
    async fn take_sessions_of_node(&self, node: &str) -> Result<Vec<SessionRecord>, StoreError>;

    /// Whether the store serves requests now (the health check): one
    /// cheap read of the store's own schema bookkeeping, by the path the
    /// writes take. An error says why not.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// An in-memory store for unit tests and the conformance suite's reference.
#[derive(Default)]
pub struct MemStore {
    pub(crate) inner: Mutex<MemInner>,
    pub(crate) lists: Mutex<lists::MemLists>,
    pub(crate) presence: Mutex<presence::MemPresence>,
    pub(crate) im: Mutex<im::MemMessages>,
    pub(crate) groups: Mutex<groups::MemGroups>,
    pub(crate) sysmsg: Mutex<sysmsg::MemSysmsg>,
    pub(crate) directory: Mutex<directory::MemDirectory>,
    pub(crate) sms: Mutex<sms::MemSms>,
    pub(crate) ssp: Mutex<ssp::MemSsp>,
    pub(crate) remote_joins: Mutex<remote_joins::MemRemoteJoins>,
    pub(crate) peers: Mutex<std::collections::BTreeMap<String, peers::StoredPeer>>,
}

#[derive(Default)]
pub(crate) struct MemInner {
    pub(crate) users: HashMap<String, UserRecord>,
    sessions: HashMap<String, SessionRecord>,
}

#[async_trait]
impl AccountStore for MemStore {
    async fn create_user(&self, u: NewUser) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        if g.users.contains_key(&u.id) {
            return Err(StoreError::Conflict(format!("user {} exists", u.id)));
        }
        if let Some(m) = &u.msisdn
            && g.users.values().any(|x| x.msisdn.as_deref() == Some(m))
        {
            return Err(StoreError::Conflict(format!("msisdn {m} taken")));
        }
        g.users.insert(
            u.id.clone(),
            UserRecord {
                id: u.id,
                password_hash: u.password_hash,
                digest_secret: u.digest_secret,
                msisdn: u.msisdn,
                friendly_name: u.friendly_name,
                created_ms: u.created_ms,
            },
        );
        Ok(())
    }

    async fn import_users(
        &self,
        users: Vec<(NewUser, PublicProfile, ContactDetails)>,
    ) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let mut ids = std::collections::HashSet::new();
        let mut msisdns: std::collections::HashSet<&str> = g
            .users
            .values()
            .filter_map(|x| x.msisdn.as_deref())
            .collect();
        for (u, _, _) in &users {
            if g.users.contains_key(&u.id) || !ids.insert(u.id.as_str()) {
                return Err(StoreError::Conflict(format!("user {} exists", u.id)));
            }
            if let Some(m) = &u.msisdn
                && !msisdns.insert(m)
            {
                return Err(StoreError::Conflict(format!("msisdn {m} taken")));
            }
        }
        drop(ids);
        drop(msisdns);
        let mut dir = self.directory.lock();
        for (u, mut p, d) in users {
            g.users.insert(
                u.id.clone(),
                UserRecord {
                    id: u.id.clone(),
                    password_hash: u.password_hash,
                    digest_secret: u.digest_secret,
                    msisdn: u.msisdn,
                    friendly_name: p.friendly_name.take(),
                    created_ms: u.created_ms,
                },
            );
            dir.put(&u.id, p, d);
        }
        Ok(())
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.inner.lock().users.get(id).cloned())
    }

    async fn user_by_msisdn(&self, msisdn: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .inner
            .lock()
            .users
            .values()
            .find(|u| u.msisdn.as_deref() == Some(msisdn))
            .cloned())
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut v: Vec<_> = self.inner.lock().users.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn set_password(
        &self,
        id: &str,
        password_hash: Option<String>,
        digest_secret: Option<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        match g.users.get_mut(id) {
            Some(u) => {
                u.password_hash = password_hash;
                u.digest_secret = digest_secret;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn put_session(&self, s: SessionRecord) -> Result<(), StoreError> {
        self.inner.lock().sessions.insert(s.id.clone(), s);
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.inner.lock().sessions.remove(id);
        Ok(())
    }

    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut v: Vec<_> = self.inner.lock().sessions.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn take_sessions_of_node(&self, node: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut g = self.inner.lock();
        let ids: Vec<String> = g
            .sessions
            .values()
            .filter(|s| s.node.as_deref() == Some(node))
            .map(|s| s.id.clone())
            .collect();
        let mut v: Vec<_> = ids.iter().filter_map(|id| g.sessions.remove(id)).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
