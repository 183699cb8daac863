//! Structures shared by many primitives: `Result` and `DetailedResult`,
//! `ClientID`, `ScreenName`, `User`, `Group`, `Sender` and `Recipient`.

use super::{Builder, SystemMessageList, expect_name, is_v13, number, required, text};
use crate::{Element, Version, WireError};

/// `Result{Code, Description?, DetailedResult*, SystemMessageList?,
/// TryAgainTimeout?}`. The last two are 1.3.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CspResult {
    pub code: u64,
    pub description: Option<String>,
    pub details: Vec<DetailedResult>,
    /// 1.3: system messages the client must see (in a Login-Response,
    /// before the login completes).
    pub system_message_list: Option<SystemMessageList>,
    /// 1.3, seconds.
    pub try_again_timeout: Option<u64>,
    pub other: Vec<Element>,
}

impl CspResult {
    pub const NAME: &'static str = "Result";

    /// A result with a code and an optional description.
    pub fn new(code: u64, description: Option<&str>) -> CspResult {
        CspResult {
            code,
            description: description.map(str::to_string),
            ..CspResult::default()
        }
    }

    /// True for code 200, the only code Android takes as success.
    pub fn is_success(&self) -> bool {
        self.code == 200
    }

    pub fn from_element(e: &Element, v: Version) -> Result<CspResult, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = CspResult::default();
        let mut code = None;
        for c in &e.children {
            match c.name.as_str() {
                "Code" if code.is_none() => code = Some(number(c)?),
                "Description" if r.description.is_none() => r.description = Some(text(c)?),
                "DetailedResult" => r.details.push(DetailedResult::from_element(c, v)?),
                "SystemMessageList" if is_v13(v) && r.system_message_list.is_none() => {
                    r.system_message_list = Some(SystemMessageList::from_element(c, v)?);
                }
                "TryAgainTimeout" if is_v13(v) && r.try_again_timeout.is_none() => {
                    r.try_again_timeout = Some(number(c)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.code = required(code, e, "Code")?;
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .number("Code", Some(self.code))
            .opt_text("Description", self.description.as_deref())
            .children(self.details.iter().map(|d| d.to_element(v)))
            .when(is_v13(v), |b| {
                b.opt_child(self.system_message_list.as_ref().map(|l| l.to_element(v)))
                    .number("TryAgainTimeout", self.try_again_timeout)
            })
            .finish(&self.other)
    }
}

/// `DetailedResult{Code, Description?, then what it is about: UserID*,
/// GroupID*, ScreenName*, MessageID*, ContactList*, Domain* (1.2+)}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DetailedResult {
    pub code: u64,
    pub description: Option<String>,
    pub user_ids: Vec<String>,
    pub group_ids: Vec<String>,
    pub screen_names: Vec<ScreenName>,
    pub message_ids: Vec<String>,
    pub contact_lists: Vec<String>,
    /// 1.2 and later.
    pub domains: Vec<String>,
    pub other: Vec<Element>,
}

impl DetailedResult {
    pub const NAME: &'static str = "DetailedResult";

    pub fn from_element(e: &Element, v: Version) -> Result<DetailedResult, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = DetailedResult::default();
        let mut code = None;
        for c in &e.children {
            match c.name.as_str() {
                "Code" if code.is_none() => code = Some(number(c)?),
                "Description" if r.description.is_none() => r.description = Some(text(c)?),
                "UserID" => r.user_ids.push(text(c)?),
                "GroupID" => r.group_ids.push(text(c)?),
                "ScreenName" => r.screen_names.push(ScreenName::from_element(c, v)?),
                "MessageID" => r.message_ids.push(text(c)?),
                "ContactList" => r.contact_lists.push(text(c)?),
                "Domain" if v >= Version::V1_2 => r.domains.push(text(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        r.code = required(code, e, "Code")?;
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .number("Code", Some(self.code))
            .opt_text("Description", self.description.as_deref())
            .texts("UserID", &self.user_ids)
            .texts("GroupID", &self.group_ids)
            .children(self.screen_names.iter().map(|s| s.to_element(v)))
            .texts("MessageID", &self.message_ids)
            .texts("ContactList", &self.contact_lists)
            .when(v >= Version::V1_2, |b| b.texts("Domain", &self.domains))
            .finish(&self.other)
    }
}

/// `ClientID{URL?, MSISDN?}`: at least one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientId {
    pub url: Option<String>,
    pub msisdn: Option<String>,
    pub other: Vec<Element>,
}

impl ClientId {
    pub const NAME: &'static str = "ClientID";

    /// A ClientID with a URL, the form every client sends.
    pub fn url(url: impl Into<String>) -> ClientId {
        ClientId {
            url: Some(url.into()),
            ..ClientId::default()
        }
    }

    pub fn from_element(e: &Element, _v: Version) -> Result<ClientId, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = ClientId::default();
        for c in &e.children {
            match c.name.as_str() {
                "URL" if r.url.is_none() => r.url = Some(text(c)?),
                "MSISDN" if r.msisdn.is_none() => r.msisdn = Some(text(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        if r.url.is_none() && r.msisdn.is_none() {
            // Old clients put the identifier straight into ClientID.
            let bare = e.text.trim();
            if bare.is_empty() {
                return Err(WireError::Structure(
                    "ClientID has neither URL nor MSISDN".into(),
                ));
            }
            r.url = Some(bare.to_string());
        }
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .opt_text("URL", self.url.as_deref())
            .opt_text("MSISDN", self.msisdn.as_deref())
            .finish(&self.other)
    }
}

/// `ScreenName{SName, GroupID}`: a user's name inside a group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenName {
    pub s_name: String,
    pub group_id: String,
    pub other: Vec<Element>,
}

impl ScreenName {
    pub const NAME: &'static str = "ScreenName";

    pub fn from_element(e: &Element, _v: Version) -> Result<ScreenName, WireError> {
        expect_name(e, Self::NAME)?;
        let mut s_name = None;
        let mut group_id = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "SName" if s_name.is_none() => s_name = Some(text(c)?),
                "GroupID" if group_id.is_none() => group_id = Some(text(c)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(ScreenName {
            s_name: required(s_name, e, "SName")?,
            group_id: required(group_id, e, "GroupID")?,
            other,
        })
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .text("SName", &self.s_name)
            .text("GroupID", &self.group_id)
            .finish(&self.other)
    }
}

/// `User{UserID, FriendlyName? (1.3), ApplicationID? (1.3), ClientID?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub user_id: String,
    /// 1.3.
    pub friendly_name: Option<String>,
    /// 1.3.
    pub application_id: Option<String>,
    pub client_id: Option<ClientId>,
    pub other: Vec<Element>,
}

impl User {
    /// A user named by ID alone.
    pub fn new(user_id: impl Into<String>) -> User {
        User {
            user_id: user_id.into(),
            ..User::default()
        }
    }
}

impl User {
    pub const NAME: &'static str = "User";

    /// A user by ID alone.
    pub fn id(user_id: impl Into<String>) -> User {
        User {
            user_id: user_id.into(),
            ..User::default()
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<User, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = User::default();
        let mut user_id = None;
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if user_id.is_none() => user_id = Some(text(c)?),
                "FriendlyName" if is_v13(v) && r.friendly_name.is_none() => {
                    r.friendly_name = Some(text(c)?);
                }
                "ApplicationID" if is_v13(v) && r.application_id.is_none() => {
                    r.application_id = Some(text(c)?);
                }
                "ClientID" if r.client_id.is_none() => {
                    r.client_id = Some(ClientId::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.user_id = required(user_id, e, "UserID")?;
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .text("UserID", &self.user_id)
            .when(is_v13(v), |b| {
                b.opt_text("FriendlyName", self.friendly_name.as_deref())
                    .opt_text("ApplicationID", self.application_id.as_deref())
            })
            .opt_child(self.client_id.as_ref().map(|c| c.to_element(v)))
            .finish(&self.other)
    }
}

/// What a `Group` names: the group itself, or a member by screen name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Id(String),
    ScreenName(ScreenName),
}

/// `Group{GroupID | ScreenName{SName, GroupID}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub target: GroupRef,
    pub other: Vec<Element>,
}

impl Group {
    pub const NAME: &'static str = "Group";

    /// A group by ID.
    pub fn id(group_id: impl Into<String>) -> Group {
        Group {
            target: GroupRef::Id(group_id.into()),
            other: Vec::new(),
        }
    }

    /// The group's ID, whichever form names it.
    pub fn group_id(&self) -> &str {
        match &self.target {
            GroupRef::Id(id) => id,
            GroupRef::ScreenName(s) => &s.group_id,
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<Group, WireError> {
        expect_name(e, Self::NAME)?;
        let mut target = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "GroupID" if target.is_none() => target = Some(GroupRef::Id(text(c)?)),
                "ScreenName" if target.is_none() => {
                    target = Some(GroupRef::ScreenName(ScreenName::from_element(c, v)?));
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(Group {
            target: required(target, e, "GroupID or ScreenName")?,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        let b = Builder::new(Self::NAME);
        match &self.target {
            GroupRef::Id(id) => b.text("GroupID", id),
            GroupRef::ScreenName(s) => b.child(s.to_element(v)),
        }
        .finish(&self.other)
    }
}

/// Who a `Sender` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    User(User),
    Group(Group),
}

/// `Sender{User | Group}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub party: Party,
    pub other: Vec<Element>,
}

impl Sender {
    pub const NAME: &'static str = "Sender";

    /// A sender that is a user, by ID.
    pub fn user(user_id: impl Into<String>) -> Sender {
        Sender {
            party: Party::User(User::id(user_id)),
            other: Vec::new(),
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<Sender, WireError> {
        expect_name(e, Self::NAME)?;
        let mut party = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "User" if party.is_none() => party = Some(Party::User(User::from_element(c, v)?)),
                "Group" if party.is_none() => {
                    party = Some(Party::Group(Group::from_element(c, v)?));
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(Sender {
            party: required(party, e, "User or Group")?,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        let child = match &self.party {
            Party::User(u) => u.to_element(v),
            Party::Group(g) => g.to_element(v),
        };
        Builder::new(Self::NAME).child(child).finish(&self.other)
    }
}

/// `Recipient{User*, Group*, ContactList*}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub contact_lists: Vec<String>,
    pub other: Vec<Element>,
}

impl Recipient {
    pub const NAME: &'static str = "Recipient";

    /// True when it names nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.contact_lists.is_empty()
    }

    pub fn from_element(e: &Element, v: Version) -> Result<Recipient, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = Recipient::default();
        for c in &e.children {
            match c.name.as_str() {
                "User" => r.users.push(User::from_element(c, v)?),
                "Group" => r.groups.push(Group::from_element(c, v)?),
                "ContactList" => r.contact_lists.push(text(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .children(self.users.iter().map(|u| u.to_element(v)))
            .children(self.groups.iter().map(|g| g.to_element(v)))
            .texts("ContactList", &self.contact_lists)
            .finish(&self.other)
    }
}
