//! An ESME bound as transmitter (or as transceiver when delivery receipts
//! are read: they come back as deliver_sm, which a transmitter bind never
//! gets): one task owns the TCP connection to the
//! SMSC, binds, keeps the link alive with enquire_link, and sends the
//! submit_sm jobs handed to [`SmppClient::submit`], at most `window` of
//! them waiting for their response at once. When the link fails it fails
//! what was in flight (the caller retries), and reconnects with a back-off
//! that doubles from `reconnect_min` to `reconnect_max`. A submit answered
//! ESME_RTHROTTLED pauses sending for `throttle_pause`. Every deliver_sm
//! is answered; the receipts among them go to `receipts`.

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::pdu::{Bind, Body, INTERFACE_VERSION_34, Pdu, PduError, Status, SubmitSm, frame_len};
use crate::receipt::Receipt;

/// How to reach and talk to the SMSC.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` of the SMSC.
    pub addr: String,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    /// Most submits waiting for their response at once.
    pub window: usize,
    /// Period of enquire_link.
    pub enquire_link: Duration,
    /// How long a response may take (bind, submit, enquire_link).
    pub response_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Pause after ESME_RTHROTTLED.
    pub throttle_pause: Duration,
    /// Bind as transceiver and hand the delivery receipts here; `None`
    /// binds as transmitter. A full channel drops receipts (logged): they
    /// inform, nothing waits on them.
    pub receipts: Option<mpsc::Sender<Receipt>>,
}

/// Why a submit did not go through.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The SMSC refused it for good (a bad address, say).
    #[error("the SMSC refused the message: status {0:#010x}")]
    Rejected(u32),
    /// Not sent now (no link, throttled, busy, timed out): try later.
    #[error("not sent now: {0}")]
    Retry(String),
    /// The client has stopped.
    #[error("the SMPP client has stopped")]
    Stopped,
}

#[derive(Debug, Error)]
enum LinkError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad PDU: {0}")]
    Pdu(#[from] PduError),
    #[error("{0}")]
    Protocol(String),
}

struct Job {
    sm: SubmitSm,
    reply: oneshot::Sender<Result<String, SubmitError>>,
}

/// A handle on the client task; cheap to clone.
#[derive(Debug, Clone)]
pub struct SmppClient {
    jobs: mpsc::Sender<Job>,
    bound: watch::Receiver<bool>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl SmppClient {
    /// Starts the task; it runs until `shutdown` turns true (then it
    /// unbinds) or every handle is dropped. Needs a Tokio runtime.
    pub fn start(cfg: ClientConfig, shutdown: watch::Receiver<bool>) -> SmppClient {
        let (jobs, rx) = mpsc::channel(cfg.window.max(1));
        let (bound_tx, bound) = watch::channel(false);
        tokio::spawn(run(cfg, rx, bound_tx, shutdown));
        SmppClient { jobs, bound }
    }

    /// Whether the client is bound now.
    pub fn is_bound(&self) -> bool {
        *self.bound.borrow()
    }

    /// Waits until the client is bound; false when it stopped.
    pub async fn wait_bound(&self) -> bool {
        let mut b = self.bound.clone();
        b.wait_for(|v| *v).await.is_ok()
    }

    /// A receiver that says whether the client is bound.
    pub fn bound_watch(&self) -> watch::Receiver<bool> {
        self.bound.clone()
    }

    /// Sends one submit_sm and waits for its response: the SMSC's
    /// message_id. A caller that stops waiting (drops the future) takes
    /// the job back if it was not written yet.
    pub async fn submit(&self, sm: SubmitSm) -> Result<String, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job { sm, reply })
            .await
            .map_err(|_| SubmitError::Stopped)?;
        rx.await.unwrap_or(Err(SubmitError::Stopped))
    }
}

async fn run(
    cfg: ClientConfig,
    mut jobs: mpsc::Receiver<Job>,
    bound: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = cfg.reconnect_min;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut link = Link {
            cfg: &cfg,
            inflight: HashMap::new(),
            next_seq: 1,
        };
        let res = link
            .serve(&mut jobs, &bound, &mut shutdown, &mut backoff)
            .await;
        let _ = bound.send(false);
        for (_, (_, reply)) in link.inflight.drain() {
            let _ = reply.send(Err(SubmitError::Retry("the SMSC link went down".into())));
        }
        match res {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(smsc = %cfg.addr, error = %e, retry_in = ?backoff, "SMSC link down");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(cfg.reconnect_max.max(cfg.reconnect_min));
    }
}

type Reply = oneshot::Sender<Result<String, SubmitError>>;

struct Link<'a> {
    cfg: &'a ClientConfig,
    /// Submits written and not yet answered: deadline and whom to tell.
    inflight: HashMap<u32, (Instant, Reply)>,
    next_seq: u32,
}

impl Link<'_> {
    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        // Sequence numbers run 1..=0x7FFFFFFF.
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    /// One connection: bind, then serve until it fails (`Err`) or the
    /// client stops (`Ok`).
    async fn serve(
        &mut self,
        jobs: &mut mpsc::Receiver<Job>,
        bound: &watch::Sender<bool>,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Duration,
    ) -> Result<(), LinkError> {
        let t = self.cfg.response_timeout;
        let sock = tokio::time::timeout(t, TcpStream::connect(&self.cfg.addr))
            .await
            .map_err(|_| LinkError::Protocol("connect timed out".into()))??;
        let _ = sock.set_nodelay(true);
        let (mut rd, mut wr) = sock.into_split();
        let mut buf = Vec::with_capacity(1024);
        let bind_seq = self.seq();
        let fields = Bind {
            system_id: self.cfg.system_id.clone(),
            password: self.cfg.password.clone(),
            system_type: self.cfg.system_type.clone(),
            interface_version: INTERFACE_VERSION_34,
            ..Bind::default()
        };
        let transceiver = self.cfg.receipts.is_some();
        let (bind, kind) = if transceiver {
            (Body::BindTransceiver(fields), "transceiver")
        } else {
            (Body::BindTransmitter(fields), "transmitter")
        };
        wr.write_all(&Pdu::request(bind_seq, bind).encode()).await?;
        let resp = tokio::time::timeout(t, read_pdu(&mut rd, &mut buf))
            .await
            .map_err(|_| LinkError::Protocol(format!("no bind_{kind}_resp in time")))??;
        match resp.body {
            Body::BindTransmitterResp { .. } | Body::BindTransceiverResp { .. }
                if resp.sequence == bind_seq
                    && matches!(resp.body, Body::BindTransceiverResp { .. }) == transceiver =>
            {
                if resp.status != Status::OK {
                    return Err(LinkError::Protocol(format!(
                        "bind refused: status {:#010x}",
                        resp.status
                    )));
                }
            }
            other => {
                return Err(LinkError::Protocol(format!(
                    "expected bind_{kind}_resp, got command {:#010x}",
                    other.command_id()
                )));
            }
        }
        tracing::info!(smsc = %self.cfg.addr, "bound to the SMSC as {kind}");
        *backoff = self.cfg.reconnect_min;
        let _ = bound.send(true);

        let mut throttled_until: Option<Instant> = None;
        let mut enquire_due = Instant::now() + self.cfg.enquire_link;
        let mut enquire_wait: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if throttled_until.is_some_and(|u| now >= u) {
                throttled_until = None;
            }
            let can_send =
                self.inflight.len() < self.cfg.window.max(1) && throttled_until.is_none();
            let next_timer = [
                Some(enquire_due),
                enquire_wait,
                throttled_until,
                self.inflight.values().map(|(d, _)| *d).min(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(enquire_due);
            tokio::select! {
                job = jobs.recv(), if can_send => {
                    let Some(job) = job else {
                        unbind(&mut wr, self.seq()).await;
                        return Ok(());
                    };
                    if job.reply.is_closed() {
                        continue;
                    }
                    if let Err(e) = job.sm.check() {
                        let _ = job.reply.send(Err(SubmitError::Rejected(match e {
                            PduError::MessageTooLong(_) => Status::INVALID_MSG_LEN,
                            _ => Status::INVALID_DEST_ADDR,
                        })));
                        continue;
                    }
                    let seq = self.seq();
                    let pdu = Pdu::request(seq, Body::SubmitSm(Box::new(job.sm)));
                    self.inflight.insert(seq, (Instant::now() + t, job.reply));
                    wr.write_all(&pdu.encode()).await?;
                }
                pdu = read_pdu(&mut rd, &mut buf) => {
                    let pdu = pdu?;
                    let is_response = pdu.is_response();
                    match pdu.body {
                        Body::SubmitSmResp { message_id } => {
                            if let Some((_, reply)) = self.inflight.remove(&pdu.sequence) {
                                let r = match pdu.status {
                                    Status::OK => Ok(message_id),
                                    Status::THROTTLED => {
                                        throttled_until = Some(Instant::now() + self.cfg.throttle_pause);
                                        tracing::info!(pause = ?self.cfg.throttle_pause, "SMSC throttles us");
                                        Err(SubmitError::Retry("throttled by the SMSC".into()))
                                    }
                                    s if Status::is_transient(s) => {
                                        Err(SubmitError::Retry(format!("SMSC status {s:#010x}")))
                                    }
                                    s => Err(SubmitError::Rejected(s)),
                                };
                                let _ = reply.send(r);
                            }
                        }
                        Body::GenericNack => {
                            if let Some((_, reply)) = self.inflight.remove(&pdu.sequence) {
                                let _ = reply.send(Err(SubmitError::Retry(format!(
                                    "generic_nack {:#010x}", pdu.status
                                ))));
                            }
                        }
                        Body::EnquireLink => {
                            let r = Pdu { status: Status::OK, sequence: pdu.sequence, body: Body::EnquireLinkResp };
                            wr.write_all(&r.encode()).await?;
                        }
                        Body::EnquireLinkResp => enquire_wait = None,
                        Body::DeliverSm(sm) => {
                            // Answered whatever it is, or the SMSC sends it
                            // again and again.
                            let r = Pdu {
                                status: Status::OK,
                                sequence: pdu.sequence,
                                body: Body::DeliverSmResp { message_id: String::new() },
                            };
                            wr.write_all(&r.encode()).await?;
                            match Receipt::from_deliver_sm(&sm) {
                                Some(receipt) => {
                                    if let Some(tx) = &self.cfg.receipts
                                        && tx.try_send(receipt).is_err()
                                    {
                                        tracing::debug!("delivery receipt dropped: nobody reads them fast enough");
                                    }
                                }
                                None => tracing::debug!(
                                    esm_class = sm.esm_class,
                                    "deliver_sm that is no delivery receipt; answered and ignored"
                                ),
                            }
                        }
                        Body::Unbind => {
                            let r = Pdu { status: Status::OK, sequence: pdu.sequence, body: Body::UnbindResp };
                            let _ = wr.write_all(&r.encode()).await;
                            return Err(LinkError::Protocol("the SMSC unbound".into()));
                        }
                        // Another response (to nothing we sent): ignored.
                        _ if is_response => {}
                        _ => {
                            let r = Pdu { status: Status::INVALID_CMD_ID, sequence: pdu.sequence, body: Body::GenericNack };
                            wr.write_all(&r.encode()).await?;
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_timer) => {
                    let now = Instant::now();
                    if enquire_wait.is_some_and(|w| now >= w) {
                        return Err(LinkError::Protocol("no enquire_link_resp in time".into()));
                    }
                    let late: Vec<u32> = self
                        .inflight
                        .iter()
                        .filter(|(_, (d, _))| now >= *d)
                        .map(|(s, _)| *s)
                        .collect();
                    if !late.is_empty() {
                        // An SMSC that stops answering: start again.
                        return Err(LinkError::Protocol(format!("{} submit(s) unanswered", late.len())));
                    }
                    if now >= enquire_due {
                        let p = Pdu::request(self.seq(), Body::EnquireLink);
                        wr.write_all(&p.encode()).await?;
                        enquire_wait = Some(now + t);
                        enquire_due = now + self.cfg.enquire_link;
                    }
                }
                _ = stopped(shutdown) => {
                    unbind(&mut wr, self.seq()).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone); holds no
/// borrow of the value afterwards.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Best effort: the link is closing anyway.
async fn unbind(wr: &mut OwnedWriteHalf, seq: u32) {
    let _ = wr
        .write_all(&Pdu::request(seq, Body::Unbind).encode())
        .await;
    let _ = wr.shutdown().await;
}

/// Reads one PDU. Cancel-safe: bytes read stay in `buf`.
async fn read_pdu(rd: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> Result<Pdu, LinkError> {
    loop {
        if let Some(len) = frame_len(buf)?
            && buf.len() >= len
        {
            let pdu = Pdu::decode(&buf[..len]);
            buf.drain(..len);
            return Ok(pdu?);
        }
        if rd.read_buf(buf).await? == 0 {
            return Err(LinkError::Protocol("the SMSC closed the connection".into()));
        }
    }
}
