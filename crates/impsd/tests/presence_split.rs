//! Presence notifications split for a client with a small negotiated
//! message size (GEN-1 presence updates, CFG-1): each part fits, nothing
//! is lost, and a client that negotiated nothing gets one notification.

mod common;
mod presence_common;

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
