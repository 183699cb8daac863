//! Helpers shared by the presence end-to-end tests: building presence
//! requests the way each CSP version writes them, and reading what the
//! server pushes back.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use imps_client::{
    Client, ClientConfig, Element, Encoding, HttpClient, Message, Transport, Version,
};
use imps_core::{NewUser, Store};

use crate::common::{TestServer, code_of};

/// The one password every seeded user has, hashed once: argon2 is slow on
/// purpose and the tests create many users.
pub const PW: &str = "pw";
static HASH: LazyLock<String> = LazyLock::new(|| imps_core::auth::hash_password(PW).unwrap());

/// Creates users (password [`PW`]) through a second store handle, the way
/// `impsd user add` does while the server runs.
pub async fn seed_users(srv: &TestServer, ids: &[String]) {
    let store: Arc<dyn Store> = srv.store();
    for id in ids {
        store
            .create_user(NewUser {
                id: id.clone(),
                password_hash: Some(HASH.clone()),
                digest_secret: None,
                msisdn: None,
                friendly_name: Some(format!("{id} the tester")),
                created_ms: 0,
            })
            .await
            .unwrap();
    }
}

/// `n` fresh user IDs with a prefix, seeded.
pub async fn users(srv: &TestServer, prefix: &str, names: &[&str]) -> Vec<String> {
    let ids: Vec<String> = names.iter().map(|n| format!("{n}{prefix}")).collect();
    seed_users(srv, &ids).await;
    ids
}

/// A short tag per version/encoding, to give each round its own users.
pub fn tag(v: Version, e: Encoding) -> String {
    format!(
        "{}{}",
        v.as_str().replace('.', ""),
        if e == Encoding::Xml { "x" } else { "w" }
    )
}

pub fn wire(id: &str) -> String {
    format!("wv:{id}@localhost")
}

/// Logs in and negotiates service, so the session is ready (shown online).
pub async fn online(
    srv: &TestServer,
    v: Version,
    e: Encoding,
    user: &str,
    client: &str,
) -> HttpClient {
    let c = login_only(srv, v, e, user, client).await;
    c.service_request_all().await.unwrap();
    c
}

/// Logs in without negotiating anything.
pub async fn login_only(
    srv: &TestServer,
    v: Version,
    e: Encoding,
    user: &str,
    client: &str,
) -> HttpClient {
    let c =
        Client::new(ClientConfig::new(srv.url(), v, e).with_client_id(format!("{client}-{user}")))
            .unwrap();
    c.login_password(user, PW).await.unwrap();
    c
}

/// `Attr{Qualifier T, PresenceValue value}`.
pub fn attr(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

pub fn sub_list(attrs: impl IntoIterator<Item = Element>) -> Element {
    let mut e = Element::new("PresenceSubList");
    e.children.extend(attrs);
    e
}

/// `PresenceSubList{<Name/>...}` as requests name attributes.
pub fn names(attrs: &[&str]) -> Element {
    sub_list(attrs.iter().map(|a| Element::new(*a)))
}

/// Users as presence requests name them: `User{UserID}*` up to 1.2,
/// `UserIDList{UserID*}` in 1.3.
pub fn user_targets(v: Version, ids: &[&str]) -> Vec<Element> {
    if v == Version::V1_3 {
        let mut l = Element::new("UserIDList");
        for id in ids {
            l = l.with_text("UserID", wire(id));
        }
        vec![l]
    } else {
        ids.iter()
            .map(|id| Element::new("User").with_text("UserID", wire(id)))
            .collect()
    }
}

/// Users as attribute-list requests name them: `UserID*` up to 1.2,
/// `UserIDList{UserID*}` in 1.3.
pub fn attr_list_users(v: Version, ids: &[&str]) -> Vec<Element> {
    if v == Version::V1_3 {
        user_targets(v, ids)
    } else {
        ids.iter()
            .map(|id| Element::text("UserID", wire(id)))
            .collect()
    }
}

pub async fn update<T: Transport>(c: &Client<T>, attrs: Vec<Element>) -> u16 {
    let r = c
        .request(Element::new("UpdatePresence-Request").with(sub_list(attrs)))
        .await
        .unwrap();
    code_of(&r).unwrap()
}

/// GetPresence for one user; the whole response.
pub async fn get_presence_resp<T: Transport>(c: &Client<T>, v: Version, id: &str) -> Element {
    let mut req = Element::new("GetPresence-Request");
    req.children.extend(user_targets(v, &[id]));
    c.request(req).await.unwrap()
}

/// GetPresence for one user; their PresenceSubList.
pub async fn get_presence<T: Transport>(c: &Client<T>, v: Version, id: &str) -> Element {
    let r = get_presence_resp(c, v, id).await;
    assert_eq!(r.name, "GetPresence-Response", "{r:?}");
    let p = r.child("Presence").expect("a Presence per user");
    assert!(p.child("UserID").is_some(), "Presence always has UserID");
    p.child("PresenceSubList")
        .expect("Presence always has PresenceSubList")
        .clone()
}

pub async fn subscribe<T: Transport>(
    c: &Client<T>,
    v: Version,
    ids: &[&str],
    attrs: Option<&[&str]>,
) -> u16 {
    let mut req = Element::new("SubscribePresence-Request");
    req.children.extend(user_targets(v, ids));
    if let Some(a) = attrs {
        req = req.with(names(a));
    }
    code_of(&c.request(req).await.unwrap()).unwrap()
}

pub async fn unsubscribe<T: Transport>(c: &Client<T>, v: Version, ids: &[&str]) -> u16 {
    let mut req = Element::new("UnsubscribePresence-Request");
    req.children.extend(user_targets(v, ids));
    code_of(&c.request(req).await.unwrap()).unwrap()
}

/// CreateAttributeList for users.
pub async fn grant<T: Transport>(c: &Client<T>, v: Version, ids: &[&str], attrs: &[&str]) -> u16 {
    let mut req = Element::new("CreateAttributeList-Request").with(names(attrs));
    req.children.extend(attr_list_users(v, ids));
    req = req.with_text("DefaultList", "F");
    code_of(&c.request(req).await.unwrap()).unwrap()
}

/// Everything the server queued for this client, acknowledged with
/// Status 200 as a phone does.
pub async fn drain(c: &HttpClient) -> Vec<Element> {
    let mut out = Vec::new();
    while let Some(m) = c.poll().await.unwrap() {
        let t = &m.transactions[0];
        if let Some(id) = &t.id {
            c.answer_status(id).await.unwrap();
        }
        out.push(t.body.clone());
    }
    out
}

/// The PresenceNotification-Requests among server requests.
pub fn notifications(reqs: &[Element]) -> Vec<&Element> {
    reqs.iter()
        .filter(|r| r.name == "PresenceNotification-Request")
        .collect()
}

/// Attribute names notified about `owner`, over all notifications.
pub fn notified_attrs(reqs: &[Element], owner: &str) -> Vec<String> {
    let mut v = Vec::new();
    for n in notifications(reqs) {
        for p in n.children_named("Presence") {
            if p.child_text("UserID") == Some(wire(owner).as_str())
                && let Some(l) = p.child("PresenceSubList")
            {
                v.extend(l.children.iter().map(|c| c.name.to_string()));
            }
        }
    }
    v
}

/// The value of an attribute in a PresenceSubList.
pub fn value_of<'a>(list: &'a Element, attr: &str) -> Option<&'a str> {
    list.child(attr).and_then(|a| a.child_text("PresenceValue"))
}

/// Whether OnlineStatus says online.
pub fn is_online(list: &Element) -> Option<bool> {
    value_of(list, "OnlineStatus").map(|v| v == "T")
}

/// The last value of an attribute notified about `owner`.
pub fn last_notified<'a>(reqs: &'a [Element], owner: &str, attr: &str) -> Option<&'a Element> {
    let mut last = None;
    for n in notifications(reqs) {
        for p in n.children_named("Presence") {
            if p.child_text("UserID") == Some(wire(owner).as_str())
                && let Some(a) = p.child("PresenceSubList").and_then(|l| l.child(attr))
            {
                last = Some(a);
            }
        }
    }
    last
}

/// A message's size in its encoding, as it travelled.
pub fn encoded_len(m: &Message, e: Encoding) -> usize {
    imps_wire::encode(m, e).unwrap().len()
}
