//! Presence, contact-list and block-list examples.

use super::{
    ALICE, BOB, CAROL, Examples, add_lists, add_users, attribute, request, response, result,
};
use crate::{Element, Version};

/// Alice's default list, in the form Android creates.
pub const FRIENDS: &str = "wv:alice/friends@example.com";
pub const WORK: &str = "wv:alice/work@example.com";

/// A `PresenceSubList` naming attributes as empty elements, as requests do.
/// The codec adds the PA namespace on encode.
fn wanted_attributes() -> Element {
    Element::new("PresenceSubList")
        .with(Element::new("OnlineStatus"))
        .with(Element::new("UserAvailability"))
        .with(Element::new("StatusText"))
}

/// A user's presence as the server reports it.
pub fn presence(id: &str, online: bool, availability: &str, status: &str) -> Element {
    let sub = Element::new("PresenceSubList")
        .with(attribute("OnlineStatus", if online { "T" } else { "F" }))
        .with(attribute("UserAvailability", availability))
        .with(attribute("StatusText", status));
    Element::new("Presence").with_text("UserID", id).with(sub)
}

pub(super) fn add(v: Version, out: &mut Examples) {
    // Android asks for its own presence right after login.
    let get = add_users(v, Element::new("GetPresence-Request"), &[ALICE]).with(wanted_attributes());
    out.push(("GetPresence-Request", request(v, "11", get)));
    let client_info = Element::new("ClientInfo")
        .with_text("Qualifier", "T")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("ClientProducer", "MOKIA")
        .with_text("ClientVersion", "0.1");
    let own = Element::new("PresenceSubList")
        .with(attribute("OnlineStatus", "T"))
        .with(attribute("UserAvailability", "AVAILABLE"))
        .with(client_info);
    let got = Element::new("GetPresence-Response")
        .with(result(200, None))
        .with(
            Element::new("Presence")
                .with_text("UserID", ALICE)
                .with(own),
        );
    out.push(("GetPresence-Response", response(v, "11", got)));

    // StatusText with characters that need escaping, and an empty one is
    // allowed too (Android sends it when the text was cleared).
    let update = Element::new("UpdatePresence-Request").with(
        Element::new("PresenceSubList")
            .with(attribute("OnlineStatus", "T"))
            .with(attribute("UserAvailability", "NOT_AVAILABLE"))
            .with(attribute("StatusText", "Lunch & \"meetings\" <until 2>")),
    );
    out.push(("UpdatePresence-Request", request(v, "12", update)));

    // Per list, AutoSubscribe in 1.2 only; a single contact by User entry.
    let mut sub = add_lists(v, Element::new("SubscribePresence-Request"), &[FRIENDS]);
    sub = add_users(v, sub, &[CAROL]).with(wanted_attributes());
    if v == Version::V1_2 {
        sub = sub.with_text("AutoSubscribe", "T");
    }
    out.push(("SubscribePresence-Request", request(v, "13", sub)));

    let note = Element::new("PresenceNotification-Request")
        .with(presence(BOB, true, "AVAILABLE", "Working from home"))
        .with(presence(CAROL, false, "NOT_AVAILABLE", ""));
    out.push(("PresenceNotification-Request", request(v, "s2", note)));

    lists(v, out);
    blocking(v, out);
}

fn lists(v: Version, out: &mut Examples) {
    out.push((
        "GetList-Request",
        request(v, "14", Element::new("GetList-Request")),
    ));
    // 1.1 lists the default list among the others; 1.2 names it only in
    // DefaultContactList; 1.3 wraps the others in ContactListIDList.
    let mut got = Element::new("GetList-Response");
    got = match v {
        Version::V1_1 => got
            .with_text("ContactList", FRIENDS)
            .with_text("ContactList", WORK),
        _ => add_lists(v, got, &[WORK]),
    };
    if v >= Version::V1_2 {
        got = got.with_text("DefaultContactList", FRIENDS);
    }
    out.push(("GetList-Response", response(v, "14", got)));

    let nick = |name: &str, id: &str| {
        Element::new("NickName")
            .with_text("Name", name)
            .with_text("UserID", id)
    };
    let props = |display: &str, default: bool| {
        let prop = |n: &str, val: &str| {
            Element::new("Property")
                .with_text("Name", n)
                .with_text("Value", val)
        };
        Element::new("ContactListProperties")
            .with(prop("DisplayName", display))
            .with(prop("Default", if default { "T" } else { "F" }))
    };
    let create = Element::new("CreateList-Request")
        .with_text("ContactList", FRIENDS)
        .with(Element::new("NickList").with(nick("Bob", BOB)))
        .with(props("Friends", true));
    out.push(("CreateList-Request", request(v, "15", create)));

    // Android puts ReceiveList second, out of DTD order.
    let manage = Element::new("ListManage-Request")
        .with_text("ContactList", FRIENDS)
        .with_text("ReceiveList", "T")
        .with(Element::new("AddNickList").with(nick("Carol", CAROL)));
    out.push(("ListManage-Request", request(v, "16", manage)));
    let managed = Element::new("ListManage-Response")
        .with(result(200, None))
        .with(
            Element::new("NickList")
                .with(nick("Bob", BOB))
                .with(nick("Carol", CAROL)),
        )
        .with(props("Friends", true));
    out.push(("ListManage-Response", response(v, "16", managed)));
}

fn blocking(v: Version, out: &mut Examples) {
    out.push((
        "GetBlockedList-Request",
        request(v, "17", Element::new("GetBlockedList-Request")),
    ));
    let entities = |ids: &[&str]| {
        ids.iter().fold(Element::new("EntityList"), |e, id| {
            e.with_text("UserID", *id)
        })
    };
    // ≤1.2 keeps InUse inside each list; 1.3 moves it to the top level.
    let got = if v >= Version::V1_3 {
        Element::new("GetBlockedList-Response")
            .with(Element::new("BlockList").with(entities(&["wv:spam@example.com"])))
            .with_text("BlockListInUse", "T")
            .with(Element::new("GrantList").with(entities(&[])))
            .with_text("GrantListInUse", "F")
    } else {
        Element::new("GetBlockedList-Response")
            .with(
                Element::new("BlockList")
                    .with_text("InUse", "T")
                    .with(entities(&["wv:spam@example.com"])),
            )
            .with(
                Element::new("GrantList")
                    .with_text("InUse", "F")
                    .with(entities(&[])),
            )
    };
    out.push(("GetBlockedList-Response", response(v, "17", got)));

    let add = Element::new("AddList").with_text("UserID", "wv:troll@example.com");
    let block = if v >= Version::V1_3 {
        Element::new("BlockEntity-Request")
            .with_text("BlockListInUse", "T")
            .with_text("GrantListInUse", "F")
            .with(Element::new("BlockList").with(add))
    } else {
        Element::new("BlockEntity-Request")
            .with(Element::new("BlockList").with_text("InUse", "T").with(add))
    };
    out.push(("BlockEntity-Request", request(v, "18", block)));
}
