//! Standalone TCP CIR: the client says `HELO <SessionID>`, we say `OK`,
//! then write `WVCI <version> <cookie>` whenever something waits for it.
//! `PING` gets `OK`. The socket closes when the session ends.
//!
//! Its timeouts are CIR's own: `cir.helo_timeout_secs` until HELO, then
//! the session's keep-alive (a CIR channel is silent by design while
//! nothing waits). It counts toward the connection caps of `conn.rs`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imps_core::Service;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LinesCodec};

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

async fn connection(
    sock: TcpStream,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    helo_timeout: Duration,
) -> anyhow::Result<()> {
    let mut lines = Framed::new(sock, LinesCodec::new_with_max_length(MAX_LINE));
    let first = tokio::time::timeout(helo_timeout, lines.next())
        .await
        .map_err(|_| anyhow::anyhow!("no HELO in time"))?
        .ok_or_else(|| anyhow::anyhow!("closed before HELO"))??;
    let sid = first
        .trim()
        .strip_prefix("HELO ")
        .map(str::trim)
        .ok_or_else(|| anyhow::anyhow!("first line is not HELO"))?
        .to_string();
    let Some(session) = service.sessions().get(&sid) else {
        anyhow::bail!("HELO for an unknown session");
    };
    lines.send("OK\r").await?;
    let mut wake = session.subscribe();
    let mut announced = false;
    loop {
        if session.is_ended() {
            return Ok(());
        }
        // One WVCI per burst: the client polls until Poll=F.
        let pending = session.has_pending();
        if pending && !announced {
            lines.send(format!("{}\r", session.cir_line())).await?;
            Metrics::inc(&metrics.cir_tcp_wakeups);
        }
        announced = pending;
        tokio::select! {
            line = lines.next() => match line {
                Some(Ok(_)) => lines.send("OK\r").await?,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            changed = wake.changed() => {
                if changed.is_err() { return Ok(()); }
                // A new item: announce again even if older ones still wait.
                announced = false;
            }
        }
    }
}
