//! The login gate: clients refused with a word of why (SYM-2, SYM-3), and
//! the operator's terms asked before a login completes (SYM-6, SYM-7,
//! SYM-11, SYM-14, SYM-17).
//!
//! A 1.3 login of a user who has not agreed to the current terms gets a
//! Login-Response without a session: `Result{403, SystemMessageList}`.
//! The client shows the terms and logs in again with its credentials and a
//! `SystemMessageResponseList`; the answer counts only in a Login-Request
//! that authenticates, from the same ClientID, within the timeout. The
//! chosen option is stored with the terms' version (asked again only when
//! the version changes) and its `withhold` list becomes the session's
//! level of service. No session exists before the answer, so the user is
//! not shown online before the level is settled (SYM-13).

use imps_wire::Version;
use imps_wire::csp::{SystemMessage, SystemMessageList, SystemMessageResponseList};

use super::SysmsgService;
use crate::CoreError;
use crate::store::TermsAgreement;

/// A login waiting for the answer to the terms.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The ClientID that was asked; an answer from another is not taken.
    client: String,
    deadline_ms: u64,
}

/// What the gate decides for an authenticated login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginGate {
    /// Go on; these functions are left out of the session.
    Pass { withheld: Vec<String> },
    /// Answer with these messages and no session.
    Ask(SystemMessageList),
}

impl SysmsgService {
    /// SYM-2, SYM-3: a refusal for clients the operator does not serve,
    /// checked before credentials (it costs no password check and says
    /// nothing about the account). In 1.3 the reason also comes as a system
    /// message that needs no answer.
    pub(crate) fn refusal(
        &self,
        version: Version,
        client: &str,
        application: Option<&str>,
    ) -> Option<(CoreError, Option<SystemMessageList>)> {
        let cfg = self.cfg();
        let text = || {
            if cfg.refusal_text.trim().is_empty() {
                "This client is not supported by the service; please install a newer version."
                    .to_string()
            } else {
                cfg.refusal_text.clone()
            }
        };
        let list = |id: &str| {
            (version >= Version::V1_3).then(|| {
                let mut m = SystemMessage::new(id, text());
                m.requires_response = Some(false);
                SystemMessageList::new(vec![m])
            })
        };
        if cfg.refuse_versions.iter().any(|v| v == version.as_str()) {
            tracing::info!(version = %version, client, "login refused: protocol version not served");
            return Some((
                CoreError::VersionRefused(version.as_str().into()),
                list("refused-version"),
            ));
        }
        let matches = |hay: &str| {
            let hay = hay.to_ascii_lowercase();
            cfg.refuse_clients
                .iter()
                .any(|p| hay.contains(&p.to_ascii_lowercase()))
        };
        if matches(client) || application.is_some_and(matches) {
            tracing::info!(version = %version, client, application, "login refused: client release not served");
            return Some((CoreError::Forbidden(text()), list("refused-client")));
        }
        None
    }

    /// The terms' decision for an authenticated login of `user` from
    /// `client`, given the answers its Login-Request carried.
    pub(crate) async fn login_gate(
        &self,
        user: &str,
        client: &str,
        version: Version,
        answers: Option<&SystemMessageResponseList>,
    ) -> Result<LoginGate, CoreError> {
        let Some(terms) = &self.cfg().terms else {
            return Ok(LoginGate::Pass {
                withheld: Vec::new(),
            });
        };
        let known = self.agreed.lock().get(user).copied();
        let option = match known {
            Some(o) => Some(o),
            None => self
                .base
                .store
                .terms_agreement(user)
                .await?
                .filter(|a| a.version == terms.version)
                .map(|a| a.option),
        };
        let current = option.and_then(|o| terms.option(o));
        if let (Some(o), Some(opt)) = (option, current)
            && known.is_none()
            && !opt.deny
        {
            self.remember_agreement(user, o);
        }
        if let Some(o) = current
            && !o.deny
        {
            return Ok(LoginGate::Pass {
                withheld: o.withhold.clone(),
            });
        }
        if version < Version::V1_3 {
            return match terms.older_clients {
                // A user who declined this version is not let in by an
                // older client either.
                super::OlderClients::Admit if current.is_none() => {
                    let first = terms.options.iter().find(|o| !o.deny);
                    Ok(LoginGate::Pass {
                        withheld: first.map(|o| o.withhold.clone()).unwrap_or_default(),
                    })
                }
                super::OlderClients::Admit => Err(CoreError::Forbidden(
                    "the terms of service were declined".into(),
                )),
                super::OlderClients::Refuse => Err(CoreError::Forbidden(
                    "the terms of service must be accepted with a client that can show them (CSP 1.3)"
                        .into(),
                )),
            };
        }
        let key = user.to_string();
        let now = self.base.now_ms();
        let id = terms.message_id();
        let answer = answers.and_then(|l| l.responses.iter().find(|r| r.id == id));
        if let Some(answer) = answer {
            // One question per user: from another ClientID the answer is
            // not taken, and the question goes to that client instead.
            let pending = self
                .pending
                .lock()
                .remove(&key)
                .filter(|p| p.client == client);
            match pending {
                Some(p) if p.deadline_ms < now => {
                    tracing::info!(user, client, "terms answered too late; login refused");
                    return Err(CoreError::SystemMessageTimeout);
                }
                Some(p) => {
                    let chosen = answer.chosen_option_id;
                    let Some(option) = chosen.and_then(|c| terms.option(c)) else {
                        // Still waiting for a usable answer.
                        self.pending.lock().insert(key, p);
                        return Err(CoreError::BadParameter(format!(
                            "answer {id} with one of its options"
                        )));
                    };
                    let option_id = chosen.unwrap_or_default();
                    self.base
                        .store
                        .put_terms_agreement(
                            user,
                            TermsAgreement {
                                version: terms.version.clone(),
                                option: option_id,
                                agreed_ms: now,
                            },
                        )
                        .await?;
                    tracing::info!(user, version = %terms.version, option = option_id, deny = option.deny, "terms answered");
                    if option.deny {
                        self.agreed.lock().remove(user);
                        return Err(CoreError::Forbidden(
                            "the terms of service were declined".into(),
                        ));
                    }
                    self.remember_agreement(user, option_id);
                    return Ok(LoginGate::Pass {
                        withheld: option.withhold.clone(),
                    });
                }
                // An answer to a question this server did not ask (or
                // asked before a restart): ask again.
                None => {}
            }
        }
        self.ask(
            key,
            client,
            now.saturating_add(terms.timeout().saturating_mul(1000)),
        )?;
        let mut m = SystemMessage::new(id, terms.text.clone());
        m.requires_response = Some(true);
        m.answer_options = terms
            .options
            .iter()
            .zip(1u64..)
            .map(|(o, i)| imps_wire::csp::AnswerOption::new(i, o.text.clone()))
            .collect();
        Ok(LoginGate::Ask(SystemMessageList::new(vec![m])))
    }

    /// Remembers that `user` agreed to the current terms with `option`;
    /// the memory starts over when full (the store still knows).
    fn remember_agreement(&self, user: &str, option: u64) {
        let mut a = self.agreed.lock();
        if a.len() >= self.cfg().max_pending_logins.max(1).saturating_mul(10) {
            a.clear();
        }
        a.insert(user.to_string(), option);
    }

    /// Remembers a login waiting for its answer, one per user (a new
    /// question replaces the user's earlier one); 503 when too many users
    /// wait.
    fn ask(&self, key: String, client: &str, deadline_ms: u64) -> Result<(), CoreError> {
        let now = self.base.now_ms();
        let mut p = self.pending.lock();
        let cap = self.cfg().max_pending_logins.max(1);
        if p.len() >= cap && !p.contains_key(&key) {
            // Answers that can only be refused now are kept one timeout
            // longer, then dropped here.
            let grace = self
                .cfg()
                .terms
                .as_ref()
                .map_or(0, |t| t.timeout().saturating_mul(1000));
            p.retain(|_, v| v.deadline_ms.saturating_add(grace) >= now);
            if p.len() >= cap {
                tracing::warn!(
                    cap,
                    "logins waiting for the terms at their limit; refused with 503"
                );
                return Err(CoreError::Busy(
                    "too many logins waiting for an answer".into(),
                ));
            }
        }
        p.insert(
            key,
            Pending {
                client: client.to_string(),
                deadline_ms,
            },
        );
        Ok(())
    }
}
