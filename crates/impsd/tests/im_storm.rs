//! A message storm with receivers in all three delivery modes (issue 14):
//! push over HTTP polling, notify/get, and push over WebSocket. Four
//! senders send to six receivers at once while the receivers misbehave
//! the way real clients and networks do:
//! - push receivers leave some messages unacknowledged (offered again);
//! - notify/get receivers "lose" some GetMessage answers (fetched, never
//!   acknowledged, so they come back) and list what waits now and then;
//! - WebSocket receivers drop their connection halfway, with messages
//!   unacknowledged, and log in again.
//!
//! At the end, for every receiver: nothing lost (every message sent with
//! 200 arrived), nothing duplicated under another MessageID, and each
//! sender's messages first offered in the order sent. Bounded: each
//! receiver gives up after a deadline and the test then fails.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{ClientConfig, Element, Encoding, HttpClient, Version, WsClient};

const SENDERS: usize = 4;
const PER_PAIR: usize = 30;
const DEADLINE: Duration = Duration::from_secs(90);

/// What one receiver saw: (sender, n) -> MessageIDs it came under, and
/// the order in which (sender, n) were first offered.
#[derive(Default)]
struct Seen {
    ids: BTreeMap<(usize, usize), Vec<String>>,
    first_offer: Vec<String>,
    by_id: HashMap<String, (usize, usize)>,
}

impl Seen {
    fn offered(&mut self, id: &str) {
        if !self.first_offer.iter().any(|x| x == id) {
            self.first_offer.push(id.to_string());
        }
    }

    fn content(&mut self, id: &str, text: &str) {
        let (s, n) = parse(text);
        let ids = self.ids.entry((s, n)).or_default();
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
        self.by_id.insert(id.to_string(), (s, n));
    }

    fn complete(&self) -> bool {
        self.ids.len() == SENDERS * PER_PAIR
    }
}

fn parse(text: &str) -> (usize, usize) {
    let mut it = text.split(' ');
    let s = it.next().unwrap().trim_start_matches('s').parse().unwrap();
    let n = it.next().unwrap().parse().unwrap();
    (s, n)
}

fn receivers() -> Vec<String> {
    ["rp0", "rp1", "rn0", "rn1", "rw0", "rw1"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Sends PER_PAIR messages to every receiver, in order, each with its
/// own client MessageID so that a retry is recognised.
async fn sender(srv: &TestServer, i: usize) {
    let me = format!("s{i}");
    let c = online(srv, Version::V1_3, Encoding::Wbxml, &me, "phone").await;
    for n in 0..PER_PAIR {
        for r in receivers() {
            let req = with_info(
                text_to(&me, &[r.as_str()], &format!("s{i} {n}")),
                vec![Element::text("MessageID", format!("{me}-{r}-{n}"))],
            );
            loop {
                match c.request(req.clone()).await {
                    Ok(resp) if code_of(&resp) == Some(200) => break,
                    Ok(resp) => panic!("{me} -> {r} #{n}: {resp:?}"),
                    Err(_) => continue,
                }
            }
        }
    }
    c.logout().await.unwrap();
}

/// Push over HTTP: every fifth NewMessage is left unacknowledged the
/// first time (it comes again after `redeliver_secs`).
async fn push_receiver(srv: &TestServer, user: &str) -> Seen {
    let c = online(srv, Version::V1_2, Encoding::Xml, user, "phone").await;
    let mut seen = Seen::default();
    let mut k = 0;
    let end = Instant::now() + DEADLINE;
    while !seen.complete() && Instant::now() < end {
        let Some((tid, body)) = next_request(&c, 2).await else {
            continue;
        };
        if body.name != "NewMessage" {
            c.answer_status(&tid).await.unwrap();
            continue;
        }
        let id = msg_id(&body);
        seen.offered(&id);
        seen.content(&id, &content(&body));
        k += 1;
        if k % 5 != 0 {
            ack(&c, &tid, &id).await;
        }
    }
    c.logout().await.unwrap();
    seen
}

/// Notify/get: every fourth GetMessage answer is "lost" (no
/// MessageDelivered follows, so the message stays and is notified again);
/// every tenth notification the receiver also lists what waits.
async fn notify_receiver(srv: &TestServer, user: &str) -> Seen {
    let c: HttpClient = srv.client(Version::V1_3, Encoding::Wbxml, "phone");
    online_with(&c, user, caps("N")).await;
    let mut seen = Seen::default();
    let mut k = 0;
    let end = Instant::now() + DEADLINE;
    while !seen.complete() && Instant::now() < end {
        let Some((tid, body)) = next_request(&c, 2).await else {
            continue;
        };
        c.answer_status(&tid).await.unwrap();
        if body.name != "MessageNotification" {
            continue;
        }
        let id = msg_id(&body);
        seen.offered(&id);
        k += 1;
        if k % 10 == 0 {
            let list = c
                .request(Element::new("GetMessageList-Request"))
                .await
                .unwrap();
            assert_eq!(list.name, "GetMessageList-Response", "{list:?}");
        }
        let got = c
            .request(Element::new("GetMessage-Request").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        if got.name != "GetMessage-Response" {
            // Acknowledged before (a repeat notification): nothing to do.
            assert_eq!(code_of(&got), Some(426), "{got:?}");
            continue;
        }
        if k % 4 == 0 {
            continue; // the answer was "lost"
        }
        seen.content(&id, &content(&got));
        let d = c
            .request(Element::new("MessageDelivered").with_text("MessageID", id))
            .await
            .unwrap();
        assert_eq!(code_of(&d), Some(200), "{d:?}");
    }
    c.logout().await.unwrap();
    seen
}

/// A WebSocket session of `user` under its own ClientID (the dropped
/// session stays until it times out, and a ClientID is one session).
async fn ws_online(srv: &TestServer, user: &str, client: &str) -> WsClient {
    let cfg = ClientConfig::new(srv.ws_url(), Version::V1_3, Encoding::Xml)
        .with_client_id(format!("{user}-{client}"));
    let ws = WsClient::connect_with(cfg).await.unwrap();
    online_with(&ws, user, caps("P")).await;
    ws
}

/// Push over WebSocket: after a third of the messages the connection is
/// dropped with the last one unacknowledged, and the user logs in again
/// on a new connection.
async fn ws_receiver(srv: &TestServer, user: &str) -> Seen {
    let mut ws = ws_online(srv, user, "first").await;
    let mut seen = Seen::default();
    let mut k = 0;
    let mut dropped = false;
    let end = Instant::now() + DEADLINE;
    while !seen.complete() && Instant::now() < end {
        let Some(m) = ws.next_push(Duration::from_secs(2)).await else {
            continue;
        };
        let t = &m.transactions[0];
        let tid = t.id.clone().unwrap_or_default();
        if t.body.name != "NewMessage" {
            ws.answer_status(&tid).await.unwrap();
            continue;
        }
        let id = msg_id(&t.body);
        seen.offered(&id);
        seen.content(&id, &content(&t.body));
        k += 1;
        if !dropped && k == SENDERS * PER_PAIR / 3 {
            dropped = true;
            drop(ws);
            ws = ws_online(srv, user, "second").await;
            continue;
        }
        ack(&ws, &tid, &id).await;
    }
    ws.logout().await.unwrap();
    seen
}

fn check(user: &str, seen: &Seen, pending: u64) {
    let missing: Vec<(usize, usize)> = (0..SENDERS)
        .flat_map(|s| (0..PER_PAIR).map(move |n| (s, n)))
        .filter(|k| !seen.ids.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{user}: missing {missing:?} ({pending} still stored for them)"
    );
    assert_eq!(
        seen.ids.len(),
        SENDERS * PER_PAIR,
        "{user}: lost {} messages",
        SENDERS * PER_PAIR - seen.ids.len()
    );
    for (key, ids) in &seen.ids {
        assert_eq!(
            ids.len(),
            1,
            "{user}: {key:?} came under several IDs {ids:?}"
        );
    }
    // Each sender's messages were first offered in the order sent.
    let mut last: HashMap<usize, usize> = HashMap::new();
    for id in &seen.first_offer {
        let Some(&(s, n)) = seen.by_id.get(id) else {
            continue;
        };
        if let Some(&prev) = last.get(&s) {
            assert!(n > prev, "{user}: s{s} {n} offered after s{s} {prev}");
        }
        last.insert(s, n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_im_storm_loses_nothing_in_push_notify_get_and_websocket_modes() {
    let srv = TestServer::start_with(|c| {
        c.im.send_rate_per_sec = 0;
        c.im.redeliver_secs = 1;
        c.limits.max_connections_per_address = 0;
    })
    .await;
    for i in 0..SENDERS {
        add_user(&srv, &format!("s{i}"), None, None).await;
    }
    for r in receivers() {
        add_user(&srv, &r, None, None).await;
    }
    let senders = futures_util::future::join_all((0..SENDERS).map(|i| sender(&srv, i)));
    let (_, rp0, rp1, rn0, rn1, rw0, rw1) = tokio::join!(
        senders,
        push_receiver(&srv, "rp0"),
        push_receiver(&srv, "rp1"),
        notify_receiver(&srv, "rn0"),
        notify_receiver(&srv, "rn1"),
        ws_receiver(&srv, "rw0"),
        ws_receiver(&srv, "rw1"),
    );
    for (user, seen) in [
        ("rp0", &rp0),
        ("rp1", &rp1),
        ("rn0", &rn0),
        ("rn1", &rn1),
        ("rw0", &rw0),
        ("rw1", &rw1),
    ] {
        let pending = srv.store().pending_count(user).await.unwrap();
        check(user, seen, pending);
    }
}
