//! Issue 13: the Android IMPS engine's exact request shapes, replayed.
//!
//! Each test drives the server the way the engine (AOSP
//! `packages/apps/IM`, `com.android.im.imps`) does it, with the XML its
//! serializer writes (see `android_common`), in CSP 1.1, 1.2 and 1.3, XML
//! and WBXML, for a client without a default domain (`wv:alice`) and one
//! with it (`wv:alice@localhost`), and reads the answers the way the
//! engine reads them.
//!
//! The contract these tests hold the server to, beyond what the engine
//! needs not to stop:
//! * IDs: a session that logged in without `@domain` gets every
//!   home-domain ID (UserID, GroupID, ContactList, ...) back without it; a
//!   session that logged in with the domain gets it with the domain. The
//!   client compares IDs as strings (after lower-casing, adding `wv:` and
//!   its own default domain), so anything else is a stranger to it.
//! * Joined users: `UserMapList{Mapping*}` for this client in every
//!   version (in 1.3 possibly inside `Joined`), since the engine reads
//!   each child of `UserMapList` as a Mapping.
#![allow(clippy::unwrap_used)]

use crate::android_common;

use android_common::*;
use imps_testkit::TestServer;
use imps_wire::Version;

/// The login sequence of a new session: the 4-way digest login (MD5 and
/// SHA offered, no password in the first leg, the second leg under the
/// same TransactionID), ClientCapability with Android's CapabilityList
/// (AcceptedContentLength also in 1.3), Service-Request with the four
/// empty features, GetPresence for itself, and the ClientInfo update.
/// Then the same client logs out and in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iop_android_login_sequence() {
    let srv = TestServer::start().await;
    replay(
        &srv,
        "iop_android_login_sequence",
        &["alice"],
        |ctx| async move {
            let label = ctx.label();
            let mut a = ctx.android("alice");
            let r = a.login().await;

            // The session's own ID, where the server states it.
            if let Some(id) = r.login.child_text("UserID") {
                ctx.same_id("Login-Response UserID", Some(id), &a.address);
            }
            if let Some(k) = r.login.child_text("KeepAliveTime") {
                assert!(
                    k.parse::<u64>().is_ok_and(|k| k > 5),
                    "[{label}] KeepAliveTime {k:?}"
                );
            }

            // The agreed CIR methods are among those offered.
            let agreed = &r.capability.children[0];
            for m in agreed.children_named("SupportedCIRMethod") {
                assert!(
                    ["STCP", "SSMS", "SHTTP"].contains(&m.text.trim()),
                    "[{label}] agreed a CIR method not offered: {agreed:?}"
                );
            }

            // The four features the engine asked for are in the service tree.
            for f in ["FundamentalFeat", "PresenceFeat", "IMFeat", "GroupFeat"] {
                assert!(
                    r.service.path(&["AllFunctions", "WVCSPFeat", f]).is_some(),
                    "[{label}] AllFunctions lacks {f}: {}",
                    x(&r.service)
                );
            }

            // Its own presence, under its own ID as it wrote it.
            let presence = r.own_presence.child("Presence").expect("checked at login");
            ctx.same_id(
                "GetPresence-Response Presence/UserID (own presence)",
                presence.child_text("UserID"),
                &a.address,
            );
            assert!(
                r.updated_client_info,
                "[{label}] a new user cannot have Android's ClientInfo yet"
            );

            // Out and in again: a new session, TransactionIDs going on.
            a.logout().await;
            a.login().await;
            a.logout().await;
        },
    )
    .await;
}

/// After login, the engine loads the lists: GetBlockedList, GetList,
/// then per list ListManage (ReceiveList T) and SubscribePresence
/// (AutoSubscribe T where the version has it). Alice's list was made in
/// an earlier session with CreateList the way the engine writes it
/// (`NickName{Name, User{UserID}}`), Carol added with ListManage
/// (ReceiveList before AddNickList), and Bob authorized her when asked.
/// Bob's status changes; each PresenceNotification must say he is online
/// and name him exactly as Alice's client stored him.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iop_android_list_loading_and_presence() {
    let srv = TestServer::start().await;
    replay(
        &srv,
        "iop_android_list_loading_and_presence",
        &["alice", "bob", "carol"],
        |ctx| async move {
            let label = ctx.label();
            let v = ctx.version();
            let mut bob = ctx.android("bob");
            let mut alice = ctx.android("alice");
            let bob_addr = ctx.addr(&bob.user);
            let alice_addr = ctx.addr(&alice.user);
            let list_id = ctx.res_addr(&alice.user, "Friends");
            let carol = ctx.user("carol");
            let carol_addr = ctx.addr(&carol);

            bob.login().await;
            let u = bob.update_presence(Some("here"));
            bob.request_status("Bob's first status", &u).await;

            // Session 1: load (nothing yet), then make the list.
            alice.login().await;
            let lists = load_list_ids(&mut alice).await;
            assert!(
                lists.is_empty(),
                "[{label}] a new user has lists: {lists:?}"
            );
            let create = e(
                "CreateList-Request",
                &[
                    t("ContactList", &list_id),
                    e(
                        "NickList",
                        &[e("NickName", &[t("Name", &bob.user), user(&bob_addr)])],
                    ),
                    e(
                        "ContactListProperties",
                        &[property("DisplayName", "Friends"), property("Default", "T")],
                    ),
                ],
            );
            let resp = alice.request(&create).await;
            let name = if v == Version::V1_3 {
                "CreateList-Response"
            } else {
                "Status"
            };
            alice.expect_ok("CreateList", &resp, name);
            if let Some(l) = resp.child_text("ContactList") {
                ctx.same_id("CreateList-Response ContactList", Some(l), &list_id);
            }
            // On success the engine subscribes to the new list.
            let sub = subscribe_list(v, &list_id);
            alice
                .request_status("SubscribePresence (new list)", &sub)
                .await;
            // Then Carol is added (buildListManageRequest): ReceiveList F
            // second, before AddNickList{NickName{Name, UserID}}.
            let add = e(
                "ListManage-Request",
                &[
                    t("ContactList", &list_id),
                    t("ReceiveList", "F"),
                    e(
                        "AddNickList",
                        &[e(
                            "NickName",
                            &[t("Name", &carol), t("UserID", &carol_addr)],
                        )],
                    ),
                ],
            );
            let resp = alice.request(&add).await;
            alice.expect_ok("ListManage (add Carol)", &resp, "ListManage-Response");
            // A second, not default, list: 1.3 would wrap it in
            // ContactListIDList, where the engine does not look.
            let work_id = ctx.res_addr(&alice.user, "Work");
            let create_work = e(
                "CreateList-Request",
                &[
                    t("ContactList", &work_id),
                    e(
                        "ContactListProperties",
                        &[property("DisplayName", "Work"), property("Default", "F")],
                    ),
                ],
            );
            let resp = alice.request(&create_work).await;
            alice.expect_ok("CreateList (Work)", &resp, name);

            // Bob is asked and accepts with PresenceAuth-User, echoing the
            // ID (approveSubscriptionRequest). The engine listens only for
            // PresenceAuth-Request, in 1.3 too (1.3's own question,
            // Notification-Request ANU, would never reach Bob).
            let (tid, q) = bob
                .wait_for("PresenceAuth-Request", |b| b.name == "PresenceAuth-Request")
                .await;
            bob.answer_status(&tid).await;
            let watcher = q
                .child_text("UserID")
                .or_else(|| q.path(&["UserIDList", "UserID"]).map(|u| u.text.trim()))
                .unwrap_or_else(|| panic!("[{label}] who asks? {}", x(&q)))
                .to_string();
            ctx.same_id(
                &format!("{} UserID (to Bob)", q.name),
                Some(&watcher),
                &alice_addr,
            );
            let accept = e(
                "PresenceAuth-User",
                &[t("UserID", &watcher), t("Acceptance", "T")],
            );
            bob.request_status("PresenceAuth-User", &accept).await;
            alice.logout().await;

            // Session 2: the engine's list loading.
            alice.login().await;
            let lists = load_list_ids(&mut alice).await;
            assert!(
                lists.iter().any(|l| l.eq_ignore_ascii_case(&list_id)
                    || ctx.normalize(l) == ctx.normalize(&list_id)),
                "[{label}] GetList does not show the list the client made ({list_id}): {lists:?}"
            );
            assert!(
                lists
                    .iter()
                    .any(|l| ctx.normalize(l) == ctx.normalize(&work_id)),
                "[{label}] GetList hides the second list ({work_id}) from the engine: {lists:?}"
            );
            for l in &lists {
                let made = if ctx.normalize(l) == ctx.normalize(&work_id) {
                    &work_id
                } else {
                    &list_id
                };
                ctx.same_id("GetList-Response list ID", Some(l), made);
            }
            let mut stored: Vec<String> = Vec::new();
            for l in &lists {
                let lm = e(
                    "ListManage-Request",
                    &[t("ContactList", l), t("ReceiveList", "T")],
                );
                let resp = alice.request(&lm).await;
                alice.expect_ok("ListManage (load)", &resp, "ListManage-Response");
                stored.extend(nick_list_ids(&label, &resp));
                let sub = subscribe_list(v, l);
                alice.request_status("SubscribePresence (load)", &sub).await;
            }
            // Bob, whatever form of his ID the server chose (the form is
            // checked next).
            let Some(bob_stored) = stored.iter().find(|id| same_user(id, &bob.user)) else {
                panic!("[{label}] ListManage-Response does not list Bob ({bob_addr}): {stored:?}");
            };
            ctx.same_id(
                "ListManage-Response NickName/UserID (Bob)",
                Some(bob_stored),
                &bob_addr,
            );
            match stored.iter().find(|id| same_user(id, &carol)) {
                Some(id) => ctx.same_id(
                    "ListManage-Response NickName/UserID (Carol)",
                    Some(id),
                    &carol_addr,
                ),
                None => panic!("[{label}] ListManage-Response does not list Carol: {stored:?}"),
            }
            alice.drain().await;

            // Bob changes his status text; the engine always sends
            // OnlineStatus and UserAvailability along, unchanged.
            let u = bob.update_presence(Some("lunch"));
            bob.request_status("Bob's status text", &u).await;
            check_notification(&ctx, &mut alice, &bob_addr, "lunch").await;

            // The same change from a client that sends only what changed:
            // Alice's engine still reads one notification as all it knows.
            let only_text = e(
                "UpdatePresence-Request",
                &[e_ns(
                    "PresenceSubList",
                    Some(bob.pa_ns()),
                    &[attr("StatusText", "meeting")],
                )],
            );
            bob.request_status("Bob's status text alone", &only_text)
                .await;
            check_notification(&ctx, &mut alice, &bob_addr, "meeting").await;

            alice.logout().await;
            bob.logout().await;
        },
    )
    .await;
}

/// Whether a wire UserID names `user` (any case, with or without `wv:`
/// and a domain).
fn same_user(id: &str, user: &str) -> bool {
    let id = id.to_lowercase();
    let id = id.strip_prefix("wv:").unwrap_or(&id);
    id.split('@').next() == Some(user)
}

/// `SubscribePresence-Request` for a list as the engine writes it:
/// `ContactList` directly (also in 1.3), then AutoSubscribe T in the
/// version that has it (1.2; 1.1 has no such element and 1.3 dropped it).
fn subscribe_list(v: Version, list: &str) -> String {
    let mut c = vec![t("ContactList", list)];
    if v == Version::V1_2 {
        c.push(t("AutoSubscribe", "T"));
    }
    e("SubscribePresence-Request", &c)
}

/// GetBlockedList then GetList, as `loadContactListsAsync` does; the list
/// IDs the engine takes from the answer: direct `ContactList` children
/// and `DefaultContactList` (PEP lists skipped).
async fn load_list_ids(a: &mut Android) -> Vec<String> {
    let blocked = a.request(&e("GetBlockedList-Request", &[])).await;
    if code_text(&blocked) != Some("501") {
        a.expect_ok("GetBlockedList", &blocked, "GetBlockedList-Response");
    }
    let got = a.request(&e("GetList-Request", &[])).await;
    a.expect_ok("GetList", &got, "GetList-Response");
    let mut ids: Vec<String> = got
        .children_named("ContactList")
        .map(|c| c.text.trim().to_string())
        .filter(|id| !id.contains("/~pep1.0_"))
        .collect();
    if let Some(d) = got.child_text("DefaultContactList") {
        ids.push(d.to_string());
    }
    for id in &ids {
        // ImpsContactListAddress throws without a resource part.
        assert!(
            id.contains('/'),
            "[{}] list ID without a name part (the engine throws): {got:?}",
            a.ctx.label()
        );
    }
    ids
}

/// The member IDs of a ListManage-Response as `extractContactList` reads
/// them: `NickName{UserID, Name}` (both dereferenced unchecked) or bare
/// `UserID`; every list Property needs a Name.
fn nick_list_ids(label: &str, resp: &imps_wire::Element) -> Vec<String> {
    if let Some(props) = resp.child("ContactListProperties") {
        for p in props.children_named("Property") {
            assert!(
                p.child("Name").is_some(),
                "[{label}] Property without Name (the engine crashes): {resp:?}"
            );
        }
    }
    let Some(nicks) = resp.child("NickList") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in &nicks.children {
        match n.name.as_str() {
            "NickName" => {
                assert!(
                    n.child("UserID").is_some() && n.child("Name").is_some(),
                    "[{label}] NickName needs UserID and Name (the engine crashes): {resp:?}"
                );
                out.push(n.child_text("UserID").expect("checked above").to_string());
            }
            "UserID" => out.push(n.text.trim().to_string()),
            _ => {}
        }
    }
    out
}

/// Waits for Alice's PresenceNotification carrying Bob's new status text,
/// answers it as the engine does, and checks what the engine makes of it.
async fn check_notification(ctx: &Ctx, alice: &mut Android, bob_addr: &str, text: &str) {
    let has_text = |p: &imps_wire::Element| {
        p.child("PresenceSubList")
            .is_some_and(|l| presence_value(l, "StatusText") == Some(text))
    };
    let (tid, n) = alice
        .wait_for(&format!("the notification of {text:?}"), |b| {
            b.name == "PresenceNotification-Request" && b.children_named("Presence").any(has_text)
        })
        .await;
    alice.answer_status(&tid).await;
    let p = n
        .children_named("Presence")
        .find(|p| has_text(p))
        .expect("waited for it");
    let list = p.child("PresenceSubList").expect("has_text read it");
    ctx.same_id(
        &format!("PresenceNotification Presence/UserID (Bob, {text:?})"),
        p.child_text("UserID"),
        bob_addr,
    );
    if !is_online(list) {
        ctx.fail(format!(
            "PresenceNotification after {text:?}: Bob reads as offline (OnlineStatus): {}",
            x(p)
        ));
    }
    if !qualified(list, "UserAvailability") {
        ctx.fail(format!(
            "PresenceNotification after {text:?}: no qualified UserAvailability: {}",
            x(p)
        ));
    }
}

/// Alice writes to Bob; Bob polls for it (no CIR needed), acknowledges
/// with MessageDelivered and answers to whom the message said it came
/// from; Alice gets the reply. Each Sender must be string-equal to the
/// address the reader's client uses for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iop_android_chat() {
    let srv = TestServer::start().await;
    replay(
        &srv,
        "iop_android_chat",
        &["alice", "bob"],
        |ctx| async move {
            let label = ctx.label();
            let mut alice = ctx.android("alice");
            let mut bob = ctx.android("bob");
            alice.login().await;
            bob.login().await;
            let bob_addr = ctx.addr(&bob.user);
            let alice_addr = ctx.addr(&alice.user);

            let text = "Hi Bob <3 & 'cheers'";
            let id = alice.send(&user(&bob_addr), text).await;
            assert!(
                !id.is_empty(),
                "[{label}] SendMessage-Response without MessageID"
            );

            let (tid, m) = bob
                .wait_for("Alice's message", |b| b.name == "NewMessage")
                .await;
            let from = read_new_message(&ctx, &m, text, &bob.address);
            ctx.same_id(
                "NewMessage Sender UserID (Alice, to Bob)",
                Some(&from),
                &alice_addr,
            );
            bob.answer(&tid, &m).await; // MessageDelivered, Response mode

            // The engine's chat session is with the address the message came
            // from: the reply goes there.
            bob.send(&user(&from), "Hi Alice").await;
            let (tid, m) = alice
                .wait_for("Bob's reply", |b| b.name == "NewMessage")
                .await;
            let from = read_new_message(&ctx, &m, "Hi Alice", &alice.address);
            ctx.same_id(
                "NewMessage Sender UserID (Bob, to Alice)",
                Some(&from),
                &bob_addr,
            );
            alice.answer(&tid, &m).await;

            // Acknowledged messages are not delivered again.
            for c in [&mut alice, &mut bob] {
                let rest = c.drain().await;
                assert!(
                    rest.iter().all(|b| b.name != "NewMessage"),
                    "[{label}] {}: delivered again after MessageDelivered: {rest:?}",
                    c.user
                );
            }
            alice.logout().await;
            bob.logout().await;
        },
    )
    .await;
}

/// What `extractMessage` takes from a one-to-one NewMessage: the sender's
/// UserID (returned), the body, and Recipient, which must be the reader
/// itself (otherwise the engine files the message under a group).
fn read_new_message(ctx: &Ctx, m: &imps_wire::Element, text: &str, me: &str) -> String {
    let label = ctx.label();
    let info = m
        .child("MessageInfo")
        .unwrap_or_else(|| panic!("[{label}] NewMessage without MessageInfo: {}", x(m)));
    assert!(
        info.child_text("MessageID").is_some_and(|i| !i.is_empty()),
        "[{label}] NewMessage without MessageID: {}",
        x(m)
    );
    assert_eq!(
        m.child_text("ContentData"),
        Some(text),
        "[{label}] {}",
        x(m)
    );
    let sender = info
        .child("Sender")
        .and_then(|s| s.children.first())
        .unwrap_or_else(|| panic!("[{label}] NewMessage without Sender/*: {}", x(m)));
    assert_eq!(sender.name, "User", "[{label}] {}", x(m));
    let from = sender
        .child_text("UserID")
        .unwrap_or_else(|| panic!("[{label}] Sender/User without UserID: {}", x(m)))
        .to_string();
    // A missing Recipient means "me" to the engine.
    if let Some(to) = info.child("Recipient").and_then(|r| r.children.first()) {
        if to.name == "User" {
            ctx.same_id(
                "NewMessage Recipient UserID (the reader)",
                to.child_text("UserID"),
                me,
            );
        } else {
            ctx.fail(format!(
                "NewMessage Recipient/* is not the reader \
                 (the engine takes it for a group message): {}",
                x(to)
            ));
        }
    }
    from
}

/// Alice creates `wv:alice/room` as the engine does (Accesstype spelling,
/// JoinGroup T, ScreenName, SubscribeNotification T); Bob joins with
/// JoinedRequest T. Bob's JoinGroup-Response and Alice's GroupChangeNotice
/// are read the engine's way (every child of `UserMapList` is a Mapping;
/// in the notice, the children of Joined's first child), and the GroupID
/// in the notice and in a group message must be the one Alice created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iop_android_groups() {
    let srv = TestServer::start().await;
    replay(
        &srv,
        "iop_android_groups",
        &["alice", "bob"],
        |ctx| async move {
            let label = ctx.label();
            let v = ctx.version();
            let mut alice = ctx.android("alice");
            let mut bob = ctx.android("bob");
            alice.login().await;
            bob.login().await;
            let group = ctx.res_addr(&alice.user, "Room");

            let create = e(
                "CreateGroup-Request",
                &[
                    t("GroupID", &group),
                    e(
                        "GroupProperties",
                        &[
                            property("Name", "Room"),
                            property("Accesstype", "Open"),
                            property("PrivateMessaging", "F"),
                            property("Searchable", "F"),
                            property("AutoDelete", "T"),
                        ],
                    ),
                    t("JoinGroup", "T"),
                    e(
                        "ScreenName",
                        &[t("SName", &alice.user), t("GroupID", &group)],
                    ),
                    t("SubscribeNotification", "T"),
                ],
            );
            alice.request_status("CreateGroup", &create).await;

            let join = e(
                "JoinGroup-Request",
                &[
                    t("GroupID", &group),
                    e("ScreenName", &[t("SName", &bob.user), t("GroupID", &group)]),
                    t("JoinedRequest", "T"),
                    t("SubscribeNotification", "T"),
                ],
            );
            let resp = bob.request(&join).await;
            bob.expect_ok("JoinGroup", &resp, "JoinGroup-Response");
            // joinChatGroupAsync: response.getElement(UserMapList); in 1.3 the
            // list may sit in Joined.
            let list = resp.child("UserMapList").or_else(|| {
                (v == Version::V1_3)
                    .then(|| resp.path(&["Joined", "UserMapList"]))
                    .flatten()
            });
            match list.map(android_mappings) {
                None => ctx.fail(format!(
                    "JoinGroup-Response has no UserMapList where the engine looks: {}",
                    x(&resp)
                )),
                Some(Err(why)) => ctx.fail(format!("JoinGroup-Response: {why}")),
                Some(Ok(members)) => {
                    check_members(&ctx, "JoinGroup-Response", &members, &alice.user);
                }
            }

            // handleGroupChange: GroupID, and the children of Joined's first
            // child taken as mappings.
            let bob_user = bob.user.clone();
            let (tid, n) = alice
                .wait_for("the GroupChangeNotice of Bob's join", |b| {
                    b.name == "GroupChangeNotice"
                        && b.child("Joined").is_some_and(|j| mentions(j, &bob_user))
                })
                .await;
            alice.answer_status(&tid).await;
            ctx.same_id("GroupChangeNotice GroupID", n.child_text("GroupID"), &group);
            let joined = n.child("Joined").expect("waited for it");
            match joined.children.first().map(android_mappings) {
                None => ctx.fail(format!("GroupChangeNotice: Joined is empty: {}", x(&n))),
                Some(Err(why)) => ctx.fail(format!("GroupChangeNotice Joined: {why}")),
                Some(Ok(members)) => {
                    check_members(&ctx, "GroupChangeNotice Joined", &members, &bob.user);
                }
            }

            // A message to the group, as the engine addresses it.
            let to_group = e("Group", &[t("GroupID", &group)]);
            bob.send(&to_group, "hello room").await;
            let (tid, m) = alice
                .wait_for("Bob's group message", |b| b.name == "NewMessage")
                .await;
            assert_eq!(
                m.child_text("ContentData"),
                Some("hello room"),
                "[{label}] {}",
                x(&m)
            );
            let info = m
                .child("MessageInfo")
                .unwrap_or_else(|| panic!("[{label}] NewMessage without MessageInfo: {}", x(&m)));
            match info.child("Recipient").and_then(|r| r.children.first()) {
                Some(g) if g.name == "Group" => {
                    let id = g
                        .child_text("GroupID")
                        .or_else(|| g.path(&["ScreenName", "GroupID"]).map(|x| x.text.trim()));
                    ctx.same_id("NewMessage Recipient GroupID", id, &group);
                }
                other => ctx.fail(format!(
                    "group NewMessage: Recipient/* is not the Group \
                 (the engine files it as a private message): {}",
                    other.map(x).unwrap_or_default()
                )),
            }
            if let Some(s) = info.child("Sender").and_then(|s| s.children.first()) {
                if s.name == "Group" {
                    let id = s
                        .child_text("GroupID")
                        .or_else(|| s.path(&["ScreenName", "GroupID"]).map(|x| x.text.trim()));
                    ctx.same_id("NewMessage Sender GroupID", id, &group);
                } else {
                    ctx.same_id(
                        "NewMessage Sender UserID",
                        s.child_text("UserID"),
                        &ctx.addr(&bob.user),
                    );
                }
            }
            alice.answer(&tid, &m).await;

            alice.logout().await;
            bob.logout().await;
        },
    )
    .await;
}

/// The mappings read from a joined list must name `sname` (the user that
/// is expected among them); a UserID, when shown, in the client's form.
/// Every screen name here is its user's user part.
fn check_members(ctx: &Ctx, what: &str, members: &[(String, Option<String>)], sname: &str) {
    if !members.iter().any(|(s, _)| s == sname) {
        ctx.fail(format!(
            "{what}: {sname} is not among the mappings {members:?}"
        ));
    }
    for (s, id) in members {
        if let Some(id) = id {
            let want = ctx.addr(s);
            ctx.same_id(&format!("{what} Mapping UserID of {s}"), Some(id), &want);
        }
    }
}
