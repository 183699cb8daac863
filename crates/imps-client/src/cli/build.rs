//! Requests the `imps` command and the chat UI send, built from the
//! element structures of each primitive and shaped per CSP version where
//! the versions differ (selectors in presence primitives, block lists,
//! Font). Addresses arrive already in wire form (see `ids`).

use imps_wire::Element;
use imps_wire::csp;

use crate::Version;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    User(String),
    Group(String),
}

/// 1.3 text formatting: Size (Tiny..Huge), Style* (Bold, Italic,
/// Underline), Color (the 16 HTML colour names or `#rrggbb`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Font {
    pub size: Option<String>,
    pub styles: Vec<String>,
    pub color: Option<String>,
}

impl Font {
    pub fn is_empty(&self) -> bool {
        self.size.is_none() && self.styles.is_empty() && self.color.is_none()
    }

    pub fn element(&self) -> Element {
        let mut e = Element::new("Font");
        if let Some(s) = &self.size {
            e = e.with_text("Size", s.clone());
        }
        for s in &self.styles {
            e = e.with_text("Style", s.clone());
        }
        if let Some(c) = &self.color {
            e = e.with_text("Color", c.clone());
        }
        e
    }
}

fn user(id: &str) -> Element {
    Element::new("User").with_text("UserID", id)
}

fn property(name: &str, value: &str) -> Element {
    Element::new("Property")
        .with_text("Name", name)
        .with_text("Value", value)
}

fn screen_name(sname: &str, group: &str) -> Element {
    Element::new("ScreenName")
        .with_text("SName", sname)
        .with_text("GroupID", group)
}

/// SendMessage-Request with a text/plain body. ContentSize counts UTF-8
/// bytes (the spec's unit; Android's char count equals it for ASCII).
/// Font goes only into 1.3, where MessageInfo has it.
pub fn send_message(v: Version, me: &str, to: &Target, text: &str, font: &Font) -> Element {
    let recipient = match to {
        Target::User(u) => csp::Recipient {
            users: vec![csp::User::new(u.as_str())],
            ..Default::default()
        },
        Target::Group(g) => csp::Recipient {
            groups: vec![csp::Group {
                target: csp::GroupRef::Id(g.clone()),
                other: Vec::new(),
            }],
            ..Default::default()
        },
    };
    csp::SendMessageRequest {
        delivery_report: Some(false),
        message_info: csp::MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(recipient),
            sender: Some(csp::Sender {
                party: csp::Party::User(csp::User::new(me)),
                other: Vec::new(),
            }),
            // Only 1.3 has Font (the typed message writes it for 1.3 only).
            font: (!font.is_empty()).then(|| font.element()),
            ..Default::default()
        },
        content_data: Some(text.to_string()),
        other: Vec::new(),
    }
    .to_element(v)
}

/// The acknowledgement of a NewMessage (sent in Response mode under the
/// NewMessage's TransactionID).
pub fn message_delivered(message_id: &str) -> Element {
    csp::MessageDelivered {
        message_id: message_id.to_string(),
        other: Vec::new(),
    }
    // MessageDelivered has one shape in every version.
    .to_element(Version::V1_3)
}

pub fn get_message_list(group: Option<&str>, count: Option<u64>) -> Element {
    let mut e = Element::new("GetMessageList-Request");
    if let Some(g) = group {
        e = e.with_text("GroupID", g);
    }
    if let Some(n) = count {
        e = e.with_text("MessageCount", n.to_string());
    }
    e
}

pub fn get_list() -> Element {
    Element::new("GetList-Request")
}

/// CreateList-Request with DisplayName and Default properties.
pub fn create_list(list: &str, display_name: &str, default: bool) -> Element {
    Element::new("CreateList-Request")
        .with_text("ContactList", list)
        .with(
            Element::new("ContactListProperties")
                .with(property("DisplayName", display_name))
                .with(property("Default", if default { "T" } else { "F" })),
        )
}

/// ListManage-Request adding `(nick, user)` pairs and removing users;
/// both empty just reads the list (ReceiveList T). `grant` (1.3
/// AuthorizeAndGrant) also lets the added users see our presence.
pub fn list_manage(
    list: &str,
    add: &[(String, String)],
    remove: &[String],
    grant: bool,
) -> Element {
    let mut e = Element::new("ListManage-Request").with_text("ContactList", list);
    if !add.is_empty() {
        let mut l = Element::new("AddNickList");
        for (nick, u) in add {
            l = l.with(
                Element::new("NickName")
                    .with_text("Name", nick.clone())
                    .with_text("UserID", u.clone()),
            );
        }
        e = e.with(l);
    }
    if !remove.is_empty() {
        let mut l = Element::new("RemoveNickList");
        for u in remove {
            l = l.with_text("UserID", u.clone());
        }
        e = e.with(l);
    }
    e = e.with_text("ReceiveList", "T");
    if grant {
        e = e.with_text("AuthorizeAndGrant", "T");
    }
    e
}

/// The attributes we let contacts see: everything a chat client shows,
/// never location (that is granted one by one, if at all).
pub const SHARED_ATTRIBUTES: &[&str] = &[
    "OnlineStatus",
    "ClientInfo",
    "CommCap",
    "UserAvailability",
    "StatusText",
    "StatusMood",
    "Alias",
];

/// CreateAttributeList-Request (≤1.2 shape: UserID* directly) letting
/// `users` see `attrs` of our presence.
pub fn create_attribute_list(v: Version, users: &[String], attrs: &[&str]) -> Element {
    let mut list = Element::new("PresenceSubList");
    for a in attrs {
        list = list.with(Element::new(*a));
    }
    let mut e = Element::new("CreateAttributeList-Request").with(list);
    if v >= Version::V1_3 {
        let mut l = Element::new("UserIDList");
        for u in users {
            l = l.with_text("UserID", u.clone());
        }
        e = e.with(l);
    } else {
        for u in users {
            e = e.with_text("UserID", u.clone());
        }
    }
    e.with_text("DefaultList", "F")
}

/// The user/list selectors of presence primitives: `User*{UserID}` and
/// `ContactList*` up to 1.2, `UserIDList`/`ContactListIDList` in 1.3.
fn selectors(v: Version, mut e: Element, users: &[String], lists: &[String]) -> Element {
    if v >= Version::V1_3 {
        if !users.is_empty() {
            let mut l = Element::new("UserIDList");
            for u in users {
                l = l.with_text("UserID", u.clone());
            }
            e = e.with(l);
        }
        if !lists.is_empty() {
            let mut l = Element::new("ContactListIDList");
            for c in lists {
                l = l.with_text("ContactList", c.clone());
            }
            e = e.with(l);
        }
    } else {
        for u in users {
            e = e.with(user(u));
        }
        for c in lists {
            e = e.with_text("ContactList", c.clone());
        }
    }
    e
}

pub fn get_presence(v: Version, users: &[String], lists: &[String]) -> Element {
    selectors(v, Element::new("GetPresence-Request"), users, lists)
}

/// SubscribePresence-Request for all attributes (no PresenceSubList).
pub fn subscribe_presence(v: Version, users: &[String], lists: &[String]) -> Element {
    let e = selectors(v, Element::new("SubscribePresence-Request"), users, lists);
    if v == Version::V1_2 && !lists.is_empty() {
        e.with_text("AutoSubscribe", "T")
    } else {
        e
    }
}

/// What `imps presence set` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceUpdate {
    pub online: Option<bool>,
    /// AVAILABLE, NOT_AVAILABLE or DISCREET.
    pub availability: Option<String>,
    pub text: Option<String>,
    pub mood: Option<String>,
    pub alias: Option<String>,
}

fn attr(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

pub fn update_presence(u: &PresenceUpdate) -> Element {
    let mut list = Element::new("PresenceSubList");
    if let Some(on) = u.online {
        list = list.with(attr("OnlineStatus", if on { "T" } else { "F" }));
    }
    if let Some(a) = &u.availability {
        list = list.with(attr("UserAvailability", a));
    }
    if let Some(t) = &u.text {
        list = list.with(attr("StatusText", t));
    }
    if let Some(m) = &u.mood {
        list = list.with(attr("StatusMood", m));
    }
    if let Some(a) = &u.alias {
        list = list.with(attr("Alias", a));
    }
    Element::new("UpdatePresence-Request").with(list)
}

pub fn get_blocked_list() -> Element {
    Element::new("GetBlockedList-Request")
}

/// BlockEntity-Request: ≤1.2 puts InUse inside BlockList, 1.3 has
/// BlockListInUse at the top. The grant list is left as it is.
pub fn block_entity(v: Version, add: &[String], remove: &[String]) -> Element {
    let entity_list = |name: &str, ids: &[String]| {
        let mut l = Element::new(name);
        for u in ids {
            l = l.with_text("UserID", u.clone());
        }
        l
    };
    let mut block = Element::new("BlockList");
    if v < Version::V1_3 {
        block = block.with_text("InUse", "T");
    }
    if !add.is_empty() {
        block = block.with(entity_list("AddList", add));
    }
    if !remove.is_empty() {
        block = block.with(entity_list("RemoveList", remove));
    }
    let e = Element::new("BlockEntity-Request");
    if v >= Version::V1_3 {
        e.with_text("BlockListInUse", "T").with(block)
    } else {
        e.with(block)
    }
}

/// CreateGroup-Request for an open group that we join at once under
/// `sname`, with notifications on.
pub fn create_group(group_id: &str, name: &str, topic: Option<&str>, sname: &str) -> Element {
    let mut props = Element::new("GroupProperties")
        .with(property("Name", name))
        .with(property("Accesstype", "Open"));
    if let Some(t) = topic {
        props = props.with(property("Topic", t));
    }
    Element::new("CreateGroup-Request")
        .with_text("GroupID", group_id)
        .with(props)
        .with_text("JoinGroup", "T")
        .with(screen_name(sname, group_id))
        .with_text("SubscribeNotification", "T")
}

pub fn join_group(group_id: &str, sname: &str) -> Element {
    Element::new("JoinGroup-Request")
        .with_text("GroupID", group_id)
        .with(screen_name(sname, group_id))
        .with_text("JoinedRequest", "T")
        .with_text("SubscribeNotification", "T")
}

pub fn leave_group(group_id: &str) -> Element {
    Element::new("LeaveGroup-Request").with_text("GroupID", group_id)
}

pub fn get_joined_users(group_id: &str) -> Element {
    Element::new("GetJoinedUsers-Request").with_text("GroupID", group_id)
}

pub fn get_group_members(group_id: &str) -> Element {
    Element::new("GetGroupMembers-Request").with_text("GroupID", group_id)
}

/// Invite-Request. `group` makes it a group invitation (GR), otherwise an
/// invitation to share presence (PR).
pub fn invite(
    invite_id: &str,
    me: &str,
    to: &str,
    group: Option<&str>,
    note: Option<&str>,
) -> Element {
    let mut e = Element::new("Invite-Request")
        .with_text("InviteID", invite_id)
        .with_text("InviteType", if group.is_some() { "GR" } else { "PR" })
        .with(Element::new("Sender").with(user(me)))
        .with(Element::new("Recipient").with(user(to)));
    if let Some(g) = group {
        e = e.with_text("GroupID", g);
    }
    if let Some(n) = note {
        e = e.with_text("InviteNote", n);
    }
    e
}

/// InviteUser-Response: the invitee's answer, sent as a new request.
pub fn invite_user_response(
    invite_id: &str,
    accept: bool,
    me: &str,
    inviter: &str,
    note: Option<&str>,
) -> Element {
    let mut e = Element::new("InviteUser-Response")
        .with_text("InviteID", invite_id)
        .with_text("Acceptance", if accept { "T" } else { "F" })
        .with(Element::new("Sender").with(user(me)))
        .with(Element::new("Recipient").with(user(inviter)));
    if let Some(n) = note {
        e = e.with_text("ResponseNote", n);
    }
    e
}

/// A new Search-Request: the (SearchElement, SearchString) pairs in
/// order, numbered 1, 2, ... as PairIDs (written in 1.3 only, where
/// `advanced` may combine them; the typed request leaves both out before
/// 1.3 and writes the flat pair layout there).
pub fn search(
    v: Version,
    pairs: &[(String, String)],
    advanced: Option<&str>,
    limit: u64,
) -> Element {
    csp::SearchRequest {
        pairs: pairs
            .iter()
            .zip(1u64..)
            .map(|((element, string), id)| csp::SearchPair {
                pair_id: Some(id),
                ..csp::SearchPair::new(element.as_str(), string.as_str())
            })
            .collect(),
        advanced_criteria: advanced.map(str::to_string),
        limit: Some(limit),
        ..csp::SearchRequest::default()
    }
    .to_element(v)
}

/// A Search-Request for a page of an open search: from `index`, or after
/// the last page shown when `None`; `limit` changes the page size.
pub fn search_page(v: Version, search_id: &str, index: Option<u64>, limit: Option<u64>) -> Element {
    csp::SearchRequest {
        search_id: Some(search_id.to_string()),
        index,
        limit,
        ..csp::SearchRequest::default()
    }
    .to_element(v)
}

pub fn stop_search(v: Version, search_id: &str) -> Element {
    csp::StopSearchRequest {
        search_id: search_id.to_string(),
        other: Vec::new(),
    }
    .to_element(v)
}

/// GetPublicProfile-Request for `users`; none asks for our own profile
/// (the owner's view, with the birth month).
pub fn get_public_profile(users: &[String]) -> Element {
    csp::GetPublicProfileRequest {
        user_ids: users.to_vec(),
        other: Vec::new(),
    }
    // Public profiles exist in CSP 1.3 only.
    .to_element(Version::V1_3)
}

/// UpdatePublicProfile-Request: the properties to change (an empty value
/// clears an optional one) or, with `clear`, everything but the friendly
/// name.
pub fn update_public_profile(props: &[(String, String)], clear: bool) -> Element {
    csp::UpdatePublicProfileRequest {
        clear: clear.then_some(true),
        profile: (!props.is_empty()).then(|| csp::PublicProfile {
            user_id: None,
            properties: props
                .iter()
                .map(|(n, v)| csp::Property::new(n.as_str(), v.as_str()))
                .collect(),
            other: Vec::new(),
        }),
        other: Vec::new(),
    }
    .to_element(Version::V1_3)
}

/// SystemMessage-User answering one system message: with the chosen
/// option, or without one to acknowledge a message that offers none.
pub fn system_message_user(id: &str, option: Option<u64>) -> Element {
    csp::SystemMessageUser {
        system_message_response_list: csp::SystemMessageResponseList::new(vec![
            csp::SystemMessageResponse::new(id, option),
        ]),
        other: Vec::new(),
    }
    // System messages exist only in CSP 1.3.
    .to_element(Version::V1_3)
}

pub fn delete_list(list: &str) -> Element {
    Element::new("DeleteList-Request").with_text("ContactList", list)
}

pub fn delete_group(group_id: &str) -> Element {
    Element::new("DeleteGroup-Request").with_text("GroupID", group_id)
}

/// CancelInvite-Request withdrawing `invite_id` from `to` (everyone the
/// invitation went to when `None`).
pub fn cancel_invite(
    invite_id: &str,
    me: &str,
    to: Option<&str>,
    group: Option<&str>,
    note: Option<&str>,
) -> Element {
    let mut e = Element::new("CancelInvite-Request")
        .with_text("InviteID", invite_id)
        .with(Element::new("Sender").with(user(me)));
    if let Some(u) = to {
        e = e.with(Element::new("Recipient").with(user(u)));
    }
    if let Some(n) = note {
        e = e.with_text("InviteNote", n);
    }
    if let Some(g) = group {
        e = e.with_text("GroupID", g);
    }
    e
}

/// The answer to a reactive presence authorization request. Up to 1.2
/// (and 1.3 over XML) PresenceAuth-User; 1.3's WBXML table has no token
/// for it, so there the answer is an attribute list for that user: the
/// shared attributes to accept, none to deny.
pub fn presence_auth_answer(v: Version, wbxml: bool, watcher: &str, accept: bool) -> Element {
    if v >= Version::V1_3 && wbxml {
        let attrs: &[&str] = if accept { SHARED_ATTRIBUTES } else { &[] };
        create_attribute_list(v, &[watcher.to_string()], attrs)
    } else {
        Element::new("PresenceAuth-User")
            .with_text("UserID", watcher)
            .with_text("Acceptance", if accept { "T" } else { "F" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_follow_the_version() {
        let users = vec!["wv:bob".to_string()];
        let e = get_presence(Version::V1_2, &users, &[]);
        assert_eq!(
            e.path(&["User", "UserID"]).map(|x| x.text.as_str()),
            Some("wv:bob")
        );
        let e = get_presence(Version::V1_3, &users, &[]);
        assert_eq!(
            e.path(&["UserIDList", "UserID"]).map(|x| x.text.as_str()),
            Some("wv:bob")
        );
        let b = block_entity(Version::V1_3, &users, &[]);
        assert_eq!(b.child_text("BlockListInUse"), Some("T"));
        assert!(b.path(&["BlockList", "AddList", "UserID"]).is_some());
        let b = block_entity(Version::V1_2, &[], &users);
        assert_eq!(
            b.path(&["BlockList", "InUse"]).map(|x| x.text.as_str()),
            Some("T")
        );
    }

    #[test]
    fn font_only_in_1_3() {
        let f = Font {
            styles: vec!["Bold".into()],
            color: Some("Red".into()),
            ..Font::default()
        };
        let to = Target::User("wv:bob".into());
        let m = send_message(Version::V1_3, "wv:alice", &to, "héllo", &f);
        assert_eq!(
            m.path(&["MessageInfo", "Font", "Color"])
                .map(|x| x.text.as_str()),
            Some("Red")
        );
        assert_eq!(
            m.path(&["MessageInfo", "ContentSize"])
                .map(|x| x.text.as_str()),
            Some("6")
        );
        let m = send_message(Version::V1_2, "wv:alice", &to, "hi", &f);
        assert!(m.path(&["MessageInfo", "Font"]).is_none());
    }

    #[test]
    fn search_pairs_follow_the_version() {
        let pairs = vec![
            ("USER_CITY".to_string(), "Oulu".to_string()),
            ("USER_ALIAS".to_string(), "Ann".to_string()),
        ];
        let e = search(Version::V1_3, &pairs, Some("1 AND NOT 2"), 10);
        let list = e.child("SearchPairList").unwrap();
        let ids: Vec<_> = list
            .children_named("SearchPair")
            .map(|p| p.child_text("PairID").unwrap_or(""))
            .collect();
        assert_eq!(ids, ["1", "2"]);
        assert_eq!(e.child_text("AdvancedCriteria"), Some("1 AND NOT 2"));
        assert_eq!(e.child_text("SearchLimit"), Some("10"));
        // Before 1.3: one flat SearchPairList per pair, no PairID.
        let e = search(Version::V1_2, &pairs, None, 10);
        let lists: Vec<_> = e.children_named("SearchPairList").collect();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[1].child_text("SearchString"), Some("Ann"));
        assert!(lists[0].child("PairID").is_none());
        assert!(e.child("AdvancedCriteria").is_none());
        // A page of an open search names only the search and the index.
        let e = search_page(Version::V1_3, "7", Some(0), None);
        assert!(e.child("SearchPairList").is_none());
        assert_eq!(e.child_text("SearchID"), Some("7"));
        assert_eq!(e.child_text("SearchIndex"), Some("0"));
        assert!(e.child("SearchLimit").is_none());
        let e = stop_search(Version::V1_1, "7");
        assert_eq!(e.name, "StopSearch-Request");
        assert_eq!(e.child_text("SearchID"), Some("7"));
    }

    #[test]
    fn public_profile_requests() {
        let e = get_public_profile(&[]);
        assert_eq!(e.name, "GetPublicProfile-Request");
        assert!(e.children.is_empty(), "our own profile: {e:?}");
        let e = update_public_profile(&[("PP_AGE".into(), "1990-04".into())], false);
        assert!(e.child("ClearPublicProfile").is_none());
        assert_eq!(
            e.path(&["PublicProfile", "Property", "Value"])
                .map(|x| x.text.as_str()),
            Some("1990-04")
        );
        let e = update_public_profile(&[], true);
        assert_eq!(e.child_text("ClearPublicProfile"), Some("T"));
        assert!(e.child("PublicProfile").is_none());
    }
}
