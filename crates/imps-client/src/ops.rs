//! The session-level helpers: login (2-way and 4-way), logout,
//! keep-alive, capability and service negotiation, GetSPInfo. Written once
//! against [`Transport`], so HTTP and WebSocket clients share them.
//!
//! A refusal (a `Status` or a `Result/Code` other than 200) becomes
//! `ClientError::Status`; tests that need to look at a refusal in detail
//! use `Client::request` instead.

use imps_wire::Element;
use imps_wire::csp::{LoginResponse, SystemMessage, SystemMessageResponse};

use crate::client::Client;
use crate::digest::digest_bytes;
use crate::primitives::{
    DEFAULT_TTL_SECS, LoginAuth, check_ok, client_capability_request, client_id, expect_name,
    login_request, service_request_all, status_of, with_system_message_answers,
};
use crate::transport::Transport;
use crate::{ClientError, Result};

/// Android assumes this KeepAliveTime when the server leaves it out.
pub const DEFAULT_KEEPALIVE_SECS: u64 = 7200;

/// What a successful login tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInfo {
    pub session_id: String,
    /// KeepAliveTime granted; [`DEFAULT_KEEPALIVE_SECS`] when absent.
    pub keepalive_secs: u64,
    /// The UserID the server says we are, when it says (MSISDN
    /// auto-registration or correction).
    pub user_id: Option<String>,
    /// CapabilityRequest: the server wants ClientCapability negotiation.
    pub capability_request: Option<bool>,
}

/// How a login that the server may hold for system messages ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// The session is made.
    Done(LoginInfo),
    /// CSP 1.3: the server refused or held the login and said why in
    /// system messages (`Login-Response{Result{Code, SystemMessageList}}`,
    /// no SessionID): the operator's terms, or why this client is not
    /// supported. Those with `RequiresResponse` are answered by logging
    /// in again from the same client (same ClientID) with the answers,
    /// e.g. [`Client::login_password_answering`].
    Held {
        code: u16,
        description: String,
        messages: Vec<SystemMessage>,
    },
}

impl<T: Transport> Client<T> {
    /// 2-way login with a password, TimeToLive 600. A login held for
    /// system messages is a `ClientError::Status` here; use
    /// [`Client::login_password_answering`] to see and answer them.
    pub async fn login_password(&self, user: &str, password: &str) -> Result<LoginInfo> {
        let step = self.login_password_answering(user, password, &[]).await?;
        Self::done(step)
    }

    /// 2-way login carrying `answers` to the system messages of a held
    /// login (CSP 1.3; none, or before 1.3, sends a plain login). Returns
    /// the messages when the server holds the login (again).
    pub async fn login_password_answering(
        &self,
        user: &str,
        password: &str,
        answers: &[SystemMessageResponse],
    ) -> Result<LoginStep> {
        let body = self.login_body(user, LoginAuth::Password(password));
        let body = with_system_message_answers(body, self.config().version, answers);
        let resp = self.request(body).await?;
        self.finish_login_step(resp)
    }

    /// 4-way login offering `schemas` (e.g. `["SHA", "MD5"]`), both legs
    /// under one TransactionID as Android does. A server that skips the
    /// challenge and answers 200 with a SessionID is accepted.
    pub async fn login_digest(
        &self,
        user: &str,
        password: &str,
        schemas: &[&str],
    ) -> Result<LoginInfo> {
        let step = self
            .login_digest_answering(user, password, schemas, &[])
            .await?;
        Self::done(step)
    }

    /// The 4-way login carrying `answers` to the system messages of a
    /// held login in its second leg (the one the server checks the
    /// credentials and the answers on).
    pub async fn login_digest_answering(
        &self,
        user: &str,
        password: &str,
        schemas: &[&str],
        answers: &[SystemMessageResponse],
    ) -> Result<LoginStep> {
        let tid = self.next_transaction_id();
        let first = self.login_body(user, LoginAuth::DigestSchemas(schemas));
        let challenge = self.request_with_id(&tid, first).await?;
        expect_name(&challenge, "Login-Response")?;
        if challenge.child("SessionID").is_some() || held_messages(&challenge).is_some() {
            return self.finish_login_step(challenge);
        }
        let (code, description) = status_of(&challenge)
            .ok_or_else(|| ClientError::Protocol("Login-Response without Result/Code".into()))?;
        // 401 is the usual challenge; Baraza challenges with 200.
        if code != 401 && code != 200 {
            return Err(ClientError::Status { code, description });
        }
        let nonce = challenge
            .child_text("Nonce")
            .ok_or_else(|| ClientError::Protocol(format!("challenge {code} without Nonce")))?;
        let schema = challenge
            .child_text("DigestSchema")
            .or_else(|| schemas.first().copied())
            .ok_or_else(|| ClientError::Protocol("no DigestSchema to answer with".into()))?;
        let bytes = digest_bytes(schema, nonce, password).ok_or_else(|| {
            ClientError::Protocol(format!("server chose digest schema {schema:?}"))
        })?;
        let second = self.login_body(user, LoginAuth::DigestBytes(&bytes));
        let second = with_system_message_answers(second, self.config().version, answers);
        let resp = self.request_with_id(&tid, second).await?;
        self.finish_login_step(resp)
    }

    /// Logout-Request; the server answers Status (1.2+) or Disconnect.
    /// The session is forgotten once the server agreed.
    pub async fn logout(&self) -> Result<()> {
        let resp = self.request(Element::new("Logout-Request")).await?;
        check_ok(resp)?;
        self.set_session_id(None);
        Ok(())
    }

    /// KeepAlive-Request, optionally asking for a new TimeToLive. Returns
    /// the KeepAliveTime granted, when the answer carries one.
    pub async fn keep_alive(&self, ttl: Option<u64>) -> Result<Option<u64>> {
        let mut body = Element::new("KeepAlive-Request");
        if let Some(t) = ttl {
            body = body.with_text("TimeToLive", t.to_string());
        }
        let resp = check_ok(self.request(body).await?)?;
        Ok(resp.child_u64("KeepAliveTime"))
    }

    /// ClientCapability negotiation offering `cir_methods` (e.g. `STCP`,
    /// `SHTTP`), preferred first. Returns the AgreedCapabilityList (the
    /// CapabilityList in 1.1); read it with `tcp_cir_addr` / `http_cir_url`.
    pub async fn client_capability(
        &self,
        cir_methods: &[&str],
        parser_size: Option<u64>,
    ) -> Result<Element> {
        let body = client_capability_request(&self.config().client_id, cir_methods, parser_size);
        let mut resp = check_ok(self.request(body).await?)?;
        expect_name(&resp, "ClientCapability-Response")?;
        resp.take_child("AgreedCapabilityList")
            .or_else(|| resp.take_child("CapabilityList"))
            .ok_or_else(|| {
                ClientError::Protocol("ClientCapability-Response without a capability list".into())
            })
    }

    /// As [`Client::client_capability`], also telling the server where
    /// datagram CIR (SUDP, WAPUDP) should go.
    pub async fn client_capability_udp(
        &self,
        cir_methods: &[&str],
        parser_size: Option<u64>,
        udp: &crate::primitives::UdpCirOffer,
    ) -> Result<Element> {
        let body = crate::primitives::client_capability_request_udp(
            &self.config().client_id,
            cir_methods,
            parser_size,
            Some(udp),
        );
        let mut resp = check_ok(self.request(body).await?)?;
        expect_name(&resp, "ClientCapability-Response")?;
        resp.take_child("AgreedCapabilityList")
            .or_else(|| resp.take_child("CapabilityList"))
            .ok_or_else(|| {
                ClientError::Protocol("ClientCapability-Response without a capability list".into())
            })
    }

    /// Service-Request for all functions; returns the Service-Response.
    pub async fn service_request_all(&self) -> Result<Element> {
        let resp = check_ok(
            self.request(service_request_all(&self.config().client_id))
                .await?,
        )?;
        expect_name(&resp, "Service-Response")?;
        Ok(resp)
    }

    /// GetSPInfo-Request; returns the GetSPInfo-Response.
    pub async fn get_sp_info(&self) -> Result<Element> {
        let body = Element::new("GetSPInfo-Request").with(client_id(&self.config().client_id));
        let resp = check_ok(self.request(body).await?)?;
        expect_name(&resp, "GetSPInfo-Response")?;
        Ok(resp)
    }

    fn login_body(&self, user: &str, auth: LoginAuth<'_>) -> Element {
        login_request(
            user,
            &self.config().client_id,
            auth,
            DEFAULT_TTL_SECS,
            self.session_cookie(),
        )
    }

    /// A held login as the `ClientError::Status` it was before system
    /// messages.
    fn done(step: LoginStep) -> Result<LoginInfo> {
        match step {
            LoginStep::Done(info) => Ok(info),
            LoginStep::Held {
                code, description, ..
            } => Err(ClientError::Status { code, description }),
        }
    }

    /// A refusal that carries system messages is `Held`; anything else is
    /// read as [`Client::finish_login`] does.
    fn finish_login_step(&self, resp: Element) -> Result<LoginStep> {
        expect_name(&resp, "Login-Response")?;
        if self.config().version >= imps_wire::Version::V1_3
            && let Some(messages) = held_messages(&resp)
        {
            let (code, description) = status_of(&resp).unwrap_or((403, String::new()));
            return Ok(LoginStep::Held {
                code,
                description,
                messages,
            });
        }
        self.finish_login(resp).map(LoginStep::Done)
    }

    /// `request_with_id` has already adopted the SessionID; this checks
    /// the answer and reads the rest.
    fn finish_login(&self, resp: Element) -> Result<LoginInfo> {
        expect_name(&resp, "Login-Response")?;
        let resp = check_ok(resp)?;
        let session_id = resp
            .child_text("SessionID")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ClientError::Protocol("Login-Response 200 without SessionID".into()))?
            .to_string();
        Ok(LoginInfo {
            session_id,
            keepalive_secs: resp
                .child_u64("KeepAliveTime")
                .unwrap_or(DEFAULT_KEEPALIVE_SECS),
            user_id: resp.child_text("UserID").map(str::to_string),
            capability_request: resp.child_bool("CapabilityRequest"),
        })
    }
}

/// The system messages of a Login-Response that made no session (a 1.3
/// Result's `SystemMessageList`, or one beside the Result), if it has
/// any. A list that does not parse counts as none: the refusal is then
/// reported by its code alone.
fn held_messages(resp: &Element) -> Option<Vec<SystemMessage>> {
    let ok = status_of(resp).is_some_and(|(c, _)| c == 200);
    if ok || resp.child("SessionID").is_some() {
        return None;
    }
    let typed = LoginResponse::from_element(resp, imps_wire::Version::V1_3).ok()?;
    let messages = typed.system_message_list()?.messages.clone();
    (!messages.is_empty()).then_some(messages)
}
