//! Adding contacts: who a UserID is (ADC-UC, by User ID or by MSISDN),
//! the nickname when none is given (ADC-1), contact list + grant list +
//! OnlineStatus authorization as one unit (ADC-2), and telling the added
//! user (ADC-3).
//!
//! ADC-2 is all or nothing: the contact list and grant list are written in
//! one store transaction; presence authorization is another area's write,
//! so when it fails the list write is undone (the users that were new to
//! the list and to the grant list are taken off again) and the request
//! fails with the authorization's error.

use super::{ListsService, PresenceGrants};
use std::collections::{BTreeMap, HashMap};

use imps_wire::{Element, Version};

use super::ids::{ListId, NickInput};
use crate::CoreError;
use crate::router::Recipient;
use crate::session::Session;
use crate::store::{ContactEntry, ListChange, ListChangeOutcome};
use crate::users::{canonical_user, wire_user};

/// The presence attribute ADC-2 authorizes.
const ONLINE_STATUS: &str = "OnlineStatus";
/// The 1.3 notification type for "you were added to a contact list".
pub(crate) const ATCL: &str = "ATCL";

/// Members a request named that could not be used, reported per code in
/// `DetailedResult`s while the rest of the request goes ahead.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    /// code -> (description, the entities it applies to)
    by_code: BTreeMap<u16, (String, Entities)>,
}

/// (element name, value as sent): `("UserID", "wv:bob@localhost")`.
type Entities = Vec<(&'static str, String)>;

impl Failures {
    /// A UserID that could not be used.
    pub(crate) fn push(&mut self, e: &CoreError, wire: &str) {
        self.push_named(e, "UserID", wire);
    }

    /// Any entity (`GroupID`, `ScreenName`, ...) that could not be used.
    pub(crate) fn push_named(&mut self, e: &CoreError, element: &'static str, value: &str) {
        let entry = self
            .by_code
            .entry(e.status_code())
            .or_insert_with(|| (e.description(), Vec::new()));
        entry.1.push((element, value.to_string()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The code of the first failure, for a request where nothing else
    /// was done.
    pub(crate) fn first_code(&self) -> Option<u16> {
        self.by_code.keys().next().copied()
    }

    /// `Result{Code, Description, DetailedResult{Code, Description, UserID*, ...}*}`:
    /// 200 when nothing failed, 201 when something else succeeded, else
    /// the failure's own code.
    pub(crate) fn result(&self, something_done: bool) -> Element {
        if self.is_empty() {
            return crate::reply::ok_result();
        }
        let mut r = match (something_done, self.first_code()) {
            (false, Some(code)) => crate::reply::result(code, "Request failed for every entry"),
            _ => crate::reply::result(201, "Partially successful"),
        };
        for (code, (desc, users)) in &self.by_code {
            let mut d = Element::new("DetailedResult")
                .with_text("Code", code.to_string())
                .with_text("Description", desc.clone());
            for (element, value) in users {
                d = d.with_text(element, value.clone());
            }
            r = r.with(d);
        }
        r
    }
}

/// Whether a Subscribe/UnsubscribeNotification-Request names only ATCL,
/// the one notification type this area owns (ADC-3's opt-out).
pub(crate) fn only_added_to_list_type(body: &Element) -> bool {
    let Some(list) = body.child("NotificationTypeList") else {
        return false;
    };
    let mut types = list.children_named("NotificationType").peekable();
    types.peek().is_some() && types.all(|t| t.text.trim().eq_ignore_ascii_case(ATCL))
}

impl ListsService {
    /// Turns the members a request names into store entries. Unknown users
    /// and malformed IDs go to `failures` (531, 402, 516). A registered
    /// user keeps their ID; an MSISDN-style ID (`wv:+358...`) is the user
    /// registered with that number when there is one, and is kept as is
    /// when there is none (ADC-UC: adding by number works before the other
    /// person has registered).
    pub(crate) async fn resolve_members(
        &self,
        inputs: Vec<NickInput>,
        failures: &mut Failures,
    ) -> Result<Vec<ContactEntry>, CoreError> {
        let mut out: Vec<ContactEntry> = Vec::with_capacity(inputs.len());
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(inputs.len());
        for input in inputs {
            let id = match canonical_user(&input.wire, &self.base.cfg.domain) {
                Ok(id) => id,
                Err(e) => {
                    failures.push(&e, &input.wire);
                    continue;
                }
            };
            // One read per entry: the record gives the friendly name too.
            let (user, msisdn, friendly) = match self.base.store.user(&id).await? {
                Some(u) => (u.id, None, u.friendly_name),
                None if id.starts_with('+') => match self.base.store.user_by_msisdn(&id).await? {
                    Some(u) => (u.id, Some(id), u.friendly_name),
                    None => (id.clone(), Some(id), None),
                },
                None => {
                    failures.push(&CoreError::UnknownUser(id), &input.wire);
                    continue;
                }
            };
            // ADC-1: no nickname given -> the friendly name, else (by
            // MSISDN) the number; else none, which reads as the UserID.
            let nickname = input
                .nickname
                .or(friendly.filter(|f| !f.is_empty()))
                .or(msisdn);
            // The same user twice in one request: the later entry wins.
            match seen.get(&user) {
                Some(&i) => {
                    if let Some(e) = out.get_mut(i) {
                        e.nickname = nickname;
                    }
                }
                None => {
                    seen.insert(user.clone(), out.len());
                    out.push(ContactEntry {
                        user_id: user,
                        nickname,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Applies a change to one of the session user's lists. With
    /// `authorize_and_grant` (ADC-2) the added users also go on the grant
    /// list and are authorized to see OnlineStatus, all or nothing. Users
    /// new to the list are told (ADC-3).
    pub(crate) async fn change_list(
        &self,
        s: &Session,
        id: &ListId,
        mut change: ListChange,
        authorize_and_grant: bool,
        grants: &dyn PresenceGrants,
    ) -> Result<(), CoreError> {
        let cfg = self.lists_cfg();
        change.owner = id.owner.clone();
        change.name = id.name.clone();
        change.grant_added = authorize_and_grant;
        change.max_contacts = cfg.max_contacts_per_list;
        change.max_grants = cfg.max_access_entries;
        let added: Vec<String> = change.add.iter().map(|e| e.user_id.clone()).collect();
        let changed = self.base.store.change_contact_list(change).await;
        // The grant list may have changed (ADC-2): cached answers about
        // this owner may be out of date, whatever the outcome.
        self.access.invalidate(&id.owner);
        let (newly_added, newly_granted) = match changed? {
            ListChangeOutcome::NoSuchList => return Err(CoreError::ListNotFound(id.wire.clone())),
            ListChangeOutcome::TooManyContacts => {
                return Err(CoreError::TooManyContacts {
                    list: id.wire.clone(),
                    limit: cfg.max_contacts_per_list,
                });
            }
            ListChangeOutcome::Applied {
                newly_added,
                newly_granted,
            } => (newly_added, newly_granted),
        };
        if authorize_and_grant {
            for u in added.iter().filter(|u| **u != s.user) {
                if let Err(e) = grants.authorize(&s.user, u, &[ONLINE_STATUS]).await {
                    tracing::info!(user = %s.user, contact = %u, error = %e,
                        "OnlineStatus authorization failed; undoing the contact and grant list changes");
                    self.undo_add(id, newly_added, newly_granted).await;
                    return Err(e);
                }
            }
        }
        self.notify_added(&s.user, &newly_added).await;
        Ok(())
    }

    /// Puts `contact` on `owner`'s default contact list (the first list
    /// when none is default; a new default list `contacts` when the owner
    /// has none), as the owner asked by answering a system message. The
    /// contact hears of it like of any add. True when newly added.
    pub(crate) async fn add_back(&self, owner: &str, contact: &str) -> Result<bool, CoreError> {
        let cfg = self.lists_cfg();
        let lists = self.base.store.contact_lists(owner).await?;
        let name = match lists.iter().find(|l| l.is_default).or(lists.first()) {
            Some(l) => l.name.clone(),
            None => {
                let record = crate::store::ContactListRecord {
                    owner: owner.to_string(),
                    name: "contacts".into(),
                    wire_id: format!("wv:{owner}/contacts@{}", self.base.cfg.domain),
                    display_name: None,
                    is_default: true,
                    created_ms: self.base.now_ms(),
                };
                let made = self
                    .base
                    .store
                    .create_contact_list(
                        record,
                        Vec::new(),
                        cfg.max_lists_per_user,
                        cfg.max_contacts_per_list,
                    )
                    .await?;
                if made == crate::store::CreateListOutcome::TooManyLists {
                    return Err(CoreError::TooManyLists {
                        user: owner.to_string(),
                        limit: cfg.max_lists_per_user,
                    });
                }
                "contacts".to_string()
            }
        };
        let change = ListChange {
            owner: owner.to_string(),
            name: name.clone(),
            add: vec![ContactEntry {
                user_id: contact.to_string(),
                nickname: None,
            }],
            max_contacts: cfg.max_contacts_per_list,
            max_grants: cfg.max_access_entries,
            ..ListChange::default()
        };
        let outcome = self.base.store.change_contact_list(change).await?;
        self.access.invalidate(owner);
        match outcome {
            ListChangeOutcome::Applied { newly_added, .. } => {
                let added = !newly_added.is_empty();
                self.notify_added(owner, &newly_added).await;
                tracing::info!(owner, contact, list = %name, added, "contact added back by a system message answer");
                Ok(added)
            }
            ListChangeOutcome::NoSuchList => Err(CoreError::ListNotFound(name)),
            ListChangeOutcome::TooManyContacts => Err(CoreError::TooManyContacts {
                list: name,
                limit: cfg.max_contacts_per_list,
            }),
        }
    }

    /// Takes the users an ADC-2 add put on the lists off them again.
    async fn undo_add(&self, id: &ListId, added: Vec<String>, granted: Vec<String>) {
        let undo = ListChange {
            owner: id.owner.clone(),
            name: id.name.clone(),
            remove: added,
            ungrant: granted,
            max_contacts: usize::MAX,
            max_grants: usize::MAX,
            ..ListChange::default()
        };
        let undone = self.base.store.change_contact_list(undo).await;
        self.access.invalidate(&id.owner);
        if let Err(e) = undone {
            tracing::error!(owner = %id.owner, list = %id.name, error = %e,
                "could not undo a failed add-contact; the list keeps the new members");
        }
    }

    /// ADC-3: tells each user newly put on `adder`'s list, unless they
    /// opted out (UnsubscribeNotification ATCL) or block the adder. The
    /// notice names the adder by User ID and Friendly Name, never the list.
    /// Only CSP 1.3 sessions get it: Notification-Request does not exist
    /// before 1.3.
    pub(crate) async fn notify_added(&self, adder: &str, added: &[String]) {
        if added.is_empty() {
            return;
        }
        let hook = self.added_hook.get().and_then(std::sync::Weak::upgrade);
        let mut user =
            Element::new("User").with_text("UserID", wire_user(adder, &self.base.cfg.domain));
        match self.base.friendly_name(adder).await {
            Ok(Some(name)) => user = user.with_text("FriendlyName", name),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(user = %adder, error = %e, "friendly name unavailable for ATCL notice")
            }
        }
        let body = Element::new("Notification-Request")
            .with_text("NotificationType", ATCL)
            .with(Element::new("UserList").with(user));
        let v13 = |s: &Recipient<'_>| s.version == Version::V1_3;
        for u in added.iter().filter(|u| u.as_str() != adder) {
            let online13 = self.base.router.reaches(u, &mut |s| v13(s));
            if !online13 && hook.is_none() {
                continue;
            }
            let notify = self
                .base
                .store
                .added_notify(u)
                .await
                .map_err(CoreError::from);
            let wanted = match (notify, self.blocks(u, adder).await) {
                (Ok(notify), Ok(blocked)) => notify && !blocked,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(user = %u, error = %e, "ATCL notice skipped");
                    false
                }
            };
            if wanted && let Some(h) = &hook {
                h.contact_added(adder, u).await;
            }
            if wanted && online13 {
                self.base.router.to_user_shaped(u, &mut |s| {
                    if v13(s) {
                        vec![body.clone()]
                    } else {
                        Vec::new()
                    }
                });
            }
        }
    }
}
