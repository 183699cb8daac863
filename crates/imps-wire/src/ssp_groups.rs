//! The SSP group primitives (issue 17, fourth step), typed: what a user of
//! one domain needs to use a group hosted in another. The requests
//! (`JoinGroupRequest`, `LeaveGroupRequest`, `GetGroupMemberRequest`,
//! `GetJoinedUsersRequest`, `GetGroupPropsRequest`, the three of group
//! change subscription, and the managing ones: `DeleteGroupRequest`,
//! `Add`/`RemoveGroupMemberRequest`, `MemberAccessRequest`,
//! `SetGroupPropsRequest`, `RejectListRequest`) share one shape:
//! `groupID=` plus `MetaInfo`, for a join its screen name and flags, for
//! the managing ones a [`GroupContent`]; their answers are typed each.
//! The host's pushes are `GroupChangeNotice` (joins, departures, property
//! changes, to the subscribed users it names), `LeaveGroupIndication` (a
//! user was removed) and a group message, which travels as a
//! `SendMessageRequest` whose `Recipient` holds a `GroupID`.
//!
//! As in [`crate::ssp`], attributes are read ignoring ASCII case, IDs are
//! normalized to `wv:…@domain`, both spellings of `JoinedUser(s)` are
//! read, and group properties travel as in CSP (`Property{Name, Value}`),
//! the one shape both sides already know (docs/protocol.md).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ssp::{MetaInfo, SspStatus, attr, normalize_id, parse_yes_no, yes_no};
use crate::{Element, WireError};

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP: {}", what.into()))
}

fn id_attr(e: &Element, name: &str) -> Result<String, WireError> {
    let raw = attr(e, name).ok_or_else(|| bad(format!("{} without {name}", e.name.as_str())))?;
    normalize_id(raw).ok_or_else(|| bad(format!("{name} {raw:?} is not a wv: ID")))
}

fn yes_no_attr(e: &Element, name: &str) -> Result<bool, WireError> {
    match attr(e, name) {
        Some(v) => parse_yes_no(v).ok_or_else(|| bad(format!("{name} {v:?}"))),
        None => Ok(false),
    }
}

/// A missing Status is taken as success, as for the other responses.
fn status_of(e: &Element) -> Result<SspStatus, WireError> {
    Ok(e.child("Status")
        .map(SspStatus::from_element)
        .transpose()?
        .unwrap_or_else(SspStatus::ok))
}

/// The `userID` of every `UserID`/`User` child of `e`.
fn user_ids(e: Option<&Element>) -> Result<Vec<String>, WireError> {
    let Some(e) = e else {
        return Ok(Vec::new());
    };
    e.children
        .iter()
        .filter(|c| c.name == "UserID" || c.name == "User")
        .map(|u| id_attr(u, "userID"))
        .collect()
}

fn with_user_ids(mut e: Element, child: &str, ids: &[String]) -> Element {
    for u in ids {
        e.children
            .push(Element::new(child).with_attr("userID", u.as_str()));
    }
    e
}

/// The text of every `Name` child of `e`.
fn names(e: Option<&Element>) -> Vec<String> {
    e.map(|e| {
        e.children_named("Name")
            .map(|n| n.text.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn with_names(name: &str, list: &[String]) -> Element {
    let mut e = Element::new(name);
    for n in list {
        e.children.push(Element::text("Name", n.as_str()));
    }
    e
}

/// The group request each primitive name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOp {
    Join,
    Leave,
    GetMembers,
    GetJoinedUsers,
    GetProps,
    /// `SubscribeGroupChangeRequest` (CSP SubscribeGroupNotice, S).
    Subscribe,
    /// `UnsubscribeGroupChangeRequest` (U).
    Unsubscribe,
    /// `GetGroupSubStatusRequest` (G).
    SubStatus,
    /// `DeleteGroupRequest`.
    Delete,
    /// `AddGroupMemberRequest`: [`GroupContent::Users`].
    AddMembers,
    /// `RemoveGroupMemberRequest`: [`GroupContent::Users`].
    RemoveMembers,
    /// `MemberAccessRequest`: [`GroupContent::Access`].
    MemberAccess,
    /// `SetGroupPropsRequest`: [`GroupContent::Props`].
    SetProps,
    /// `RejectListRequest`: [`GroupContent::Rejects`], answered with a
    /// [`RejectListResponse`].
    RejectList,
}

impl GroupOp {
    pub const ALL: [GroupOp; 14] = [
        GroupOp::Join,
        GroupOp::Leave,
        GroupOp::GetMembers,
        GroupOp::GetJoinedUsers,
        GroupOp::GetProps,
        GroupOp::Subscribe,
        GroupOp::Unsubscribe,
        GroupOp::SubStatus,
        GroupOp::Delete,
        GroupOp::AddMembers,
        GroupOp::RemoveMembers,
        GroupOp::MemberAccess,
        GroupOp::SetProps,
        GroupOp::RejectList,
    ];

    /// The request's element name.
    pub fn name(self) -> &'static str {
        match self {
            GroupOp::Join => "JoinGroupRequest",
            GroupOp::Leave => "LeaveGroupRequest",
            GroupOp::GetMembers => "GetGroupMemberRequest",
            GroupOp::GetJoinedUsers => "GetJoinedUsersRequest",
            GroupOp::GetProps => "GetGroupPropsRequest",
            GroupOp::Subscribe => "SubscribeGroupChangeRequest",
            GroupOp::Unsubscribe => "UnsubscribeGroupChangeRequest",
            GroupOp::SubStatus => "GetGroupSubStatusRequest",
            GroupOp::Delete => "DeleteGroupRequest",
            GroupOp::AddMembers => "AddGroupMemberRequest",
            GroupOp::RemoveMembers => "RemoveGroupMemberRequest",
            GroupOp::MemberAccess => "MemberAccessRequest",
            GroupOp::SetProps => "SetGroupPropsRequest",
            GroupOp::RejectList => "RejectListRequest",
        }
    }

    /// The operation a primitive name asks for, if it is one of these.
    pub fn of(name: &str) -> Option<GroupOp> {
        GroupOp::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// What a managing request carries besides the group: user lists for
/// the member and reject lists, access levels, properties. Every list
/// is of `wv:` IDs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GroupContent {
    #[default]
    None,
    /// `UserID*` (add or remove members).
    Users(Vec<String>),
    /// `Admins`/`Moderators`/`OrdinaryUsers{UserID*}`.
    Access {
        admins: Vec<String>,
        moderators: Vec<String>,
        users: Vec<String>,
    },
    /// `GroupProperties?`, `OwnProperties?`, both as in CSP.
    Props {
        properties: Option<Element>,
        own: Option<Element>,
    },
    /// `AddUsers`/`RemoveUsers{UserID*}`.
    Rejects {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

impl GroupContent {
    fn read(op: GroupOp, e: &Element) -> Result<GroupContent, WireError> {
        Ok(match op {
            GroupOp::AddMembers | GroupOp::RemoveMembers => GroupContent::Users(user_ids(Some(e))?),
            GroupOp::MemberAccess => GroupContent::Access {
                admins: user_ids(e.child("Admins"))?,
                moderators: user_ids(e.child("Moderators"))?,
                users: user_ids(e.child("OrdinaryUsers"))?,
            },
            GroupOp::SetProps => GroupContent::Props {
                properties: e.child("GroupProperties").cloned(),
                own: e.child("OwnProperties").cloned(),
            },
            GroupOp::RejectList => GroupContent::Rejects {
                add: user_ids(e.child("AddUsers"))?,
                remove: user_ids(e.child("RemoveUsers"))?,
            },
            _ => GroupContent::None,
        })
    }

    fn write(&self, mut e: Element) -> Element {
        match self {
            GroupContent::None => e,
            GroupContent::Users(ids) => with_user_ids(e, "UserID", ids),
            GroupContent::Access {
                admins,
                moderators,
                users,
            } => {
                for (name, ids) in [
                    ("Admins", admins),
                    ("Moderators", moderators),
                    ("OrdinaryUsers", users),
                ] {
                    if !ids.is_empty() {
                        e = e.with(with_user_ids(Element::new(name), "UserID", ids));
                    }
                }
                e
            }
            GroupContent::Props { properties, own } => {
                e.with_opt(properties.clone()).with_opt(own.clone())
            }
            GroupContent::Rejects { add, remove } => {
                for (name, ids) in [("AddUsers", add), ("RemoveUsers", remove)] {
                    if !ids.is_empty() {
                        e = e.with(with_user_ids(Element::new(name), "UserID", ids));
                    }
                }
                e
            }
        }
    }
}

/// A group request: a user of the sending domain acts on a group of the
/// receiving one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRequest {
    pub op: GroupOp,
    pub meta: MetaInfo,
    /// `wv:owner/name@domain`.
    pub group_id: String,
    /// Join: the screen name asked for.
    pub screen_name: Option<String>,
    /// Join: `joinedListRequest`.
    pub joined_list: bool,
    /// Join: `subscribeNotif`.
    pub subscribe: bool,
    /// What a managing request carries.
    pub content: GroupContent,
}

impl GroupRequest {
    pub fn from_element(e: &Element) -> Result<GroupRequest, WireError> {
        let op = GroupOp::of(e.name.as_str())
            .ok_or_else(|| bad(format!("{} is not a group request", e.name.as_str())))?;
        Ok(GroupRequest {
            op,
            meta: MetaInfo::of(e)?,
            group_id: id_attr(e, "groupID")?,
            screen_name: e
                .child("ScreenName")
                .map(|s| s.text.trim().to_string())
                .filter(|s| !s.is_empty()),
            joined_list: yes_no_attr(e, "joinedListRequest")?,
            subscribe: yes_no_attr(e, "subscribeNotif")?,
            content: GroupContent::read(op, e)?,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new(self.op.name()).with_attr("groupID", self.group_id.as_str());
        if self.op == GroupOp::Join {
            e.set_attr("joinedListRequest", yes_no(self.joined_list));
            e.set_attr("subscribeNotif", yes_no(self.subscribe));
        }
        let e =
            e.with(self.meta.to_element())
                .with_opt(self.screen_name.as_deref().map(|s| {
                    Element::text("ScreenName", s).with_attr("groupID", self.group_id.as_str())
                }));
        self.content.write(e)
    }
}

/// `RejectListResponse`: the outcome and the whole reject list after the
/// change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectListResponse {
    pub status: SspStatus,
    pub users: Vec<String>,
}

impl RejectListResponse {
    pub const NAME: &'static str = "RejectListResponse";

    pub fn from_element(e: &Element) -> Result<RejectListResponse, WireError> {
        Ok(RejectListResponse {
            status: status_of(e)?,
            users: user_ids(e.child("RejectList"))?,
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with(with_user_ids(
                Element::new("RejectList"),
                "UserID",
                &self.users,
            ))
    }
}

/// `JoinGroupResponse`: the outcome, the joined list when asked for, the
/// screen name the joiner got (when the host chose it) and the welcome
/// note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    pub status: SspStatus,
    /// `JoinedList{Name*}`: screen names.
    pub joined: Option<Vec<String>>,
    pub screen_name: Option<String>,
    /// `WelcomeNote` as in CSP.
    pub welcome: Option<Element>,
}

impl JoinGroupResponse {
    pub const NAME: &'static str = "JoinGroupResponse";

    pub fn from_element(e: &Element) -> Result<JoinGroupResponse, WireError> {
        Ok(JoinGroupResponse {
            status: status_of(e)?,
            joined: e.child("JoinedList").map(|l| names(Some(l))),
            screen_name: e
                .child("ScreenName")
                .map(|s| s.text.trim().to_string())
                .filter(|s| !s.is_empty()),
            welcome: e.child("WelcomeNote").cloned(),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with_opt(self.joined.as_deref().map(|j| with_names("JoinedList", j)))
            .with_opt(
                self.screen_name
                    .as_deref()
                    .map(|s| Element::text("ScreenName", s)),
            )
            .with_opt(self.welcome.clone())
    }
}

/// `GetGroupMemberResponse`: the members by access level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetGroupMemberResponse {
    pub status: SspStatus,
    pub admins: Vec<String>,
    pub moderators: Vec<String>,
    pub users: Vec<String>,
}

impl GetGroupMemberResponse {
    pub const NAME: &'static str = "GetGroupMemberResponse";

    pub fn from_element(e: &Element) -> Result<GetGroupMemberResponse, WireError> {
        Ok(GetGroupMemberResponse {
            status: status_of(e)?,
            admins: user_ids(e.child("Admins"))?,
            moderators: user_ids(e.child("Moderators"))?,
            users: user_ids(e.child("OrdinaryUsers"))?,
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with(with_user_ids(
                Element::new("Admins"),
                "UserID",
                &self.admins,
            ))
            .with(with_user_ids(
                Element::new("Moderators"),
                "UserID",
                &self.moderators,
            ))
            .with(with_user_ids(
                Element::new("OrdinaryUsers"),
                "UserID",
                &self.users,
            ))
    }
}

/// One joined user: the screen name, and the UserID when the user shows
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspMapping {
    pub sname: String,
    pub user_id: Option<String>,
}

/// `GetJoinedUsersResponse`: everyone joined, in
/// `JoinedUsers{UserMapList{UserMapping{Mapping{SName, UserID?}*}}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetJoinedUsersResponse {
    pub status: SspStatus,
    pub joined: Vec<SspMapping>,
}

impl GetJoinedUsersResponse {
    pub const NAME: &'static str = "GetJoinedUsersResponse";

    pub fn from_element(e: &Element) -> Result<GetJoinedUsersResponse, WireError> {
        let mut joined = Vec::new();
        // Every list the public implementation writes or reads, each
        // mapping wherever it sits below it.
        for list in e.children.iter().filter(|c| {
            ["JoinedAdmin", "JoinedUser", "JoinedUsers", "JoinedBlocked"]
                .iter()
                .any(|n| c.name.as_str().eq_ignore_ascii_case(n))
        }) {
            collect_mappings(list, &mut joined)?;
        }
        Ok(GetJoinedUsersResponse {
            status: status_of(e)?,
            joined,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut m = Element::new("UserMapping");
        for j in &self.joined {
            m.children.push(
                Element::new("Mapping")
                    .with_text("SName", j.sname.as_str())
                    .with_opt(
                        j.user_id
                            .as_deref()
                            .map(|u| Element::new("UserID").with_attr("userID", u)),
                    ),
            );
        }
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with(Element::new("JoinedUsers").with(Element::new("UserMapList").with(m)))
    }
}

fn collect_mappings(e: &Element, out: &mut Vec<SspMapping>) -> Result<(), WireError> {
    for c in &e.children {
        if c.name == "Mapping" {
            let sname = c
                .child_text("SName")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("Mapping without SName"))?;
            let user_id = match c.child("UserID") {
                Some(u) => Some(match attr(u, "userID") {
                    Some(_) => id_attr(u, "userID")?,
                    None => {
                        normalize_id(&u.text).ok_or_else(|| bad(format!("UserID {:?}", u.text)))?
                    }
                }),
                None => None,
            };
            out.push(SspMapping {
                sname: sname.to_string(),
                user_id,
            });
        } else {
            collect_mappings(c, out)?;
        }
    }
    Ok(())
}

/// `GetGroupPropsResponse`: `GroupProperties` (with the welcome note) and
/// the asker's `OwnProperties`, both as in CSP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetGroupPropsResponse {
    pub status: SspStatus,
    pub properties: Option<Element>,
    pub own: Option<Element>,
}

impl GetGroupPropsResponse {
    pub const NAME: &'static str = "GetGroupPropsResponse";

    pub fn from_element(e: &Element) -> Result<GetGroupPropsResponse, WireError> {
        Ok(GetGroupPropsResponse {
            status: status_of(e)?,
            properties: e.child("GroupProperties").cloned(),
            own: e.child("OwnProperties").cloned(),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with_opt(self.properties.clone())
            .with_opt(self.own.clone())
    }
}

/// `GetGroupSubStatusResponse groupID= subscribed=`: the answer to the
/// three subscription requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSubStatus {
    pub group_id: String,
    pub subscribed: bool,
    pub status: SspStatus,
}

impl GroupSubStatus {
    pub const NAME: &'static str = "GetGroupSubStatusResponse";

    pub fn from_element(e: &Element) -> Result<GroupSubStatus, WireError> {
        Ok(GroupSubStatus {
            group_id: attr(e, "groupID")
                .and_then(normalize_id)
                .unwrap_or_default(),
            subscribed: yes_no_attr(e, "subscribed")?,
            status: status_of(e)?,
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with_attr("groupID", self.group_id.as_str())
            .with_attr("subscribed", yes_no(self.subscribed))
            .with(self.status.to_element())
    }
}

/// `GroupChangeNotice groupID=`: the host tells the subscribed users it
/// names (`User*`) who joined and left (screen names) and which
/// properties changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChangeNotice {
    pub meta: MetaInfo,
    pub group_id: String,
    pub recipients: Vec<String>,
    pub joined: Vec<String>,
    pub left: Vec<String>,
    pub properties: Option<Element>,
}

impl GroupChangeNotice {
    pub const NAME: &'static str = "GroupChangeNotice";

    pub fn from_element(e: &Element) -> Result<GroupChangeNotice, WireError> {
        Ok(GroupChangeNotice {
            meta: MetaInfo::of(e)?,
            group_id: id_attr(e, "groupID")?,
            recipients: e
                .children_named("User")
                .map(|u| id_attr(u, "userID"))
                .collect::<Result<_, _>>()?,
            joined: names(e.child("Joined")),
            left: names(e.child("Left")),
            properties: e.child("GroupProperties").cloned(),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new(Self::NAME)
            .with_attr("groupID", self.group_id.as_str())
            .with(self.meta.to_element());
        e = with_user_ids(e, "User", &self.recipients);
        if !self.joined.is_empty() {
            e.children.push(with_names("Joined", &self.joined));
        }
        if !self.left.is_empty() {
            e.children.push(with_names("Left", &self.left));
        }
        e.with_opt(self.properties.clone())
    }
}

/// `LeaveGroupIndication groupID=`: the host removed `user` from the
/// group (kicked, rejected, the group deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupIndication {
    pub meta: MetaInfo,
    pub group_id: String,
    /// The user removed, `wv:user@domain` (of the receiving domain).
    pub user: String,
    pub status: SspStatus,
    pub reason: Option<String>,
}

impl LeaveGroupIndication {
    pub const NAME: &'static str = "LeaveGroupIndication";

    pub fn from_element(e: &Element) -> Result<LeaveGroupIndication, WireError> {
        let user = e
            .child("User")
            .ok_or_else(|| bad("LeaveGroupIndication without User"))?;
        Ok(LeaveGroupIndication {
            meta: MetaInfo::of(e)?,
            group_id: id_attr(e, "groupID")?,
            user: id_attr(user, "userID")?,
            status: status_of(e)?,
            reason: e
                .child_text("ReasonText")
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with_attr("groupID", self.group_id.as_str())
            .with(self.meta.to_element())
            .with(Element::new("User").with_attr("userID", self.user.as_str()))
            .with(self.status.to_element())
            .with_opt(
                self.reason
                    .as_deref()
                    .map(|r| Element::text("ReasonText", r)),
            )
    }
}

/// A message to a group, as a `SendMessageRequest` whose `Recipient`
/// holds `GroupID groupID=`. From a member's domain to the host: the
/// acting user in MetaInfo and `Sender/User`, no user recipients. From the
/// host to a member's domain: `Recipient` also names that domain's joined
/// users (one request per domain, not per member) and `Sender` shows the
/// speaker by screen name (`Sender{GroupID, SenderDisplay{ScreenName}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    pub meta: MetaInfo,
    pub message_id: String,
    pub group_id: String,
    pub content_type: Option<String>,
    /// The users of the receiving domain to deliver to (host → member).
    pub recipients: Vec<String>,
    /// The speaking user (member → host).
    pub sender: Option<String>,
    /// The speaker's screen name (host → member).
    pub sender_sname: Option<String>,
    pub date_time: Option<String>,
    pub content: Vec<u8>,
}

impl GroupMessage {
    pub const NAME: &'static str = "SendMessageRequest";

    /// Whether a SendMessageRequest is for a group.
    pub fn is_group(e: &Element) -> bool {
        e.name == Self::NAME && e.path(&["MessageInfo", "Recipient", "GroupID"]).is_some()
    }

    pub fn from_element(e: &Element) -> Result<GroupMessage, WireError> {
        let info = e
            .child("MessageInfo")
            .ok_or_else(|| bad("SendMessageRequest without MessageInfo"))?;
        let rcpt = info
            .child("Recipient")
            .ok_or_else(|| bad("MessageInfo without Recipient"))?;
        let group = rcpt
            .child("GroupID")
            .ok_or_else(|| bad("group message without GroupID"))?;
        let data = e
            .child("ContentData")
            .ok_or_else(|| bad("SendMessageRequest without ContentData"))?;
        let content = match attr(data, "encoding") {
            Some(enc) if enc.trim().eq_ignore_ascii_case("base64") => {
                let compact: String = data
                    .text
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                B64.decode(compact.as_bytes())
                    .map_err(|_| bad("ContentData is not base64"))?
            }
            _ => data.text.as_bytes().to_vec(),
        };
        let sender = info.child("Sender");
        Ok(GroupMessage {
            meta: MetaInfo::of(e)?,
            message_id: attr(info, "messageID")
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| bad("MessageInfo without messageID"))?
                .to_string(),
            group_id: id_attr(group, "groupID")?,
            content_type: attr(info, "contentType").map(str::to_string),
            recipients: user_ids(Some(rcpt))?,
            sender: sender
                .and_then(|s| s.child("User"))
                .map(|u| id_attr(u, "userID"))
                .transpose()?,
            sender_sname: sender
                .and_then(|s| s.path(&["SenderDisplay", "ScreenName"]))
                .map(|n| n.text.trim().to_string())
                .filter(|n| !n.is_empty()),
            date_time: info
                .child("DateTime")
                .map(|d| d.text.trim().to_string())
                .filter(|d| !d.is_empty()),
            content,
        })
    }

    pub fn to_element(&self) -> Element {
        let gid = || Element::new("GroupID").with_attr("groupID", self.group_id.as_str());
        let rcpt = with_user_ids(
            Element::new("Recipient").with(gid()),
            "User",
            &self.recipients,
        );
        let mut sender = Element::new("Sender");
        if let Some(u) = &self.sender {
            sender
                .children
                .push(Element::new("User").with_attr("userID", u.as_str()));
        }
        if let Some(n) = &self.sender_sname {
            sender = sender.with(gid()).with(
                Element::new("SenderDisplay").with(
                    Element::text("ScreenName", n.as_str())
                        .with_attr("groupID", self.group_id.as_str()),
                ),
            );
        }
        let mut info = Element::new("MessageInfo").with_attr("messageID", self.message_id.as_str());
        if let Some(t) = &self.content_type {
            info.set_attr("contentType", t.as_str());
        }
        info.set_attr("contentSize", self.content.len().to_string());
        let info = info.with(rcpt).with(sender).with_opt(
            self.date_time
                .as_deref()
                .map(|d| Element::text("DateTime", d).with_attr("format", "iso8601")),
        );
        let mut data =
            Element::text("ContentData", B64.encode(&self.content)).with_attr("encoding", "base64");
        if let Some(t) = &self.content_type {
            data.set_attr("contentType", t.as_str());
        }
        Element::new(Self::NAME)
            .with_attr("deliveryReport", "No")
            .with(self.meta.to_element())
            .with(info)
            .with(data)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ssp::SspUser;

    const G: &str = "wv:alice/chess@a.example";

    fn meta(user: Option<&str>) -> MetaInfo {
        MetaInfo {
            client_originated: user.is_some(),
            service_id: "wv:@b.example".into(),
            user: user.map(|u| SspUser {
                user_id: u.into(),
                friendly_name: None,
                client_id: None,
            }),
        }
    }

    /// Through XML bytes and back.
    fn xml(e: &Element) -> Element {
        crate::xml::decode(&crate::xml::encode(e), &crate::Limits::default()).unwrap()
    }

    #[test]
    fn every_group_request_round_trips() {
        for op in GroupOp::ALL {
            let join = op == GroupOp::Join;
            let r = GroupRequest {
                op,
                meta: meta(Some("wv:bob@b.example")),
                group_id: G.into(),
                screen_name: join.then(|| "bobby".into()),
                joined_list: join,
                subscribe: join,
                content: match op {
                    GroupOp::AddMembers | GroupOp::RemoveMembers => GroupContent::Users(vec![
                        "wv:carol@a.example".into(),
                        "wv:bob@b.example".into(),
                    ]),
                    GroupOp::MemberAccess => GroupContent::Access {
                        admins: vec!["wv:bob@b.example".into()],
                        moderators: vec![],
                        users: vec!["wv:carol@a.example".into()],
                    },
                    GroupOp::SetProps => GroupContent::Props {
                        properties: Some(
                            Element::new("GroupProperties").with(
                                Element::new("Property")
                                    .with_text("Name", "Topic")
                                    .with_text("Value", "endgames"),
                            ),
                        ),
                        own: None,
                    },
                    GroupOp::RejectList => GroupContent::Rejects {
                        add: vec!["wv:dave@a.example".into()],
                        remove: vec!["wv:eve@c.example".into()],
                    },
                    _ => GroupContent::None,
                },
            };
            let e = xml(&r.to_element());
            assert_eq!(e.name.as_str(), op.name());
            assert_eq!(GroupOp::of(op.name()), Some(op));
            assert_eq!(GroupRequest::from_element(&e).unwrap(), r);
        }
    }

    #[test]
    fn foreign_spellings_are_read() {
        let e = Element::new("JoinGroupRequest")
            .with_attr("GROUPID", "Alice/Chess@A.Example")
            .with_attr("joinedlistrequest", "T")
            .with(meta(Some("wv:bob@b.example")).to_element());
        let r = GroupRequest::from_element(&e).unwrap();
        assert_eq!(r.group_id, "wv:Alice/Chess@a.example");
        assert!(r.joined_list && !r.subscribe);
        // The public implementation writes JoinedUser and userid=.
        let e = Element::new("GetJoinedUsersResponse").with(
            Element::new("JoinedUser").with(
                Element::new("UserMapList").with(
                    Element::new("UserMapping").with(
                        Element::new("Mapping")
                            .with_text("SName", "ally")
                            .with(Element::new("UserID").with_attr("userid", "alice@A.example")),
                    ),
                ),
            ),
        );
        let r = GetJoinedUsersResponse::from_element(&e).unwrap();
        assert_eq!(r.status.code, 200, "no Status is success");
        assert_eq!(r.joined[0].user_id.as_deref(), Some("wv:alice@a.example"));
        assert!(GroupRequest::from_element(&Element::new("JoinGroupRequest")).is_err());
    }

    #[test]
    fn managing_requests_read_their_lists_and_reject_list_answers_round_trip() {
        let e = Element::new("MemberAccessRequest")
            .with_attr("groupID", G)
            .with(meta(Some("wv:bob@b.example")).to_element())
            .with(
                Element::new("Moderators")
                    .with(Element::new("UserID").with_attr("USERID", "carol@A.example")),
            );
        let r = GroupRequest::from_element(&e).unwrap();
        assert_eq!(
            r.content,
            GroupContent::Access {
                admins: vec![],
                moderators: vec!["wv:carol@a.example".into()],
                users: vec![],
            }
        );
        // A member list names users by attribute; one that is no ID is refused.
        let e = Element::new("AddGroupMemberRequest")
            .with_attr("groupID", G)
            .with(meta(Some("wv:bob@b.example")).to_element())
            .with(Element::new("UserID").with_attr("userID", "not an id"));
        assert!(GroupRequest::from_element(&e).is_err());
        let r = RejectListResponse {
            status: SspStatus::ok(),
            users: vec!["wv:dave@a.example".into(), "wv:eve@c.example".into()],
        };
        assert_eq!(
            RejectListResponse::from_element(&xml(&r.to_element())).unwrap(),
            r
        );
    }

    #[test]
    fn responses_round_trip() {
        let j = JoinGroupResponse {
            status: SspStatus::ok(),
            joined: Some(vec!["ally".into(), "bobby".into()]),
            screen_name: Some("bobby".into()),
            welcome: Some(Element::new("WelcomeNote").with_text("ContentData", "hi")),
        };
        assert_eq!(
            JoinGroupResponse::from_element(&xml(&j.to_element())).unwrap(),
            j
        );
        let m = GetGroupMemberResponse {
            status: SspStatus::ok(),
            admins: vec!["wv:alice@a.example".into()],
            moderators: vec![],
            users: vec!["wv:bob@b.example".into()],
        };
        assert_eq!(
            GetGroupMemberResponse::from_element(&xml(&m.to_element())).unwrap(),
            m
        );
        let u = GetJoinedUsersResponse {
            status: SspStatus::ok(),
            joined: vec![
                SspMapping {
                    sname: "ally".into(),
                    user_id: None,
                },
                SspMapping {
                    sname: "bobby".into(),
                    user_id: Some("wv:bob@b.example".into()),
                },
            ],
        };
        assert_eq!(
            GetJoinedUsersResponse::from_element(&xml(&u.to_element())).unwrap(),
            u
        );
        let p = GetGroupPropsResponse {
            status: SspStatus {
                code: 800,
                description: Some("no such group".into()),
                details: Vec::new(),
            },
            properties: Some(
                Element::new("GroupProperties").with(
                    Element::new("Property")
                        .with_text("Name", "Topic")
                        .with_text("Value", "chess"),
                ),
            ),
            own: None,
        };
        assert_eq!(
            GetGroupPropsResponse::from_element(&xml(&p.to_element())).unwrap(),
            p
        );
        let s = GroupSubStatus {
            group_id: G.into(),
            subscribed: true,
            status: SspStatus::ok(),
        };
        assert_eq!(
            GroupSubStatus::from_element(&xml(&s.to_element())).unwrap(),
            s
        );
    }

    #[test]
    fn a_partial_success_carries_its_details_and_the_list() {
        use crate::ssp::SspDetail;
        let r = RejectListResponse {
            status: SspStatus {
                code: 201,
                description: Some("Partially successful".into()),
                details: vec![SspDetail {
                    code: 531,
                    description: Some("Unknown user".into()),
                    users: vec!["wv:nobody@a.example".into()],
                    groups: Vec::new(),
                }],
            },
            users: vec!["wv:dave@a.example".into()],
        };
        let e = xml(&r.to_element());
        let d = e.child("Status").unwrap().child("DetailedResult").unwrap();
        assert_eq!(attr(d, "code"), Some("531"));
        assert_eq!(
            d.child("UserID").and_then(|u| attr(u, "userID")),
            Some("wv:nobody@a.example")
        );
        assert_eq!(RejectListResponse::from_element(&e).unwrap(), r);
        // Read as text too, and an ID without a domain kept as given.
        let text = Element::new("Status").with_attr("code", "201").with(
            Element::new("DetailedResult")
                .with_attr("code", "816")
                .with_text("UserID", "WV:Alice@A.example")
                .with_text("UserID", "bare"),
        );
        let st = SspStatus::from_element(&text).unwrap();
        assert_eq!(
            st.details[0].users,
            vec!["wv:Alice@a.example".to_string(), "bare".to_string()]
        );
    }

    #[test]
    fn pushes_round_trip() {
        let n = GroupChangeNotice {
            meta: meta(None),
            group_id: G.into(),
            recipients: vec!["wv:bob@b.example".into(), "wv:carol@b.example".into()],
            joined: vec!["dave".into()],
            left: vec!["eve".into()],
            properties: None,
        };
        assert_eq!(
            GroupChangeNotice::from_element(&xml(&n.to_element())).unwrap(),
            n
        );
        let l = LeaveGroupIndication {
            meta: meta(None),
            group_id: G.into(),
            user: "wv:bob@b.example".into(),
            status: SspStatus {
                code: 809,
                description: None,
                details: Vec::new(),
            },
            reason: Some("rejected".into()),
        };
        assert_eq!(
            LeaveGroupIndication::from_element(&xml(&l.to_element())).unwrap(),
            l
        );
    }

    #[test]
    fn group_messages_round_trip_both_ways() {
        let up = GroupMessage {
            meta: meta(Some("wv:bob@b.example")),
            message_id: "m-1".into(),
            group_id: G.into(),
            content_type: Some("text/plain".into()),
            recipients: vec![],
            sender: Some("wv:bob@b.example".into()),
            sender_sname: None,
            date_time: None,
            content: b"hello".to_vec(),
        };
        let e = xml(&up.to_element());
        assert!(GroupMessage::is_group(&e));
        assert_eq!(GroupMessage::from_element(&e).unwrap(), up);
        let down = GroupMessage {
            meta: meta(None),
            recipients: vec!["wv:bob@b.example".into(), "wv:carol@b.example".into()],
            sender: None,
            sender_sname: Some("ally".into()),
            date_time: Some("2026-01-01T00:00:00Z".into()),
            ..up
        };
        assert_eq!(
            GroupMessage::from_element(&xml(&down.to_element())).unwrap(),
            down
        );
        // A 1:1 message is not a group one.
        let one = Element::new("SendMessageRequest").with(Element::new("MessageInfo").with(
            Element::new("Recipient").with(Element::new("User").with_attr("userID", "wv:x@y")),
        ));
        assert!(!GroupMessage::is_group(&one));
    }
}
