//! Adding a contact (ADC-1..3, ADC-UC) over the real protocol.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::lists_common;

use std::time::Duration;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, HttpClient, Message, Version};
use lists_common::*;

/// Every server-originated request waiting for `c`, answered with Status.
async fn drain(c: &HttpClient) -> Vec<Element> {
    let mut out = Vec::new();
    while let Some(m) = c.poll().await.unwrap() {
        let Some(t) = m.transactions.into_iter().next() else {
            break;
        };
        if let Some(id) = &t.id {
            c.answer_status(id).await.unwrap();
        }
        out.push(t.body);
    }
    out
}

fn atcl(notices: &[Element]) -> Vec<&Element> {
    notices
        .iter()
        .filter(|n| {
            n.name == "Notification-Request" && n.child_text("NotificationType") == Some("ATCL")
        })
        .collect()
}

#[tokio::test]
async fn adc_1_nickname_defaults_to_friendly_name_then_user_id_or_msisdn() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", Some("Bob Builder"), None).await;
    add_user(&srv, "carol", None, None).await;
    add_user(&srv, "dave", None, Some("+358401234567")).await;
    for (v, e) in common::combos() {
        let c = login(&srv, v, e, "alice", "phone").await;
        let f = list_id("alice", "f");
        create_list(&c, &f, vec![], &[]).await;
        let req = add_request(
            &f,
            vec![
                nick(None, "bob"),
                nick(Some(""), "carol"),
                Element::text("UserID", uid("+358401234567")),
                Element::text("UserID", uid("+358409999999")),
                nick(Some("Chosen"), "dave"),
            ],
            true,
        );
        let resp = c.request(req).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        assert_eq!(
            nicks(&resp),
            [
                // Friendly name from the profile.
                ("Bob Builder".to_string(), uid("bob")),
                // No friendly name: the User ID.
                (uid("carol"), uid("carol")),
                // Added by number: the registered user behind it, and the
                // number as the name (dave has no friendly name) -- then
                // renamed by the explicit entry that follows.
                ("Chosen".to_string(), uid("dave")),
                // A number nobody has registered yet can still be added.
                ("+358409999999".to_string(), uid("+358409999999")),
            ],
            "{v} {e:?}"
        );
        c.request(Element::new("DeleteList-Request").with_text("ContactList", &f))
            .await
            .unwrap();
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn adc_1_msisdn_becomes_the_nickname_when_no_friendly_name() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "dave", None, Some("+358401234567")).await;
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    let f = list_id("alice", "f");
    create_list(&c, &f, vec![], &[]).await;
    let req = add_request(
        &f,
        vec![Element::text("UserID", "wv:+358401234567@localhost")],
        true,
    );
    let resp = c.request(req).await.unwrap();
    assert_eq!(nicks(&resp), [("+358401234567".to_string(), uid("dave"))]);
}

#[tokio::test]
async fn adc_2_add_grant_and_authorize_in_one_transaction() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let alice = login(&srv, Version::V1_3, e, "alice", "phone").await;
        alice.service_request_all().await.unwrap();
        let f = list_id("alice", "friends");
        create_list(&alice, &f, vec![], &[]).await;
        let req = add_request(&f, vec![nick(Some("Bob"), "bob")], true)
            .with_text("AuthorizeAndGrant", "T");
        let resp = alice.request(req).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{e:?}: {resp:?}");
        // 1. on the contact list,
        assert_eq!(nicks(&resp), [("Bob".to_string(), uid("bob"))]);
        // 2. on the grant list,
        let blocked = alice
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        let granted: Vec<String> = blocked
            .path(&["GrantList", "EntityList"])
            .map(|l| l.children_named("UserID").map(|u| u.text.clone()).collect())
            .unwrap_or_default();
        assert_eq!(granted, [uid("bob")], "{blocked:?}");
        // 3. and allowed to see alice's OnlineStatus; carol is not.
        let ask = Element::new("GetPresence-Request")
            .with(Element::new("UserIDList").with_text("UserID", uid("alice")))
            .with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")));
        let bob = login(&srv, Version::V1_3, e, "bob", "phone").await;
        let seen = bob.request(ask.clone()).await.unwrap();
        assert!(
            seen.path(&["Presence", "PresenceSubList", "OnlineStatus"])
                .is_some(),
            "{e:?}: bob should see alice's OnlineStatus: {seen:?}"
        );
        let carol = login(&srv, Version::V1_3, e, "carol", "phone").await;
        let unseen = carol.request(ask).await.unwrap();
        assert!(
            unseen
                .path(&["Presence", "PresenceSubList", "OnlineStatus"])
                .is_none(),
            "{e:?}: carol was not authorized: {unseen:?}"
        );
        alice
            .request(Element::new("DeleteList-Request").with_text("ContactList", &f))
            .await
            .unwrap();
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn adc_3_added_user_is_notified_unless_opted_out() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice A."), None).await;
    add_user(&srv, "bob", None, None).await;
    add_user(&srv, "carol", None, None).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let bob = login(&srv, Version::V1_3, e, "bob", "phone").await;
        let bob_old = login(&srv, Version::V1_2, e, "bob", "old-phone").await;
        drain(&bob).await;
        let alice = login(&srv, Version::V1_2, Encoding::Xml, "alice", "phone").await;
        let f = list_id("alice", "secret-list-name");
        create_list(&alice, &f, vec![nick(Some("B"), "bob")], &[]).await;

        let got = drain(&bob).await;
        let notices = atcl(&got);
        assert_eq!(notices.len(), 1, "{e:?}: {got:?}");
        let user = notices[0]
            .path(&["UserList", "User"])
            .expect("UserList/User");
        assert_eq!(user.child_text("UserID"), Some(uid("alice").as_str()));
        assert_eq!(user.child_text("FriendlyName"), Some("Alice A."));
        let text = String::from_utf8(imps_wire::xml::encode(notices[0])).unwrap();
        assert!(
            !text.contains("secret-list-name"),
            "never the list ID: {text}"
        );
        // A 1.2 session has no Notification-Request: nothing for it.
        assert!(atcl(&drain(&bob_old).await).is_empty());

        // Already a member: no second notice.
        alice
            .request(add_request(&f, vec![nick(Some("Bobby"), "bob")], false))
            .await
            .unwrap();
        assert!(atcl(&drain(&bob).await).is_empty());

        // Opted out: added to another list, nothing arrives.
        let types = Element::new("NotificationTypeList").with_text("NotificationType", "ATCL");
        let off = Element::new("UnsubscribeNotification-Request").with(types.clone());
        assert_eq!(code_of(&bob.request(off).await.unwrap()), Some(200));
        let g = list_id("alice", "g");
        create_list(&alice, &g, vec![], &[]).await;
        alice
            .request(add_request(&g, vec![nick(None, "bob")], false))
            .await
            .unwrap();
        assert!(atcl(&drain(&bob).await).is_empty(), "{e:?}: opted out");
        let on = Element::new("SubscribeNotification-Request").with(types);
        assert_eq!(code_of(&bob.request(on).await.unwrap()), Some(200));

        // Someone bob blocks cannot notify him either.
        let block = Element::new("BlockEntity-Request")
            .with_text("BlockListInUse", "T")
            .with(
                Element::new("BlockList")
                    .with(Element::new("AddList").with_text("UserID", uid("carol"))),
            );
        assert_eq!(code_of(&bob.request(block).await.unwrap()), Some(200));
        let carol = login(&srv, Version::V1_3, e, "carol", "phone").await;
        let h = list_id("carol", "h");
        create_list(&carol, &h, vec![nick(None, "bob")], &[]).await;
        assert!(atcl(&drain(&bob).await).is_empty(), "{e:?}: blocked adder");
        let unblock = Element::new("BlockEntity-Request").with(
            Element::new("BlockList")
                .with(Element::new("RemoveList").with_text("UserID", uid("carol"))),
        );
        bob.request(unblock).await.unwrap();

        // Subscribed again: the next add is announced.
        let k = list_id("carol", "k");
        create_list(&carol, &k, vec![nick(None, "bob")], &[]).await;
        let got = drain(&bob).await;
        let notices = atcl(&got);
        assert_eq!(notices.len(), 1, "{got:?}");
        let user = notices[0].path(&["UserList", "User"]).unwrap();
        assert_eq!(user.child_text("UserID"), Some(uid("carol").as_str()));
        assert!(
            user.child("FriendlyName").is_none(),
            "carol has no friendly name"
        );

        for l in [&f, &g] {
            alice
                .request(Element::new("DeleteList-Request").with_text("ContactList", l.as_str()))
                .await
                .unwrap();
        }
        for l in [&h, &k] {
            carol
                .request(Element::new("DeleteList-Request").with_text("ContactList", l.as_str()))
                .await
                .unwrap();
        }
        for c in [&alice, &bob, &bob_old, &carol] {
            c.logout().await.unwrap();
        }
    }
}

/// ADC-3 over the WebSocket push channel: the notice arrives unasked.
#[tokio::test]
async fn adc_3_notice_is_pushed_over_websocket() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let bob = imps_client::WsClient::connect(&srv.ws_url(), Version::V1_3, Encoding::Wbxml)
        .await
        .unwrap();
    bob.login_password("bob", PW).await.unwrap();
    bob.service_request_all().await.unwrap();
    while bob.next_push(Duration::from_millis(100)).await.is_some() {}
    let alice = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    create_list(&alice, &list_id("alice", "f"), vec![nick(None, "bob")], &[]).await;
    let mut found = None;
    while let Some(m) = bob.next_push(Duration::from_secs(5)).await {
        let m: Message = m;
        let body = &m.transactions[0].body;
        if body.name == "Notification-Request" {
            found = Some(body.clone());
            break;
        }
    }
    let n = found.expect("an ATCL notice");
    assert_eq!(n.child_text("NotificationType"), Some("ATCL"));
    assert_eq!(
        n.path(&["UserList", "User", "UserID"])
            .map(|u| u.text.as_str()),
        Some(uid("alice").as_str())
    );
}

#[tokio::test]
async fn adc_uc_add_from_the_watcher_list_and_by_msisdn() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", Some("Bob"), Some("+358401111111")).await;
    add_user(&srv, "carol", None, Some("+358402222222")).await;
    let alice = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    alice.service_request_all().await.unwrap();
    let bob = login(&srv, Version::V1_3, Encoding::Xml, "bob", "phone").await;
    bob.service_request_all().await.unwrap();
    // Bob watches alice, so he is on her watcher list ...
    let sub = Element::new("SubscribePresence-Request")
        .with(Element::new("UserIDList").with_text("UserID", uid("alice")))
        .with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")));
    let resp = bob.request(sub).await.unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    let watchers = alice
        .request(Element::new("GetWatcherList-Request"))
        .await
        .unwrap();
    let watcher_ids: Vec<String> = watchers
        .children_named("Watcher")
        .filter_map(|w| {
            w.child_text("UserID")
                .or_else(|| w.path(&["User", "UserID"]).map(|u| u.text.trim()))
        })
        .map(str::to_string)
        .collect();
    assert!(
        watcher_ids
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&uid("bob"))),
        "{watchers:?}"
    );
    // ... and she adds him from there: an ordinary ListManage add of the
    // UserID the watcher list showed.
    let f = list_id("alice", "f");
    create_list(&alice, &f, vec![], &[]).await;
    let from_watchers: Vec<Element> = watcher_ids
        .iter()
        .map(|w| Element::text("UserID", w.clone()))
        .collect();
    let resp = alice
        .request(add_request(&f, from_watchers, true))
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    // By MSISDN (E.164, as a search would have found it).
    let resp = alice
        .request(add_request(
            &f,
            vec![Element::text("UserID", "wv:+358402222222@localhost")],
            true,
        ))
        .await
        .unwrap();
    assert_eq!(
        nicks(&resp),
        [
            ("Bob".to_string(), uid("bob")),
            ("+358402222222".to_string(), uid("carol")),
        ]
    );
}

/// Runs SQL on the running server's database from a second connection,
/// as an operator would: `pg` on PostgreSQL (`{s}` is the server's
/// schema), else `sqlite` with the sqlite3 shell, waiting for its write
/// lock.
fn inject(srv: &TestServer, sqlite: &str, pg: &str) {
    if let Some(db) = &srv.db {
        db.execute(&pg.replace("{s}", db.schema()))
            .expect("the PostgreSQL statements run");
        return;
    }
    let sql = sqlite;
    let db = srv.data_dir().join("impsd.sqlite");
    assert!(db.exists(), "no database at {}", db.display());
    let out = std::process::Command::new("sqlite3")
        .args(["-bail", "-cmd", ".timeout 10000"])
        .arg(&db)
        .arg(sql)
        .output()
        .expect("the sqlite3 shell is needed to inject a store failure");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ADC-2 is all or nothing: when the OnlineStatus authorization cannot be
/// written (here the real store refuses presence grants), the contact list
/// and grant list changes of the same request are undone, the added user
/// is not told, and the client gets the error. Once the store works again
/// the same request does all three.
#[tokio::test]
async fn adc_2_failed_authorization_undoes_the_whole_add() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    let v = Version::V1_3;
    let alice = login(&srv, v, Encoding::Xml, "alice", "phone").await;
    alice.service_request_all().await.unwrap();
    let bob = login(&srv, v, Encoding::Wbxml, "bob", "phone").await;
    bob.service_request_all().await.unwrap();
    drain(&bob).await;
    let f = list_id("alice", "friends");
    create_list(&alice, &f, vec![nick(Some("Carol"), "carol")], &[]).await;
    let grants = async || {
        let r = alice
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        entity_users(r.child("GrantList"))
    };
    let sees_online = async || {
        let ask = Element::new("GetPresence-Request")
            .with(Element::new("UserIDList").with_text("UserID", uid("alice")))
            .with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")));
        let r = bob.request(ask).await.unwrap();
        r.path(&["Presence", "PresenceSubList", "OnlineStatus"])
            .is_some()
    };
    let add =
        add_request(&f, vec![nick(Some("Bob"), "bob")], true).with_text("AuthorizeAndGrant", "T");

    inject(
        &srv,
        "CREATE TRIGGER adc2_no_insert BEFORE INSERT ON presence_grants \
         BEGIN SELECT RAISE(ABORT, 'injected'); END;\n\
         CREATE TRIGGER adc2_no_update BEFORE UPDATE ON presence_grants \
         BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        "CREATE FUNCTION {s}.adc2_refuse() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;\n\
         CREATE TRIGGER adc2_no_write BEFORE INSERT OR UPDATE ON {s}.presence_grants \
         FOR EACH ROW EXECUTE FUNCTION {s}.adc2_refuse();",
    );
    let resp = alice.request(add.clone()).await.unwrap();
    assert_eq!(code_of(&resp), Some(500), "{resp:?}");
    assert_eq!(
        members(&alice, &f).await,
        [("Carol".to_string(), uid("carol"))],
        "bob was taken off the list again, carol stayed"
    );
    assert!(grants().await.is_empty(), "bob is not on the grant list");
    assert!(!sees_online().await, "bob was not authorized");
    assert!(atcl(&drain(&bob).await).is_empty(), "bob was not told");

    inject(
        &srv,
        "DROP TRIGGER adc2_no_insert; DROP TRIGGER adc2_no_update;",
        "DROP TRIGGER adc2_no_write ON {s}.presence_grants;",
    );
    let resp = alice.request(add).await.unwrap();
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    let mut now = members(&alice, &f).await;
    now.sort();
    assert_eq!(
        now,
        [
            ("Bob".to_string(), uid("bob")),
            ("Carol".to_string(), uid("carol"))
        ]
    );
    assert_eq!(grants().await, [uid("bob")]);
    assert!(sees_online().await);
    assert_eq!(atcl(&drain(&bob).await).len(), 1);
}

/// `JoinGroup-Request` with a screen name, showing the joiner's User ID
/// to the others (OwnProperties ShowID) or not.
fn join_group(group: &str, sname: &str, show_id: bool) -> Element {
    Element::new("JoinGroup-Request")
        .with_text("GroupID", group)
        .with(
            Element::new("ScreenName")
                .with_text("SName", sname)
                .with_text("GroupID", group),
        )
        .with(
            Element::new("OwnProperties").with(
                Element::new("Property")
                    .with_text("Name", "ShowID")
                    .with_text("Value", if show_id { "T" } else { "F" }),
            ),
        )
        .with_text("JoinedRequest", "F")
        .with_text("SubscribeNotification", "F")
}

/// ADC-UC, adding from a group: alice joins a group, reads its joined
/// users, and adds the one whose User ID the list shows with the 1.3
/// add-contact-in-one-transaction (ListManage with AuthorizeAndGrant),
/// taking the User ID and screen name from the group list. The user who
/// hid their ID cannot be picked that way. The contact list, the grant
/// list and the OnlineStatus authorization all follow.
#[tokio::test]
async fn adc_uc_add_from_a_group_member_list() {
    let srv = TestServer::start().await;
    for u in ["olga", "alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    let v = Version::V1_3;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let g = format!(
            "wv:olga/club{}@localhost",
            if e == Encoding::Xml { "x" } else { "w" }
        );
        let olga = login(&srv, v, e, "olga", "phone").await;
        olga.service_request_all().await.unwrap();
        let create = Element::new("CreateGroup-Request")
            .with_text("GroupID", &g)
            .with(
                Element::new("GroupProperties").with(
                    Element::new("Property")
                        .with_text("Name", "Name")
                        .with_text("Value", "Club"),
                ),
            )
            .with_text("JoinGroup", "F");
        let r = olga.request(create).await.unwrap();
        assert_eq!(code_of(&r), Some(200), "{e:?}: {r:?}");
        let mut others = Vec::new();
        for (who, sname, show) in [("bob", "Bobby", true), ("carol", "Cee", false)] {
            let c = login(&srv, v, e, who, "phone").await;
            c.service_request_all().await.unwrap();
            let r = c.request(join_group(&g, sname, show)).await.unwrap();
            assert_eq!(r.name, "JoinGroup-Response", "{e:?} {who}: {r:?}");
            others.push(c);
        }
        let alice = login(&srv, v, e, "alice", "phone").await;
        alice.service_request_all().await.unwrap();
        let r = alice.request(join_group(&g, "Al", false)).await.unwrap();
        assert_eq!(r.name, "JoinGroup-Response", "{e:?}: {r:?}");
        let joined = alice
            .request(Element::new("GetJoinedUsers-Request").with_text("GroupID", &g))
            .await
            .unwrap();
        assert_eq!(joined.name, "GetJoinedUsers-Response", "{e:?}: {joined:?}");
        let mappings: Vec<&Element> = joined
            .path(&["UserMapList", "UserMapping"])
            .map(|m| m.children_named("Mapping").collect())
            .unwrap_or_default();
        let snames: Vec<&str> = mappings
            .iter()
            .filter_map(|m| m.child_text("SName"))
            .collect();
        assert!(
            ["Bobby", "Cee", "Al"].iter().all(|s| snames.contains(s)),
            "{e:?}: {joined:?}"
        );
        // Only the user who chose to show it has a User ID on the list.
        let shown: Vec<(String, String)> = mappings
            .iter()
            .filter_map(|m| {
                Some((
                    m.child_text("SName")?.to_string(),
                    m.child_text("UserID")?.to_string(),
                ))
            })
            .filter(|(s, _)| s != "Al")
            .collect();
        assert_eq!(shown.len(), 1, "{e:?}: {joined:?}");
        let (sname, user) = shown[0].clone();
        assert_eq!(sname, "Bobby");
        assert!(user.eq_ignore_ascii_case(&uid("bob")), "{e:?}: {user}");

        // The add in one transaction, with what the group list showed.
        let f = list_id("alice", &format!("group-friends-{e:?}").to_lowercase());
        create_list(&alice, &f, vec![], &[]).await;
        let entry = Element::new("NickName")
            .with_text("Name", &sname)
            .with_text("UserID", &user);
        let add = add_request(&f, vec![entry], true).with_text("AuthorizeAndGrant", "T");
        let resp = alice.request(add).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{e:?}: {resp:?}");
        assert_eq!(nicks(&resp), [("Bobby".to_string(), uid("bob"))], "{e:?}");
        assert_eq!(
            members(&alice, &f).await,
            [("Bobby".to_string(), uid("bob"))],
            "{e:?}: on the contact list, read back"
        );
        let blocked = alice
            .request(Element::new("GetBlockedList-Request"))
            .await
            .unwrap();
        assert_eq!(
            entity_users(blocked.child("GrantList")),
            [uid("bob")],
            "{e:?}: on the grant list: {blocked:?}"
        );
        // Bob may see alice's OnlineStatus now; carol, not added, may not.
        let ask = Element::new("GetPresence-Request")
            .with(Element::new("UserIDList").with_text("UserID", uid("alice")))
            .with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")));
        let sees = async |c: &HttpClient| {
            let r = c.request(ask.clone()).await.unwrap();
            r.path(&["Presence", "PresenceSubList", "OnlineStatus"])
                .is_some()
        };
        assert!(sees(&others[0]).await, "{e:?}: bob is authorized");
        assert!(!sees(&others[1]).await, "{e:?}: carol is not");
        // Bob is told he was added (ATCL), carol is not.
        assert_eq!(atcl(&drain(&others[0]).await).len(), 1, "{e:?}: bob told");
        assert!(
            atcl(&drain(&others[1]).await).is_empty(),
            "{e:?}: carol not"
        );
        alice.logout().await.unwrap();
        olga.logout().await.unwrap();
        for c in others {
            c.logout().await.unwrap();
        }
        // Start the next round from empty lists.
        let cleanup = login(&srv, v, e, "alice", "cleanup").await;
        cleanup
            .request(Element::new("DeleteList-Request").with_text("ContactList", &f))
            .await
            .unwrap();
        let r = cleanup
            .request(
                Element::new("BlockEntity-Request").with(
                    Element::new("GrantList")
                        .with(Element::new("RemoveList").with_text("UserID", uid("bob"))),
                ),
            )
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{r:?}");
        cleanup.logout().await.unwrap();
    }
}
