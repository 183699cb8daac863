//! The ESME client against a scripted SMSC in the test: each test plays
//! the SMSC side by hand (with the same crate's PDU codec), so the client's
//! window, its answers to the SMSC's own requests, its reconnect and the
//! delivery receipts are checked without impsd around it.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::time::Duration;

use imps_smpp::pdu::{Body, CommandId, Pdu, Status, SubmitSm, frame_len};
use imps_smpp::{ClientConfig, DeliveryState, SmppClient, SubmitError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Longest wait for something that must happen.
const MUST: Duration = Duration::from_secs(10);
/// How long "nothing more comes" is watched for.
const QUIET: Duration = Duration::from_millis(300);

fn config(addr: String, window: usize) -> ClientConfig {
    ClientConfig {
        addr,
        system_id: "t".into(),
        password: String::new(),
        system_type: String::new(),
        window,
        // Long: these tests send their own enquire_link.
        enquire_link: Duration::from_secs(600),
        response_timeout: Duration::from_secs(30),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(40),
        throttle_pause: Duration::from_millis(10),
        receipts: None,
    }
}

fn sm(to: &str) -> SubmitSm {
    SubmitSm {
        destination_addr: to.into(),
        short_message: b"x".to_vec(),
        ..SubmitSm::default()
    }
}

/// The SMSC's end of one link.
struct Link {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Link {
    async fn accept(l: &TcpListener) -> Link {
        let (sock, _) = tokio::time::timeout(MUST, l.accept())
            .await
            .expect("the client connects")
            .unwrap();
        Link {
            sock,
            buf: Vec::new(),
        }
    }

    /// The next PDU, or `None` when the client closed or `wait` passed.
    async fn next(&mut self, wait: Duration) -> Option<Pdu> {
        let read = async {
            loop {
                if let Some(len) = frame_len(&self.buf).unwrap()
                    && self.buf.len() >= len
                {
                    let raw: Vec<u8> = self.buf.drain(..len).collect();
                    return Some(Pdu::decode(&raw).unwrap());
                }
                if self.sock.read_buf(&mut self.buf).await.ok()? == 0 {
                    return None;
                }
            }
        };
        tokio::time::timeout(wait, read).await.ok().flatten()
    }

    async fn send(&mut self, p: Pdu) {
        self.sock.write_all(&p.encode()).await.unwrap();
    }

    /// Reads the bind and accepts it; returns its command ID.
    async fn bind(&mut self) -> u32 {
        let b = self.next(MUST).await.expect("a bind");
        let body = match b.body {
            Body::BindTransmitter(_) => Body::BindTransmitterResp {
                system_id: "s".into(),
            },
            Body::BindTransceiver(_) => Body::BindTransceiverResp {
                system_id: "s".into(),
            },
            other => panic!("expected a bind, got {other:?}"),
        };
        let id = b.command_id();
        self.send(Pdu {
            status: Status::OK,
            sequence: b.sequence,
            body,
        })
        .await;
        id
    }
}

async fn smsc() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

#[tokio::test]
async fn no_more_than_the_window_waits_for_an_answer() {
    let (l, addr) = smsc().await;
    let (_stop, stop) = watch::channel(false);
    let client = SmppClient::start(config(addr, 3), stop);
    let mut link = Link::accept(&l).await;
    assert_eq!(link.bind().await, CommandId::BIND_TRANSMITTER);
    let mut sends = Vec::new();
    for i in 0..5 {
        let c = client.clone();
        sends.push(tokio::spawn(async move {
            c.submit(sm(&format!("4670{i}"))).await
        }));
    }
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(link.next(MUST).await.expect("a submit_sm"));
    }
    assert!(
        link.next(QUIET).await.is_none(),
        "a fourth submit before an answer"
    );
    // One answer lets one more through.
    let first = open.remove(0);
    link.send(Pdu {
        status: Status::OK,
        sequence: first.sequence,
        body: Body::SubmitSmResp {
            message_id: "a".into(),
        },
    })
    .await;
    open.push(link.next(MUST).await.expect("the fourth submit_sm"));
    assert!(link.next(QUIET).await.is_none(), "a fifth too early");
    // The rest answered: every caller gets its own message_id.
    for (i, p) in open.iter().enumerate() {
        link.send(Pdu {
            status: Status::OK,
            sequence: p.sequence,
            body: Body::SubmitSmResp {
                message_id: format!("r{i}"),
            },
        })
        .await;
    }
    let last = link.next(MUST).await.expect("the fifth submit_sm");
    link.send(Pdu {
        status: Status::OK,
        sequence: last.sequence,
        body: Body::SubmitSmResp {
            message_id: "z".into(),
        },
    })
    .await;
    let mut ids = Vec::new();
    for s in sends {
        ids.push(s.await.unwrap().unwrap());
    }
    ids.sort();
    assert_eq!(ids, ["a", "r0", "r1", "r2", "z"]);
}

#[tokio::test]
async fn the_smscs_enquire_link_and_unknown_requests_are_answered() {
    let (l, addr) = smsc().await;
    let (_stop, stop) = watch::channel(false);
    let _client = SmppClient::start(config(addr, 1), stop);
    let mut link = Link::accept(&l).await;
    link.bind().await;
    link.send(Pdu::request(77, Body::EnquireLink)).await;
    let r = link.next(MUST).await.expect("enquire_link_resp");
    assert_eq!(
        (r.command_id(), r.sequence, r.status),
        (CommandId::ENQUIRE_LINK_RESP, 77, Status::OK)
    );
    // A request the client does not know: generic_nack, the link stays.
    link.send(Pdu::request(
        78,
        Body::Other {
            command_id: 0x0000_0103,
            body: Vec::new(),
        },
    ))
    .await;
    let r = link.next(MUST).await.expect("generic_nack");
    assert_eq!(
        (r.command_id(), r.sequence, r.status),
        (CommandId::GENERIC_NACK, 78, Status::INVALID_CMD_ID)
    );
}

#[tokio::test]
async fn a_lost_link_fails_what_was_in_flight_for_a_retry_and_binds_again() {
    let (l, addr) = smsc().await;
    let (_stop, stop) = watch::channel(false);
    let client = SmppClient::start(config(addr, 2), stop);
    let mut link = Link::accept(&l).await;
    link.bind().await;
    assert!(client.wait_bound().await);
    let c = client.clone();
    let send = tokio::spawn(async move { c.submit(sm("46701")).await });
    link.next(MUST).await.expect("the submit_sm");
    drop(link); // the SMSC goes away without answering
    let r = tokio::time::timeout(MUST, send).await.unwrap().unwrap();
    assert!(matches!(r, Err(SubmitError::Retry(_))), "{r:?}");
    // It comes back: a new bind, and the retried submit goes through.
    let mut link = Link::accept(&l).await;
    link.bind().await;
    let c = client.clone();
    let send = tokio::spawn(async move { c.submit(sm("46701")).await });
    let p = link.next(MUST).await.expect("the submit_sm again");
    link.send(Pdu {
        status: Status::OK,
        sequence: p.sequence,
        body: Body::SubmitSmResp {
            message_id: "m9".into(),
        },
    })
    .await;
    assert_eq!(send.await.unwrap(), Ok("m9".to_string()));
    // Refused for good: Rejected, not retried.
    let c = client.clone();
    let send = tokio::spawn(async move { c.submit(sm("46702")).await });
    let p = link.next(MUST).await.expect("a third submit_sm");
    link.send(Pdu {
        status: Status::INVALID_DEST_ADDR,
        sequence: p.sequence,
        body: Body::SubmitSmResp {
            message_id: String::new(),
        },
    })
    .await;
    assert_eq!(
        send.await.unwrap(),
        Err(SubmitError::Rejected(Status::INVALID_DEST_ADDR))
    );
}

#[tokio::test]
async fn receipts_come_on_a_transceiver_bind_and_are_answered() {
    let (l, addr) = smsc().await;
    let (_stop, stop) = watch::channel(false);
    let (tx, mut receipts) = mpsc::channel(4);
    let mut cfg = config(addr, 1);
    cfg.receipts = Some(tx);
    let _client = SmppClient::start(cfg, stop);
    let mut link = Link::accept(&l).await;
    assert_eq!(link.bind().await, CommandId::BIND_TRANSCEIVER);
    let receipt = SubmitSm {
        esm_class: 0x04,
        short_message: b"id:m7 sub:001 dlvrd:000 stat:EXPIRED err:001".to_vec(),
        ..SubmitSm::default()
    };
    link.send(Pdu::request(5, Body::DeliverSm(Box::new(receipt))))
        .await;
    // A message from a phone: answered, not a receipt.
    let mo = SubmitSm {
        short_message: b"hello".to_vec(),
        ..SubmitSm::default()
    };
    link.send(Pdu::request(6, Body::DeliverSm(Box::new(mo))))
        .await;
    for seq in [5, 6] {
        let r = link.next(MUST).await.expect("deliver_sm_resp");
        assert_eq!(
            (r.command_id(), r.sequence, r.status),
            (CommandId::DELIVER_SM_RESP, seq, Status::OK)
        );
    }
    let got = tokio::time::timeout(MUST, receipts.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.message_id, "m7");
    assert_eq!(got.state, DeliveryState::Expired);
    assert!(receipts.try_recv().is_err(), "only the receipt");
}
