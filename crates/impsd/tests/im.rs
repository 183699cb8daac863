//! BASE-IM end to end: SendMessage and NewMessage by push, several users,
//! contact lists, notify/get, reject, delivery reports, forwarding, and
//! what "acknowledged" means. Every test runs over the real HTTP binding
//! (and WebSocket where it says so), in XML and WBXML, CSP 1.1 to 1.3.

use crate::common;
use crate::im_common;

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{Element, Encoding, Version};

#[tokio::test]
async fn base_im_send_and_receive_by_push_over_http() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let text = "Hi Bob <3 & \"you\"\nПривет 🙂";
        let id = send_ok(&alice, text_to("alice", &["bob"], text)).await;
        // Pushed: queued for bob at once, the Poll flag says so.
        bob.keep_alive(None).await.unwrap();
        assert_eq!(bob.last_poll(), Some(true), "{v} {e:?}");
        let (tid, m) = expect(&bob, "NewMessage").await;
        assert_eq!(msg_id(&m), id);
        assert_eq!(sender_id(&m), uid("alice"));
        assert_eq!(content(&m), text, "{v} {e:?}");
        assert_eq!(info(&m).child_text("ContentType"), Some("text/plain"));
        assert!(info(&m).child("DateTime").is_some());
        assert_eq!(
            info(&m)
                .path(&["Recipient", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("bob").as_str())
        );
        ack(&bob, &tid, &id).await;
        // Acknowledged: not offered again, not even to a new session.
        bob.logout().await.unwrap();
        let bob = online(&srv, v, e, "bob", "phone").await;
        expect_none(&bob, "NewMessage").await;
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_im_push_over_websocket_without_polling() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online_ws(&srv, v, e, "bob").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "over the socket")).await;
        let (tid, m) = expect_ws(&bob, "NewMessage").await;
        assert_eq!(msg_id(&m), id);
        assert_eq!(content(&m), "over the socket");
        ack(&bob, &tid, &id).await;
        // A second one after the acknowledgement.
        let id2 = send_ok(&alice, text_to("alice", &["bob"], "again")).await;
        let (tid2, m2) = expect_ws(&bob, "NewMessage").await;
        assert_eq!(msg_id(&m2), id2);
        ack(&bob, &tid2, &id2).await;
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_im_send_to_several_users() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let id = send_ok(&alice, text_to("alice", &["bob", "carol"], "to both")).await;
        for c in [&bob, &carol] {
            let m = receive(c).await;
            assert_eq!(msg_id(&m), id, "one MessageID for the whole send");
            assert_eq!(content(&m), "to both");
        }
        // One recipient unknown: 201 with a DetailedResult naming it.
        let resp = alice
            .request(text_to("alice", &["bob", "nobody"], "partly"))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(201), "{v} {e:?}: {resp:?}");
        assert!(resp.child_text("MessageID").is_some());
        assert_eq!(details(&resp), vec![(531, vec![uid("nobody")])]);
        assert_eq!(content(&receive(&bob).await), "partly");
        // Nobody known: the common code, no MessageID.
        let resp = alice
            .request(text_to("alice", &["nobody", "noone"], "void"))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(531), "{resp:?}");
        assert!(resp.child_text("MessageID").is_none());
        // A single unknown recipient: 531.
        let resp = alice
            .request(text_to("alice", &["nobody"], "x"))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(531));
        for c in [alice, bob, carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_im_send_to_a_contact_list() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (n, (v, e)) in common::combos().into_iter().enumerate() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let list = format!("wv:alice/friends{n}@localhost");
        let nick = |u: &str| {
            Element::new("NickName")
                .with_text("Name", u.to_uppercase())
                .with_text("UserID", uid(u))
        };
        let create = Element::new("CreateList-Request")
            .with_text("ContactList", list.clone())
            .with(
                Element::new("NickList")
                    .with(nick("bob"))
                    .with(nick("carol")),
            );
        let resp = alice.request(create).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        let req = send_request(
            "alice",
            Element::new("Recipient").with_text("ContactList", list.clone()),
            "to my friends",
            false,
        );
        let id = send_ok(&alice, req).await;
        for c in [&bob, &carol] {
            let m = receive(c).await;
            assert_eq!(
                (msg_id(&m), content(&m)),
                (id.clone(), "to my friends".into())
            );
        }
        // A list that does not exist: 700.
        let req = send_request(
            "alice",
            Element::new("Recipient").with_text("ContactList", "wv:alice/nope@localhost"),
            "x",
            false,
        );
        assert_eq!(code_of(&alice.request(req).await.unwrap()), Some(700));
        for c in [alice, bob, carol] {
            c.logout().await.unwrap();
        }
    }
}

/// Notify/get: MessageNotification instead of the message, then the
/// client lists and fetches. GetMessage hands the content over and
/// MessageDelivered ends the message; an unknown ID is 426.
#[tokio::test]
async fn base_im_notify_and_get() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = srv.client(v, e, "phone");
        online_with(&bob, "bob", caps("N")).await;
        let id1 = send_ok(&alice, text_to("alice", &["bob"], "first")).await;
        let id2 = send_ok(&alice, text_to("alice", &["bob"], "second")).await;
        for id in [&id1, &id2] {
            let (tid, n) = expect(&bob, "MessageNotification").await;
            assert_eq!(&msg_id(&n), id);
            assert!(
                n.child("ContentData").is_none(),
                "a notification has no content"
            );
            bob.answer_status(&tid).await.unwrap();
        }
        let list = bob
            .request(Element::new("GetMessageList-Request"))
            .await
            .unwrap();
        assert_eq!(list.name, "GetMessageList-Response", "{list:?}");
        let infos: Vec<&Element> = if v >= Version::V1_3 {
            assert_eq!(list.child_text("MessageTotalCount"), Some("2"));
            list.child("MessageInfoList")
                .unwrap()
                .children_named("MessageInfo")
                .collect()
        } else {
            list.children_named("MessageInfo").collect()
        };
        let ids: Vec<&str> = infos
            .iter()
            .filter_map(|i| i.child_text("MessageID"))
            .collect();
        assert_eq!(ids, [id1.as_str(), id2.as_str()], "oldest first");
        // MessageCount limits the batch.
        let one = bob
            .request(Element::new("GetMessageList-Request").with_text("MessageCount", "1"))
            .await
            .unwrap();
        let n = if v >= Version::V1_3 {
            one.child("MessageInfoList").unwrap().children.len()
        } else {
            one.children_named("MessageInfo").count()
        };
        assert_eq!(n, 1);
        // GetMessage hands over the content; the message stays until the
        // client says it has it (issue 14, item 1).
        let got = bob
            .request(Element::new("GetMessage-Request").with_text("MessageID", id1.clone()))
            .await
            .unwrap();
        assert_eq!(got.name, "GetMessage-Response", "{got:?}");
        assert_eq!(content(&got), "first");
        assert_eq!(sender_id(&got), uid("alice"));
        let delivered = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id1.clone()))
            .await
            .unwrap();
        assert_eq!(
            code_of(&delivered),
            Some(200),
            "MessageDelivered after GetMessage"
        );
        let again = bob
            .request(Element::new("GetMessage-Request").with_text("MessageID", id1.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&again), Some(426));
        let repeated = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id1.clone()))
            .await
            .unwrap();
        assert_eq!(
            code_of(&repeated),
            Some(200),
            "a repeated acknowledgement of a fetched message"
        );
        let unknown = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", "m-nope"))
            .await
            .unwrap();
        assert_eq!(code_of(&unknown), Some(426));
        let got2 = bob
            .request(Element::new("GetMessage-Request").with_text("MessageID", id2.clone()))
            .await
            .unwrap();
        assert_eq!(content(&got2), "second");
        let delivered = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id2.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&delivered), Some(200));
        let empty = bob
            .request(Element::new("GetMessageList-Request"))
            .await
            .unwrap();
        if v >= Version::V1_3 {
            assert_eq!(empty.child_text("MessageTotalCount"), Some("0"));
        } else {
            assert!(empty.child("MessageInfo").is_none());
        }
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// Notify/get with a lost answer (issue 14, item 1): GetMessage does not
/// end a message's life, so a GetMessage-Response that never reaches the
/// client loses nothing: the message is still listed, can be fetched
/// again, also by the user's next session, and only MessageDelivered ends
/// it. After that every GetMessage answers 426 at once, never the message.
#[tokio::test]
async fn base_im_get_message_keeps_the_message_until_message_delivered() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = srv.client(v, e, "phone");
        online_with(&bob, "bob", caps("N")).await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "keep me")).await;
        let (tid, _) = expect(&bob, "MessageNotification").await;
        bob.answer_status(&tid).await.unwrap();
        let get = || Element::new("GetMessage-Request").with_text("MessageID", id.clone());
        // The first answer is "lost": the client never saw it.
        let lost = bob.request(get()).await.unwrap();
        assert_eq!(content(&lost), "keep me", "{v} {e:?}");
        let list = bob
            .request(Element::new("GetMessageList-Request"))
            .await
            .unwrap();
        assert_eq!(
            message_ids(&list),
            std::slice::from_ref(&id),
            "still waiting after GetMessage"
        );
        assert_eq!(content(&bob.request(get()).await.unwrap()), "keep me");
        // The session ends without acknowledging: the next one gets it.
        bob.logout().await.unwrap();
        let bob = srv.client(v, e, "phone2");
        online_with(&bob, "bob", caps("N")).await;
        let (tid, n) = expect(&bob, "MessageNotification").await;
        assert_eq!(msg_id(&n), id);
        bob.answer_status(&tid).await.unwrap();
        assert_eq!(content(&bob.request(get()).await.unwrap()), "keep me");
        let d = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&d), Some(200));
        // Over: 426 every time, straight after the acknowledgement too.
        for _ in 0..5 {
            assert_eq!(code_of(&bob.request(get()).await.unwrap()), Some(426));
        }
        let list = bob
            .request(Element::new("GetMessageList-Request"))
            .await
            .unwrap();
        assert!(message_ids(&list).is_empty(), "{list:?}");
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// Every MessageID anywhere below `e` (GetMessageList-Response nests
/// them differently per version).
fn message_ids(e: &Element) -> Vec<String> {
    let mut out = Vec::new();
    for c in &e.children {
        if c.name == "MessageID" {
            out.push(c.text.clone());
        }
        out.extend(message_ids(c));
    }
    out
}

#[tokio::test]
async fn base_im_set_delivery_method_switches_push_and_notify() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let set =
            |m: &str| Element::new("SetDeliveryMethod-Request").with_text("DeliveryMethod", m);
        assert_eq!(code_of(&bob.request(set("N")).await.unwrap()), Some(200));
        let id = send_ok(&alice, text_to("alice", &["bob"], "notify me")).await;
        let (tid, n) = expect(&bob, "MessageNotification").await;
        assert_eq!(msg_id(&n), id);
        bob.answer_status(&tid).await.unwrap();
        // Back to push: the waiting message now comes as a NewMessage.
        assert_eq!(code_of(&bob.request(set("P")).await.unwrap()), Some(200));
        let m = receive(&bob).await;
        assert_eq!((msg_id(&m), content(&m)), (id, "notify me".into()));
        assert_eq!(code_of(&bob.request(set("X")).await.unwrap()), Some(402));
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_im_reject_message_and_delivery_reports() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = srv.client(v, e, "phone");
        online_with(&bob, "bob", caps("N")).await;
        // Delivered: the sender who asked hears 200 with the time.
        let id = send_ok(
            &alice,
            send_request("alice", to_users(&["bob"]), "report me", true),
        )
        .await;
        let (tid, _) = expect(&bob, "MessageNotification").await;
        bob.answer_status(&tid).await.unwrap();
        let got = bob
            .request(Element::new("GetMessage-Request").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(content(&got), "report me");
        expect_none(&alice, "DeliveryReport-Request").await;
        let d = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&d), Some(200));
        let (rtid, report) = expect(&alice, "DeliveryReport-Request").await;
        assert_eq!(code_of(&report), Some(200), "{v} {e:?}: {report:?}");
        assert!(report.child("DeliveryTime").is_some());
        assert_eq!(msg_id(&report), id);
        assert_eq!(
            info(&report)
                .path(&["Recipient", "User", "UserID"])
                .map(|u| u.text.clone()),
            Some(uid("bob"))
        );
        alice.answer_status(&rtid).await.unwrap();
        // Rejected: 538 to the sender; the message is gone for bob.
        let id = send_ok(
            &alice,
            send_request("alice", to_users(&["bob"]), "reject me", true),
        )
        .await;
        let (tid, _) = expect(&bob, "MessageNotification").await;
        bob.answer_status(&tid).await.unwrap();
        let r = bob
            .request(Element::new("RejectMessage-Request").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{r:?}");
        let (rtid, report) = expect(&alice, "DeliveryReport-Request").await;
        assert_eq!(code_of(&report), Some(538));
        assert_eq!(msg_id(&report), id);
        alice.answer_status(&rtid).await.unwrap();
        let again = bob
            .request(Element::new("GetMessage-Request").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&again), Some(426));
        let r = bob
            .request(Element::new("RejectMessage-Request").with_text("MessageID", id))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(426), "already gone");
        // Without DeliveryReport T no report comes.
        let id = send_ok(&alice, text_to("alice", &["bob"], "quiet")).await;
        let (tid, _) = expect(&bob, "MessageNotification").await;
        bob.answer_status(&tid).await.unwrap();
        bob.request(Element::new("GetMessage-Request").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        bob.request(Element::new("MessageDelivered").with_text("MessageID", id))
            .await
            .unwrap();
        expect_none(&alice, "DeliveryReport-Request").await;
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// ForwardMessage: bob passes a message waiting for him on to carol. 1.3
/// answers ForwardMessage-Response with the new MessageID, older versions
/// Status; the original sender's report says 541.
#[tokio::test]
async fn base_im_forward_message() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = srv.client(v, e, "phone");
        online_with(&bob, "bob", caps("N")).await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let id = send_ok(
            &alice,
            send_request("alice", to_users(&["bob"]), "pass it on", true),
        )
        .await;
        let (tid, _) = expect(&bob, "MessageNotification").await;
        bob.answer_status(&tid).await.unwrap();
        let fwd = Element::new("ForwardMessage-Request")
            .with_text("MessageID", id.clone())
            .with(to_users(&["carol"]));
        let resp = bob.request(fwd.clone()).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        let new_id = if v >= Version::V1_3 {
            assert_eq!(resp.name, "ForwardMessage-Response");
            Some(
                resp.child_text("MessageID")
                    .expect("new MessageID")
                    .to_string(),
            )
        } else {
            assert_eq!(resp.name, "Status");
            None
        };
        let m = receive(&carol).await;
        assert_eq!(content(&m), "pass it on");
        assert_eq!(
            sender_id(&m),
            uid("bob"),
            "forwarded under the forwarder's name"
        );
        if let Some(n) = new_id {
            assert_eq!(msg_id(&m), n);
        }
        let (rtid, report) = expect(&alice, "DeliveryReport-Request").await;
        assert_eq!(code_of(&report), Some(541));
        alice.answer_status(&rtid).await.unwrap();
        // The original is no longer bob's to forward or fetch.
        assert_eq!(code_of(&bob.request(fwd).await.unwrap()), Some(426));
        for c in [alice, bob, carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_im_message_delivered_as_a_request() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "ack as request")).await;
        let (tid, _) = expect(&bob, "NewMessage").await;
        bob.answer_status(&tid).await.unwrap();
        let r = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id.clone()))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{v} {e:?}: {r:?}");
        let r = bob
            .request(Element::new("MessageDelivered").with_text("MessageID", id))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(426), "twice: unknown now");
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// A retried send carrying the client's own MessageID (under a new
/// TransactionID, as Android retries) is stored once and answered with
/// the same server MessageID.
#[tokio::test]
async fn base_im_retried_send_is_stored_once() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (n, (v, e)) in common::combos().into_iter().enumerate() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let bob = online(&srv, v, e, "bob", "phone").await;
        let req = with_info(
            text_to("alice", &["bob"], "once"),
            vec![Element::text("MessageID", format!("client-ref-{n}"))],
        );
        let id1 = send_ok(&alice, req.clone()).await;
        let id2 = send_ok(&alice, req).await;
        assert_eq!(id1, id2);
        let m = receive(&bob).await;
        assert_eq!(msg_id(&m), id1);
        expect_none(&bob, "NewMessage").await;
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_im_sender_is_the_session_user() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let bob = online(&srv, Version::V1_3, Encoding::Xml, "bob", "phone").await;
    let forged = send_request("bob", to_users(&["bob"]), "I am bob", false);
    assert_eq!(code_of(&alice.request(forged).await.unwrap()), Some(402));
    expect_none(&bob, "NewMessage").await;
    // No Sender at all is fine: the session says who sends.
    let mut req = text_to("alice", &["bob"], "hi");
    req.child_mut("MessageInfo").unwrap().take_child("Sender");
    send_ok(&alice, req).await;
    assert_eq!(sender_id(&receive(&bob).await), uid("alice"));
}

/// A transport whose client goes away drops its future; the request must
/// still run to its end. Here the caller gives up right after the first
/// poll, when the message is on its way to the disk: it is still queued
/// for bob, who is online, and not left in the store until his next login.
#[tokio::test]
async fn base_im_send_whose_caller_went_away_is_still_delivered() {
    use imps_wire::{Message, Transaction};
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    let bob = online(&srv, v, e, "bob", "phone").await;
    let msg = Message::single(
        v,
        alice.session_id(),
        Transaction::request("gone-1", text_to("alice", &["bob"], "caller gone")),
    );
    let ctx = imps_core::RequestCtx::default();
    let service = &srv.running().service;
    // Polled exactly once, then dropped, as a transport drops it.
    let mut handling = Box::pin(impsd::http::handle_to_end(service, &ctx, msg));
    let first_poll =
        std::future::poll_fn(|cx| std::task::Poll::Ready(handling.as_mut().poll(cx))).await;
    assert!(
        first_poll.is_pending(),
        "the commit takes longer than one poll"
    );
    drop(handling);
    let (tid, m) = expect(&bob, "NewMessage").await;
    assert_eq!(content(&m), "caller gone");
    ack(&bob, &tid, &msg_id(&m)).await;
}

/// A WebSocket transport that reads the socket only while it waits for
/// the answer to its own request: a client that stops reading as soon as
/// it has nothing to ask.
type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct LazyWs {
    ws: std::sync::Arc<tokio::sync::Mutex<RawWs>>,
}

impl imps_client::Transport for LazyWs {
    async fn send(
        &self,
        msg: &imps_client::Message,
    ) -> imps_client::Result<Option<imps_client::Message>> {
        use futures_util::{SinkExt, StreamExt};
        use imps_client::ClientError;
        use tokio_tungstenite::tungstenite::Message as Frame;
        let err = |e: String| ClientError::Transport(e);
        let xml = String::from_utf8(imps_wire::encode(msg, Encoding::Xml)?)
            .map_err(|e| err(e.to_string()))?;
        let mut ws = self.ws.lock().await;
        ws.send(Frame::text(xml))
            .await
            .map_err(|e| err(e.to_string()))?;
        let Some(id) = msg.transactions.first().and_then(|t| t.id.clone()) else {
            return Ok(None);
        };
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .map_err(|_| ClientError::Timeout)?;
            let Some(Ok(Frame::Text(t))) = frame else {
                return Err(err(format!("unexpected frame {frame:?}")));
            };
            let m = imps_wire::decode(t.as_bytes(), Encoding::Xml, &Default::default())?;
            let answers = m.transactions.first().is_some_and(|t| {
                t.mode == imps_client::TransactionMode::Response && t.id.as_deref() == Some(&id)
            });
            if answers {
                return Ok(Some(m));
            }
        }
    }
}

/// A WebSocket whose frames a test can also read and write itself, and a
/// client that talks over it (`LazyWs`).
#[allow(clippy::unwrap_used)] // test code: a panic is a failed test
async fn raw_ws_client(
    srv: &TestServer,
    v: Version,
    e: Encoding,
) -> (
    std::sync::Arc<tokio::sync::Mutex<RawWs>>,
    imps_client::Client<LazyWs>,
) {
    let (socket, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    let raw = std::sync::Arc::new(tokio::sync::Mutex::new(socket));
    let lazy = LazyWs { ws: raw.clone() };
    let client = imps_client::Client::with_transport(
        lazy,
        imps_client::ClientConfig::new(srv.ws_url(), v, e),
    );
    (raw, client)
}

/// A WebSocket client that stops reading cannot hold its connection, and
/// the request in hand, forever: past `ws_write_timeout_secs` the server
/// gives the connection up. What it could not deliver waits for the
/// user's other sessions and next logins.
#[tokio::test]
async fn base_im_websocket_client_that_stops_reading_is_given_up() {
    use futures_util::StreamExt;
    // 18 MB for bob: more than the default offline quota in bytes.
    let srv = TestServer::start_with(|c| {
        c.limits.ws_write_timeout_secs = 1;
        c.im.offline_quota_bytes = 0;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let (raw, bob) = raw_ws_client(&srv, v, e).await;
    online_with(&bob, "bob", caps("P")).await;
    // Far more than the socket buffers hold (a few MB on loopback): 60
    // pictures of 300 KB, within the push window of 64.
    let alice = online(&srv, v, e, "alice", "phone").await;
    let mut ids = Vec::new();
    for _ in 0..60 {
        ids.push(send_ok(&alice, media("alice", "bob", "image/png", 300_000)).await);
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // Bob reads again: what the server had written is there, then the end.
    let mut ws = raw.lock().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut frames = 0;
    let ended = loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => break false,
            Ok(None | Some(Err(_))) => break true,
            Ok(Some(Ok(f))) if f.is_close() => break true,
            Ok(Some(Ok(_))) => frames += 1,
        }
    };
    assert!(ended, "the connection stayed open after {frames} frames");
    assert!(frames < 60, "{frames} frames: the client was never stuck");
    // Nothing is lost: a new session of bob's gets every picture.
    let again = online(&srv, v, e, "bob", "desktop").await;
    let mut got = Vec::new();
    for _ in 0..60 {
        let (tid, m) = expect(&again, "NewMessage").await;
        let id = msg_id(&m);
        ack(&again, &tid, &id).await;
        got.push(id);
    }
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
}

/// Issue 19: on a WebSocket, sends run together but anything else waits
/// for what came before it, and the answers come in request order. Two
/// sends whose recipient acknowledges only once it has seen both, then a
/// KeepAlive, then a third send, written at once: the KeepAlive is
/// answered after both sends and before the third, which reaches Bob
/// after the first two.
#[tokio::test]
async fn base_im_websocket_answers_come_in_request_order_around_pipelined_sends() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;
    let srv = TestServer::start_with(|c| c.im.ack_window_ms = 1_000).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let (raw, alice) = raw_ws_client(&srv, v, e).await;
    online_with(&alice, "alice", caps("P")).await;
    let sid = alice.session_id().unwrap();
    let bob = online_ws(&srv, v, e, "bob").await;
    let reader = tokio::spawn(async move {
        let (t1, m1) = expect_ws(&bob, "NewMessage").await;
        let (t2, m2) = expect_ws(&bob, "NewMessage").await;
        ack(&bob, &t1, &msg_id(&m1)).await;
        ack(&bob, &t2, &msg_id(&m2)).await;
        let (t3, m3) = expect_ws(&bob, "NewMessage").await;
        ack(&bob, &t3, &msg_id(&m3)).await;
        vec![content(&m1), content(&m2), content(&m3)]
    });
    let requests = [
        ("s1", text_to("alice", &["bob"], "one")),
        ("s2", text_to("alice", &["bob"], "two")),
        ("k", Element::new("KeepAlive-Request")),
        ("s3", text_to("alice", &["bob"], "three")),
    ];
    let mut ws = raw.lock().await;
    for (tid, body) in requests {
        let m = imps_wire::Message::single(
            v,
            Some(sid.clone()),
            imps_wire::Transaction::request(tid, body),
        );
        let xml = String::from_utf8(imps_wire::encode(&m, e).unwrap()).unwrap();
        ws.send(Frame::text(xml)).await.unwrap();
    }
    let mut answered = Vec::new();
    while answered.len() < 4 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("all four answered")
            .unwrap()
            .unwrap();
        let Frame::Text(t) = frame else { continue };
        let m = imps_wire::decode(t.as_bytes(), e, &Default::default()).unwrap();
        for t in m.transactions {
            if t.mode == imps_client::TransactionMode::Response {
                assert_eq!(code_of(&t.body), Some(200), "{:?}", t.body);
                answered.push(t.id.unwrap_or_default());
            }
        }
    }
    assert_eq!(answered, ["s1", "s2", "k", "s3"]);
    assert_eq!(reader.await.unwrap(), ["one", "two", "three"]);
}
