//! Federation over SSP (issue 17), third step, end to end with two real
//! `impsd` processes (a.test and b.test, see `fed`): presence across
//! domains decided by the owner's home server (reactive question, grants,
//! attribute filtering at b.test, notifications shaped at a.test for each
//! watcher's version, GetPresence, unsubscribe, the remote watcher kept
//! across a restart), invitations with their answers and cancels, and
//! what a peer may not push.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common;
use crate::fed::{WAIT, metric, pair};

use common::{Inbox, TestUser, code_of, post_raw};
use imps_client::{Element, Encoding, Version};
use imps_wire::ssp::{MetaInfo, Mode, SSP_CONTENT_TYPE, SspMessage, SspSession, SspTransaction};
use imps_wire::ssp_presence::{PresenceNotification, PresenceValue};

const BOB: &str = "wv:bob@b.test";
const ALICE: &str = "wv:alice@a.test";
const DAVE: &str = "wv:dave@a.test";

fn attr(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

fn names(attrs: &[&str]) -> Element {
    let mut e = Element::new("PresenceSubList");
    e.children.extend(attrs.iter().map(|a| Element::new(*a)));
    e
}

/// Users as presence requests of version `v` name them.
fn targets(v: Version, ids: &[&str]) -> Vec<Element> {
    if v >= Version::V1_3 {
        let mut l = Element::new("UserIDList");
        for id in ids {
            l = l.with_text("UserID", *id);
        }
        vec![l]
    } else {
        ids.iter()
            .map(|id| Element::new("User").with_text("UserID", *id))
            .collect()
    }
}

async fn request<T: Inbox>(u: &TestUser<T>, e: Element) -> Element {
    u.request(e).await.unwrap()
}

async fn update<T: Inbox>(u: &TestUser<T>, attrs: Vec<Element>) {
    let mut list = Element::new("PresenceSubList");
    list.children.extend(attrs);
    let r = request(u, Element::new("UpdatePresence-Request").with(list)).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
}

async fn presence_req<T: Inbox>(u: &TestUser<T>, name: &str, ids: &[&str]) -> Element {
    let mut req = Element::new(name);
    req.children.extend(targets(u.version(), ids));
    request(u, req).await
}

/// The PresenceSubList of the next PresenceNotification-Request about
/// `owner`.
async fn notified<T: Inbox>(u: &TestUser<T>, owner: &str) -> Element {
    let (_, n) = u.expect("PresenceNotification-Request").await;
    let p = n
        .children_named("Presence")
        .find(|p| p.child_text("UserID") == Some(owner))
        .unwrap_or_else(|| panic!("no Presence of {owner} in {n:?}"));
    p.child("PresenceSubList").unwrap().clone()
}

fn value<'a>(list: &'a Element, attr: &str) -> Option<&'a str> {
    list.child(attr).and_then(|a| a.child_text("PresenceValue"))
}

/// No server request waits for `u` (after an event that would have been
/// ordered before it).
async fn nothing_more<T: Inbox>(u: &TestUser<T>, what: &str) {
    if let Some((_, e)) = u.next_request_within(Duration::from_millis(500)).await {
        panic!("{what}: unexpected {}: {e:?}", e.name);
    }
}

#[tokio::test]
async fn ssp_presence_alice_sees_bob_only_as_he_authorized() {
    let (a, mut b) = pair(86_400);
    a.add_user("dave", "pw");
    let alice = a.login("alice").ws().await;
    let dave = a.login("dave").version(Version::V1_2).await;
    // XML: PresenceAuth-User has no 1.3 WBXML token (the invitation test
    // has bob on WBXML).
    let bob = b.login("bob").ws().await;
    update(
        &bob,
        vec![attr("StatusText", "at work"), attr("Alias", "Bobby")],
    )
    .await;

    // alice subscribes; bob authorized nothing, so b.test asks him about
    // her, exactly as for a local watcher (1.3: Notification ANU).
    let r = presence_req(&alice, "SubscribePresence-Request", &[BOB]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, q) = bob.expect("Notification-Request").await;
    assert_eq!(q.child_text("NotificationType"), Some("ANU"));
    assert_eq!(
        q.path(&["UserIDList", "UserID"]).map(|u| u.text.as_str()),
        Some(ALICE)
    );
    // He grants OnlineStatus and StatusText, not his Alias.
    let grant = Element::new("CreateAttributeList-Request")
        .with(names(&["OnlineStatus", "StatusText"]))
        .with(Element::new("UserIDList").with_text("UserID", ALICE))
        .with_text("DefaultList", "F");
    assert_eq!(code_of(&request(&bob, grant).await), Some(200));
    let n = notified(&alice, BOB).await;
    assert_eq!(value(&n, "StatusText"), Some("at work"), "{n:?}");
    assert_eq!(value(&n, "OnlineStatus"), Some("T"), "{n:?}");
    assert!(n.child("Alias").is_none(), "filtered at b.test: {n:?}");

    // A change travels; still only what he authorized.
    update(&bob, vec![attr("StatusText", "lunch"), attr("Alias", "B")]).await;
    let n = notified(&alice, BOB).await;
    assert_eq!(value(&n, "StatusText"), Some("lunch"));
    assert!(n.child("Alias").is_none(), "{n:?}");

    // GetPresence of the remote user: b.test answers what alice may see.
    let r = presence_req(&alice, "GetPresence-Request", &[BOB]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let p = r.child("Presence").unwrap();
    assert_eq!(p.child_text("UserID"), Some(BOB));
    let l = p.child("PresenceSubList").unwrap();
    assert_eq!(value(l, "StatusText"), Some("lunch"));
    assert!(l.child("Alias").is_none(), "{l:?}");

    // dave (CSP 1.2) subscribes; bob answers with PresenceAuth-User for
    // OnlineStatus only: dave gets it in 1.2 form, nothing else.
    let r = presence_req(&dave, "SubscribePresence-Request", &[BOB]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, q) = bob.expect("Notification-Request").await;
    assert_eq!(
        q.path(&["UserIDList", "UserID"]).map(|u| u.text.as_str()),
        Some(DAVE)
    );
    let answer = Element::new("PresenceAuth-User")
        .with_text("UserID", DAVE)
        .with_text("Acceptance", "T")
        .with(names(&["OnlineStatus"]));
    assert_eq!(code_of(&request(&bob, answer).await), Some(200));
    let n = notified(&dave, BOB).await;
    assert_eq!(value(&n, "OnlineStatus"), Some("T"), "{n:?}");
    assert!(n.child("StatusText").is_none(), "{n:?}");
    assert!(
        n.path(&["OnlineStatus", "ClientID"]).is_none(),
        "1.2 form: {n:?}"
    );

    // Refusals: a user of a domain that is not a peer (516); a user the
    // peer does not have (its 531).
    let r = presence_req(&alice, "SubscribePresence-Request", &["wv:carol@c.test"]).await;
    assert_eq!(code_of(&r), Some(516), "{r:?}");
    let r = presence_req(&alice, "GetPresence-Request", &["wv:nobody@b.test"]).await;
    assert_eq!(code_of(&r), Some(531), "{r:?}");

    // b.test restarts: the remote watchers are in its store. bob comes
    // back with a new status; alice is told.
    b.restart();
    let bob = b.login("bob").client_id("bob-2").ws().await;
    update(&bob, vec![attr("StatusText", "back")]).await;
    loop {
        // OnlineStatus changes may come first.
        let n = notified(&alice, BOB).await;
        if value(&n, "StatusText") == Some("back") {
            assert!(n.child("Alias").is_none(), "{n:?}");
            break;
        }
    }

    // alice unsubscribes: no more notifications, though bob changes.
    let r = presence_req(&alice, "UnsubscribePresence-Request", &[BOB]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    update(&bob, vec![attr("StatusText", "gone")]).await;
    // A GetPresence round trip after the change: any notification b.test
    // sent for it would have come first, on the same ordered queue.
    let r = presence_req(&alice, "GetPresence-Request", &[BOB]).await;
    let l = r.path(&["Presence", "PresenceSubList"]).unwrap();
    assert_eq!(value(l, "StatusText"), Some("gone"));
    nothing_more(&alice, "unsubscribed").await;
    drop(dave);
}

fn invite(id: &str, kind: &str, to: &str, note: &str) -> Element {
    Element::new("Invite-Request")
        .with_text("InviteID", id)
        .with_text("InviteType", kind)
        .with(Element::new("Recipient").with(Element::new("User").with_text("UserID", to)))
        .with_text("InviteNote", note)
}

#[tokio::test]
async fn ssp_invitation_its_answer_and_its_cancel_cross_domains() {
    let (a, b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").encoding(Encoding::Wbxml).ws().await;

    // alice invites bob: he gets the InviteUser-Request from her.
    let r = request(&alice, invite("inv-1", "IM", BOB, "chat?")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, i) = bob.expect("InviteUser-Request").await;
    assert_eq!(i.child_text("InviteID"), Some("inv-1"));
    assert_eq!(i.child_text("InviteType"), Some("IM"));
    assert_eq!(i.child_text("InviteNote"), Some("chat?"));
    assert_eq!(
        i.path(&["Sender", "User", "UserID"])
            .map(|u| u.text.as_str()),
        Some(ALICE)
    );
    // He declines; his answer reaches her as Invite-Response.
    let no = Element::new("InviteUser-Response")
        .with_text("InviteID", "inv-1")
        .with_text("Acceptance", "F")
        .with(Element::new("User").with_text("UserID", ALICE))
        .with_text("ResponseNote", "busy");
    assert_eq!(code_of(&request(&bob, no).await), Some(200));
    let (_, ans) = alice.expect("Invite-Response").await;
    assert_eq!(ans.child_text("InviteID"), Some("inv-1"));
    assert_eq!(ans.child_text("Acceptance"), Some("F"));
    assert_eq!(ans.child_text("ResponseNote"), Some("busy"));
    assert_eq!(
        ans.path(&["Sender", "User", "UserID"])
            .map(|u| u.text.as_str()),
        Some(BOB)
    );

    // A second one, cancelled: bob gets CancelInviteUser-Request.
    let r = request(&alice, invite("inv-2", "PR", BOB, "see me")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, i) = bob.expect("InviteUser-Request").await;
    assert_eq!(i.child_text("InviteID"), Some("inv-2"));
    let cancel = Element::new("CancelInvite-Request")
        .with_text("InviteID", "inv-2")
        .with(Element::new("Recipient").with(Element::new("User").with_text("UserID", BOB)));
    assert_eq!(code_of(&request(&alice, cancel).await), Some(200));
    let (_, c) = bob.expect("CancelInviteUser-Request").await;
    assert_eq!(c.child_text("InviteID"), Some("inv-2"));
    assert_eq!(
        c.path(&["Sender", "User", "UserID"])
            .map(|u| u.text.as_str()),
        Some(ALICE)
    );
    // Answering the cancelled invitation: it is gone (423).
    let late = Element::new("InviteUser-Response")
        .with_text("InviteID", "inv-2")
        .with_text("Acceptance", "T")
        .with(Element::new("User").with_text("UserID", ALICE));
    assert_eq!(code_of(&request(&bob, late).await), Some(423));

    // Refused at once: a domain that is not a peer (516), and a group
    // invitation to a group a.test does not have (group invitations
    // across domains: `fed_group_invite`).
    let r = request(&alice, invite("inv-3", "IM", "wv:carol@c.test", "x")).await;
    assert_eq!(code_of(&r), Some(516), "{r:?}");
    let gr = invite("inv-4", "GR", BOB, "x").with_text("GroupID", "wv:alice/g@a.test");
    let r = request(&alice, gr).await;
    assert_ne!(code_of(&r), Some(200), "{r:?}");
}

/// A PresenceNotification as b.test would send it, inside `session`.
fn pushed(session: &str, watcher: &str, owner: &str, status: &str) -> Vec<u8> {
    let n = PresenceNotification {
        meta: MetaInfo {
            client_originated: false,
            service_id: "wv:@b.test".into(),
            user: None,
        },
        watchers: vec![watcher.into()],
        values: vec![PresenceValue {
            user_id: owner.into(),
            list: Element::new("PresenceSubList").with(attr("StatusText", status)),
        }],
    };
    SspMessage::Session(SspSession {
        session_id: session.into(),
        transactions: vec![SspTransaction {
            mode: Mode::Request,
            transaction_id: "9".into(),
            primitive: n.to_element(),
        }],
    })
    .encode()
}

#[tokio::test]
async fn ssp_presence_pushed_by_a_peer_reaches_only_subscribers_of_its_own_users() {
    let (a, b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    // A live association, made by b.test's traffic to a.test.
    let bob = b.login("bob").ws().await;
    let r = presence_req(&bob, "GetPresence-Request", &[ALICE]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let peers = b.cli(&["peer", "list"]);
    let session = peers.split('\t').nth(2).unwrap().to_string();
    assert!(session.ends_with("@b.test"), "{peers}");
    let url = a.url();

    // The presence of a user of a third domain: refused (901).
    let before = metric(&a, "impsd_ssp_refused_total", "b.test").await;
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        pushed(&session, ALICE, "wv:mallory@c.test", "forged"),
    )
    .await;
    assert_eq!(code, 200, "taken, and answered with a refusal");
    assert_eq!(
        metric(&a, "impsd_ssp_refused_total", "b.test").await,
        before + 1
    );
    // bob's presence to alice, who never subscribed to him: dropped.
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        pushed(&session, ALICE, BOB, "unasked"),
    )
    .await;
    assert_eq!(code, 200);
    nothing_more(&alice, "not subscribed").await;
    // The control: once she subscribed, the same push reaches her.
    let r = presence_req(&alice, "SubscribePresence-Request", &[BOB]).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        pushed(&session, ALICE, BOB, "asked"),
    )
    .await;
    assert_eq!(code, 200);
    common::wait_until("alice got bob's pushed presence", WAIT, || async {
        match alice.next_request_within(Duration::from_millis(200)).await {
            Some((_, n)) => {
                n.name == "PresenceNotification-Request"
                    && n.path(&["Presence", "PresenceSubList", "StatusText", "PresenceValue"])
                        .is_some_and(|v| v.text == "asked")
            }
            None => false,
        }
    })
    .await;
}
