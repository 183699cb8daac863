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
    #[error("not logged in (session {} unknown or expired)", crate::ids::log_tag(.0))]
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
    /// SSP: a peer named an acting user (or service) outside its own
    /// domain; no server speaks for users it does not host.
    #[error("acting user is not of the peer domain {0}")]
    ForeignActor(String),
    /// SSP: a peer did not answer a request a client waits on (remote
    /// GetPresence) within `federation.answer_timeout_ms`.
    #[error("the server of {0} did not answer in time")]
    PeerNoAnswer(String),
    /// The home server of a group in another domain refused a request
    /// made through it (its code is passed on to the client).
    #[error("the server of {peer} refused: {code} {description}")]
    PeerRefused {
        peer: String,
        code: u16,
        description: String,
    },
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
    /// The recipient's queue holds as much as the offline quota allows.
    #[error("message queue of {0} is full")]
    ImQueueFull(String),
    /// The sender's rate limit: the next message fits in `retry_ms`.
    #[error("sending too fast; try again in {} s", retry_ms.div_ceil(1000))]
    SendingTooFast { retry_ms: u64 },
    #[error("no location published by {0}")]
    NoLocation(String),
    #[error(transparent)]
    Map(#[from] crate::map::MapError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("busy: {0}")]
    Busy(String),
    /// Issue 19: past what the server can deliver; a send is refused
    /// before anything is stored (im/admit.rs).
    #[error("server overloaded ({what}); try again in {retry_after_secs} s")]
    Overloaded { what: String, retry_after_secs: u64 },
    /// Too many failed logins for the user ID or from the address: refused
    /// until the lockout ends, without checking the credentials.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    LoginThrottled { retry_after_secs: u64 },
    /// Issue 19: a password that must be checked with Argon2 waited its
    /// longest for a turn (a storm of first logins); try again later.
    #[error("password checks are busy; try again in {retry_after_secs} s")]
    PasswordChecksBusy { retry_after_secs: u64 },
    /// SYM-*: a system message the user was never sent.
    #[error("no system message {0} for this user")]
    UnknownSystemMessage(String),
    /// SYM-11: the level of service the user's answer granted leaves this
    /// function out.
    #[error("{0} is not part of the level of service granted")]
    LevelOfService(String),
    /// SYM-14: the login-time system messages were not answered in time.
    #[error("the system messages were not answered in time; access denied")]
    SystemMessageTimeout,
    /// SYM-3: the operator does not serve this protocol version.
    #[error("CSP {0} is not supported by this service")]
    VersionRefused(String),
    /// BASE-SRCH: a SearchID the session does not have open (never
    /// given, stopped or expired).
    #[error("no open search {0}")]
    InvalidSearchId(String),
    /// BASE-SRCH: a SearchIndex past the findings.
    #[error("search index {index} is past the {findings} findings")]
    InvalidSearchIndex { index: u64, findings: u64 },
    /// BASE-SRCH: the store did not answer within the search timeout.
    #[error("the search took too long")]
    SearchTimeout,
    /// PPR-UC: more findings than the server hands out; refine.
    #[error("more than {0} users or groups match; refine the search")]
    TooManyHits(usize),
    /// SRC-UC: wildcards, or criteria that match everyone.
    #[error("search too broad: {0}")]
    SearchTooBroad(String),
    /// Over the user's search rate (`search.rate_per_sec`).
    #[error("too many searches; try again in {} s", retry_ms.div_ceil(1000).max(1))]
    SearchingTooFast { retry_ms: u64 },
    /// PPR-6: profile search needs the searcher's own mandatory profile
    /// fields.
    #[error("complete your public profile first: {0}")]
    ProfileIncomplete(String),
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
            // and CSP has a code for it. The operator may choose 409
            // (`login.hide_unknown_users`, applied in session/login.rs);
            // the cost is the same either way (a dummy hash is checked).
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
            CoreError::ForeignActor(_) => 901,
            CoreError::PeerNoAnswer(_) => 504,
            // Passed on as the peer gave it, when it is a code at all.
            CoreError::PeerRefused { code, .. } if (300..1000).contains(code) => *code,
            CoreError::PeerRefused { .. } => 500,
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
            // CSP has no code of its own for a temporary refusal of a
            // login; 503 says "not now" and, in 1.3, the Result's
            // TryAgainTimeout says when (docs/protocol.md, Login).
            CoreError::LoginThrottled { .. } => 503,
            CoreError::PasswordChecksBusy { .. } => 503,
            // Refused early instead of taken and left undelivered; 1.3
            // says when to try again.
            CoreError::Overloaded { .. } => 503,
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
            CoreError::ImQueueFull(_) => 507,
            // A temporary refusal: 1.3 adds TryAgainTimeout.
            CoreError::SendingTooFast { .. } => 503,
            // GetMap by UserID: authorized, but nothing to draw.
            CoreError::NoLocation(_) => 404,
            CoreError::Map(crate::map::MapError::Coordinate(_)) => 402,
            // Not even the smallest map fits the client's message size.
            CoreError::Map(crate::map::MapError::TooLarge { .. }) => 432,
            CoreError::Map(_) => 500,
            CoreError::Store(StoreError::Conflict(_)) => 400,
            CoreError::Store(_) | CoreError::Internal(_) => 500,
            CoreError::UnknownSystemMessage(_) => 404,
            // "Operation requires a higher class of service".
            CoreError::LevelOfService(_) => 903,
            CoreError::SystemMessageTimeout => 408,
            CoreError::VersionRefused(_) => 505,
            CoreError::InvalidSearchId(_) => 424,
            CoreError::InvalidSearchIndex { .. } => 425,
            CoreError::SearchTimeout => 535,
            CoreError::TooManyHits(_) => 536,
            CoreError::SearchTooBroad(_) => 537,
            CoreError::ProfileIncomplete(_) => 403,
            CoreError::SearchingTooFast { .. } => 503,
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
            CoreError::PeerRefused { description, .. } if !description.is_empty() => {
                description.clone()
            }
            other => other.to_string(),
        }
    }

    /// Seconds after which the client may try again (the 1.3 Result's
    /// TryAgainTimeout), for the errors that have one.
    pub fn try_again_secs(&self) -> Option<u64> {
        match self {
            CoreError::LoginThrottled { retry_after_secs }
            | CoreError::PasswordChecksBusy { retry_after_secs }
            | CoreError::Overloaded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            CoreError::SendingTooFast { retry_ms } | CoreError::SearchingTooFast { retry_ms } => {
                Some(retry_ms.div_ceil(1000).max(1))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod table {
    use super::*;
    use crate::map::MapError;

    fn s() -> String {
        "x".into()
    }

    /// Every error the core can return, with the code a client gets. The
    /// `match` below stops compiling when a variant is added without a row.
    fn rows() -> Vec<(CoreError, u16)> {
        use CoreError as E;
        vec![
            (E::BadRequest(s()), 400),
            (E::BadParameter(s()), 402),
            (E::InvalidPassword(s()), 409),
            (E::UnknownUser(s()), 531),
            (E::NotLoggedIn(s()), 604),
            (E::SessionExpired, 600),
            (E::ForcedLogout, 601),
            (
                E::ClientAlreadyLoggedIn {
                    user: s(),
                    client: s(),
                },
                603,
            ),
            (
                E::SessionLimit {
                    user: s(),
                    limit: 1,
                },
                603,
            ),
            (E::NoDigestSchema(s()), 543),
            (E::NotImplemented(s()), 501),
            (E::ServiceNotAgreed(s()), 506),
            (E::UnknownPrimitive(s()), 400),
            (E::DomainNotSupported(s()), 516),
            (E::ForeignActor(s()), 901),
            (E::PeerNoAnswer(s()), 504),
            (
                E::PeerRefused {
                    peer: s(),
                    code: 809,
                    description: s(),
                },
                809,
            ),
            (E::ValueNotAccepted(s()), 605),
            (E::Forbidden(s()), 403),
            (E::UnknownAttribute(s()), 750),
            (E::InvalidPresenceValue(s()), 751),
            (E::ListNotFound(s()), 700),
            (E::ListExists(s()), 701),
            (E::BadListProperty(s()), 752),
            (
                E::TooManyLists {
                    user: s(),
                    limit: 1,
                },
                753,
            ),
            (
                E::TooManyContacts {
                    list: s(),
                    limit: 1,
                },
                754,
            ),
            (E::UnknownSegment(s()), 420),
            (E::GroupNotFound(s()), 800),
            (E::GroupExists(s()), 801),
            (E::BadGroupProperty(s()), 806),
            (E::AlreadyJoined(s()), 807),
            (E::NotJoined(s()), 808),
            (E::JoinRejected(s()), 809),
            (E::ScreenNameInUse(s()), 811),
            (E::PrivateMessagingDisabled(s()), 812),
            (E::GroupPrivileges(s()), 816),
            (E::GroupFull(s()), 817),
            (
                E::TooManyGroups {
                    user: s(),
                    limit: 1,
                },
                814,
            ),
            (E::ServerGroupLimit(1), 815),
            (E::HistoryNotSupported, 821),
            (E::UnauthorizedMembership(s()), 431),
            (E::InvalidInvitation(s()), 423),
            (E::ImUnsupportedMediaType(s()), 415),
            (E::ImTooLarge { size: 2, limit: 1 }, 402),
            (E::ImUnknownMessage(s()), 426),
            (E::ImRecipientNotLoggedIn(s()), 533),
            (E::ImQueueFull(s()), 507),
            (E::SendingTooFast { retry_ms: 1 }, 503),
            (E::NoLocation(s()), 404),
            (E::Map(MapError::Coordinate(s())), 402),
            (E::Map(MapError::TooLarge { size: 2, limit: 1 }), 432),
            (E::Map(MapError::Config(s())), 500),
            (E::Map(MapError::Render(s())), 500),
            (E::Store(StoreError::Conflict(s())), 400),
            (E::Store(StoreError::Backend(s())), 500),
            (E::Busy(s()), 503),
            (
                E::LoginThrottled {
                    retry_after_secs: 1,
                },
                503,
            ),
            (
                E::PasswordChecksBusy {
                    retry_after_secs: 1,
                },
                503,
            ),
            (
                E::Overloaded {
                    what: s(),
                    retry_after_secs: 1,
                },
                503,
            ),
            (E::Internal(s()), 500),
            (E::UnknownSystemMessage(s()), 404),
            (E::LevelOfService(s()), 903),
            (E::SystemMessageTimeout, 408),
            (E::VersionRefused(s()), 505),
            (E::InvalidSearchId(s()), 424),
            (
                E::InvalidSearchIndex {
                    index: 1,
                    findings: 1,
                },
                425,
            ),
            (E::SearchTimeout, 535),
            (E::TooManyHits(1), 536),
            (E::SearchTooBroad(s()), 537),
            (E::ProfileIncomplete(s()), 403),
            (E::SearchingTooFast { retry_ms: 1 }, 503),
        ]
    }

    #[allow(dead_code)]
    fn every_variant_has_a_row(e: &CoreError) {
        use CoreError as E;
        match e {
            E::BadRequest(_)
            | E::BadParameter(_)
            | E::InvalidPassword(_)
            | E::UnknownUser(_)
            | E::NotLoggedIn(_)
            | E::SessionExpired
            | E::ForcedLogout
            | E::ClientAlreadyLoggedIn { .. }
            | E::SessionLimit { .. }
            | E::NoDigestSchema(_)
            | E::NotImplemented(_)
            | E::ServiceNotAgreed(_)
            | E::UnknownPrimitive(_)
            | E::DomainNotSupported(_)
            | E::ForeignActor(_)
            | E::PeerNoAnswer(_)
            | E::PeerRefused { .. }
            | E::ValueNotAccepted(_)
            | E::Forbidden(_)
            | E::UnknownAttribute(_)
            | E::InvalidPresenceValue(_)
            | E::ListNotFound(_)
            | E::ListExists(_)
            | E::BadListProperty(_)
            | E::TooManyLists { .. }
            | E::TooManyContacts { .. }
            | E::UnknownSegment(_)
            | E::GroupNotFound(_)
            | E::GroupExists(_)
            | E::BadGroupProperty(_)
            | E::AlreadyJoined(_)
            | E::NotJoined(_)
            | E::JoinRejected(_)
            | E::ScreenNameInUse(_)
            | E::PrivateMessagingDisabled(_)
            | E::GroupPrivileges(_)
            | E::GroupFull(_)
            | E::TooManyGroups { .. }
            | E::ServerGroupLimit(_)
            | E::HistoryNotSupported
            | E::UnauthorizedMembership(_)
            | E::InvalidInvitation(_)
            | E::ImUnsupportedMediaType(_)
            | E::ImTooLarge { .. }
            | E::ImUnknownMessage(_)
            | E::ImRecipientNotLoggedIn(_)
            | E::ImQueueFull(_)
            | E::SendingTooFast { .. }
            | E::NoLocation(_)
            | E::Map(
                MapError::Coordinate(_)
                | MapError::TooLarge { .. }
                | MapError::Config(_)
                | MapError::Render(_),
            )
            | E::Store(StoreError::Conflict(_) | StoreError::Backend(_))
            | E::Busy(_)
            | E::LoginThrottled { .. }
            | E::PasswordChecksBusy { .. }
            | E::Overloaded { .. }
            | E::UnknownSystemMessage(_)
            | E::LevelOfService(_)
            | E::SystemMessageTimeout
            | E::VersionRefused(_)
            | E::InvalidSearchId(_)
            | E::InvalidSearchIndex { .. }
            | E::SearchTimeout
            | E::TooManyHits(_)
            | E::SearchTooBroad(_)
            | E::ProfileIncomplete(_)
            | E::SearchingTooFast { .. }
            | E::Internal(_) => {}
        }
    }

    #[test]
    fn every_error_maps_to_its_csp_status_code() {
        for (e, code) in rows() {
            assert_eq!(e.status_code(), code, "{e:?}");
            // The Status a client sees carries that code, and a
            // description that never leaks internals.
            let st = crate::reply::error_status(&e);
            assert_eq!(
                st.path(&["Result", "Code"]).map(|c| c.text.as_str()),
                Some(code.to_string().as_str()),
                "{e:?}"
            );
            let desc = e.description();
            assert!(!desc.is_empty(), "{e:?}");
            if code == 500 {
                assert_eq!(desc, "Internal server error", "{e:?}");
            }
        }
    }
}
