//! Helpers shared by the groups, invitations and private-conversation
//! end-to-end tests (groups*.rs, inv*.rs, pgc*.rs): the primitives as a
//! phone sends them, readers for what comes back, and store shortcuts for
//! setup that is not under test (users with friendly names, block lists,
//! birth dates).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::sync::Arc;

use imps_client::{Client, Element, Encoding, HttpClient, Message, Transport, Version};
use imps_core::store::{AccessChange, Birth};
use imps_core::{NewUser, Store};

use crate::common::{TestServer, code_of};

pub const PW: &str = "pw";

pub fn uid(user: &str) -> String {
    format!("wv:{user}@localhost")
}

pub fn gid(owner: &str, name: &str) -> String {
    format!("wv:{owner}/{name}@localhost")
}

pub fn store(srv: &TestServer) -> Arc<dyn Store> {
    srv.store()
}

/// A user with password `pw` and optionally a friendly name.
pub async fn add_user(srv: &TestServer, id: &str, friendly: Option<&str>) {
    store(srv)
        .create_user(NewUser {
            id: id.into(),
            password_hash: Some(imps_core::auth::hash_password(PW).unwrap()),
            digest_secret: None,
            msisdn: None,
            friendly_name: friendly.map(str::to_string),
            created_ms: 0,
        })
        .await
        .unwrap();
}

pub async fn users(srv: &TestServer, ids: &[&str]) {
    for id in ids {
        add_user(srv, id, None).await;
    }
}

/// `owner` blocks `others` (block list in use), set up through the store.
pub async fn block(srv: &TestServer, owner: &str, others: &[&str]) {
    let ok = store(srv)
        .change_access(AccessChange {
            owner: owner.into(),
            block_in_use: Some(true),
            grant_in_use: Some(false),
            block_add: others.iter().map(|s| s.to_string()).collect(),
            block_remove: vec![],
            grant_add: vec![],
            grant_remove: vec![],
            max_entries: 1000,
        })
        .await
        .unwrap();
    assert!(ok);
}

pub async fn set_birth(srv: &TestServer, user: &str, year: u16, month: u8) {
    let st = store(srv);
    let mut p = st.profile(user).await.unwrap().unwrap();
    p.birth = Some(Birth { year, month });
    assert!(st.put_profile(user, p).await.unwrap());
}

pub async fn login(
    srv: &TestServer,
    v: Version,
    e: Encoding,
    user: &str,
    client: &str,
) -> HttpClient {
    let c = srv.client(v, e, client);
    c.login_password(user, PW).await.unwrap();
    c
}

pub fn prop(name: &str, value: &str) -> Element {
    Element::new("Property")
        .with_text("Name", name)
        .with_text("Value", value)
}

pub fn screen_name(sname: &str, group: &str) -> Element {
    Element::new("ScreenName")
        .with_text("SName", sname)
        .with_text("GroupID", group)
}

/// CreateGroup-Request the way Android builds it.
pub fn create_req(group: &str, props: &[(&str, &str)], join: Option<&str>) -> Element {
    let mut gp = Element::new("GroupProperties");
    for (n, v) in props {
        gp = gp.with(prop(n, v));
    }
    let mut r = Element::new("CreateGroup-Request")
        .with_text("GroupID", group)
        .with(gp)
        .with_text("JoinGroup", if join.is_some() { "T" } else { "F" });
    if let Some(sn) = join {
        r = r
            .with(screen_name(sn, group))
            .with_text("SubscribeNotification", "T");
    }
    r
}

pub fn join_req(group: &str, sname: Option<&str>, joined_request: bool) -> Element {
    let mut r = Element::new("JoinGroup-Request").with_text("GroupID", group);
    if let Some(sn) = sname {
        r = r.with(screen_name(sn, group));
    }
    r.with_text("JoinedRequest", if joined_request { "T" } else { "F" })
        .with_text("SubscribeNotification", "T")
}

pub fn leave_req(group: &str) -> Element {
    Element::new("LeaveGroup-Request").with_text("GroupID", group)
}

pub fn group_req(name: &str, group: &str) -> Element {
    Element::new(name).with_text("GroupID", group)
}

/// A user list in the ≤1.2 form (`UserList{User{UserID}}`) or the 1.3 form
/// (`UserIDList{UserID}`).
pub fn user_list(users: &[&str], v13: bool) -> Element {
    if v13 {
        let mut l = Element::new("UserIDList");
        for u in users {
            l = l.with_text("UserID", uid(u));
        }
        l
    } else {
        let mut l = Element::new("UserList");
        for u in users {
            l = l.with(Element::new("User").with_text("UserID", uid(u)));
        }
        l
    }
}

pub fn group_message(group: &str, text: &str) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.chars().count().to_string())
                .with(
                    Element::new("Recipient")
                        .with(Element::new("Group").with_text("GroupID", group)),
                ),
        )
        .with_text("ContentData", text)
}

pub fn whisper(group: &str, to: &str, text: &str) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.len().to_string())
                .with(
                    Element::new("Recipient")
                        .with(Element::new("Group").with(screen_name(to, group))),
                ),
        )
        .with_text("ContentData", text)
}

pub fn invite_req(
    id: &str,
    kind: &str,
    to: &[&str],
    group: Option<&str>,
    note: Option<&str>,
) -> Element {
    let mut rcpt = Element::new("Recipient");
    for u in to {
        rcpt = rcpt.with(Element::new("User").with_text("UserID", uid(u)));
    }
    let mut r = Element::new("Invite-Request")
        .with_text("InviteID", id)
        .with_text("InviteType", kind)
        .with(rcpt);
    if let Some(g) = group {
        r = r.with_text("GroupID", g);
    }
    if let Some(n) = note {
        r = r.with_text("InviteNote", n);
    }
    r
}

pub fn invite_answer(id: &str, accept: bool, inviter: &str, note: Option<&str>) -> Element {
    let mut r = Element::new("InviteUser-Response")
        .with_text("InviteID", id)
        .with_text("Acceptance", if accept { "T" } else { "F" })
        .with(Element::new("User").with_text("UserID", uid(inviter)));
    if let Some(n) = note {
        r = r.with_text("ResponseNote", n);
    }
    r
}

/// Sends and asserts the answer's Result code.
pub async fn expect_code<T: Transport>(
    c: &Client<T>,
    body: Element,
    code: u16,
    what: &str,
) -> Element {
    let resp = c.request(body).await.unwrap();
    assert_eq!(code_of(&resp), Some(code), "{what}: {resp:?}");
    resp
}

/// Sends and asserts a non-Status answer named `name` (no error Status).
pub async fn expect_named<T: Transport>(
    c: &Client<T>,
    body: Element,
    name: &str,
    what: &str,
) -> Element {
    let resp = c.request(body).await.unwrap();
    assert_eq!(resp.name, name, "{what}: {resp:?}");
    resp
}

/// Everything the server queued for this client, in order.
pub async fn drain<T: Transport>(c: &Client<T>) -> Vec<Element> {
    let mut out = Vec::new();
    while let Some(m) = c.poll().await.unwrap() {
        out.extend(m.transactions.into_iter().map(|t| t.body));
        assert!(out.len() < 10_000, "runaway poll");
    }
    out
}

/// The queued server requests with this name.
pub async fn drain_named<T: Transport>(c: &Client<T>, name: &str) -> Vec<Element> {
    drain(c)
        .await
        .into_iter()
        .filter(|b| b.name == name)
        .collect()
}

/// Every SName under `e`, in document order.
pub fn snames(e: &Element) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(e: &Element, out: &mut Vec<String>) {
        if e.name == "SName" {
            out.push(e.text.trim().to_string());
        }
        for c in &e.children {
            walk(c, out);
        }
    }
    walk(e, &mut out);
    out
}

/// Every UserID under `e`, in document order.
pub fn user_ids(e: &Element) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(e: &Element, out: &mut Vec<String>) {
        if e.name == "UserID" {
            out.push(e.text.trim().to_string());
        }
        for c in &e.children {
            walk(c, out);
        }
    }
    walk(e, &mut out);
    out
}

/// The value of a group property in a GroupProperties element.
pub fn prop_of<'a>(props: &'a Element, name: &str) -> Option<&'a str> {
    props
        .children_named("Property")
        .find(|p| p.child_text("Name") == Some(name))
        .and_then(|p| p.child_text("Value"))
}

/// Checks the shape of a joined-user list in a JoinGroup-Response:
/// 1.1 `UserList{ScreenName}`, 1.2 `UserMapList{Mapping}` (what Android
/// reads), 1.3 `Joined{UserMapList{UserMapping{Mapping}}}`.
pub fn joined_list_shape(v: Version, resp: &Element) -> Vec<String> {
    match v {
        Version::V1_1 => {
            let l = resp.child("UserList").expect("1.1: UserList");
            assert!(l.children.iter().all(|c| c.name == "ScreenName"), "{l:?}");
            snames(l)
        }
        Version::V1_2 => {
            let l = resp.child("UserMapList").expect("1.2: UserMapList");
            assert!(
                l.children.iter().all(|c| c.name == "Mapping"),
                "1.2 mappings directly: {l:?}"
            );
            snames(l)
        }
        Version::V1_3 => {
            let l = resp
                .path(&["Joined", "UserMapList", "UserMapping"])
                .expect("1.3: Joined/UserMapList/UserMapping");
            assert!(l.children.iter().all(|c| c.name == "Mapping"), "{l:?}");
            snames(l)
        }
    }
}

pub fn first_body(m: &Message) -> &Element {
    &m.transactions[0].body
}

/// The versions/encodings where a primitive exists, for the loops.
pub fn combos_from(min: Version) -> Vec<(Version, Encoding)> {
    crate::common::combos()
        .into_iter()
        .filter(|(v, _)| *v >= min)
        .collect()
}

/// A short tag for names that must differ per loop iteration.
pub fn tag(i: usize) -> String {
    format!("r{i}")
}

/// CreateGroup-Request for a private conversation (`Type = Private`, no
/// GroupID: the server makes one) inviting `invitees` in the 1.3 or the
/// older list form.
pub fn create_private_req(invitees: &[&str], v13: bool) -> Element {
    Element::new("CreateGroup-Request")
        .with(Element::new("GroupProperties").with(prop("Type", "Private")))
        .with_text("JoinGroup", "T")
        .with(user_list(invitees, v13))
}

/// Creates a private conversation; returns its GroupID (from the
/// Status's DetailedResult).
pub async fn create_private<T: Transport>(c: &Client<T>, v: Version, invitees: &[&str]) -> String {
    let resp = c
        .request(create_private_req(invitees, v >= Version::V1_3))
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    resp.path(&["Result", "DetailedResult", "GroupID"])
        .map(|g| g.text.trim().to_string())
        .expect("the generated GroupID")
}

/// Waits (polling) for the invitation to `group`; returns it.
pub async fn invitation<T: Transport>(c: &Client<T>, group: &str) -> Element {
    for _ in 0..50 {
        for b in drain(c).await {
            if b.name == "InviteUser-Request" && b.child_text("GroupID") == Some(group) {
                return b;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no invitation to {group}");
}

/// Accepts the invitation to `group` as Android does: join, then answer.
pub async fn accept<T: Transport>(c: &Client<T>, group: &str) -> Element {
    let inv = invitation(c, group).await;
    accept_this(c, group, &inv).await
}

/// Accepts an invitation already received.
pub async fn accept_this<T: Transport>(c: &Client<T>, group: &str, inv: &Element) -> Element {
    let id = inv.child_text("InviteID").unwrap().to_string();
    let inviter = inv
        .path(&["Sender", "User", "UserID"])
        .unwrap()
        .text
        .clone();
    let resp = c.request(join_req(group, None, true)).await.unwrap();
    assert_eq!(resp.name, "JoinGroup-Response", "{resp:?}");
    let inviter = inviter
        .trim_start_matches("wv:")
        .trim_end_matches("@localhost")
        .to_string();
    let ok = c
        .request(invite_answer(&id, true, &inviter, None))
        .await
        .unwrap();
    assert_eq!(code_of(&ok), Some(200), "{ok:?}");
    resp
}

/// The NewMessage texts waiting for a client.
pub async fn texts<T: Transport>(c: &Client<T>) -> Vec<String> {
    drain_named(c, "NewMessage")
        .await
        .iter()
        .map(|m| m.child_text("ContentData").unwrap_or("").to_string())
        .collect()
}

/// ExtendConversation-Request (1.3): `with` is the other 1:1 user (and
/// their ClientID), `add` the users to invite.
pub fn extend_req(id: &str, with: &str, client: &str, add: &[&str]) -> Element {
    Element::new("ExtendConversation-Request")
        .with_text("ExtendConversationID", id)
        .with(user_list(add, true))
        .with(
            Element::new("ExtendConversationUser")
                .with_text("UserID", uid(with))
                .with(Element::new("ClientID").with_text("URL", client)),
        )
        .with_text("SubscribeNotification", "T")
}
