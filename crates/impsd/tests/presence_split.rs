//! Presence notifications split for a client with a small negotiated
//! message size (GEN-1 presence updates, CFG-1): each part fits, nothing
//! is lost, and a client that negotiated nothing gets one notification.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::presence_common;

use common::TestServer;
use imps_client::{Element, Encoding, Version};
use presence_common::*;

#[tokio::test]
async fn gen_1_presence_notification_split_for_a_2k_client() {
    let srv = TestServer::start().await;
    for (v, e) in [
        (Version::V1_2, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Wbxml),
    ] {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol"]).await;
        let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let big: Vec<Element> = vec![
            attr("StatusText", &"s".repeat(700)),
            attr("Alias", &"a".repeat(600)),
            attr("FreeTextLocation", &"f".repeat(600)),
            Element::new("StatusContent")
                .with_text("Qualifier", "T")
                .with_text("DirectContent", "QUJD".repeat(250))
                .with_text("ContentType", "image/png"),
            attr("UserAvailability", "AVAILABLE"),
        ];
        assert_eq!(update(&alice, big.clone()).await, 200);
        let all = [
            "OnlineStatus",
            "StatusText",
            "Alias",
            "FreeTextLocation",
            "StatusContent",
            "UserAvailability",
        ];
        assert_eq!(grant(&alice, v, &[b, c], &all).await, 200);
        // Bob's client can take 2 KB; Carol negotiated nothing.
        let bob = online(&srv, v, e, b, "phone").await;
        bob.client_capability(&[], Some(2048)).await.unwrap();
        let carol = online(&srv, v, e, c, "phone").await;
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        assert_eq!(subscribe(&carol, v, &[a], None).await, 200);
        let mut parts = Vec::new();
        while let Some(m) = bob.poll().await.unwrap() {
            assert!(
                encoded_len(&m, e) <= 2048,
                "{v} {e:?}: {} bytes",
                encoded_len(&m, e)
            );
            parts.push(m.transactions[0].body.clone());
        }
        assert!(
            notifications(&parts).len() > 1,
            "{v} {e:?}: split into several"
        );
        let mut got = notified_attrs(&parts, a);
        got.sort();
        let mut want: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{v} {e:?}: nothing lost");
        for x in &big {
            assert_eq!(
                last_notified(&parts, a, &x.name),
                Some(x),
                "{v} {e:?}: {} intact",
                x.name
            );
        }
        assert_eq!(
            notifications(&drain(&carol).await).len(),
            1,
            "{v} {e:?}: no limit, one notification"
        );
    }
}

/// Sends `body` and follows SegmentInfo with GetSegment-Request until all
/// parts are read. Returns each part's primitive and each message's size.
async fn fetch_parts(c: &imps_client::HttpClient, body: Element) -> (Vec<Element>, Vec<usize>) {
    use imps_client::Transaction;
    let e = c.config().encoding;
    let send = async |body: Element| {
        let tid = c.next_transaction_id();
        let m = c
            .send_raw(&c.message(Transaction::request(tid.clone(), body)))
            .await
            .unwrap()
            .expect("an answer");
        let size = encoded_len(&m, e);
        let t = m
            .transactions
            .into_iter()
            .find(|t| t.id.as_deref() == Some(tid.as_str()))
            .expect("our response");
        assert!(
            t.body.child("SegmentInfo").is_none(),
            "SegmentInfo belongs in the descriptor"
        );
        (t, size)
    };
    let (first, size) = send(body).await;
    let mut parts = vec![first.body];
    let mut sizes = vec![size];
    let Some(info) = first.segment_info else {
        return (parts, sizes);
    };
    let token = info
        .path(&["SegmentID", "TransactionID"])
        .expect("a segment token")
        .text
        .clone();
    let count = info.child_u64("SegmentCount").expect("SegmentCount");
    for k in 2..=count {
        let req = Element::new("GetSegment-Request").with(
            Element::new("SegmentID")
                .with_text("TransactionID", token.clone())
                .with_text("SegmentReference", k.to_string()),
        );
        let (t, size) = send(req).await;
        assert_eq!(t.body.name, "GetSegment-Response", "{:?}", t.body);
        assert_eq!(common::code_of(&t.body), Some(200));
        let part = t
            .body
            .path(&["SegmentContent"])
            .and_then(|c| c.children.first())
            .expect("SegmentContent holds the part")
            .clone();
        parts.push(part);
        sizes.push(size);
    }
    (parts, sizes)
}

/// GEN-1 (presence updates and attribute lists) for a 1.3 client that
/// negotiated 2 KB (CFG-1): a GetPresence-Response about 40 users and a
/// GetAttributeList-Response with 40 entries come in parts that each fit,
/// join into the whole answer in order, and lose no value; a 1.3 client
/// that negotiated no size gets each in one piece (IOP-1).
#[tokio::test]
async fn gen_1_get_presence_and_attribute_list_in_parts_for_a_2k_client() {
    let srv = TestServer::start().await;
    let v = Version::V1_3;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let t = tag(v, e);
        let labels: Vec<String> = (0..40).map(|i| format!("u{i:02}_")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let ids = users(&srv, &t, &refs).await;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let viewer = users(&srv, &t, &["viewer", "plain"]).await;
        let (vw, plain_id) = (viewer[0].as_str(), viewer[1].as_str());
        // Five of them show the viewer a long StatusText.
        let mut texts = Vec::new();
        for (i, u) in ids.iter().take(5).enumerate() {
            let c = online(&srv, v, e, u, "phone").await;
            let text = format!("{i}").repeat(500);
            assert_eq!(update(&c, vec![attr("StatusText", &text)]).await, 200);
            assert_eq!(grant(&c, v, &[vw, plain_id], &["StatusText"]).await, 200);
            texts.push(text);
            c.logout().await.unwrap();
        }
        let small = online(&srv, v, e, vw, "phone").await;
        small.client_capability(&[], Some(2048)).await.unwrap();
        let plain = online(&srv, v, e, plain_id, "phone").await;

        let mut ask = Element::new("GetPresence-Request");
        ask.children.extend(user_targets(v, &ids));
        let (parts, sizes) = fetch_parts(&small, ask.clone()).await;
        assert!(parts.len() > 1, "{e:?}: {} part(s)", parts.len());
        assert!(sizes.iter().all(|s| *s <= 2048), "{e:?}: {sizes:?}");
        let presences: Vec<&Element> = parts
            .iter()
            .inspect(|p| assert_eq!(p.name, "GetPresence-Response"))
            .flat_map(|p| p.children_named("Presence"))
            .collect();
        let got: Vec<&str> = presences
            .iter()
            .filter_map(|p| p.child_text("UserID"))
            .collect();
        let want: Vec<String> = ids.iter().map(|u| wire(u)).collect();
        assert_eq!(got, want, "{e:?}: every user once, in order");
        for (i, text) in texts.iter().enumerate() {
            let sub = presences[i].child("PresenceSubList").unwrap();
            assert_eq!(value_of(sub, "StatusText"), Some(text.as_str()), "{e:?}");
        }
        for p in &presences[5..] {
            let sub = p.child("PresenceSubList");
            assert!(
                sub.is_none_or(|s| s.child("StatusText").is_none()),
                "{e:?}: nothing ungranted"
            );
        }
        // Without a negotiated size: one whole answer.
        let (whole, _) = fetch_parts(&plain, ask).await;
        assert_eq!(whole.len(), 1, "{e:?}");
        assert_eq!(whole[0].children_named("Presence").count(), 40);

        // The viewer's own attribute list naming all 40 users.
        let mut req = Element::new("CreateAttributeList-Request").with(names(&["Alias"]));
        req.children.extend(attr_list_users(v, &ids));
        req = req.with_text("DefaultList", "F");
        assert_eq!(
            common::code_of(&small.request(req).await.unwrap()),
            Some(200)
        );
        let (parts, sizes) = fetch_parts(&small, Element::new("GetAttributeList-Request")).await;
        assert!(parts.len() > 1, "{e:?}: attribute list in parts");
        assert!(sizes.iter().all(|s| *s <= 2048), "{e:?}: {sizes:?}");
        let listed: Vec<&str> = parts
            .iter()
            .flat_map(|p| p.children_named("Presence"))
            .filter_map(|p| p.child_text("UserID"))
            .collect();
        assert_eq!(listed, want, "{e:?}: the whole attribute list");
        small.logout().await.unwrap();
        plain.logout().await.unwrap();
    }
}

/// A second handle on the running server's store, for setup that is not
/// under test (many watchers, many pending requests).
fn store(srv: &TestServer) -> std::sync::Arc<dyn imps_core::Store> {
    srv.store()
}

/// GEN-1 (watcher list) for a 1.3 client that negotiated 2 KB: 150
/// current and former subscribers (written into the store before the
/// owner's state is loaded) and two watchers made through the protocol
/// (a live subscription, a GetPresence without one) come back in parts
/// that each fit; their union is the whole list a client without a size
/// limit gets in one answer, and WatcherCount is the total.
#[tokio::test]
async fn gen_1_watcher_list_fetched_in_parts() {
    use imps_core::store::SubscriptionRecord;
    let srv = TestServer::start().await;
    let v = Version::V1_3;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let t = tag(v, e);
        let owner = users(&srv, &t, &["alice"]).await.remove(0);
        let labels: Vec<String> = (0..150).map(|i| format!("w{i:03}_")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let seeded = users(&srv, &t, &refs).await;
        let live = users(&srv, &t, &["subscriber", "reader"]).await;
        let subs = seeded
            .iter()
            .enumerate()
            .map(|(i, w)| SubscriptionRecord {
                owner: owner.clone(),
                watcher: w.clone(),
                attrs: None,
                active: i % 3 != 0,
                updated_ms: 1,
            })
            .collect();
        store(&srv).put_subscriptions(subs).await.unwrap();
        let alice = online(&srv, v, e, &owner, "phone").await;
        alice.client_capability(&[], Some(2048)).await.unwrap();
        let whole = online(&srv, v, e, &owner, "laptop").await;
        assert_eq!(
            grant(&alice, v, &[&live[0], &live[1]], &["OnlineStatus"]).await,
            200
        );
        let sub = online(&srv, v, e, &live[0], "phone").await;
        assert_eq!(subscribe(&sub, v, &[&owner], None).await, 200);
        let reader = online(&srv, v, e, &live[1], "phone").await;
        get_presence(&reader, v, &owner).await;

        let mut want: Vec<(String, String)> = seeded
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let status = if i % 3 != 0 { "CURRENT" } else { "FORMER" };
                (wire(w), format!("{status}_SUBSCRIBER"))
            })
            .collect();
        want.push((wire(&live[0]), "CURRENT_SUBSCRIBER".into()));
        want.push((wire(&live[1]), "PRESENCE_ACCESS".into()));
        want.sort();
        let watchers = |parts: &[Element]| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = parts
                .iter()
                .inspect(|p| assert_eq!(p.name, "GetWatcherList-Response", "{p:?}"))
                .flat_map(|p| p.children_named("Watcher"))
                .map(|w| {
                    (
                        w.child_text("UserID").unwrap_or_default().to_string(),
                        w.child_text("WatcherStatus")
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let (parts, sizes) = fetch_parts(&alice, Element::new("GetWatcherList-Request")).await;
        assert!(parts.len() > 5, "{e:?}: {} part(s)", parts.len());
        assert!(sizes.iter().all(|s| *s <= 2048), "{e:?}: {sizes:?}");
        assert_eq!(parts[0].child_u64("WatcherCount"), Some(152), "{e:?}");
        let got = watchers(&parts);
        assert_eq!(got, want, "{e:?}: every watcher once, none lost");
        assert!(
            parts
                .iter()
                .flat_map(|p| p.children_named("Watcher"))
                .all(|w| w.child_text("FriendlyName").is_some()),
            "{e:?}: each entry whole, FriendlyName included"
        );
        let (one, _) = fetch_parts(&whole, Element::new("GetWatcherList-Request")).await;
        assert_eq!(one.len(), 1, "{e:?}: no size asked, one answer");
        assert_eq!(watchers(&one), got, "{e:?}");
        for c in [alice, whole, sub, reader] {
            c.logout().await.unwrap();
        }
    }
}

/// GEN-1 (authorization list) for a 1.3 client that negotiated 2 KB: 150
/// reactive authorization records (pending, granted, denied; written into
/// the store before the owner's state is loaded) and one request made
/// through the protocol (a subscription by a user the owner has not
/// authorized) come back from GetReactiveAuthStatus in parts that each
/// fit; their union is the whole list, each state intact.
#[tokio::test]
async fn gen_1_reactive_auth_status_fetched_in_parts() {
    use imps_core::store::{AuthChange, ReactiveRecord, ReactiveState};
    let srv = TestServer::start().await;
    let v = Version::V1_3;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let t = tag(v, e);
        let owner = users(&srv, &t, &["alice"]).await.remove(0);
        let labels: Vec<String> = (0..150).map(|i| format!("asker{i:03}_")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let seeded = users(&srv, &t, &refs).await;
        let stranger = users(&srv, &t, &["stranger"]).await.remove(0);
        let state = |i: usize| match i % 5 {
            0 => ReactiveState::Granted,
            1 => ReactiveState::Denied,
            _ => ReactiveState::Pending,
        };
        let change = AuthChange {
            put_reactive: seeded
                .iter()
                .enumerate()
                .map(|(i, w)| ReactiveRecord {
                    watcher: w.clone(),
                    state: state(i),
                    attrs: None,
                    updated_ms: 1,
                })
                .collect(),
            ..AuthChange::default()
        };
        store(&srv)
            .update_presence_auth(&owner, change)
            .await
            .unwrap();
        let alice = online(&srv, v, e, &owner, "phone").await;
        alice.client_capability(&[], Some(2048)).await.unwrap();
        let whole = online(&srv, v, e, &owner, "laptop").await;
        let s = online(&srv, v, e, &stranger, "phone").await;
        assert_eq!(subscribe(&s, v, &[&owner], None).await, 200);

        let mut want: Vec<(String, String)> = seeded
            .iter()
            .enumerate()
            .map(|(i, w)| (wire(w), state(i).as_str().to_string()))
            .collect();
        want.push((wire(&stranger), "PENDING".into()));
        want.sort();
        let states = |parts: &[Element]| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = parts
                .iter()
                .inspect(|p| {
                    assert_eq!(p.name, "GetReactiveAuthStatus-Response", "{p:?}");
                    assert_eq!(
                        p.path(&["Result", "Code"]).map(|c| c.text.as_str()),
                        Some("200")
                    );
                })
                .filter_map(|p| p.child("ReactiveAuthStatusList"))
                .flat_map(|l| l.children_named("ReactiveAuthStatus"))
                .map(|r| {
                    (
                        r.child_text("UserID").unwrap_or_default().to_string(),
                        r.child_text("ReactiveAuthState")
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let ask = Element::new("GetReactiveAuthStatus-Request");
        let (parts, sizes) = fetch_parts(&alice, ask.clone()).await;
        assert!(parts.len() > 2, "{e:?}: {} part(s)", parts.len());
        assert!(sizes.iter().all(|s| *s <= 2048), "{e:?}: {sizes:?}");
        let got = states(&parts);
        assert_eq!(got, want, "{e:?}: every request once, state intact");
        let (one, _) = fetch_parts(&whole, ask).await;
        assert_eq!(one.len(), 1, "{e:?}: no size asked, one answer");
        assert_eq!(states(&one), got, "{e:?}");
        for c in [alice, whole, s] {
            c.logout().await.unwrap();
        }
    }
}
