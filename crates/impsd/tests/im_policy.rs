//! GEN-3 and GEN-5..GEN-10: message size limits (text and rich content
//! apart), the oversize policy, accepted content types, telling the
//! client in the AgreedCapabilityList, and honouring what the recipient's
//! own client can take.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{Element, Encoding, Version};

async fn agreed(c: &imps_client::HttpClient, list: Element) -> Element {
    let resp = c
        .request(Element::new("ClientCapability-Request").with(list))
        .await
        .unwrap();
    resp.children
        .into_iter()
        .next()
        .expect("the agreed list first")
}

fn accepted_types(list: &Element) -> Vec<String> {
    list.children_named("AcceptedContentType")
        .map(|e| {
            e.child_text("ContentType")
                .unwrap_or(e.text.trim())
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn gen_3_an_instant_message_is_never_split() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let req = media("alice", "bob", "image/png", 300_000);
        let data = content(&req);
        send_ok(&alice, req).await;
        let m = bob.poll().await.unwrap().expect("the message");
        assert_eq!(m.transactions.len(), 1);
        let t = &m.transactions[0];
        assert!(t.segment_info.is_none(), "not segmented");
        assert_eq!(t.body.name, "NewMessage");
        assert_eq!(
            content(&t.body),
            data,
            "{v} {e:?}: whole, in one transaction"
        );
        ack(&bob, t.id.as_deref().unwrap(), &msg_id(&t.body)).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_5_text_and_rich_content_limited_separately() {
    let srv = TestServer::start_with(|c| {
        c.im.max_text_bytes = 100;
        c.im.max_rich_bytes = 1000;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        send_ok(&alice, text_to("alice", &["bob"], &"a".repeat(100))).await;
        let r = alice
            .request(text_to("alice", &["bob"], &"a".repeat(101)))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(402), "{v} {e:?}: text over 100");
        // 900 bytes of image pass although far over the text limit.
        send_ok(&alice, media("alice", "bob", "image/jpeg", 900)).await;
        let r = alice
            .request(media("alice", "bob", "image/jpeg", 1200))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(402), "rich content over 1000");
        assert_eq!(content(&receive(&bob).await).len(), 100);
        assert_eq!(
            info(&receive(&bob).await).child_text("ContentType"),
            Some("image/jpeg")
        );
        expect_none(&bob, "NewMessage").await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_6_limits_and_oversize_policy_are_announced_and_applied() {
    // Reject policy (the default).
    let srv = TestServer::start_with(|c| {
        c.im.max_text_bytes = 100;
        c.im.max_rich_bytes = 1000;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let c = srv.client(Version::V1_3, e, "phone");
        c.login_password("alice", PW).await.unwrap();
        let list = agreed(&c, caps("P")).await;
        assert_eq!(
            list.child_text("AcceptedTextContentLength"),
            Some("100"),
            "{list:?}"
        );
        let jpeg = list
            .children_named("AcceptedContentType")
            .find(|a| a.child_text("ContentType") == Some("image/jpeg"))
            .expect("image/jpeg announced");
        assert_eq!(jpeg.child_text("AcceptedRichContentLength"), Some("1000"));
        assert_eq!(jpeg.child_text("ContentPolicy"), Some("R"));
        c.logout().await.unwrap();
    }
    // Deliver with extra charge up to a hard limit.
    let srv = TestServer::start_with(|c| {
        c.im.max_rich_bytes = 1000;
        c.im.oversize_policy = imps_core::config::OversizePolicy::Charge;
        c.im.charge_limit_bytes = 2000;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = srv.client(v, e, "phone");
        let list = online_with(&alice, "alice", caps("P")).await;
        if v >= Version::V1_3 {
            let list = list.children.first().unwrap();
            let png = list
                .children_named("AcceptedContentType")
                .find(|a| a.child_text("ContentType") == Some("image/png"))
                .expect("image/png announced");
            assert_eq!(png.child_text("ContentPolicy"), Some("C"));
            assert_eq!(png.child_text("ContentPolicyLimit"), Some("2000"));
        }
        let bob = online(&srv, v, e, "bob", "phone").await;
        let r = alice
            .request(media("alice", "bob", "image/png", 1500))
            .await
            .unwrap();
        let (code, desc) = imps_client::status_of(&r).unwrap();
        assert_eq!(code, 200, "{v} {e:?}: over the limit, delivered");
        assert!(desc.contains("charge"), "{desc}");
        receive(&bob).await;
        let r = alice
            .request(media("alice", "bob", "image/png", 2400))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(402), "over the charge limit");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
    // No policy: no ContentPolicy element; the limit is a plain cap.
    let srv = TestServer::start_with(|c| {
        c.im.max_rich_bytes = 1000;
        c.im.oversize_policy = imps_core::config::OversizePolicy::None;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "phone");
    let list = online_with(&c, "alice", caps("P")).await;
    let list = list.children.first().unwrap();
    assert!(
        list.children_named("AcceptedContentType")
            .all(|a| a.child("ContentPolicy").is_none())
    );
    assert_eq!(
        code_of(
            &c.request(media("alice", "alice", "image/png", 1200))
                .await
                .unwrap()
        ),
        Some(402)
    );
}

/// GEN-7: the recipient's own maximum (CFG-1) counts too: a message none
/// of the recipient's sessions can take is refused; a user with a bigger
/// session gets it there only.
#[tokio::test]
async fn gen_7_recipient_maximum_message_size_is_respected() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let phone = srv.client(v, e, "phone");
        let small = caps("P")
            .with_text("ParserSize", "4000")
            .with_text("AcceptedContentLength", "4000");
        online_with(&phone, "bob", small).await;
        send_ok(&alice, text_to("alice", &["bob"], "short")).await;
        receive(&phone).await;
        let r = alice
            .request(media("alice", "bob", "image/png", 6000))
            .await
            .unwrap();
        assert_eq!(
            code_of(&r),
            Some(402),
            "{v} {e:?}: too big for bob's phone: {r:?}"
        );
        let desktop = online(&srv, v, e, "bob", "desktop").await;
        send_ok(&alice, media("alice", "bob", "image/png", 6000)).await;
        receive(&desktop).await;
        expect_none(&phone, "NewMessage").await;
        for c in [alice, phone, desktop] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn gen_8_server_restricts_content_types() {
    let srv = TestServer::start_with(|c| {
        c.im.content_types = vec!["text/plain".into(), "image/*".into()]
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let r = alice
            .request(media("alice", "bob", "audio/amr", 300))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(415), "{v} {e:?}");
        send_ok(&alice, media("alice", "bob", "image/png", 300)).await;
        send_ok(&alice, text_to("alice", &["bob"], "text is fine")).await;
        assert_eq!(
            info(&receive(&bob).await).child_text("ContentType"),
            Some("image/png")
        );
        assert_eq!(content(&receive(&bob).await), "text is fine");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_9_allowed_content_types_are_announced() {
    let types = vec![
        "text/plain".to_string(),
        "image/jpeg".to_string(),
        "audio/amr".to_string(),
    ];
    let t = types.clone();
    let srv = TestServer::start_with(move |c| c.im.content_types = t).await;
    add_user(&srv, "alice", None, None).await;
    for (v, e) in common::combos() {
        let c = srv.client(v, e, "phone");
        c.login_password("alice", PW).await.unwrap();
        let list = agreed(&c, caps("P")).await;
        assert_eq!(accepted_types(&list), types, "{v} {e:?}: {list:?}");
        if v < Version::V1_3 {
            assert!(
                list.children_named("AcceptedContentType")
                    .all(|a| a.children.is_empty())
            );
        }
        c.logout().await.unwrap();
    }
}

/// GEN-10: what the recipient's client accepts counts: bob's phone takes
/// text only, so an image to him is refused (415) while text goes.
#[tokio::test]
async fn gen_10_recipient_supported_content_types_are_respected() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = srv.client(v, e, "phone");
        let text_only = if v >= Version::V1_3 {
            caps("P")
                .with(Element::new("AcceptedContentType").with_text("ContentType", "text/plain"))
        } else {
            caps("P").with_text("AcceptedContentType", "text/plain")
        };
        online_with(&bob, "bob", text_only).await;
        let r = alice
            .request(media("alice", "bob", "image/jpeg", 300))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(415), "{v} {e:?}: {r:?}");
        send_ok(&alice, text_to("alice", &["bob"], "words only")).await;
        assert_eq!(content(&receive(&bob).await), "words only");
        // A client that takes anything gets the picture.
        let any = srv.client(v, e, "desktop");
        online_with(&any, "bob", caps("P").with_text("AnyContent", "T")).await;
        send_ok(&alice, media("alice", "bob", "image/jpeg", 300)).await;
        receive(&any).await;
        expect_none(&bob, "NewMessage").await;
        for c in [alice, bob, any] {
            c.logout().await.unwrap();
        }
    }
}

/// A session passed over for a message it could not take (GEN-10) is
/// offered it once it negotiates again and now accepts it, while the
/// message still waits (another session has not acknowledged it yet).
#[tokio::test]
async fn gen_10_a_session_that_negotiates_again_gets_what_it_was_passed_over_for() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    let text_only = || {
        caps("P").with(Element::new("AcceptedContentType").with_text("ContentType", "text/plain"))
    };
    let phone = srv.client(v, e, "phone");
    online_with(&phone, "bob", text_only()).await;
    let desktop = srv.client(v, e, "desktop");
    online_with(&desktop, "bob", caps("P").with_text("AnyContent", "T")).await;
    let id = send_ok(&alice, media("alice", "bob", "image/jpeg", 300)).await;
    let (_tid, m) = expect(&desktop, "NewMessage").await;
    assert_eq!(msg_id(&m), id);
    expect_none(&phone, "NewMessage").await;
    let agreed = phone
        .request(
            Element::new("ClientCapability-Request").with(caps("P").with_text("AnyContent", "T")),
        )
        .await
        .unwrap();
    assert_eq!(agreed.name, "ClientCapability-Response", "{agreed:?}");
    let (tid, m) = expect(&phone, "NewMessage").await;
    assert_eq!(msg_id(&m), id);
    ack(&phone, &tid, &id).await;
}
