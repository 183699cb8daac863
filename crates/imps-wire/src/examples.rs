//! Hand-written example messages: at least one per CSP primitive the server
//! uses, shaped per version the way `csp-reference.md` describes real
//! clients and servers. The XML snapshot tests, the round-trip tests, the
//! codec benchmarks and other crates' tests all build on them.
//!
//! Not part of the stable API (hidden from the docs); always compiled
//! because the builders are small and a feature flag would have to be
//! enabled by every crate whose tests use them.

use crate::{Element, Message, Transaction, Version};

mod bench;
mod groups;
mod im;
mod presence;
mod session;
mod v13;

pub use bench::corpus as bench_corpus;

/// A list of named examples.
pub type Examples = Vec<(&'static str, Message)>;

/// A session ID as the server might issue it.
pub const SESSION_ID: &str = "196FE717.00000000.test1";
/// The logged-in user of the examples, and two contacts.
pub const ALICE: &str = "wv:alice@example.com";
pub const BOB: &str = "wv:bob@example.com";
pub const CAROL: &str = "wv:carol@example.com";
/// The Android client's default ClientID URL.
pub const CLIENT_URL: &str = "JiMMY";

/// Every example valid in `version`, named for its snapshot file. A name is
/// the primitive, plus a suffix when there is more than one shape.
pub fn all(version: Version) -> Examples {
    let mut out = Examples::new();
    session::add(version, &mut out);
    presence::add(version, &mut out);
    im::add(version, &mut out);
    groups::add(version, &mut out);
    v13::add(version, &mut out);
    // Builders do not check versions themselves; dropping what the version
    // does not define here keeps them short.
    out.retain(|(_, m)| {
        m.transactions
            .iter()
            .all(|t| t.kind().is_some_and(|k| k.since() <= version))
    });
    out
}

/// A client request inside a session.
pub fn request(v: Version, tid: &str, body: Element) -> Message {
    Message::single(v, Some(SESSION_ID.into()), Transaction::request(tid, body))
}

/// A response inside a session, to the transaction `tid`.
pub fn response(v: Version, tid: &str, body: Element) -> Message {
    Message::single(
        v,
        Some(SESSION_ID.into()),
        Transaction::response(Some(tid.into()), body),
    )
}

/// A request before login (Outband, no session).
pub fn outband_request(v: Version, tid: &str, body: Element) -> Message {
    Message::single(v, None, Transaction::request(tid, body))
}

/// A response before login (Outband, no session).
pub fn outband_response(v: Version, tid: &str, body: Element) -> Message {
    Message::single(v, None, Transaction::response(Some(tid.into()), body))
}

/// `Result{Code, Description?}`.
pub fn result(code: u16, description: Option<&str>) -> Element {
    Element::new("Result")
        .with_text("Code", code.to_string())
        .with_opt(description.map(|d| Element::text("Description", d)))
}

/// `User{UserID}`.
pub fn user(id: &str) -> Element {
    Element::new("User").with_text("UserID", id)
}

/// `ClientID{URL}`.
pub fn client_id() -> Element {
    Element::new("ClientID").with_text("URL", CLIENT_URL)
}

/// `ScreenName{SName, GroupID}`.
pub fn screen_name(sname: &str, group: &str) -> Element {
    Element::new("ScreenName")
        .with_text("SName", sname)
        .with_text("GroupID", group)
}

/// A presence attribute `Name{Qualifier T, PresenceValue}`.
pub fn attribute(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

/// Adds users to a presence request body in the version's shape.
pub fn add_users(v: Version, body: Element, ids: &[&str]) -> Element {
    if v >= Version::V1_3 {
        let wrapper = ids.iter().fold(Element::new("UserIDList"), |w, id| {
            w.with_text("UserID", *id)
        });
        body.with(wrapper)
    } else {
        ids.iter().fold(body, |b, id| b.with(user(id)))
    }
}

/// Adds contact lists in the version's shape: `ContactList*` up to 1.2,
/// `ContactListIDList` in 1.3.
pub fn add_lists(v: Version, body: Element, lists: &[&str]) -> Element {
    if v >= Version::V1_3 {
        let wrapper = lists
            .iter()
            .fold(Element::new("ContactListIDList"), |w, l| {
                w.with_text("ContactList", *l)
            });
        body.with(wrapper)
    } else {
        lists
            .iter()
            .fold(body, |b, l| b.with_text("ContactList", *l))
    }
}

/// Message text size as the Android client counts it (UTF-16 units).
pub fn content_size(text: &str) -> String {
    text.encode_utf16().count().to_string()
}
