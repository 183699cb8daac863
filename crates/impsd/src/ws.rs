//! WebSocket carrying CSP both ways: text frames are XML, binary frames
//! WBXML. Requests get their answers on the socket; once the socket has
//! shown a live session, that session's server-originated transactions
//! are pushed on it as they are queued.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use imps_core::{RequestCtx, Session};
use imps_wire::{Element, Encoding, Message};

use crate::http::{AppState, asserted_msisdn};
use crate::metrics::Metrics;

pub async fn upgrade(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let ctx = RequestCtx {
        peer: Some(peer),
        msisdn: asserted_msisdn(&st, peer, &headers),
    };
    let max = st.limits.max_size;
    ws.max_message_size(max)
        .on_upgrade(move |socket| serve(st, ctx, socket))
}

async fn serve(st: Arc<AppState>, ctx: RequestCtx, mut socket: WebSocket) {
    Metrics::inc(&st.metrics.ws_connections);
    let mut bound: Option<Arc<Session>> = None;
    let mut enc = Encoding::Xml;
    let mut wake: Option<tokio::sync::watch::Receiver<u64>> = None;
    loop {
        // Deliver everything waiting before blocking again.
        if let Some(s) = &bound {
            if s.is_ended() {
                break;
            }
            while let Some(m) = st.service.next_push(s).await {
                if send(&mut socket, &m, enc).await.is_err() {
                    return;
                }
            }
        }
        let frame = tokio::select! {
            f = socket.recv() => f,
            changed = async {
                match wake.as_mut() {
                    Some(w) => w.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed { break; }
                continue;
            }
        };
        let (bytes, frame_enc) = match frame {
            Some(Ok(WsMessage::Text(t))) => (t.as_bytes().to_vec(), Encoding::Xml),
            Some(Ok(WsMessage::Binary(b))) => (b.to_vec(), Encoding::Wbxml),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
        };
        enc = frame_enc;
        let msg = match imps_wire::decode(&bytes, enc, &st.limits) {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(error = %e, "undecodable WebSocket frame; closing");
                Metrics::inc(&st.metrics.http_bad_requests);
                break;
            }
        };
        Metrics::inc(&st.metrics.csp_transactions);
        let sid = msg.session_id.clone();
        let reply = st.service.handle(&ctx, msg).await;
        // Bind to the session the client uses, or the one it just got.
        let new_sid = sid.or_else(|| reply.as_ref().and_then(login_session_id));
        if let Some(id) = new_sid {
            if bound.as_ref().map(|b| b.id != id).unwrap_or(true) {
                if let Some(s) = st.service.sessions().get(&id) {
                    wake = Some(s.subscribe());
                    bound = Some(s);
                }
            }
        }
        if let Some(r) = reply {
            if send(&mut socket, &r, enc).await.is_err() {
                return;
            }
        }
    }
    let _ = socket.send(WsMessage::Close(None)).await;
}

fn login_session_id(m: &Message) -> Option<String> {
    let body: &Element = &m.transactions.first()?.body;
    (body.name == "Login-Response")
        .then(|| body.child_text("SessionID").map(str::to_string))
        .flatten()
}

async fn send(socket: &mut WebSocket, m: &Message, enc: Encoding) -> Result<(), ()> {
    let bytes =
        imps_wire::encode(m, enc).map_err(|e| tracing::error!(error = %e, "encode failed"))?;
    let frame = match enc {
        Encoding::Xml => match String::from_utf8(bytes) {
            Ok(s) => WsMessage::Text(s.into()),
            Err(_) => return Err(()),
        },
        Encoding::Wbxml => WsMessage::Binary(bytes.into()),
    };
    socket.send(frame).await.map_err(|_| ())
}
