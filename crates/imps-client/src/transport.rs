//! The one thing a transport must do, so login and the other helpers are
//! written once for HTTP and WebSocket.

use std::future::Future;

use imps_wire::Message;

use crate::Result;

/// Carries one CSP message to the server and brings back its answer.
pub trait Transport: Send + Sync + 'static {
    /// Sends `msg`. `Ok(None)` means the server had nothing to say (an
    /// empty HTTP body; over WebSocket, anything that is not a request
    /// with a TransactionID, because no frame answers it).
    fn send(&self, msg: &Message) -> impl Future<Output = Result<Option<Message>>> + Send;
}
