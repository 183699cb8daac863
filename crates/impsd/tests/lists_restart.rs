//! Lists, block and grant lists and the ADC-3 opt-out survive a SIGKILL of
//! the real binary: every acknowledged change was on disk.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::lists_common;

use std::path::Path;
use std::process::Command;

use common::code_of;
use imps_client::{Client, ClientConfig, Element, Encoding, HttpClient, Version};
use lists_common::*;

use common::{real_config_db, spawn_real as spawn};

const BIN: &str = common::IMPSD_BIN;

fn add_user_cli(cfg: &Path, id: &str) {
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

async fn client(url: &str, v: Version, e: Encoding, id: &str) -> HttpClient {
    let c = Client::new(ClientConfig::new(url, v, e).with_client_id(id)).unwrap();
    c.login_password("alice", PW).await.unwrap();
    c
}

#[tokio::test]
async fn base_list_lists_blocks_and_grants_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::from_env();
    let cfg = real_config_db(dir.path(), db.as_ref());
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&cfg, &data);
    for u in ["alice", "bob", "carol"] {
        add_user_cli(&cfg, u);
    }
    let c = client(&url, Version::V1_3, Encoding::Wbxml, "phone").await;
    let f = list_id("alice", "Friends");
    let r = create_list(
        &c,
        &f,
        vec![nick(Some("Bob"), "bob")],
        &[("DisplayName", "Pals")],
    )
    .await;
    assert_eq!(code_of(&r), Some(200));
    let work = list_id("alice", "work");
    create_list(&c, &work, vec![], &[("Default", "T")]).await;
    let add =
        add_request(&work, vec![nick(None, "carol")], false).with_text("AuthorizeAndGrant", "T");
    assert_eq!(code_of(&c.request(add).await.unwrap()), Some(200));
    let block = Element::new("BlockEntity-Request")
        .with_text("BlockListInUse", "T")
        .with(
            Element::new("BlockList")
                .with(Element::new("AddList").with_text("UserID", uid("mallory"))),
        );
    assert_eq!(code_of(&c.request(block).await.unwrap()), Some(200));
    let types = Element::new("NotificationTypeList").with_text("NotificationType", "ATCL");
    let off = Element::new("UnsubscribeNotification-Request").with(types);
    assert_eq!(code_of(&c.request(off).await.unwrap()), Some(200));

    child.kill().unwrap(); // SIGKILL, right after the last acknowledgement
    child.wait().unwrap();
    let (mut child, url) = spawn(&cfg, &data);

    let c = client(&url, Version::V1_2, Encoding::Xml, "laptop").await;
    let (ids, default, _) = get_lists(&c).await;
    assert_eq!(ids, std::slice::from_ref(&f));
    assert_eq!(default.as_deref(), Some(work.as_str()));
    let resp = c.request(receive_request(&f)).await.unwrap();
    assert_eq!(nicks(&resp), [("Bob".to_string(), uid("bob"))]);
    assert_eq!(
        prop(resp.child("ContactListProperties").unwrap(), "DisplayName"),
        Some("Pals")
    );
    assert_eq!(members(&c, &work).await, [(uid("carol"), uid("carol"))]);
    let got = c
        .request(Element::new("GetBlockedList-Request"))
        .await
        .unwrap();
    assert_eq!(entity_users(got.child("BlockList")), [uid("mallory")]);
    assert_eq!(
        entity_users(got.child("GrantList")),
        [uid("carol")],
        "ADC-2's grant"
    );
    assert_eq!(
        got.path(&["BlockList", "InUse"]).map(|e| e.text.as_str()),
        Some("T")
    );
    let store = impsd::connect_store(&impsd::Config::from_file(&cfg).unwrap())
        .await
        .unwrap();
    assert!(
        !imps_core::ListStore::added_notify(store.as_ref(), "alice")
            .await
            .unwrap(),
        "the opt-out too"
    );
    drop(store);
    child.kill().unwrap();
    child.wait().unwrap();
}
