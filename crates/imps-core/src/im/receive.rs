//! The recipient's side: acknowledging (MessageDelivered), notify/get
//! (SetDeliveryMethod, GetMessageList, GetMessage) and refusing
//! (RejectMessage).

use super::ImService;
use std::sync::Arc;

use imps_wire::Element;
use imps_wire::csp::{
    GetMessageListResponse, GetMessageRequest, GetMessageResponse, MessageDelivered,
};

use super::deliver::{Ack, Fate, targets};
use super::message::{message_info, new_message};
use super::state::FETCHED_MEMORY;
use crate::CoreError;
use crate::reply::{ok_status, result};
use crate::service::Outcome;
use crate::session::{Capabilities, Session};

impl ImService {
    /// MessageDelivered: the client has the message; its entry ends (first
    /// acknowledgement wins for a user with several sessions). As a
    /// Response (Android) it gets no answer; as a Request, Status 200, or
    /// 426 for an ID that is not waiting for this user (unless this
    /// session fetched it with GetMessage and so may repeat its
    /// acknowledgement).
    pub(crate) async fn message_delivered(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Outcome, CoreError> {
        let req = MessageDelivered::from_element(body, s.version).map_err(bad_request)?;
        let id = non_empty_id(&req.message_id, "MessageDelivered")?;
        let delivered = match self.acknowledge(&s.user, id).await {
            Ack::Done => true,
            Ack::Already => false,
            Ack::NotHeld => self
                .finish_message(&s.user, id, Fate::Delivered)
                .await?
                .is_some(),
        };
        if delivered {
            return Ok(Outcome::Reply(ok_status()));
        }
        let fetched = self
            .im()
            .with_user(&s.user, |q| {
                q.session_mut(&s.id)
                    .is_some_and(|sq| sq.fetched.iter().flat_map(|f| f.iter()).any(|f| f == id))
            })
            .unwrap_or(false);
        if fetched {
            Ok(Outcome::Reply(ok_status()))
        } else {
            Err(CoreError::ImUnknownMessage(id.to_string()))
        }
    }

    /// SetDeliveryMethod: `P` push or `N` notify/get for this session.
    /// What was offered in the old mode is offered again in the new one.
    pub(crate) async fn set_delivery_method(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Outcome, CoreError> {
        if body.child("GroupID").is_some() {
            return Err(CoreError::NotImplemented(
                "delivery method of a group".into(),
            ));
        }
        let method = body
            .child_text("DeliveryMethod")
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| {
                CoreError::BadRequest("SetDeliveryMethod without DeliveryMethod".into())
            })?;
        let notify = match method.as_str() {
            "N" => true,
            "P" => false,
            other => return Err(CoreError::BadParameter(format!("DeliveryMethod {other}"))),
        };
        s.with_state(|st| {
            st.caps
                .get_or_insert_with(Capabilities::default)
                .delivery_method = Some(method.as_str().into());
        });
        let st = self.im();
        st.with_user(&s.user, |q| {
            if let Some(sq) = q.session_mut(&s.id) {
                sq.notify = notify;
                sq.offered.clear();
                sq.cursor = 0;
            }
            self.pump(&st, q);
        });
        // Kept with the session, so a restart does not turn it back into
        // a push session.
        self.base.resave_session(s).await;
        Ok(Outcome::Reply(ok_status()))
    }

    /// GetMessageList: MessageInfo of the messages waiting for this
    /// session, oldest first, at most MessageCount (and our batch limit).
    /// 1.3 wraps them in MessageInfoList and adds MessageTotalCount.
    pub(crate) async fn get_message_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Outcome, CoreError> {
        if body.child("GroupID").is_some() {
            return Err(CoreError::NotImplemented("group message history".into()));
        }
        let max = self.base.cfg.im.max_list_batch.max(1);
        let want = body
            .child_u64("MessageCount")
            .map_or(max, |n| usize::try_from(n).unwrap_or(max).min(max));
        // Messages acknowledged a moment ago may still be in the store:
        // let their deletes commit first (briefly; past the limit they
        // are left out of the list, and the total may still count them).
        let st = self.im();
        st.user_deletes_settled(&s.user, std::time::Duration::from_secs(2))
            .await;
        let rows = self.base.store.pending_messages(&s.user, 0, max).await?;
        let total = self.base.store.pending_count(&s.user).await?;
        let infos = rows
            .iter()
            .filter(|m| targets(m, s) && !st.is_acknowledged(&s.user, &m.id))
            .take(want)
            .map(|m| message_info(m, &self.base.cfg.domain))
            .collect();
        // MessageTotalCount is 1.3; the typed message leaves it out before.
        let resp = GetMessageListResponse {
            messages: infos,
            message_total_count: Some(total),
            other: Vec::new(),
        };
        Ok(Outcome::Reply(resp.to_element(s.version)))
    }

    /// GetMessage: one waiting message with its content. Handing it over
    /// does not end the message's life: an answer lost on the way must
    /// not lose the message (issue 14). MessageDelivered, RejectMessage
    /// or expiry ends it; until then GetMessageList lists it and
    /// GetMessage returns it again, to this session or another. Once it
    /// is acknowledged, GetMessage answers 426, also while the store
    /// delete is still running in the background.
    pub(crate) async fn get_message(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Outcome, CoreError> {
        let req = GetMessageRequest::from_element(body, s.version).map_err(bad_request)?;
        let id = non_empty_id(&req.message_id, "GetMessage-Request")?;
        let st = self.im();
        if st.is_acknowledged(&s.user, id) {
            return Err(CoreError::ImUnknownMessage(id.to_string()));
        }
        let m = self
            .base
            .store
            .pending_message(&s.user, id)
            .await?
            .filter(|m| targets(m, s))
            .ok_or_else(|| CoreError::ImUnknownMessage(id.to_string()))?;
        // An acknowledgement may have come in while the store was read.
        if st.is_acknowledged(&s.user, id) {
            return Err(CoreError::ImUnknownMessage(id.to_string()));
        }
        let msg = new_message(&m, &self.base.cfg.domain);
        let resp = GetMessageResponse {
            message_info: msg.message_info,
            content_data: msg.content_data,
            other: msg.other,
        }
        .to_element(s.version);
        st.with_user(&s.user, |q| {
            if let Some(sq) = q.session_mut(&s.id)
                && !sq.fetched.iter().flat_map(|f| f.iter()).any(|f| f == id)
            {
                let fetched = sq.fetched.get_or_insert_default();
                if fetched.len() >= FETCHED_MEMORY {
                    fetched.pop_front();
                }
                fetched.push_back(id.to_string());
            }
        });
        Ok(Outcome::Reply(resp))
    }

    /// RejectMessage: the recipient refuses these messages; their senders
    /// hear 538. Unknown IDs: 426 when all are, else 201 with details.
    pub(crate) async fn reject_message(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Outcome, CoreError> {
        let ids: Vec<String> = body
            .children_named("MessageID")
            .map(|e| e.text.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect();
        if ids.is_empty() {
            return Err(CoreError::BadRequest(
                "RejectMessage-Request without MessageID".into(),
            ));
        }
        let mut unknown = Vec::new();
        for id in &ids {
            // Pushed before it was stored (`im.ack_window_ms`): it ends
            // without ever being written.
            if self.end_early(&s.user, id) {
                continue;
            }
            let mine = self
                .base
                .store
                .pending_message(&s.user, id)
                .await?
                .is_some_and(|m| targets(&m, s));
            if !mine
                || self
                    .finish_message(&s.user, id, Fate::Rejected)
                    .await?
                    .is_none()
            {
                unknown.push(id.clone());
            }
        }
        if unknown.is_empty() {
            return Ok(Outcome::Reply(ok_status()));
        }
        if unknown.len() == ids.len() && ids.len() == 1 {
            return Err(CoreError::ImUnknownMessage(ids[0].clone()));
        }
        let code = if unknown.len() == ids.len() { 426 } else { 201 };
        let detail = unknown.iter().fold(
            Element::new("DetailedResult")
                .with_text("Code", "426")
                .with_text("Description", "Invalid message ID"),
            |d, id| d.with_text("MessageID", id.clone()),
        );
        let desc = if code == 426 {
            "Invalid message ID"
        } else {
            "Partially successful"
        };
        Ok(Outcome::Reply(crate::reply::status_with(
            result(code, desc).with(detail),
        )))
    }
}

/// A request the typed reader refuses (a MessageID holding elements, or
/// none) is a bad request: 400.
fn bad_request(e: imps_wire::WireError) -> CoreError {
    CoreError::BadRequest(e.to_string())
}

/// The MessageID as sent, without surrounding blanks; 400 when empty.
fn non_empty_id<'a>(id: &'a str, primitive: &str) -> Result<&'a str, CoreError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(CoreError::BadRequest(format!(
            "{primitive} without MessageID"
        )));
    }
    Ok(id)
}
