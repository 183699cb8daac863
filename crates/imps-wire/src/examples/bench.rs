//! The benchmark corpus: four documents of the sizes a busy server sees.

use super::im::send_message;
use super::presence::presence;
use super::{BOB, Examples, request, response, result};
use crate::{Element, Version};

/// A Login-Request, a PresenceNotification-Request with 50 contacts, a
/// SendMessage-Request with 1 KB of text, and a ListManage-Response with
/// 500 contacts.
pub fn corpus(v: Version) -> Examples {
    let mut out = Examples::new();
    let login = super::all(v)
        .into_iter()
        .find(|(name, _)| *name == "Login-Request")
        .map(|(_, m)| m);
    if let Some(login) = login {
        out.push(("login", login));
    }

    let availability = ["AVAILABLE", "NOT_AVAILABLE", "DISCREET"];
    let note = (0..50).fold(Element::new("PresenceNotification-Request"), |n, i| {
        n.with(presence(
            &format!("wv:contact{i:03}@example.com"),
            i % 3 != 0,
            availability[i % 3],
            &format!("Status text of contact {i}: busy & <away>"),
        ))
    });
    out.push(("presence-50", request(v, "s100", note)));

    // 1 KB of mixed ASCII and non-ASCII text with a few escapes.
    let mut text = String::with_capacity(1100);
    while text.len() < 1024 {
        text.push_str("Lorem ipsum <dolor> sit amet & consectetur, grüße 👋. ");
    }
    out.push(("message-1k", send_message(v, "101", BOB, &text)));

    let nicks = (0..500).fold(Element::new("NickList"), |l, i| {
        l.with(
            Element::new("NickName")
                .with_text("Name", format!("Contact {i}"))
                .with_text("UserID", format!("wv:contact{i:03}@example.com")),
        )
    });
    let props = Element::new("ContactListProperties").with(
        Element::new("Property")
            .with_text("Name", "DisplayName")
            .with_text("Value", "Friends"),
    );
    let list = Element::new("ListManage-Response")
        .with(result(200, None))
        .with(nicks)
        .with(props);
    out.push(("list-500", response(v, "102", list)));
    out
}
