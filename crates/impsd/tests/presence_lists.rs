//! Presence and contact lists: subscribing to and getting the presence of
//! a whole contact list, and attribute lists granted to a contact list
//! (BASE-PRES, PRR-5). The lists themselves are the lists area's.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::presence_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, HttpClient, Version};
use presence_common::*;

/// Creates `owner`'s contact list with these members; returns its ID.
async fn contact_list(c: &HttpClient, owner: &str, name: &str, members: &[&str]) -> String {
    let list = format!("wv:{owner}/{name}@localhost");
    let mut nicks = Element::new("NickList");
    for m in members {
        nicks = nicks.with(
            Element::new("NickName")
                .with_text("Name", *m)
                .with_text("UserID", wire(m)),
        );
    }
    let create = Element::new("CreateList-Request")
        .with_text("ContactList", list.clone())
        .with(nicks);
    let r = c.request(create).await.unwrap();
    assert_eq!(code_of(&r), Some(200), "CreateList (lists area): {r:?}");
    list
}

#[tokio::test]
async fn base_pres_contact_list_subscription_and_get() {
    let srv = TestServer::start().await;
    for v in [Version::V1_2, Version::V1_3] {
        let e = Encoding::Xml;
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "carol"]).await;
        let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let carol = online(&srv, v, e, c, "phone").await;
        let list = contact_list(&carol, c, "friends", &[a, b]).await;
        for owner in [a, b] {
            let o = online(&srv, v, e, owner, "phone").await;
            assert_eq!(
                grant(&o, v, &[c], &["StatusText", "OnlineStatus"]).await,
                200
            );
            assert_eq!(update(&o, vec![attr("StatusText", owner)]).await, 200);
        }
        let sub = if v == Version::V1_3 {
            Element::new("SubscribePresence-Request")
                .with(Element::new("ContactListIDList").with_text("ContactList", list.clone()))
        } else {
            Element::new("SubscribePresence-Request").with_text("ContactList", list.clone())
        };
        assert_eq!(
            code_of(
                &carol
                    .request(sub.with_text("AutoSubscribe", "T"))
                    .await
                    .unwrap()
            ),
            Some(200)
        );
        let n = drain(&carol).await;
        assert_eq!(
            notifications(&n).len(),
            2,
            "{v}: one initial notification per member"
        );
        let get = Element::new("GetPresence-Request").with_text("ContactList", list.clone());
        let r = carol.request(get).await.unwrap();
        assert_eq!(r.children_named("Presence").count(), 2);
    }
}

#[tokio::test]
async fn prr_5_attribute_list_granted_to_a_contact_list() {
    let srv = TestServer::start().await;
    for (v, e) in [
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
    ] {
        let ids = users(&srv, &tag(v, e), &["alice", "bob", "dave"]).await;
        let (a, b, d) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let alice = online(&srv, v, e, a, "phone").await;
        let list = contact_list(&alice, a, "friends", &[b]).await;
        assert_eq!(
            update(&alice, vec![attr("StatusText", "friends only")]).await,
            200
        );
        let lists = if v == Version::V1_3 {
            Element::new("ContactListIDList").with_text("ContactList", list.clone())
        } else {
            Element::text("ContactList", list.clone())
        };
        let req = Element::new("CreateAttributeList-Request")
            .with(names(&["StatusText", "OnlineStatus"]))
            .with(lists)
            .with_text("DefaultList", "F");
        assert_eq!(
            code_of(&alice.request(req).await.unwrap()),
            Some(200),
            "{v} {e:?}"
        );
        let bob = online(&srv, v, e, b, "phone").await;
        let dave = online(&srv, v, e, d, "phone").await;
        assert_eq!(
            value_of(&get_presence(&bob, v, a).await, "StatusText"),
            Some("friends only")
        );
        assert!(
            get_presence(&dave, v, a).await.children.is_empty(),
            "{v} {e:?}: not on the list"
        );
        let r = alice
            .request(Element::new("GetAttributeList-Request"))
            .await
            .unwrap();
        let p = r
            .children_named("Presence")
            .find(|p| p.child_text("ContactList") == Some(list.as_str()));
        assert!(
            p.is_some_and(|p| p.path(&["PresenceSubList", "StatusText"]).is_some()),
            "{r:?}"
        );
    }
}
