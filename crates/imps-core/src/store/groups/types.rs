//! The records of the groups area, as the core and every backend see
//! them.

/// A member's privilege level in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Admin,
    Mod,
    User,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Admin => "Admin",
            Access::Mod => "Mod",
            Access::User => "User",
        }
    }

    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "Admin" => Some(Access::Admin),
            "Mod" => Some(Access::Mod),
            "User" => Some(Access::User),
            _ => None,
        }
    }
}

/// A group's welcome note, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeNote {
    pub content_type: String,
    pub encoding: Option<String>,
    pub data: String,
}

/// A group. `id` is the canonical `wv:owner/name@domain`, lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: String,
    /// The creating user (always an admin of a public group).
    pub owner: String,
    /// A private group conversation (PGC-*).
    pub private: bool,
    /// Group properties by canonical name, sorted by name.
    pub props: Vec<(String, String)>,
    pub welcome: Option<WelcomeNote>,
    pub created_ms: u64,
}

impl GroupRecord {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A user joined to a group from one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedUser {
    pub user: String,
    /// Screen name, unique in the group ignoring case.
    pub sname: String,
    pub session_id: String,
    /// Wants GroupChangeNotice (SubscribeNotification / SubscribeGroupNotice).
    pub subscribed: bool,
    /// The user's own ShowID property: others may see the UserID.
    pub show_id: bool,
    pub joined_ms: u64,
}

/// What an attempt to add a joined row found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined,
    /// The user already has a joined row (returned as it is).
    AlreadyJoined(JoinedUser),
    /// Another user holds this screen name (ignoring case).
    ScreenNameTaken,
    /// The group has `max` joined users already.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    /// Invited to a private group (PGC-9).
    Invited,
    /// Dropped out without leaving: may rejoin until `until_ms` (PGC-16).
    Rejoin,
}

impl PassKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PassKind::Invited => "I",
            PassKind::Rejoin => "R",
        }
    }

    pub fn parse(s: &str) -> Option<PassKind> {
        match s {
            "I" => Some(PassKind::Invited),
            "R" => Some(PassKind::Rejoin),
            _ => None,
        }
    }
}

/// Permission for one user to join one private group without anything
/// else; used up by the join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPass {
    pub user: String,
    pub kind: PassKind,
    /// `None`: until used or the group goes.
    pub until_ms: Option<u64>,
}

/// An invitation sent to one invitee, kept until answered or cancelled so
/// the answer reaches the inviter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    pub invite_id: String,
    pub invitee: String,
    pub inviter: String,
    /// GR, IM, PR, SC (or EC/EG).
    pub kind: String,
    pub group_id: Option<String>,
    pub note: Option<String>,
    /// The inviter's screen name in the group, when given.
    pub sname: Option<String>,
    /// Shared content URLs (SC).
    pub urls: Vec<String>,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    /// Pushed to a session of the invitee.
    pub delivered: bool,
}
