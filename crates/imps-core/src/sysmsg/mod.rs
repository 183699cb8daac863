//! System messages (issue 15, SYM-*): text from the service to a user,
//! with answer options, pushed as SystemMessage-Request and answered by
//! SystemMessage-User; the operator's terms asked before a login completes
//! (`terms`), whose answer decides the level of service.
//!
//! Every message is stored with a row per addressed user that counts the
//! sends and keeps the answer (SYM-15). A session of CSP 1.3 gets what is
//! due for its user when it becomes ready (after service negotiation), and
//! at once when it is ready already: a message is due until it was sent,
//! and, when it requires a response, until it was answered (SYM-12: sent
//! again at each new session). Older versions have no system messages; what
//! is due for them waits for a 1.3 session.

mod config;
mod terms;

pub use config::{
    OlderClients, SYSMSG_DEFAULTS, SysmsgConfig, SysmsgTexts, TermsConfig, TermsOption,
};
pub(crate) use terms::LoginGate;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use imps_wire::csp::{
    AnswerOption, CspResult, DetailedResult, Status, SystemMessage, SystemMessageList,
    SystemMessageRequest, SystemMessageUser,
};
use imps_wire::{Element, Version};
use parking_lot::Mutex;

use crate::CoreError;
use crate::base::Base;
use crate::presence::PresenceService;
use crate::reply::ok_status;
use crate::session::Session;
use crate::store::{SysDelivery, SysMessageRecord, SysOption};
use crate::users::canonical_user;

/// Who an operator's message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These users (IDs in any form our domain accepts).
    Users(Vec<String>),
    /// Every user with a live session now.
    Online,
    /// Every user, each at their next login (and at once when online).
    Everyone,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSystemMessage {
    pub text: String,
    /// Answer option texts; their IDs are 1, 2, ... in this order.
    pub options: Vec<String>,
    pub requires_response: bool,
    pub to: Audience,
}

/// What sending did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSystemMessage {
    pub id: String,
    /// Users it was addressed to by name (0 for everyone).
    pub users: usize,
    /// Users who had it pushed to a session now.
    pub pushed_now: usize,
}

/// A message with how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemMessageSummary {
    pub message: SysMessageRecord,
    pub deliveries: Vec<SysDelivery>,
}

/// Whether any message was ever stored: unknown until first asked, so a
/// server without system messages does no store read when a session
/// becomes ready (SYM-16).
const UNKNOWN: u8 = 0;
const NONE: u8 = 1;
const SOME: u8 = 2;

/// The system message area.
pub(crate) struct SysmsgService {
    base: Arc<Base>,
    /// Carries out "add back" answers.
    lists: Arc<crate::lists::ListsService>,
    /// Carries out answers to the profile advice (PPR-UC).
    directory: Arc<crate::directory::DirectoryService>,
    /// The welcome message is stored once, at the first session that
    /// needs it.
    welcome_stored: tokio::sync::OnceCell<()>,
    any_messages: AtomicU8,
    /// Logins waiting for the answer to the terms (`terms`), by user.
    pending: Mutex<HashMap<String, terms::Pending>>,
    /// Users known to have agreed to the current terms, with the option
    /// they chose, so that their logins read nothing more (SYM-16).
    agreed: Mutex<HashMap<String, u64>>,
    /// (session, message) pairs pushed, so that a message sent while a
    /// session is becoming ready reaches it once, not from both the send
    /// and the session's start. Starts over when full (a rare duplicate
    /// at worst).
    pushed: Mutex<HashSet<(String, String)>>,
}

impl SysmsgService {
    pub(crate) fn new(
        base: Arc<Base>,
        lists: Arc<crate::lists::ListsService>,
        directory: Arc<crate::directory::DirectoryService>,
    ) -> SysmsgService {
        SysmsgService {
            base,
            lists,
            directory,
            welcome_stored: tokio::sync::OnceCell::new(),
            any_messages: AtomicU8::new(UNKNOWN),
            pending: Mutex::new(HashMap::new()),
            agreed: Mutex::new(HashMap::new()),
            pushed: Mutex::new(HashSet::new()),
        }
    }

    /// Notes that message `id` goes to `session`; false when it went
    /// already.
    fn first_push(&self, session: &str, id: &str) -> bool {
        const KEEP: usize = 100_000;
        let mut p = self.pushed.lock();
        if p.len() >= KEEP {
            p.clear();
        }
        p.insert((session.to_string(), id.to_string()))
    }

    fn cfg(&self) -> &SysmsgConfig {
        &self.base.cfg.sysmsg
    }

    /// Stores a message and pushes it to the addressed users' ready 1.3
    /// sessions. Refused (402) when the text is empty or longer than the
    /// setting allows, or it has too many options; 531 for an unknown user.
    pub(crate) async fn send(
        &self,
        m: NewSystemMessage,
        origin: &str,
    ) -> Result<SentSystemMessage, CoreError> {
        let cfg = self.cfg();
        let chars = m.text.chars().count();
        if m.text.trim().is_empty() || chars > cfg.max_text_chars {
            return Err(CoreError::BadParameter(format!(
                "a system message has 1 to {} characters, not {chars}",
                cfg.max_text_chars
            )));
        }
        if m.options.len() > cfg.max_options {
            return Err(CoreError::BadParameter(format!(
                "at most {} answer options",
                cfg.max_options
            )));
        }
        if let Some(o) = m
            .options
            .iter()
            .find(|o| o.trim().is_empty() || o.chars().count() > cfg.max_text_chars)
        {
            return Err(CoreError::BadParameter(format!(
                "answer option {o:?} is empty or too long"
            )));
        }
        let (everyone, users) = match &m.to {
            Audience::Users(v) if v.is_empty() => {
                return Err(CoreError::BadParameter("no users to send to".into()));
            }
            Audience::Users(v) => {
                let mut users = BTreeSet::new();
                for u in v {
                    let id = canonical_user(u, &self.base.cfg.domain)?;
                    if self.base.store.user(&id).await?.is_none() {
                        return Err(CoreError::UnknownUser(id));
                    }
                    users.insert(id);
                }
                (false, users)
            }
            Audience::Online => (
                false,
                self.base
                    .sessions
                    .summaries()
                    .into_iter()
                    .map(|s| s.user)
                    .collect(),
            ),
            Audience::Everyone => (true, BTreeSet::new()),
        };
        let rec = SysMessageRecord {
            id: format!("sm{}", crate::ids::random_digits(12)?),
            text: m.text,
            options: m
                .options
                .into_iter()
                .zip(1u64..)
                .map(|(text, id)| SysOption {
                    id,
                    text,
                    action: None,
                })
                .collect(),
            requires_response: m.requires_response,
            everyone,
            origin: origin.to_string(),
            created_ms: self.base.now_ms(),
        };
        let users: Vec<String> = users.into_iter().collect();
        self.store_and_offer(rec, users).await
    }

    /// Stores `rec` for `users` (or everyone) and pushes it to whoever of
    /// them is online.
    async fn store_and_offer(
        &self,
        rec: SysMessageRecord,
        users: Vec<String>,
    ) -> Result<SentSystemMessage, CoreError> {
        let everyone = rec.everyone;
        let origin = rec.origin.clone();
        self.base.store.put_sysmsg(rec.clone(), &users).await?;
        self.any_messages.store(SOME, Ordering::Relaxed);
        tracing::info!(id = %rec.id, origin, users = users.len(), everyone, "system message stored");
        let online: Vec<String> = if everyone {
            let mut v: Vec<String> = self
                .base
                .sessions
                .summaries()
                .into_iter()
                .map(|s| s.user)
                .collect();
            v.sort();
            v.dedup();
            v
        } else {
            users.clone()
        };
        let mut pushed_now = 0;
        for u in &online {
            if self.offer(u, &rec, false).await? {
                pushed_now += 1;
            }
        }
        Ok(SentSystemMessage {
            id: rec.id,
            users: users.len(),
            pushed_now,
        })
    }

    /// Pushes `rec` to the ready 1.3 sessions of `user` (`again`: also to
    /// those that had it) and counts the send; whether any session took it.
    async fn offer(
        &self,
        user: &str,
        rec: &SysMessageRecord,
        again: bool,
    ) -> Result<bool, CoreError> {
        let any = self.base.router.to_user_shaped(user, &mut |r| {
            let fresh = r.version >= Version::V1_3
                && r.ready
                && (self.first_push(r.session_id, &rec.id) || again);
            if fresh {
                vec![request(&self.localized(rec, user, r.language))]
            } else {
                Vec::new()
            }
        }) > 0;
        if any {
            self.base
                .store
                .mark_sysmsg_sent(&rec.id, user, self.base.now_ms())
                .await?;
        }
        Ok(any)
    }

    /// Sends a message again to every addressed user who is online and has
    /// not answered it (SYM-12); how many users got it.
    pub(crate) async fn resend(&self, id: &str) -> Result<usize, CoreError> {
        let rec = self
            .base
            .store
            .sysmsg(id)
            .await?
            .ok_or_else(|| CoreError::UnknownSystemMessage(id.to_string()))?;
        let rows = self.base.store.sysmsg_deliveries(id).await?;
        let answered: BTreeSet<&str> = rows
            .iter()
            .filter(|d| d.answered_ms.is_some())
            .map(|d| d.user.as_str())
            .collect();
        let mut users: BTreeSet<String> = rows.iter().map(|d| d.user.clone()).collect();
        if rec.everyone {
            users.extend(self.base.sessions.summaries().into_iter().map(|s| s.user));
        }
        let mut n = 0;
        for u in users.iter().filter(|u| !answered.contains(u.as_str())) {
            if self.offer(u, &rec, true).await? {
                n += 1;
            }
        }
        tracing::info!(id, users = n, "system message sent again");
        Ok(n)
    }

    /// Every message with its delivery rows, oldest first.
    pub(crate) async fn list(&self) -> Result<Vec<SystemMessageSummary>, CoreError> {
        let mut out = Vec::new();
        for m in self.base.store.sysmsgs().await? {
            let deliveries = self.base.store.sysmsg_deliveries(&m.id).await?;
            out.push(SystemMessageSummary {
                message: m,
                deliveries,
            });
        }
        Ok(out)
    }

    /// One message with its delivery rows.
    pub(crate) async fn get(&self, id: &str) -> Result<SystemMessageSummary, CoreError> {
        let message = self
            .base
            .store
            .sysmsg(id)
            .await?
            .ok_or_else(|| CoreError::UnknownSystemMessage(id.to_string()))?;
        let deliveries = self.base.store.sysmsg_deliveries(id).await?;
        Ok(SystemMessageSummary {
            message,
            deliveries,
        })
    }

    /// A session became ready: it gets what is due for its user.
    pub(crate) async fn sysmsg_session_ready(&self, s: &Arc<Session>) {
        if s.version < Version::V1_3 {
            return;
        }
        if self.cfg().welcome
            && let Err(e) = self.store_welcome().await
        {
            tracing::warn!(error = %e, "could not store the welcome message");
        }
        if !self.may_have_messages().await {
            return;
        }
        let lang = s.language();
        let due = match self.base.store.sysmsgs_due(&s.user).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(user = %s.user, error = %e, "could not read due system messages");
                return;
            }
        };
        // The welcome only while on; help and advice only where their
        // trigger fires: stored once for everyone, they are never "due".
        let wanted = |m: &&SysMessageRecord| match m.origin.as_str() {
            WELCOME => self.cfg().welcome,
            o if TRIGGERED.contains(&o) => false,
            _ => true,
        };
        for rec in due.iter().filter(wanted).take(self.cfg().max_per_session) {
            // Pushed meanwhile by a send that found the session ready.
            if !self.first_push(&s.id, &rec.id) {
                continue;
            }
            let body = request(&self.localized(rec, &s.user, lang));
            if !self.base.router.to_session(&s.id, body) {
                return;
            }
            if let Err(e) = self
                .base
                .store
                .mark_sysmsg_sent(&rec.id, &s.user, self.base.now_ms())
                .await
            {
                tracing::warn!(user = %s.user, id = %rec.id, error = %e, "could not count a system message send");
            }
        }
    }

    async fn may_have_messages(&self) -> bool {
        match self.any_messages.load(Ordering::Relaxed) {
            NONE => false,
            SOME => true,
            _ => {
                let any = match self.base.store.sysmsgs().await {
                    Ok(v) => !v.is_empty(),
                    Err(_) => true,
                };
                // A send meanwhile has stored SOME; do not overwrite it.
                let _ = self.any_messages.compare_exchange(
                    UNKNOWN,
                    if any { SOME } else { NONE },
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                any || self.any_messages.load(Ordering::Relaxed) == SOME
            }
        }
    }

    /// SystemMessage-User: records each answer (SYM-15). An answer to a
    /// message the user was never sent is 404; a chosen option the message
    /// does not offer, or no choice where the message requires one, is
    /// 402. Each answer stands on its own: with some refused the reply is
    /// 201 with a DetailedResult per refused answer.
    pub(crate) async fn user_answers(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let req = SystemMessageUser::from_element(body, s.version)
            .map_err(|e| CoreError::BadRequest(e.to_string()))?;
        let answers = req.system_message_response_list.responses;
        if answers.is_empty() {
            return Err(CoreError::BadParameter(
                "SystemMessageResponseList is empty".into(),
            ));
        }
        let mut refused: Vec<CoreError> = Vec::new();
        for a in &answers {
            let done = if a.id == HELP && a.chosen_option_id.is_none() {
                // Not an answer: the user asks to see their help preference.
                self.show_help(s).await
            } else {
                self.answer(s, &a.id, a.chosen_option_id).await
            };
            if let Err(e) = done {
                if let CoreError::Store(_) | CoreError::Internal(_) = e {
                    return Err(e);
                }
                tracing::info!(user = %s.user, id = %a.id, error = %e, "system message answer refused");
                refused.push(e);
            }
        }
        if refused.is_empty() {
            return Ok(ok_status());
        }
        if refused.len() == answers.len() && refused.len() == 1 {
            return Err(refused.remove(0));
        }
        let code = if refused.len() == answers.len() {
            900
        } else {
            201
        };
        let mut result = CspResult::new(code, Some("Some answers were not accepted"));
        result.details = refused
            .iter()
            .map(|e| DetailedResult {
                code: u64::from(e.status_code()),
                description: Some(e.description()),
                ..DetailedResult::default()
            })
            .collect();
        Ok(Status {
            result,
            ..Status::default()
        }
        .to_element(s.version))
    }

    async fn answer(&self, s: &Session, id: &str, chosen: Option<u64>) -> Result<(), CoreError> {
        let unknown = || CoreError::UnknownSystemMessage(id.to_string());
        let rec = self.base.store.sysmsg(id).await?.ok_or_else(unknown)?;
        // Nothing about a message to others is told: not its options,
        // not whether it needs an answer.
        if !rec.everyone
            && self
                .base
                .store
                .sysmsg_delivery(id, &s.user)
                .await?
                .is_none()
        {
            return Err(unknown());
        }
        match chosen {
            Some(c) if !rec.options.iter().any(|o| o.id == c) => {
                return Err(CoreError::BadParameter(format!(
                    "system message {id} has no answer option {c}"
                )));
            }
            None if rec.requires_response && !rec.options.is_empty() => {
                return Err(CoreError::BadParameter(format!(
                    "system message {id} needs one of its answer options chosen"
                )));
            }
            _ => {}
        }
        if !self
            .base
            .store
            .answer_sysmsg(id, &s.user, chosen, self.base.now_ms())
            .await?
        {
            return Err(unknown());
        }
        tracing::info!(user = %s.user, id, chosen = ?chosen, "system message answered");
        let action = chosen
            .and_then(|c| rec.options.iter().find(|o| o.id == c))
            .and_then(|o| o.action.as_deref());
        if let Some(adder) = action.and_then(|a| a.strip_prefix(ADD_BACK)) {
            // The answer is recorded; a failure here is the list's error.
            self.lists.add_back(&s.user, adder).await?;
        }
        if id == PROFILE {
            // Either answer decides: only the agreeing option has an action.
            self.directory
                .give_consent(&s.user, action == Some(PROFILE_CONSENT))
                .await?;
        }
        Ok(())
    }

    /// The welcome message, stored once as a message to everyone.
    async fn store_welcome(&self) -> Result<(), CoreError> {
        self.welcome_stored
            .get_or_try_init(|| async { self.store_builtin(WELCOME, Vec::new()).await.map(|_| ()) })
            .await
            .map(|_| ())
    }

    /// A message of the server's own, to everyone, under its fixed ID
    /// (which also names its text template): the stored one, or stored
    /// now when there is none.
    async fn store_builtin(
        &self,
        id: &str,
        options: Vec<SysOption>,
    ) -> Result<SysMessageRecord, CoreError> {
        if let Some(rec) = self.base.store.sysmsg(id).await? {
            return Ok(rec);
        }
        let rec = SysMessageRecord {
            id: id.into(),
            text: self.cfg().text(&id.replace('-', "_"), None, ""),
            options,
            requires_response: false,
            everyone: true,
            origin: id.into(),
            created_ms: self.base.now_ms(),
        };
        match self.base.store.put_sysmsg(rec.clone(), &[]).await {
            Ok(()) => {}
            // Stored meanwhile by another session: that one counts.
            Err(crate::StoreError::Conflict(_)) => {
                if let Some(stored) = self.base.store.sysmsg(id).await? {
                    self.any_messages.store(SOME, Ordering::Relaxed);
                    return Ok(stored);
                }
            }
            Err(e) => return Err(CoreError::from(e)),
        }
        self.any_messages.store(SOME, Ordering::Relaxed);
        Ok(rec)
    }

    /// Counts a request of `s` that was answered (`ok`) or refused; at
    /// the configured number of refusals in a row the session is offered
    /// help, once, unless its user turned help off.
    pub(crate) async fn request_outcome(&self, s: &Arc<Session>, ok: bool) {
        let after = self.cfg().help_after_errors;
        if after == 0 || s.version < Version::V1_3 {
            return;
        }
        let due = s.with_state(|st| {
            if ok {
                st.errors_in_row = 0;
                return false;
            }
            st.errors_in_row = st.errors_in_row.saturating_add(1);
            let due = st.errors_in_row >= after && !st.helped;
            st.helped |= due;
            due
        });
        if !due {
            return;
        }
        if let Err(e) = self.offer_help(s).await {
            tracing::warn!(user = %s.user, error = %e, "help not offered");
        }
    }

    /// Whether `user` turned help off: their latest answer to `help`.
    async fn help_is_off(&self, user: &str) -> Result<bool, CoreError> {
        Ok(self
            .base
            .store
            .sysmsg_delivery(HELP, user)
            .await?
            .is_some_and(|d| d.chosen == Some(HELP_OFF)))
    }

    fn help_options(&self) -> Vec<SysOption> {
        vec![
            SysOption {
                id: 1,
                text: self.cfg().text("help_ok", None, ""),
                action: None,
            },
            SysOption {
                id: HELP_OFF,
                text: self.cfg().text("help_off", None, ""),
                action: None,
            },
        ]
    }

    async fn offer_help(&self, s: &Arc<Session>) -> Result<(), CoreError> {
        if self.help_is_off(&s.user).await? {
            tracing::debug!(user = %s.user, "help not offered: the user turned it off");
            return Ok(());
        }
        self.push_builtin(s, HELP, self.help_options()).await
    }

    /// The user's help preference, shown on request (SYM-UC): the help
    /// message again, its text followed by whether help is on or off, with
    /// the same two options; answering one sets the preference. Asking
    /// records nothing, so the preference stays what it was.
    async fn show_help(&self, s: &Arc<Session>) -> Result<(), CoreError> {
        let off = self.help_is_off(&s.user).await?;
        let rec = self.store_builtin(HELP, self.help_options()).await?;
        let mut shown = self.localized(&rec, &s.user, s.language());
        let state = self.cfg().text(
            if off { "help_is_off" } else { "help_is_on" },
            s.language(),
            "",
        );
        shown.text = format!("{}\n\n{state}", shown.text)
            .chars()
            .take(self.cfg().max_text_chars)
            .collect();
        if self.base.router.to_session(&s.id, request(&shown)) {
            tracing::info!(user = %s.user, off, "help preference shown");
            self.base
                .store
                .mark_sysmsg_sent(HELP, &s.user, self.base.now_ms())
                .await?;
        }
        Ok(())
    }

    /// Stores the server's message `id` (text from the template of the
    /// same name) once, and pushes it to session `s` in its language.
    async fn push_builtin(
        &self,
        s: &Arc<Session>,
        id: &str,
        options: Vec<SysOption>,
    ) -> Result<(), CoreError> {
        let rec = self.store_builtin(id, options).await?;
        let body = request(&self.localized(&rec, &s.user, s.language()));
        if self.base.router.to_session(&s.id, body) {
            tracing::info!(user = %s.user, id, "server's system message sent");
            self.base
                .store
                .mark_sysmsg_sent(id, &s.user, self.base.now_ms())
                .await?;
        }
        Ok(())
    }

    /// Privacy advice (SYM-UC): `s` just let everyone see some of its
    /// presence. Sent once per session, when the setting is on.
    pub(crate) async fn privacy_advice(&self, s: &Arc<Session>) {
        if !self.cfg().privacy_advice || s.version < Version::V1_3 {
            return;
        }
        if s.with_state(|st| std::mem::replace(&mut st.advised, true)) {
            return;
        }
        let ok = vec![SysOption {
            id: 1,
            text: self.cfg().text("privacy_ok", None, ""),
            action: None,
        }];
        if let Err(e) = self.push_builtin(s, PRIVACY, ok).await {
            tracing::warn!(user = %s.user, error = %e, "privacy advice not sent");
        }
    }

    /// Location privacy advice (SYM-UC): `s` just published a location,
    /// and users it authorized earlier can now see it. Sent once per
    /// session, when the privacy advice setting is on; nothing when nobody
    /// else can see the location.
    pub(crate) async fn location_advice(&self, s: &Arc<Session>, presence: &PresenceService) {
        if !self.cfg().privacy_advice || s.version < Version::V1_3 {
            return;
        }
        if s.with_state(|st| st.advised_location) {
            return;
        }
        let reach = match presence.location_reach(&s.user).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(user = %s.user, error = %e, "location advice skipped: presence unreadable");
                return;
            }
        };
        if s.with_state(|st| std::mem::replace(&mut st.advised_location, true)) {
            return;
        }
        tracing::info!(user = %s.user, watchers = reach, "location visible to users authorized earlier");
        let ok = vec![SysOption {
            id: 1,
            text: self.cfg().text("privacy_ok", None, ""),
            action: None,
        }];
        if let Err(e) = self.push_builtin(s, PRIVACY_LOCATION, ok).await {
            tracing::warn!(user = %s.user, error = %e, "location advice not sent");
        }
    }

    /// REG-UC: a user just registered by their MSISDN is asked to choose a
    /// friendly name (until then it is their user ID). Stored for the
    /// user (in the default language, for the operator's listings), so
    /// their first 1.3 session gets it, in that session's language.
    pub(crate) async fn ask_friendly_name(&self, user: &str) {
        let cfg = self.cfg();
        if !cfg.ask_friendly_name {
            return;
        }
        let wire = crate::users::wire_user(user, &self.base.cfg.domain);
        let m = NewSystemMessage {
            text: cfg.text("register", None, &wire),
            options: vec![cfg.text("register_ok", None, "")],
            requires_response: false,
            to: Audience::Users(vec![user.to_string()]),
        };
        if let Err(e) = self.send(m, REGISTER).await {
            tracing::warn!(user, error = %e, "friendly name prompt not stored");
        }
    }

    /// The profile advice (PPR-UC, PPR-7): `s` completed a public profile
    /// it has not agreed to make searchable. Sent each time that happens,
    /// since the last answer may have been no.
    pub(crate) async fn profile_advice(&self, s: &Arc<Session>) {
        if s.version < Version::V1_3 {
            return;
        }
        let options = vec![
            SysOption {
                id: 1,
                text: self.cfg().text("profile_agree", None, ""),
                action: Some(PROFILE_CONSENT.into()),
            },
            SysOption {
                id: 2,
                text: self.cfg().text("profile_decline", None, ""),
                action: None,
            },
        ];
        if let Err(e) = self.push_builtin(s, PROFILE, options).await {
            tracing::warn!(user = %s.user, error = %e, "profile advice not sent");
        }
    }

    /// PPR-7: `s` was refused a profile search because its own mandatory
    /// profile fields are missing. Told once per session what they are and
    /// what filling them means for privacy.
    pub(crate) async fn profile_needs(&self, s: &Arc<Session>) {
        if s.version < Version::V1_3 {
            return;
        }
        if s.with_state(|st| std::mem::replace(&mut st.told_profile_needs, true)) {
            return;
        }
        let ok = vec![SysOption {
            id: 1,
            text: self.cfg().text("profile_needs_ok", None, ""),
            action: None,
        }];
        if let Err(e) = self.push_builtin(s, PROFILE_NEEDS, ok).await {
            tracing::warn!(user = %s.user, error = %e, "profile search advice not sent");
        }
    }

    /// `rec` in `language`: messages the server wrote from a template are
    /// written again in the session's language; the operator's go as
    /// they are.
    fn localized(
        &self,
        rec: &SysMessageRecord,
        user: &str,
        language: Option<&str>,
    ) -> SysMessageRecord {
        let cfg = self.cfg();
        let mut out = rec.clone();
        match rec.origin.as_str() {
            WELCOME => out.text = cfg.text("welcome", language, ""),
            PRIVACY => {
                out.text = cfg.text("privacy", language, "");
                for o in &mut out.options {
                    o.text = cfg.text("privacy_ok", language, "");
                }
            }
            REGISTER => {
                // Addressed to the new user alone, about their own ID.
                let wire = crate::users::wire_user(user, &self.base.cfg.domain);
                out.text = cfg.text("register", language, &wire);
                for o in &mut out.options {
                    o.text = cfg.text("register_ok", language, "");
                }
            }
            PRIVACY_LOCATION => {
                out.text = cfg.text("privacy_location", language, "");
                for o in &mut out.options {
                    o.text = cfg.text("privacy_ok", language, "");
                }
            }
            PROFILE_NEEDS => {
                out.text = cfg.text("profile_needs", language, "");
                for o in &mut out.options {
                    o.text = cfg.text("profile_needs_ok", language, "");
                }
            }
            PROFILE => {
                out.text = cfg.text("profile", language, "");
                for o in &mut out.options {
                    let key = if o.action.is_some() {
                        "profile_agree"
                    } else {
                        "profile_decline"
                    };
                    o.text = cfg.text(key, language, "");
                }
            }
            HELP => {
                out.text = cfg.text("help", language, "");
                for o in &mut out.options {
                    let key = if o.id == HELP_OFF {
                        "help_off"
                    } else {
                        "help_ok"
                    };
                    o.text = cfg.text(key, language, "");
                }
            }
            ADDED => {
                let adder = rec
                    .options
                    .iter()
                    .find_map(|o| o.action.as_deref()?.strip_prefix(ADD_BACK))
                    .map(|a| crate::users::wire_user(a, &self.base.cfg.domain))
                    .unwrap_or_default();
                out.text = cfg.text("added", language, &adder);
                for o in &mut out.options {
                    let key = if o.action.is_some() {
                        "add_back"
                    } else {
                        "ignore"
                    };
                    o.text = cfg.text(key, language, &adder);
                }
            }
            _ => {}
        }
        out
    }
}

/// The ID and origin of the welcome message.
const WELCOME: &str = "welcome";
/// The ID and origin of the help message; the user's answer to it is
/// their help preference.
const HELP: &str = "help";
/// The ID and origin of the privacy advice.
const PRIVACY: &str = "privacy";
/// The ID and origin of the advice on a location authorized users see.
const PRIVACY_LOCATION: &str = "privacy-location";
/// The ID and origin of the public profile advice; answering its first
/// option makes the profile searchable.
const PROFILE: &str = "profile";
/// The ID and origin of the advice to a user refused a profile search.
const PROFILE_NEEDS: &str = "profile-needs";
/// The action of the option that agrees to be found.
const PROFILE_CONSENT: &str = "profile-consent";
/// The server's messages sent only when something a user does calls for
/// them, each to that user's session.
const TRIGGERED: [&str; 5] = [HELP, PRIVACY, PRIVACY_LOCATION, PROFILE, PROFILE_NEEDS];
/// The help option that turns help off.
const HELP_OFF: u64 = 2;
/// The origin of the friendly-name prompt to new users (REG-UC).
const REGISTER: &str = "register";
/// The origin of "you were added" messages.
const ADDED: &str = "added";
/// The action of the option that adds the adder back: `add-back:<user>`.
const ADD_BACK: &str = "add-back:";

#[async_trait::async_trait]
impl crate::lists::AddedHook for SysmsgService {
    /// "X added you", with an option to add X back (SYM-UC), unless the
    /// added user has X on a list already.
    async fn contact_added(&self, adder: &str, added: &str) {
        if !self.cfg().added_notice {
            return;
        }
        match self.base.store.is_contact(added, adder).await {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                tracing::warn!(user = %added, error = %e, "added notice skipped");
                return;
            }
        }
        let cfg = self.cfg();
        let shown = crate::users::wire_user(adder, &self.base.cfg.domain);
        let rec = SysMessageRecord {
            id: match crate::ids::random_digits(12) {
                Ok(d) => format!("sm{d}"),
                Err(e) => {
                    tracing::warn!(error = %e, "added notice skipped");
                    return;
                }
            },
            text: cfg.text("added", None, &shown),
            options: vec![
                SysOption {
                    id: 1,
                    text: cfg.text("add_back", None, &shown),
                    action: Some(format!("{ADD_BACK}{adder}")),
                },
                SysOption {
                    id: 2,
                    text: cfg.text("ignore", None, &shown),
                    action: None,
                },
            ],
            requires_response: false,
            everyone: false,
            origin: ADDED.into(),
            created_ms: self.base.now_ms(),
        };
        if let Err(e) = self.store_and_offer(rec, vec![added.to_string()]).await {
            tracing::warn!(user = %added, adder, error = %e, "added notice not sent");
        }
    }
}

/// The SystemMessage-Request that carries `rec`.
fn request(rec: &SysMessageRecord) -> Element {
    SystemMessageRequest {
        system_message_list: SystemMessageList::new(vec![wire_message(rec)]),
        other: Vec::new(),
    }
    .to_element(Version::V1_3)
}

/// `rec` as a `SystemMessage`.
pub(crate) fn wire_message(rec: &SysMessageRecord) -> SystemMessage {
    let mut m = SystemMessage::new(rec.id.clone(), rec.text.clone());
    m.requires_response = Some(rec.requires_response);
    m.answer_options = rec
        .options
        .iter()
        .map(|o| AnswerOption::new(o.id, o.text.clone()))
        .collect();
    m
}
