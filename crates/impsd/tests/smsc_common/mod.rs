//! A test SMSC: an SMPP 3.4 server started by the test, written with the
//! server side of `imps_smpp::pdu`. It answers bind_transmitter,
//! bind_transceiver, submit_sm, enquire_link and unbind, sends delivery
//! receipts on request, records every PDU it received with
//! its exact bytes, can answer the next submits ESME_RTHROTTLED, and can
//! be stopped (listener and links closed) and started again on the same
//! port.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use imps_smpp::pdu::{Body, Pdu, Status, SubmitSm, frame_len};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One PDU as received: its bytes and what they decode to.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: Vec<u8>,
    pub pdu: Pdu,
}

impl Received {
    pub fn submit(&self) -> &SubmitSm {
        match &self.pdu.body {
            Body::SubmitSm(s) => s,
            other => panic!("not a submit_sm: {other:?}"),
        }
    }
}

#[derive(Default)]
struct State {
    received: std::sync::Mutex<Vec<Received>>,
    throttle: AtomicU32,
    /// Milliseconds each accepted submit_sm waits for its answer.
    submit_delay_ms: AtomicU64,
    /// PDUs to send on the newest link (delivery receipts).
    to_esme: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>>,
}

pub struct TestSmsc {
    addr: SocketAddr,
    state: Arc<State>,
    /// Counts received PDUs; waits end on its changes.
    count: watch::Sender<usize>,
    tasks: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl TestSmsc {
    pub async fn start() -> TestSmsc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut smsc = TestSmsc {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            count: watch::channel(0).0,
            tasks: Arc::default(),
        };
        smsc.serve(listener);
        smsc
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = self.state.clone();
        let count = self.count.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let conn = tokio::spawn(link(sock, state.clone(), count.clone()));
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// An outage: the listener and every link close at once.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Back on the same port.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Sends a delivery receipt for `message_id` on the newest link, in
    /// the text form with the state word `stat` (DELIVRD, UNDELIV, ...).
    pub fn send_receipt(&self, sequence: u32, message_id: &str, stat: &str) {
        let sm = SubmitSm {
            esm_class: 0x04,
            short_message: format!(
                "id:{message_id} sub:001 dlvrd:001 submit date:2612051900 done date:2612051901 stat:{stat} err:000 text:"
            )
            .into_bytes(),
            ..SubmitSm::default()
        };
        let pdu = Pdu::request(sequence, Body::DeliverSm(Box::new(sm)));
        let tx = self.state.to_esme.lock().unwrap().clone();
        tx.expect("a link to send on")
            .send(pdu.encode())
            .expect("the link is open");
    }

    /// Answer the next `n` submit_sm with ESME_RTHROTTLED.
    pub fn throttle_next(&self, n: u32) {
        self.state.throttle.store(n, Ordering::SeqCst);
    }

    /// A slow SMSC: from now on each accepted submit_sm is answered
    /// `delay` after it came (the link answers one at a time).
    pub fn slow_submits(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.submit_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The submit_sm accepted so far (not those answered THROTTLED).
    pub fn submits(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| matches!(r.pdu.body, Body::SubmitSm(_)) && r.pdu.status == u32::MAX)
            .collect()
    }

    /// PDUs of one command received so far.
    pub fn of(&self, command_id: u32) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.pdu.command_id() == command_id)
            .collect()
    }

    /// Waits until `check` holds over what was received; panics after 15 s.
    pub async fn wait(&self, what: &str, check: impl Fn(&TestSmsc) -> bool) {
        let mut rx = self.count.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !check(self) {
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                panic!(
                    "test SMSC: no {what} within 15 s; got {:#?}",
                    self.received()
                );
            }
        }
    }

    /// Waits until at least `n` submit_sm were accepted; returns them.
    pub async fn wait_submits(&self, n: usize) -> Vec<Received> {
        self.wait(&format!("{n} submit_sm"), |s| s.submits().len() >= n)
            .await;
        self.submits()
    }
}

impl Drop for TestSmsc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One ESME link. Accepted submits are recorded with status `u32::MAX`
/// as a mark (the request's own status is always 0), throttled ones as
/// they came.
async fn link(mut sock: TcpStream, state: Arc<State>, count: watch::Sender<usize>) {
    let mut buf = Vec::new();
    let mut next_id = 0u64;
    let (tx, mut to_esme) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    *state.to_esme.lock().unwrap() = Some(tx);
    loop {
        let len = loop {
            match frame_len(&buf) {
                Ok(Some(l)) if buf.len() >= l => break l,
                Ok(_) => {}
                Err(e) => panic!("test SMSC: bad frame: {e}"),
            }
            tokio::select! {
                r = sock.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                Some(out) = to_esme.recv() => {
                    if sock.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
        };
        let raw: Vec<u8> = buf.drain(..len).collect();
        let mut pdu = Pdu::decode(&raw).unwrap_or_else(|e| panic!("test SMSC: {e}: {raw:02x?}"));
        // The ESME's answer to a receipt: recorded, not answered.
        if matches!(pdu.body, Body::DeliverSmResp { .. }) {
            state.received.lock().unwrap().push(Received { raw, pdu });
            count.send_modify(|n| *n += 1);
            continue;
        }
        let (status, body, close) = match &pdu.body {
            Body::BindTransmitter(_) => (
                Status::OK,
                Body::BindTransmitterResp {
                    system_id: "testsmsc".into(),
                },
                false,
            ),
            Body::SubmitSm(_) => {
                let throttled = state
                    .throttle
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if throttled {
                    (
                        Status::THROTTLED,
                        Body::SubmitSmResp {
                            message_id: String::new(),
                        },
                        false,
                    )
                } else {
                    pdu.status = u32::MAX;
                    next_id += 1;
                    (
                        Status::OK,
                        Body::SubmitSmResp {
                            message_id: format!("m{next_id}"),
                        },
                        false,
                    )
                }
            }
            Body::BindTransceiver(_) => (
                Status::OK,
                Body::BindTransceiverResp {
                    system_id: "testsmsc".into(),
                },
                false,
            ),
            Body::EnquireLink => (Status::OK, Body::EnquireLinkResp, false),
            Body::Unbind => (Status::OK, Body::UnbindResp, true),
            _ => (Status::INVALID_CMD_ID, Body::GenericNack, false),
        };
        let sequence = pdu.sequence;
        let accepted = pdu.status == u32::MAX;
        state.received.lock().unwrap().push(Received { raw, pdu });
        count.send_modify(|n| *n += 1);
        let delay = state.submit_delay_ms.load(Ordering::SeqCst);
        if accepted && delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let answer = Pdu {
            status,
            sequence,
            body,
        };
        if sock.write_all(&answer.encode()).await.is_err() || close {
            return;
        }
    }
}
