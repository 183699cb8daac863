//! Presence authorization over the real protocol: proactive attribute
//! lists and the reactive round trip (PRR-5), withdrawing from several
//! users at once (PRR-1), location authorized on its own (PRR-UC), nothing
//! disclosed without authorization (PRI-1), and the watcher list.

use crate::common;
use crate::presence_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Version};
use presence_common::*;

fn location() -> Vec<Element> {
    vec![
        Element::new("GeoLocation")
            .with_text("Qualifier", "T")
            .with_text("Longitude", "24.9384")
            .with_text("Latitude", "60.1699"),
        Element::new("Address")
            .with_text("Qualifier", "T")
            .with_text("City", "Helsinki")
            .with_text("Street", "Mannerheimintie"),
        attr("FreeTextLocation", "downtown"),
    ]
}

const LOCATION: [&str; 3] = ["GeoLocation", "Address", "FreeTextLocation"];

#[tokio::test]
async fn prr_5_proactive_grant_reaches_a_waiting_subscriber() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        assert_eq!(
            update(
                &alice,
                vec![attr("StatusText", "hello"), attr("Alias", "Ali")]
            )
            .await,
            200
        );
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        assert!(
            notifications(&drain(&bob).await).is_empty(),
            "{v} {e:?}: not authorized yet"
        );
        drain(&alice).await; // the reactive question; answered proactively below
        assert_eq!(grant(&alice, v, &[b], &["StatusText"]).await, 200);
        let n = drain(&bob).await;
        assert_eq!(notified_attrs(&n, a), ["StatusText"], "{v} {e:?}");
        let list = get_presence(&bob, v, a).await;
        assert_eq!(value_of(&list, "StatusText"), Some("hello"));
        assert!(list.child("Alias").is_none());
        // GetAttributeList shows the grant.
        let r = alice
            .request(Element::new("GetAttributeList-Request"))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200));
        let p = r
            .children_named("Presence")
            .find(|p| p.child_text("UserID") == Some(wire(b).as_str()))
            .unwrap();
        assert!(p.path(&["PresenceSubList", "StatusText"]).is_some());
    }
}

#[tokio::test]
async fn prr_5_reactive_round_trip_with_presence_auth_in_1_2() {
    let srv = TestServer::start().await;
    for (v, e) in [
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_1, Encoding::Xml),
    ] {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol"]).await;
        let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        let carol = online(&srv, v, e, c, "phone").await;
        let mut all = vec![attr("StatusText", "hi"), attr("Alias", "Ali")];
        all.extend(location());
        assert_eq!(update(&alice, all).await, 200);
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        assert_eq!(subscribe(&carol, v, &[a], None).await, 200);
        // Alice is asked, once per watcher, and acknowledges with Status.
        let asked = drain(&alice).await;
        let reqs: Vec<_> = asked
            .iter()
            .filter(|r| r.name == "PresenceAuth-Request")
            .collect();
        assert_eq!(reqs.len(), 2, "{v} {e:?}: {asked:?}");
        assert_eq!(reqs[0].child_text("UserID"), Some(wire(b).as_str()));
        assert!(
            notifications(&drain(&bob).await).is_empty(),
            "nothing before the answer"
        );
        // Bob accepted, Carol denied.
        let answer = |who: &str, ok: bool| {
            Element::new("PresenceAuth-User")
                .with_text("UserID", wire(who))
                .with_text("Acceptance", if ok { "T" } else { "F" })
        };
        assert_eq!(
            code_of(&alice.request(answer(b, true)).await.unwrap()),
            Some(200)
        );
        assert_eq!(
            code_of(&alice.request(answer(c, false)).await.unwrap()),
            Some(200)
        );
        let n = drain(&bob).await;
        let got = notified_attrs(&n, a);
        assert!(
            got.contains(&"StatusText".to_string()) && got.contains(&"OnlineStatus".to_string()),
            "{got:?}"
        );
        assert!(
            LOCATION.iter().all(|l| !got.contains(&l.to_string())),
            "{v} {e:?}: accepting does not grant location"
        );
        assert!(notifications(&drain(&carol).await).is_empty());
        assert_eq!(update(&alice, vec![attr("StatusText", "again")]).await, 200);
        // A snapshot of what bob may see (issue 13), still no location.
        let got = notified_attrs(&drain(&bob).await, a);
        assert!(
            got.contains(&"StatusText".to_string()) && got.contains(&"OnlineStatus".to_string()),
            "{v} {e:?}: {got:?}"
        );
        assert!(
            LOCATION.iter().all(|l| !got.contains(&l.to_string())),
            "{got:?}"
        );
        assert!(
            notifications(&drain(&carol).await).is_empty(),
            "{v} {e:?}: denied gets nothing"
        );
        if v == Version::V1_2 {
            let r = alice
                .request(Element::new("GetReactiveAuthStatus-Request"))
                .await
                .unwrap();
            let states: Vec<(String, String)> = r
                .path(&["ReactiveAuthStatusList"])
                .unwrap()
                .children_named("ReactiveAuthStatus")
                .map(|s| {
                    (
                        s.child_text("UserID").unwrap().to_string(),
                        s.child_text("ReactiveAuthState").unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(
                states,
                [
                    (wire(b), "GRANTED".to_string()),
                    (wire(c), "DENIED".to_string())
                ]
            );
        }
        // CancelAuth withdraws what was accepted.
        let cancel = Element::new("CancelAuth-Request").with_text("UserID", wire(b));
        assert_eq!(code_of(&alice.request(cancel).await.unwrap()), Some(200));
        assert_eq!(update(&alice, vec![attr("StatusText", "gone")]).await, 200);
        assert!(
            notifications(&drain(&bob).await).is_empty(),
            "{v} {e:?}: cancelled"
        );
    }
}

#[tokio::test]
async fn prr_5_reactive_in_1_3_asks_with_anu_and_is_answered_by_an_attribute_list() {
    let srv = TestServer::start().await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let v = Version::V1_3;
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let bob = online(&srv, v, e, b, "phone").await;
        // Alice is offline when Bob subscribes: she is asked at login.
        assert_eq!(
            subscribe(&bob, v, &[a], Some(&["StatusText", "OnlineStatus"])).await,
            200
        );
        let alice = online(&srv, v, e, a, "phone").await;
        let asked = drain(&alice).await;
        let q = asked
            .iter()
            .find(|r| r.name == "Notification-Request")
            .expect("asked at login");
        assert_eq!(q.child_text("NotificationType"), Some("ANU"));
        assert_eq!(
            q.path(&["UserIDList", "UserID"]).map(|u| u.text.as_str()),
            Some(wire(b).as_str())
        );
        assert_eq!(update(&alice, vec![attr("StatusText", "ok")]).await, 200);
        assert!(notifications(&drain(&bob).await).is_empty());
        assert_eq!(
            grant(&alice, v, &[b], &["StatusText", "OnlineStatus"]).await,
            200
        );
        let n = drain(&bob).await;
        assert_eq!(
            last_notified(&n, a, "StatusText").and_then(|s| s.child_text("PresenceValue")),
            Some("ok")
        );
    }
}

#[tokio::test]
async fn prr_1_withdraw_three_users_in_one_request() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol", "dave", "erin"]).await;
        let a = ids[0].as_str();
        let watchers = [ids[1].as_str(), ids[2].as_str(), ids[3].as_str()];
        let erin = ids[4].as_str();
        let alice = online(&srv, v, e, a, "phone").await;
        let mut everyone = watchers.to_vec();
        everyone.push(erin);
        assert_eq!(
            grant(&alice, v, &everyone, &["OnlineStatus", "StatusText"]).await,
            200
        );
        let mut clients = Vec::new();
        for w in &everyone {
            let c = online(&srv, v, e, w, "phone").await;
            assert_eq!(subscribe(&c, v, &[a], None).await, 200);
            drain(&c).await;
            clients.push(c);
        }
        // One request withdraws three of the four.
        let mut del = Element::new("DeleteAttributeList-Request");
        del.children.extend(attr_list_users(v, &watchers));
        del = del.with_text("DefaultList", "F");
        assert_eq!(
            code_of(&alice.request(del).await.unwrap()),
            Some(200),
            "{v} {e:?}"
        );
        assert_eq!(update(&alice, vec![attr("StatusText", "after")]).await, 200);
        alice.logout().await.unwrap();
        for (w, c) in everyone.iter().zip(&clients) {
            let got = drain(c).await;
            let list = get_presence(c, v, a).await;
            if *w == erin {
                assert!(
                    !notified_attrs(&got, a).is_empty(),
                    "{v} {e:?}: erin keeps her grant"
                );
                assert_eq!(value_of(&list, "StatusText"), Some("after"));
            } else {
                assert!(
                    notifications(&got).is_empty(),
                    "{v} {e:?}: {w} gets nothing more: {got:?}"
                );
                assert!(
                    list.children.is_empty(),
                    "{v} {e:?}: {w} sees nothing: {list:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn prr_uc_location_denied_while_online_status_granted() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol"]).await;
        let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        let carol = online(&srv, v, e, c, "phone").await;
        assert_eq!(
            grant(&alice, v, &[b], &["OnlineStatus", "StatusText"]).await,
            200
        );
        assert_eq!(
            grant(&alice, v, &[c], &["OnlineStatus", "GeoLocation"]).await,
            200
        );
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        assert_eq!(subscribe(&carol, v, &[a], None).await, 200);
        let mut all = location();
        all.push(attr("StatusText", "walking"));
        assert_eq!(update(&alice, all).await, 200);
        let bob_saw = drain(&bob).await;
        let names = notified_attrs(&bob_saw, a);
        assert!(
            names.contains(&"OnlineStatus".to_string())
                && names.contains(&"StatusText".to_string())
        );
        assert!(
            LOCATION.iter().all(|l| !names.contains(&l.to_string())),
            "{v} {e:?}: bob never sees location: {names:?}"
        );
        let bob_get = get_presence(&bob, v, a).await;
        assert!(LOCATION.iter().all(|l| bob_get.child(l).is_none()));
        assert_eq!(is_online(&bob_get), Some(true));
        // Carol is granted GeoLocation alone: no Address, no StatusText.
        let carol_saw = notified_attrs(&drain(&carol).await, a);
        assert!(
            carol_saw.contains(&"GeoLocation".to_string()),
            "{carol_saw:?}"
        );
        assert!(
            !carol_saw.contains(&"Address".to_string())
                && !carol_saw.contains(&"StatusText".to_string())
        );
    }
}

#[tokio::test]
async fn pri_1_unauthorized_user_receives_nothing() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "mallory"]).await;
        let (a, b, m) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        let mallory = online(&srv, v, e, m, "phone").await;
        assert_eq!(grant(&alice, v, &[b], &["StatusText"]).await, 200);
        assert_eq!(
            grant(&alice, v, &[m], &[]).await,
            200,
            "an empty list denies everything"
        );
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        assert_eq!(subscribe(&mallory, v, &[a], None).await, 200);
        let mut all = vec![
            attr("StatusText", "s"),
            attr("Alias", "secret alias"),
            attr("StatusMood", "HAPPY"),
        ];
        all.extend(location());
        assert_eq!(update(&alice, all).await, 200);
        assert_eq!(update(&alice, vec![attr("Alias", "changed")]).await, 200);
        let bob_saw = drain(&bob).await;
        assert!(
            notified_attrs(&bob_saw, a)
                .iter()
                .all(|n| n == "StatusText"),
            "{v} {e:?}: {bob_saw:?}"
        );
        assert!(
            notifications(&drain(&mallory).await).is_empty(),
            "{v} {e:?}: mallory gets no notification at all"
        );
        let r = get_presence_resp(&mallory, v, a).await;
        let list = r
            .path(&["Presence", "PresenceSubList"])
            .expect("UserID and PresenceSubList always there");
        assert!(
            list.children.is_empty(),
            "{v} {e:?}: not even OnlineStatus: {list:?}"
        );
        assert!(r.path(&["Presence", "UserID"]).is_some());
        // Nothing reached Alice about Mallory either: she decided already.
        assert!(
            drain(&alice)
                .await
                .iter()
                .all(|r| r.name != "PresenceAuth-Request")
        );
    }
}

#[tokio::test]
async fn base_pres_watcher_list_per_version() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol", "dave"]).await;
        let (a, b, c, d) = (
            ids[0].as_str(),
            ids[1].as_str(),
            ids[2].as_str(),
            ids[3].as_str(),
        );
        let alice = online(&srv, v, e, a, "phone").await;
        assert_eq!(grant(&alice, v, &[b, c, d], &["OnlineStatus"]).await, 200);
        for w in [b, c] {
            let x = online(&srv, v, e, w, "phone").await;
            assert_eq!(subscribe(&x, v, &[a], None).await, 200);
            if w == c {
                assert_eq!(unsubscribe(&x, v, &[a]).await, 200);
            }
        }
        let dave = online(&srv, v, e, d, "phone").await;
        get_presence(&dave, v, a).await;
        let r = alice
            .request(Element::new("GetWatcherList-Request"))
            .await
            .unwrap();
        assert_eq!(r.name, "GetWatcherList-Response", "{r:?}");
        match v {
            Version::V1_1 => {
                let us: Vec<_> = r
                    .children_named("User")
                    .filter_map(|u| u.child_text("UserID"))
                    .collect();
                assert_eq!(us, [wire(b)]);
            }
            Version::V1_2 => {
                let us: Vec<_> = r
                    .children_named("Watcher")
                    .filter_map(|w| w.path(&["User", "UserID"]))
                    .map(|u| u.text.clone())
                    .collect();
                assert_eq!(us, [wire(b)]);
            }
            _ => {
                assert_eq!(r.child_u64("WatcherCount"), Some(3));
                let ws: Vec<(String, String)> = r
                    .children_named("Watcher")
                    .map(|w| {
                        (
                            w.child_text("UserID").unwrap().into(),
                            w.child_text("WatcherStatus").unwrap().into(),
                        )
                    })
                    .collect();
                assert_eq!(
                    ws,
                    [
                        (wire(b), "CURRENT_SUBSCRIBER".into()),
                        (wire(c), "FORMER_SUBSCRIBER".into()),
                        (wire(d), "PRESENCE_ACCESS".into())
                    ]
                );
                let capped = alice
                    .request(
                        Element::new("GetWatcherList-Request").with_text("MaxWatcherList", "1"),
                    )
                    .await
                    .unwrap();
                assert_eq!(capped.children_named("Watcher").count(), 1);
                assert_eq!(capped.child_u64("WatcherCount"), Some(3));
            }
        }
    }
}

#[tokio::test]
async fn prr_5_default_list_and_attribute_list_management() {
    let srv = TestServer::start().await;
    for (v, e) in [
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
    ] {
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        assert_eq!(
            update(
                &alice,
                vec![attr("StatusText", "public"), attr("Alias", "Ali")]
            )
            .await,
            200
        );
        let def = Element::new("CreateAttributeList-Request")
            .with(names(&["StatusText"]))
            .with_text("DefaultList", "T");
        assert_eq!(code_of(&alice.request(def).await.unwrap()), Some(200));
        assert_eq!(
            value_of(&get_presence(&bob, v, a).await, "StatusText"),
            Some("public")
        );
        let r = alice
            .request(Element::new("GetAttributeList-Request").with_text("DefaultList", "T"))
            .await
            .unwrap();
        assert!(
            r.path(&["DefaultAttributeList", "PresenceSubList", "StatusText"])
                .is_some(),
            "{r:?}"
        );
        let del = Element::new("DeleteAttributeList-Request").with_text("DefaultList", "T");
        assert_eq!(code_of(&alice.request(del).await.unwrap()), Some(200));
        assert!(get_presence(&bob, v, a).await.children.is_empty());
        // Unknown attribute names in a list: 750.
        let bad = Element::new("CreateAttributeList-Request")
            .with(names(&["Nonsense"]))
            .with_text("DefaultList", "T");
        assert_eq!(code_of(&alice.request(bad).await.unwrap()), Some(750));
    }
}
