//! Presence over the real protocol (BASE-PRES): attributes round-trip,
//! Update/Get/Subscribe/Notify/Unsubscribe, OnlineStatus following the
//! sessions and appearing only after service negotiation (SYM-13), 1.3
//! instances per client, and notifications split for a small client
//! (GEN-1, CFG-1) in presence_split.rs. Authorization has its own file
//! (presence_auth.rs).

use crate::common;
use crate::presence_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Version};
use presence_common::*;

/// One value of every client-set attribute, as a phone would send it.
fn every_attribute(v: Version) -> Vec<Element> {
    let mut v_attrs = vec![
        Element::new("Registration")
            .with_text("Qualifier", "T")
            .with_text("PresenceValue", "T"),
        Element::new("ClientInfo")
            .with_text("Qualifier", "T")
            .with_text("ClientType", "MOBILE_PHONE")
            .with_text("ClientProducer", "MOKIA")
            .with_text("ClientVersion", "0.1"),
        Element::new("TimeZone")
            .with_text("Qualifier", "T")
            .with_text("Zone", "+02:00"),
        Element::new("GeoLocation")
            .with_text("Qualifier", "T")
            .with_text("Longitude", "24.9384")
            .with_text("Latitude", "60.1699")
            .with_text("Altitude", "12")
            .with_text("Accuracy", "50"),
        Element::new("Address")
            .with_text("Qualifier", "T")
            .with_text("Country", "FI")
            .with_text("City", "Helsinki")
            .with_text("Street", "Mannerheimintie"),
        attr("FreeTextLocation", "at the office"),
        attr("PLMN", "24405"),
        Element::new("CommCap").with_text("Qualifier", "T").with(
            Element::new("CommC")
                .with_text("Cap", "IM")
                .with_text("Status", "OPEN")
                .with_text("Contact", "wv:someone@localhost")
                .with_text("Note", "IM online"),
        ),
        attr("UserAvailability", "AVAILABLE"),
        Element::new("PreferredContacts")
            .with_text("Qualifier", "T")
            .with(
                Element::new("AddrPref")
                    .with_text("PrefC", "IM")
                    .with_text("Caddr", "wv:someone@localhost"),
            ),
        attr("PreferredLanguage", "fi"),
        attr("StatusText", "Lunch <&> ☺"),
        attr("StatusMood", "HAPPY"),
        attr("Alias", "Ali"),
        Element::new("StatusContent")
            .with_text("Qualifier", "T")
            .with_text("DirectContent", "iVBORw0KGgo=")
            .with_text("ContentType", "image/png"),
        Element::new("ContactInfo")
            .with_text("Qualifier", "T")
            .with_text("ReferredvCard", "http://example.org/a.vcf"),
    ];
    if v >= Version::V1_2 {
        v_attrs.push(
            Element::new("InfoLink").with_text("Qualifier", "T").with(
                Element::new("Inf_link")
                    .with_text("Link", "http://example.org/blog")
                    .with_text("Text", "blog"),
            ),
        );
    }
    v_attrs
}

#[tokio::test]
async fn base_pres_attributes_round_trip_update_and_get() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice"]).await;
        let alice = online(&srv, v, e, &ids[0], "phone").await;
        let sent = every_attribute(v);
        assert_eq!(update(&alice, sent.clone()).await, 200, "{v} {e:?}");
        let got = get_presence(&alice, v, &ids[0]).await;
        for a in &sent {
            assert_eq!(
                got.child(&a.name),
                Some(a),
                "{v} {e:?}: {} round-trips",
                a.name
            );
        }
        assert_eq!(
            is_online(&got),
            Some(true),
            "{v} {e:?}: the owner sees herself online"
        );
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_pres_unknown_attribute_is_750_and_value_needs_qualifier() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice"]).await;
        let alice = online(&srv, v, e, &ids[0], "phone").await;
        assert_eq!(update(&alice, vec![attr("StatusText", "kept")]).await, 200);
        assert_eq!(
            update(&alice, vec![attr("StatusText", "lost"), attr("Mood", "x")]).await,
            750
        );
        let no_qualifier = Element::new("Alias").with_text("PresenceValue", "x");
        assert_eq!(update(&alice, vec![no_qualifier]).await, 751);
        let got = get_presence(&alice, v, &ids[0]).await;
        assert_eq!(
            value_of(&got, "StatusText"),
            Some("kept"),
            "a refused update changes nothing"
        );
        let mut get = Element::new("GetPresence-Request").with(names(&["Bogus"]));
        get.children.extend(user_targets(v, &[&ids[0]]));
        assert_eq!(code_of(&alice.request(get).await.unwrap()), Some(750));
    }
}

#[tokio::test]
async fn base_pres_subscribe_notify_unsubscribe() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        assert_eq!(
            update(
                &alice,
                vec![attr("StatusText", "one"), attr("Alias", "Ali")]
            )
            .await,
            200
        );
        assert_eq!(
            grant(&alice, v, &[b], &["OnlineStatus", "StatusText", "Alias"]).await,
            200
        );
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200, "{v} {e:?}");
        // The initial notification: the current values bob may see.
        let first = drain(&bob).await;
        let pres = notifications(&first);
        assert_eq!(pres.len(), 1, "{v} {e:?}: {first:?}");
        let list = pres[0].path(&["Presence", "PresenceSubList"]).unwrap();
        assert_eq!(pres[0].path(&["Presence", "UserID"]).unwrap().text, wire(a));
        assert_eq!(value_of(list, "StatusText"), Some("one"));
        assert_eq!(is_online(list), Some(true));
        // A change: the whole presence bob may see comes again (clients
        // rebuild a contact from each notification; issue 13).
        assert_eq!(
            update(
                &alice,
                vec![attr("StatusText", "two"), attr("Alias", "Ali")]
            )
            .await,
            200
        );
        let next = drain(&bob).await;
        let mut got = notified_attrs(&next, a);
        got.dedup();
        got.sort();
        assert_eq!(got, ["Alias", "OnlineStatus", "StatusText"], "{v} {e:?}");
        assert_eq!(
            last_notified(&next, a, "StatusText").and_then(|x| x.child_text("PresenceValue")),
            Some("two")
        );
        // Unsubscribe; 1.2 uses Android's malformed User{Property} form.
        let code = if v == Version::V1_2 {
            let req = Element::new("UnsubscribePresence-Request").with(
                Element::new("User").with(
                    Element::new("Property")
                        .with_text("Name", "UserID")
                        .with_text("Value", wire(a)),
                ),
            );
            code_of(&bob.request(req).await.unwrap()).unwrap()
        } else {
            unsubscribe(&bob, v, &[a]).await
        };
        assert_eq!(code, 200);
        assert_eq!(update(&alice, vec![attr("StatusText", "three")]).await, 200);
        assert!(
            notifications(&drain(&bob).await).is_empty(),
            "{v} {e:?}: nothing after unsubscribe"
        );
    }
}

/// Issue 13: a watcher whose contact changes only their status text must
/// still see them online and available: every notification carries the
/// whole presence the watcher may see, not only what changed.
#[tokio::test]
async fn quirk_status_text_change_keeps_the_contact_online() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &format!("q{}", tag(v, e)), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        let avail = Element::new("UserAvailability")
            .with_text("Qualifier", "T")
            .with_text("PresenceValue", "AVAILABLE");
        assert_eq!(update(&alice, vec![avail]).await, 200, "{v} {e:?}");
        assert_eq!(
            grant(
                &alice,
                v,
                &[b],
                &["OnlineStatus", "UserAvailability", "StatusText"]
            )
            .await,
            200
        );
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200, "{v} {e:?}");
        drain(&bob).await;
        assert_eq!(update(&alice, vec![attr("StatusText", "lunch")]).await, 200);
        let n = drain(&bob).await;
        let pres = notifications(&n);
        assert_eq!(pres.len(), 1, "{v} {e:?}: {n:?}");
        // Read the way the client does: this one notification is all it
        // knows about alice now.
        let list = pres[0].path(&["Presence", "PresenceSubList"]).unwrap();
        assert_eq!(is_online(list), Some(true), "{v} {e:?}: {list:?}");
        assert_eq!(
            value_of(list, "UserAvailability"),
            Some("AVAILABLE"),
            "{v} {e:?}"
        );
        assert_eq!(value_of(list, "StatusText"), Some("lunch"), "{v} {e:?}");
    }
}

#[tokio::test]
async fn base_pres_subscription_to_some_attributes_only() {
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
            grant(&alice, v, &[b], &["StatusText", "Alias", "OnlineStatus"]).await,
            200
        );
        let mut req = Element::new("SubscribePresence-Request");
        req.children.extend(user_targets(v, &[a]));
        req = req.with(names(&["Alias"])).with_text("AutoSubscribe", "T");
        assert_eq!(code_of(&bob.request(req).await.unwrap()), Some(200));
        drain(&bob).await;
        assert_eq!(
            update(&alice, vec![attr("StatusText", "x"), attr("Alias", "y")]).await,
            200
        );
        assert_eq!(
            notified_attrs(&drain(&bob).await, a),
            ["Alias"],
            "{v} {e:?}"
        );
    }
}

#[tokio::test]
async fn base_pres_removed_attribute_is_notified_with_qualifier_f() {
    let srv = TestServer::start().await;
    for (v, e) in [
        (Version::V1_2, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
    ] {
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let bob = online(&srv, v, e, b, "phone").await;
        assert_eq!(update(&alice, vec![attr("Alias", "Ali")]).await, 200);
        assert_eq!(grant(&alice, v, &[b], &["Alias"]).await, 200);
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        drain(&bob).await;
        // An attribute sent without a value removes it.
        assert_eq!(update(&alice, vec![Element::new("Alias")]).await, 200);
        let n = drain(&bob).await;
        let alias = last_notified(&n, a, "Alias").expect("the removal is notified");
        assert_eq!(alias.child_text("Qualifier"), Some("F"), "{v} {e:?}");
        assert!(get_presence(&bob, v, a).await.child("Alias").is_none());
    }
}

#[tokio::test]
async fn base_pres_unknown_user_is_531_in_detailed_result() {
    let srv = TestServer::start().await;
    let ids = users(&srv, "u", &["alice", "bob"]).await;
    let v = Version::V1_2;
    let bob = online(&srv, v, Encoding::Xml, &ids[1], "phone").await;
    let mut req = Element::new("SubscribePresence-Request");
    req.children.extend(user_targets(v, &[&ids[0], "nobody"]));
    let r = bob.request(req).await.unwrap();
    assert_eq!(code_of(&r), Some(201));
    let d = r.path(&["Result", "DetailedResult"]).unwrap();
    assert_eq!(d.child_text("Code"), Some("531"));
    assert_eq!(d.child_text("UserID"), Some(wire("nobody").as_str()));
}

#[tokio::test]
async fn sym_13_online_only_after_service_negotiation() {
    let srv = TestServer::start().await;
    for (v, e) in common::combos() {
        let ids = users(&srv, &tag(v, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let bob = online(&srv, v, e, b, "phone").await;
        // Alice lets everyone see her OnlineStatus (DefaultList), while offline.
        let setup = online(&srv, v, e, a, "setup").await;
        let req = Element::new("CreateAttributeList-Request")
            .with(names(&["OnlineStatus"]))
            .with_text("DefaultList", "T");
        assert_eq!(code_of(&setup.request(req).await.unwrap()), Some(200));
        setup.logout().await.unwrap();
        assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
        let init = drain(&bob).await;
        assert_eq!(
            last_notified(&init, a, "OnlineStatus").and_then(|x| x.child_text("PresenceValue")),
            Some("F")
        );

        // Logged in, capabilities agreed, but service not yet negotiated.
        let alice = login_only(&srv, v, e, a, "phone").await;
        alice.client_capability(&[], None).await.unwrap();
        assert_eq!(
            is_online(&get_presence(&bob, v, a).await),
            Some(false),
            "{v} {e:?}: not online before Service"
        );
        assert!(
            notifications(&drain(&bob).await).is_empty(),
            "{v} {e:?}: no notification before Service"
        );
        alice.service_request_all().await.unwrap();
        assert_eq!(
            is_online(&get_presence(&bob, v, a).await),
            Some(true),
            "{v} {e:?}"
        );
        let n = drain(&bob).await;
        assert_eq!(
            last_notified(&n, a, "OnlineStatus").and_then(|x| x.child_text("PresenceValue")),
            Some("T")
        );

        // A second session keeps her online when the first ends.
        let laptop = online(&srv, v, e, a, "laptop").await;
        alice.logout().await.unwrap();
        assert_eq!(is_online(&get_presence(&bob, v, a).await), Some(true));
        laptop.logout().await.unwrap();
        assert_eq!(
            is_online(&get_presence(&bob, v, a).await),
            Some(false),
            "{v} {e:?}: offline after the last logout"
        );
        let n = drain(&bob).await;
        assert_eq!(
            last_notified(&n, a, "OnlineStatus").and_then(|x| x.child_text("PresenceValue")),
            Some("F")
        );
    }
}

#[tokio::test]
async fn base_pres_appear_offline_and_online_status_t_needs_a_session() {
    let srv = TestServer::start().await;
    let (v, e) = (Version::V1_2, Encoding::Xml);
    let ids = users(&srv, "x", &["alice", "bob"]).await;
    let (a, b) = (ids[0].as_str(), ids[1].as_str());
    let alice = online(&srv, v, e, a, "phone").await;
    let bob = online(&srv, v, e, b, "phone").await;
    assert_eq!(grant(&alice, v, &[b], &["OnlineStatus"]).await, 200);
    assert_eq!(subscribe(&bob, v, &[a], None).await, 200);
    drain(&bob).await;
    assert_eq!(update(&alice, vec![attr("OnlineStatus", "F")]).await, 200);
    assert_eq!(is_online(&get_presence(&bob, v, a).await), Some(false));
    assert_eq!(update(&alice, vec![attr("OnlineStatus", "T")]).await, 200);
    assert_eq!(is_online(&get_presence(&bob, v, a).await), Some(true));
    let n = drain(&bob).await;
    assert_eq!(notified_attrs(&n, a), ["OnlineStatus", "OnlineStatus"]);
    alice.logout().await.unwrap();
    assert_eq!(is_online(&get_presence(&bob, v, a).await), Some(false));
}

#[tokio::test]
async fn base_pres_13_instances_per_client_cut_for_older_readers() {
    let srv = TestServer::start().await;
    let ids = users(&srv, "i", &["alice", "bob", "carol"]).await;
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    let alice = online(&srv, Version::V1_3, Encoding::Wbxml, a, "phone").await;
    let _pc = online(&srv, Version::V1_3, Encoding::Xml, a, "pc").await;
    let with_client = |value: &str, client: &str| {
        attr("FreeTextLocation", value).with(Element::new("ClientID").with_text("URL", client))
    };
    assert_eq!(
        update(
            &alice,
            vec![
                with_client("home", "phone-x"),
                with_client("office", "pc-x")
            ]
        )
        .await,
        200
    );
    assert_eq!(
        grant(
            &alice,
            Version::V1_3,
            &[b, c],
            &["OnlineStatus", "FreeTextLocation"]
        )
        .await,
        200
    );
    let bob13 = online(&srv, Version::V1_3, Encoding::Xml, b, "phone").await;
    let l13 = get_presence(&bob13, Version::V1_3, a).await;
    assert_eq!(l13.children_named("FreeTextLocation").count(), 2);
    assert_eq!(
        l13.children_named("OnlineStatus").count(),
        2,
        "one per ready client"
    );
    assert!(
        l13.children_named("OnlineStatus")
            .all(|o| o.child("ClientID").is_some())
    );
    let carol12 = online(&srv, Version::V1_2, Encoding::Wbxml, c, "phone").await;
    let l12 = get_presence(&carol12, Version::V1_2, a).await;
    let ftl: Vec<_> = l12.children_named("FreeTextLocation").collect();
    assert_eq!(ftl.len(), 1);
    assert_eq!(
        ftl[0].child_text("PresenceValue"),
        Some("office"),
        "the latest instance"
    );
    assert!(ftl[0].child("ClientID").is_none());
    assert_eq!(l12.children_named("OnlineStatus").count(), 1);
}

/// Each 1.3 OnlineStatus instance carries its client's ClientID exactly as
/// that client sent it at login: the usual URL shape (kept as one string
/// since issue 19) and an unusual one (URL and MSISDN both, kept whole).
#[tokio::test]
async fn base_pres_13_online_status_echoes_each_client_id_as_sent() {
    let srv = TestServer::start().await;
    let ids = users(&srv, "e", &["alice", "bob"]).await;
    let (a, b) = (ids[0].as_str(), ids[1].as_str());
    let phone = online(&srv, Version::V1_3, Encoding::Wbxml, a, "phone").await;
    let sent_by_phone = Element::new("ClientID").with_text("URL", format!("phone-{a}"));
    let odd = Element::new("ClientID")
        .with_text("URL", "WV:odd-client")
        .with_text("MSISDN", "+358401112223");
    let second = imps_client::Client::new(
        imps_client::ClientConfig::new(srv.url(), Version::V1_3, Encoding::Xml)
            .with_client_id("not-sent"),
    )
    .unwrap();
    let resp = second
        .request(
            Element::new("Login-Request")
                .with_text("UserID", a)
                .with(odd.clone())
                .with_text("Password", PW)
                .with_text("TimeToLive", "600"),
        )
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    assert_eq!(resp.child("ClientID"), Some(&odd), "echoed at login");
    second.set_session_id(resp.child_text("SessionID").map(str::to_string));
    second.service_request_all().await.unwrap();
    assert_eq!(
        grant(&phone, Version::V1_3, &[b], &["OnlineStatus"]).await,
        200
    );
    let bob = online(&srv, Version::V1_3, Encoding::Xml, b, "phone").await;
    let list = get_presence(&bob, Version::V1_3, a).await;
    let mut shown: Vec<Element> = list
        .children_named("OnlineStatus")
        .map(|o| {
            o.child("ClientID")
                .expect("a ClientID per instance")
                .clone()
        })
        .collect();
    shown.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    let mut want = vec![sent_by_phone, odd];
    want.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    assert_eq!(shown, want);
}
