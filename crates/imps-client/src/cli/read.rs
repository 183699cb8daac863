//! Readers for what servers answer and push. They take whatever shape a
//! version (or a server's habit) uses and never fail: a missing part is
//! an empty or `None` field, because one odd element must not hide the
//! rest of a message from the user.

use imps_wire::Element;
use imps_wire::csp;
use serde::Serialize;

use crate::cli::build::Font;

/// A message someone sent us (NewMessage, GetMessageList entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Incoming {
    pub message_id: String,
    /// Sender's UserID, or the screen name's owner when only that is known.
    pub from: String,
    pub from_name: Option<String>,
    /// The group it was sent to, when it went to a group.
    pub group: Option<String>,
    pub text: String,
    pub content_type: Option<String>,
    pub date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub font: Option<FontView>,
}

/// Font as read (serialisable twin of `build::Font`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FontView {
    pub size: Option<String>,
    pub styles: Vec<String>,
    pub color: Option<String>,
}

impl FontView {
    pub fn to_font(&self) -> Font {
        Font {
            size: self.size.clone(),
            styles: self.styles.clone(),
            color: self.color.clone(),
        }
    }
}

fn text_of(e: Option<&Element>) -> Option<String> {
    e.map(|x| x.text.clone()).filter(|s| !s.is_empty())
}

/// Reads `MessageInfo` + `ContentData` from a NewMessage (or
/// GetMessage-Response) body.
pub fn incoming(body: &Element) -> Incoming {
    let info = body.child("MessageInfo").unwrap_or(body);
    let sender = info.child("Sender");
    let (mut from, mut from_name, mut sender_group) = (String::new(), None, None);
    if let Some(s) = sender {
        if let Some(u) = s.child("User") {
            from = u.child_text("UserID").unwrap_or("").to_string();
            from_name = text_of(u.child("FriendlyName"));
        } else if let Some(g) = s.child("Group") {
            if let Some(sn) = g.child("ScreenName") {
                from_name = text_of(sn.child("SName"));
                sender_group = text_of(sn.child("GroupID"));
                from = from_name.clone().unwrap_or_default();
            } else {
                sender_group = text_of(g.child("GroupID"));
            }
        } else if let Some(u) = s.child_text("UserID") {
            from = u.to_string();
        }
    }
    let recipient_group = info.path(&["Recipient", "Group"]).and_then(|g| {
        text_of(g.child("GroupID")).or_else(|| text_of(g.path(&["ScreenName", "GroupID"])))
    });
    let font = info.child("Font").map(|f| FontView {
        size: text_of(f.child("Size")),
        styles: f.children_named("Style").map(|s| s.text.clone()).collect(),
        color: text_of(f.child("Color")),
    });
    Incoming {
        message_id: info.child_text("MessageID").unwrap_or("").to_string(),
        from,
        from_name,
        group: recipient_group.or(sender_group),
        text: body.child_text("ContentData").unwrap_or("").to_string(),
        content_type: text_of(info.child("ContentType")),
        date_time: text_of(info.child("DateTime")),
        font,
    }
}

/// GetMessageList-Response: the MessageInfo of each waiting message (no
/// content), directly (1.1/1.2) or in MessageInfoList (1.3), and the
/// server's MessageTotalCount when it sends one.
pub fn message_list(body: &Element) -> (Vec<Incoming>, Option<u64>) {
    let holder = body.child("MessageInfoList").unwrap_or(body);
    let infos = holder
        .children_named("MessageInfo")
        .map(incoming)
        .collect::<Vec<_>>();
    (infos, body.child_u64("MessageTotalCount"))
}

/// One user's presence, reduced to what a person looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PresenceView {
    pub user: String,
    pub online: Option<bool>,
    pub availability: Option<String>,
    pub status_text: Option<String>,
    pub mood: Option<String>,
    pub alias: Option<String>,
    pub client_type: Option<String>,
}

impl PresenceView {
    /// `online`, `away`, `busy`, `offline` or `unknown`, as Android maps
    /// OnlineStatus and UserAvailability.
    pub fn summary(&self) -> &'static str {
        match (self.online, self.availability.as_deref()) {
            (Some(false), _) => "offline",
            (_, Some("NOT_AVAILABLE")) => "away",
            (_, Some("DISCREET")) => "busy",
            (Some(true), _) | (_, Some("AVAILABLE")) => "online",
            _ => "unknown",
        }
    }
}

/// A qualified attribute's value: Android ignores attributes whose
/// Qualifier is F, and so do we (a missing Qualifier is taken as T).
fn attr_value(list: &Element, name: &str) -> Option<String> {
    list.children_named(name)
        .find(|a| a.child_bool("Qualifier") != Some(false))
        .and_then(|a| text_of(a.child("PresenceValue")))
}

/// Every `Presence` in a GetPresence-Response or PresenceNotification.
pub fn presences(body: &Element) -> Vec<PresenceView> {
    body.children_named("Presence")
        .map(|p| {
            let empty = Element::new("PresenceSubList");
            let list = p.child("PresenceSubList").unwrap_or(&empty);
            PresenceView {
                user: p.child_text("UserID").unwrap_or("").to_string(),
                online: attr_value(list, "OnlineStatus")
                    .and_then(|v| imps_wire::element::parse_bool(&v)),
                availability: attr_value(list, "UserAvailability"),
                status_text: attr_value(list, "StatusText"),
                mood: attr_value(list, "StatusMood"),
                alias: attr_value(list, "Alias"),
                client_type: list
                    .children_named("ClientInfo")
                    .find(|a| a.child_bool("Qualifier") != Some(false))
                    .and_then(|c| text_of(c.child("ClientType"))),
            }
        })
        .collect()
}

/// GetList-Response: (lists, default list). ≤1.2 has direct ContactList
/// children, 1.3 wraps them in ContactListIDList; we read both.
pub fn contact_lists(body: &Element) -> (Vec<String>, Option<String>) {
    let mut lists: Vec<String> = body
        .children_named("ContactList")
        .chain(
            body.child("ContactListIDList")
                .into_iter()
                .flat_map(|l| l.children_named("ContactList")),
        )
        .map(|c| c.text.clone())
        .filter(|s| !s.is_empty())
        .collect();
    let default = text_of(body.child("DefaultContactList"));
    if let Some(d) = &default
        && !lists.iter().any(|l| l.eq_ignore_ascii_case(d))
    {
        lists.insert(0, d.clone());
    }
    (lists, default)
}

/// A contact list entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub user: String,
    pub nick: Option<String>,
}

/// ListManage-Response NickList: `NickName{Name, UserID}` or bare `UserID`.
pub fn contacts(body: &Element) -> Vec<Contact> {
    let Some(list) = body.child("NickList") else {
        return Vec::new();
    };
    list.children
        .iter()
        .filter_map(|c| match c.name.as_str() {
            "NickName" => Some(Contact {
                user: c
                    .child_text("UserID")
                    .or_else(|| c.path(&["User", "UserID"]).map(|u| u.text.as_str()))
                    .unwrap_or("")
                    .to_string(),
                nick: text_of(c.child("Name")),
            }),
            "UserID" => Some(Contact {
                user: c.text.clone(),
                nick: None,
            }),
            _ => None,
        })
        .filter(|c| !c.user.is_empty())
        .collect()
}

/// GetBlockedList-Response: (blocked users, block list in use, granted).
pub fn blocked(body: &Element) -> (Vec<String>, Option<bool>, Vec<String>) {
    let ids = |name: &str| -> Vec<String> {
        body.child(name)
            .and_then(|l| l.child("EntityList"))
            .map(|l| l.children_named("UserID").map(|u| u.text.clone()).collect())
            .unwrap_or_default()
    };
    let in_use = body
        .child_bool("BlockListInUse")
        .or_else(|| body.child("BlockList").and_then(|b| b.child_bool("InUse")));
    (ids("BlockList"), in_use, ids("GrantList"))
}

/// A member of a group as the server lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Member {
    pub screen_name: Option<String>,
    pub user: Option<String>,
}

/// Members from any of the shapes servers use: Mapping{SName, UserID}
/// (under UserMapList, UserMapping, Joined or the AdminMapList), 1.1
/// UserList{ScreenName}, or UserList{User{UserID}}; searched at any depth.
pub fn members(body: &Element) -> Vec<Member> {
    let mut out = Vec::new();
    collect_members(body, &mut out);
    out
}

fn collect_members(e: &Element, out: &mut Vec<Member>) {
    for c in &e.children {
        match c.name.as_str() {
            "Mapping" => out.push(Member {
                screen_name: text_of(c.child("SName")),
                user: text_of(c.child("UserID")),
            }),
            "ScreenName" if e.name == "UserList" => out.push(Member {
                screen_name: text_of(c.child("SName")).or_else(|| text_of(Some(c))),
                user: None,
            }),
            "User" => out.push(Member {
                screen_name: None,
                user: text_of(c.child("UserID")),
            }),
            "UserID" if e.name == "UserList" || e.name == "UserIDList" => out.push(Member {
                screen_name: None,
                user: text_of(Some(c)),
            }),
            _ => collect_members(c, out),
        }
    }
}

/// InviteUser-Request -> the pending invitation it describes.
pub fn invitation(body: &Element) -> crate::cli::profile::PendingInvite {
    let from = body
        .path(&["Sender", "User", "UserID"])
        .map(|u| u.text.clone())
        .or_else(|| body.path(&["Sender", "UserID"]).map(|u| u.text.clone()))
        .unwrap_or_default();
    crate::cli::profile::PendingInvite {
        invite_id: body.child_text("InviteID").unwrap_or("").to_string(),
        from,
        invite_type: body.child_text("InviteType").unwrap_or("").to_string(),
        group: text_of(body.child("GroupID")),
        note: text_of(body.child("InviteNote")),
    }
}

/// SystemMessage-Request -> the messages in it (read with the typed 1.3
/// structures; a message that does not parse, e.g. without an ID, cannot
/// be answered and is left out).
pub fn system_messages(body: &Element) -> Vec<crate::cli::profile::PendingSystemMessage> {
    let v = imps_wire::Version::V1_3;
    let mut out = Vec::new();
    let lists = body.children_named(csp::SystemMessageList::NAME);
    for list in lists {
        for m in list.children_named(csp::SystemMessage::NAME) {
            out.extend(
                csp::SystemMessage::from_element(m, v)
                    .ok()
                    .as_ref()
                    .map(pending_system_message),
            );
        }
    }
    // Bare messages beside the list are read as members of it.
    for m in body.children_named(csp::SystemMessage::NAME) {
        out.extend(
            csp::SystemMessage::from_element(m, v)
                .ok()
                .as_ref()
                .map(pending_system_message),
        );
    }
    out
}

/// One typed system message as the CLI keeps it.
pub fn pending_system_message(m: &csp::SystemMessage) -> crate::cli::profile::PendingSystemMessage {
    crate::cli::profile::PendingSystemMessage {
        id: m.id.trim().to_string(),
        text: m.text.clone(),
        options: m
            .answer_options
            .iter()
            .map(|o| (o.id.to_string(), o.text.clone()))
            .collect(),
        requires_response: m.response_required(),
    }
}

/// DetailedResult entries: (code, description, the IDs it names).
pub fn details(body: &Element) -> Vec<(u16, String, Vec<String>)> {
    let result = if body.name == "Result" {
        Some(body)
    } else {
        body.child("Result")
    };
    result
        .into_iter()
        .flat_map(|r| r.children_named("DetailedResult"))
        .map(|d| {
            let code = d
                .child_text("Code")
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(0);
            let items = d
                .children
                .iter()
                .filter(|c| c.name != "Code" && c.name != "Description" && !c.text.is_empty())
                .map(|c| c.text.clone())
                .collect();
            (
                code,
                d.child_text("Description").unwrap_or("").to_string(),
                items,
            )
        })
        .collect()
}

/// A user a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FoundUser {
    pub user_id: String,
    /// CSP 1.3 only.
    pub friendly_name: Option<String>,
}

impl FoundUser {
    /// "Zoë Quinn (wv:zoe@localhost)", or the bare ID without a friendly
    /// name.
    pub fn label(&self) -> String {
        match self.friendly_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => format!("{n} ({})", self.user_id),
            _ => self.user_id.clone(),
        }
    }
}

/// One page of a search, as a Search-Response tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchPage {
    pub search_id: Option<String>,
    /// All the search found (this page and the others).
    pub findings: Option<u64>,
    /// True on the last page.
    pub complete: Option<bool>,
    /// Where the next page starts, while more remain.
    pub next_index: Option<u64>,
    pub users: Vec<FoundUser>,
    pub groups: Vec<String>,
}

impl SearchPage {
    /// Results on this page.
    pub fn count(&self) -> u64 {
        (self.users.len() + self.groups.len()) as u64
    }

    /// The position of this page's first result (0-based), where the
    /// answer tells: before the next page, or at the end of the findings.
    pub fn start(&self) -> Option<u64> {
        let end = self.next_index.or(match self.complete {
            Some(true) => self.findings,
            _ => None,
        })?;
        end.checked_sub(self.count())
    }

    /// More results after this page.
    pub fn more(&self) -> bool {
        self.complete == Some(false) || self.next_index.is_some()
    }
}

/// Search-Response, read with the typed structure (FriendlyName of a
/// found user in 1.3 only). Unlike the lenient readers above this one
/// fails on an answer it cannot read: a page with an unreadable count or
/// ID would mislead the paging.
pub fn search_page(body: &Element, v: crate::Version) -> Result<SearchPage, String> {
    let r = csp::SearchResponse::from_element(body, v).map_err(|e| e.to_string())?;
    let result = r.search_result.unwrap_or_default();
    Ok(SearchPage {
        search_id: r.search_id.map(|s| s.trim().to_string()),
        findings: r.findings,
        complete: r.completion,
        next_index: r.index,
        users: result
            .users
            .into_iter()
            .map(|u| FoundUser {
                user_id: u.user_id,
                friendly_name: u.friendly_name.filter(|n| !n.trim().is_empty()),
            })
            .collect(),
        groups: result.groups,
    })
}

/// GetPublicProfile-Response: its profiles, read with the typed 1.3
/// structure. A profile without UserID is the requester's own.
pub fn public_profiles(body: &Element) -> Result<Vec<csp::PublicProfile>, String> {
    csp::GetPublicProfileResponse::from_element(body, crate::Version::V1_3)
        .map(|r| r.profiles)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_message_from_a_user_and_to_a_group() {
        let m = Element::new("NewMessage")
            .with(
                Element::new("MessageInfo")
                    .with_text("MessageID", "m1")
                    .with(
                        Element::new("Sender").with(
                            Element::new("User")
                                .with_text("UserID", "wv:bob@localhost")
                                .with_text("FriendlyName", "Bob"),
                        ),
                    )
                    .with(
                        Element::new("Recipient")
                            .with(Element::new("Group").with_text("GroupID", "wv:alice/room")),
                    )
                    .with(
                        Element::new("Font")
                            .with_text("Style", "Bold")
                            .with_text("Color", "Red"),
                    ),
            )
            .with_text("ContentData", "hello");
        let i = incoming(&m);
        assert_eq!(i.from, "wv:bob@localhost");
        assert_eq!(i.from_name.as_deref(), Some("Bob"));
        assert_eq!(i.group.as_deref(), Some("wv:alice/room"));
        assert_eq!(i.text, "hello");
        assert_eq!(i.font.map(|f| f.styles), Some(vec!["Bold".to_string()]));
    }

    #[test]
    fn members_in_every_shape() {
        let m12 = Element::new("JoinGroup-Response").with(
            Element::new("UserMapList").with(
                Element::new("UserMapping").with(
                    Element::new("Mapping")
                        .with_text("SName", "al")
                        .with_text("UserID", "wv:alice"),
                ),
            ),
        );
        assert_eq!(members(&m12).len(), 1);
        let m11 = Element::new("JoinGroup-Response").with(
            Element::new("UserList").with(Element::new("ScreenName").with_text("SName", "bo")),
        );
        assert_eq!(members(&m11)[0].screen_name.as_deref(), Some("bo"));
    }

    #[test]
    fn presence_summary_follows_android() {
        let p = Element::new("GetPresence-Response").with(
            Element::new("Presence").with_text("UserID", "wv:bob").with(
                Element::new("PresenceSubList")
                    .with(
                        Element::new("OnlineStatus")
                            .with_text("Qualifier", "T")
                            .with_text("PresenceValue", "T"),
                    )
                    .with(
                        Element::new("UserAvailability")
                            .with_text("Qualifier", "T")
                            .with_text("PresenceValue", "NOT_AVAILABLE"),
                    ),
            ),
        );
        let v = presences(&p);
        assert_eq!(v[0].summary(), "away");
        assert_eq!(v[0].online, Some(true));
    }

    fn page(v: crate::Version) -> Element {
        csp::SearchResponse {
            search_id: Some("7".into()),
            findings: Some(5),
            completion: Some(false),
            index: Some(4),
            search_result: Some(csp::SearchResult {
                users: vec![
                    csp::FoundUser {
                        user_id: "wv:zoe@localhost".into(),
                        friendly_name: Some("Zoë Quinn".into()),
                    },
                    csp::FoundUser::new("wv:kim@localhost"),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }
        .to_element(v)
    }

    #[test]
    fn search_pages_with_friendly_names_first() {
        let p = search_page(&page(crate::Version::V1_3), crate::Version::V1_3).unwrap();
        assert_eq!(p.search_id.as_deref(), Some("7"));
        assert_eq!(p.users[0].label(), "Zoë Quinn (wv:zoe@localhost)");
        assert_eq!(p.users[1].label(), "wv:kim@localhost");
        assert_eq!((p.start(), p.count(), p.more()), (Some(2), 2, true));
        // Before 1.3 a found user has no friendly name.
        let p = search_page(&page(crate::Version::V1_2), crate::Version::V1_2).unwrap();
        assert_eq!(p.users[0].label(), "wv:zoe@localhost");
        // The last page: no index, complete; it ends at the findings.
        let last =
            Element::new("Search-Response")
                .with_text("SearchID", "7")
                .with_text("SearchFindings", "5")
                .with_text("CompletionFlag", "T")
                .with(Element::new("SearchResult").with(
                    Element::new("GroupList").with_text("GroupID", "wv:alice/chess@localhost"),
                ));
        let p = search_page(&last, crate::Version::V1_1).unwrap();
        assert_eq!(p.groups, ["wv:alice/chess@localhost"]);
        assert_eq!((p.start(), p.more()), (Some(4), false));
        assert!(search_page(&Element::new("Status"), crate::Version::V1_3).is_err());
    }

    #[test]
    fn public_profiles_typed() {
        let r = Element::new("GetPublicProfile-Response").with(
            Element::new("PublicProfile")
                .with_text("UserID", "wv:sun@localhost")
                .with(
                    Element::new("Property")
                        .with_text("Name", "PP_AGE")
                        .with_text("Value", "1990-04"),
                ),
        );
        let p = public_profiles(&r).unwrap();
        assert_eq!(p[0].user_id.as_deref(), Some("wv:sun@localhost"));
        assert_eq!(p[0].get("PP_AGE"), Some("1990-04"));
    }
}
