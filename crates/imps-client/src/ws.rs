//! CSP over WebSocket: requests and their responses share the socket with
//! server pushes. A reader task routes each Response-mode frame to the
//! request waiting for its TransactionID and everything else into a
//! bounded push queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use imps_wire::{Encoding, Limits, Message, TransactionMode, Version};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::Client;
use crate::config::ClientConfig;
use crate::http::header_map;
use crate::transport::Transport;
use crate::{ClientError, Result};

/// Bytes read from the socket at a time.
const WS_READ_BUFFER: usize = 8 * 1024;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Waiters = Mutex<HashMap<String, oneshot::Sender<Message>>>;

/// State the reader task shares with the senders.
#[derive(Default)]
struct Shared {
    waiters: Waiters,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl Shared {
    fn waiters(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Message>>> {
        // Held only for map updates, never across an await.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One WebSocket connection carrying CSP frames.
pub struct WsTransport {
    sink: tokio::sync::Mutex<SplitSink<Socket, Frame>>,
    pushes: tokio::sync::Mutex<mpsc::Receiver<Message>>,
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    encoding: Encoding,
    timeout: Duration,
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Transport for WsTransport {
    async fn send(&self, msg: &Message) -> Result<Option<Message>> {
        let bytes = imps_wire::encode(msg, self.encoding)?;
        let frame = match self.encoding {
            Encoding::Xml => Frame::text(
                String::from_utf8(bytes)
                    .map_err(|e| ClientError::Protocol(format!("XML not UTF-8: {e}")))?,
            ),
            Encoding::Wbxml => Frame::binary(bytes),
        };
        // Only a Request with an ID gets a frame back; register before
        // sending so a fast answer cannot arrive unclaimed.
        let wait_id = msg
            .transactions
            .first()
            .filter(|t| t.mode == TransactionMode::Request)
            .and_then(|t| t.id.clone());
        let rx = wait_id.as_ref().map(|id| {
            let (tx, rx) = oneshot::channel();
            self.shared.waiters().insert(id.clone(), tx);
            rx
        });
        let forget = || {
            if let Some(id) = &wait_id {
                self.shared.waiters().remove(id);
            }
        };
        if self.shared.closed.load(Ordering::Acquire) {
            forget();
            return Err(ClientError::Closed);
        }
        let sent = tokio::time::timeout(self.timeout, async {
            self.sink.lock().await.send(frame).await
        })
        .await;
        match sent {
            Err(_) => {
                forget();
                return Err(ClientError::Timeout);
            }
            Ok(Err(e)) => {
                forget();
                return Err(ClientError::Transport(format!("WebSocket send: {e}")));
            }
            Ok(Ok(())) => {}
        }
        let Some(rx) = rx else { return Ok(None) };
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(m)) => Ok(Some(m)),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                forget();
                Err(ClientError::Timeout)
            }
        }
    }
}

/// A CSP session over WebSocket.
pub type WsClient = Client<WsTransport>;

impl Client<WsTransport> {
    /// Connects with default settings for everything but the URL
    /// (`ws://host:port/imps/ws`), version and encoding.
    pub async fn connect(url: &str, version: Version, encoding: Encoding) -> Result<WsClient> {
        Self::connect_with(ClientConfig::new(url, version, encoding)).await
    }

    /// Connects using a full config (extra headers go on the handshake).
    pub async fn connect_with(config: ClientConfig) -> Result<WsClient> {
        let mut req = config.url.as_str().into_client_request().map_err(|e| {
            ClientError::Transport(format!("invalid WebSocket URL {:?}: {e}", config.url))
        })?;
        req.headers_mut().extend(header_map(&config.extra_headers)?);
        let max = config.limits.max_size;
        // A small read buffer: tungstenite zero-fills the whole free part
        // of it before every read, and CSP frames are small; a larger
        // frame grows it as needed.
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
            .read_buffer_size(WS_READ_BUFFER);
        let connecting = tokio_tungstenite::connect_async_with_config(req, Some(ws_config), true);
        let (socket, _) = tokio::time::timeout(config.timeout, connecting)
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| ClientError::Transport(format!("WebSocket connect: {e}")))?;
        let (sink, stream) = socket.split();
        let shared = Arc::new(Shared::default());
        let (push_tx, push_rx) = mpsc::channel(config.push_queue.max(1));
        let reader = tokio::spawn(read_loop(
            stream,
            Arc::clone(&shared),
            push_tx,
            config.limits.clone(),
        ));
        let transport = WsTransport {
            sink: tokio::sync::Mutex::new(sink),
            pushes: tokio::sync::Mutex::new(push_rx),
            shared,
            reader,
            encoding: config.encoding,
            timeout: config.timeout,
        };
        Ok(Client::with_transport(transport, config))
    }

    /// The next server-originated message, waiting up to `timeout`.
    /// `None` on timeout, or when the socket closed and the queue is empty.
    pub async fn next_push(&self, timeout: Duration) -> Option<Message> {
        let mut rx = self.transport().pushes.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Pushes lost because the queue was full (a test should expect 0).
    pub fn dropped_pushes(&self) -> u64 {
        self.transport().shared.dropped.load(Ordering::Relaxed)
    }

    /// True once the server closed the socket or it failed.
    pub fn is_closed(&self) -> bool {
        self.transport().shared.closed.load(Ordering::Acquire)
    }

    /// Sends a Close frame; the reader ends when the server answers it.
    pub async fn close(&self) -> Result<()> {
        let mut sink = self.transport().sink.lock().await;
        sink.close()
            .await
            .map_err(|e| ClientError::Transport(format!("WebSocket close: {e}")))
    }
}

async fn read_loop(
    mut stream: SplitStream<Socket>,
    shared: Arc<Shared>,
    pushes: mpsc::Sender<Message>,
    limits: Limits,
) {
    while let Some(frame) = stream.next().await {
        let decoded = match frame {
            Ok(Frame::Text(t)) => imps_wire::decode(t.as_bytes(), Encoding::Xml, &limits),
            Ok(Frame::Binary(b)) => imps_wire::decode(&b, Encoding::Wbxml, &limits),
            Ok(Frame::Close(_)) => break,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "WebSocket read failed");
                break;
            }
        };
        match decoded {
            Ok(msg) => route(&shared, &pushes, msg),
            // A request waiting for this frame will time out; the log says why.
            Err(e) => tracing::warn!(error = %e, "undecodable CSP frame from server"),
        }
    }
    shared.closed.store(true, Ordering::Release);
    // Dropping the senders wakes every waiter with "closed".
    shared.waiters().clear();
}

/// A Response for a waiting request goes to it; everything else is a push.
/// When the push queue is full the new push is dropped and counted: the
/// reader must keep reading, or responses behind it would stall too.
fn route(shared: &Shared, pushes: &mpsc::Sender<Message>, msg: Message) {
    let waiter = msg
        .transactions
        .first()
        .filter(|t| t.mode == TransactionMode::Response)
        .and_then(|t| t.id.as_ref())
        .and_then(|id| shared.waiters().remove(id));
    match waiter {
        Some(tx) => {
            // The requester may have timed out meanwhile; nothing to do.
            let _ = tx.send(msg);
        }
        None => {
            if pushes.try_send(msg).is_err() {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("WebSocket push queue full; push dropped");
            }
        }
    }
}
