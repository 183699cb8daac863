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
