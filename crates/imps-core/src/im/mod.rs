//! Instant messaging (BASE-IM, IMR-*, GEN-5..10): send, push or notify/get
//! delivery, offline storage, delivery reports, content policies.
//!
//! The promise: a message answered 200 is in the store, and stays there
//! until a client of the recipient acknowledged it (MessageDelivered,
//! GetMessage), rejected it, forwarded it, or it expired. Everything in
//! memory (`state`) is a cache of the store that says what was offered to
//! which session; a restart or a dropped push only means the message is
//! offered again, never that it is lost.
//!
//! - `send`: SendMessage, ForwardMessage; recipient checks.
//! - `deliver`: offering to sessions, windows, refills, redelivery,
//!   the end of a message and its delivery report.
//! - `receive`: MessageDelivered, SetDeliveryMethod, GetMessageList,
//!   GetMessage, RejectMessage.
//! - `policy`: content types and sizes, capability elements.
//! - `message`: primitives in and out, per CSP version.
//! - `offline`: the offline-message notifier.
//! - `admit`: refusing sends past what can be delivered (overload).

mod admit;
mod deliver;
mod message;
mod offline;
mod order;
mod policy;
mod receive;
mod remote;
mod send;
mod state;

pub(crate) use message::date_time as ssp_date_time;
pub use offline::{LogNotifier, OfflineNotice, OfflineNotifier, OfflinePrompt};
pub use order::SendOrder;
pub(crate) use remote::{PreparedMessage, id_taken};
pub use state::ImFigures;
use state::ImState;

/// The key that makes notify/get references opaque: the IM setting, else
/// the server's secret, else a random one for this run.
pub(crate) fn notify_key(cfg: &crate::CoreConfig) -> [u8; 32] {
    cfg.im.notify_ref_key.or(cfg.secret_key).unwrap_or_else(|| {
        let mut k = [0u8; 32];
        // Without the OS RNG the reference is still opaque, only not
        // secret; log it and go on.
        if let Err(e) = getrandom::fill(&mut k) {
            tracing::warn!(error = %e, "no OS randomness for the notification key");
        }
        k
    })
}

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::base::Base;
use crate::lists::ListsService;
use crate::presence::PresenceService;
use crate::service::Outcome;
use crate::session::Session;

/// The IM area. It asks lists whether a recipient blocks the sender, and
/// presence whether the sender may know a recipient is online (PRI-1).
pub(crate) struct ImService {
    pub(crate) base: Arc<Base>,
    pub(crate) lists: Arc<ListsService>,
    pub(crate) presence: Arc<PresenceService>,
    /// Queues, acknowledgements and background deletes.
    state: Arc<ImState>,
    /// The MessageIDs this server gives out.
    message_ids: send::MessageIds,
}

impl ImService {
    pub(crate) fn new(
        base: Arc<Base>,
        lists: Arc<ListsService>,
        presence: Arc<PresenceService>,
    ) -> ImService {
        let state = Arc::new(ImState::new(
            notify_key(&base.cfg),
            base.cfg.im.known_users_max,
        ));
        ImService {
            base,
            lists,
            presence,
            state,
            message_ids: send::MessageIds::new(),
        }
    }

    /// Handles the requests of this area (`service::area_of` sends them).
    pub(crate) async fn handle_im(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        use PrimitiveKind as P;
        let body = &tx.body;
        Ok(match kind {
            P::ForwardMessageRequest => self.forward_message(s, tx).await?,
            P::MessageDelivered => self.message_delivered(s, body).await?,
            P::SetDeliveryMethodRequest => self.set_delivery_method(s, body).await?,
            P::GetMessageListRequest => self.get_message_list(s, body).await?,
            P::GetMessageRequest => self.get_message(s, body).await?,
            P::RejectMessageRequest => self.reject_message(s, body).await?,
            other => return Err(CoreError::NotImplemented(other.name().into())),
        })
    }

    /// Response-mode primitives of this area from the client: Android
    /// answers a NewMessage with MessageDelivered under the NewMessage's
    /// TransactionID. Nothing is sent back.
    pub(crate) async fn client_response_im(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        if kind != PrimitiveKind::MessageDelivered {
            return Ok(None);
        }
        if let Err(e) = self.message_delivered(s, &tx.body).await {
            // An acknowledgement for something already gone (another
            // session was first, or a repeat) needs no answer.
            tracing::debug!(session = %crate::ids::log_tag(&s.id), error = %e, "MessageDelivered not applied");
        }
        Ok(Some(Outcome::Nothing))
    }

    /// A session is ready: deliver what waits for its user (IMR-9), in
    /// store order.
    pub(crate) async fn im_session_ready(&self, s: &Arc<Session>) {
        self.im_ready(s).await;
    }

    /// A session ended: what it was offered and did not acknowledge stays
    /// in the store for the user's other or next sessions.
    pub(crate) async fn im_session_ended(&self, s: &Arc<Session>) {
        self.im().drop_session(&s.user, &s.id);
    }
}
