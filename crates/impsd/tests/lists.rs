//! Contact lists over the real protocol (BASE-LIST, ALG-UC), in every
//! version and encoding, and the durability of lists, blocks and grants
//! across a restart. Block and grant lists: lists_block.rs; adding
//! contacts: lists_adc.rs; long lists in parts: lists_segments.rs.

use crate::common;
use crate::lists_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Version};
use lists_common::*;

#[tokio::test]
async fn base_list_create_get_and_delete() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    add_user(&srv, "carol", None, None).await;
    for (v, e) in common::combos() {
        let c = login(&srv, v, e, "alice", "phone").await;
        let friends = list_id("alice", "friends");
        let resp = create_list(
            &c,
            &friends,
            vec![nick(Some("Bobby"), "bob"), nick(None, "carol")],
            &[],
        )
        .await;
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        if v == Version::V1_3 {
            assert_eq!(resp.name, "CreateList-Response");
            assert_eq!(resp.child_text("ContactList"), Some(friends.as_str()));
            let props = resp.child("ContactListProperties").expect("properties");
            assert_eq!(prop(props, "DisplayName"), Some("friends"));
            assert_eq!(
                prop(props, "Default"),
                Some("T"),
                "the first list is the default"
            );
        } else {
            assert_eq!(resp.name, "Status");
        }
        let work = list_id("alice", "work");
        let resp = create_list(
            &c,
            &work,
            vec![],
            &[("DisplayName", "Work"), ("Default", "F")],
        )
        .await;
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");

        let (ids, default, raw) = get_lists(&c).await;
        assert_eq!(default.as_deref(), Some(friends.as_str()), "{v}: {raw:?}");
        match v {
            // 1.3 wraps the IDs; the default list is only DefaultContactList.
            Version::V1_3 => {
                assert!(raw.child("ContactListIDList").is_some(), "{raw:?}");
                assert!(raw.child("ContactList").is_none(), "{raw:?}");
                assert_eq!(ids, std::slice::from_ref(&work));
            }
            Version::V1_2 => assert_eq!(ids, std::slice::from_ref(&work), "{raw:?}"),
            _ => assert_eq!(
                ids,
                [friends.clone(), work.clone()],
                "1.1 lists the default too"
            ),
        }
        assert_eq!(
            members(&c, &friends).await,
            [
                ("Bobby".to_string(), uid("bob")),
                (uid("carol"), uid("carol")),
            ]
        );

        let del = |l: &str| Element::new("DeleteList-Request").with_text("ContactList", l);
        assert_eq!(code_of(&c.request(del(&work)).await.unwrap()), Some(200));
        assert_eq!(
            code_of(&c.request(del(&work)).await.unwrap()),
            Some(700),
            "{v}: gone"
        );
        assert_eq!(code_of(&c.request(del(&friends)).await.unwrap()), Some(200));
        let (ids, default, _) = get_lists(&c).await;
        assert!(ids.is_empty() && default.is_none(), "{v} {e:?}");
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_list_manage_nicknames_default_and_properties() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol", "dave"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in common::combos() {
        let c = login(&srv, v, e, "alice", "phone").await;
        let (a, b) = (list_id("alice", "a"), list_id("alice", "b"));
        create_list(&c, &a, vec![], &[]).await;
        create_list(&c, &b, vec![], &[]).await;
        // Both NickName shapes and a bare UserID are accepted.
        let members_in = vec![
            nick(Some("Bobby"), "bob"),
            Element::new("NickName")
                .with_text("Name", "Caz")
                .with(Element::new("User").with_text("UserID", uid("carol"))),
            Element::text("UserID", uid("dave")),
        ];
        let resp = c.request(add_request(&a, members_in, true)).await.unwrap();
        assert_eq!(resp.name, "ListManage-Response");
        assert_eq!(code_of(&resp), Some(200), "{v} {e:?}: {resp:?}");
        assert_eq!(
            nicks(&resp),
            [
                ("Bobby".to_string(), uid("bob")),
                ("Caz".to_string(), uid("carol")),
                (uid("dave"), uid("dave")),
            ]
        );
        let props = resp.child("ContactListProperties").expect("properties");
        assert_eq!(prop(props, "Default"), Some("T"));

        // Rename a nickname, remove one, ReceiveList F answers Result only.
        let rename = add_request(&a, vec![nick(Some("Bob B."), "bob")], false);
        let resp = c.request(rename).await.unwrap();
        assert_eq!(code_of(&resp), Some(200));
        assert!(resp.child("NickList").is_none(), "ReceiveList F: no list");
        let remove = Element::new("ListManage-Request")
            .with_text("ContactList", &a)
            .with(Element::new("RemoveNickList").with_text("UserID", uid("carol")))
            .with_text("ReceiveList", "T");
        let resp = c.request(remove).await.unwrap();
        assert_eq!(
            nicks(&resp),
            [
                ("Bob B.".to_string(), uid("bob")),
                (uid("dave"), uid("dave"))
            ]
        );

        // Properties: rename list b and make it the default.
        let props = Element::new("ContactListProperties")
            .with(
                Element::new("Property")
                    .with_text("Name", "DisplayName")
                    .with_text("Value", "Best"),
            )
            .with(
                Element::new("Property")
                    .with_text("Name", "Default")
                    .with_text("Value", "T"),
            );
        let req = Element::new("ListManage-Request")
            .with_text("ContactList", &b)
            .with(props)
            .with_text("ReceiveList", "T");
        let resp = c.request(req).await.unwrap();
        assert_eq!(code_of(&resp), Some(200), "{resp:?}");
        let p = resp.child("ContactListProperties").unwrap();
        assert_eq!(
            (prop(p, "DisplayName"), prop(p, "Default")),
            (Some("Best"), Some("T"))
        );
        let (_, default, _) = get_lists(&c).await;
        assert_eq!(default.as_deref(), Some(b.as_str()), "{v}");
        let resp = c.request(receive_request(&a)).await.unwrap();
        assert_eq!(
            prop(resp.child("ContactListProperties").unwrap(), "Default"),
            Some("F")
        );

        // IDs compare case-insensitively.
        let shouting = "WV:ALICE/A@LOCALHOST";
        assert_eq!(members(&c, shouting).await.len(), 2, "{v}");
        for l in [&a, &b] {
            c.request(Element::new("DeleteList-Request").with_text("ContactList", l.as_str()))
                .await
                .unwrap();
        }
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_list_error_codes() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in [
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
    ] {
        let c = login(&srv, v, e, "alice", "phone").await;
        let bob = login(&srv, v, e, "bob", "phone").await;
        let f = list_id("alice", "f");
        create_list(&c, &f, vec![], &[]).await;
        let code = |r: Element| code_of(&r);
        assert_eq!(
            code(create_list(&c, &f, vec![], &[]).await),
            Some(701),
            "{v}: exists"
        );
        assert_eq!(
            code(create_list(&c, "wv:alice/F@localhost", vec![], &[]).await),
            Some(701),
            "case"
        );
        assert_eq!(
            code(
                c.request(receive_request(&list_id("alice", "nope")))
                    .await
                    .unwrap()
            ),
            Some(700)
        );
        // Another user's list does not exist for bob, whatever he tries.
        assert_eq!(
            code(bob.request(receive_request(&f)).await.unwrap()),
            Some(700)
        );
        let del = Element::new("DeleteList-Request").with_text("ContactList", &f);
        assert_eq!(code(bob.request(del).await.unwrap()), Some(700));
        assert_eq!(
            code(create_list(&bob, &list_id("alice", "x"), vec![], &[]).await),
            Some(403)
        );
        // Bad properties.
        assert_eq!(
            code(create_list(&c, &list_id("alice", "p"), vec![], &[("Colour", "red")]).await),
            Some(752)
        );
        assert_eq!(
            code(create_list(&c, &list_id("alice", "p"), vec![], &[("Default", "maybe")]).await),
            Some(752)
        );
        // No resource part: not a list ID.
        assert_eq!(
            code(create_list(&c, "wv:alice@localhost", vec![], &[]).await),
            Some(402)
        );
        // Unknown user: reported per entry, the rest is added (201).
        let req = add_request(&f, vec![nick(None, "bob"), nick(None, "nobody")], true);
        let resp = c.request(req).await.unwrap();
        assert_eq!(code(resp.clone()), Some(201), "{resp:?}");
        let detail = resp
            .path(&["Result", "DetailedResult"])
            .expect("DetailedResult");
        assert_eq!(detail.child_text("Code"), Some("531"));
        assert_eq!(detail.child_text("UserID"), Some(uid("nobody").as_str()));
        assert_eq!(nicks(&resp).len(), 1);
        // Only unknown users: the request fails with 531.
        let resp = c
            .request(add_request(&f, vec![nick(None, "ghost")], false))
            .await
            .unwrap();
        assert_eq!(code(resp), Some(531));
        c.request(Element::new("DeleteList-Request").with_text("ContactList", &f))
            .await
            .unwrap();
        c.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_list_limits_753_and_754() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let limits = imps_core::LISTS_DEFAULTS;
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    for i in 0..limits.max_lists_per_user {
        let r = create_list(&c, &list_id("alice", &format!("l{i}")), vec![], &[]).await;
        assert_eq!(code_of(&r), Some(200));
    }
    let r = create_list(&c, &list_id("alice", "one-too-many"), vec![], &[]).await;
    assert_eq!(code_of(&r), Some(753), "{r:?}");

    // A full list (seeded through the store: that many users would take
    // minutes to create one by one) takes nobody more.
    let full: Vec<(String, Option<String>)> = (0..limits.max_contacts_per_list)
        .map(|i| (format!("u{i:05}"), None))
        .collect();
    seed_list(&srv, "carol", "full", &full).await;
    add_user(&srv, "carol", None, None).await;
    let carol = login(&srv, Version::V1_2, Encoding::Xml, "carol", "phone").await;
    let resp = carol
        .request(add_request(
            &list_id("carol", "full"),
            vec![nick(None, "bob")],
            false,
        ))
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(754), "{resp:?}");
}

#[tokio::test]
async fn alg_uc_lists_come_from_the_server_after_a_new_login() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    let phone = login(&srv, Version::V1_2, Encoding::Wbxml, "alice", "phone").await;
    let f = list_id("alice", "friends");
    create_list(&phone, &f, vec![nick(Some("B"), "bob")], &[]).await;
    phone
        .request(add_request(&f, vec![nick(Some("C"), "carol")], false))
        .await
        .unwrap();
    phone
        .request(block_entity_12(true, &["mallory"], None, &[]))
        .await
        .unwrap();
    phone.logout().await.unwrap();

    // Another client, another version: it knows nothing and gets all of
    // it from the server, which is the master copy.
    let laptop = login(&srv, Version::V1_3, Encoding::Xml, "alice", "laptop").await;
    assert_eq!(all_lists(&laptop).await, std::slice::from_ref(&f));
    assert_eq!(
        members(&laptop, &f).await,
        [
            ("B".to_string(), uid("bob")),
            ("C".to_string(), uid("carol"))
        ]
    );
    let got = laptop
        .request(Element::new("GetBlockedList-Request"))
        .await
        .unwrap();
    assert_eq!(entity_users(got.child("BlockList")), [uid("mallory")]);
    // A change made on the laptop is what the phone sees at its next login.
    let remove = Element::new("ListManage-Request")
        .with_text("ContactList", &f)
        .with(Element::new("RemoveNickList").with_text("UserID", uid("bob")))
        .with_text("ReceiveList", "F");
    laptop.request(remove).await.unwrap();
    let phone = login(&srv, Version::V1_2, Encoding::Wbxml, "alice", "phone").await;
    assert_eq!(members(&phone, &f).await, [("C".to_string(), uid("carol"))]);
}

#[tokio::test]
async fn base_list_lists_blocks_and_grants_survive_restart() {
    let mut srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    let f = list_id("alice", "Friends");
    create_list(
        &c,
        &f,
        vec![nick(Some("Bob"), "bob")],
        &[("DisplayName", "My friends")],
    )
    .await;
    create_list(
        &c,
        &list_id("alice", "work"),
        vec![nick(None, "carol")],
        &[("Default", "T")],
    )
    .await;
    let req = Element::new("BlockEntity-Request")
        .with_text("BlockListInUse", "T")
        .with_text("GrantListInUse", "T")
        .with(
            Element::new("BlockList")
                .with(Element::new("AddList").with_text("UserID", uid("mallory"))),
        )
        .with(
            Element::new("GrantList").with(Element::new("AddList").with_text("UserID", uid("bob"))),
        );
    assert_eq!(code_of(&c.request(req).await.unwrap()), Some(200));

    srv.stop().await;
    srv.running = Some(impsd::start(srv.cfg.clone()).await.unwrap());

    let c = login(&srv, Version::V1_2, Encoding::Xml, "alice", "phone2").await;
    let (ids, default, _) = get_lists(&c).await;
    assert_eq!(ids, std::slice::from_ref(&f), "IDs come back as written");
    assert_eq!(default.as_deref(), Some(list_id("alice", "work").as_str()));
    let resp = c.request(receive_request(&f)).await.unwrap();
    assert_eq!(nicks(&resp), [("Bob".to_string(), uid("bob"))]);
    assert_eq!(
        prop(resp.child("ContactListProperties").unwrap(), "DisplayName"),
        Some("My friends")
    );
    let got = c
        .request(Element::new("GetBlockedList-Request"))
        .await
        .unwrap();
    assert_eq!(entity_users(got.child("BlockList")), [uid("mallory")]);
    assert_eq!(entity_users(got.child("GrantList")), [uid("bob")]);
    assert_eq!(
        got.path(&["GrantList", "InUse"]).map(|e| e.text.as_str()),
        Some("T")
    );
}
