//! The Server-to-Server Protocol envelope (issue 17, first step): the
//! `WV-SSP-Message` document two IMPS domains exchange over HTTP POST,
//! typed.
//!
//! What is here is the outer layer every SSP exchange shares: the root,
//! the `SetupTransaction` of the server association (the secret token, the
//! login with its digest, the login response), the `Session` holding
//! `Transaction`s, and the shared pieces a transaction's primitive carries
//! (`MetaInfo` naming the acting domain and user, `User`, `Status`). A
//! transaction's primitive stays an [`Element`] here; typed primitives
//! come with the routing that uses them.
//!
//! SSP writes data as attributes (`userID="..."`) and booleans as
//! `Yes`/`No`. The one public implementation misspells some attributes
//! and changes the case of others between writing and reading, so input
//! attributes are matched ignoring ASCII case, `procotolVersion` is read as
//! `protocolVersion`, and user IDs are read with or without `wv:` and with
//! the domain in any case; output is always in one form (docs/protocol.md,
//! "Server-to-server protocol").

use crate::{Element, WireError};

/// The namespace of the root element in SSP 1.3.
pub const SSP_NS: &str = "http://www.openmobilealliance.org/DTD/WV-SSP1.3";
/// The HTTP content type of an SSP document.
pub const SSP_CONTENT_TYPE: &str = "application/vnd.wv.ssp+xml";
/// The root element's name.
pub const ROOT: &str = "WV-SSP-Message";

/// Whether a transaction asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Request,
    Response,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Request => "Request",
            Mode::Response => "Response",
        }
    }

    fn parse(s: &str) -> Result<Mode, WireError> {
        if s.eq_ignore_ascii_case("request") {
            Ok(Mode::Request)
        } else if s.eq_ignore_ascii_case("response") {
            Ok(Mode::Response)
        } else {
            Err(bad(format!("transaction mode {s:?}")))
        }
    }
}

/// One SSP document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SspMessage {
    /// A step of the server association, before any session exists.
    Setup(SetupTransaction),
    /// Traffic inside an association.
    Session(SspSession),
}

/// `SetupTransaction mode= transactionID=` holding one setup step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupTransaction {
    pub mode: Mode,
    pub transaction_id: String,
    pub step: SetupStep,
}

/// The three kinds of association step (each sent by both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStep {
    /// `SendSecretToken serviceID= protocol= protocolVersion=` with the
    /// sender's secret in `SecretToken`.
    SendSecretToken {
        service_id: String,
        protocol: String,
        protocol_version: String,
        secret: String,
    },
    /// `LoginRequest serviceID= timeToLive=` with the digest of the
    /// other side's secret in `PasswordDigest encoding="base64"`.
    LoginRequest {
        service_id: String,
        time_to_live: Option<u64>,
        digest: String,
    },
    /// `LoginResponse sessionID= timeToLive=` with the outcome.
    LoginResponse {
        session_id: String,
        time_to_live: Option<u64>,
        status: SspStatus,
    },
}

/// `Session sessionID=` with its transactions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspSession {
    pub session_id: String,
    pub transactions: Vec<SspTransaction>,
}

/// `Transaction mode= transactionID=` with exactly one primitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspTransaction {
    pub mode: Mode,
    pub transaction_id: String,
    pub primitive: Element,
}

/// `Status code=` with an optional description and, for a partial
/// success (201), the outcome per item (`DetailedResult`*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspStatus {
    pub code: u16,
    pub description: Option<String>,
    pub details: Vec<SspDetail>,
}

/// `DetailedResult code=` → `StatusDescription`?, `UserID userID=`*,
/// `GroupID groupID=`*: what became of the users or groups it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SspDetail {
    pub code: u16,
    pub description: Option<String>,
    /// `wv:user@domain` where the ID has a domain, else as given.
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl SspDetail {
    pub fn from_element(e: &Element) -> Result<SspDetail, WireError> {
        let raw = need_attr(e, "code")?;
        let code = raw
            .trim()
            .parse()
            .map_err(|_| bad(format!("DetailedResult code {raw:?} is not a number")))?;
        // The ID as an attribute (SSP's form) or as text.
        let ids = |name: &str, attr_name: &str| -> Vec<String> {
            e.children_named(name)
                .filter_map(|c| {
                    let raw = attr(c, attr_name).unwrap_or(c.text.as_str()).trim();
                    (!raw.is_empty()).then(|| normalize_id(raw).unwrap_or_else(|| raw.to_string()))
                })
                .collect()
        };
        Ok(SspDetail {
            code,
            description: e
                .child("StatusDescription")
                .map(|d| d.text.clone())
                .filter(|d| !d.is_empty()),
            users: ids("UserID", "userID"),
            groups: ids("GroupID", "groupID"),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new("DetailedResult")
            .with_attr("code", self.code.to_string())
            .with_opt(
                self.description
                    .as_deref()
                    .map(|d| Element::text("StatusDescription", d)),
            );
        for u in &self.users {
            e = e.with(Element::new("UserID").with_attr("userID", u.as_str()));
        }
        for g in &self.groups {
            e = e.with(Element::new("GroupID").with_attr("groupID", g.as_str()));
        }
        e
    }
}

/// `MetaInfo clientOriginated=` → `Requestor serviceID=` → `User`?: who
/// acts. Without a user (or with `clientOriginated="No"`) the server of
/// the requesting domain acts itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaInfo {
    pub client_originated: bool,
    /// The requesting domain's service ID, `wv:@domain`.
    pub service_id: String,
    pub user: Option<SspUser>,
}

/// `User userID= friendlyName=` with an optional `ClientID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspUser {
    /// Always `wv:user@domain` once read.
    pub user_id: String,
    pub friendly_name: Option<String>,
    pub client_id: Option<String>,
}

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP: {}", what.into()))
}

/// An attribute's value, the name matched ignoring ASCII case.
pub fn attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.attrs
        .iter()
        .find(|a| a.name.as_str().eq_ignore_ascii_case(name))
        .map(|a| a.value.as_str())
}

fn need_attr<'a>(e: &'a Element, name: &str) -> Result<&'a str, WireError> {
    attr(e, name).ok_or_else(|| bad(format!("{} without {name}", e.name.as_str())))
}

/// `Yes`/`No` (also `T`/`F`, `true`/`false`, any case).
pub fn parse_yes_no(s: &str) -> Option<bool> {
    let s = s.trim();
    if ["yes", "t", "true"]
        .iter()
        .any(|y| s.eq_ignore_ascii_case(y))
    {
        Some(true)
    } else if ["no", "f", "false"]
        .iter()
        .any(|n| s.eq_ignore_ascii_case(n))
    {
        Some(false)
    } else {
        None
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

/// A user or service ID as SSP writes it: `wv:` in front, the domain in
/// lower case. `None` for something that is not `[wv:]user@domain` or a
/// service ID `wv:@domain`.
pub fn normalize_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let bare = match raw.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("wv:") => &raw[3..],
        _ => raw,
    };
    let (user, domain) = bare.rsplit_once('@')?;
    if domain.is_empty()
        || domain
            .chars()
            .any(|c| c.is_whitespace() || c == '@' || c == '/')
        || user.chars().any(char::is_whitespace)
    {
        return None;
    }
    Some(format!("wv:{user}@{}", domain.to_ascii_lowercase()))
}

/// The domain of a normalized ID (`wv:alice@a.example` → `a.example`).
pub fn domain_of(id: &str) -> Option<&str> {
    id.rsplit_once('@').map(|(_, d)| d)
}

/// The service ID of a domain: `wv:@domain`.
pub fn service_id(domain: &str) -> String {
    format!("wv:@{}", domain.to_ascii_lowercase())
}

fn need_id(e: &Element, name: &str) -> Result<String, WireError> {
    let raw = need_attr(e, name)?;
    normalize_id(raw).ok_or_else(|| bad(format!("{name} {raw:?} is not a wv: ID")))
}

fn opt_u64(e: &Element, name: &str) -> Result<Option<u64>, WireError> {
    attr(e, name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| bad(format!("{name} {v:?} is not a number")))
        })
        .transpose()
}

/// The one child element of `e`, named in errors as `what`.
fn only_child<'a>(e: &'a Element, what: &str) -> Result<&'a Element, WireError> {
    match e.children.as_slice() {
        [one] => Ok(one),
        [] => Err(bad(format!("{what} is empty"))),
        _ => Err(bad(format!("{what} holds more than one element"))),
    }
}

impl SspMessage {
    /// Reads a decoded document (see [`crate::xml::decode`]).
    pub fn from_element(root: &Element) -> Result<SspMessage, WireError> {
        if root.name != ROOT {
            return Err(WireError::NotCsp(format!(
                "root is {}, not {ROOT}",
                root.name.as_str()
            )));
        }
        let inner = only_child(root, ROOT)?;
        match inner.name.as_str() {
            "SetupTransaction" => SetupTransaction::from_element(inner).map(SspMessage::Setup),
            "Session" => SspSession::from_element(inner).map(SspMessage::Session),
            other => Err(bad(format!("{ROOT} holds {other}"))),
        }
    }

    pub fn to_element(&self) -> Element {
        let inner = match self {
            SspMessage::Setup(s) => s.to_element(),
            SspMessage::Session(s) => s.to_element(),
        };
        Element::new(ROOT).with_attr("xmlns", SSP_NS).with(inner)
    }

    /// Decodes XML bytes within `limits`.
    pub fn decode(bytes: &[u8], limits: &crate::Limits) -> Result<SspMessage, WireError> {
        SspMessage::from_element(&crate::xml::decode(bytes, limits)?)
    }

    pub fn encode(&self) -> Vec<u8> {
        crate::xml::encode(&self.to_element())
    }
}

impl SetupTransaction {
    fn from_element(e: &Element) -> Result<SetupTransaction, WireError> {
        let mode = Mode::parse(need_attr(e, "mode")?)?;
        let transaction_id = need_attr(e, "transactionID")?.to_string();
        let step = only_child(e, "SetupTransaction")?;
        let step = match step.name.as_str() {
            "SendSecretToken" => SetupStep::SendSecretToken {
                service_id: need_id(step, "serviceID")?,
                protocol: attr(step, "protocol").unwrap_or("WV-SSP").to_string(),
                // The public implementation writes "procotolVersion".
                protocol_version: attr(step, "protocolVersion")
                    .or_else(|| attr(step, "procotolVersion"))
                    .unwrap_or("1.3")
                    .to_string(),
                secret: step
                    .child("SecretToken")
                    .map(|t| t.text.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad("SendSecretToken without SecretToken"))?,
            },
            "LoginRequest" => SetupStep::LoginRequest {
                service_id: need_id(step, "serviceID")?,
                time_to_live: opt_u64(step, "timeToLive")?,
                digest: step
                    .child("PasswordDigest")
                    .map(|t| t.text.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad("LoginRequest without PasswordDigest"))?,
            },
            "LoginResponse" => SetupStep::LoginResponse {
                session_id: need_attr(step, "sessionID")?.to_string(),
                time_to_live: opt_u64(step, "timeToLive")?,
                status: step
                    .child("Status")
                    .map(SspStatus::from_element)
                    .transpose()?
                    .ok_or_else(|| bad("LoginResponse without Status"))?,
            },
            other => return Err(bad(format!("unknown setup step {other}"))),
        };
        Ok(SetupTransaction {
            mode,
            transaction_id,
            step,
        })
    }

    fn to_element(&self) -> Element {
        let step = match &self.step {
            SetupStep::SendSecretToken {
                service_id,
                protocol,
                protocol_version,
                secret,
            } => Element::new("SendSecretToken")
                .with_attr("serviceID", service_id.as_str())
                .with_attr("protocol", protocol.as_str())
                .with_attr("protocolVersion", protocol_version.as_str())
                .with_text("SecretToken", secret.as_str()),
            SetupStep::LoginRequest {
                service_id,
                time_to_live,
                digest,
            } => {
                let mut e =
                    Element::new("LoginRequest").with_attr("serviceID", service_id.as_str());
                if let Some(t) = time_to_live {
                    e.set_attr("timeToLive", t.to_string());
                }
                e.with(
                    Element::text("PasswordDigest", digest.as_str())
                        .with_attr("encoding", "base64"),
                )
            }
            SetupStep::LoginResponse {
                session_id,
                time_to_live,
                status,
            } => {
                let mut e =
                    Element::new("LoginResponse").with_attr("sessionID", session_id.as_str());
                if let Some(t) = time_to_live {
                    e.set_attr("timeToLive", t.to_string());
                }
                e.with(status.to_element())
            }
        };
        Element::new("SetupTransaction")
            .with_attr("mode", self.mode.as_str())
            .with_attr("transactionID", self.transaction_id.as_str())
            .with(step)
    }
}

impl SspSession {
    fn from_element(e: &Element) -> Result<SspSession, WireError> {
        let session_id = need_attr(e, "sessionID")?.to_string();
        let mut transactions = Vec::new();
        for t in &e.children {
            if t.name != "Transaction" {
                return Err(bad(format!("Session holds {}", t.name.as_str())));
            }
            transactions.push(SspTransaction {
                mode: Mode::parse(need_attr(t, "mode")?)?,
                transaction_id: need_attr(t, "transactionID")?.to_string(),
                primitive: only_child(t, "Transaction")?.clone(),
            });
        }
        if transactions.is_empty() {
            return Err(bad("Session without a Transaction"));
        }
        Ok(SspSession {
            session_id,
            transactions,
        })
    }

    fn to_element(&self) -> Element {
        let mut e = Element::new("Session").with_attr("sessionID", self.session_id.as_str());
        for t in &self.transactions {
            e.children.push(
                Element::new("Transaction")
                    .with_attr("mode", t.mode.as_str())
                    .with_attr("transactionID", t.transaction_id.as_str())
                    .with(t.primitive.clone()),
            );
        }
        e
    }
}

impl SspStatus {
    pub fn ok() -> SspStatus {
        SspStatus {
            code: 200,
            description: None,
            details: Vec::new(),
        }
    }

    pub fn from_element(e: &Element) -> Result<SspStatus, WireError> {
        let raw = need_attr(e, "code")?;
        let code = raw
            .trim()
            .parse()
            .map_err(|_| bad(format!("Status code {raw:?} is not a number")))?;
        Ok(SspStatus {
            code,
            description: e
                .child("StatusDescription")
                .map(|d| d.text.clone())
                .filter(|d| !d.is_empty()),
            details: e
                .children_named("DetailedResult")
                .map(SspDetail::from_element)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new("Status")
            .with_attr("code", self.code.to_string())
            .with_opt(
                self.description
                    .as_deref()
                    .map(|d| Element::text("StatusDescription", d)),
            );
        for d in &self.details {
            e = e.with(d.to_element());
        }
        e
    }
}

impl MetaInfo {
    /// Reads the `MetaInfo` child of a primitive.
    pub fn of(primitive: &Element) -> Result<MetaInfo, WireError> {
        let m = primitive
            .child("MetaInfo")
            .ok_or_else(|| bad(format!("{} without MetaInfo", primitive.name.as_str())))?;
        let client_originated = attr(m, "clientOriginated")
            .map(|v| parse_yes_no(v).ok_or_else(|| bad(format!("clientOriginated {v:?}"))))
            .transpose()?
            .unwrap_or(false);
        let r = m
            .child("Requestor")
            .ok_or_else(|| bad("MetaInfo without Requestor"))?;
        let service_id = need_id(r, "serviceID")?;
        // The user acts only when the client originated the request.
        let user = match r.child("User") {
            Some(u) if client_originated => Some(SspUser::from_element(u)?),
            _ => None,
        };
        Ok(MetaInfo {
            client_originated,
            service_id,
            user,
        })
    }

    pub fn to_element(&self) -> Element {
        let requestor = Element::new("Requestor")
            .with_attr("serviceID", self.service_id.as_str())
            .with_opt(self.user.as_ref().map(SspUser::to_element));
        Element::new("MetaInfo")
            .with_attr("clientOriginated", yes_no(self.client_originated))
            .with(requestor)
    }

    /// Whether the acting user (if any) belongs to `peer_domain`, the
    /// domain of the association the request came through. A request
    /// whose user is of another domain is refused (901): no server speaks
    /// for users it does not host.
    pub fn acts_for(&self, peer_domain: &str) -> bool {
        let peer = peer_domain.to_ascii_lowercase();
        domain_of(&self.service_id) == Some(peer.as_str())
            && self
                .user
                .as_ref()
                .is_none_or(|u| domain_of(&u.user_id) == Some(peer.as_str()))
    }
}

impl SspUser {
    pub fn from_element(e: &Element) -> Result<SspUser, WireError> {
        Ok(SspUser {
            user_id: need_id(e, "userID")?,
            friendly_name: attr(e, "friendlyName").map(str::to_string),
            client_id: e.child("ClientID").and_then(|c| {
                let t = c.text.trim();
                if t.is_empty() {
                    attr(c, "url").filter(|u| !u.is_empty()).map(str::to_string)
                } else {
                    Some(t.to_string())
                }
            }),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new("User").with_attr("userID", self.user_id.as_str());
        if let Some(f) = &self.friendly_name {
            e.set_attr("friendlyName", f.as_str());
        }
        e.with_opt(
            self.client_id
                .as_deref()
                .map(|c| Element::text("ClientID", c).with_attr("url", "")),
        )
    }
}

/// The digest a server proves it got the other side's secret with:
/// base64 of the MD5 of the secret as received, whitespace trimmed.
pub fn secret_digest(secret: &str) -> String {
    use base64::Engine;
    use md5::{Digest, Md5};
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(secret.trim().as_bytes()))
}
