//! Issue 14 (3): connection caps and timeouts. Slow or silent clients
//! cannot hold connections without end, nor take every connection the
//! server has: a normal client is still served.
//!
//! The "attacker" connects from other loopback addresses (127.0.0.2,
//! 127.0.0.3: all of 127/8 is the loopback on Linux), so the per-address
//! cap tells it apart from the test's own client on 127.0.0.1.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Backoff, TestServer};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Longest a test waits for something that must happen: a failure guard,
/// never waited out when the test passes.
const GUARD: Duration = Duration::from_secs(10);

/// The start of a request that never ends: past the 24 bytes a server
/// reads to tell HTTP/1 from HTTP/2, short of the blank line.
const SLOW_HEAD: &[u8] = b"POST /imps HTTP/1.1\r\nHost: x\r\nContent-Type: appl";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(from, 0)).unwrap();
    sock.connect(to).await.unwrap()
}

/// A connection that sends the start of a request head, then nothing.
async fn slow_header(from: IpAddr, to: SocketAddr) -> TcpStream {
    let mut c = connect_from(from, to).await;
    // The server may already have closed it (over a cap): a failed write
    // is seen by the reads that follow.
    let _ = c.write_all(SLOW_HEAD).await;
    c
}

/// Reads until the server closes the connection; what it sent. Fails the
/// test after `GUARD`.
async fn read_to_close(c: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(GUARD, async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection");
    got
}

/// Whether the server has neither closed the connection nor written to
/// it (no read is ready).
fn still_open(c: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// GET /healthz from `from` on a new connection: the status line, or
/// `None` when the server closed the connection unanswered.
async fn healthz_from(from: IpAddr, to: SocketAddr) -> Option<String> {
    let mut c = connect_from(from, to).await;
    let _ = c
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let got = read_to_close(&mut c).await;
    let text = String::from_utf8_lossy(&got);
    text.lines().next().map(str::to_string)
}

#[tokio::test]
async fn limits_slow_clients_over_the_cap_do_not_stop_a_login() {
    let srv = TestServer::builder()
        .config(|c| {
            c.limits.max_connections = 16;
            c.limits.max_connections_per_address = 8;
            // Long: the slow clients stay for the whole test, it is the
            // caps that keep room for the login.
            c.limits.header_timeout_ms = 120_000;
        })
        .user("bob", common::DEFAULT_PASSWORD)
        .start()
        .await;
    let addr = srv.http_addr();

    // More slow connections from one address than the whole server takes.
    let mut slow = Vec::new();
    for _ in 0..24 {
        slow.push(slow_header(ip(2), addr).await);
    }
    // Those over the per-address cap are closed at once, unanswered.
    for c in &mut slow[8..] {
        assert!(read_to_close(c).await.is_empty());
    }
    // A normal client from elsewhere logs in, quickly.
    let started = Instant::now();
    let bob = tokio::time::timeout(Duration::from_secs(5), srv.login("bob").http())
        .await
        .expect("login answered while slow clients hold connections");
    assert!(bob.info.session_id.len() > 8);
    assert_eq!(
        healthz_from(ip(1), addr).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // The slow clients within the cap were held all along.
    for c in &slow[..8] {
        assert!(still_open(c), "a slow client within the cap was closed");
    }
}

#[tokio::test]
async fn limits_total_cap_closes_extra_connections_and_frees_places() {
    let srv = TestServer::start_with(|c| {
        c.limits.max_connections = 4;
        c.limits.max_connections_per_address = 0;
        c.limits.header_timeout_ms = 120_000;
    })
    .await;
    let addr = srv.http_addr();
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(slow_header(ip(2), addr).await);
    }
    // A fifth, from another address: no place left, closed unanswered.
    assert_eq!(healthz_from(ip(3), addr).await, None);
    // One slow client leaves: its place is given back.
    drop(slow.pop());
    let mut backoff = Backoff::new(GUARD);
    loop {
        if healthz_from(ip(3), addr).await.as_deref() == Some("HTTP/1.1 200 OK") {
            break;
        }
        assert!(backoff.wait().await, "the freed place was not given back");
    }
}

#[tokio::test]
async fn limits_per_address_cap_leaves_other_addresses_alone() {
    let srv = TestServer::start_with(|c| {
        c.limits.max_connections_per_address = 3;
        c.limits.header_timeout_ms = 120_000;
    })
    .await;
    let addr = srv.http_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(slow_header(ip(2), addr).await);
    }
    assert_eq!(
        healthz_from(ip(2), addr).await,
        None,
        "a 4th from 127.0.0.2"
    );
    assert_eq!(
        healthz_from(ip(3), addr).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    for c in &held {
        assert!(still_open(c));
    }
}

#[tokio::test]
async fn limits_slow_header_is_closed_after_the_header_timeout() {
    let srv = TestServer::start_with(|c| c.limits.header_timeout_ms = 300).await;
    let addr = srv.http_addr();
    // Short of the 24 bytes that tell the protocol, and past them.
    for head in [&b"POST /im"[..], SLOW_HEAD] {
        let started = Instant::now();
        let mut c = connect_from(ip(1), addr).await;
        c.write_all(head).await.unwrap();
        let got = read_to_close(&mut c).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(
            !String::from_utf8_lossy(&got).contains(" 200 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // A connection that sends nothing at all goes the same way.
    let mut c = connect_from(ip(1), addr).await;
    read_to_close(&mut c).await;
}

#[tokio::test]
async fn limits_slow_body_gets_408_after_the_body_timeout() {
    let srv = TestServer::start_with(|c| {
        c.limits.body_timeout_ms = 300;
        c.limits.min_body_rate = 0;
    })
    .await;
    let mut c = connect_from(ip(1), srv.http_addr()).await;
    let started = Instant::now();
    c.write_all(
        b"POST /imps HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.wv.csp.xml\r\n\
          Content-Length: 100\r\n\r\n<WV-CSP-Message",
    )
    .await
    .unwrap();
    let got = read_to_close(&mut c).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn limits_body_within_its_time_is_read() {
    // The rate extends the time for what has arrived: a body sent in
    // parts, each well within the time, is read whole.
    let srv = TestServer::start_with(|c| {
        c.limits.body_timeout_ms = 400;
        c.limits.min_body_rate = 1_000_000;
    })
    .await;
    let mut c = connect_from(ip(1), srv.http_addr()).await;
    c.write_all(
        b"POST /imps HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.wv.csp.xml\r\n\
          Connection: close\r\nContent-Length: 17\r\n\r\n<WV-CSP-",
    )
    .await
    .unwrap();
    c.write_all(b"Message/>").await.unwrap();
    let got = read_to_close(&mut c).await;
    let text = String::from_utf8_lossy(&got);
    assert!(!text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.starts_with("HTTP/1.1 "), "{text}");
}

#[tokio::test]
async fn limits_idle_keep_alive_connection_is_closed() {
    let srv = TestServer::start_with(|c| {
        c.limits.idle_timeout_ms = 300;
        // Longer than the test's guard: the close must come from the
        // idle timeout.
        c.limits.header_timeout_ms = 60_000;
    })
    .await;
    let mut c = connect_from(ip(1), srv.http_addr()).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = Instant::now();
    let got = read_to_close(&mut c).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("connection: close"));
    assert!(answered.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn limits_idle_websocket_without_a_session_is_closed() {
    let srv = TestServer::builder()
        .config(|c| c.limits.idle_timeout_ms = 300)
        .user("bob", common::DEFAULT_PASSWORD)
        .start()
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    let started = Instant::now();
    let end = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "an idle WebSocket without a session stays open"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));

    // One that carries a session is ruled by the session's keep-alive:
    // silent for longer than the idle timeout, it still works.
    let bob = srv.login("bob").ws().await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    bob.keep_alive(None)
        .await
        .expect("a WebSocket with a session outlives the idle timeout");
}

/// Issue 19: the WebSocket buffers are settings. A frame over
/// `limits.max_body_bytes` is refused from its header with close code
/// 1009 (message too big), while frames larger than a tiny read buffer
/// (`limits.ws_read_buffer_bytes`) but under the limit are read whole.
#[tokio::test]
async fn limits_websocket_frame_over_the_limit_is_closed_with_1009() {
    use tokio_tungstenite::tungstenite::Message as WsMsg;
    let srv = TestServer::builder()
        .config(|c| {
            c.limits.max_body_bytes = 4096;
            c.limits.ws_read_buffer_bytes = 64;
            c.limits.ws_write_buffer_bytes = 0;
        })
        .user("bob", common::DEFAULT_PASSWORD)
        .start()
        .await;
    // Login, capability and service frames are several times the read
    // buffer: read in pieces, answered.
    let bob = srv.login("bob").ws().await;
    bob.keep_alive(None)
        .await
        .expect("frames larger than the read buffer are read");

    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    futures_util::SinkExt::send(&mut ws, WsMsg::Text("x".repeat(5000).into()))
        .await
        .unwrap();
    let code = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                Some(Ok(WsMsg::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    })
    .await
    .expect("the oversized frame gets an answer in time");
    assert_eq!(code, Some(1009), "close code for a frame over the limit");
    // The session on the other socket is unaffected.
    bob.keep_alive(None).await.unwrap();
}
