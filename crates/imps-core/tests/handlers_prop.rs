//! Property test of every handler: random primitives, well-formed or not,
//! sent with and without a live session, never panic and every answer
//! that is not empty carries a Result with a numeric Code (a Result
//! without a Code crashes real clients).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::sync::Arc;

use std::sync::LazyLock;

use imps_core::{AccountStore, CoreConfig, FakeClock, MemStore, NewUser, RequestCtx, Service};
use imps_wire::{Element, Message, PrimitiveKind, Transaction, TransactionMode, Version};
use proptest::prelude::*;

/// Child names that handlers look for, so random trees hit real paths.
const NAMES: &[&str] = &[
    "UserID",
    "ClientID",
    "URL",
    "MSISDN",
    "Password",
    "DigestBytes",
    "DigestSchema",
    "TimeToLive",
    "SessionCookie",
    "CapabilityList",
    "SupportedCIRMethod",
    "ParserSize",
    "Functions",
    "WVCSPFeat",
    "FundamentalFeat",
    "PresenceFeat",
    "ContactList",
    "NickList",
    "NickName",
    "Name",
    "User",
    "PresenceSubList",
    "OnlineStatus",
    "Qualifier",
    "PresenceValue",
    "MessageInfo",
    "Recipient",
    "Sender",
    "ContentType",
    "ContentSize",
    "ContentData",
    "MessageID",
    "GroupID",
    "AddNickList",
    "RemoveNickList",
    "BlockList",
    "GrantList",
    "AddList",
    "RemoveList",
    "InUse",
    "UserIDList",
    "ContactListIDList",
    "DefaultList",
    "Property",
    "Value",
    "SegmentID",
    "SegmentReference",
];

fn leaf_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("T".to_string()),
        Just("F".to_string()),
        Just("wv:alice@localhost".to_string()),
        Just("wv:alice/friends@localhost".to_string()),
        "[0-9]{1,12}",
        ".{0,40}",
    ]
}

fn tree(depth: u32) -> BoxedStrategy<Element> {
    let leaf = (prop::sample::select(NAMES), leaf_text()).prop_map(|(n, t)| Element::text(n, t));
    leaf.prop_recursive(depth, 64, 6, |inner| {
        (
            prop::sample::select(NAMES),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(n, kids)| {
                let mut e = Element::new(n);
                e.children = kids;
                e
            })
    })
    .boxed()
}

fn primitive() -> impl Strategy<Value = Element> {
    (
        prop::sample::select(PrimitiveKind::ALL),
        prop::collection::vec(tree(4), 0..6),
    )
        .prop_map(|(k, kids)| {
            let mut e = Element::new(k.name());
            e.children = kids;
            e
        })
}

fn has_code(e: &Element) -> bool {
    fn find(e: &Element) -> Option<&Element> {
        if e.name == "Result" {
            return Some(e);
        }
        e.children.iter().find_map(find)
    }
    match find(e) {
        Some(r) => r.child_u64("Code").is_some(),
        // Some answers carry no Result (GetSPInfo-Response, a poll's
        // server request); they are fine.
        None => true,
    }
}

async fn service() -> (Arc<Service>, String) {
    let store = Arc::new(MemStore::default());
    // Argon2 is slow on purpose: hash once for all cases, and log in by
    // MSISDN so no case pays for a password check.
    static HASH: LazyLock<String> = LazyLock::new(|| imps_core::auth::hash_password("pw").unwrap());
    let hash = HASH.clone();
    store
        .create_user(NewUser {
            id: "alice".into(),
            password_hash: Some(hash),
            digest_secret: None,
            msisdn: Some("+358401234567".into()),
            friendly_name: None,
            created_ms: 0,
        })
        .await
        .unwrap();
    let svc = Arc::new(Service::new(
        CoreConfig::default(),
        store,
        Arc::new(FakeClock::new(1)),
    ));
    let login = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(Element::new("ClientID").with_text("URL", "prop"));
    let ctx = RequestCtx {
        peer: None,
        msisdn: Some("+358401234567".into()),
        send_order: None,
    };
    let m = svc
        .handle(
            &ctx,
            Message::single(Version::V1_3, None, Transaction::request("1", login)),
        )
        .await
        .unwrap();
    let sid = m.transactions[0]
        .body
        .child_text("SessionID")
        .unwrap()
        .to_string();
    (svc, sid)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    #[test]
    fn handlers_never_panic_and_always_answer_with_a_code(
        body in primitive(),
        with_session in any::<bool>(),
        response_mode in prop::bool::weighted(0.1),
        v in prop::sample::select(Version::ALL.to_vec()),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (svc, sid) = service().await;
            let mut tx = Transaction::request("9", body.clone());
            if response_mode {
                tx.mode = TransactionMode::Response;
            }
            let msg = Message::single(v, with_session.then(|| sid.clone()), tx);
            if let Some(reply) = svc.handle(&RequestCtx::default(), msg).await {
                for t in &reply.transactions {
                    prop_assert!(has_code(&t.body), "{} got {:?}", body.name, t.body);
                }
                // The reply must encode in both encodings.
                prop_assert!(imps_wire::encode(&reply, imps_wire::Encoding::Wbxml).is_ok());
                prop_assert!(!imps_wire::encode(&reply, imps_wire::Encoding::Xml).unwrap().is_empty());
            }
            Ok(())
        })?;
    }
}
