//! Standalone TCP CIR: the client says `HELO <SessionID>`, we say `OK`,
//! then write `WVCI <version> <cookie>` whenever something waits for it.
//! `PING` gets `OK`. The socket closes when the session ends.
//!
//! Its timeouts are CIR's own: `cir.helo_timeout_secs` until HELO, then
//! the session's keep-alive (a CIR channel is silent by design while
//! nothing waits). It counts toward the connection caps of `conn.rs`.

use std::sync::Arc;
use std::time::Duration;

use imps_core::Service;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

/// Longest line a CIR client may send.
const MAX_LINE: usize = 512;

pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    helo_timeout: Duration,
    gate: Arc<crate::conn::Gate>,
) {
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                // Under the same caps as the HTTP connections; over them,
                // closed at once.
                let Some(admitted) = gate.admit(peer) else {
                    tracing::debug!(%peer, "TCP CIR connection over the cap; closed");
                    continue;
                };
                Metrics::inc(&metrics.cir_tcp_connections);
                let service = service.clone();
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let _admitted = admitted;
                    if let Err(e) = connection(sock, service, metrics, helo_timeout).await {
                        tracing::debug!(%peer, error = %e, "TCP CIR connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "TCP CIR accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One CIR connection's lines. It keeps no buffer while idle (issue 19:
/// a phone's channel sits silent for hours): bytes are read into a
/// buffer on the stack, and only a line not yet ended is kept (at most
/// `MAX_LINE` bytes), its buffer released when the line ends.
struct Lines {
    sock: TcpStream,
    partial: Vec<u8>,
    ready: std::collections::VecDeque<String>,
}

impl Lines {
    fn new(sock: TcpStream) -> Lines {
        Lines {
            sock,
            partial: Vec::new(),
            ready: std::collections::VecDeque::new(),
        }
    }

    /// The next line without its CR LF; `None` when the client closed.
    /// Cancel-safe: what was read stays for the next call.
    async fn next(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                if self.ready.is_empty() {
                    self.ready = std::collections::VecDeque::new();
                }
                return Ok(Some(line));
            }
            self.sock.readable().await?;
            // Not held across an await, so not part of the task's state.
            let mut chunk = [0u8; 256];
            match self.sock.try_read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.take(&chunk[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        for part in bytes.split_inclusive(|b| *b == b'\n') {
            self.partial.extend_from_slice(part);
            if self.partial.len() > MAX_LINE + 2 {
                anyhow::bail!("CIR line longer than {MAX_LINE} bytes");
            }
            if self.partial.last() == Some(&b'\n') {
                let line = std::mem::take(&mut self.partial);
                let text = String::from_utf8_lossy(&line);
                self.ready
                    .push_back(text.trim_end_matches(['\r', '\n']).to_string());
            }
        }
        Ok(())
    }

    /// Writes `line` and its CR LF in one write (one system call, one
    /// segment): a wake-up per message on the phone path.
    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.sock.write_all(&bytes).await
    }
}

async fn connection(
    sock: TcpStream,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    helo_timeout: Duration,
) -> anyhow::Result<()> {
    let mut lines = Lines::new(sock);
    let first = tokio::time::timeout(helo_timeout, lines.next())
        .await
        .map_err(|_| anyhow::anyhow!("no HELO in time"))??
        .ok_or_else(|| anyhow::anyhow!("closed before HELO"))?;
    let sid = first
        .trim()
        .strip_prefix("HELO ")
        .map(str::trim)
        .ok_or_else(|| anyhow::anyhow!("first line is not HELO"))?
        .to_string();
    let Some(session) = service.sessions().get(&sid) else {
        anyhow::bail!("HELO for an unknown session");
    };
    drop(sid);
    lines.send("OK").await?;
    let mut wake = session.subscribe();
    let mut announced = false;
    loop {
        if session.is_ended() {
            return Ok(());
        }
        // One WVCI per burst: the client polls until Poll=F.
        let pending = session.has_pending();
        if pending && !announced {
            lines.send(&session.cir_line()).await?;
            Metrics::inc(&metrics.cir_tcp_wakeups);
        }
        announced = pending;
        tokio::select! {
            line = lines.next() => match line? {
                Some(_) => lines.send("OK").await?,
                None => return Ok(()),
            },
            () = wake.changed() => {
                // A new item: announce again even if older ones still wait.
                announced = false;
            }
        }
    }
}
