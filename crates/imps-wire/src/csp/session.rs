//! Session and fundamental primitives: Login, Logout, KeepAlive, Polling,
//! ClientCapability, Service, Status and Disconnect.

use super::{
    Builder, ClientId, CspResult, SystemMessageList, SystemMessageResponseList, boolean,
    expect_kind, is_v13, number, primitive, required, text,
};
use crate::{Element, PrimitiveKind, Version, WireError};

/// `Login-Request{UserID?, ClientID, ApplicationID? (1.3), Password?,
/// DigestBytes?, DigestSchema*, SessionID?, TimeToLive?, SessionCookie?,
/// SystemMessageResponseList? (1.3), Functions? (1.3), CapabilityList?
/// (1.3)}`.
///
/// A 2-way login carries `Password`; the first leg of a 4-way login
/// carries the `DigestSchema`s the client supports, the second leg
/// `DigestBytes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginRequest {
    /// Missing in an MSISDN login.
    pub user_id: Option<String>,
    pub client_id: ClientId,
    /// 1.3.
    pub application_id: Option<String>,
    pub password: Option<String>,
    pub digest_bytes: Option<String>,
    pub digest_schemas: Vec<String>,
    pub session_id: Option<String>,
    /// Seconds.
    pub time_to_live: Option<u64>,
    pub session_cookie: Option<String>,
    /// 1.3: answers to the system messages of the previous
    /// Login-Response.
    pub system_message_response_list: Option<SystemMessageResponseList>,
    /// 1.3, kept as a tree.
    pub functions: Option<Element>,
    /// 1.3, kept as a tree.
    pub capability_list: Option<Element>,
    pub other: Vec<Element>,
}

impl LoginRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<LoginRequest, WireError> {
        expect_kind(e, PrimitiveKind::LoginRequest)?;
        let v13 = is_v13(v);
        let mut r = LoginRequest::default();
        let mut client_id = None;
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if r.user_id.is_none() => r.user_id = Some(text(c)?),
                "ClientID" if client_id.is_none() => {
                    client_id = Some(ClientId::from_element(c, v)?);
                }
                "ApplicationID" if v13 && r.application_id.is_none() => {
                    r.application_id = Some(text(c)?);
                }
                "Password" if r.password.is_none() => r.password = Some(text(c)?),
                "DigestBytes" if r.digest_bytes.is_none() => r.digest_bytes = Some(text(c)?),
                "DigestSchema" => r.digest_schemas.push(text(c)?),
                "SessionID" if r.session_id.is_none() => r.session_id = Some(text(c)?),
                "TimeToLive" if r.time_to_live.is_none() => r.time_to_live = Some(number(c)?),
                "SessionCookie" if r.session_cookie.is_none() => {
                    r.session_cookie = Some(text(c)?);
                }
                "SystemMessageResponseList" if v13 && r.system_message_response_list.is_none() => {
                    r.system_message_response_list =
                        Some(SystemMessageResponseList::from_element(c, v)?);
                }
                "Functions" if v13 && r.functions.is_none() => r.functions = Some(c.clone()),
                "CapabilityList" if v13 && r.capability_list.is_none() => {
                    r.capability_list = Some(c.clone());
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.client_id = required(client_id, e, "ClientID")?;
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let v13 = is_v13(v);
        Builder::new(PrimitiveKind::LoginRequest.name())
            .opt_text("UserID", self.user_id.as_deref())
            .child(self.client_id.to_element(v))
            .when(v13, |b| {
                b.opt_text("ApplicationID", self.application_id.as_deref())
            })
            .opt_text("Password", self.password.as_deref())
            .opt_text("DigestBytes", self.digest_bytes.as_deref())
            .texts("DigestSchema", &self.digest_schemas)
            .opt_text("SessionID", self.session_id.as_deref())
            .number("TimeToLive", self.time_to_live)
            .opt_text("SessionCookie", self.session_cookie.as_deref())
            .when(v13, |b| {
                b.opt_child(
                    self.system_message_response_list
                        .as_ref()
                        .map(|l| l.to_element(v)),
                )
                .opt_child(self.functions.clone())
                .opt_child(self.capability_list.clone())
            })
            .finish(&self.other)
    }
}
primitive!(LoginRequest);

/// `Login-Response{UserID?, ClientID?, Password?, Result, Nonce?,
/// DigestSchema?, SessionID?, KeepAliveTime?, CapabilityRequest?,
/// Functions? (1.3), AgreedCapabilityList? (1.3)}`.
///
/// A digest challenge has `Nonce` and `DigestSchema` and no `SessionID`;
/// a successful login has `SessionID`.
///
/// 1.3 system messages sent during login belong in the `Result`
/// (`result.system_message_list`). A `SystemMessageList` written beside
/// the Result instead is read into the Result when that has none, and
/// written back inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginResponse {
    pub user_id: Option<String>,
    pub client_id: Option<ClientId>,
    pub password: Option<String>,
    pub result: CspResult,
    pub nonce: Option<String>,
    pub digest_schema: Option<String>,
    pub session_id: Option<String>,
    /// Seconds.
    pub keep_alive_time: Option<u64>,
    pub capability_request: Option<bool>,
    /// 1.3, kept as a tree.
    pub functions: Option<Element>,
    /// 1.3, kept as a tree.
    pub agreed_capability_list: Option<Element>,
    pub other: Vec<Element>,
}

impl LoginResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<LoginResponse, WireError> {
        expect_kind(e, PrimitiveKind::LoginResponse)?;
        let v13 = is_v13(v);
        let mut r = LoginResponse::default();
        let mut result: Option<CspResult> = None;
        // A SystemMessageList beside the Result is read only when the
        // Result has none of its own.
        let mut take_beside = v13
            && e.child(CspResult::NAME)
                .is_none_or(|res| res.child(SystemMessageList::NAME).is_none());
        let mut beside = None;
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if r.user_id.is_none() => r.user_id = Some(text(c)?),
                "ClientID" if r.client_id.is_none() => {
                    r.client_id = Some(ClientId::from_element(c, v)?);
                }
                "Password" if r.password.is_none() => r.password = Some(text(c)?),
                "Result" if result.is_none() => result = Some(CspResult::from_element(c, v)?),
                "Nonce" if r.nonce.is_none() => r.nonce = Some(text(c)?),
                "DigestSchema" if r.digest_schema.is_none() => {
                    r.digest_schema = Some(text(c)?);
                }
                "SessionID" if r.session_id.is_none() => r.session_id = Some(text(c)?),
                "KeepAliveTime" if r.keep_alive_time.is_none() => {
                    r.keep_alive_time = Some(number(c)?);
                }
                "CapabilityRequest" if r.capability_request.is_none() => {
                    r.capability_request = Some(boolean(c)?);
                }
                "Functions" if v13 && r.functions.is_none() => r.functions = Some(c.clone()),
                "AgreedCapabilityList" if v13 && r.agreed_capability_list.is_none() => {
                    r.agreed_capability_list = Some(c.clone());
                }
                "SystemMessageList" if take_beside => {
                    take_beside = false;
                    beside = Some(SystemMessageList::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.result = required(result, e, "Result")?;
        if beside.is_some() {
            r.result.system_message_list = beside;
        }
        Ok(r)
    }

    /// The system messages of a 1.3 login, if any (they are in the Result).
    pub fn system_message_list(&self) -> Option<&SystemMessageList> {
        self.result.system_message_list.as_ref()
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::LoginResponse.name())
            .opt_text("UserID", self.user_id.as_deref())
            .opt_child(self.client_id.as_ref().map(|c| c.to_element(v)))
            .opt_text("Password", self.password.as_deref())
            .child(self.result.to_element(v))
            .opt_text("Nonce", self.nonce.as_deref())
            .opt_text("DigestSchema", self.digest_schema.as_deref())
            .opt_text("SessionID", self.session_id.as_deref())
            .number("KeepAliveTime", self.keep_alive_time)
            .boolean("CapabilityRequest", self.capability_request)
            .when(is_v13(v), |b| {
                b.opt_child(self.functions.clone())
                    .opt_child(self.agreed_capability_list.clone())
            })
            .finish(&self.other)
    }
}
primitive!(LoginResponse);

/// `ClientCapability-Request{ClientID? (1.1), CapabilityList}`. The
/// capability list stays a tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientCapabilityRequest {
    /// 1.1 only.
    pub client_id: Option<ClientId>,
    pub capability_list: Element,
    pub other: Vec<Element>,
}

impl ClientCapabilityRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<ClientCapabilityRequest, WireError> {
        expect_kind(e, PrimitiveKind::ClientCapabilityRequest)?;
        let mut client_id = None;
        let mut capability_list = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "ClientID" if v == Version::V1_1 && client_id.is_none() => {
                    client_id = Some(ClientId::from_element(c, v)?);
                }
                "CapabilityList" if capability_list.is_none() => {
                    capability_list = Some(c.clone());
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(ClientCapabilityRequest {
            client_id,
            capability_list: required(capability_list, e, "CapabilityList")?,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::ClientCapabilityRequest.name())
            .when(v == Version::V1_1, |b| {
                b.opt_child(self.client_id.as_ref().map(|c| c.to_element(v)))
            })
            .child(self.capability_list.clone())
            .finish(&self.other)
    }
}
primitive!(ClientCapabilityRequest);

/// `Service-Request{ClientID? (1.1), Functions?, AllFunctionsRequest?}`.
/// The function tree stays a tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRequest {
    /// 1.1 only.
    pub client_id: Option<ClientId>,
    pub functions: Option<Element>,
    pub all_functions_request: Option<bool>,
    pub other: Vec<Element>,
}

impl ServiceRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<ServiceRequest, WireError> {
        expect_kind(e, PrimitiveKind::ServiceRequest)?;
        let mut r = ServiceRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "ClientID" if v == Version::V1_1 && r.client_id.is_none() => {
                    r.client_id = Some(ClientId::from_element(c, v)?);
                }
                "Functions" if r.functions.is_none() => r.functions = Some(c.clone()),
                "AllFunctionsRequest" if r.all_functions_request.is_none() => {
                    r.all_functions_request = Some(boolean(c)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::ServiceRequest.name())
            .when(v == Version::V1_1, |b| {
                b.opt_child(self.client_id.as_ref().map(|c| c.to_element(v)))
            })
            .opt_child(self.functions.clone())
            .boolean("AllFunctionsRequest", self.all_functions_request)
            .finish(&self.other)
    }
}
primitive!(ServiceRequest);

/// `KeepAlive-Request{TimeToLive?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeepAliveRequest {
    /// Seconds.
    pub time_to_live: Option<u64>,
    pub other: Vec<Element>,
}

impl KeepAliveRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<KeepAliveRequest, WireError> {
        expect_kind(e, PrimitiveKind::KeepAliveRequest)?;
        let mut r = KeepAliveRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "TimeToLive" if r.time_to_live.is_none() => r.time_to_live = Some(number(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(PrimitiveKind::KeepAliveRequest.name())
            .number("TimeToLive", self.time_to_live)
            .finish(&self.other)
    }
}
primitive!(KeepAliveRequest);

/// `KeepAlive-Response{Result, KeepAliveTime?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeepAliveResponse {
    pub result: CspResult,
    /// Seconds.
    pub keep_alive_time: Option<u64>,
    pub other: Vec<Element>,
}

impl KeepAliveResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<KeepAliveResponse, WireError> {
        expect_kind(e, PrimitiveKind::KeepAliveResponse)?;
        let mut result = None;
        let mut keep_alive_time = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "Result" if result.is_none() => result = Some(CspResult::from_element(c, v)?),
                "KeepAliveTime" if keep_alive_time.is_none() => {
                    keep_alive_time = Some(number(c)?);
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(KeepAliveResponse {
            result: required(result, e, "Result")?,
            keep_alive_time,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::KeepAliveResponse.name())
            .child(self.result.to_element(v))
            .number("KeepAliveTime", self.keep_alive_time)
            .finish(&self.other)
    }
}
primitive!(KeepAliveResponse);

/// Defines a primitive with no children of its own.
macro_rules! empty_primitive {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $ty {
            /// Whatever the client put inside (normally nothing).
            pub other: Vec<Element>,
        }

        impl $ty {
            pub fn from_element(e: &Element, _v: Version) -> Result<$ty, WireError> {
                expect_kind(e, PrimitiveKind::$ty)?;
                Ok($ty {
                    other: e.children.clone(),
                })
            }

            pub fn to_element(&self, _v: Version) -> Element {
                Builder::new(PrimitiveKind::$ty.name()).finish(&self.other)
            }
        }
        primitive!($ty);
    };
}

empty_primitive!(
    /// `Polling-Request`, empty.
    PollingRequest
);
empty_primitive!(
    /// `Logout-Request`, empty.
    LogoutRequest
);

/// `Disconnect{Result}`: the server ends the session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    pub result: CspResult,
    pub other: Vec<Element>,
}

impl Disconnect {
    pub fn from_element(e: &Element, v: Version) -> Result<Disconnect, WireError> {
        expect_kind(e, PrimitiveKind::Disconnect)?;
        let mut result = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "Result" if result.is_none() => result = Some(CspResult::from_element(c, v)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(Disconnect {
            result: required(result, e, "Result")?,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::Disconnect.name())
            .child(self.result.to_element(v))
            .finish(&self.other)
    }
}
primitive!(Disconnect);

/// `Status{Result, ClientID?}`: the generic answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub result: CspResult,
    pub client_id: Option<ClientId>,
    pub other: Vec<Element>,
}

impl Status {
    /// A Status with this code and description.
    pub fn new(code: u64, description: Option<&str>) -> Status {
        Status {
            result: CspResult::new(code, description),
            ..Status::default()
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<Status, WireError> {
        expect_kind(e, PrimitiveKind::Status)?;
        let mut result = None;
        let mut client_id = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "Result" if result.is_none() => result = Some(CspResult::from_element(c, v)?),
                "ClientID" if client_id.is_none() => {
                    client_id = Some(ClientId::from_element(c, v)?);
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(Status {
            result: required(result, e, "Result")?,
            client_id,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::Status.name())
            .child(self.result.to_element(v))
            .opt_child(self.client_id.as_ref().map(|c| c.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(Status);
