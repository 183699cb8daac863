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
    #[error("store: {0}")]
    Store(#[from] StoreError),
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
            CoreError::Store(StoreError::Conflict(_)) => 400,
            CoreError::Store(_) | CoreError::Internal(_) => 500,
        }
    }

    /// The Description sent with the code: short and free of secrets.
    pub fn description(&self) -> String {
        match self {
            CoreError::Store(_) | CoreError::Internal(_) => "Internal server error".into(),
            CoreError::InvalidPassword(_) => "Invalid password".into(),
            other => other.to_string(),
        }
    }
}
