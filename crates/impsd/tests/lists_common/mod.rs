//! Helpers shared by the lists end-to-end tests (lists*.rs): the list
//! primitives as a phone would send them, readers for the answers, and
//! fast seeding through a second store handle.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::sync::Arc;

use imps_client::{
    Client, Element, Encoding, HttpClient, Message, Transaction, Transport, Version,
};
use imps_core::store::{ContactEntry, ContactListRecord, CreateListOutcome};
use imps_core::{NewUser, Store};

use crate::common::{TestServer, code_of};

pub const PW: &str = "pw";

pub fn uid(user: &str) -> String {
    format!("wv:{user}@localhost")
}

pub fn list_id(owner: &str, name: &str) -> String {
    format!("wv:{owner}/{name}@localhost")
}

/// A user with a password (argon2: a few per test only) and optionally a
/// friendly name and an MSISDN.
pub async fn add_user(srv: &TestServer, id: &str, friendly: Option<&str>, msisdn: Option<&str>) {
    store(srv)
        .create_user(NewUser {
            id: id.into(),
            password_hash: Some(imps_core::auth::hash_password(PW).unwrap()),
            digest_secret: None,
            msisdn: msisdn.map(str::to_string),
            friendly_name: friendly.map(str::to_string),
            created_ms: 0,
        })
        .await
        .unwrap();
}

/// Many users that never log in: no password hash, so no argon2.
pub async fn seed_users(srv: &TestServer, ids: impl IntoIterator<Item = String>) {
    let st = store(srv);
    let mut tasks = Vec::new();
    for id in ids {
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            st.create_user(NewUser {
                id,
                password_hash: None,
                digest_secret: None,
                msisdn: None,
                friendly_name: None,
                created_ms: 0,
            })
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// A contact list written straight into the store (one transaction), for
/// lists too long to build through the protocol in a test.
pub async fn seed_list(
    srv: &TestServer,
    owner: &str,
    name: &str,
    members: &[(String, Option<String>)],
) {
    let rec = ContactListRecord {
        owner: owner.into(),
        name: name.into(),
        wire_id: list_id(owner, name),
        display_name: Some(name.into()),
        is_default: false,
        created_ms: 0,
    };
    let entries = members
        .iter()
        .map(|(u, n)| ContactEntry {
            user_id: u.clone(),
            nickname: n.clone(),
        })
        .collect();
    let out = store(srv)
        .create_contact_list(rec, entries, 1_000, 100_000)
        .await
        .unwrap();
    assert_eq!(out, CreateListOutcome::Created);
}

pub fn store(srv: &TestServer) -> Arc<dyn Store> {
    srv.store()
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

/// ClientCapability asking for messages of at most `size` bytes, the way a
/// 1.3 phone states it (ParserSize and AcceptedPushLength).
pub async fn negotiate_size<T: Transport>(c: &Client<T>, size: u64) {
    let list = Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("ParserSize", size.to_string())
        .with_text("AcceptedPushLength", size.to_string())
        .with_text("InitialDeliveryMethod", "P")
        .with_text("SupportedBearer", "HTTP");
    let resp = c
        .request(Element::new("ClientCapability-Request").with(list))
        .await
        .unwrap();
    assert_eq!(resp.name, "ClientCapability-Response", "{resp:?}");
}

pub fn nick(name: Option<&str>, user: &str) -> Element {
    let mut n = Element::new("NickName");
    if let Some(name) = name {
        n = n.with_text("Name", name);
    }
    n.with_text("UserID", uid(user))
}

pub fn create_list_request(list: &str, members: Vec<Element>, props: &[(&str, &str)]) -> Element {
    let mut req = Element::new("CreateList-Request").with_text("ContactList", list);
    if !members.is_empty() {
        let mut nl = Element::new("NickList");
        nl.children = members;
        req = req.with(nl);
    }
    if !props.is_empty() {
        let mut p = Element::new("ContactListProperties");
        for (n, v) in props {
            p = p.with(
                Element::new("Property")
                    .with_text("Name", *n)
                    .with_text("Value", *v),
            );
        }
        req = req.with(p);
    }
    req
}

pub async fn create_list<T: Transport>(
    c: &Client<T>,
    list: &str,
    members: Vec<Element>,
    props: &[(&str, &str)],
) -> Element {
    c.request(create_list_request(list, members, props))
        .await
        .unwrap()
}

pub fn add_request(list: &str, members: Vec<Element>, receive: bool) -> Element {
    let mut add = Element::new("AddNickList");
    add.children = members;
    Element::new("ListManage-Request")
        .with_text("ContactList", list)
        .with(add)
        .with_text("ReceiveList", if receive { "T" } else { "F" })
}

pub fn receive_request(list: &str) -> Element {
    Element::new("ListManage-Request")
        .with_text("ContactList", list)
        .with_text("ReceiveList", "T")
}

/// (Name, UserID) of every NickName in a ListManage-Response, asserting
/// that each has both children (Android needs them).
pub fn nicks(resp: &Element) -> Vec<(String, String)> {
    let Some(list) = resp.child("NickList") else {
        return Vec::new();
    };
    list.children_named("NickName")
        .map(|n| {
            let name = n.child_text("Name").expect("NickName/Name").to_string();
            let user = n.child_text("UserID").expect("NickName/UserID").to_string();
            (name, user)
        })
        .collect()
}

/// The members of a list, read with ReceiveList T (whole reply expected).
pub async fn members<T: Transport>(c: &Client<T>, list: &str) -> Vec<(String, String)> {
    let resp = c.request(receive_request(list)).await.unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    nicks(&resp)
}

/// Property values of a ContactListProperties.
pub fn prop<'a>(props: &'a Element, name: &str) -> Option<&'a str> {
    props
        .children_named("Property")
        .find(|p| p.child_text("Name") == Some(name))
        .and_then(|p| p.child_text("Value"))
}

/// GetList: (lists in ContactList*, DefaultContactList), reading both the
/// direct and the ContactListIDList-wrapped form.
pub async fn get_lists<T: Transport>(c: &Client<T>) -> (Vec<String>, Option<String>, Element) {
    let resp = c.request(Element::new("GetList-Request")).await.unwrap();
    assert_eq!(resp.name, "GetList-Response", "{resp:?}");
    let mut ids: Vec<String> = resp
        .children_named("ContactList")
        .map(|e| e.text.trim().to_string())
        .collect();
    if let Some(w) = resp.child("ContactListIDList") {
        ids.extend(
            w.children_named("ContactList")
                .map(|e| e.text.trim().to_string()),
        );
    }
    let default = resp.child_text("DefaultContactList").map(str::to_string);
    (ids, default, resp)
}

/// Every list a user has, default included, in lower case.
pub async fn all_lists<T: Transport>(c: &Client<T>) -> Vec<String> {
    let (mut ids, default, _) = get_lists(c).await;
    if let Some(d) = default.filter(|d| !ids.iter().any(|i| i.eq_ignore_ascii_case(d))) {
        ids.push(d);
    }
    let mut ids: Vec<String> = ids.into_iter().map(|i| i.to_lowercase()).collect();
    ids.sort();
    ids
}

/// Sends one request and returns the whole answering transaction, so a
/// test can look at the descriptor (SegmentInfo) too.
pub async fn exchange<T: Transport>(
    c: &Client<T>,
    body: Element,
    segment_info: Option<Element>,
) -> (Transaction, usize) {
    let tid = c.next_transaction_id();
    let mut tx = Transaction::request(tid.clone(), body);
    tx.segment_info = segment_info;
    let answer: Message = c
        .send_raw(&c.message(tx))
        .await
        .unwrap()
        .expect("an answer");
    let size = imps_wire::encode(&answer, c.config().encoding)
        .unwrap()
        .len();
    let tx = answer
        .transactions
        .into_iter()
        .find(|t| t.id.as_deref() == Some(tid.as_str()))
        .expect("the response to our request");
    (tx, size)
}

/// SegmentInfo of an answer: in the TransactionDescriptor, never in the
/// body (a body copy would be a protocol error).
pub fn segment_info_of(tx: &Transaction) -> Option<Element> {
    assert!(
        tx.body.child("SegmentInfo").is_none(),
        "SegmentInfo must be in the TransactionDescriptor, not in {}",
        tx.body.name
    );
    tx.segment_info.clone()
}

/// (TransactionID, SegmentCount) of a SegmentInfo.
pub fn segment_key(info: &Element) -> (String, u64) {
    let id = info
        .path(&["SegmentID", "TransactionID"])
        .expect("SegmentID/TransactionID");
    (
        id.text.trim().to_string(),
        info.child_u64("SegmentCount").expect("SegmentCount"),
    )
}

pub fn get_segment(token: &str, reference: u64) -> Element {
    Element::new("GetSegment-Request").with(
        Element::new("SegmentID")
            .with_text("TransactionID", token)
            .with_text("SegmentReference", reference.to_string()),
    )
}

pub fn drop_segment(token: &str) -> Element {
    Element::new("DropSegment-Request")
        .with(Element::new("SegmentID").with_text("TransactionID", token))
}

/// Fetches a whole reply that may have come in parts: the first answer's
/// body, then every GetSegment part; returns all bodies (part 1 first),
/// each message's encoded size, and the segment token if any.
pub async fn fetch_all<T: Transport>(
    c: &Client<T>,
    body: Element,
) -> (Vec<Element>, Vec<usize>, Option<String>) {
    let (tx, size) = exchange(c, body, None).await;
    let mut sizes = vec![size];
    let Some(info) = segment_info_of(&tx) else {
        return (vec![tx.body], sizes, None);
    };
    let (token, count) = segment_key(&info);
    let mut bodies = vec![tx.body];
    for k in 2..=count {
        let (t, size) = exchange(c, get_segment(&token, k), None).await;
        sizes.push(size);
        assert_eq!(t.body.name, "GetSegment-Response", "{:?}", t.body);
        assert_eq!(code_of(&t.body), Some(200));
        let info = segment_info_of(&t).expect("SegmentInfo on every part");
        assert_eq!(segment_key(&info), (token.clone(), count));
        let part = t
            .body
            .child("SegmentContent")
            .and_then(|sc| sc.children.first())
            .expect("SegmentContent holds the part")
            .clone();
        bodies.push(part);
    }
    (bodies, sizes, Some(token))
}

/// A 1.2-form BlockEntity-Request: BlockList{InUse, AddList}, GrantList likewise.
pub fn block_entity_12(
    in_use: bool,
    add: &[&str],
    grant_in_use: Option<bool>,
    grant_add: &[&str],
) -> Element {
    let ids = |name: &str, users: &[&str]| {
        let mut l = Element::new(name);
        for u in users {
            l = l.with_text("UserID", uid(u));
        }
        l
    };
    let mut req = Element::new("BlockEntity-Request").with(
        Element::new("BlockList")
            .with_text("InUse", if in_use { "T" } else { "F" })
            .with(ids("AddList", add)),
    );
    if let Some(g) = grant_in_use {
        req = req.with(
            Element::new("GrantList")
                .with_text("InUse", if g { "T" } else { "F" })
                .with(ids("AddList", grant_add)),
        );
    }
    req
}

/// The UserIDs in a BlockList/GrantList's EntityList.
pub fn entity_users(list: Option<&Element>) -> Vec<String> {
    list.and_then(|l| l.child("EntityList"))
        .map(|e| e.children_named("UserID").map(|u| u.text.clone()).collect())
        .unwrap_or_default()
}
