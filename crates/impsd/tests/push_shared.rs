#![allow(clippy::unwrap_used)]
//! Issue 19, the fan-out cost: one presence change or one group message
//! is built once, queued by reference in every recipient's outbox and
//! encoded once per (version, encoding); each WebSocket gets its own
//! envelope around those bytes. Recipients of every shape at once (CSP
//! 1.1 XML, 1.2 XML and WBXML, 1.3 XML and WBXML, and a client that reads
//! addresses without our domain) each get the primitive in their own
//! version, under their own SessionID and a TransactionID of their own
//! session, from one change.

use crate::common;
use crate::groups_common;
use crate::presence_common;

use std::time::Duration;

use common::TestServer;
use imps_client::{Element, Encoding, Message, Version, WsClient};
use imps_testkit::TestUser;
use presence_common::{attr, names, subscribe, update};

const WAIT: Duration = Duration::from_secs(10);

/// (user, how it logs in, version, encoding). `wv:<user>` without the
/// domain makes a session that is sent addresses without it (issue 13).
const WATCHERS: [(&str, &str, Version, Encoding); 6] = [
    ("w11x", "w11x", Version::V1_1, Encoding::Xml),
    ("w12x", "w12x", Version::V1_2, Encoding::Xml),
    ("w12w", "w12w", Version::V1_2, Encoding::Wbxml),
    ("w13x", "w13x", Version::V1_3, Encoding::Xml),
    ("w13w", "w13w", Version::V1_3, Encoding::Wbxml),
    ("wbare", "wv:wbare", Version::V1_3, Encoding::Wbxml),
];

async fn log_in(
    srv: &TestServer,
    login: &str,
    v: Version,
    e: Encoding,
) -> TestUser<imps_client::WsTransport> {
    srv.login(login).version(v).encoding(e).ws().await
}

/// The next push of `u`, which must be the message for its own session,
/// in its own version, carrying one server request named `name`.
async fn pushed(u: &WsClient, v: Version, name: &str) -> (Message, Element) {
    let m = u
        .next_push(WAIT)
        .await
        .unwrap_or_else(|| panic!("{v}: no {name}"));
    assert_eq!(m.version, v, "{m:?}");
    assert_eq!(m.session_id, u.session_id(), "{m:?}");
    assert_eq!(m.transactions.len(), 1, "{m:?}");
    let t = &m.transactions[0];
    assert_eq!(t.mode, imps_client::TransactionMode::Request, "{m:?}");
    assert_eq!(t.body.name, name, "{v}: {m:?}");
    let body = t.body.clone();
    (m, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_presence_change_reaches_watchers_of_every_version_and_encoding() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "pw").await;
    for (user, ..) in WATCHERS {
        srv.add_user(user, "pw").await;
    }
    let alice = srv
        .login("alice")
        .version(Version::V1_2)
        .encoding(Encoding::Xml)
        .await;
    let everyone = Element::new("CreateAttributeList-Request")
        .with(names(&["OnlineStatus", "StatusText"]))
        .with_text("DefaultList", "T");
    assert_eq!(
        common::code_of(&alice.request(everyone).await.unwrap()),
        Some(200)
    );

    let mut watchers = Vec::new();
    for (user, login, v, e) in WATCHERS {
        let u = log_in(&srv, login, v, e).await;
        assert_eq!(
            subscribe(&u.client, v, &["alice"], None).await,
            200,
            "{user}"
        );
        pushed(&u.client, v, "PresenceNotification-Request").await;
        watchers.push((user, login, v, u));
    }
    // Anything else the subscriptions brought is answered and gone.
    for (.., u) in &watchers {
        let _ = u.drain().await;
    }

    assert_eq!(
        update(&alice, vec![attr("StatusText", "one change")]).await,
        200
    );
    let mut tids = std::collections::HashSet::new();
    for (user, login, v, u) in &watchers {
        let (m, body) = pushed(&u.client, *v, "PresenceNotification-Request").await;
        assert_eq!(m.poll, Some(false), "{user}: nothing else waits");
        let p = body
            .child("Presence")
            .unwrap_or_else(|| panic!("{user}: {body:?}"));
        let owner = if login.starts_with("wv:") {
            "wv:alice"
        } else {
            "wv:alice@localhost"
        };
        assert_eq!(p.child_text("UserID"), Some(owner), "{user}: {body:?}");
        let list = p.child("PresenceSubList").unwrap();
        assert_eq!(
            list.path(&["StatusText", "PresenceValue"])
                .map(|e| e.text.as_str()),
            Some("one change"),
            "{user}: {body:?}"
        );
        assert!(list.child("OnlineStatus").is_some(), "{user}: {body:?}");
        let tid = m.transactions[0].id.clone().unwrap();
        u.client.answer_status(&tid).await.unwrap();
        tids.insert((u.client.session_id(), tid));
    }
    assert_eq!(tids.len(), WATCHERS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_group_message_reaches_members_of_every_version_and_encoding() {
    use groups_common::{create_req, expect_code, expect_named, gid, group_message, join_req};
    let srv = TestServer::start().await;
    srv.add_user("owner", "pw").await;
    let members = WATCHERS;
    for (user, ..) in members {
        srv.add_user(user, "pw").await;
    }
    let owner = srv
        .login("owner")
        .version(Version::V1_3)
        .encoding(Encoding::Xml)
        .ws()
        .await;
    let g = gid("owner", "mixed");
    expect_code(
        &owner.client,
        create_req(&g, &[], Some("Owner")),
        200,
        "create",
    )
    .await;
    let mut joined = Vec::new();
    for (user, login, v, e) in members {
        let u = log_in(&srv, login, v, e).await;
        expect_named(
            &u.client,
            join_req(&g, Some(user), false),
            "JoinGroup-Response",
            user,
        )
        .await;
        let _ = u.drain().await;
        joined.push((user, login, v, u));
    }
    let _ = owner.drain().await;

    expect_code(
        &owner.client,
        group_message(&g, "to all of you"),
        200,
        "send",
    )
    .await;
    for (user, login, v, u) in &joined {
        // Group change notices may come first; the message is what counts.
        let (m, body) = loop {
            let (m, body) = {
                let m = u
                    .client
                    .next_push(WAIT)
                    .await
                    .unwrap_or_else(|| panic!("{user}: no NewMessage"));
                let b = m.transactions[0].body.clone();
                (m, b)
            };
            if body.name == "NewMessage" {
                break (m, body);
            }
            u.client
                .answer_status(m.transactions[0].id.as_deref().unwrap())
                .await
                .unwrap();
        };
        assert_eq!(m.version, *v, "{user}: {m:?}");
        assert_eq!(m.session_id, u.client.session_id(), "{user}: {m:?}");
        assert_eq!(
            body.child_text("ContentData"),
            Some("to all of you"),
            "{user}"
        );
        let group = body
            .path(&["MessageInfo", "Recipient", "Group", "GroupID"])
            .map(|e| e.text.clone())
            .unwrap_or_default();
        let want = if login.starts_with("wv:") {
            g.replace("@localhost", "")
        } else {
            g.clone()
        };
        assert_eq!(group, want, "{user}: {body:?}");
    }
}
