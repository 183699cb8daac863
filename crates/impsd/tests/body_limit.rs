//! Issue 14 (3): a request that announces a body over `limits.max_body_bytes`
//! is refused from its headers, before any of the body is read, so a
//! client cannot hold a connection open by promising a huge body and
//! sending it slowly.

use crate::common;

use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn limits_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let srv = TestServer::start_with(|c| c.limits.max_body_bytes = 64 * 1024).await;
    let mut conn = tokio::net::TcpStream::connect(srv.http_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /imps HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.wv.csp.xml\r\nContent-Length: {}\r\n\r\n",
        64 * 1024 + 1
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    // Not one byte of the body is sent: the answer must come anyway.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body was never sent");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    // A body within the limit is still read and answered.
    let (status, _, _) = common::post_raw(
        &srv.url(),
        "application/vnd.wv.csp.xml",
        b"<WV-CSP-Message/>".to_vec(),
    )
    .await;
    assert_ne!(status, 413);
}
