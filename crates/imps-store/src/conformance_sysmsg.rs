//! The system-messages part of the conformance suite: what every backend
//! must do with system messages, their delivery rows and answers, terms
//! agreements and the functions a session's level of service withholds.
//! Test-support code: a failure panics saying which promise the backend
//! broke.
//!
//! Messages to everyone are due to every user, so each check uses its own
//! message-ID prefix and looks only at its own messages in listings; user
//! IDs are per check too.

use imps_core::store::{SysDelivery, SysMessageRecord, SysOption, TermsAgreement};
use imps_core::{SessionRecord, Store, StoreError};

/// Runs every system-message check against `store`.
pub async fn run_all(store: &dyn Store) {
    message_round_trip_keeps_options_in_order(store).await;
    listing_is_oldest_first(store).await;
    duplicate_id_conflicts_and_changes_nothing(store).await;
    named_users_due_sent_answered(store).await;
    everyone_due_sent_answered(store).await;
    due_mixes_named_and_everyone_oldest_first(store).await;
    not_addressed_or_unknown_is_false(store).await;
    terms_agreement_put_replace_get(store).await;
    session_withheld_round_trip(store).await;
}

/// The value of a store call, or a panic naming the call that failed.
fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn users(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn message(id: &str, created_ms: u64, requires_response: bool, everyone: bool) -> SysMessageRecord {
    SysMessageRecord {
        id: id.to_owned(),
        text: format!("{id}: Ünïcode ☺ <b>&amp;</b>"),
        options: Vec::new(),
        requires_response,
        everyone,
        origin: "operator".to_owned(),
        created_ms,
    }
}

fn option(id: u64, text: &str, action: Option<&str>) -> SysOption {
    SysOption {
        id,
        text: text.to_owned(),
        action: action.map(str::to_owned),
    }
}

fn unsent(id: &str, user: &str) -> SysDelivery {
    SysDelivery {
        message_id: id.to_owned(),
        user: user.to_owned(),
        sent_count: 0,
        last_sent_ms: None,
        answered_ms: None,
        chosen: None,
    }
}

async fn put(store: &dyn Store, m: &SysMessageRecord, to: &[&str]) {
    ok(
        store.put_sysmsg(m.clone(), &users(to)).await,
        &format!("put_sysmsg({})", m.id),
    );
}

/// The IDs of the messages due to `user` among those starting with
/// `prefix`, in the order the store gave them.
async fn due(store: &dyn Store, user: &str, prefix: &str) -> Vec<String> {
    ok(store.sysmsgs_due(user).await, "sysmsgs_due")
        .into_iter()
        .map(|m| m.id)
        .filter(|id| id.starts_with(prefix))
        .collect()
}

async fn sent(store: &dyn Store, id: &str, user: &str, now_ms: u64) -> bool {
    ok(
        store.mark_sysmsg_sent(id, user, now_ms).await,
        &format!("mark_sysmsg_sent({id}, {user})"),
    )
}

async fn answer(store: &dyn Store, id: &str, user: &str, chosen: Option<u64>, now: u64) -> bool {
    ok(
        store.answer_sysmsg(id, user, chosen, now).await,
        &format!("answer_sysmsg({id}, {user})"),
    )
}

async fn deliveries(store: &dyn Store, id: &str) -> Vec<SysDelivery> {
    ok(store.sysmsg_deliveries(id).await, "sysmsg_deliveries")
}

async fn message_round_trip_keeps_options_in_order(store: &dyn Store) {
    let mut m = message("sc-rt-1", 1_700_000_000_001, true, false);
    // Not in ID order: the order written is the order the client shows.
    m.options = vec![
        option(3, "Accept the full service", Some("level:full")),
        option(1, "Basic service only ☺", Some("withhold:GRP IM")),
        option(2, "Ask me later", None),
    ];
    m.origin = "added".to_owned();
    put(store, &m, &["sc-rt-alice"]).await;
    assert_eq!(
        ok(store.sysmsg("sc-rt-1").await, "sysmsg"),
        Some(m.clone()),
        "a message reads back as stored, options in their order, \
         actions None and Some kept"
    );
    assert!(
        ok(store.sysmsgs().await, "sysmsgs").contains(&m),
        "the listing holds the whole message, options included"
    );

    let plain = message("sc-rt-2", 1_700_000_000_002, false, true);
    put(store, &plain, &[]).await;
    assert_eq!(
        ok(store.sysmsg("sc-rt-2").await, "sysmsg"),
        Some(plain),
        "a message without options to everyone reads back as stored"
    );
    assert_eq!(
        ok(store.sysmsg("sc-rt-none").await, "sysmsg"),
        None,
        "unknown ID: no message"
    );
}

async fn listing_is_oldest_first(store: &dyn Store) {
    // Stored out of order; two share a creation time (then by ID).
    put(store, &message("sc-order-c", 300, false, false), &[]).await;
    put(store, &message("sc-order-b", 200, false, true), &[]).await;
    put(store, &message("sc-order-a", 300, false, false), &[]).await;
    put(store, &message("sc-order-d", 100, false, false), &[]).await;
    let ids: Vec<String> = ok(store.sysmsgs().await, "sysmsgs")
        .into_iter()
        .map(|m| m.id)
        .filter(|id| id.starts_with("sc-order-"))
        .collect();
    assert_eq!(
        ids,
        ["sc-order-d", "sc-order-b", "sc-order-a", "sc-order-c"],
        "sysmsgs: oldest first, then by ID"
    );
}

async fn duplicate_id_conflicts_and_changes_nothing(store: &dyn Store) {
    let mut first = message("sc-dup", 10, false, false);
    first.options = vec![option(1, "OK", None)];
    put(store, &first, &["sc-dup-alice"]).await;
    let mut second = message("sc-dup", 20, true, true);
    second.text = "replacement".to_owned();
    second.options = vec![option(9, "Other", Some("x"))];
    assert!(
        matches!(
            store
                .put_sysmsg(second, &users(&["sc-dup-bob", "sc-dup-alice"]))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a taken system message ID is a Conflict"
    );
    assert_eq!(
        ok(store.sysmsg("sc-dup").await, "sysmsg"),
        Some(first),
        "the refused put must not change the message or its options"
    );
    assert_eq!(
        deliveries(store, "sc-dup").await,
        [unsent("sc-dup", "sc-dup-alice")],
        "the refused put must not add delivery rows"
    );
}

async fn named_users_due_sent_answered(store: &dyn Store) {
    let p = "sc-named-";
    let info = message("sc-named-info", 1_000, false, false);
    let mut ask = message("sc-named-ask", 2_000, true, false);
    ask.options = vec![option(1, "Yes", Some("agree")), option(2, "No", None)];
    // A user named twice gets one row.
    put(store, &info, &["sc-n-alice", "sc-n-bob", "sc-n-alice"]).await;
    put(store, &ask, &["sc-n-alice"]).await;

    assert_eq!(
        deliveries(store, "sc-named-info").await,
        [
            unsent("sc-named-info", "sc-n-alice"),
            unsent("sc-named-info", "sc-n-bob")
        ],
        "one unsent row per named user, by user ID"
    );
    assert_eq!(
        due(store, "sc-n-alice", p).await,
        ["sc-named-info", "sc-named-ask"],
        "never-sent messages are due, oldest first"
    );
    assert_eq!(due(store, "sc-n-bob", p).await, ["sc-named-info"]);
    assert!(
        due(store, "sc-n-carol", p).await.is_empty(),
        "a message to named users is not due to others"
    );
    let whole = ok(store.sysmsgs_due("sc-n-bob").await, "sysmsgs_due");
    assert!(
        whole.contains(&info),
        "due messages come whole (text, options, flags)"
    );

    // Not requiring a response: due once, then not after it was sent.
    assert!(sent(store, "sc-named-info", "sc-n-alice", 1_100).await);
    assert_eq!(due(store, "sc-n-alice", p).await, ["sc-named-ask"]);
    assert_eq!(
        due(store, "sc-n-bob", p).await,
        ["sc-named-info"],
        "a send to one user does not count for another"
    );

    // Requiring a response: due after being sent, until answered.
    assert!(sent(store, "sc-named-ask", "sc-n-alice", 2_100).await);
    assert_eq!(
        due(store, "sc-n-alice", p).await,
        ["sc-named-ask"],
        "sent but unanswered, a message requiring a response stays due"
    );
    assert!(sent(store, "sc-named-ask", "sc-n-alice", 2_200).await);
    assert!(answer(store, "sc-named-ask", "sc-n-alice", Some(2), 2_300).await);
    assert!(
        due(store, "sc-n-alice", p).await.is_empty(),
        "answered, it is no longer due"
    );
    assert_eq!(
        deliveries(store, "sc-named-ask").await,
        [SysDelivery {
            message_id: "sc-named-ask".into(),
            user: "sc-n-alice".into(),
            sent_count: 2,
            last_sent_ms: Some(2_200),
            answered_ms: Some(2_300),
            chosen: Some(2),
        }],
        "sends counted, the last send's time, the answer and the option"
    );
    assert_eq!(
        ok(
            store.sysmsg_delivery("sc-named-ask", "sc-n-alice").await,
            "sysmsg_delivery"
        ),
        deliveries(store, "sc-named-ask").await.into_iter().next(),
        "one user's row alone"
    );
    assert_eq!(
        ok(
            store.sysmsg_delivery("sc-named-ask", "sc-n-bob").await,
            "sysmsg_delivery"
        ),
        None,
        "no row for a user the message was not addressed to"
    );

    // A later answer replaces the earlier one, option included.
    assert!(answer(store, "sc-named-ask", "sc-n-alice", None, 2_400).await);
    let row = deliveries(store, "sc-named-ask").await;
    assert_eq!(
        row.first().map(|d| (d.answered_ms, d.chosen, d.sent_count)),
        Some((Some(2_400), None, 2)),
        "the latest answer counts and leaves the send count alone"
    );

    assert_eq!(
        deliveries(store, "sc-named-info").await,
        [
            SysDelivery {
                sent_count: 1,
                last_sent_ms: Some(1_100),
                ..unsent("sc-named-info", "sc-n-alice")
            },
            unsent("sc-named-info", "sc-n-bob")
        ]
    );
    assert!(
        deliveries(store, "sc-named-none").await.is_empty(),
        "unknown message: no rows"
    );
}

async fn everyone_due_sent_answered(store: &dyn Store) {
    let p = "sc-all-";
    let note = message("sc-all-note", 5_000, false, true);
    let mut terms = message("sc-all-terms", 6_000, true, true);
    terms.options = vec![option(1, "I agree", Some("terms:v2"))];
    put(store, &note, &[]).await;
    put(store, &terms, &[]).await;
    assert!(
        deliveries(store, "sc-all-note").await.is_empty(),
        "a message to everyone has no rows until used"
    );
    for u in ["sc-e-alice", "sc-e-bob", "sc-e-never-seen"] {
        assert_eq!(
            due(store, u, p).await,
            ["sc-all-note", "sc-all-terms"],
            "messages to everyone are due to any user ({u})"
        );
    }

    // Sent: the row is created; not due any more to that user only.
    assert!(sent(store, "sc-all-note", "sc-e-alice", 5_100).await);
    assert_eq!(
        deliveries(store, "sc-all-note").await,
        [SysDelivery {
            sent_count: 1,
            last_sent_ms: Some(5_100),
            ..unsent("sc-all-note", "sc-e-alice")
        }],
        "a send of a message to everyone creates the user's row"
    );
    assert!(sent(store, "sc-all-note", "sc-e-alice", 5_200).await);
    assert_eq!(
        deliveries(store, "sc-all-note")
            .await
            .first()
            .map(|d| (d.sent_count, d.last_sent_ms)),
        Some((2, Some(5_200))),
        "a second send counts on the same row"
    );
    assert_eq!(due(store, "sc-e-alice", p).await, ["sc-all-terms"]);
    assert_eq!(
        due(store, "sc-e-bob", p).await,
        ["sc-all-note", "sc-all-terms"]
    );

    // Requiring a response: stays due after the send, until answered.
    assert!(sent(store, "sc-all-terms", "sc-e-alice", 6_100).await);
    assert_eq!(due(store, "sc-e-alice", p).await, ["sc-all-terms"]);
    assert!(answer(store, "sc-all-terms", "sc-e-alice", Some(1), 6_200).await);
    assert!(due(store, "sc-e-alice", p).await.is_empty());
    // Answered again, naming no option: the row now holds that answer.
    assert!(answer(store, "sc-all-terms", "sc-e-alice", None, 6_250).await);
    assert_eq!(
        deliveries(store, "sc-all-terms").await,
        [SysDelivery {
            sent_count: 1,
            last_sent_ms: Some(6_100),
            answered_ms: Some(6_250),
            chosen: None,
            ..unsent("sc-all-terms", "sc-e-alice")
        }],
        "the latest answer counts for a message to everyone too"
    );

    // An answer before any send creates the row, unsent; answered, the
    // message is not due any more (the user has read it elsewhere).
    assert!(answer(store, "sc-all-note", "sc-e-bob", None, 6_300).await);
    assert_eq!(
        deliveries(store, "sc-all-note").await,
        [
            SysDelivery {
                sent_count: 2,
                last_sent_ms: Some(5_200),
                ..unsent("sc-all-note", "sc-e-alice")
            },
            SysDelivery {
                answered_ms: Some(6_300),
                ..unsent("sc-all-note", "sc-e-bob")
            }
        ]
    );
    assert_eq!(due(store, "sc-e-bob", p).await, ["sc-all-terms"]);
    assert_eq!(
        due(store, "sc-e-never-seen", p).await,
        ["sc-all-note", "sc-all-terms"],
        "other users' rows change nothing for a user without one"
    );
}

async fn due_mixes_named_and_everyone_oldest_first(store: &dyn Store) {
    let p = "sc-mix-";
    put(store, &message("sc-mix-3", 30, false, false), &["sc-m-u"]).await;
    put(store, &message("sc-mix-2", 20, false, true), &[]).await;
    put(store, &message("sc-mix-1", 10, true, false), &["sc-m-u"]).await;
    // Same creation time as sc-mix-2: by ID.
    put(store, &message("sc-mix-0", 20, false, false), &["sc-m-u"]).await;
    // To everyone and also named: one entry, not two.
    put(store, &message("sc-mix-4", 40, false, true), &["sc-m-u"]).await;
    assert_eq!(
        due(store, "sc-m-u", p).await,
        ["sc-mix-1", "sc-mix-0", "sc-mix-2", "sc-mix-3", "sc-mix-4"],
        "named and everyone messages together, by creation time then ID"
    );
    assert!(sent(store, "sc-mix-4", "sc-m-u", 50).await);
    assert!(sent(store, "sc-mix-0", "sc-m-u", 50).await);
    assert_eq!(
        due(store, "sc-m-u", p).await,
        ["sc-mix-1", "sc-mix-2", "sc-mix-3"]
    );
}

async fn not_addressed_or_unknown_is_false(store: &dyn Store) {
    let p = "sc-na-";
    let mut m = message("sc-na-ask", 7_000, true, false);
    m.options = vec![option(1, "Yes", None)];
    put(store, &m, &["sc-na-alice"]).await;
    let before = deliveries(store, "sc-na-ask").await;

    assert!(
        !answer(store, "sc-na-ask", "sc-na-mallory", Some(1), 7_100).await,
        "answering a message not addressed to the user is false"
    );
    assert!(
        !sent(store, "sc-na-ask", "sc-na-mallory", 7_100).await,
        "marking a message not addressed to the user is false"
    );
    assert_eq!(
        deliveries(store, "sc-na-ask").await,
        before,
        "and changes no row, nor creates one"
    );
    assert!(due(store, "sc-na-mallory", p).await.is_empty());
    assert_eq!(due(store, "sc-na-alice", p).await, ["sc-na-ask"]);

    assert!(
        !sent(store, "sc-na-unknown", "sc-na-alice", 7_200).await,
        "unknown message: mark_sysmsg_sent is false"
    );
    assert!(
        !answer(store, "sc-na-unknown", "sc-na-alice", None, 7_200).await,
        "unknown message: answer_sysmsg is false"
    );
    assert!(
        deliveries(store, "sc-na-unknown").await.is_empty(),
        "and creates no row"
    );
}

async fn terms_agreement_put_replace_get(store: &dyn Store) {
    assert_eq!(
        ok(store.terms_agreement("sc-t-alice").await, "terms_agreement"),
        None,
        "no agreement until one is put"
    );
    let v1 = TermsAgreement {
        version: "2026-01 ☺".into(),
        option: 1,
        agreed_ms: 1_700_000_000_000,
    };
    ok(
        store.put_terms_agreement("sc-t-alice", v1.clone()).await,
        "put_terms_agreement",
    );
    assert_eq!(
        ok(store.terms_agreement("sc-t-alice").await, "terms_agreement"),
        Some(v1.clone())
    );
    let v2 = TermsAgreement {
        version: "2026-06".into(),
        option: 3,
        agreed_ms: 1_700_000_500_000,
    };
    ok(
        store.put_terms_agreement("sc-t-alice", v2.clone()).await,
        "put_terms_agreement",
    );
    assert_eq!(
        ok(store.terms_agreement("sc-t-alice").await, "terms_agreement"),
        Some(v2),
        "a second put replaces the agreement"
    );
    ok(
        store.put_terms_agreement("sc-t-bob", v1.clone()).await,
        "put_terms_agreement",
    );
    assert_eq!(
        ok(store.terms_agreement("sc-t-bob").await, "terms_agreement"),
        Some(v1),
        "agreements are per user"
    );
    assert_eq!(
        ok(store.terms_agreement("sc-t-carol").await, "terms_agreement"),
        None
    );
}

fn session(id: &str, withheld: &[&str]) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        user_id: "sc-s-alice".to_owned(),
        client_id: "wv:sc-s-alice-phone".to_owned(),
        version: "1.3".to_owned(),
        cookie: "cookie".to_owned(),
        ttl_secs: 1_800,
        created_ms: 1_700_000_000_456,
        delivery_method: None,
        bare_ids: false,
        android_engine: false,
        withheld: users(withheld),
        cir_target: None,
        node: None,
    }
}

async fn stored_session(store: &dyn Store, id: &str) -> Option<SessionRecord> {
    ok(store.sessions().await, "sessions")
        .into_iter()
        .find(|s| s.id == id)
}

async fn session_withheld_round_trip(store: &dyn Store) {
    let full = session("sc-sess-full", &[]);
    let some = session("sc-sess-some", &["GRP", "IM", "ContactListFunc", "SRCH"]);
    for s in [&full, &some] {
        ok(store.put_session(s.clone()).await, "put_session");
    }
    assert_eq!(
        stored_session(store, "sc-sess-full").await,
        Some(full),
        "no functions withheld: full service"
    );
    assert_eq!(
        stored_session(store, "sc-sess-some").await,
        Some(some),
        "withheld functions read back in their order"
    );
    let one = session("sc-sess-some", &["IM"]);
    ok(store.put_session(one.clone()).await, "put_session");
    assert_eq!(
        stored_session(store, "sc-sess-some").await,
        Some(one),
        "re-putting a session replaces its withheld functions"
    );
    let none = session("sc-sess-some", &[]);
    ok(store.put_session(none.clone()).await, "put_session");
    assert_eq!(
        stored_session(store, "sc-sess-some").await,
        Some(none),
        "and can give full service back"
    );
}
