//! Login (password, 4-way digest, MSISDN auto-login and auto-registration),
//! Logout and KeepAlive.

use super::SessionService;
use std::sync::Arc;

use imps_wire::csp::{
    ClientId, Disconnect, KeepAliveResponse, LoginResponse, SystemMessageList,
    SystemMessageResponseList,
};
use imps_wire::{Element, Version};

use super::Session;
use crate::auth::{self, DigestSchema};
use crate::reply::{csp_result, ok_status};
use crate::service::RequestCtx;
use crate::store::{NewUser, UserRecord};
use crate::users::{canonical_user, is_bare_address, normalize_msisdn, wire_user};
use crate::{CoreError, ids};

/// The parts of a Login-Request we use. Clients write children in any
/// order, so each is looked up by name.
struct LoginRequest<'a> {
    user_id: Option<&'a str>,
    client_id: Option<&'a Element>,
    password: Option<&'a str>,
    digest_bytes: Option<&'a str>,
    schemas: Vec<&'a str>,
    ttl: Option<u64>,
    cookie: &'a str,
    /// 1.3: ApplicationID, and answers to the system messages of the
    /// previous Login-Response.
    application: Option<&'a str>,
    answers: Option<SystemMessageResponseList>,
    /// The CSP version the answer is written in.
    version: Version,
}

impl<'a> LoginRequest<'a> {
    fn parse(body: &'a Element, version: Version) -> LoginRequest<'a> {
        LoginRequest {
            user_id: body.child_text("UserID").filter(|s| !s.is_empty()),
            client_id: body.child("ClientID"),
            password: body.child("Password").map(|p| p.text.as_str()),
            digest_bytes: body.child_text("DigestBytes"),
            schemas: body
                .children_named("DigestSchema")
                .map(|e| e.text.trim())
                .collect(),
            ttl: body.child_u64("TimeToLive"),
            cookie: body.child_text("SessionCookie").unwrap_or(""),
            application: body.child_text("ApplicationID"),
            // A list that does not parse counts as no answer: the
            // messages are asked again.
            answers: (version >= Version::V1_3)
                .then(|| body.child("SystemMessageResponseList"))
                .flatten()
                .and_then(|l| SystemMessageResponseList::from_element(l, version).ok()),
            version,
        }
    }
}

/// How the user was identified.
enum Identified {
    /// By password or digest; `corrected` when the ID differs from what
    /// the client sent (it is told the real one).
    Credentials(UserRecord),
    /// By network-asserted MSISDN: an existing account (auto-login) or a
    /// new one (auto-registration).
    Msisdn { user: UserRecord, registered: bool },
    /// A digest challenge must be answered first.
    Challenge(Element),
}

/// Why a login did not complete.
enum LoginError {
    Core(CoreError),
    /// Refused or held with system messages for the client to show
    /// (1.3; `None` before, where only the Description tells).
    Told(CoreError, Option<SystemMessageList>),
}

impl From<CoreError> for LoginError {
    fn from(e: CoreError) -> LoginError {
        LoginError::Core(e)
    }
}

/// A pending digest challenge.
#[derive(Debug, Clone)]
pub(crate) struct Challenge {
    pub nonce: String,
    pub schema: DigestSchema,
    pub expires_ms: u64,
}

impl SessionService {
    /// Login-Request → Login-Response. Failures are answered with a
    /// Login-Response carrying the error's Result, as clients expect.
    pub(crate) async fn login(
        &self,
        ctx: &RequestCtx,
        version: Version,
        _tid: Option<&str>,
        body: &Element,
    ) -> Element {
        match self.try_login(ctx, version, body).await {
            Ok(resp) => resp,
            Err(LoginError::Told(e, list)) => {
                tracing::info!(user = ?body.child_text("UserID"), peer = ?ctx.peer, code = e.status_code(), error = %e, "login refused with a system message");
                let mut result = csp_result(e.status_code(), &e.description());
                result.system_message_list = list;
                LoginResponse {
                    result,
                    ..LoginResponse::default()
                }
                .to_element(version)
            }
            Err(LoginError::Core(e)) => {
                tracing::info!(user = ?body.child_text("UserID"), peer = ?ctx.peer, code = e.status_code(), error = %e, "login refused");
                // The operator's choice: an unknown user is answered
                // exactly as a wrong password is.
                let e = match e {
                    CoreError::UnknownUser(id) if self.base.cfg.hide_unknown_users => {
                        CoreError::InvalidPassword(id)
                    }
                    e => e,
                };
                let mut result = csp_result(e.status_code(), &e.description());
                result.try_again_timeout = e.try_again_secs();
                LoginResponse {
                    result,
                    ..LoginResponse::default()
                }
                .to_element(version)
            }
        }
    }

    async fn try_login(
        &self,
        ctx: &RequestCtx,
        version: Version,
        body: &Element,
    ) -> Result<Element, LoginError> {
        if self.base.draining.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(
                CoreError::Busy("this server is draining: log in to another".into()).into(),
            );
        }
        let req = LoginRequest::parse(body, version);
        let client_el = req
            .client_id
            .ok_or_else(|| CoreError::BadParameter("Login-Request without ClientID".into()))?;
        let ident = super::ClientIdent::from_element(client_el)
            .ok_or_else(|| CoreError::BadParameter("ClientID has neither URL nor MSISDN".into()))?;
        let client = ident.key().to_string();
        if let Some((e, list)) = self.sysmsg.refusal(version, &client, req.application) {
            return Err(LoginError::Told(e, list));
        }

        let (user, told_id) = match self.identify(ctx, &req, &client).await? {
            Identified::Challenge(resp) => return Ok(resp),
            Identified::Credentials(u) => (u, false),
            Identified::Msisdn { user, registered } => {
                // GEN-19: a wrong or missing UserID is corrected; GEN-18:
                // a new registration tells the client its ID.
                let sent = req
                    .user_id
                    .and_then(|u| canonical_user(u, &self.base.cfg.domain).ok());
                let tell = registered || sent.as_deref() != Some(user.id.as_str());
                (user, tell)
            }
        };

        // The operator's terms: asked, answered or agreed before.
        let withheld = match self
            .sysmsg
            .login_gate(&user.id, &client, version, req.answers.as_ref())
            .await?
        {
            crate::sysmsg::LoginGate::Pass { withheld } => withheld,
            crate::sysmsg::LoginGate::Ask(list) => {
                tracing::info!(user = %user.id, client = %client, "login waits for the answer to the terms");
                return Err(LoginError::Told(
                    CoreError::Forbidden("answer the system message to log in".into()),
                    Some(list),
                ));
            }
        };

        let ttl = self.grant_ttl(req.ttl);
        let now = self.base.now_ms();
        let session = Arc::new(Session::new(
            ids::random_token()?,
            user.id.clone(),
            ident,
            version,
            req.cookie.to_string(),
            ids::random_token()?,
            now,
            ttl,
        ));
        // Issue 13: a client that wrote its own address without a domain
        // gets every address of ours back that way.
        let bare_ids = req.user_id.is_some_and(is_bare_address);
        session.with_state(|st| {
            st.style.bare_ids = bare_ids;
            st.withheld = withheld.into_boxed_slice();
        });
        // GEN-13 across nodes: a ClientID in use on another node is in
        // use (until that node logs it out, or dies and its sessions end).
        if let Some(c) = &self.base.cfg.cluster
            && c.sessions_of(&user.id)
                .iter()
                .any(|r| r.client_key == session.client_key())
        {
            return Err(CoreError::ClientAlreadyLoggedIn {
                user: user.id.clone(),
                client: session.client_key().to_string(),
            }
            .into());
        }
        self.base
            .sessions
            .insert(session.clone(), self.base.cfg.max_sessions_per_user)?;
        if let Err(e) = self.persist_session(&session).await {
            self.base.sessions.remove(&session.id, false, now);
            return Err(e.into());
        }
        tracing::info!(session = %crate::ids::log_tag(&session.id), user = %user.id, client = %session.client_key(), version = %version, "logged in");

        let mut resp = LoginResponse {
            user_id: told_id.then(|| {
                if bare_ids {
                    format!("wv:{}", user.id)
                } else {
                    wire_user(&user.id, &self.base.cfg.domain)
                }
            }),
            client_id: Some(ClientId::default()),
            result: csp_result(200, "Successful"),
            session_id: Some(session.id.clone()),
            keep_alive_time: Some(ttl),
            capability_request: Some(true),
            ..LoginResponse::default()
        }
        .to_element(version);
        // The ClientID goes back exactly as the client wrote it (old
        // clients put the identifier straight into it).
        if let Some(c) = resp.children.iter_mut().find(|c| c.name == ClientId::NAME) {
            *c = client_el.clone();
        }
        Ok(resp)
    }

    async fn identify(
        &self,
        ctx: &RequestCtx,
        req: &LoginRequest<'_>,
        client: &str,
    ) -> Result<Identified, CoreError> {
        let m = &self.base.cfg.msisdn;
        if let Some(raw) = ctx.msisdn.as_deref().filter(|_| !m.force_manual_login) {
            match normalize_msisdn(raw) {
                Some(msisdn) => {
                    if let Some(u) = self.base.store.user_by_msisdn(&msisdn).await? {
                        if m.auto_login {
                            tracing::info!(user = %u.id, "auto-login by network-asserted MSISDN");
                            return Ok(Identified::Msisdn {
                                user: u,
                                registered: false,
                            });
                        }
                    } else if m.auto_register {
                        let u = self.register_by_msisdn(&msisdn).await?;
                        return Ok(Identified::Msisdn {
                            user: u,
                            registered: true,
                        });
                    }
                }
                None => tracing::warn!("ignoring malformed asserted MSISDN"),
            }
        }

        let wire_id = req
            .user_id
            .ok_or_else(|| CoreError::BadParameter("Login-Request without UserID".into()))?;
        let id = canonical_user(wire_id, &self.base.cfg.domain)?;
        // A request through a trusted operator gateway (its MSISDN header
        // believed) comes from the gateway's address, shared by many
        // subscribers: it is counted per user only.
        let peer = ctx.peer.map(|p| p.ip()).filter(|_| ctx.msisdn.is_none());
        self.throttle.check(&id, peer, self.base.now_ms())?;
        let user = self.base.store.user(&id).await?;
        let outcome = self.authenticate(req, &id, user, client, peer).await;
        match &outcome {
            Ok(Identified::Credentials(_)) => self.throttle.succeeded(&id),
            Err(CoreError::InvalidPassword(_) | CoreError::UnknownUser(_)) => {
                self.throttle.failed(&id, peer, self.base.now_ms());
            }
            _ => {}
        }
        outcome
    }

    /// Checks the credentials of a password or digest login. An unknown
    /// user costs what a wrong password costs: the password is checked
    /// against a dummy hash, so timing does not tell which IDs exist.
    async fn authenticate(
        &self,
        req: &LoginRequest<'_>,
        id: &str,
        user: Option<UserRecord>,
        client: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Identified, CoreError> {
        let unknown = || CoreError::UnknownUser(id.to_string());
        if let Some(pw) = req.password {
            let real = user.as_ref().and_then(|u| u.password_hash.clone());
            // Issue 19: the password that last passed Argon2 for this
            // user, against this same stored hash, is let in without it.
            if let (Some(u), Some(h)) = (&user, &real)
                && self.verifiers.matches(id, pw, h)
            {
                self.cached_checks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Identified::Credentials(u.clone()));
            }
            let has_real = real.is_some();
            let hash = match real {
                Some(h) => h,
                None => {
                    self.dummy_checks
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.dummy_hash().await?
                }
            };
            let pw = pw.to_string();
            let permit = self.password_turn(id).await?;
            // Guesses queued behind the permit are checked again: the
            // lockout may have begun while they waited.
            self.throttle.check(id, peer, self.base.now_ms())?;
            self.argon2_checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (ok, pw, hash) =
                tokio::task::spawn_blocking(move || (auth::verify_password(&pw, &hash), pw, hash))
                    .await
                    .map_err(|e| CoreError::Internal(format!("password check task: {e}")))?;
            drop(permit);
            if ok && has_real {
                self.verifiers.remember(id, &pw, &hash);
            }
            return match user {
                Some(u) if ok && has_real => Ok(Identified::Credentials(u)),
                Some(_) => Err(CoreError::InvalidPassword(id.to_string())),
                None => Err(unknown()),
            };
        }
        if let Some(sent) = req.digest_bytes {
            let ch = self
                .challenges
                .lock()
                .remove(&(id.to_string(), client.to_string()));
            let user = user.ok_or_else(unknown)?;
            let ch = ch
                .filter(|c| c.expires_ms >= self.base.now_ms())
                .ok_or_else(|| {
                    CoreError::InvalidPassword(format!("{id} (no live digest challenge)"))
                })?;
            let secret = self
                .digest_secret(&user)
                .ok_or_else(|| CoreError::InvalidPassword(id.to_string()))?;
            return if auth::verify_digest(ch.schema, &ch.nonce, &secret, sent) {
                Ok(Identified::Credentials(user))
            } else {
                Err(CoreError::InvalidPassword(id.to_string()))
            };
        }
        if !req.schemas.is_empty() {
            // With unknown users hidden, an unknown ID gets a challenge
            // like an account with digest on; its answer then fails as a
            // wrong password would.
            let has_secret = match &user {
                Some(u) => self.digest_secret(u).is_some(),
                None if self.base.cfg.hide_unknown_users => true,
                None => return Err(unknown()),
            };
            return self
                .challenge(id, has_secret, client, &req.schemas, req.version)
                .map(Identified::Challenge);
        }
        Err(CoreError::BadParameter(
            "Login-Request carries no Password and no DigestSchema".into(),
        ))
    }

    /// A turn at an Argon2 check: at most `max_password_checks` run at
    /// once, each on a blocking thread, so the runtime's workers stay free
    /// for message traffic. A login that waits longer than
    /// `password.check_wait_ms` for its turn is answered 503 with
    /// TryAgainTimeout rather than left hanging (docs/protocol.md).
    async fn password_turn(&self, id: &str) -> Result<tokio::sync::SemaphorePermit<'_>, CoreError> {
        let wait_ms = self.base.cfg.password.check_wait_ms;
        let wait = std::time::Duration::from_millis(wait_ms);
        match tokio::time::timeout(wait, self.password_checks.acquire()).await {
            Ok(permit) => {
                permit.map_err(|e| CoreError::Internal(format!("password check queue: {e}")))
            }
            Err(_) => {
                tracing::warn!(user = %id, wait_ms, "no turn at a password check in time; login answered 503");
                Err(CoreError::PasswordChecksBusy {
                    retry_after_secs: wait_ms.div_ceil(1000).max(1),
                })
            }
        }
    }

    /// The argon2 hash an unknown user's password is checked against,
    /// made once (of a random password, so nothing matches it), at the
    /// configured cost so it costs what a real user's check costs.
    async fn dummy_hash(&self) -> Result<String, CoreError> {
        let cost = self.base.cfg.password.cost();
        self.dummy_hash
            .get_or_try_init(|| async {
                let pw = ids::random_token()?;
                tokio::task::spawn_blocking(move || auth::hash_password_with(&pw, cost))
                    .await
                    .map_err(|e| CoreError::Internal(format!("dummy hash task: {e}")))?
            })
            .await
            .cloned()
    }

    /// First leg of the 4-way login: pick a schema the client offered
    /// (its preference first) and send a fresh nonce, without a SessionID.
    fn challenge(
        &self,
        user_id: &str,
        has_secret: bool,
        client: &str,
        offered: &[&str],
        version: Version,
    ) -> Result<Element, CoreError> {
        let schema = offered.iter().find_map(|s| DigestSchema::parse(s));
        let usable = self.base.cfg.digest_login && has_secret;
        let (Some(schema), true) = (schema, usable) else {
            return Err(CoreError::NoDigestSchema(offered.join(",")));
        };
        let nonce = ids::random_token()?;
        let now = self.base.now_ms();
        {
            let mut ch = self.challenges.lock();
            let cap = self.base.cfg.max_challenges.max(1);
            if ch.len() >= cap {
                ch.retain(|_, c| c.expires_ms >= now);
                if ch.len() >= cap {
                    tracing::warn!(
                        cap,
                        "digest challenges at their limit; login refused with 503"
                    );
                    return Err(CoreError::Busy("too many pending login challenges".into()));
                }
            }
            ch.insert(
                (user_id.to_string(), client.to_string()),
                Challenge {
                    nonce: nonce.clone(),
                    schema,
                    expires_ms: now + self.base.cfg.nonce_ttl_secs * 1000,
                },
            );
        }
        Ok(LoginResponse {
            result: csp_result(401, "Complete the authentication challenge"),
            nonce: Some(nonce),
            digest_schema: Some(schema.as_str().to_string()),
            capability_request: Some(false),
            ..LoginResponse::default()
        }
        .to_element(version))
    }

    fn digest_secret(&self, user: &UserRecord) -> Option<String> {
        let key = self.base.cfg.secret_key.as_ref()?;
        auth::open_secret(key, user.digest_secret.as_deref()?)
    }

    /// REG-UC: a new account for an unknown asserted MSISDN, with a
    /// generated unique ID that is also its friendly name.
    async fn register_by_msisdn(&self, msisdn: &str) -> Result<UserRecord, CoreError> {
        for _ in 0..8 {
            let id = format!("u{}", ids::random_digits(10)?);
            let new = NewUser {
                id: id.clone(),
                password_hash: None,
                digest_secret: None,
                msisdn: Some(msisdn.to_string()),
                friendly_name: Some(id.clone()),
                created_ms: self.base.now_ms(),
            };
            match self.base.store.create_user(new).await {
                Ok(()) => {
                    tracing::info!(user = %id, "auto-registered a new user by network-asserted MSISDN");
                    self.sysmsg.ask_friendly_name(&id).await;
                    return self
                        .base
                        .store
                        .user(&id)
                        .await?
                        .ok_or_else(|| CoreError::Internal("new user vanished".into()));
                }
                Err(crate::StoreError::Conflict(_)) => {
                    // Either the ID collided (try another) or the MSISDN was
                    // registered by a concurrent login (use that account).
                    if let Some(u) = self.base.store.user_by_msisdn(msisdn).await? {
                        return Ok(u);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Internal(
            "could not generate a unique user ID".into(),
        ))
    }

    /// The keep-alive time granted for a requested TimeToLive.
    fn grant_ttl(&self, asked: Option<u64>) -> u64 {
        asked
            .unwrap_or(self.base.cfg.keepalive_default_secs)
            .clamp(
                self.base.cfg.keepalive_min_secs,
                self.base.cfg.keepalive_max_secs,
            )
            // What a session keeps (32 bits): the client is told the same.
            .min(u64::from(u32::MAX))
    }

    /// The answer to a Logout (the service has ended the session): Status
    /// in 1.2+, Disconnect in 1.1.
    pub(crate) fn logout_reply(&self, s: &Session) -> Element {
        tracing::info!(session = %crate::ids::log_tag(&s.id), user = %s.user, "logged out");
        if s.version == Version::V1_1 {
            Disconnect {
                result: csp_result(200, "Successful"),
                other: Vec::new(),
            }
            .to_element(s.version)
        } else {
            ok_status()
        }
    }

    /// KeepAlive: refreshes the session and, when the client asks for a
    /// new TimeToLive, grants one within our bounds.
    pub(crate) fn keep_alive(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let asked = body.child_u64("TimeToLive");
        let ttl = match asked {
            Some(_) => {
                let t = self.grant_ttl(asked);
                s.with_state(|st| st.ttl_secs = u32::try_from(t).unwrap_or(u32::MAX));
                t
            }
            None => u64::from(s.with_state(|st| st.ttl_secs)),
        };
        Ok(KeepAliveResponse {
            result: csp_result(200, "Successful"),
            keep_alive_time: Some(ttl),
            other: Vec::new(),
        }
        .to_element(s.version))
    }

    /// Writes a new session to the store so it outlives a restart.
    async fn persist_session(&self, s: &Session) -> Result<(), CoreError> {
        self.base.store.put_session(self.base.record_of(s)).await?;
        Ok(())
    }
}
