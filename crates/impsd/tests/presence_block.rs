//! Issue 14, item 10: blocking a user also withdraws their presence
//! authorization (`presence.block_hides_presence`, on by default), a
//! deliberate extension; off, blocking is an IM function only (pure CSP).

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
use crate::common;
use crate::presence_common;

use common::TestServer;
use imps_client::{Element, Encoding, Version};
use presence_common::*;

/// A 1.2-form BlockEntity-Request putting `users` on the block list (in
/// use) or taking them off it.
fn block(users: &[&str], add: bool) -> Element {
    let mut l = Element::new(if add { "AddList" } else { "RemoveList" });
    for u in users {
        l = l.with_text("UserID", wire(u));
    }
    Element::new("BlockEntity-Request")
        .with(Element::new("BlockList").with_text("InUse", "T").with(l))
}

async fn blocked_watcher_sees(hides: bool) -> (Vec<String>, Element, Vec<String>) {
    let srv = TestServer::start_with(|c| c.presence.block_hides_presence = hides).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let ids = users(&srv, "", &["alice", "bob"]).await;
    let (alice, bob) = (ids[0].as_str(), ids[1].as_str());
    let a = online(&srv, v, e, alice, "phone").await;
    let b = online(&srv, v, e, bob, "phone").await;
    assert_eq!(
        grant(&a, v, &[bob], &["OnlineStatus", "StatusText"]).await,
        200
    );
    assert_eq!(
        subscribe(&b, v, &[alice], Some(&["OnlineStatus", "StatusText"])).await,
        200
    );
    drain(&b).await;
    // Granted and subscribed: bob hears a change.
    assert_eq!(update(&a, vec![attr("StatusText", "before")]).await, 200);
    let before = notified_attrs(&drain(&b).await, alice);
    assert!(before.contains(&"StatusText".to_string()), "{before:?}");
    // Alice blocks bob, then changes her status.
    let r = a.request(block(&[bob], true)).await.unwrap();
    assert_eq!(common::code_of(&r), Some(200), "{r:?}");
    assert_eq!(update(&a, vec![attr("StatusText", "after")]).await, 200);
    let after = notified_attrs(&drain(&b).await, alice);
    let got = get_presence(&b, v, alice).await;
    // Unblocked again: the grant applies as before.
    let r = a.request(block(&[bob], false)).await.unwrap();
    assert_eq!(common::code_of(&r), Some(200), "{r:?}");
    let unblocked = get_presence(&b, v, alice).await;
    assert_eq!(value_of(&unblocked, "StatusText"), Some("after"));
    a.logout().await.unwrap();
    b.logout().await.unwrap();
    (after, got, before)
}

#[tokio::test]
async fn limits_blocking_withdraws_presence_authorization() {
    let (after, got, _) = blocked_watcher_sees(true).await;
    assert!(after.is_empty(), "a blocked watcher heard {after:?}");
    assert!(
        got.children.is_empty(),
        "GetPresence shows a blocked user nothing: {got:?}"
    );
}

#[tokio::test]
async fn limits_blocking_is_im_only_when_the_setting_is_off() {
    let (after, got, _) = blocked_watcher_sees(false).await;
    assert!(after.contains(&"StatusText".to_string()), "{after:?}");
    assert_eq!(value_of(&got, "StatusText"), Some("after"));
}
