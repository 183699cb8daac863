//! Federation over SSP (issue 17): the core's side of traffic with other
//! IMPS domains, independent of how it travels.
//!
//! The core never speaks HTTP. What goes to another domain is an SSP
//! primitive queued durably in the store ([`crate::store::SspStore`]):
//! putting it there is what lets the core answer its own client 200. The
//! binary's [`Federation`] port is told that something waits and carries
//! it (association, HTTP POST, retries); what arrives from a peer is
//! handed to [`crate::Service::ssp_inbound`] after the binary checked the
//! association it came through.
//!
//! Who may act: every user a peer names as acting (the MetaInfo user, a
//! message's sender) must be of the peer's domain (901 otherwise), and
//! every recipient must be ours (516: no relaying to a third domain).

use std::fmt::Debug;

use imps_wire::Element;
use imps_wire::ssp::{MetaInfo, Mode, SspStatus, SspTransaction, SspUser, service_id};
use imps_wire::ssp_im::{DeliveryStatusReport, SendMessageRequest, SendMessageResponse, refusal};

use crate::CoreError;
use crate::base::Base;
use crate::store::{NewSspItem, SspPut};

/// What the binary gives the core to reach other domains.
pub trait Federation: Send + Sync + Debug + 'static {
    /// Whether `domain` (lower case) is a peer we route to.
    fn is_peer(&self, domain: &str) -> bool;
    /// Most transactions waiting for one peer; past it a send is refused.
    fn queue_max(&self) -> u64;
    /// Something was queued for `domain`: send it soon. Must not block.
    fn queued(&self, domain: &str);
}

/// What became of a transaction from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SspOutcome {
    /// Taken (and its response, if any, queued).
    Done,
    /// Refused with this status (the refusal is queued for the peer).
    Refused(u16),
}

impl Base {
    /// Whether `domain` is served by a configured peer.
    pub(crate) fn is_peer_domain(&self, domain: &str) -> bool {
        self.cfg
            .federation
            .as_ref()
            .is_some_and(|f| f.is_peer(&domain.to_ascii_lowercase()))
    }

    /// Our own MetaInfo: the server acts (`user` None) or one of our
    /// users does.
    pub(crate) fn ssp_meta(&self, user: Option<&str>) -> MetaInfo {
        MetaInfo {
            client_originated: user.is_some(),
            service_id: service_id(&self.cfg.domain),
            user: user.map(|u| SspUser {
                user_id: crate::users::wire_user(u, &self.cfg.domain),
                friendly_name: None,
                client_id: None,
            }),
        }
    }

    /// Queues `primitive` for `peer` durably: a request (`tid` None) or
    /// the response to the peer's transaction `tid`.
    pub(crate) async fn queue_ssp(
        &self,
        peer: &str,
        tid: Option<&str>,
        primitive: &Element,
    ) -> Result<(), CoreError> {
        let peer = peer.to_ascii_lowercase();
        let Some(f) = self.cfg.federation.as_ref() else {
            return Err(CoreError::DomainNotSupported(peer));
        };
        let item = NewSspItem {
            peer: peer.clone(),
            response: tid.is_some(),
            transaction_id: tid.map(str::to_string),
            body: imps_wire::xml::encode(primitive),
            created_ms: self.now_ms(),
        };
        match self.store.put_ssp(item, f.queue_max()).await? {
            SspPut::Queued(_) => {
                f.queued(&peer);
                Ok(())
            }
            SspPut::Full => {
                tracing::warn!(peer = %peer, "SSP queue for the peer is full; refused");
                Err(CoreError::ImQueueFull(format!("wv:@{peer}")))
            }
        }
    }
}

impl crate::Service {
    /// One transaction from the server of `peer`, whose association the
    /// binary has checked. A request is carried out and its response (or
    /// refusal) queued for the peer; a response is taken note of. `Err`
    /// only when we could not take it at all (the store failed): the peer
    /// must send it again.
    pub async fn ssp_inbound(
        &self,
        peer: &str,
        tx: &SspTransaction,
    ) -> Result<SspOutcome, CoreError> {
        let peer = peer.to_ascii_lowercase();
        let base = &self.base;
        let p = &tx.primitive;
        if tx.mode == Mode::Response {
            ssp_response(&peer, p);
            return Ok(SspOutcome::Done);
        }
        let status = match p.name.as_str() {
            SendMessageRequest::NAME => match SendMessageRequest::from_element(p) {
                Ok(req) => {
                    let id = req.info.message_id.clone();
                    let status = self.im.ssp_send_message(&peer, req).await?;
                    let code = status.code;
                    let reply = SendMessageResponse {
                        message_id: id,
                        status,
                    }
                    .to_element();
                    base.queue_ssp(&peer, Some(&tx.transaction_id), &reply)
                        .await?;
                    return Ok(if code < 300 {
                        SspOutcome::Done
                    } else {
                        SspOutcome::Refused(code)
                    });
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            DeliveryStatusReport::NAME => match DeliveryStatusReport::from_element(p) {
                // A report needs no answer.
                Ok(r) => match self.im.ssp_delivery_report(&peer, r) {
                    Ok(()) => return Ok(SspOutcome::Done),
                    Err(e) => status_of(&e),
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            other => SspStatus {
                code: 405,
                description: Some(format!("{other} is not understood here")),
            },
        };
        tracing::info!(peer = %peer, primitive = %p.name.as_str(), code = status.code, "SSP request refused");
        let code = status.code;
        base.queue_ssp(&peer, Some(&tx.transaction_id), &refusal(p, status))
            .await?;
        Ok(SspOutcome::Refused(code))
    }
}

/// A response from a peer to something we sent. A message's success
/// needs nothing more (its sender was told "sent" when it was queued,
/// and its delivery report comes on its own); a failure is logged.
fn ssp_response(peer: &str, p: &Element) {
    match SendMessageResponse::from_element(p) {
        Ok(r) if r.status.code < 300 => {
            tracing::debug!(peer, message = %r.message_id, "peer took the message");
        }
        Ok(r) => tracing::warn!(
            peer, message = %r.message_id, code = r.status.code,
            description = ?r.status.description, "peer refused a message"
        ),
        Err(_) => tracing::debug!(peer, primitive = %p.name.as_str(), "SSP response noted"),
    }
}

/// The SSP Status of a core error.
pub(crate) fn status_of(e: &CoreError) -> SspStatus {
    SspStatus {
        code: e.status_code(),
        description: Some(e.description()),
    }
}

/// Checks that `meta` and every other acting user named belong to
/// `peer` (901 otherwise).
pub(crate) fn check_actor(peer: &str, meta: &MetaInfo, others: &[&str]) -> Result<(), CoreError> {
    let ok = meta.acts_for(peer)
        && others
            .iter()
            .all(|u| imps_wire::ssp::domain_of(u) == Some(peer));
    if ok {
        Ok(())
    } else {
        Err(CoreError::ForeignActor(peer.to_string()))
    }
}
