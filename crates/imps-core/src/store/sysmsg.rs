//! System messages (issue 15, SYM-*): what the server sent, to whom, what
//! each user answered, and which version of the operator's terms each user
//! agreed to.
//!
//! A message is addressed either to named users (a delivery row per user,
//! written with the message) or to everyone (no rows until a user is sent
//! it or answers it). A delivery row counts the sends and keeps the answer.
//! The store does not decide what an option does: its `action` is a string
//! the core wrote and reads back.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// One answer a message offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysOption {
    pub id: u64,
    pub text: String,
    /// What choosing it makes the server do, in the core's notation;
    /// `None` for a plain answer.
    pub action: Option<String>,
}

/// A system message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysMessageRecord {
    /// The `SystemMessageID` on the wire; unique.
    pub id: String,
    pub text: String,
    pub options: Vec<SysOption>,
    pub requires_response: bool,
    /// Addressed to every user, present and future, each at their next
    /// login; otherwise to the users given when it was stored.
    pub everyone: bool,
    /// Who or what made it (`operator`, `added`, ...), for listings.
    pub origin: String,
    pub created_ms: u64,
}

/// One user's copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysDelivery {
    pub message_id: String,
    pub user: String,
    /// How many times it was sent to the user's sessions.
    pub sent_count: u32,
    pub last_sent_ms: Option<u64>,
    /// When the user answered; `None` while unanswered.
    pub answered_ms: Option<u64>,
    /// The option chosen, when the answer named one.
    pub chosen: Option<u64>,
}

/// The version of the operator's terms a user agreed to, and the option
/// that decided their level of service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsAgreement {
    pub version: String,
    pub option: u64,
    pub agreed_ms: u64,
}

#[async_trait]
pub trait SysmsgStore: Send + Sync + 'static {
    /// Stores a message and an unsent delivery row for each of `to`, in
    /// one write; `Conflict` when the ID is taken.
    async fn put_sysmsg(&self, m: SysMessageRecord, to: &[String]) -> Result<(), StoreError>;
    async fn sysmsg(&self, id: &str) -> Result<Option<SysMessageRecord>, StoreError>;
    /// Every message, oldest first (by creation time, then ID).
    async fn sysmsgs(&self) -> Result<Vec<SysMessageRecord>, StoreError>;
    /// What `user` should be sent now, oldest first: unanswered messages
    /// addressed to them that were never sent or require a response, and
    /// messages for everyone they have no row for (or one matching the
    /// first case).
    async fn sysmsgs_due(&self, user: &str) -> Result<Vec<SysMessageRecord>, StoreError>;
    /// Counts one more send of `id` to `user` (creating the row for a
    /// message to everyone). False when the message does not exist or is
    /// not addressed to the user.
    async fn mark_sysmsg_sent(&self, id: &str, user: &str, now_ms: u64)
    -> Result<bool, StoreError>;
    /// Records `user`'s answer (replacing an earlier one: the latest
    /// answer counts). False when the message does not exist or is not
    /// addressed to the user.
    async fn answer_sysmsg(
        &self,
        id: &str,
        user: &str,
        chosen: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError>;
    /// The delivery rows of a message, by user ID.
    async fn sysmsg_deliveries(&self, id: &str) -> Result<Vec<SysDelivery>, StoreError>;
    /// One user's row of a message, when there is one.
    async fn sysmsg_delivery(
        &self,
        id: &str,
        user: &str,
    ) -> Result<Option<SysDelivery>, StoreError>;
    async fn terms_agreement(&self, user: &str) -> Result<Option<TermsAgreement>, StoreError>;
    /// Replaces the user's agreement.
    async fn put_terms_agreement(&self, user: &str, a: TermsAgreement) -> Result<(), StoreError>;
}

#[derive(Default)]
pub(crate) struct MemSysmsg {
    messages: HashMap<String, SysMessageRecord>,
    /// (message ID, user) → row.
    deliveries: BTreeMap<(String, String), SysDelivery>,
    terms: HashMap<String, TermsAgreement>,
}

impl MemSysmsg {
    fn addressed(&self, id: &str, user: &str) -> bool {
        match self.messages.get(id) {
            Some(m) => {
                m.everyone
                    || self
                        .deliveries
                        .contains_key(&(id.to_string(), user.to_string()))
            }
            None => false,
        }
    }

    fn row(&mut self, id: &str, user: &str) -> &mut SysDelivery {
        self.deliveries
            .entry((id.to_string(), user.to_string()))
            .or_insert_with(|| SysDelivery {
                message_id: id.to_string(),
                user: user.to_string(),
                sent_count: 0,
                last_sent_ms: None,
                answered_ms: None,
                chosen: None,
            })
    }
}

/// Whether a message with this row (or none) is due: not answered, and
/// never sent or still waiting for a required answer.
pub fn sysmsg_is_due(m: &SysMessageRecord, row: Option<&SysDelivery>) -> bool {
    match row {
        None => m.everyone,
        Some(d) => d.answered_ms.is_none() && (d.sent_count == 0 || m.requires_response),
    }
}

fn oldest_first(v: &mut [SysMessageRecord]) {
    v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
}

#[async_trait]
impl SysmsgStore for MemStore {
    async fn put_sysmsg(&self, m: SysMessageRecord, to: &[String]) -> Result<(), StoreError> {
        let mut g = self.sysmsg.lock();
        if g.messages.contains_key(&m.id) {
            return Err(StoreError::Conflict(format!(
                "system message {} exists",
                m.id
            )));
        }
        let id = m.id.clone();
        g.messages.insert(id.clone(), m);
        for u in to {
            g.row(&id, u);
        }
        Ok(())
    }

    async fn sysmsg(&self, id: &str) -> Result<Option<SysMessageRecord>, StoreError> {
        Ok(self.sysmsg.lock().messages.get(id).cloned())
    }

    async fn sysmsgs(&self) -> Result<Vec<SysMessageRecord>, StoreError> {
        let mut v: Vec<_> = self.sysmsg.lock().messages.values().cloned().collect();
        oldest_first(&mut v);
        Ok(v)
    }

    async fn sysmsgs_due(&self, user: &str) -> Result<Vec<SysMessageRecord>, StoreError> {
        let g = self.sysmsg.lock();
        let mut v: Vec<_> = g
            .messages
            .values()
            .filter(|m| {
                let row = g.deliveries.get(&(m.id.clone(), user.to_string()));
                sysmsg_is_due(m, row)
            })
            .cloned()
            .collect();
        oldest_first(&mut v);
        Ok(v)
    }

    async fn mark_sysmsg_sent(
        &self,
        id: &str,
        user: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut g = self.sysmsg.lock();
        if !g.addressed(id, user) {
            return Ok(false);
        }
        let r = g.row(id, user);
        r.sent_count = r.sent_count.saturating_add(1);
        r.last_sent_ms = Some(now_ms);
        Ok(true)
    }

    async fn answer_sysmsg(
        &self,
        id: &str,
        user: &str,
        chosen: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut g = self.sysmsg.lock();
        if !g.addressed(id, user) {
            return Ok(false);
        }
        let r = g.row(id, user);
        r.answered_ms = Some(now_ms);
        r.chosen = chosen;
        Ok(true)
    }

    async fn sysmsg_deliveries(&self, id: &str) -> Result<Vec<SysDelivery>, StoreError> {
        Ok(self
            .sysmsg
            .lock()
            .deliveries
            .values()
            .filter(|d| d.message_id == id)
            .cloned()
            .collect())
    }

    async fn sysmsg_delivery(
        &self,
        id: &str,
        user: &str,
    ) -> Result<Option<SysDelivery>, StoreError> {
        Ok(self
            .sysmsg
            .lock()
            .deliveries
            .get(&(id.to_string(), user.to_string()))
            .cloned())
    }

    async fn terms_agreement(&self, user: &str) -> Result<Option<TermsAgreement>, StoreError> {
        Ok(self.sysmsg.lock().terms.get(user).cloned())
    }

    async fn put_terms_agreement(&self, user: &str, a: TermsAgreement) -> Result<(), StoreError> {
        self.sysmsg.lock().terms.insert(user.to_string(), a);
        Ok(())
    }
}
