//! Messages waiting for delivery, offline storage (BASE-IM, IMR-*).
//!
//! A message is stored once with one queue entry per recipient user. The
//! store hands out `seq`, a number that only grows, so that every reader
//! can deliver a user's messages in the order they were accepted (and so
//! each sender's messages in the order sent). A queue entry stays until the
//! recipient's client acknowledged it (or rejected it, or it expired); the
//! message itself goes with its last entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use super::{MemStore, NewSspItem, StoreError};

/// Formatting of a text message (1.3 Font; IMR-1..4), kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FontSpec {
    pub size: Option<String>,
    pub styles: Vec<String>,
    pub color: Option<String>,
}

/// What a message says, as the sender sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageBody {
    pub content_type: String,
    /// `BASE64` for binary content; `None` for plain text.
    pub encoding: Option<String>,
    /// ContentSize as declared by the sender (Android counts UTF-16 units).
    pub size: u64,
    /// The original file name of multimedia content (1.3; IMR-5..7).
    pub name: Option<String>,
    pub font: Option<FontSpec>,
    /// ContentData, unchanged (base64 text for binary content).
    pub data: String,
}

/// A message to store, with everyone it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStoredMessage {
    /// The server's MessageID, unique.
    pub id: String,
    pub sender: String,
    /// The sender's friendly name when sent (IMR-8), shown to recipients.
    pub sender_name: Option<String>,
    pub delivery_report: bool,
    pub created_ms: u64,
    /// Dropped undelivered after this time (Validity); `None` = never.
    pub expires_ms: Option<u64>,
    pub body: MessageBody,
    /// (recipient user, ClientID it is aimed at or `None` for every
    /// session of that user), each user at most once.
    pub recipients: Vec<(String, Option<String>)>,
    /// The sender's own MessageID, for recognising a retried send (for a
    /// peer domain's message, its MessageID with the recipients it names:
    /// [`recipients_ref`]).
    pub client_ref: Option<String>,
    /// What each recipient's queue may hold with this message in it;
    /// `None` = no limit.
    pub quota: Option<RecipientQuota>,
    /// The message for users of peer domains, one SSP transaction each,
    /// queued in the same step as the rest (and the `client_ref`): a
    /// retried send recognised by its reference queues none of them
    /// again, and none is queued for a send that stored nothing.
    pub remote: Vec<NewSspItem>,
    /// Most transactions that may wait for one peer, these included
    /// (`federation.queue_max`).
    pub remote_max: u64,
}

/// The most one recipient's queue may hold (issue 14: offline quota).
/// 0 = no limit on that measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecipientQuota {
    pub max_messages: u64,
    /// Bytes of content (ContentData as stored).
    pub max_bytes: u64,
}

impl RecipientQuota {
    /// Whether a queue holding `messages` entries of `bytes` in all can
    /// take one more of `add` bytes.
    pub fn admits(&self, messages: u64, bytes: u64, add: u64) -> bool {
        (self.max_messages == 0 || messages < self.max_messages)
            && (self.max_bytes == 0 || bytes.saturating_add(add) <= self.max_bytes)
    }
}

impl NewStoredMessage {
    /// The bytes of content one queue entry of this message counts.
    pub fn entry_bytes(&self) -> u64 {
        self.body.data.len() as u64
    }

    /// Whether the message stored under this one's ID, of `sender` with
    /// `data`, is this message (see [`MessageStore::put_message`]).
    pub fn is_stored_as(&self, sender: &str, data: &str) -> bool {
        self.sender == sender && self.body.data == data
    }
}

/// The send reference of a peer domain's message: its MessageID and the
/// users it names, so that a message the peer sends again to the same
/// users is recognised, and the same message sent on to other users of
/// ours under its MessageID (one transaction per recipient, as the
/// reference implementation of SSP does) is not taken for a resend. The
/// users sorted and once each; past 256 bytes a digest of them.
pub fn recipients_ref(id: &str, recipients: &[String]) -> String {
    use blake2::Digest;
    let mut users: Vec<&str> = recipients.iter().map(String::as_str).collect();
    users.sort_unstable();
    users.dedup();
    let joined = users.join("\n");
    if joined.len() <= 256 {
        return format!("{id}\n{joined}");
    }
    let digest = blake2::Blake2s256::digest(joined.as_bytes());
    format!("{id}\n#{}", hex::encode(digest))
}

/// One queue entry with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: u64,
    pub id: String,
    pub recipient: String,
    pub target_client: Option<String>,
    pub sender: String,
    pub sender_name: Option<String>,
    pub delivery_report: bool,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub body: Arc<MessageBody>,
}

/// What `put_message` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; the seq of each recipient's entry, in `recipients` order;
    /// 0 for a recipient the message already waited for (a put adding
    /// recipients to a message stored before: see
    /// [`MessageStore::put_message`]).
    Stored(Vec<u64>),
    /// The sender already sent a message with this `client_ref` within the
    /// dedupe window: nothing stored, here is the MessageID it got.
    Duplicate(String),
    /// These recipients' queues are full (`NewStoredMessage::quota`):
    /// nothing stored, for anyone.
    OverQuota(Vec<String>),
    /// The SSP queues of these peers would pass `remote_max`: nothing
    /// stored, for anyone.
    PeerFull(Vec<String>),
}

/// The peers of `remote` whose queues cannot take this message's
/// transactions: `depth(peer)` waiting already, plus this message's.
pub fn full_peers(
    remote: &[NewSspItem],
    max: u64,
    mut depth: impl FnMut(&str) -> Result<u64, StoreError>,
) -> Result<Vec<String>, StoreError> {
    let mut peers: Vec<&str> = remote.iter().map(|i| i.peer.as_str()).collect();
    peers.sort_unstable();
    let mut full = Vec::new();
    for chunk in peers.chunk_by(|a, b| a == b) {
        let peer = chunk[0];
        if depth(peer)?.saturating_add(chunk.len() as u64) > max {
            full.push(peer.to_string());
        }
    }
    Ok(full)
}

/// The entry removed by `remove_message`, for the delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedMessage {
    pub seq: u64,
    pub id: String,
    pub recipient: String,
    pub sender: String,
    pub delivery_report: bool,
    pub content_type: String,
    pub size: u64,
}

#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Stores a message and its queue entries in one step, unless
    /// (sender, client_ref) was seen since `dedupe_since_ms`.
    ///
    /// A message stored under its ID already: when it is this message
    /// ([`NewStoredMessage::is_stored_as`]) and the put has a
    /// `client_ref` (a peer domain's message sent on to more of our users
    /// under one MessageID), queue entries are added to it for the
    /// recipients that have none for it (the others' seqs are 0; when all
    /// have one it is a `Duplicate`), the quota checked for those only;
    /// otherwise `Err(Conflict)`.
    async fn put_message(
        &self,
        msg: NewStoredMessage,
        dedupe_since_ms: u64,
    ) -> Result<PutOutcome, StoreError>;

    /// A user's entries with seq above `after_seq`, in seq order, at most
    /// `limit`.
    async fn pending_messages(
        &self,
        user: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// How many entries wait for a user.
    async fn pending_count(&self, user: &str) -> Result<u64, StoreError>;

    /// One waiting entry of a user, by MessageID.
    async fn pending_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<StoredMessage>, StoreError>;

    /// Removes a user's entry (delivered, rejected, forwarded, expired);
    /// `None` when there was none.
    async fn remove_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<RemovedMessage>, StoreError>;

    /// Removes many delivered entries (user, MessageID) at once, for the
    /// acknowledgements that the core batches; entries already gone are
    /// skipped. All or nothing: on `Err` none is removed (they will be
    /// offered again, under the same MessageID). A backend should do this
    /// in one transaction; this default removes them one by one.
    async fn remove_delivered(&self, entries: &[(String, String)]) -> Result<(), StoreError> {
        for (user, id) in entries {
            self.remove_message(user, id).await?;
        }
        Ok(())
    }

    /// Entries whose message expired at or before `now_ms`, oldest first.
    async fn expired_messages(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Forgets send references older than `before_ms`; returns how many.
    async fn prune_message_refs(&self, before_ms: u64) -> Result<u64, StoreError>;
}

/// The in-memory tables of this area.
#[derive(Default, Clone)]
pub(crate) struct MemMessages {
    next_seq: u64,
    /// MessageID -> (message meta, body); the recipients live in `queue`.
    pub(super) messages: HashMap<String, (NewStoredMessage, Arc<MessageBody>)>,
    /// seq -> (recipient, MessageID, target client).
    queue: BTreeMap<u64, (String, String, Option<String>)>,
    /// (sender, client_ref) -> (MessageID, created_ms).
    refs: HashMap<(String, String), (String, u64)>,
}

impl MemMessages {
    fn entry(&self, seq: u64) -> Option<StoredMessage> {
        let (rcpt, id, target) = self.queue.get(&seq)?;
        let (m, body) = self.messages.get(id)?;
        Some(StoredMessage {
            seq,
            id: id.clone(),
            recipient: rcpt.clone(),
            target_client: target.clone(),
            sender: m.sender.clone(),
            sender_name: m.sender_name.clone(),
            delivery_report: m.delivery_report,
            created_ms: m.created_ms,
            expires_ms: m.expires_ms,
            body: Arc::clone(body),
        })
    }

    fn find(&self, user: &str, id: &str) -> Option<u64> {
        self.queue
            .iter()
            .find(|(_, (r, i, _))| r == user && i == id)
            .map(|(s, _)| *s)
    }
}

#[async_trait]
impl MessageStore for MemStore {
    async fn put_message(
        &self,
        msg: NewStoredMessage,
        dedupe_since_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let mut g = self.im.lock();
        if let Some(r) = &msg.client_ref {
            let key = (msg.sender.clone(), r.clone());
            if let Some((id, at)) = g.refs.get(&key)
                && *at >= dedupe_since_ms
            {
                return Ok(PutOutcome::Duplicate(id.clone()));
            }
        }
        // Stored already: this message (the recipients with no entry for
        // it get one) or another under its ID.
        let mut fresh = vec![true; msg.recipients.len()];
        let existing = !msg.recipients.is_empty() && g.messages.contains_key(&msg.id);
        if existing {
            let same = msg.client_ref.is_some()
                && g.messages
                    .get(&msg.id)
                    .is_some_and(|(s, body)| msg.is_stored_as(&s.sender, &body.data));
            if !same {
                return Err(StoreError::Conflict(format!("message {} exists", msg.id)));
            }
            for (f, (rcpt, _)) in fresh.iter_mut().zip(&msg.recipients) {
                *f = g.find(rcpt, &msg.id).is_none();
            }
            if !fresh.contains(&true) {
                return Ok(PutOutcome::Duplicate(msg.id.clone()));
            }
        }
        if let Some(q) = msg.quota {
            let add = msg.entry_bytes();
            let over: Vec<String> = msg
                .recipients
                .iter()
                .zip(&fresh)
                .filter(|(_, f)| **f)
                .map(|(r, _)| r)
                .filter(|(rcpt, _)| {
                    let (n, bytes) = g.queue.values().filter(|(r, _, _)| r == rcpt).fold(
                        (0u64, 0u64),
                        |(n, b), (_, id, _)| {
                            let len = g.messages.get(id).map_or(0, |(_, body)| body.data.len());
                            (n + 1, b + len as u64)
                        },
                    );
                    !q.admits(n, bytes, add)
                })
                .map(|(r, _)| r.clone())
                .collect();
            if !over.is_empty() {
                return Ok(PutOutcome::OverQuota(over));
            }
        }
        // Locked after the messages, as nowhere the other way round.
        let mut ssp = self.ssp.lock();
        let full = full_peers(&msg.remote, msg.remote_max, |p| Ok(ssp.depth(p)))?;
        if !full.is_empty() {
            return Ok(PutOutcome::PeerFull(full));
        }
        if let Some(r) = &msg.client_ref {
            g.refs.insert(
                (msg.sender.clone(), r.clone()),
                (msg.id.clone(), msg.created_ms),
            );
        }
        for item in &msg.remote {
            ssp.push(item.clone());
        }
        if msg.recipients.is_empty() {
            return Ok(PutOutcome::Stored(Vec::new()));
        }
        let mut seqs = Vec::with_capacity(msg.recipients.len());
        for ((rcpt, target), f) in msg.recipients.iter().zip(&fresh) {
            if !f {
                seqs.push(0);
                continue;
            }
            g.next_seq += 1;
            let seq = g.next_seq;
            g.queue
                .insert(seq, (rcpt.clone(), msg.id.clone(), target.clone()));
            seqs.push(seq);
        }
        if existing {
            return Ok(PutOutcome::Stored(seqs));
        }
        let body = Arc::new(msg.body.clone());
        g.messages.insert(msg.id.clone(), (msg, body));
        Ok(PutOutcome::Stored(seqs))
    }

    async fn pending_messages(
        &self,
        user: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let g = self.im.lock();
        Ok(g.queue
            .range(after_seq.saturating_add(1)..)
            .filter(|(_, (r, _, _))| r == user)
            .take(limit)
            .filter_map(|(s, _)| g.entry(*s))
            .collect())
    }

    async fn pending_count(&self, user: &str) -> Result<u64, StoreError> {
        let g = self.im.lock();
        Ok(g.queue.values().filter(|(r, _, _)| r == user).count() as u64)
    }

    async fn pending_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let g = self.im.lock();
        Ok(g.find(user, id).and_then(|s| g.entry(s)))
    }

    async fn remove_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<RemovedMessage>, StoreError> {
        let mut g = self.im.lock();
        let Some(seq) = g.find(user, id) else {
            return Ok(None);
        };
        let Some(e) = g.entry(seq) else {
            return Ok(None);
        };
        g.queue.remove(&seq);
        if !g.queue.values().any(|(_, i, _)| i == id) {
            g.messages.remove(id);
        }
        Ok(Some(RemovedMessage {
            seq,
            id: e.id,
            recipient: e.recipient,
            sender: e.sender,
            delivery_report: e.delivery_report,
            content_type: e.body.content_type.clone(),
            size: e.body.size,
        }))
    }

    async fn expired_messages(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let g = self.im.lock();
        Ok(g.queue
            .keys()
            .filter_map(|s| g.entry(*s))
            .filter(|e| e.expires_ms.is_some_and(|x| x <= now_ms))
            .take(limit)
            .collect())
    }

    async fn prune_message_refs(&self, before_ms: u64) -> Result<u64, StoreError> {
        let mut g = self.im.lock();
        let n = g.refs.len();
        g.refs.retain(|_, (_, at)| *at >= before_ms);
        Ok((n - g.refs.len()) as u64)
    }
}
