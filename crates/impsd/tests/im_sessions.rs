//! IMR-UC (use cases 5.5, 5.6, 5.16): pushed rather than polled, several
//! sessions of one user, messages aimed at one client, offline storage on
//! and off; and a blocked sender, who must not learn that the recipient
//! exists.

use crate::common;
use crate::im_common;

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{Element, Encoding, Version};

fn aimed_at(user: &str, client: &str) -> Element {
    Element::new("Recipient").with(
        Element::new("User")
            .with_text("UserID", uid(user))
            .with(Element::new("ClientID").with_text("URL", client)),
    )
}

/// The user of `c` lets everyone see their OnlineStatus (a DefaultList).
/// Only a sender who may see it learns from a 533 that a client is not
/// online (PRI-1).
async fn show_online_to_all<T: imps_client::Transport>(c: &imps_client::Client<T>) {
    let req = Element::new("CreateAttributeList-Request")
        .with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")))
        .with_text("DefaultList", "T");
    assert_eq!(
        code_of(&c.request(req).await.expect("CreateAttributeList answered")),
        Some(200)
    );
}

/// Pushed over the WebSocket the moment it is sent; no poll involved.
#[tokio::test]
async fn imr_uc_messages_are_pushed_not_polled() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = online_ws(&srv, v, e, "alice").await;
        let bob = online_ws(&srv, v, e, "bob").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "push")).await;
        let (tid, m) = expect_ws(&bob, "NewMessage").await;
        assert_eq!(msg_id(&m), id);
        ack(&bob, &tid, &id).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

/// Not aimed at a client: every session of the user gets it; the first
/// acknowledgement delivers it, and no session is offered it again.
#[tokio::test]
async fn imr_uc_message_not_aimed_at_a_client_goes_to_all_sessions() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let phone = online(&srv, v, e, "bob", "phone").await;
        let desktop = online(&srv, Version::V1_3, Encoding::Xml, "bob", "desktop").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "everywhere")).await;
        let (t1, m1) = expect(&phone, "NewMessage").await;
        let (t2, m2) = expect(&desktop, "NewMessage").await;
        assert_eq!((msg_id(&m1), msg_id(&m2)), (id.clone(), id.clone()));
        ack(&phone, &t1, &id).await;
        // The later acknowledgement of the other session is harmless.
        ack(&desktop, &t2, &id).await;
        desktop.logout().await.unwrap();
        let desktop = online(&srv, Version::V1_3, Encoding::Xml, "bob", "desktop").await;
        expect_none(&desktop, "NewMessage").await;
        for c in [alice, phone, desktop] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn imr_uc_message_aimed_at_one_client_goes_to_that_client_only() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let phone = online(&srv, v, e, "bob", "phone").await;
        let desktop = online(&srv, v, e, "bob", "desktop").await;
        show_online_to_all(&phone).await;
        let id = send_ok(
            &alice,
            send_request("alice", aimed_at("bob", "desktop"), "desk only", false),
        )
        .await;
        let m = receive(&desktop).await;
        assert_eq!((msg_id(&m), content(&m)), (id, "desk only".into()));
        expect_none(&phone, "NewMessage").await;
        // Aimed at a client that is not online: refused, not stored.
        let resp = alice
            .request(send_request(
                "alice",
                aimed_at("bob", "tablet"),
                "nobody home",
                false,
            ))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(533), "{v} {e:?}: {resp:?}");
        phone.logout().await.unwrap();
        desktop.logout().await.unwrap();
        let resp = alice
            .request(send_request(
                "alice",
                aimed_at("bob", "desktop"),
                "gone",
                false,
            ))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(533), "the client logged out");
        let desktop = online(&srv, v, e, "bob", "desktop").await;
        expect_none(&desktop, "NewMessage").await;
        desktop.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// PRI-1: a sender who may not see bob's OnlineStatus gets the same
/// answer for a message aimed at one of bob's clients whether that client
/// is online or not, so it reveals nothing. The message then waits for
/// that client. Once bob lets the sender see OnlineStatus, a client that
/// is not online is answered 533 again.
#[tokio::test]
async fn pri_1_message_aimed_at_a_client_reveals_nothing_without_online_status() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let desktop = online(&srv, v, e, "bob", "desktop").await;
        let online_answer = alice
            .request(send_request(
                "alice",
                aimed_at("bob", "desktop"),
                "to the desk",
                false,
            ))
            .await
            .unwrap();
        let offline_answer = alice
            .request(send_request(
                "alice",
                aimed_at("bob", "tablet"),
                "to the tablet",
                false,
            ))
            .await
            .unwrap();
        assert_eq!(code_of(&online_answer), Some(200), "{v} {e:?}");
        assert_eq!(
            code_of(&offline_answer),
            code_of(&online_answer),
            "{v} {e:?}: the answer must not tell whether the tablet is online"
        );
        let m = receive(&desktop).await;
        assert_eq!(content(&m), "to the desk");
        expect_none(&desktop, "NewMessage").await;
        // The tablet comes online later and finds its message.
        let tablet = online(&srv, v, e, "bob", "tablet").await;
        let m = receive(&tablet).await;
        assert_eq!(content(&m), "to the tablet");
        // With OnlineStatus visible the sender may be told.
        show_online_to_all(&tablet).await;
        let told = alice
            .request(send_request("alice", aimed_at("bob", "laptop"), "x", false))
            .await
            .unwrap();
        assert_eq!(code_of(&told), Some(533), "{v} {e:?}: {told:?}");
        for c in [alice, desktop, tablet] {
            c.logout().await.unwrap();
        }
        // The DefaultList stays for the next combination: start over.
        let bob = online(&srv, v, e, "bob", "reset").await;
        let del = Element::new("DeleteAttributeList-Request").with_text("DefaultList", "T");
        assert_eq!(code_of(&bob.request(del).await.unwrap()), Some(200));
        bob.logout().await.unwrap();
    }
}

/// With offline storage (the default) a message to a logged-out user is
/// kept for the next login; each session of that login gets it.
#[tokio::test]
async fn imr_uc_offline_message_delivered_to_the_next_sessions() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let id1 = send_ok(&alice, text_to("alice", &["bob"], "one")).await;
        let id2 = send_ok(&alice, text_to("alice", &["bob"], "two")).await;
        let phone = online(&srv, v, e, "bob", "phone").await;
        let desktop = online(&srv, v, e, "bob", "desktop").await;
        for c in [&phone, &desktop] {
            let (t1, m1) = expect(c, "NewMessage").await;
            let (t2, m2) = expect(c, "NewMessage").await;
            assert_eq!(
                (msg_id(&m1), msg_id(&m2)),
                (id1.clone(), id2.clone()),
                "in order"
            );
            ack(c, &t1, &id1).await;
            ack(c, &t2, &id2).await;
        }
        for c in [alice, phone, desktop] {
            c.logout().await.unwrap();
        }
    }
}

/// The operator offers no offline storage: a message to a user with no
/// session is refused (533); to an online user it goes as usual.
#[tokio::test]
async fn imr_uc_without_offline_storage_messages_to_offline_users_are_refused() {
    let srv = TestServer::start_with(|c| c.im.offline_storage = false).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let resp = alice
            .request(text_to("alice", &["bob"], "anyone?"))
            .await
            .unwrap();
        assert_eq!(code_of(&resp), Some(533), "{v} {e:?}: {resp:?}");
        let bob = online(&srv, v, e, "bob", "phone").await;
        expect_none(&bob, "NewMessage").await;
        send_ok(&alice, text_to("alice", &["bob"], "now you are here")).await;
        assert_eq!(content(&receive(&bob).await), "now you are here");
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// IMR-UC 5.5: a message from someone not in the recipient's contact list
/// is shown by friendly name: the 1.3 NewMessage carries it.
#[tokio::test]
async fn imr_uc_message_from_a_non_contact_carries_the_friendly_name() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice from work"), None).await;
    add_user(&srv, "bob", None, None).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        let bob = online(&srv, Version::V1_3, e, "bob", "phone").await;
        send_ok(&alice, text_to("alice", &["bob"], "hello stranger")).await;
        let m = receive(&bob).await;
        assert_eq!(
            info(&m)
                .path(&["Sender", "User", "FriendlyName"])
                .map(|f| f.text.as_str()),
            Some("Alice from work")
        );
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

/// bob blocks mallory: mallory's messages are refused exactly as if bob
/// did not exist (same code, same description shape), whether bob is
/// online or not; others still reach bob, and unblocking lets mallory in.
#[tokio::test]
async fn im_blocked_sender_is_answered_as_for_an_unknown_user() {
    let srv = TestServer::start().await;
    for u in ["mallory", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in common::combos() {
        let bob = online(&srv, v, e, "bob", "phone").await;
        let block = Element::new("BlockEntity-Request").with(
            Element::new("BlockList")
                .with_text("InUse", "T")
                .with(Element::new("AddList").with_text("UserID", uid("mallory"))),
        );
        assert_eq!(
            code_of(&bob.request(block).await.unwrap()),
            Some(200),
            "{v} {e:?}"
        );
        let mallory = online(&srv, v, e, "mallory", "phone").await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let to_bob = mallory
            .request(text_to("mallory", &["bob"], "let me in"))
            .await
            .unwrap();
        let to_nobody = mallory
            .request(text_to("mallory", &["nobody"], "let me in"))
            .await
            .unwrap();
        let shape = |r: &Element| {
            let (code, desc) = imps_client::status_of(r).unwrap();
            (code, desc.replace("bob", "X").replace("nobody", "X"))
        };
        assert_eq!(shape(&to_bob), shape(&to_nobody), "{v} {e:?}: {to_bob:?}");
        assert_eq!(shape(&to_bob).0, 531);
        // In a send to several, the same detail as an unknown user.
        let both = mallory
            .request(text_to("mallory", &["bob", "carol"], "hi all"))
            .await
            .unwrap();
        assert_eq!(code_of(&both), Some(201));
        assert_eq!(details(&both), vec![(531, vec![uid("bob")])]);
        assert_eq!(content(&receive(&carol).await), "hi all");
        expect_none(&bob, "NewMessage").await;
        // Offline bob: still the same answer (nothing stored).
        bob.logout().await.unwrap();
        let offline = mallory
            .request(text_to("mallory", &["bob"], "later?"))
            .await
            .unwrap();
        assert_eq!(shape(&offline), shape(&to_nobody));
        let bob = online(&srv, v, e, "bob", "phone").await;
        expect_none(&bob, "NewMessage").await;
        send_ok(&carol, text_to("carol", &["bob"], "from carol")).await;
        assert_eq!(content(&receive(&bob).await), "from carol");
        let unblock = Element::new("BlockEntity-Request").with(
            Element::new("BlockList")
                .with_text("InUse", "T")
                .with(Element::new("RemoveList").with_text("UserID", uid("mallory"))),
        );
        assert_eq!(code_of(&bob.request(unblock).await.unwrap()), Some(200));
        send_ok(&mallory, text_to("mallory", &["bob"], "thanks")).await;
        assert_eq!(content(&receive(&bob).await), "thanks");
        for c in [bob, mallory, carol] {
            c.logout().await.unwrap();
        }
    }
}

/// GEN-11, 12, 14, 15 as IM sees them: a user with three sessions under
/// three ClientIDs gets an untargeted message in each; a session that
/// logs in later does not take messages away from the earlier ones, and
/// a message aimed at one ClientID tells the sessions apart.
#[tokio::test]
async fn gen_11_12_14_15_im_reaches_each_of_several_sessions() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let phone = online(&srv, v, e, "bob", "phone").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "before")).await;
        let (t, m) = expect(&phone, "NewMessage").await;
        assert_eq!(msg_id(&m), id);
        ack(&phone, &t, &id).await;
        // Two more sessions arrive (GEN-14); the first keeps working (GEN-15).
        let laptop = online(&srv, Version::V1_3, Encoding::Xml, "bob", "laptop").await;
        let app = online(&srv, Version::V1_2, Encoding::Wbxml, "bob", "app").await;
        let id = send_ok(&alice, text_to("alice", &["bob"], "after")).await;
        let mut tids = Vec::new();
        for c in [&phone, &laptop, &app] {
            let (t, m) = expect(c, "NewMessage").await;
            assert_eq!((msg_id(&m), content(&m)), (id.clone(), "after".into()));
            tids.push(t);
        }
        for (c, t) in [&phone, &laptop, &app].into_iter().zip(&tids) {
            ack(c, t, &id).await;
        }
        // GEN-12: the ClientIDs differ, so each can be addressed alone.
        for (target, text) in [("laptop", "to laptop"), ("app", "to app")] {
            send_ok(
                &alice,
                send_request("alice", aimed_at("bob", target), text, false),
            )
            .await;
        }
        assert_eq!(content(&receive(&laptop).await), "to laptop");
        assert_eq!(content(&receive(&app).await), "to app");
        expect_none(&phone, "NewMessage").await;
        expect_none(&laptop, "NewMessage").await;
        for c in [alice, phone, laptop, app] {
            c.logout().await.unwrap();
        }
    }
}

/// GEN-13 as IM sees it: a second login with a ClientID already in use is
/// refused, and messages aimed at that ClientID still reach the first
/// session, never the refused one.
#[tokio::test]
async fn gen_13_refused_duplicate_client_id_leaves_messages_with_the_first_session() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let first = online(&srv, v, e, "bob", "phone").await;
        let second = srv.client(v, e, "phone");
        let err = second.login_password("bob", "pw").await.unwrap_err();
        assert_eq!(err.status_code(), Some(603), "{v} {e:?}: {err}");
        let id = send_ok(
            &alice,
            send_request("alice", aimed_at("bob", "phone"), "still yours", false),
        )
        .await;
        let m = receive(&first).await;
        assert_eq!((msg_id(&m), content(&m)), (id, "still yours".into()));
        first.logout().await.unwrap();
        alice.logout().await.unwrap();
    }
}

/// GEN-16 as IM sees it: with at most two sessions per user the third
/// login is refused; messages go to the two admitted sessions, and after
/// one leaves, the newcomer can log in and is reached.
#[tokio::test]
async fn gen_16_session_cap_and_message_delivery() {
    let srv = TestServer::start_with(|c| c.session.max_per_user = 2).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    let c1 = online(&srv, v, e, "bob", "c1").await;
    let c2 = online(&srv, Version::V1_2, Encoding::Xml, "bob", "c2").await;
    let c3 = srv.client(v, e, "c3");
    let err = c3.login_password("bob", "pw").await.unwrap_err();
    assert_eq!(err.status_code(), Some(603), "{err}");
    let id = send_ok(&alice, text_to("alice", &["bob"], "two of you")).await;
    for c in [&c1, &c2] {
        let (t, m) = expect(c, "NewMessage").await;
        assert_eq!(msg_id(&m), id);
        ack(c, &t, &id).await;
    }
    // Aimed at the refused client: it is not online, so 533 (alice may
    // see bob's OnlineStatus).
    show_online_to_all(&c1).await;
    let resp = alice
        .request(send_request("alice", aimed_at("bob", "c3"), "c3?", false))
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(533), "{resp:?}");
    c1.logout().await.unwrap();
    online_with(&c3, "bob", caps("P")).await;
    send_ok(
        &alice,
        send_request("alice", aimed_at("bob", "c3"), "now c3", false),
    )
    .await;
    assert_eq!(content(&receive(&c3).await), "now c3");
    for c in [alice, c2, c3] {
        c.logout().await.unwrap();
    }
}
