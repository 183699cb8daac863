//! The core's one error type, and its one mapping to IMPS status codes.

use thiserror::Error;

use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("bad parameter: {0}")]
    BadParameter(String),
    #[error("invalid password for {0}")]
    InvalidPassword(String),
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("not logged in (session {0:?} unknown or expired)")]
    NotLoggedIn(String),
    #[error("session expired")]
    SessionExpired,
    #[error("forced logout")]
    ForcedLogout,
    #[error("client {client} already has a session for {user}")]
    ClientAlreadyLoggedIn { user: String, client: String },
    #[error("user {user} has reached the limit of {limit} sessions")]
    SessionLimit { user: String, limit: usize },
    #[error("no matching digest schema (offered: {0})")]
    NoDigestSchema(String),
    #[error("primitive {0} is not implemented")]
    NotImplemented(String),
    #[error("service {0} not agreed for this session")]
    ServiceNotAgreed(String),
    #[error("unknown primitive {0}")]
    UnknownPrimitive(String),
    #[error("domain {0} not served here")]
    DomainNotSupported(String),
    #[error("new value not accepted: {0}")]
    ValueNotAccepted(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("unknown presence attribute {0}")]
    UnknownAttribute(String),
    #[error("invalid presence value: {0}")]
    InvalidPresenceValue(String),
    #[error("contact list {0} does not exist")]
    ListNotFound(String),
    #[error("contact list {0} already exists")]
    ListExists(String),
    #[error("invalid or unsupported contact list property: {0}")]
    BadListProperty(String),
    #[error("{user} has reached the limit of {limit} contact lists")]
    TooManyLists { user: String, limit: usize },
    #[error("{list} would exceed the limit of {limit} entries")]
    TooManyContacts { list: String, limit: usize },
    #[error("no such segmented transaction {0}")]
    UnknownSegment(String),
    #[error("group {0} does not exist")]
    GroupNotFound(String),
    #[error("group {0} already exists")]
    GroupExists(String),
    #[error("invalid or unsupported group property: {0}")]
    BadGroupProperty(String),
    #[error("group {0} is already joined")]
    AlreadyJoined(String),
    #[error("group {0} is not joined")]
    NotJoined(String),
    #[error("rejected from group {0}")]
    JoinRejected(String),
    #[error("screen name {0} is already in use")]
    ScreenNameInUse(String),
    #[error("private messaging is disabled in group {0}")]
    PrivateMessagingDisabled(String),
    #[error("insufficient group privileges: {0}")]
    GroupPrivileges(String),
    #[error("group {0} has the maximum number of joined users")]
    GroupFull(String),
    #[error("{user} has reached the limit of {limit} groups")]
    TooManyGroups { user: String, limit: u64 },
    #[error("the server has reached its limit of {0} groups")]
    ServerGroupLimit(u64),
    #[error("history is not supported")]
    HistoryNotSupported,
    #[error("not authorized to join: {0}")]
    UnauthorizedMembership(String),
    #[error("invalid invitation ID {0}")]
    InvalidInvitation(String),
    #[error("unsupported content type {0}")]
    ImUnsupportedMediaType(String),
    #[error("message too large: {size} bytes, limit {limit}")]
    ImTooLarge { size: u64, limit: u64 },
    #[error("invalid message ID {0}")]
    ImUnknownMessage(String),
    #[error("message recipient {0} not logged in")]
    ImRecipientNotLoggedIn(String),
    #[error("no location published by {0}")]
    NoLocation(String),
    #[error(transparent)]
    Map(#[from] crate::map::MapError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("busy: {0}")]
    Busy(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    /// The IMPS status code a client sees for this error. This is the only
    /// place that decides it.
    pub fn status_code(&self) -> u16 {
        match self {
            CoreError::BadRequest(_) => 400,
            CoreError::BadParameter(_) => 402,
            CoreError::InvalidPassword(_) => 409,
            // Answering 409 for an unknown user too would hide which IDs
            // exist; but clients and operators need to tell the two apart,
            // and CSP has a code for it.
            CoreError::UnknownUser(_) => 531,
            CoreError::NotLoggedIn(_) => 604,
            CoreError::SessionExpired => 600,
            CoreError::ForcedLogout => 601,
            CoreError::ClientAlreadyLoggedIn { .. } => 603,
            CoreError::SessionLimit { .. } => 603,
            CoreError::NoDigestSchema(_) => 543,
            CoreError::NotImplemented(_) => 501,
            CoreError::ServiceNotAgreed(_) => 506,
            CoreError::UnknownPrimitive(_) => 400,
            CoreError::DomainNotSupported(_) => 516,
            CoreError::ValueNotAccepted(_) => 605,
            CoreError::Forbidden(_) => 403,
            CoreError::UnknownAttribute(_) => 750,
            CoreError::InvalidPresenceValue(_) => 751,
            CoreError::ListNotFound(_) => 700,
            CoreError::ListExists(_) => 701,
            CoreError::BadListProperty(_) => 752,
            CoreError::TooManyLists { .. } => 753,
            CoreError::TooManyContacts { .. } => 754,
            // The SegmentID names a TransactionID: an unknown one (expired,
            // dropped, or another session's) is an invalid transaction ID.
            CoreError::UnknownSegment(_) => 420,
            CoreError::Busy(_) => 503,
            CoreError::GroupNotFound(_) => 800,
            CoreError::GroupExists(_) => 801,
            CoreError::BadGroupProperty(_) => 806,
            CoreError::AlreadyJoined(_) => 807,
            CoreError::NotJoined(_) => 808,
            CoreError::JoinRejected(_) => 809,
            CoreError::ScreenNameInUse(_) => 811,
            CoreError::PrivateMessagingDisabled(_) => 812,
            CoreError::GroupPrivileges(_) => 816,
            CoreError::TooManyGroups { .. } => 814,
            CoreError::ServerGroupLimit(_) => 815,
            CoreError::GroupFull(_) => 817,
            CoreError::HistoryNotSupported => 821,
            CoreError::UnauthorizedMembership(_) => 431,
            CoreError::InvalidInvitation(_) => 423,
            CoreError::ImUnsupportedMediaType(_) => 415,
            // CSP has no "too large" code for a request; the Description
            // says what the limit is.
            CoreError::ImTooLarge { .. } => 402,
            CoreError::ImUnknownMessage(_) => 426,
            CoreError::ImRecipientNotLoggedIn(_) => 533,
            // GetMap by UserID: authorized, but nothing to draw.
            CoreError::NoLocation(_) => 404,
            CoreError::Map(crate::map::MapError::Coordinate(_)) => 402,
            // Not even the smallest map fits the client's message size.
            CoreError::Map(crate::map::MapError::TooLarge { .. }) => 432,
            CoreError::Map(_) => 500,
            CoreError::Store(StoreError::Conflict(_)) => 400,
            CoreError::Store(_) | CoreError::Internal(_) => 500,
        }
    }

    /// The Description sent with the code: short and free of secrets.
    pub fn description(&self) -> String {
        match self {
            CoreError::Store(_)
            | CoreError::Internal(_)
            | CoreError::Map(crate::map::MapError::Render(_) | crate::map::MapError::Config(_)) => {
                "Internal server error".into()
            }
            CoreError::InvalidPassword(_) => "Invalid password".into(),
            other => other.to_string(),
        }
    }
}
