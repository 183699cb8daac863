//! Long lists in parts over the real protocol: GEN-1 (download), GEN-2
//! (upload), GEN-4 (WebSocket too), SEC-1, IOP-1, with the size a client
//! negotiated (CFG-1).

use crate::common;
use crate::lists_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Transaction, Version, WsClient};
use imps_core::FakeClock;
use imps_core::store::AccessChange;
use lists_common::*;

const LIMIT: u64 = 2048;
const LONG: usize = 5_000;

fn long_members() -> Vec<(String, Option<String>)> {
    (0..LONG)
        .map(|i| {
            (
                format!("user{i:04}"),
                (i % 3 == 0).then(|| format!("Friend number {i}")),
            )
        })
        .collect()
}

/// (Name, UserID) pairs a whole, unsplit reply for `long_members` has.
fn expected_nicks() -> Vec<(String, String)> {
    long_members()
        .into_iter()
        .map(|(u, n)| (n.unwrap_or_else(|| uid(&u)), uid(&u)))
        .collect()
}

async fn server_with_long_list() -> TestServer {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    seed_list(&srv, "alice", "big", &long_members()).await;
    srv
}

/// Reads a reply in parts and checks each part fits the limit.
async fn fetch_nicks<T: imps_client::Transport>(
    c: &imps_client::Client<T>,
    what: &str,
) -> (Vec<(String, String)>, usize) {
    let (bodies, sizes, token) = fetch_all(c, receive_request(&list_id("alice", "big"))).await;
    assert!(
        token.is_some(),
        "{what}: a 5,000-entry list must come in parts"
    );
    for (i, s) in sizes.iter().enumerate() {
        assert!(
            *s as u64 <= LIMIT,
            "{what}: part {} is {s} bytes, above {LIMIT}",
            i + 1
        );
    }
    for b in &bodies {
        assert_eq!(
            b.name, "ListManage-Response",
            "{what}: every part is the original primitive"
        );
    }
    assert_eq!(code_of(&bodies[0]), Some(200));
    let all: Vec<(String, String)> = bodies.iter().flat_map(nicks).collect();
    let largest = sizes.iter().max().copied().unwrap_or(0);
    eprintln!("{what}: {} parts, largest {largest} bytes", bodies.len());
    (all, bodies.len())
}

#[tokio::test]
async fn gen_1_long_contact_list_fetched_in_parts() {
    let srv = server_with_long_list().await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let c = login(&srv, Version::V1_3, e, "alice", "phone").await;
        c.service_request_all().await.unwrap();
        negotiate_size(&c, LIMIT).await;
        let (all, parts) = fetch_nicks(&c, &format!("{e:?}")).await;
        assert!(parts > 10, "{parts} parts");
        assert_eq!(
            all,
            expected_nicks(),
            "{e:?}: the parts join into the whole list, in order"
        );
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_1_long_block_and_grant_lists_fetched_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let blocked: Vec<String> = (0..3_000).map(|i| format!("spam{i:04}")).collect();
    let granted: Vec<String> = (0..1_000).map(|i| format!("ok{i:04}")).collect();
    let ok = store(&srv)
        .change_access(AccessChange {
            owner: "alice".into(),
            block_in_use: Some(true),
            grant_in_use: Some(false),
            block_add: blocked.clone(),
            grant_add: granted.clone(),
            max_entries: 10_000,
            ..AccessChange::default()
        })
        .await
        .unwrap();
    assert!(ok);
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    negotiate_size(&c, LIMIT).await;
    let (bodies, sizes, token) = fetch_all(&c, Element::new("GetBlockedList-Request")).await;
    assert!(token.is_some() && bodies.len() > 2);
    assert!(sizes.iter().all(|s| *s as u64 <= LIMIT), "{sizes:?}");
    let users = |which: &str| -> Vec<String> {
        bodies
            .iter()
            .filter_map(|b| b.path(&[which, "EntityList"]))
            .flat_map(|l| l.children_named("UserID").map(|u| u.text.clone()))
            .collect()
    };
    let want = |v: &[String]| -> Vec<String> { v.iter().map(|u| uid(u)).collect() };
    assert_eq!(users("BlockList"), want(&blocked));
    assert_eq!(users("GrantList"), want(&granted));
    for b in &bodies {
        assert_eq!(
            b.child_text("BlockListInUse"),
            Some("T"),
            "each part is a whole answer"
        );
    }
}

fn upload_part(
    list: &str,
    users: &[String],
    upload_id: &str,
    count: u64,
    k: u64,
) -> (Element, Element) {
    let members = users
        .iter()
        .map(|u| Element::text("UserID", uid(u)))
        .collect();
    let body = add_request(list, members, k == count);
    let info = Element::new("SegmentInfo")
        .with_text("SegmentCount", count.to_string())
        .with(
            Element::new("SegmentID")
                .with_text("TransactionID", upload_id)
                .with_text("SegmentReference", k.to_string()),
        );
    (body, info)
}

#[tokio::test]
async fn gen_2_contact_list_uploaded_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let users: Vec<String> = (0..300).map(|i| format!("pal{i:03}")).collect();
    seed_users(&srv, users.clone()).await;
    for (e, in_body) in [
        (Encoding::Xml, false),
        (Encoding::Wbxml, false),
        (Encoding::Xml, true),
    ] {
        let c = login(&srv, Version::V1_3, e, "alice", "phone").await;
        let list = list_id("alice", "uploaded");
        create_list(&c, &list, vec![], &[]).await;
        let chunks: Vec<&[String]> = users.chunks(100).collect();
        // Parts out of order: 2, 1, then 3 completes the upload.
        for (n, k) in [2u64, 1, 3].into_iter().enumerate() {
            let (mut body, info) = upload_part(&list, chunks[k as usize - 1], "up-1", 3, k);
            let descriptor = if in_body {
                body = body.with(info);
                None
            } else {
                Some(info)
            };
            let (tx, _): (Transaction, usize) = exchange(&c, body, descriptor).await;
            if n < 2 {
                assert_eq!(
                    code_of(&tx.body),
                    Some(202),
                    "{e:?} part {k}: {:?}",
                    tx.body
                );
                // Nothing is applied before the last part.
                assert!(members(&c, &list).await.is_empty(), "{e:?}: applied early");
            } else {
                assert_eq!(code_of(&tx.body), Some(200), "{e:?}: {:?}", tx.body);
            }
        }
        let got: Vec<String> = members(&c, &list)
            .await
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let want: Vec<String> = users.iter().map(|u| uid(u)).collect();
        assert_eq!(got, want, "{e:?}: all parts, in part order");
        // An abandoned upload is dropped and never applied.
        let (body, info) = upload_part(&list, &["ghost-never".to_string()], "up-2", 2, 1);
        let (tx, _) = exchange(&c, body, Some(info)).await;
        assert_eq!(code_of(&tx.body), Some(202));
        assert_eq!(
            code_of(&c.request(drop_segment("up-2")).await.unwrap()),
            Some(200)
        );
        let (body, info) = upload_part(&list, &[], "up-2", 2, 2);
        let (tx, _) = exchange(&c, body, Some(info)).await;
        assert_eq!(
            code_of(&tx.body),
            Some(202),
            "a new upload began: part 1 was dropped"
        );
        c.request(Element::new("DeleteList-Request").with_text("ContactList", &list))
            .await
            .unwrap();
        c.logout().await.unwrap();
    }
}

/// SegmentInfo of part `k` of `count` of upload `upload_id`.
fn upload_info(upload_id: &str, count: u64, k: u64) -> Element {
    Element::new("SegmentInfo")
        .with_text("SegmentCount", count.to_string())
        .with(
            Element::new("SegmentID")
                .with_text("TransactionID", upload_id)
                .with_text("SegmentReference", k.to_string()),
        )
}

/// A 1.3-form BlockEntity-Request adding `users` to the block list, with
/// BlockListInUse when `in_use` is given.
fn block_entity_13(users: &[String], in_use: Option<bool>) -> Element {
    let mut add = Element::new("AddList");
    for u in users {
        add = add.with_text("UserID", uid(u));
    }
    let mut req = Element::new("BlockEntity-Request").with(Element::new("BlockList").with(add));
    if let Some(b) = in_use {
        req = req.with_text("BlockListInUse", if b { "T" } else { "F" });
    }
    req
}

/// The whole GetBlockedList answer, fetched in parts when it is split:
/// (blocked, granted, BlockListInUse / InUse of the block list).
async fn blocked_list<T: imps_client::Transport>(
    c: &imps_client::Client<T>,
) -> (Vec<String>, Vec<String>, Option<String>) {
    let (bodies, _, _) = fetch_all(c, Element::new("GetBlockedList-Request")).await;
    let mut blocked = Vec::new();
    let mut granted = Vec::new();
    let mut in_use = None;
    for b in &bodies {
        assert_eq!(b.name, "GetBlockedList-Response", "{b:?}");
        blocked.extend(entity_users(b.child("BlockList")));
        granted.extend(entity_users(b.child("GrantList")));
        in_use = b
            .child_text("BlockListInUse")
            .or_else(|| b.path(&["BlockList", "InUse"]).map(|e| e.text.as_str()))
            .map(str::to_string);
    }
    (blocked, granted, in_use)
}

#[tokio::test]
async fn gen_2_block_and_grant_lists_uploaded_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let users: Vec<String> = (0..300).map(|i| format!("blk{i:03}")).collect();
    seed_users(&srv, users.clone()).await;
    let want: Vec<String> = users.iter().map(|u| uid(u)).collect();
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    negotiate_size(&c, LIMIT).await;
    let other = login(&srv, Version::V1_3, Encoding::Xml, "alice", "laptop").await;
    let chunks: Vec<&[String]> = users.chunks(100).collect();
    // The in-use flag, turned the other way from how it starts, rides on
    // part 3 only, which is sent first.
    let (_, _, start) = blocked_list(&c).await;
    let start = start.expect("BlockListInUse");
    let flip = start != "T";
    let flipped = if flip { "T" } else { "F" };
    let part = |k: u64| block_entity_13(chunks[k as usize - 1], (k == 3).then_some(flip));
    for k in [3u64, 1] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("blk-up", 3, k))).await;
        assert_eq!(tx.body.name, "Status", "{:?}", tx.body);
        assert_eq!(code_of(&tx.body), Some(202), "part {k}: {:?}", tx.body);
        let (blocked, _, in_use) = blocked_list(&c).await;
        assert!(
            blocked.is_empty(),
            "applied early: {} entries",
            blocked.len()
        );
        assert_eq!(in_use, Some(start.clone()), "flag applied early");
    }
    // The same upload ID from another session of the same user is another
    // upload: its part cannot complete this one.
    let (tx, _) = exchange(&other, part(2), Some(upload_info("blk-up", 3, 2))).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    assert!(
        blocked_list(&c).await.0.is_empty(),
        "completed from another session"
    );
    // Nor can a contact-list part under the same ID.
    let list = list_id("alice", "l");
    create_list(&c, &list, vec![], &[]).await;
    let (body, info) = upload_part(&list, &users[..1], "blk-up", 3, 2);
    let (tx, _) = exchange(&c, body, Some(info)).await;
    assert_eq!(code_of(&tx.body), Some(402), "{:?}", tx.body);
    assert!(blocked_list(&c).await.0.is_empty());
    // That refusal dropped the upload; send it again, in another order,
    // with the SegmentInfo in the body for one part.
    for k in [2u64, 3] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("blk-up", 3, k))).await;
        assert_eq!(code_of(&tx.body), Some(202), "part {k}: {:?}", tx.body);
    }
    assert!(blocked_list(&c).await.0.is_empty());
    let (tx, _) = exchange(&c, part(1).with(upload_info("blk-up", 3, 1)), None).await;
    assert_eq!(tx.body.name, "Status", "{:?}", tx.body);
    assert_eq!(code_of(&tx.body), Some(200), "{:?}", tx.body);
    let (blocked, granted, in_use) = blocked_list(&c).await;
    assert_eq!(blocked, want, "all parts, in part order");
    assert!(granted.is_empty());
    assert_eq!(
        in_use.as_deref(),
        Some(flipped),
        "the flag of part 3 was kept"
    );
    // The other session's lone part was never applied either.
    assert_eq!(blocked_list(&other).await.0.len(), 300);

    // 1.2 form: grant list in two parts (InUse in part 1 only), and a
    // RemoveList taking 100 off the block list in part 2.
    let old = login(&srv, Version::V1_2, Encoding::Xml, "alice", "old").await;
    let strs: Vec<&str> = users.iter().map(String::as_str).collect();
    let p1 = block_entity_12(true, &[], Some(true), &strs[..150]);
    let mut remove = Element::new("RemoveList");
    for u in &users[..100] {
        remove = remove.with_text("UserID", uid(u));
    }
    let mut grant2 = Element::new("AddList");
    for u in &users[150..] {
        grant2 = grant2.with_text("UserID", uid(u));
    }
    let p2 = Element::new("BlockEntity-Request")
        .with(Element::new("BlockList").with(remove))
        .with(Element::new("GrantList").with(grant2));
    let (tx, _) = exchange(&old, p2, Some(upload_info("g", 2, 2))).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    assert!(blocked_list(&old).await.1.is_empty(), "applied early");
    let (tx, _) = exchange(&old, p1, Some(upload_info("g", 2, 1))).await;
    assert_eq!(code_of(&tx.body), Some(200), "{:?}", tx.body);
    let (blocked, granted, in_use) = blocked_list(&old).await;
    assert_eq!(blocked, want[100..].to_vec());
    assert_eq!(granted, want);
    assert_eq!(in_use.as_deref(), Some("T"));
    let (_, _, _) = (c.logout().await, other.logout().await, old.logout().await);

    // The entry limit holds over the parts together: 754, nothing applied.
    let srv = TestServer::start_with(|cfg| cfg.lists.max_access_entries = 250).await;
    add_user(&srv, "alice", None, None).await;
    let c = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    for k in [1u64, 2] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("big", 3, k))).await;
        assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    }
    let (tx, _) = exchange(&c, part(3), Some(upload_info("big", 3, 3))).await;
    assert_eq!(code_of(&tx.body), Some(754), "{:?}", tx.body);
    assert!(blocked_list(&c).await.0.is_empty());
    // The refused upload is gone: its ID starts afresh.
    let (tx, _) = exchange(&c, part(1), Some(upload_info("big", 3, 1))).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
}

#[tokio::test]
async fn gen_2_upload_bounds() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let c = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let list = list_id("alice", "f");
    create_list(&c, &list, vec![], &[]).await;
    let too_many_parts = imps_core::LISTS_DEFAULTS.max_upload_parts + 1;
    let (body, info) = upload_part(&list, &[], "x", too_many_parts, 1);
    assert_eq!(
        code_of(&exchange(&c, body, Some(info)).await.0.body),
        Some(402)
    );
    let (body, info) = upload_part(&list, &[], "x", 3, 4);
    assert_eq!(
        code_of(&exchange(&c, body, Some(info)).await.0.body),
        Some(402),
        "reference out of range"
    );
    // Another user's list is refused at the first part.
    let (body, info) = upload_part(&list_id("bob", "f"), &[], "y", 2, 1);
    assert_eq!(
        code_of(&exchange(&c, body, Some(info)).await.0.body),
        Some(700)
    );
}

#[tokio::test]
async fn gen_4_parts_over_websocket_too() {
    let srv = server_with_long_list().await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let c = WsClient::connect(&srv.ws_url(), Version::V1_3, e)
            .await
            .unwrap();
        c.login_password("alice", PW).await.unwrap();
        negotiate_size(&c, LIMIT).await;
        let (all, _) = fetch_nicks(&c, &format!("WebSocket {e:?}")).await;
        assert_eq!(all, expected_nicks());
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn sec_1_other_sessions_cannot_read_or_drop_parts() {
    let srv = server_with_long_list().await;
    let a = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    negotiate_size(&a, LIMIT).await;
    let (tx, _) = exchange(&a, receive_request(&list_id("alice", "big")), None).await;
    let (token, count) = segment_key(&segment_info_of(&tx).expect("split"));
    assert!(count > 2);
    assert_eq!(
        token.len(),
        32,
        "a 128-bit random token, not the client's TransactionID"
    );

    // The same user on another client, and another user: 420 both ways.
    let other_client = login(&srv, Version::V1_3, Encoding::Xml, "alice", "laptop").await;
    let bob = login(&srv, Version::V1_3, Encoding::Wbxml, "bob", "phone").await;
    for intruder in [&other_client, &bob] {
        let r = intruder.request(get_segment(&token, 2)).await.unwrap();
        assert_eq!(code_of(&r), Some(420), "{r:?}");
        let r = intruder.request(drop_segment(&token)).await.unwrap();
        assert_eq!(code_of(&r), Some(420));
    }
    // The owner still reads them; a wrong reference is 402.
    assert_eq!(
        code_of(&a.request(get_segment(&token, 2)).await.unwrap()),
        Some(200)
    );
    assert_eq!(
        code_of(&a.request(get_segment(&token, count + 1)).await.unwrap()),
        Some(402)
    );
    assert_eq!(
        code_of(&a.request(get_segment(&token, 0)).await.unwrap()),
        Some(402)
    );
    // Dropped, they are gone.
    assert_eq!(
        code_of(&a.request(drop_segment(&token)).await.unwrap()),
        Some(200)
    );
    assert_eq!(
        code_of(&a.request(get_segment(&token, 2)).await.unwrap()),
        Some(420)
    );

    // Bounded per session: the oldest set goes when a new one comes.
    let max = imps_core::LISTS_DEFAULTS.max_segment_sets_per_session;
    let mut tokens = Vec::new();
    for _ in 0..=max {
        let (tx, _) = exchange(&a, receive_request(&list_id("alice", "big")), None).await;
        tokens.push(segment_key(&segment_info_of(&tx).unwrap()).0);
    }
    assert_eq!(
        code_of(&a.request(get_segment(&tokens[0], 1)).await.unwrap()),
        Some(420)
    );
    assert_eq!(
        code_of(&a.request(get_segment(&tokens[max], 1)).await.unwrap()),
        Some(200)
    );
}

#[tokio::test]
async fn sec_1_parts_expire() {
    let clock = FakeClock::new(1_700_000_000_000);
    let srv = TestServer::builder()
        .fake_clock(clock.clone())
        .start()
        .await;
    add_user(&srv, "alice", None, None).await;
    seed_list(&srv, "alice", "big", &long_members()).await;
    let a = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    negotiate_size(&a, LIMIT).await;
    let (tx, _) = exchange(&a, receive_request(&list_id("alice", "big")), None).await;
    let (token, _) = segment_key(&segment_info_of(&tx).unwrap());
    let ttl_ms = imps_core::LISTS_DEFAULTS.segment_ttl_secs * 1000;
    clock.advance_ms(ttl_ms - 1_000);
    assert_eq!(
        code_of(&a.request(get_segment(&token, 2)).await.unwrap()),
        Some(200)
    );
    clock.advance_ms(2_000);
    assert_eq!(
        code_of(&a.request(get_segment(&token, 2)).await.unwrap()),
        Some(420),
        "expired"
    );
    // An upload lives while its parts keep coming within the TTL; after a
    // longer pause its next part hears 420 (start again) rather than
    // quietly opening an upload that lacks the earlier parts.
    let users: Vec<String> = (0..6).map(|i| format!("pal{i}")).collect();
    seed_users(&srv, users.clone()).await;
    let list = list_id("alice", "up");
    create_list(&a, &list, vec![], &[]).await;
    let chunks: Vec<&[String]> = users.chunks(2).collect();
    let send = |id: &'static str, k: u64| {
        let (body, info) = upload_part(&list, chunks[k as usize - 1], id, 3, k);
        exchange(&a, body, Some(info))
    };
    let (tx, _) = send("slow", 1).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    clock.advance_ms(ttl_ms - 1_000);
    let (tx, _) = send("slow", 2).await;
    assert_eq!(code_of(&tx.body), Some(202), "alive while parts come");
    clock.advance_ms(ttl_ms + 1_000);
    let (tx, _) = send("slow", 3).await;
    assert_eq!(code_of(&tx.body), Some(420), "{:?}", tx.body);
    assert!(members(&a, &list).await.is_empty(), "nothing applied");
    for k in 1..=3 {
        let (tx, _) = send("again", k).await;
        let want = if k < 3 { 202 } else { 200 };
        assert_eq!(code_of(&tx.body), Some(want), "{:?}", tx.body);
    }
    assert_eq!(members(&a, &list).await.len(), 6);
}

#[tokio::test]
async fn iop_1_clients_that_cannot_ask_for_parts_get_the_whole_list() {
    let srv = server_with_long_list().await;
    // 1.2 (even one that states a small parser), and 1.3 without a size.
    for (v, e, size) in [
        (Version::V1_2, Encoding::Xml, Some(LIMIT)),
        (Version::V1_2, Encoding::Wbxml, None),
        (Version::V1_3, Encoding::Xml, None),
    ] {
        let c = login(&srv, v, e, "alice", "phone").await;
        if let Some(n) = size {
            negotiate_size(&c, n).await;
        }
        let (tx, _) = exchange(&c, receive_request(&list_id("alice", "big")), None).await;
        assert!(segment_info_of(&tx).is_none(), "{v} {e:?}: no parts");
        assert_eq!(
            nicks(&tx.body),
            expected_nicks(),
            "{v} {e:?}: the whole list in one reply"
        );
        c.logout().await.unwrap();
    }
    // A 1.3 client that did not agree SGMNT gets it whole as well.
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    let only_lists = Element::new("Service-Request")
        .with(
            Element::new("Functions").with(
                Element::new("WVCSPFeat")
                    .with(Element::new("PresenceFeat").with(Element::new("ContListFunc"))),
            ),
        )
        .with_text("AllFunctionsRequest", "F");
    c.request(only_lists).await.unwrap();
    negotiate_size(&c, LIMIT).await;
    let (tx, _) = exchange(&c, receive_request(&list_id("alice", "big")), None).await;
    assert!(segment_info_of(&tx).is_none());
    assert_eq!(nicks(&tx.body).len(), LONG);
}

/// A SendMessage-Request with a text/plain body from `from` to `to`.
fn text_message(from: &str, to: &str, text: &str) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.len().to_string())
                .with(
                    Element::new("Recipient")
                        .with(Element::new("User").with_text("UserID", uid(to))),
                )
                .with(
                    Element::new("Sender")
                        .with(Element::new("User").with_text("UserID", uid(from))),
                ),
        )
        .with_text("ContentData", text)
}

/// GEN-3: in a session that gets long lists in parts (2 KB negotiated), an
/// instant message is never cut: one that fits arrives whole in a single
/// NewMessage with no SegmentInfo, and one too big for the recipient is
/// refused to the sender with 402 instead of being split; nothing of it
/// reaches the recipient.
#[tokio::test]
async fn gen_3_instant_messages_are_never_split() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let many: Vec<(String, Option<String>)> =
        (0..200).map(|i| (format!("user{i:04}"), None)).collect();
    seed_list(&srv, "bob", "many", &many).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let alice = login(&srv, Version::V1_3, e, "alice", "desk").await;
        alice.service_request_all().await.unwrap();
        let bob = login(&srv, Version::V1_3, e, "bob", "phone").await;
        bob.service_request_all().await.unwrap();
        negotiate_size(&bob, LIMIT).await;
        // This session does get long replies in parts...
        let (_, _, token) = fetch_all(&bob, receive_request(&list_id("bob", "many"))).await;
        assert!(token.is_some(), "{e:?}: the 200-entry list comes in parts");
        // ...but a message near its limit comes whole, in one NewMessage.
        // Each round's text is its own, so a leftover cannot pass for it.
        let text: String = format!("{e:?}:")
            .chars()
            .chain(('a'..='z').cycle())
            .take(1000)
            .collect();
        let r = alice
            .request(text_message("alice", "bob", &text))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{e:?}: {r:?}");
        let m = bob.poll().await.unwrap().expect("the NewMessage");
        assert_eq!(m.transactions.len(), 1);
        let t = &m.transactions[0];
        assert_eq!(t.body.name, "NewMessage", "{e:?}: {:?}", t.body);
        assert!(
            t.segment_info.is_none(),
            "{e:?}: no SegmentInfo on a message"
        );
        assert!(t.body.child("SegmentInfo").is_none());
        assert_eq!(t.body.child_text("ContentData"), Some(text.as_str()));
        assert!(
            imps_wire::encode(&m, e).unwrap().len() as u64 <= LIMIT,
            "{e:?}: it fits bob's limit as one message"
        );
        let id = t
            .body
            .path(&["MessageInfo", "MessageID"])
            .unwrap()
            .text
            .clone();
        // Acknowledged as phones do: MessageDelivered in Response mode.
        let tid = t.id.clone().expect("a TransactionID");
        bob.answer(
            &tid,
            Element::new("MessageDelivered").with_text("MessageID", id),
        )
        .await
        .unwrap();
        // Too big for bob's 2 KB: refused, not split.
        let big: String = ('a'..='z').cycle().take(3 * LIMIT as usize).collect();
        let r = alice
            .request(text_message("alice", "bob", &big))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(402), "{e:?}: {r:?}");
        while let Some(m) = bob.poll().await.unwrap() {
            let t = &m.transactions[0];
            assert_ne!(t.body.name, "NewMessage", "{e:?}: nothing of it arrives");
            assert!(t.segment_info.is_none());
        }
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

/// CFG-1: each session's parts follow the size that session negotiated:
/// two 1.3 sessions of one user, one at 2 KB and one at 8 KB, read the
/// same 5,000-entry list; every message fits its own session's limit, the
/// larger limit needs fewer parts, and both join into the whole list.
#[tokio::test]
async fn cfg_1_parts_follow_each_sessions_own_negotiated_size() {
    let srv = server_with_long_list().await;
    let mut counts = Vec::new();
    for (client, limit) in [("phone", 2048u64), ("tablet", 8192u64)] {
        let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", client).await;
        c.service_request_all().await.unwrap();
        negotiate_size(&c, limit).await;
        let (bodies, sizes, token) = fetch_all(&c, receive_request(&list_id("alice", "big"))).await;
        assert!(token.is_some(), "{client}: in parts");
        assert!(
            sizes.iter().all(|s| *s as u64 <= limit),
            "{client}: {sizes:?} above {limit}"
        );
        let all: Vec<(String, String)> = bodies.iter().flat_map(nicks).collect();
        assert_eq!(all, expected_nicks(), "{client}");
        counts.push(bodies.len());
    }
    assert!(
        counts[1] * 3 < counts[0],
        "8 KB needs far fewer parts than 2 KB: {counts:?}"
    );
}

/// GEN-1 + GEN-2 with the numbers: a 2 KB client reads a
/// 5,000-entry list in parts, then uploads the same entries to a new list
/// in parts (every message it sends is at most 2 KB too), and reading the
/// new list back gives the same 5,000 entries.
#[tokio::test]
async fn gen_2_five_thousand_entries_fetched_then_uploaded_in_2k_parts() {
    let srv = server_with_long_list().await;
    seed_users(&srv, long_members().into_iter().map(|(u, _)| u)).await;
    let e = Encoding::Wbxml;
    let c = login(&srv, Version::V1_3, e, "alice", "phone").await;
    c.service_request_all().await.unwrap();
    negotiate_size(&c, LIMIT).await;
    let (fetched, _) = fetch_nicks(&c, "download").await;
    assert_eq!(fetched, expected_nicks());

    let copy = list_id("alice", "copy");
    create_list(&c, &copy, vec![], &[]).await;
    // Cut the entries into parts whose whole message fits 2 KB.
    let part_msg = |entries: &[(String, String)], k: u64, count: u64| {
        let mut add = Element::new("AddNickList");
        add.children = entries
            .iter()
            .map(|(n, u)| {
                Element::new("NickName")
                    .with_text("Name", n.clone())
                    .with_text("UserID", u.clone())
            })
            .collect();
        let body = Element::new("ListManage-Request")
            .with_text("ContactList", &copy)
            .with(add)
            .with_text("ReceiveList", "F");
        let info = Element::new("SegmentInfo")
            .with_text("SegmentCount", count.to_string())
            .with(
                Element::new("SegmentID")
                    .with_text("TransactionID", "copy-upload")
                    .with_text("SegmentReference", k.to_string()),
            );
        let mut tx = Transaction::request("65535", body);
        tx.segment_info = Some(info);
        tx
    };
    let mut parts: Vec<&[(String, String)]> = Vec::new();
    let mut start = 0;
    while start < fetched.len() {
        let mut end = start + 1;
        while end < fetched.len() {
            let m = c.message(part_msg(&fetched[start..=end], 999, 999));
            if imps_wire::encode(&m, e).unwrap().len() as u64 > LIMIT {
                break;
            }
            end += 1;
        }
        parts.push(&fetched[start..end]);
        start = end;
    }
    let count = parts.len() as u64;
    assert!(count > 100, "{count} parts");
    for (i, p) in parts.iter().enumerate() {
        let k = i as u64 + 1;
        let mut tx = part_msg(p, k, count);
        tx.id = Some(c.next_transaction_id());
        let m = c.message(tx);
        assert!(imps_wire::encode(&m, e).unwrap().len() as u64 <= LIMIT);
        let answer = c.send_raw(&m).await.unwrap().expect("an answer");
        let code = code_of(&answer.transactions[0].body);
        let want = if k < count { 202 } else { 200 };
        assert_eq!(code, Some(want), "part {k} of {count}");
    }
    eprintln!("upload: {count} parts");
    let (bodies, sizes, token) = fetch_all(&c, receive_request(&copy)).await;
    assert!(token.is_some());
    assert!(sizes.iter().all(|s| *s as u64 <= LIMIT));
    let back: Vec<(String, String)> = bodies.iter().flat_map(nicks).collect();
    assert_eq!(
        back, fetched,
        "the uploaded copy is the whole list, in order"
    );
    c.logout().await.unwrap();
}

/// A CreateAttributeList-Request granting `attrs`, naming `users` in the
/// 1.3 form (`UserIDList`) or, with `bare`, as 1.2 `UserID` children.
fn attribute_list_part(users: &[String], attrs: Option<&[&str]>, bare: bool) -> Element {
    let mut req = Element::new("CreateAttributeList-Request");
    if let Some(attrs) = attrs {
        let mut sub = Element::new("PresenceSubList");
        for a in attrs {
            sub = sub.with(Element::new(*a));
        }
        req = req.with(sub);
    }
    if bare {
        for u in users {
            req = req.with_text("UserID", uid(u));
        }
    } else {
        let mut l = Element::new("UserIDList");
        for u in users {
            l = l.with_text("UserID", uid(u));
        }
        req = req.with(l);
    }
    req
}

/// The whole attribute list (fetched in parts when split): each user's
/// and each contact list's attribute names, in answer order, and the
/// number of parts. Every part must fit in [`LIMIT`] when `limited`.
async fn attribute_lists<T: imps_client::Transport>(
    c: &imps_client::Client<T>,
    limited: bool,
) -> (
    Vec<(String, Vec<String>)>,
    Vec<(String, Vec<String>)>,
    usize,
) {
    let (bodies, sizes, _) = fetch_all(c, Element::new("GetAttributeList-Request")).await;
    assert!(
        !limited || sizes.iter().all(|s| *s as u64 <= LIMIT),
        "{sizes:?}"
    );
    let mut users = Vec::new();
    let mut lists = Vec::new();
    for b in &bodies {
        assert_eq!(b.name, "GetAttributeList-Response", "{b:?}");
        for p in b.children_named("Presence") {
            let attrs: Vec<String> = p
                .child("PresenceSubList")
                .map(|s| s.children.iter().map(|a| a.name.to_string()).collect())
                .unwrap_or_default();
            if let Some(u) = p.child_text("UserID") {
                users.push((u.to_string(), attrs));
            } else if let Some(l) = p.child_text("ContactList") {
                lists.push((l.to_string(), attrs));
            }
        }
    }
    (users, lists, bodies.len())
}

#[tokio::test]
async fn gen_2_attribute_list_uploaded_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let users: Vec<String> = (0..300).map(|i| format!("fan{i:03}")).collect();
    seed_users(&srv, users.clone()).await;
    let c = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    negotiate_size(&c, LIMIT).await;
    let other = login(&srv, Version::V1_3, Encoding::Xml, "alice", "laptop").await;
    let friends = list_id("alice", "friends");
    create_list(&c, &friends, vec![], &[]).await;
    let chunks: Vec<&[String]> = users.chunks(100).collect();
    let granted = ["OnlineStatus", "StatusText", "UserAvailability"];
    // The PresenceSubList rides on part 3 only, sent first; part 2 also
    // names a contact list.
    let part = |k: u64| {
        let mut p =
            attribute_list_part(chunks[k as usize - 1], (k == 3).then_some(&granted), false);
        if k == 2 {
            p = p.with(Element::new("ContactListIDList").with_text("ContactList", &friends));
        }
        p
    };
    for k in [3u64, 1] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("attr-up", 3, k))).await;
        assert_eq!(tx.body.name, "Status", "{:?}", tx.body);
        assert_eq!(code_of(&tx.body), Some(202), "part {k}: {:?}", tx.body);
        let (u, l, _) = attribute_lists(&c, true).await;
        assert!(u.is_empty() && l.is_empty(), "applied early: {u:?} {l:?}");
    }
    // Part 2 from another session of the same user, under the same ID, is
    // another upload and completes nothing.
    let (tx, _) = exchange(&other, part(2), Some(upload_info("attr-up", 3, 2))).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    assert!(
        attribute_lists(&c, true).await.0.is_empty(),
        "completed from another session"
    );
    // A part of another primitive under the same ID: 402, upload dropped.
    let (tx, _) = exchange(
        &c,
        block_entity_13(&users[..1], None),
        Some(upload_info("attr-up", 3, 2)),
    )
    .await;
    assert_eq!(code_of(&tx.body), Some(402), "{:?}", tx.body);
    assert!(attribute_lists(&c, true).await.0.is_empty());
    assert!(
        blocked_list(&c).await.0.is_empty(),
        "the stray part was not applied either"
    );
    // Sent again: 2 and 3 first, then 1 with its SegmentInfo in the body.
    for k in [2u64, 3] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("attr-up", 3, k))).await;
        assert_eq!(code_of(&tx.body), Some(202), "part {k}: {:?}", tx.body);
    }
    assert!(
        attribute_lists(&c, true).await.0.is_empty(),
        "dropped parts came back"
    );
    let (tx, _) = exchange(&c, part(1).with(upload_info("attr-up", 3, 1)), None).await;
    assert_eq!(tx.body.name, "Status", "{:?}", tx.body);
    assert_eq!(code_of(&tx.body), Some(200), "{:?}", tx.body);
    let (got, lists, parts) = attribute_lists(&c, true).await;
    assert!(parts > 1, "the 300-user list comes back in parts too");
    let mut want_attrs: Vec<String> = granted.iter().map(|a| a.to_string()).collect();
    want_attrs.sort();
    let mut ids: Vec<String> = got.iter().map(|(u, _)| u.clone()).collect();
    ids.sort();
    let want: Vec<String> = users.iter().map(|u| uid(u)).collect();
    assert_eq!(ids, want, "every user of every part, once");
    for (u, attrs) in &got {
        let mut a = attrs.clone();
        a.sort();
        assert_eq!(a, want_attrs, "{u}");
    }
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(lists[0].0.eq_ignore_ascii_case(&friends), "{lists:?}");
    // The other session's lone part was never applied: the same users
    // have the attributes of the completed upload only.
    assert_eq!(attribute_lists(&other, false).await.0, got);

    // 1.2 form: bare UserIDs in two parts; the PresenceSubList of part 2
    // replaces the lists of the first 100 users.
    let old = login(&srv, Version::V1_2, Encoding::Xml, "alice", "old").await;
    let p1 = attribute_list_part(&users[..50], None, true);
    let p2 = attribute_list_part(&users[50..100], Some(&["StatusText"]), true)
        .with_text("DefaultList", "F");
    let (tx, _) = exchange(&old, p2, Some(upload_info("old-up", 2, 2))).await;
    assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    let (tx, _) = exchange(&old, p1, Some(upload_info("old-up", 2, 1))).await;
    assert_eq!(code_of(&tx.body), Some(200), "{:?}", tx.body);
    let (got, _, _) = attribute_lists(&c, true).await;
    for (u, attrs) in &got {
        let n = users.iter().position(|x| uid(x) == *u).unwrap();
        if n < 100 {
            assert_eq!(attrs, &["StatusText".to_string()], "{u}");
        } else {
            assert_eq!(attrs.len(), 3, "{u}: untouched");
        }
    }
    let (_, _, _) = (c.logout().await, other.logout().await, old.logout().await);

    // The limit holds over the parts together: 754, nothing applied, the
    // upload gone.
    let srv = TestServer::start_with(|cfg| cfg.lists.max_access_entries = 250).await;
    add_user(&srv, "alice", None, None).await;
    seed_users(&srv, users.clone()).await;
    let c = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let part = |k: u64| attribute_list_part(chunks[k as usize - 1], Some(&granted), false);
    for k in [1u64, 2] {
        let (tx, _) = exchange(&c, part(k), Some(upload_info("big", 3, k))).await;
        assert_eq!(code_of(&tx.body), Some(202), "{:?}", tx.body);
    }
    let (tx, _) = exchange(&c, part(3), Some(upload_info("big", 3, 3))).await;
    assert_eq!(code_of(&tx.body), Some(754), "{:?}", tx.body);
    assert!(attribute_lists(&c, true).await.0.is_empty());
    let (tx, _) = exchange(&c, part(3), Some(upload_info("big", 3, 3))).await;
    assert_eq!(code_of(&tx.body), Some(202), "a new upload: {:?}", tx.body);
}
