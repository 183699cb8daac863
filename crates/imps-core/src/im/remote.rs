//! Instant messages between domains (issue 17): a message from one of our
//! users to a user of a peer domain leaves as an SSP SendMessageRequest;
//! one from a peer's user is stored here like any other, under the
//! MessageID its sender's server gave it; a delivery report for a sender
//! of another domain goes back as a DeliveryStatusReport.
//!
//! A user of another domain is held inside the core as `user@domain`
//! (a local ID never holds `@`), so stored messages, reports and the wire
//! form (`users::wire_user`) need no other change.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use imps_wire::Element;
use imps_wire::ssp::{SspStatus, domain_of};
use imps_wire::ssp_im::{DeliveryStatusReport, SendMessageRequest, SspMessageInfo};

use super::ImService;
use super::message::{DEFAULT_CONTENT_TYPE, date_time, delivery_report};
use std::sync::Arc;

use super::policy::check_content;
use super::send::{Outgoing, Sent, nobody_took};
use crate::federation::{check_actor, status_of};
use crate::store::{
    MessageBody, NewSspItem, NewStoredMessage, RecipientQuota, StoredMessage, recipients_ref,
};
use crate::users::{canonical_user, wire_user};
use crate::{CoreError, StoreError};

/// The longest MessageID taken from a peer (it becomes a store key).
const MAX_REMOTE_ID: usize = 128;

impl ImService {
    /// The SendMessageRequest for the recipients `to` (`wv:user@domain`,
    /// all of one peer domain), to be queued with the message
    /// (`NewStoredMessage::remote`).
    pub(crate) fn remote_item(
        &self,
        out: &Outgoing,
        id: &str,
        now: u64,
        to: &[String],
    ) -> Result<NewSspItem, CoreError> {
        let domain = &self.base.cfg.domain;
        let first = to.first().map(String::as_str).unwrap_or_default();
        let peer = domain_of(first).ok_or_else(|| CoreError::BadParameter(first.to_string()))?;
        let content = match out.body.encoding {
            Some(_) => {
                let compact: String = out
                    .body
                    .data
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                B64.decode(compact.as_bytes())
                    .map_err(|_| CoreError::BadParameter("content is not base64".into()))?
            }
            None => out.body.data.as_bytes().to_vec(),
        };
        let req = SendMessageRequest {
            delivery_report: out.delivery_report,
            meta: self.base.ssp_meta(Some(&out.sender)),
            info: SspMessageInfo {
                message_id: id.to_string(),
                content_type: Some(out.body.content_type.clone()),
                content_size: Some(out.body.size),
                recipients: to.to_vec(),
                sender: Some(wire_user(&out.sender, domain)),
                date_time: Some(date_time(now)),
            },
            content,
        };
        self.base.ssp_item(peer, None, &req.to_element())
    }

    /// A SendMessageRequest from the server of `peer`: checked, stored
    /// and offered to our recipients. The status is the answer for the
    /// peer; `Err` only when the store failed.
    pub(crate) async fn ssp_send_message(
        &self,
        peer: &str,
        req: SendMessageRequest,
    ) -> Result<SspStatus, CoreError> {
        let (out, rcpt) = match self.ssp_incoming(peer, req) {
            Ok(x) => x,
            Err(status) => return Ok(status),
        };
        let id = out.fixed_id.clone().unwrap_or_default();
        match self.deliver_new(out, &rcpt, &mut None).await {
            Ok(sent) => Ok(sent_status(&sent)),
            // Another message is stored under the peer's MessageID: as in
            // a POST's batch (`InboundTaken::IdTaken`), refused, not
            // retried for ever.
            Err(CoreError::Store(StoreError::Conflict(_))) => Ok(id_taken(peer, &id)),
            Err(CoreError::Store(e)) => Err(CoreError::Store(e)),
            Err(e) => Ok(status_of(&e)),
        }
    }

    /// The checks of a peer's SendMessageRequest that need no store, and
    /// the message as our own send path takes it; `Err` is the answer of
    /// one refused.
    fn ssp_incoming(
        &self,
        peer: &str,
        req: SendMessageRequest,
    ) -> Result<(Outgoing, Element), SspStatus> {
        let Some(actor) = req.meta.user.as_ref().map(|u| u.user_id.clone()) else {
            return Err(status_of(&CoreError::BadRequest(
                "SendMessageRequest without an acting user".into(),
            )));
        };
        let sender = req.info.sender.clone().unwrap_or_else(|| actor.clone());
        if let Err(e) = check_actor(peer, &req.meta, &[&sender]) {
            tracing::warn!(peer, actor = %actor, sender = %sender, "SSP message refused: acting user of another domain");
            return Err(status_of(&e));
        }
        let id = req.info.message_id.clone();
        if id.len() > MAX_REMOTE_ID || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(status_of(&CoreError::BadParameter(format!(
                "messageID {id:?}"
            ))));
        }
        let domain = &self.base.cfg.domain;
        let mut rcpt = Element::new("Recipient");
        for r in &req.info.recipients {
            // No relaying: every recipient is ours.
            if domain_of(r) != Some(domain.as_str()) {
                return Err(status_of(&CoreError::DomainNotSupported(
                    domain_of(r).unwrap_or_default().to_string(),
                )));
            }
            rcpt.children
                .push(Element::new("User").with_text("UserID", r.clone()));
        }
        let content_type = req
            .info
            .content_type
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
        let textual = content_type.to_ascii_lowercase().starts_with("text/");
        // The peer's ContentSize where a store can hold it: a number past
        // i64 would fail every store step, and the POST be sent again for
        // ever; the text's own length then.
        let claimed = req.info.content_size.filter(|&n| i64::try_from(n).is_ok());
        let body = match String::from_utf8(req.content) {
            // A NUL is no text a store keeps (PostgreSQL refuses it in a
            // TEXT column): such content goes as binary.
            Ok(text) if textual && !text.contains('\0') => MessageBody {
                size: claimed.unwrap_or_else(|| text.encode_utf16().count() as u64),
                content_type,
                encoding: None,
                name: None,
                font: None,
                data: text,
            },
            Ok(text) => binary_body(content_type, text.into_bytes()),
            Err(e) => binary_body(content_type, e.into_bytes()),
        };
        // A retried transaction is recognised by its MessageID and the
        // users it names; the same MessageID for other users of ours is
        // the same message for them too.
        let named: Vec<String> = req
            .info
            .recipients
            .iter()
            .map(|r| canonical_user(r, domain).unwrap_or_else(|_| r.to_ascii_lowercase()))
            .collect();
        let out = Outgoing {
            sender: strip_wv(&sender),
            body,
            delivery_report: req.delivery_report,
            client_ref: Some(recipients_ref(&id, &named)),
            validity_secs: None,
            fixed_id: Some(id),
        };
        Ok((out, rcpt))
    }

    /// A peer's SendMessageRequest checked and made ready to be stored
    /// with the other requests of its POST in one store transaction
    /// (`Service::ssp_inbound_post`): what [`ImService::ssp_send_message`]
    /// does up to the store. `Ok(None)` when it must take that path
    /// instead (a recipient of another domain, which the checks refuse
    /// before it could come here).
    pub(crate) async fn ssp_prepare_message(
        &self,
        peer: &str,
        req: SendMessageRequest,
    ) -> Result<Option<PreparedMessage>, CoreError> {
        let message_id = req.info.message_id.clone();
        let answer = |status| PreparedMessage {
            message_id: message_id.clone(),
            status,
            stored: None,
        };
        let (out, rcpt) = match self.ssp_incoming(peer, req) {
            Ok(x) => x,
            Err(status) => return Ok(Some(answer(status))),
        };
        // As `deliver_new` up to the put, for a message with neither
        // recipients elsewhere nor an early push (it has a fixed ID).
        let cfg = &self.base.cfg.im;
        let stop = |e: CoreError| match e {
            CoreError::Store(e) => Err(CoreError::Store(e)),
            e => Ok(Some(answer(status_of(&e)))),
        };
        if let Err(e) = check_content(cfg, &out.body) {
            return stop(e);
        }
        let (accepted, refused, remote) = match self.resolve_recipients(&out, &rcpt).await {
            Ok(r) => r,
            Err(e) => return stop(e),
        };
        if !remote.is_empty() {
            return Ok(None);
        }
        if accepted.is_empty() {
            return match nobody_took(refused, false) {
                Ok(sent) => Ok(Some(answer(sent_status(&sent)))),
                Err(e) => stop(e),
            };
        }
        let sender_name = match self.sender_name(&out.sender).await {
            Ok(n) => n,
            Err(e) => return stop(e),
        };
        let now = self.base.now_ms();
        let expires_ms = match cfg.max_validity_secs {
            0 => None,
            max => Some(now.saturating_add(max.saturating_mul(1000))),
        };
        let quota = (cfg.offline_quota_messages > 0 || cfg.offline_quota_bytes > 0).then_some(
            RecipientQuota {
                max_messages: cfg.offline_quota_messages,
                max_bytes: cfg.offline_quota_bytes,
            },
        );
        let status = sent_status(&Sent {
            id: Some(message_id.clone()),
            refused,
            charged: false,
        });
        Ok(Some(PreparedMessage {
            message_id: message_id.clone(),
            status,
            stored: Some(NewStoredMessage {
                id: message_id,
                sender: out.sender,
                sender_name,
                delivery_report: out.delivery_report,
                created_ms: now,
                expires_ms,
                body: out.body,
                recipients: accepted,
                client_ref: out.client_ref,
                quota,
                remote: Vec::new(),
                remote_max: 0,
            }),
        }))
    }

    /// A DeliveryStatusReport from the server of `peer` for one of our
    /// users: shown to them as a DeliveryReport-Request naming the
    /// MessageID they were given.
    pub(crate) fn ssp_delivery_report(
        &self,
        peer: &str,
        r: DeliveryStatusReport,
    ) -> Result<(), CoreError> {
        let recipient = r.info.recipients.first().cloned().unwrap_or_default();
        check_actor(peer, &r.meta, &[&recipient])?;
        let domain = &self.base.cfg.domain;
        let sender = r
            .info
            .sender
            .as_deref()
            .ok_or_else(|| CoreError::BadRequest("DeliveryStatusReport without Sender".into()))
            .and_then(|s| canonical_user(s, domain))?;
        let report = delivery_report(
            r.result.code,
            r.result.description.as_deref().unwrap_or(""),
            &r.info.message_id,
            &strip_wv(&recipient),
            self.base.now_ms(),
            domain,
        );
        // Like a local report: to the sender's live sessions, not stored.
        self.base.router.to_user(&sender, report);
        Ok(())
    }

    /// Sends a delivery report to a message's sender: through the router
    /// for one of ours, as a DeliveryStatusReport for a user of a peer.
    pub(crate) async fn report_to_sender(
        &self,
        sender: &str,
        code: u16,
        description: &str,
        id: &str,
        recipient: &str,
    ) {
        let domain = &self.base.cfg.domain;
        let now = self.base.now_ms();
        let Some((_, peer)) = sender.rsplit_once('@') else {
            let report = delivery_report(code, description, id, recipient, now, domain);
            self.base.router.to_user(sender, report);
            return;
        };
        let r = DeliveryStatusReport {
            meta: self.base.ssp_meta(None),
            result: SspStatus {
                code,
                description: Some(description.to_string()).filter(|d| !d.is_empty()),
                details: Vec::new(),
            },
            delivery_time: Some(date_time(now)),
            info: SspMessageInfo {
                message_id: id.to_string(),
                content_type: None,
                content_size: None,
                recipients: vec![wire_user(recipient, domain)],
                sender: Some(wire_user(sender, domain)),
                date_time: None,
            },
        };
        if let Err(e) = self.base.queue_ssp(peer, None, &r.to_element()).await {
            tracing::warn!(peer, message = id, error = %e, "delivery report for another domain not queued");
        }
    }
}

/// A peer's message ready for the store ([`ImService::ssp_prepare_message`]).
pub(crate) struct PreparedMessage {
    pub message_id: String,
    /// The answer for the peer once `stored` is (or when it is `None`).
    pub status: SspStatus,
    /// What to store; `None` when refused before anything is stored.
    pub stored: Option<NewStoredMessage>,
}

impl PreparedMessage {
    /// The queue entries of `stored`, stored with these seqs (one per
    /// recipient, in order), to hand to the recipients' queues.
    pub(crate) fn entries(m: NewStoredMessage, seqs: Vec<u64>) -> Vec<StoredMessage> {
        let body = Arc::new(m.body);
        m.recipients
            .iter()
            .zip(seqs)
            // 0: the message waited for them already (`PutOutcome::Stored`).
            .filter(|(_, seq)| *seq != 0)
            .map(|((recipient, target_client), seq)| StoredMessage {
                seq,
                id: m.id.clone(),
                recipient: recipient.clone(),
                target_client: target_client.clone(),
                sender: m.sender.clone(),
                sender_name: m.sender_name.clone(),
                delivery_report: m.delivery_report,
                created_ms: m.created_ms,
                expires_ms: m.expires_ms,
                body: Arc::clone(&body),
            })
            .collect()
    }
}

/// The answer for the peer of what our send path did with its message.
fn sent_status(sent: &Sent) -> SspStatus {
    match (sent.id.is_some(), sent.refused.first()) {
        (true, None) => SspStatus::ok(),
        (true, Some(_)) => SspStatus {
            code: 201,
            description: Some("Partially successful".into()),
            details: Vec::new(),
        },
        (false, Some(f)) => status_of(&f.err),
        (false, None) => SspStatus {
            code: 900,
            description: Some("No recipient accepted the message".into()),
            details: Vec::new(),
        },
    }
}

/// The refusal (426) of a peer's message whose MessageID names another
/// message stored here, logged.
pub(crate) fn id_taken(peer: &str, id: &str) -> SspStatus {
    tracing::warn!(peer, message_id = %id, "SSP message refused: another message is stored under its MessageID");
    status_of(&CoreError::ImUnknownMessage(format!(
        "MessageID {id} names another message here"
    )))
}

fn binary_body(content_type: String, bytes: Vec<u8>) -> MessageBody {
    MessageBody {
        content_type,
        encoding: Some("BASE64".into()),
        size: bytes.len() as u64,
        name: None,
        font: None,
        data: B64.encode(bytes),
    }
}

/// `wv:alice@a.example` → `alice@a.example`, the core's form of a user of
/// another domain.
fn strip_wv(id: &str) -> String {
    id.strip_prefix("wv:").unwrap_or(id).to_string()
}
