//! WebSocket carrying CSP both ways: text frames are XML, binary frames
//! WBXML. Requests get their answers on the socket; once the socket has
//! shown a live session, that session's server-originated transactions
//! are pushed on it as they are queued.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imps_core::{Answer, RequestCtx, Session};
use imps_wire::{Element, Encoding, Message};

use crate::http::{AppState, asserted_msisdn};
use crate::metrics::Metrics;
use crate::websocket::{CloseFrame, WsConfig, WsConn, WsError, WsMessage};

pub async fn upgrade(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: axum::extract::Request,
) -> Response {
    let headers = req.headers();
    if !crate::web::same_origin(headers) {
        tracing::info!("WebSocket upgrade from another origin refused");
        return StatusCode::FORBIDDEN.into_response();
    }
    let accept = match handshake(headers) {
        Ok(a) => a,
        Err(why) => {
            tracing::debug!(why, "WebSocket upgrade refused");
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    if req
        .extensions()
        .get::<hyper::upgrade::OnUpgrade>()
        .is_none()
    {
        return (StatusCode::UPGRADE_REQUIRED, "connection not upgradable").into_response();
    }
    let ctx = RequestCtx {
        peer: Some(peer),
        msisdn: asserted_msisdn(&st, peer, headers),
        // Several sends of the socket at once (issue 19).
        send_order: (st.ws_concurrent_sends > 1).then(Default::default),
    };
    // Small reads and no buffer kept while idle (issue 19, memory per
    // idle session): see `crate::websocket`.
    let (read_chunk, write_batch) = st.ws_buffers;
    let cfg = WsConfig {
        max_message: st.limits.max_size,
        read_chunk,
        write_batch,
    };
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on.await {
            Ok(up) => serve(st, ctx, WsConn::new(up, cfg)).await,
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).unwrap_or(HeaderValue::from_static("")),
            ),
        ],
    )
        .into_response()
}

/// Checks an HTTP/1.1 upgrade request (RFC 6455, section 4.2.1) and
/// gives the accept key to answer it with.
fn handshake(headers: &HeaderMap) -> Result<String, &'static str> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err("Connection header did not include 'upgrade'");
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err("Upgrade header did not include 'websocket'");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err("Sec-WebSocket-Version header did not say 13");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("Sec-WebSocket-Key header missing")?;
    Ok(crate::websocket::accept_key(key.as_bytes()))
}

/// How many WebSockets carry a session now. A socket stops counting
/// after its last frame (a Disconnect, the close frame) was written, so a
/// draining node waits for this to reach 0 before it exits. (The admin's
/// cut of a session's sockets goes through the session itself,
/// [`Session::cut_connections`]: a socket waits on no cut of its own.)
#[derive(Default)]
pub struct Carrying {
    sockets: AtomicUsize,
}

impl Carrying {
    /// WebSockets carrying a session now.
    pub fn open_sessions(&self) -> usize {
        self.sockets.load(Ordering::SeqCst)
    }
}

/// The session a socket carries, counted while it does, with the cuts of
/// it the socket saw when it took it (issue 19: a watch per socket, its
/// map entry and its wait cost every connection some 230 bytes).
struct Carry {
    count: Arc<Carrying>,
    held: Option<(Arc<Session>, u32)>,
}

impl Carry {
    fn bind(&mut self, s: &Arc<Session>) {
        match self.held.take() {
            Some((old, _)) => old.uncarry(),
            None => {
                self.count.sockets.fetch_add(1, Ordering::SeqCst);
            }
        }
        // Read before counting: a cut that sees this socket counted is
        // one it has not seen.
        let seen = s.cuts();
        s.carry();
        self.held = Some((s.clone(), seen));
    }

    /// The administrator cut the carried session since it was taken.
    fn is_cut(&self) -> bool {
        self.held
            .as_ref()
            .is_some_and(|(s, seen)| s.cuts() != *seen)
    }
}

impl Drop for Carry {
    fn drop(&mut self) {
        if let Some((s, _)) = self.held.take() {
            s.uncarry();
            self.count.sockets.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The idle timeout of a socket without a session. The timer is boxed
/// and dropped once the socket carries a session, so a bound socket's
/// task holds no room for it (issue 19).
async fn idle(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

/// WebSocket close code 1001, "going away" (RFC 6455): the server stops.
const CLOSE_GOING_AWAY: u16 = 1001;

/// WebSocket close code 1009, "message too big" (RFC 6455): a frame or
/// message over `limits.max_body_bytes`, refused from its header on.
const CLOSE_TOO_BIG: u16 = 1009;

/// What one frame from the client turned out to be.
enum Incoming {
    /// A decoded message, its encoding and the frame's size in bytes.
    Csp(Message, Encoding, usize),
    /// Ping, pong: nothing to do.
    Nothing,
    /// Closed, failed or undecodable: the connection ends.
    End,
    /// Larger than the limit: the connection ends with close code 1009.
    TooBig,
}

fn incoming(st: &AppState, frame: Option<Result<WsMessage, WsError>>) -> Incoming {
    // Decoded straight from the frame's buffer.
    let (decoded, enc, size) = match &frame {
        Some(Ok(WsMessage::Text(t))) => (
            imps_wire::decode(t, Encoding::Xml, &st.limits),
            Encoding::Xml,
            t.len(),
        ),
        Some(Ok(WsMessage::Binary(b))) => (
            imps_wire::decode(b, Encoding::Wbxml, &st.limits),
            Encoding::Wbxml,
            b.len(),
        ),
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => return Incoming::Nothing,
        Some(Err(WsError::TooBig(_))) => {
            tracing::info!(
                limit = st.limits.max_size,
                "WebSocket frame over the size limit; closing"
            );
            Metrics::inc(&st.metrics.http_bad_requests);
            return Incoming::TooBig;
        }
        Some(Err(e)) => {
            tracing::info!(error = %e, "WebSocket frame refused or read failed; closing");
            return Incoming::End;
        }
        Some(Ok(WsMessage::Close(_))) | None => return Incoming::End,
    };
    match decoded {
        Ok(m) => {
            Metrics::inc(&st.metrics.csp_transactions);
            Incoming::Csp(m, enc, size)
        }
        Err(e) => {
            tracing::info!(error = %e, "undecodable WebSocket frame; closing");
            Metrics::inc(&st.metrics.http_bad_requests);
            Incoming::End
        }
    }
}

/// Bytes of a frame's payload.
fn frame_len(frame: &Option<Result<WsMessage, WsError>>) -> usize {
    match frame {
        Some(Ok(WsMessage::Text(t))) => t.len(),
        Some(Ok(WsMessage::Binary(b))) => b.len(),
        _ => 0,
    }
}

/// Issue 19, overload: a WBXML send the server refuses now, refused from
/// its envelope alone (`imps_wire::wbxml::envelope`) without decoding the
/// whole request, when the gauges refuse sends or the socket is `full`.
/// The answer is what [`Service::refuse_if_overloaded`] or
/// [`Service::refuse_busy`] would give after a full decode. `None`:
/// decode the frame as usual (XML, another primitive, an envelope the
/// quick read leaves to the decoder, or nothing refused now).
fn refuse_unread(
    st: &AppState,
    bound: Option<&Arc<Session>>,
    frame: &Option<Result<WsMessage, WsError>>,
    full: bool,
    held: usize,
) -> Option<Answer> {
    let s = bound?;
    let Some(Ok(WsMessage::Binary(bytes))) = frame else {
        return None;
    };
    if !full && !st.service.refusing_sends() {
        return None;
    }
    let env = imps_wire::wbxml::envelope(bytes, &st.limits)?;
    let r = st.service.refuse_envelope(s, &env, full, held)?;
    Metrics::inc(&st.metrics.csp_transactions);
    if full {
        Metrics::inc(&st.metrics.ws_busy_refusals);
    }
    Some(r)
}

/// Whether a message only answers transactions the server pushed
/// (MessageDelivered or Status in Response mode). Such answers are
/// handled at once, even while one of the client's own requests is
/// still running: they do not depend on it, and the server's delivery
/// window waits for them.
/// A client's answer to a push, handled beside the request in hand.
type Answering<'a> = Pin<Box<dyn Future<Output = Option<Message>> + Send + 'a>>;

fn is_answer(m: &Message) -> bool {
    !m.transactions.is_empty()
        && m.transactions
            .iter()
            .all(|t| t.mode == imps_wire::TransactionMode::Response)
}

/// What a WebSocket connection keeps from one turn to the next. The
/// connection's task holds this and the wait for what comes next; each
/// turn (a request handled, pushes written) runs boxed, made when it
/// starts, so that an idle connection's task is not as large as its
/// largest turn (issue 19, memory per connected session).
struct Conn {
    socket: WsConn,
    bound: Option<Arc<Session>>,
    enc: Encoding,
    wake: Option<imps_core::session::Wake>,
    /// Requests read while another was handled, in arrival order: a
    /// client's own requests are handled one at a time, in order (its
    /// messages keep their order), but its answers to pushes are not
    /// held up behind them.
    held: Held,
    held_bytes: usize,
    closing: bool,
    too_big: bool,
    /// The last turn only took an answer to a push (nothing to flush).
    answered: bool,
    cut: Carry,
    /// The idle timer of a socket that carries no session yet.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What a turn starts from.
enum Event {
    /// A frame read, or the end of the stream.
    Frame(Option<Result<WsMessage, WsError>>),
    /// The next request read ahead, if any (else the socket closes).
    Held,
}

/// How a turn leaves the connection.
enum After {
    Go,
    /// Closed with a close frame.
    Close,
    /// The socket failed: left without one.
    Drop,
}

async fn serve(st: Arc<AppState>, ctx: RequestCtx, socket: WsConn) {
    Metrics::inc(&st.metrics.ws_connections);
    let mut c = Conn {
        socket,
        bound: None,
        enc: Encoding::Xml,
        wake: None,
        held: Default::default(),
        held_bytes: 0,
        closing: false,
        too_big: false,
        answered: false,
        cut: Carry {
            count: st.ws_carrying.clone(),
            held: None,
        },
        idle: None,
    };
    let after = loop {
        // Deliver everything waiting before blocking again. Frames are
        // queued and written together: one flush (one write, mostly) for
        // a reply and the pushes that came with it.
        if c.bound.as_ref().is_some_and(|s| s.is_ended()) {
            break After::Close;
        }
        // A cut wakes the session's channels; its sockets close here.
        if c.cut.is_cut() {
            tracing::info!("WebSocket cut by the administrator");
            break After::Close;
        }
        // After an answer taken on the spot nothing was written, and
        // anything queued since the last drain shows as a wake-up.
        if !std::mem::take(&mut c.answered)
            && Box::pin(push_out(&st, c.bound.as_ref(), &mut c.socket, c.enc))
                .await
                .is_err()
        {
            break After::Drop;
        }
        let ev = if !c.held.is_empty() || c.closing {
            Event::Held
        } else {
            // Until it carries a session, a socket silent for the idle
            // timeout is closed (the timeout starts again with each
            // wait); once it does, the session's keep-alive rules it (it
            // closes when the session ends).
            if c.bound.is_some() {
                c.idle = None;
            } else {
                let deadline = tokio::time::Instant::now() + st.idle_timeout;
                match c.idle.as_mut() {
                    Some(t) => t.as_mut().reset(deadline),
                    None => c.idle = Some(Box::pin(tokio::time::sleep_until(deadline))),
                }
            }
            tokio::select! {
                f = c.socket.recv() => Event::Frame(f),
                () = changed(&mut c.wake) => continue,
                () = idle(&mut c.idle) => {
                    tracing::debug!("WebSocket without a session idle; closing");
                    break After::Close;
                }
            }
        };
        match Box::pin(turn(&st, &ctx, &mut c, ev)).await {
            After::Go => {}
            after => break after,
        }
    };
    if let After::Close = after {
        Box::pin(goodbye(&st, &mut c.socket, c.too_big)).await;
    }
}

/// One turn of a connection: a frame or a request read ahead handled,
/// with the pushes and answers to pushes that come meanwhile.
async fn turn(st: &AppState, ctx: &RequestCtx, c: &mut Conn, ev: Event) -> After {
    let Conn {
        socket,
        bound,
        enc,
        wake,
        held,
        held_bytes,
        closing,
        too_big,
        answered,
        cut,
        idle: _,
    } = c;
    let (msg, frame_enc) = match ev {
        Event::Held => match held.pop_front() {
            Some((m, e, size)) => {
                *held_bytes -= size;
                (m, e)
            }
            None => return After::Close,
        },
        Event::Frame(frame) => {
            if let Some(r) = refuse_unread(st, bound.as_ref(), &frame, false, 0) {
                *enc = Encoding::Wbxml;
                if within(st, send_answer(socket, &r, *enc)).await.is_err() {
                    return After::Drop;
                }
                return After::Go;
            }
            match incoming(st, frame) {
                Incoming::Csp(m, e, _) => (m, e),
                Incoming::Nothing => return After::Go,
                Incoming::End => return After::Close,
                Incoming::TooBig => {
                    *too_big = true;
                    return After::Close;
                }
            }
        }
    };
    *enc = frame_enc;
    // Status answers to pushes, the bulk of a watcher's traffic, are
    // taken on the spot (issue 19).
    if bound
        .as_ref()
        .is_some_and(|s| st.service.take_status_answers(s, &msg))
    {
        *answered = true;
        return After::Go;
    }
    // A send while the server refuses sends: answered here, without
    // handling it (issue 19, overload).
    if let Some(r) = bound
        .as_ref()
        .and_then(|s| st.service.refuse_if_overloaded(s, &msg))
    {
        if within(st, send_answer(socket, &r, *enc)).await.is_err() {
            return After::Drop;
        }
        return After::Go;
    }
    // The request in hand and, beside it, SendMessage requests of the
    // same session started while it runs (issue 19): each waits for
    // its recipient's acknowledgement or its commit, so one at a time
    // a socket moves one round trip per message. Each send takes its
    // place in the socket's order when it is first polled
    // (`SendOrder`), so recipients get them as sent, and the answers
    // go out in that order. Anything else runs alone.
    let mut running = InOrder::default();
    let sends_only = bound
        .as_ref()
        .is_some_and(|s| st.service.is_plain_send(s, &msg));
    // A send that did not take its place at its first poll (it waits
    // for something before): nothing more starts until all is done.
    let mut barrier = !start(st, ctx, msg, *enc, &mut running).await;
    // Sends held behind it start beside it.
    if sends_only
        && !barrier
        && let Some(s) = bound.as_ref()
    {
        barrier = !start_held(st, ctx, s, held, held_bytes, enc, &mut running).await;
    }
    // While the requests are handled (a SendMessage waits for its
    // commit), pushes for this socket's session still go out and
    // answers to them are taken. If the socket fails meanwhile, the
    // requests are still finished before the connection is left: a
    // handler dropped half-way would leave committed work without its
    // follow-up (a stored message never queued for its recipient).
    // Awaited here rather than spawned, so the message path has no
    // task per request.
    //
    // An answer to a push that came meanwhile is polled beside the
    // requests (never instead of them): a request may hold a store
    // transaction and its locks (on PostgreSQL a put to a peer's SSP
    // queue holds the peer's lock until COMMIT), and the answer may
    // wait for the same lock (a MessageDelivered queueing the
    // delivery report to that peer). Awaiting the answer alone would
    // leave the request's transaction unpolled, its lock never
    // released: the connection, and every other request waiting for
    // that lock (a peer's POSTs), would hang until their timeouts.
    let mut answering: Option<(Answering<'_>, Encoding)> = None;
    let mut dead = false;
    // Refusals written and not yet flushed: they go out together once
    // no more frames are waiting to be read (one write for many under
    // load, issue 19), or with the next answer or push.
    let mut unflushed = false;
    while !running.is_empty() {
        tokio::select! {
            biased;
            done = running.next(), if !running.is_empty() => {
                if dead {
                    continue;
                }
                // Bind to the session the client uses, or the one it
                // just got.
                let new_sid = done
                    .sid
                    .or_else(|| done.reply.as_ref().and_then(login_session_id));
                if let Some(id) = new_sid
                    && bound.as_ref().map(|b| b.id != id).unwrap_or(true)
                    && let Some(s) = st.service.sessions().get(&id)
                {
                    *wake = Some(s.subscribe());
                    cut.bind(&s);
                    *bound = Some(s);
                }
                if let Some(r) = done.reply {
                    dead = within(st, send(socket, &r, done.enc)).await.is_err();
                }
                // Sends read meanwhile go on now, in their order.
                if !dead && sends_only && !barrier && let Some(s) = bound.as_ref() {
                    barrier = !start_held(st, ctx, s, held, held_bytes, enc, &mut running).await;
                }
                // The answer goes out with the pushes that came with it.
                if !dead {
                    dead = push_out(st, bound.as_ref(), socket, *enc).await.is_err();
                }
            }
            a = async {
                match answering.as_mut() {
                    Some((f, _)) => f.as_mut().await,
                    None => std::future::pending().await,
                }
            }, if answering.is_some() => {
                let e = answering.take().map_or(*enc, |(_, e)| e);
                if let Some(r) = a && !dead {
                    dead = within(st, send(socket, &r, e)).await.is_err();
                }
            }
            () = changed(wake), if !dead => {
                // Bounded by the write timeout: while this waits, the
                // requests in hand are not polled.
                dead = push_out(st, bound.as_ref(), socket, *enc).await.is_err();
            }
            f = socket.recv(), if !dead && !*closing && answering.is_none()
                && (bound.is_some() || (held.len() < st.ws_read_ahead && *held_bytes < st.limits.max_size)) =>
            {
                let full = held.len() >= st.ws_read_ahead
                    || *held_bytes + frame_len(&f) > st.limits.max_size;
                if let Some(r) = refuse_unread(st, bound.as_ref(), &f, full, held.len()) {
                    dead = within(st, send_answer(socket, &r, Encoding::Wbxml)).await.is_err();
                    unflushed = true;
                    continue;
                }
                match incoming(st, f) {
                    Incoming::Csp(m, _, _)
                        if bound
                            .as_ref()
                            .is_some_and(|s| st.service.take_status_answers(s, &m)) => {}
                    Incoming::Csp(m, e, _) if is_answer(&m) => {
                        answering = Some((Box::pin(st.service.handle(ctx, m)), e));
                    }
                    // A send that may start beside the ones running:
                    // refused at once if the server refuses sends now,
                    // else started.
                    Incoming::Csp(m, e, _)
                        if sends_only
                            && !barrier
                            && held.is_empty()
                            && running.len() < st.ws_concurrent_sends
                            && bound.as_ref().is_some_and(|s| st.service.is_plain_send(s, &m)) =>
                    {
                        match bound.as_ref().and_then(|s| st.service.refuse_if_overloaded(s, &m)) {
                            Some(r) => {
                                dead = within(st, send_answer(socket, &r, e)).await.is_err();
                                unflushed = true;
                            }
                            None => {
                                *enc = e;
                                barrier = !start(st, ctx, m, e, &mut running).await;
                            }
                        }
                    }
                    Incoming::Csp(m, e, size) => {
                        // A send the server refuses now is answered
                        // at once rather than held behind the requests
                        // in hand (issue 19, overload): its client
                        // hears sooner that it should wait, and the
                        // socket stays read, so acknowledgements of
                        // pushes are not stuck behind doomed sends.
                        // So is any request once the socket holds
                        // `limits.ws_read_ahead` requests or one
                        // maximum-size message's worth of bytes.
                        let full = held.len() >= st.ws_read_ahead
                            || *held_bytes + size > st.limits.max_size;
                        let refusal = bound.as_ref().and_then(|s| {
                            if full {
                                st.service.refuse_busy(s, &m, held.len())
                            } else {
                                st.service.refuse_if_overloaded(s, &m)
                            }
                        });
                        match refusal {
                            Some(r) => {
                                if full {
                                    Metrics::inc(&st.metrics.ws_busy_refusals);
                                }
                                dead = within(st, send_answer(socket, &r, e)).await.is_err();
                                unflushed = true;
                            }
                            // Nothing to answer (no request in
                            // it) and no room: dropped, so a full
                            // connection that is still read holds no
                            // more than before.
                            None if full && bound.is_some() => {
                                tracing::debug!("message without a request on a full WebSocket dropped");
                            }
                            None => {
                                *held_bytes += size;
                                held.push_back((m, e, size));
                            }
                        }
                    }
                    // A ping's pong is queued: it goes with the next flush.
                    Incoming::Nothing => unflushed = true,
                    Incoming::End => *closing = true,
                    Incoming::TooBig => {
                        *too_big = true;
                        *closing = true;
                    }
                }
            }
            // Last, so only when nothing above is ready: no frame is
            // waiting, no request finished, no push queued.
            () = std::future::ready(()), if unflushed && !dead => {
                unflushed = false;
                dead = within(st, async { socket.flush().await.map_err(|_| ()) }).await.is_err();
            }
        }
    }
    // An answer still running is finished too (its work may be half
    // done), then sent if the socket still works.
    if let Some((f, e)) = answering.take()
        && let Some(r) = f.await
        && !dead
    {
        dead = within(st, send(socket, &r, e)).await.is_err();
    }
    if dead {
        return After::Drop;
    }
    After::Go
}

/// The close frame, once the connection ends: 1009 after a frame over
/// the limit; from a draining node 1001, so that its client reconnects
/// (the load balancer sends it to another node).
async fn goodbye(st: &AppState, socket: &mut WsConn, too_big: bool) {
    let close = if too_big {
        Some(CloseFrame {
            code: CLOSE_TOO_BIG,
            reason: "message too big".into(),
        })
    } else {
        st.service.is_draining().then(|| CloseFrame {
            code: CLOSE_GOING_AWAY,
            reason: "server draining; log in again".into(),
        })
    };
    let _ = within(st, async { socket.close(close).await.map_err(|_| ()) }).await;
}

/// A request being handled: what it answered, the session it named and
/// the encoding to answer in.
struct Done {
    reply: Option<Message>,
    sid: Option<String>,
    enc: Encoding,
}

/// A request's handling, boxed: the request's future is large, and held
/// inline it would make every connection's task that large for its whole
/// life, idle or not (issue 19).
type Running<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

/// The requests of one socket running at once, answered in the order they
/// came. At most `limits.ws_concurrent_sends` (16 by default), so each
/// wake-up polls every one still running: cheaper than a task per request
/// (an allocation and its reference counts for each).
#[derive(Default)]
struct InOrder<'a> {
    slots: std::collections::VecDeque<Slot<'a>>,
}

enum Slot<'a> {
    Running(Running<'a>),
    Done(Done),
}

impl<'a> InOrder<'a> {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn push_back(&mut self, r: Running<'a>) {
        self.slots.push_back(Slot::Running(r));
    }

    fn push_done(&mut self, d: Done) {
        self.slots.push_back(Slot::Done(d));
    }

    /// The first request's outcome once it is done; the ones behind it
    /// are polled meanwhile (and keep theirs until their turn). Never
    /// ready while empty.
    async fn next(&mut self) -> Done {
        std::future::poll_fn(|cx| {
            for slot in self.slots.iter_mut() {
                if let Slot::Running(f) = slot
                    && let Poll::Ready(d) = f.as_mut().poll(cx)
                {
                    *slot = Slot::Done(d);
                }
            }
            if matches!(self.slots.front(), Some(Slot::Done(_)))
                && let Some(Slot::Done(d)) = self.slots.pop_front()
            {
                return Poll::Ready(d);
            }
            Poll::Pending
        })
        .await
    }
}

/// Starts handling `msg` behind the requests in `running`, polled once at
/// once so that a send takes its place in the socket's order before
/// anything read after it. False when it is still running without having
/// taken that place (it waits for something first): nothing may start
/// beside it then.
async fn start<'a>(
    st: &'a AppState,
    ctx: &'a RequestCtx,
    msg: Message,
    enc: Encoding,
    running: &mut InOrder<'a>,
) -> bool {
    let sid = msg.session_id.clone();
    let before = ctx.send_order.as_ref().map(|o| o.entered());
    let mut fut: Running<'a> = Box::pin(async move {
        Done {
            reply: st.service.handle(ctx, msg).await,
            sid,
            enc,
        }
    });
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(done) => {
            running.push_done(done);
            true
        }
        Poll::Pending => {
            running.push_back(fut);
            matches!((before, ctx.send_order.as_ref()), (Some(b), Some(o)) if o.entered() > b)
        }
    }
}

/// Requests a socket read ahead: the message, its encoding, its size.
type Held = std::collections::VecDeque<(Message, Encoding, usize)>;

/// Starts the sends of `s` at the front of `held` beside the ones
/// running, in their order, while `limits.ws_concurrent_sends` allows.
/// False when one of them is still running without having taken its place
/// in the order ([`start`]): nothing more may start then.
async fn start_held<'a>(
    st: &'a AppState,
    ctx: &'a RequestCtx,
    s: &Session,
    held: &mut Held,
    held_bytes: &mut usize,
    enc: &mut Encoding,
    running: &mut InOrder<'a>,
) -> bool {
    while running.len() < st.ws_concurrent_sends
        && held
            .front()
            .is_some_and(|(m, _, _)| st.service.is_plain_send(s, m))
        && let Some((m, e, size)) = held.pop_front()
    {
        *held_bytes -= size;
        *enc = e;
        if !start(st, ctx, m, e, running).await {
            return false;
        }
    }
    true
}

/// Sends every push waiting for the bound session, then flushes, within
/// the write timeout.
async fn push_out(
    st: &AppState,
    bound: Option<&Arc<Session>>,
    socket: &mut WsConn,
    enc: Encoding,
) -> Result<(), ()> {
    within(st, async {
        if let Some(s) = bound {
            drain_pushes(st, s, socket, enc).await?;
        }
        socket.flush().await.map_err(|_| ())
    })
    .await
}

/// A write to a client that does not read must not hold the connection
/// (and the request it is handling) forever: past `ws_write_timeout` the
/// connection is given up.
///
/// Almost every write is done at its first poll (the socket's send buffer
/// has room): the deadline is only made for one that has to wait, so a
/// push costs no timer (issue 19: a `Timeout` made around every flush of
/// every watcher). The deadline then runs from that first poll, which did
/// not wait.
async fn within(
    st: &AppState,
    write: impl std::future::Future<Output = Result<(), ()>>,
) -> Result<(), ()> {
    let mut write = std::pin::pin!(write);
    if let Poll::Ready(r) = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        return r;
    }
    match tokio::time::timeout(st.ws_write_timeout, write).await {
        Ok(r) => r,
        Err(_) => {
            tracing::info!(
                timeout_secs = st.ws_write_timeout.as_secs(),
                "WebSocket client stopped reading; closing"
            );
            Err(())
        }
    }
}

/// Waits for the bound session's wake-up. Never returns while no session
/// is bound.
async fn changed(wake: &mut Option<imps_core::session::Wake>) {
    match wake.as_mut() {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

/// Sends every push waiting for the session (queued, not flushed).
async fn drain_pushes(
    st: &AppState,
    s: &Arc<Session>,
    socket: &mut WsConn,
    enc: Encoding,
) -> Result<(), ()> {
    // Encoded by the core: a primitive many sessions get is encoded once
    // and spliced into each one's envelope (issue 19).
    while let Some(bytes) = st.service.next_push_encoded(s, enc).await {
        let bytes = bytes.map_err(|e| tracing::error!(error = %e, "encode failed"))?;
        send_bytes(socket, bytes, enc).await?;
    }
    Ok(())
}

fn login_session_id(m: &Message) -> Option<String> {
    let body: &Element = &m.transactions.first()?.body;
    (body.name == "Login-Response")
        .then(|| body.child_text("SessionID").map(str::to_string))
        .flatten()
}

async fn send(socket: &mut WsConn, m: &Message, enc: Encoding) -> Result<(), ()> {
    let bytes =
        imps_wire::encode(m, enc).map_err(|e| tracing::error!(error = %e, "encode failed"))?;
    send_bytes(socket, bytes, enc).await
}

/// As [`send`], for an answer that may come from a template (an
/// overload refusal, issue 19).
async fn send_answer(socket: &mut WsConn, a: &Answer, enc: Encoding) -> Result<(), ()> {
    let bytes = a
        .encode(enc)
        .map_err(|e| tracing::error!(error = %e, "encode failed"))?;
    send_bytes(socket, bytes, enc).await
}

/// Queues an encoded message as a text (XML) or binary (WBXML) frame.
async fn send_bytes(socket: &mut WsConn, bytes: Vec<u8>, enc: Encoding) -> Result<(), ()> {
    let text = enc == Encoding::Xml;
    // A text frame carries UTF-8 only.
    if text && std::str::from_utf8(&bytes).is_err() {
        return Err(());
    }
    // Queued only; the serve loop flushes before it waits for input.
    socket.feed(text, &bytes).await.map_err(|_| ())
}

// Optimised builds only (the test profile `ci`, release): without
// optimisation futures are larger.
#[cfg(all(test, not(debug_assertions)))]
mod tests {
    /// The size of what an async fn returns: its future, the state that a
    /// connection's task keeps for the connection's whole life.
    fn future_size<A, B, C, R>(_: fn(A, B, C) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// Requests running together are answered in the order they came,
    /// whichever finishes first, and each is polled while the ones ahead
    /// of it still run.
    #[tokio::test]
    async fn requests_running_together_are_answered_in_order() {
        use super::{Done, InOrder};
        use imps_wire::Encoding;
        use tokio::sync::oneshot;
        let done = |sid: &str| Done {
            reply: None,
            sid: Some(sid.to_string()),
            enc: Encoding::Xml,
        };
        let (tx1, rx1) = oneshot::channel::<()>();
        let (tx2, rx2) = oneshot::channel::<()>();
        let second_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut running = InOrder::default();
        let d1 = done("1");
        running.push_back(Box::pin(async move {
            let _ = rx1.await;
            d1
        }));
        let (d2, ran) = (done("2"), second_ran.clone());
        running.push_back(Box::pin(async move {
            let _ = rx2.await;
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            d2
        }));
        running.push_done(done("3"));
        tx2.send(()).unwrap();
        // One poll: the second finishes, the first does not.
        let early = futures_util::FutureExt::now_or_never(running.next());
        assert!(
            early.is_none(),
            "the first is not done: nothing is answered"
        );
        assert!(
            second_ran.load(std::sync::atomic::Ordering::SeqCst),
            "the second ran meanwhile"
        );
        tx1.send(()).unwrap();
        let order: Vec<_> = [
            running.next().await,
            running.next().await,
            running.next().await,
        ]
        .into_iter()
        .map(|d| d.sid.unwrap())
        .collect();
        assert_eq!(order, ["1", "2", "3"]);
        assert!(running.is_empty());
    }

    /// Issue 19: a WebSocket's task is idle most of its life, and its
    /// future is that task's size. A rare path held inline makes every
    /// connection that large: ending a kicked session after its
    /// Disconnect went out made it 6,880 bytes (ci profile), 2,080 once
    /// boxed; with each turn boxed (`turn`, `push_out`, `goodbye`) it is
    /// the connection's state and its wait, 1,312 bytes (2,424 with the
    /// turns inline); with the frame reader polled by hand and the idle
    /// timer boxed, 936; with the cut seen through the session's own
    /// wake-up, 840 (888 in the workspace's test build, where tokio has
    /// more features): tokio's task then fits a 1,024-byte block.
    /// The bound leaves room for compiler changes and still catches the
    /// turns held inline.
    #[test]
    fn a_connections_task_keeps_no_rare_path_inline() {
        let size = future_size(super::serve);
        eprintln!("WebSocket serve future: {size} bytes");
        assert!(size <= 960, "serve future is {size} bytes");
    }
}
