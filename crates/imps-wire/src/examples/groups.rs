//! Group, invitation and search examples.

use super::{ALICE, BOB, CAROL, Examples, request, response, screen_name, user};
use crate::{Element, Version};

pub const GROUP: &str = "wv:alice/chat@example.com";

pub(super) fn add(v: Version, out: &mut Examples) {
    let prop = |n: &str, val: &str| {
        Element::new("Property")
            .with_text("Name", n)
            .with_text("Value", val)
    };
    // What Android sends, including its `Accesstype` spelling.
    let mut props = Element::new("GroupProperties")
        .with(prop("Name", "chat"))
        .with(prop("Accesstype", "Open"))
        .with(prop("PrivateMessaging", "F"))
        .with(prop("Searchable", "F"));
    if v >= Version::V1_2 {
        props = props.with(prop("AutoDelete", "T"));
    }
    let create = Element::new("CreateGroup-Request")
        .with_text("GroupID", GROUP)
        .with(props)
        .with_text("JoinGroup", "T")
        .with(screen_name("alice", GROUP))
        .with_text("SubscribeNotification", "T");
    out.push(("CreateGroup-Request", request(v, "30", create)));

    let join = Element::new("JoinGroup-Request")
        .with_text("GroupID", GROUP)
        .with(screen_name("bob", GROUP))
        .with_text("JoinedRequest", "T")
        .with_text("SubscribeNotification", "T");
    out.push(("JoinGroup-Request", request(v, "31", join)));

    let mapping = |sname: &str, id: &str| {
        Element::new("Mapping")
            .with_text("SName", sname)
            .with_text("UserID", id)
    };
    let welcome = Element::new("WelcomeNote")
        .with_text("ContentType", "text/plain")
        .with_text("ContentData", "Welcome to chat");
    let map_list = || {
        Element::new("UserMapList").with(
            Element::new("UserMapping")
                .with(mapping("alice", ALICE))
                .with(mapping("bob", BOB)),
        )
    };
    // 1.1 lists screen names; 1.2 a UserMapList; 1.3 wraps it in Joined.
    let joined = match v {
        Version::V1_1 => Element::new("JoinGroup-Response").with(
            Element::new("UserList")
                .with(screen_name("alice", GROUP))
                .with(screen_name("bob", GROUP)),
        ),
        Version::V1_2 => Element::new("JoinGroup-Response").with(map_list()),
        Version::V1_3 => {
            Element::new("JoinGroup-Response").with(Element::new("Joined").with(map_list()))
        }
    };
    out.push((
        "JoinGroup-Response",
        response(v, "31", joined.with(welcome)),
    ));

    let joined = if v == Version::V1_1 {
        Element::new("UserList").with(screen_name("carol", GROUP))
    } else {
        Element::new("UserMapList").with(Element::new("UserMapping").with(mapping("carol", CAROL)))
    };
    let notice = Element::new("GroupChangeNotice")
        .with_text("GroupID", GROUP)
        .with(Element::new("Joined").with(joined))
        .with(Element::new("Left").with(Element::new("UserList").with(screen_name("bob", GROUP))));
    out.push(("GroupChangeNotice", request(v, "s6", notice)));

    invitations(v, out);
    search(v, out);
}

/// An invitation to the group. ScreenName is sent from 1.2 (Android); a
/// Sender is required from 1.3.
fn invite(v: Version, name: &str, from: &str, to: &str) -> Element {
    let mut e = Element::new(name)
        .with_text("InviteID", "invite1704164645000")
        .with_text("InviteType", "GR");
    if v >= Version::V1_3 {
        e = e.with(Element::new("Sender").with(user(from)));
    }
    e = e
        .with(Element::new("Recipient").with(user(to)))
        .with_text("GroupID", GROUP)
        .with_text("InviteNote", "Join us!");
    if v >= Version::V1_2 {
        e = e.with(screen_name("alice", GROUP));
    }
    e
}

fn invitations(v: Version, out: &mut Examples) {
    out.push((
        "Invite-Request",
        request(v, "32", invite(v, "Invite-Request", ALICE, BOB)),
    ));
    // The server relays it to the invitee, with the sender always shown.
    let mut relayed = invite(v, "InviteUser-Request", ALICE, BOB);
    if v < Version::V1_3 {
        relayed
            .children
            .insert(2, Element::new("Sender").with(user(ALICE)));
    }
    out.push(("InviteUser-Request", request(v, "s7", relayed)));
}

fn search(v: Version, out: &mut Examples) {
    // ≤1.2: one SearchPairList per pair. 1.3: a list of SearchPair entries
    // with PairID (the Android 1.3 token table has a SearchPair tag).
    let pair = if v >= Version::V1_3 {
        Element::new("SearchPairList").with(
            Element::new("SearchPair")
                .with_text("SearchElement", "USER_ALIAS")
                .with_text("SearchString", "bob")
                .with_text("PairID", "1"),
        )
    } else {
        Element::new("SearchPairList")
            .with_text("SearchElement", "USER_ALIAS")
            .with_text("SearchString", "bob")
    };
    let req = Element::new("Search-Request")
        .with(pair)
        .with_text("SearchLimit", "20");
    out.push(("Search-Request", request(v, "33", req)));

    let mut found = user(BOB);
    if v >= Version::V1_3 {
        found = found.with_text("FriendlyName", "Bob");
    }
    let resp = Element::new("Search-Response")
        .with_text("SearchID", "1")
        .with_text("SearchFindings", "1")
        .with_text("CompletionFlag", "T")
        .with(Element::new("SearchResult").with(Element::new("UserList").with(found)));
    out.push(("Search-Response", response(v, "33", resp)));

    // The next page of search 1, then the end of it.
    let next = Element::new("Search-Request")
        .with_text("SearchID", "1")
        .with_text("SearchIndex", "20");
    out.push(("Search-Request-next", request(v, "34", next)));
    let stop = Element::new("StopSearch-Request").with_text("SearchID", "1");
    out.push(("StopSearch-Request", request(v, "35", stop)));
}
