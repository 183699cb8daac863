//! Issue 13: addresses come back in the form the client writes them, and
//! joined-user lists in the shape the client reads.
//!
//! A client that logs in as `wv:alice` (no domain) compares addresses as
//! strings, so every address of our domain it is sent must come without
//! `@domain`, in answers and in pushes alike; a client that logs in with
//! the domain keeps getting fully qualified ones. The Android engine reads
//! joined-user lists as `UserMapList{Mapping*}` in every version; its
//! ClientCapability gives it away.
#![allow(clippy::unwrap_used)]

use crate::{common, groups_common, im_common};

use common::{TestServer, code_of};
use groups_common::{create_req, join_req};
use im_common::{PW, ack, add_user, caps, expect, msg_id, online_with};
use imps_client::{Element, Encoding, HttpClient, Version};

/// Every address element (UserID, GroupID, ContactList...) under `e`.
fn addresses(e: &Element, out: &mut Vec<String>) {
    const ADDRESS: [&str; 4] = ["UserID", "GroupID", "ContactList", "DefaultContactList"];
    if ADDRESS.contains(&e.name.as_str()) {
        out.push(e.text.clone());
    }
    for c in &e.children {
        addresses(c, out);
    }
}

/// What one client saw, answers and pushes alike.
#[derive(Default)]
struct Seen(Vec<Element>);

impl Seen {
    async fn request(&mut self, c: &HttpClient, body: Element) -> Element {
        let r = c.request(body).await.unwrap();
        self.0.push(r.clone());
        r
    }

    async fn expect(&mut self, c: &HttpClient, name: &str) -> (String, Element) {
        let (tid, body) = expect(c, name).await;
        self.0.push(body.clone());
        (tid, body)
    }

    fn addresses(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.0 {
            addresses(e, &mut out);
        }
        out
    }
}

fn presence_targets(v: Version, id: &str) -> Element {
    if v == Version::V1_3 {
        Element::new("UserIDList").with_text("UserID", id)
    } else {
        Element::new("User").with_text("UserID", id)
    }
}

fn text_message(to: Element, text: &str) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.len().to_string())
                .with(Element::new("Recipient").with(to)),
        )
        .with_text("ContentData", text)
}

fn user(id: &str) -> Element {
    Element::new("User").with_text("UserID", id)
}

fn group(id: &str) -> Element {
    Element::new("Group").with_text("GroupID", id)
}

/// Alice logs in as `wv:<alice>` and Bob as `wv:<bob>@localhost`; they
/// share a contact list, presence, messages and a group. Alice sees no
/// `@localhost` anywhere, and what she sees matches the addresses she
/// wrote; Bob sees every address qualified.
#[tokio::test]
async fn quirk_a_domainless_client_gets_every_address_without_the_domain() {
    let srv = TestServer::start().await;
    for (i, (v, e)) in [
        (Version::V1_3, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_1, Encoding::Xml),
    ]
    .into_iter()
    .enumerate()
    {
        let (alice, bob) = (format!("alice{i}"), format!("bob{i}"));
        add_user(&srv, &alice, None, None).await;
        add_user(&srv, &bob, None, None).await;
        let a = srv.client(v, e, &format!("{alice}-phone"));
        online_with(&a, &format!("wv:{alice}"), caps("P")).await;
        let b = srv.client(v, e, &format!("{bob}-phone"));
        online_with(&b, &format!("WV:{bob}@LocalHost"), caps("P")).await;
        let mut seen = Seen::default();
        let (a_bob, a_list, a_room) = (
            format!("wv:{bob}"),
            format!("wv:{alice}/friends"),
            format!("wv:{alice}/room"),
        );

        // Lists: a contact list holding Bob, read back.
        let create = Element::new("CreateList-Request")
            .with_text("ContactList", a_list.as_str())
            .with(
                Element::new("NickList").with(
                    Element::new("NickName")
                        .with_text("Name", "Bob")
                        .with_text("UserID", a_bob.as_str()),
                ),
            );
        let r = seen.request(&a, create).await;
        assert_eq!(code_of(&r), Some(200), "{v}: {r:?}");
        seen.request(&a, Element::new("GetList-Request")).await;
        let r = seen
            .request(
                &a,
                Element::new("ListManage-Request")
                    .with_text("ContactList", a_list.as_str())
                    .with_text("ReceiveList", "T"),
            )
            .await;
        let nick = r.path(&["NickList", "NickName", "UserID"]).unwrap();
        assert_eq!(nick.text, a_bob, "{v}: {r:?}");

        // Presence: Bob's, asked for, with the ID Alice wrote.
        let r = seen
            .request(
                &a,
                Element::new("GetPresence-Request").with(presence_targets(v, &a_bob)),
            )
            .await;
        assert_eq!(
            r.path(&["Presence", "UserID"]).map(|u| u.text.as_str()),
            Some(a_bob.as_str()),
            "{v}: {r:?}"
        );

        // Messages both ways.
        let r = b
            .request(text_message(user(&format!("wv:{alice}@localhost")), "hi"))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{v}: {r:?}");
        let (tid, m) = seen.expect(&a, "NewMessage").await;
        ack(&a, &tid, &msg_id(&m)).await;
        assert_eq!(
            m.path(&["MessageInfo", "Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(a_bob.as_str()),
            "{v}: Bob's reply must land in the conversation Alice has with wv:bob: {m:?}"
        );
        let r = seen.request(&a, text_message(user(&a_bob), "hello")).await;
        assert_eq!(code_of(&r), Some(200), "{v}: {r:?}");
        let (tid, m) = expect(&b, "NewMessage").await;
        ack(&b, &tid, &msg_id(&m)).await;
        assert_eq!(
            m.path(&["MessageInfo", "Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(format!("wv:{alice}@localhost").as_str()),
            "{v}: a client that wrote the domain gets it: {m:?}"
        );

        // Groups: Alice makes a room, Bob joins and talks in it.
        let create = create_req(&a_room, &[("AccessType", "Open")], Some("Al"));
        let r = seen.request(&a, create).await;
        assert_eq!(code_of(&r), Some(200), "{v}: {r:?}");
        let b_room = format!("wv:{alice}/room@localhost");
        let r = b
            .request(join_req(&b_room, Some("Bo"), true))
            .await
            .unwrap();
        assert_ne!(r.name, "Status", "{v}: {r:?}");
        let (tid, notice) = seen.expect(&a, "GroupChangeNotice").await;
        a.answer_status(&tid).await.unwrap();
        assert_eq!(
            notice.child_text("GroupID"),
            Some(a_room.as_str()),
            "{v}: the notice names the room as Alice created it: {notice:?}"
        );
        let r = b.request(text_message(group(&b_room), "in the room")).await;
        assert_eq!(code_of(&r.unwrap()), Some(200), "{v}");
        let (tid, m) = seen.expect(&a, "NewMessage").await;
        ack(&a, &tid, &msg_id(&m)).await;
        assert_eq!(
            m.path(&["MessageInfo", "Recipient", "Group", "GroupID"])
                .map(|g| g.text.as_str()),
            Some(a_room.as_str()),
            "{v}: {m:?}"
        );
        seen.request(
            &a,
            Element::new("GetJoinedUsers-Request").with_text("GroupID", a_room.as_str()),
        )
        .await;

        let all = seen.addresses();
        assert!(
            all.len() >= 8,
            "{v}: too few addresses seen to prove anything: {all:?}"
        );
        let qualified: Vec<&String> = all
            .iter()
            .filter(|a| a.to_ascii_lowercase().ends_with("@localhost"))
            .collect();
        assert!(
            qualified.is_empty(),
            "{v} {e:?}: a domain-less client was sent qualified addresses: {qualified:?}"
        );
    }
}

/// The form is decided at login and kept across a restart.
#[tokio::test]
async fn quirk_the_address_form_survives_a_restart() {
    let mut srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let a = srv.client(Version::V1_2, Encoding::Xml, "alice-phone");
    online_with(&a, "wv:alice", caps("P")).await;
    let session = a.session_id().unwrap();
    srv.restart().await;
    let a2 = srv.client(Version::V1_2, Encoding::Xml, "alice-phone");
    a2.set_session_id(Some(session));
    let b = srv.client(Version::V1_2, Encoding::Xml, "bob-phone");
    b.login_password("bob", PW).await.unwrap();
    let r = b
        .request(text_message(user("wv:alice@localhost"), "after"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (tid, m) = expect(&a2, "NewMessage").await;
    ack(&a2, &tid, &msg_id(&m)).await;
    assert_eq!(
        m.path(&["MessageInfo", "Sender", "User", "UserID"])
            .map(|u| u.text.as_str()),
        Some("wv:bob"),
        "{m:?}"
    );
}

/// The Android engine's capability list in each version, as it sends it.
fn android_caps() -> Element {
    Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("AcceptedContentLength", "262144")
        .with_text("ParserSize", "262144")
        .with_text("MultiTrans", "1")
        .with_text("InitialDeliveryMethod", "P")
        .with_text("ServerPollMin", "30")
        .with_text("SupportedBearer", "HTTP")
        .with_text("SupportedCIRMethod", "STCP")
        .with_text("SupportedCIRMethod", "SSMS")
        .with_text("SupportedCIRMethod", "SHTTP")
}

/// What a reader like Android's finds as members of a JoinGroup-Response:
/// the children of `UserMapList` directly under it, each of which must be
/// a `Mapping`. `None` when there is no such list.
fn android_members(resp: &Element) -> Option<Vec<String>> {
    let l = resp.child("UserMapList")?;
    Some(
        l.children
            .iter()
            .map(|c| {
                assert_eq!(
                    c.name, "Mapping",
                    "Android reads every child as a Mapping: {resp:?}"
                );
                c.child_text("SName").unwrap().to_string()
            })
            .collect(),
    )
}

/// 1.1 and 1.3 clients showing the Android engine get the flat list in
/// JoinGroup-Response and GroupChangeNotice; other clients the version's
/// own shape; 1.2 is flat for all. In WBXML too (1.1 has no token for
/// `UserMapList`, so the 1.2 one is used).
#[tokio::test]
async fn quirk_member_lists_the_android_engine_reads_in_every_version() {
    let srv = TestServer::start().await;
    let mut n = 0;
    for v in Version::ALL {
        for e in [Encoding::Xml, Encoding::Wbxml] {
            for android in [true, false] {
                n += 1;
                let (owner, joiner) = (format!("own{n}"), format!("join{n}"));
                add_user(&srv, &owner, None, None).await;
                add_user(&srv, &joiner, None, None).await;
                let with_caps = || if android { android_caps() } else { caps("P") };
                let o = srv.client(v, e, &format!("{owner}-phone"));
                online_with(&o, &owner, with_caps()).await;
                let j = srv.client(v, e, &format!("{joiner}-phone"));
                online_with(&j, &joiner, with_caps()).await;
                let room = format!("wv:{owner}/room@localhost");
                let create = create_req(&room, &[("AccessType", "Open")], Some("Owner"));
                let r = o.request(create).await.unwrap();
                assert_eq!(code_of(&r), Some(200), "{v} {e:?}: {r:?}");
                let r = j
                    .request(join_req(&room, Some("Joiner"), true))
                    .await
                    .unwrap();
                assert_eq!(r.name, "JoinGroup-Response", "{v} {e:?}: {r:?}");
                let (tid, notice) = expect(&o, "GroupChangeNotice").await;
                o.answer_status(&tid).await.unwrap();
                let first = notice
                    .path(&["Joined"])
                    .and_then(|j| j.children.first())
                    .unwrap_or_else(|| panic!("{v} {e:?}: Joined with a list: {notice:?}"));
                let flat = android || v == Version::V1_2;
                let tag = format!("{v} {e:?} android={android}");
                if flat {
                    let mut members = android_members(&r).unwrap_or_else(|| {
                        panic!("{tag}: no UserMapList under the response: {r:?}")
                    });
                    members.sort();
                    assert_eq!(members, ["Joiner", "Owner"], "{tag}");
                    assert_eq!(first.name, "UserMapList", "{tag}: {notice:?}");
                    assert!(
                        !first.children.is_empty()
                            && first.children.iter().all(|c| c.name == "Mapping"),
                        "{tag}: every child of Joined's list is a Mapping: {notice:?}"
                    );
                } else if v == Version::V1_1 {
                    let l = r
                        .child("UserList")
                        .unwrap_or_else(|| panic!("{tag}: {r:?}"));
                    assert!(l.children.iter().all(|c| c.name == "ScreenName"), "{tag}");
                    assert_eq!(first.name, "UserList", "{tag}: {notice:?}");
                } else {
                    let l = r
                        .path(&["Joined", "UserMapList", "UserMapping"])
                        .unwrap_or_else(|| panic!("{tag}: spec shape: {r:?}"));
                    assert_eq!(l.children.len(), 2, "{tag}: {r:?}");
                    assert!(first.child("UserMapping").is_some(), "{tag}: {notice:?}");
                }
            }
        }
    }
}

/// The operator's settings override the guess: `spec` gives the Android
/// engine the schema's shape, `flat` gives every client the flat one.
#[tokio::test]
async fn quirk_member_list_shape_is_an_operator_setting() {
    for (policy, android, want_flat) in [
        (imps_core::MemberListPolicy::Spec, true, false),
        (imps_core::MemberListPolicy::Flat, false, true),
    ] {
        let srv = TestServer::start_with(|c| c.groups.member_lists = policy).await;
        add_user(&srv, "owner", None, None).await;
        let o = srv.client(Version::V1_3, Encoding::Xml, "owner-phone");
        online_with(
            &o,
            "owner",
            if android { android_caps() } else { caps("P") },
        )
        .await;
        let room = "wv:owner/room@localhost";
        let r = o
            .request(
                Element::new("CreateGroup-Request")
                    .with_text("GroupID", room)
                    .with(Element::new("GroupProperties"))
                    .with_text("JoinGroup", "F"),
            )
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{r:?}");
        let r = o
            .request(
                Element::new("JoinGroup-Request")
                    .with_text("GroupID", room)
                    .with(
                        Element::new("ScreenName")
                            .with_text("SName", "Owner")
                            .with_text("GroupID", room),
                    )
                    .with_text("JoinedRequest", "T"),
            )
            .await
            .unwrap();
        assert_eq!(
            android_members(&r).is_some(),
            want_flat,
            "{policy:?}: {r:?}"
        );
    }
}
