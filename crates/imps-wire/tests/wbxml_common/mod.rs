//! Shared by the `wbxml_*` integration tests: realistic CSP messages built
//! with the crate's `Message` model, and readers for the token tables.

#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

use imps_wire::{Element, Message, Transaction, Version};

pub const SID: &str = "196FE717.00000000.test1";
pub const ALICE: &str = "wv:alice@example.com";
pub const BOB: &str = "wv:bob@example.com";

fn qualified(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

fn result(code: &str, description: Option<&str>) -> Element {
    let mut r = Element::new("Result").with_text("Code", code);
    if let Some(d) = description {
        r = r.with_text("Description", d);
    }
    r
}

fn user(id: &str) -> Element {
    Element::new("User").with_text("UserID", id)
}

/// Named messages of `v`, covering the envelope, integers, dates, value
/// tokens, every code page the examples touch, and unicode text.
pub fn documents(v: Version) -> Vec<(&'static str, Message)> {
    let login_req = Element::new("Login-Request")
        .with_text("UserID", ALICE)
        .with(Element::new("ClientID").with_text("URL", "JiMMY"))
        .with_text("Password", "s3cret & <stuff>")
        .with_text("TimeToLive", "86400")
        .with_text("SessionCookie", "wv:imps-cookie-42");
    let login = Message::single(v, None, Transaction::request("1", login_req));

    let login_resp = Element::new("Login-Response")
        .with_text("UserID", ALICE)
        .with(result("200", Some("Successful")))
        .with_text("SessionID", SID)
        .with_text("KeepAliveTime", "600")
        .with_text("CapabilityRequest", "T");
    let login_response =
        Message::single(v, None, Transaction::response(Some("1".into()), login_resp));

    let presence = Element::new("Presence").with(user(BOB)).with(
        Element::new("PresenceSubList")
            .with(qualified("OnlineStatus", "T"))
            .with(qualified("UserAvailability", "AVAILABLE"))
            .with(
                Element::new("ClientInfo")
                    .with_text("Qualifier", "T")
                    .with_text("ClientType", "MOBILE_PHONE"),
            )
            .with(
                Element::new("CommCap").with_text("Qualifier", "T").with(
                    Element::new("CommC")
                        .with_text("Cap", "IM")
                        .with_text("Status", "Open"),
                ),
            )
            .with(qualified("StatusText", "Grüße aus Köln 😀 — 日本語")),
    );
    let mut notify = Message::single(
        v,
        Some(SID.into()),
        Transaction::request(
            "srv-7",
            Element::new("PresenceNotification-Request").with(presence),
        ),
    );
    notify.poll = Some(true);

    let send = Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", "5")
                .with(Element::new("Recipient").with(user(BOB)))
                .with(Element::new("Sender").with(user(ALICE)))
                .with_text("DateTime", "20010925T165859Z"),
        )
        .with_text("ContentData", "hello");
    let send_message = Message::single(v, Some(SID.into()), Transaction::request("12", send));

    let mut lists = Element::new("GetList-Response")
        .with(result("200", None))
        .with_text("ContactList", "wv:alice/friends@example.com")
        .with_text("ContactList", "wv:alice/work@example.com");
    if v != Version::V1_1 {
        lists = lists.with_text("DefaultContactList", "wv:alice/friends@example.com");
    }
    let get_list = Message::single(
        v,
        Some(SID.into()),
        Transaction::response(Some("13".into()), lists),
    );

    let new_message = Element::new("NewMessage")
        .with_text("MessageID", "m-0001")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", "12")
                .with(Element::new("Sender").with(user(BOB)))
                .with_text("DeliveryTime", "20240101T000000Z"),
        )
        .with_text("ContentData", "  spaced\n\ttext  ");
    let mut new_msg = Message::single(
        v,
        Some(SID.into()),
        Transaction::request("srv-8", new_message),
    );
    if v != Version::V1_1 {
        new_msg.cir = Some(false); // CIR is a 1.2+ flag
    }

    // A function tree, with the attribute-list functions 1.3 dropped.
    let feats = Element::new("PresenceFeat").with(
        Element::new("AttListFunc")
            .with(Element::new("CALI"))
            .with(Element::new("DALI"))
            .with(Element::new("GALS")),
    );
    let service = Element::new("Service-Response")
        .with(Element::new("ClientID").with_text("URL", "JiMMY"))
        .with(Element::new("Functions").with(Element::new("WVCSPFeat").with(feats)))
        .with_text("AllFunctionsRequest", "F");
    let service_response = Message::single(
        v,
        Some(SID.into()),
        Transaction::response(Some("3".into()), service),
    );

    let search = Element::new("Search-Request")
        .with(
            Element::new("SearchPairList")
                .with_text("SearchElement", "USER_ID")
                .with_text("SearchString", "bob"),
        )
        .with_text("SearchLimit", "50");
    let search_req = Message::single(v, Some(SID.into()), Transaction::request("14", search));

    let status = Message::single(
        v,
        Some(SID.into()),
        Transaction::response(
            Some("15".into()),
            Element::new("Status").with(result("201", Some("Partially successful"))),
        ),
    );

    let polling = Message::single(
        v,
        Some(SID.into()),
        Transaction {
            id: None,
            ..Transaction::request("", Element::new("Polling-Request"))
        },
    );

    vec![
        ("Login-Request", login),
        ("Login-Response", login_response),
        ("PresenceNotification-Request", notify),
        ("SendMessage-Request", send_message),
        ("GetList-Response", get_list),
        ("NewMessage", new_msg),
        ("Service-Response", service_response),
        ("Search-Request", search_req),
        ("Status-201", status),
        ("Polling-Request", polling),
    ]
}

/// Path of a file in the crate's `tables/` directory.
pub fn table_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tables")
        .join(file)
}

/// Data rows of a table file, split on tabs.
pub fn table_rows(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(table_path(file)).expect("table file readable");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The third column (name / value string) of a table file.
pub fn table_names(file: &str) -> Vec<String> {
    table_rows(file).into_iter().map(|r| r[2].clone()).collect()
}
