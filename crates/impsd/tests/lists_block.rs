//! Block and grant lists over the real protocol (BASE-LIST): BlockEntity
//! and GetBlockedList in the 1.2 form and the 1.3 form.

use crate::common;
use crate::lists_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Version};
use lists_common::*;

#[tokio::test]
async fn base_list_block_and_grant_round_trip_1_2_form() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    for (v, e) in [
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_1, Encoding::Xml),
    ] {
        let c = login(&srv, v, e, "alice", "phone").await;
        let resp = c
            .request(block_entity_12(
                true,
                &["mallory", "eve"],
                Some(false),
                &["bob"],
            ))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        let got = c
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        assert_eq!(got.name, "GetBlockedList-Response");
        let block = got.child("BlockList");
        assert_eq!(
            block.and_then(|b| b.child_text("InUse")),
            Some("T"),
            "{got:?}"
        );
        assert_eq!(entity_users(block), [uid("mallory"), uid("eve")]);
        let grant = got.child("GrantList");
        assert_eq!(grant.and_then(|g| g.child_text("InUse")), Some("F"));
        assert_eq!(entity_users(grant), [uid("bob")]);
        assert!(
            got.child("BlockListInUse").is_none(),
            "1.3 element in a {v} answer"
        );
        // Remove again, switch the block list off.
        let remove = Element::new("BlockEntity-Request").with(
            Element::new("BlockList").with_text("InUse", "F").with(
                Element::new("RemoveList")
                    .with_text("UserID", uid("mallory"))
                    .with_text("UserID", uid("eve")),
            ),
        );
        assert_eq!(code_of(&c.request(remove).await.unwrap()), Some(200));
        let got = c
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        assert!(entity_users(got.child("BlockList")).is_empty());
        assert_eq!(
            got.path(&["BlockList", "InUse"]).map(|e| e.text.as_str()),
            Some("F")
        );
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_list_block_and_grant_round_trip_1_3_form() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let c = login(&srv, Version::V1_3, e, "alice", "phone").await;
        let req = Element::new("BlockEntity-Request")
            .with_text("BlockListInUse", "T")
            .with_text("GrantListInUse", "T")
            .with(
                Element::new("BlockList")
                    .with(Element::new("AddList").with_text("UserID", uid("mallory"))),
            )
            .with(
                Element::new("GrantList")
                    .with(Element::new("AddList").with_text("UserID", uid("bob"))),
            );
        let resp = c.request(req).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{e:?}: {resp:?}");
        let got = c
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        assert_eq!(got.child_text("BlockListInUse"), Some("T"), "{got:?}");
        assert_eq!(got.child_text("GrantListInUse"), Some("T"));
        assert!(
            got.path(&["BlockList", "InUse"]).is_none(),
            "no 1.2 InUse in 1.3"
        );
        assert_eq!(entity_users(got.child("BlockList")), [uid("mallory")]);
        assert_eq!(entity_users(got.child("GrantList")), [uid("bob")]);
        // The 1.2 form is understood in a 1.3 session too, and groups are
        // refused per entry.
        let mixed = Element::new("BlockEntity-Request").with(
            Element::new("BlockList").with_text("InUse", "F").with(
                Element::new("RemoveList")
                    .with_text("UserID", uid("mallory"))
                    .with_text("GroupID", "wv:x/g@localhost"),
            ),
        );
        let resp = c.request(mixed).await.unwrap();
        assert_eq!(code_of(&resp), Some(201), "{resp:?}");
        let got = c
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        assert_eq!(got.child_text("BlockListInUse"), Some("F"));
        assert!(entity_users(got.child("BlockList")).is_empty());
        // Clean up for the next encoding.
        let reset = Element::new("BlockEntity-Request")
            .with_text("GrantListInUse", "F")
            .with(
                Element::new("GrantList")
                    .with(Element::new("RemoveList").with_text("UserID", uid("bob"))),
            );
        assert_eq!(code_of(&c.request(reset).await.unwrap()), Some(200));
        c.logout().await.unwrap();
    }
}
