//! Standalone TCP CIR (`HELO`/`OK`, then `WVCI` lines) and readers for the
//! CIR addresses in an AgreedCapabilityList.

use std::collections::VecDeque;
use std::time::Duration;

use imps_wire::Element;
use imps_wire::cir::{CirLine, WapPush};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{ClientError, Result};

/// Longest CIR line we accept; a real one is `WVCI 1.2 <cookie>`.
pub const CIR_LINE_MAX: usize = 1024;

/// Time allowed for connect + HELO/OK and for a PING's OK (Android waits
/// 30 s for the OK).
pub const CIR_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP CIR channel bound to one session.
#[derive(Debug)]
pub struct TcpCir {
    stream: TcpStream,
    /// Bytes read but not yet split into lines; kept across calls so a
    /// timeout in the middle of a line loses nothing.
    buf: Vec<u8>,
    /// WVCI lines that arrived while we waited for a PING's OK.
    pending: VecDeque<String>,
}

impl TcpCir {
    /// Connects, sends `HELO <SessionID>` and requires `OK`. A server that
    /// does not know the session closes the socket: `ClientError::Closed`.
    pub async fn connect(addr: impl ToSocketAddrs, session_id: &str) -> Result<TcpCir> {
        let stream = within(CIR_REPLY_TIMEOUT, TcpStream::connect(addr)).await??;
        let mut cir = TcpCir {
            stream,
            buf: Vec::new(),
            pending: VecDeque::new(),
        };
        cir.send_line(&format!("HELO {session_id}")).await?;
        let line = within(CIR_REPLY_TIMEOUT, cir.read_line()).await??;
        if line != "OK" {
            return Err(ClientError::Protocol(format!(
                "HELO answered with {line:?}"
            )));
        }
        Ok(cir)
    }

    /// Waits up to `timeout` for a `WVCI <version> <cookie>` line and
    /// returns it. `Ok(None)` on timeout; `ClientError::Closed` when the
    /// server hung up (session ended). Stray `OK` lines are skipped.
    pub async fn next_wakeup(&mut self, timeout: Duration) -> Result<Option<String>> {
        if let Some(line) = self.pending.pop_front() {
            return Ok(Some(line));
        }
        let wait = async {
            loop {
                let line = self.read_line().await?;
                if line.starts_with("WVCI") {
                    return Ok(line);
                }
                tracing::debug!(%line, "ignoring non-WVCI line on TCP CIR");
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Sends `PING ` and waits for `OK`; WVCI lines that arrive first are
    /// kept for `next_wakeup`.
    pub async fn ping(&mut self) -> Result<()> {
        // "PING " with the space, as Android writes it.
        self.send_line("PING ").await?;
        let wait = async {
            loop {
                let line = self.read_line().await?;
                if line == "OK" {
                    return Ok(());
                }
                if line.starts_with("WVCI") {
                    self.pending.push_back(line);
                }
            }
        };
        within(CIR_REPLY_TIMEOUT, wait).await?
    }

    /// Writes one line, adding CRLF. Public so tests can send junk.
    pub async fn send_line(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        within(CIR_REPLY_TIMEOUT, self.stream.write_all(&bytes))
            .await?
            .map_err(hung_up)
    }

    /// Reads one line without its CR/LF. Cancel-safe: only `read` awaits,
    /// and what it returned is already in `buf`.
    async fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(pos + 1);
                let line = std::mem::replace(&mut self.buf, rest);
                return Ok(String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_string());
            }
            if self.buf.len() > CIR_LINE_MAX {
                return Err(ClientError::Protocol(format!(
                    "CIR line longer than {CIR_LINE_MAX} bytes"
                )));
            }
            let mut chunk = [0u8; 512];
            let n = self.stream.read(&mut chunk).await.map_err(hung_up)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A reset or broken pipe is how a server closing on us often looks;
/// report it as the hang-up it is.
fn hung_up(e: std::io::Error) -> ClientError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ClientError::Closed,
        _ => ClientError::Io(e),
    }
}

async fn within<F: std::future::Future>(t: Duration, f: F) -> Result<F::Output> {
    tokio::time::timeout(t, f)
        .await
        .map_err(|_| ClientError::Timeout)
}

/// Datagram CIR (SUDP, WAPUDP): a UDP socket the server sends wake-ups
/// to. Each datagram is a `WVCI` line (SUDP) or a WSP push PDU carrying
/// one (WAPUDP); both are read.
#[derive(Debug)]
pub struct UdpCir {
    socket: tokio::net::UdpSocket,
}

impl UdpCir {
    /// Binds the socket (`127.0.0.1:0` picks a free port).
    pub async fn bind(addr: impl ToSocketAddrs) -> Result<UdpCir> {
        Ok(UdpCir {
            socket: tokio::net::UdpSocket::bind(addr).await?,
        })
    }

    /// The port to offer as `UDPPort`.
    pub fn port(&self) -> Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Waits up to `timeout` for a wake-up and returns its line.
    /// `Ok(None)` on timeout. Datagrams that are neither form are skipped.
    pub async fn next_wakeup(&mut self, timeout: Duration) -> Result<Option<CirLine>> {
        let wait = async {
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = self.socket.recv_from(&mut buf).await?;
                let bytes = &buf[..n];
                let line = match CirLine::from_bytes(bytes) {
                    Ok(l) => Ok(l),
                    Err(_) => WapPush::decode(bytes).and_then(|p| CirLine::from_bytes(&p.body)),
                };
                match line {
                    Ok(l) => return Ok::<_, ClientError>(l),
                    Err(e) => {
                        tracing::debug!(%from, error = %e, "ignoring a datagram that is no CIR")
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }
}

/// `UDPAddress`/`UDPPort` from an AgreedCapabilityList: where the server
/// will send datagram CIR (the address only in 1.3).
pub fn udp_cir_target(agreed: &Element) -> (Option<String>, Option<u16>) {
    (
        agreed
            .child_text("UDPAddress")
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        agreed
            .child_text("UDPPort")
            .and_then(|p| p.trim().parse().ok()),
    )
}

/// `host:port` for TCP CIR from an AgreedCapabilityList (TCPAddress,
/// TCPPort), bracketing IPv6 literals.
pub fn tcp_cir_addr(agreed: &Element) -> Option<String> {
    let host = agreed.child_text("TCPAddress").filter(|h| !h.is_empty())?;
    let port: u16 = agreed.child_text("TCPPort")?.parse().ok()?;
    if host.contains(':') && !host.starts_with('[') {
        Some(format!("[{host}]:{port}"))
    } else {
        Some(format!("{host}:{port}"))
    }
}

/// The HTTP CIR URL: `CIRHTTPAddress/URL` (1.3) or `CIRURL/URL` (1.2).
pub fn http_cir_url(agreed: &Element) -> Option<String> {
    ["CIRHTTPAddress", "CIRURL"]
        .iter()
        .find_map(|n| agreed.path(&[n, "URL"]))
        .map(|u| u.text.trim().to_string())
        .filter(|u| !u.is_empty())
}

/// The CIR methods the server agreed to, in its order.
pub fn agreed_cir_methods(agreed: &Element) -> Vec<String> {
    agreed
        .children_named("SupportedCIRMethod")
        .map(|m| m.text.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    #[test]
    fn reads_cir_addresses_from_an_agreed_list() {
        let agreed = Element::new("AgreedCapabilityList")
            .with_text("SupportedCIRMethod", "STCP")
            .with_text("SupportedCIRMethod", "SHTTP")
            .with_text("TCPAddress", "127.0.0.1")
            .with_text("TCPPort", "3171")
            .with(Element::new("CIRURL").with_text("URL", "http://h/cir/x"));
        assert_eq!(tcp_cir_addr(&agreed).as_deref(), Some("127.0.0.1:3171"));
        assert_eq!(http_cir_url(&agreed).as_deref(), Some("http://h/cir/x"));
        assert_eq!(agreed_cir_methods(&agreed), ["STCP", "SHTTP"]);
        let v6 = Element::new("A")
            .with_text("TCPAddress", "::1")
            .with_text("TCPPort", "9");
        assert_eq!(tcp_cir_addr(&v6).as_deref(), Some("[::1]:9"));
    }

    /// A fake CIR server: OK to HELO, a wake-up, OK to PING, then hang up.
    #[tokio::test]
    async fn helo_wakeup_ping_and_close() -> Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await?;
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            let helo = lines.next_line().await?.unwrap_or_default();
            w.write_all(b"OK\r\n").await?;
            // Split a line across two writes: the reader must join them.
            w.write_all(b"WVCI 1.2 ").await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            w.write_all(b"cookie1\r\n").await?;
            let ping = lines.next_line().await?.unwrap_or_default();
            w.write_all(b"WVCI 1.2 cookie2\r\nOK\r\n").await?;
            Ok::<_, std::io::Error>((helo, ping))
        });
        let mut cir = TcpCir::connect(addr, "sess-1").await?;
        let first = cir.next_wakeup(Duration::from_secs(5)).await?;
        assert_eq!(first.as_deref(), Some("WVCI 1.2 cookie1"));
        cir.ping().await?;
        let second = cir.next_wakeup(Duration::from_millis(10)).await?;
        assert_eq!(second.as_deref(), Some("WVCI 1.2 cookie2"));
        let (helo, ping) = server
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))??;
        assert_eq!(helo, "HELO sess-1");
        assert_eq!(ping, "PING ");
        assert!(matches!(
            cir.next_wakeup(Duration::from_secs(5)).await,
            Err(ClientError::Closed)
        ));
        Ok(())
    }

    #[tokio::test]
    async fn unknown_session_is_closed() -> Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Ok((sock, _)) = listener.accept().await {
                drop(sock);
            }
        });
        assert!(matches!(
            TcpCir::connect(addr, "nope").await,
            Err(ClientError::Closed)
        ));
        Ok(())
    }
}
