//! Presence state survives a SIGKILL of the real binary: stored
//! attributes, attribute lists (proactive grants), a pending reactive
//! request and subscriptions (BASE-PRES, PRR-5).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::presence_common;

use std::path::Path;
use std::process::Command;

use common::code_of;
use imps_client::{Client, ClientConfig, Element, Encoding, HttpClient, Version};
use presence_common::*;

use common::{real_config_db, spawn_real as spawn};

const BIN: &str = common::IMPSD_BIN;

fn add_user(cfg: &Path, id: &str) {
    let out = Command::new(BIN)
        .args(["user", "add", id, "--password", PW, "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn login(url: &str, user: &str, client: &str) -> HttpClient {
    let c =
        Client::new(ClientConfig::new(url, Version::V1_2, Encoding::Wbxml).with_client_id(client))
            .unwrap();
    c.login_password(user, PW).await.unwrap();
    c.service_request_all().await.unwrap();
    c
}

#[tokio::test]
async fn base_pres_attributes_grants_and_subscriptions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::from_env();
    let cfg = real_config_db(dir.path(), db.as_ref());
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&cfg, &data);
    for u in ["alice", "bob", "carol"] {
        add_user(&cfg, u);
    }
    let v = Version::V1_2;
    let alice = login(&url, "alice", "phone").await;
    let bob = login(&url, "bob", "phone").await;
    let carol = login(&url, "carol", "phone").await;
    let geo = Element::new("GeoLocation")
        .with_text("Qualifier", "T")
        .with_text("Latitude", "60.17")
        .with_text("Longitude", "24.94");
    assert_eq!(
        update(
            &alice,
            vec![
                attr("StatusText", "before"),
                attr("Alias", "Ali"),
                geo.clone()
            ]
        )
        .await,
        200
    );
    assert_eq!(
        grant(
            &alice,
            v,
            &["bob"],
            &["OnlineStatus", "StatusText", "GeoLocation"]
        )
        .await,
        200
    );
    let def = Element::new("CreateAttributeList-Request")
        .with(names(&["Alias"]))
        .with_text("DefaultList", "T");
    assert_eq!(code_of(&alice.request(def).await.unwrap()), Some(200));
    assert_eq!(subscribe(&bob, v, &["alice"], None).await, 200);
    // Carol has only the default list (Alias): no question to Alice.
    assert_eq!(subscribe(&carol, v, &["alice"], None).await, 200);
    // A user with no list at all leaves a pending question.
    let undecided = Element::new("DeleteAttributeList-Request").with_text("DefaultList", "T");
    assert_eq!(code_of(&alice.request(undecided).await.unwrap()), Some(200));
    let fresh =
        Client::new(ClientConfig::new(url.clone(), v, Encoding::Xml).with_client_id("x")).unwrap();
    add_user(&cfg, "dave");
    fresh.login_password("dave", PW).await.unwrap();
    assert_eq!(subscribe(&fresh, v, &["alice"], None).await, 200);
    let def = Element::new("CreateAttributeList-Request")
        .with(names(&["Alias"]))
        .with_text("DefaultList", "T");
    assert_eq!(code_of(&alice.request(def).await.unwrap()), Some(200));

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (mut child, url) = spawn(&cfg, &data);

    // Bob, in a new session, sees what he was granted, stored before the kill.
    let bob = login(&url, "bob", "laptop").await;
    let list = get_presence(&bob, v, "alice").await;
    assert_eq!(value_of(&list, "StatusText"), Some("before"));
    assert_eq!(list.child("GeoLocation"), Some(&geo));
    assert!(
        list.child("Alias").is_none(),
        "his own list wins over the default list"
    );
    let carol = login(&url, "carol", "laptop").await;
    let list = get_presence(&carol, v, "alice").await;
    assert_eq!(
        value_of(&list, "Alias"),
        Some("Ali"),
        "the default list survived"
    );
    assert!(list.child("StatusText").is_none());
    drain(&bob).await;
    // His subscription survived: Alice coming online reaches him unasked.
    let alice = login(&url, "alice", "laptop").await;
    let n = drain(&bob).await;
    assert_eq!(
        last_notified(&n, "alice", "OnlineStatus").and_then(|o| o.child_text("PresenceValue")),
        Some("T")
    );
    assert_eq!(update(&alice, vec![attr("StatusText", "after")]).await, 200);
    let n = drain(&bob).await;
    assert_eq!(
        last_notified(&n, "alice", "StatusText").and_then(|s| s.child_text("PresenceValue")),
        Some("after")
    );
    // A snapshot (issue 13): alice is still shown online in it.
    assert_eq!(
        last_notified(&n, "alice", "OnlineStatus").and_then(|o| o.child_text("PresenceValue")),
        Some("T")
    );
    // The pending question about Dave is asked again at Alice's login.
    let asked = drain(&alice).await;
    let q: Vec<_> = asked
        .iter()
        .filter(|r| r.name == "PresenceAuth-Request")
        .collect();
    assert_eq!(q.len(), 1, "{asked:?}");
    assert_eq!(q[0].child_text("UserID"), Some("wv:dave@localhost"));
    // The attribute lists are all there.
    let r = alice
        .request(Element::new("GetAttributeList-Request"))
        .await
        .unwrap();
    assert!(
        r.path(&["DefaultAttributeList", "PresenceSubList", "Alias"])
            .is_some(),
        "{r:?}"
    );
    let bobs = r
        .children_named("Presence")
        .find(|p| p.child_text("UserID") == Some("wv:bob@localhost"))
        .unwrap();
    assert!(bobs.path(&["PresenceSubList", "GeoLocation"]).is_some());
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A client object that carries on a session from before the restart.
fn resume(url: &str, client: &str, session_id: String) -> HttpClient {
    let c =
        Client::new(ClientConfig::new(url, Version::V1_2, Encoding::Wbxml).with_client_id(client))
            .unwrap();
    c.set_session_id(Some(session_id));
    c
}

#[tokio::test]
async fn sym_13_restored_sessions_are_online_again_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::from_env();
    let cfg = real_config_db(dir.path(), db.as_ref());
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&cfg, &data);
    for u in ["alice", "bob", "carol"] {
        add_user(&cfg, u);
    }
    let v = Version::V1_2;
    let alice = login(&url, "alice", "phone").await;
    let bob = login(&url, "bob", "phone").await;
    assert_eq!(
        grant(&alice, v, &["bob", "carol"], &["OnlineStatus"]).await,
        200
    );
    assert_eq!(subscribe(&bob, v, &["alice"], None).await, 200);
    drain(&bob).await;
    let alice_sid = alice.session_id().unwrap();
    let bob_sid = bob.session_id().unwrap();

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (mut child, url) = spawn(&cfg, &data);

    // Alice sends nothing after the restart; her restored session alone
    // makes her online again. Carol, in a new session, sees it at once.
    let carol = login(&url, "carol", "phone").await;
    let seen = get_presence(&carol, v, "alice").await;
    assert_eq!(is_online(&seen), Some(true), "{seen:?}");
    // Bob's restored session is told without asking first.
    let bob = resume(&url, "phone", bob_sid);
    let n = drain(&bob).await;
    assert_eq!(
        last_notified(&n, "alice", "OnlineStatus").and_then(|o| o.child_text("PresenceValue")),
        Some("T"),
        "{n:?}"
    );
    // The restored session still ends properly: offline reaches Bob.
    let alice = resume(&url, "phone", alice_sid);
    alice.logout().await.unwrap();
    let n = drain(&bob).await;
    assert_eq!(
        last_notified(&n, "alice", "OnlineStatus").and_then(|o| o.child_text("PresenceValue")),
        Some("F"),
        "{n:?}"
    );
    assert_eq!(
        is_online(&get_presence(&carol, v, "alice").await),
        Some(false)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
