//! Client connections: one accept loop for HTTP and HTTPS, the caps on
//! connections (in total and per client address, TCP CIR included) and
//! the timeouts that stop a slow or silent client from holding one.
//!
//! - Over a cap, a connection is closed as soon as it is accepted, without
//!   an answer: writing a 503 to a flood costs what the cap saves, and a
//!   client that gets no answer retries like one whose connect failed.
//! - Until its first request's headers are in (TLS handshake and protocol
//!   detection included), a connection has `header_timeout`; then it is
//!   dropped.
//! - A connection with no bytes either way for `idle_timeout` is shut
//!   down gracefully (an answer in progress is finished), and dropped if
//!   that does not end it within `header_timeout`.
//! - hyper times every later HTTP/1.1 request head from the end of the
//!   previous answer, idle wait included; that clock gets the longer of
//!   the two timeouts, so keep-alive lasts `idle_timeout` and a head
//!   trickled in byte by byte cannot hold the connection past it.
//! - Once upgraded to a WebSocket, the connection is the WebSocket's (see
//!   `ws.rs`): its cap slot stays taken until the socket closes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::LimitsConfig;
use crate::http::CspEndpoint;

/// Descriptors kept free for the store, the listeners and the rest when
/// the connection cap is fitted under the open-file limit.
const FD_RESERVE: usize = 64;

/// The timeouts of one HTTP connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

impl Timeouts {
    pub fn from_limits(l: &LimitsConfig) -> Timeouts {
        Timeouts {
            header: Duration::from_millis(l.header_timeout_ms.max(1)),
            idle: Duration::from_millis(l.idle_timeout_ms.max(1)),
        }
    }
}

/// Admits connections within the caps; shared by every client listener.
pub struct Gate {
    total: Arc<Semaphore>,
    per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place under the caps, given back when it is dropped.
pub struct Admitted {
    _total: OwnedSemaphorePermit,
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    /// `max_total` is lowered to fit under the process's open-file limit
    /// when that is known and lower.
    pub fn new(max_total: usize, per_address: usize) -> Arc<Gate> {
        let total = match fd_limit() {
            Some(fds) if fds.saturating_sub(FD_RESERVE).max(fds / 2) < max_total => {
                let fitted = fds.saturating_sub(FD_RESERVE).max(fds / 2).max(1);
                tracing::warn!(
                    max_connections = max_total,
                    open_file_limit = fds,
                    fitted,
                    "limits.max_connections is above the open-file limit; using less"
                );
                fitted
            }
            _ => max_total.max(1),
        };
        Arc::new(Gate {
            total: Arc::new(Semaphore::new(total)),
            per_address,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Client connections open now (the operator page's graph).
    pub fn open(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.values().sum()
    }

    /// A place for a connection from `peer`, or `None` when a cap is
    /// reached.
    pub fn admit(self: &Arc<Gate>, peer: SocketAddr) -> Option<Admitted> {
        let ip = peer.ip().to_canonical();
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if self.per_address != 0 && *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(Admitted {
            _total: permit,
            gate: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The soft open-file limit of this process, from /proc (Linux); `None`
/// elsewhere or when unlimited.
fn fd_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Accepts connections (plain, or TLS with `tls`) and serves the router
/// on each within the caps and timeouts, until shutdown; then waits a
/// bounded time for the connections to finish their answers.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    csp: Option<Arc<CspEndpoint>>,
    gate: Arc<Gate>,
    timeouts: Timeouts,
    mut shut: watch::Receiver<bool>,
) {
    // Every connection task holds a sender; when all are gone, the
    // receiver says so. Nothing is ever sent.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let (sock, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors, mostly: wait for some to be
                    // given back rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shut) => break,
        };
        let Some(admitted) = gate.admit(peer) else {
            tracing::debug!(%peer, "connection over the cap; closed");
            drop(sock);
            continue;
        };
        // No Nagle delay: replies and pushes are small frames that must
        // go out at once (with it, a push could wait ~40 ms for an ACK).
        if let Err(e) = sock.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let io = Tracked::new(sock, admitted);
        let conn = Conn {
            peer,
            app: app.clone(),
            csp: csp.clone(),
            timeouts,
            shut: shut.clone(),
            _alive: alive.clone(),
        };
        tokio::spawn(run(conn, io, tls.clone()));
    }
    drop(alive);
    let _ = tokio::time::timeout(Duration::from_secs(10), all_done.recv()).await;
}

/// One connection's task, for its whole life.
///
/// The TLS path (rustls' connection state, the TLS stream around the
/// socket) is boxed: held inline, it made every plain connection's task
/// as large as a TLS one's (issue 19).
async fn run(conn: Conn, io: Tracked<TcpStream>, tls: Option<TlsAcceptor>) {
    match tls {
        None => {
            let clock = io.activity.clone();
            conn.serve(io, clock, None).await;
        }
        Some(acceptor) => Box::pin(conn.run_tls(io, acceptor)).await,
    }
}

/// Waits for the stop (or for its sender to be gone).
async fn stopped(shut: &mut watch::Receiver<bool>) {
    let _ = shut.wait_for(|s| *s).await;
}

/// One accepted connection and what it needs.
struct Conn {
    peer: SocketAddr,
    app: Router,
    /// POSTs to the CSP path, answered without the router (none on
    /// the admin listener).
    csp: Option<Arc<CspEndpoint>>,
    timeouts: Timeouts,
    shut: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Conn {
    async fn run_tls(self, io: Tracked<TcpStream>, acceptor: TlsAcceptor) {
        let clock = io.activity.clone();
        // The handshake is part of the time to the first request head.
        let deadline = clock.start + self.timeouts.header;
        let tls = match tokio::time::timeout_at(deadline.into(), acceptor.accept(io)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %self.peer, "TLS handshake too slow; closed");
                return;
            }
        };
        // The client certificate chain, if one was presented (a peer
        // server's): every request of the connection carries it, for the
        // SSP handler to check against the peer it claims to be.
        let certs = tls.get_ref().1.peer_certificates().map(|c| {
            crate::tls::PeerCerts(Arc::new(c.iter().map(|d| d.clone().into_owned()).collect()))
        });
        self.serve(tls, clock, certs).await;
    }

    async fn serve<I>(mut self, io: I, clock: Arc<Activity>, certs: Option<crate::tls::PeerCerts>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let first_request = Arc::new(AtomicBool::new(false));
        let seen = first_request.clone();
        let inner = TowerToHyperService::new(self.app.clone());
        let csp = self.csp.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            if let Some(csp) = csp.as_ref().filter(|c| c.takes(&req)) {
                let csp = csp.clone();
                let certs = certs.clone();
                // Boxed: hyper keeps room for one request's future in
                // every connection for its whole life, idle keep-alive
                // included, and this one is larger than the router's.
                return Either::Left(Box::pin(async move {
                    Ok::<_, Infallible>(csp.answer(peer, certs.as_ref(), req).await)
                }));
            }
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(c) = &certs {
                req.extensions_mut().insert(c.clone());
            }
            Either::Right(inner.call(req))
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.timeouts.header.max(self.timeouts.idle));
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
        tokio::pin!(conn);

        // Checked a few times per timeout: precise enough, and cheap.
        let tick =
            (self.timeouts.header.min(self.timeouts.idle) / 4).max(Duration::from_millis(10));
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // When a graceful shutdown began; past `header` more it is forced.
        let mut closing: Option<Instant> = None;
        loop {
            tokio::select! {
                res = conn.as_mut() => {
                    // Closed, or upgraded to a WebSocket that rules its
                    // own life: nobody asks how idle it is any more.
                    clock.retire();
                    if let Err(e) = res {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                    return;
                }
                _ = ticks.tick() => {
                    let now = Instant::now();
                    if !first_request.load(Ordering::Relaxed)
                        && now >= clock.start + self.timeouts.header
                    {
                        tracing::debug!(%peer, "no request head in time; closed");
                        return;
                    }
                    match closing {
                        Some(t) if now >= t + self.timeouts.header => {
                            tracing::debug!(%peer, "connection did not close when asked; dropped");
                            return;
                        }
                        Some(_) => {}
                        None if clock.idle_for(now) >= self.timeouts.idle => {
                            tracing::debug!(%peer, "connection idle; closing");
                            conn.as_mut().graceful_shutdown();
                            closing = Some(now);
                        }
                        None => {}
                    }
                }
                _ = stopped(&mut self.shut), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
        }
    }
}

/// When a connection last moved bytes.
pub struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write of a byte.
    last_ms: AtomicU64,
    /// The HTTP connection is over (an upgraded WebSocket goes on over
    /// the same socket): its reads and writes no longer read the clock
    /// (issue 19: two per watcher per presence notification).
    retired: AtomicBool,
}

impl Activity {
    fn touch(&self) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    fn idle_for(&self, now: Instant) -> Duration {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

/// A socket that notes when bytes move, and holds the connection's place
/// under the caps for as long as it lives (through a WebSocket upgrade
/// too: the upgraded connection owns it then).
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    _admitted: Admitted,
}

impl<S> Tracked<S> {
    fn new(inner: S, admitted: Admitted) -> Tracked<S> {
        Tracked {
            inner,
            activity: Arc::new(Activity {
                start: Instant::now(),
                last_ms: AtomicU64::new(0),
                retired: AtomicBool::new(false),
            }),
            _admitted: admitted,
        }
    }

    /// The socket itself (a WebSocket waits on its readiness).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is a failed test
mod tests {
    use super::*;

    /// The size of what an async fn returns: its future, the state that a
    /// connection's task keeps for the connection's whole life.
    fn future_size<A, B, C, R>(_: fn(A, B, C) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// Issue 19: a plain HTTP connection's task is not as large as a TLS
    /// one's. With the TLS path inline it was 6,632 bytes (ci profile),
    /// 2,776 boxed; the bound leaves room for compiler and hyper changes
    /// and still catches the inline shape.
    #[test]
    fn a_plain_connections_task_keeps_no_tls_state_inline() {
        let size = future_size(run);
        eprintln!("connection task future: {size} bytes");
        assert!(size <= 4096, "connection task future is {size} bytes");
    }

    #[test]
    fn caps_count_per_address_and_in_total_and_give_back_on_drop() {
        let gate = Arc::new(Gate {
            total: Arc::new(Semaphore::new(3)),
            per_address: 2,
            open: Mutex::new(HashMap::new()),
        });
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let a2: SocketAddr = "[::ffff:10.0.0.1]:1001".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:1000".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a2).unwrap();
        assert!(gate.admit(a).is_none(), "per-address cap, IPv4-mapped too");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit(c).is_none(), "total cap");
        drop(first);
        assert!(gate.admit(c).is_some(), "a place is given back on drop");
        assert_eq!(gate.open.lock().unwrap().get(&c.ip()), None);
    }
}
