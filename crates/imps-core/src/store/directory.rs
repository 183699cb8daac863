//! Public profiles, the contact details an operator keeps for a user, and
//! the search over users and groups (issue 16: BASE-SRCH, SRC-*, PPR-*).
//!
//! The store answers a search as a boolean term over exact keys: the core
//! turns what the client asked into a [`Term`] of leaves, each naming one
//! field and one normalised value ([`search_key`]), and the backend keeps
//! an index of those keys written in the same transaction as the profile,
//! the user or the group it comes from. Only whole values match (PPR-13);
//! a prefix leaf exists for the operator's opt-in name prefix search.
//!
//! The store does not decide who may be found: the core adds the leaves
//! for that (a profile search asks for [`UserLeaf::Listed`] and a birth
//! bound for the minimum age). Groups are the exception, because no
//! search may ever show one that is not listed: [`group_listed`] is
//! applied by every backend (PGC-15).

use std::collections::HashMap;

use async_trait::async_trait;
use unicode_normalization::UnicodeNormalization;

use super::{GroupRecord, MemStore, StoreError};

/// A user's birth year and month (1-12), from the public profile (PPR-1;
/// minimum-age groups, PPR-9/10; the minimum age of profile search,
/// PPR-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birth {
    pub year: u16,
    pub month: u8,
}

/// A user's public profile (PPR-1). The friendly name is the user's one
/// friendly name (`UserRecord::friendly_name`): clearing the profile keeps
/// it (PPR-3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicProfile {
    pub friendly_name: Option<String>,
    /// Year and month of birth; others see the age it gives.
    pub birth: Option<Birth>,
    pub gender: Option<String>,
    pub intention: Option<String>,
    pub interests: Option<String>,
    pub marital_status: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// Shown, never searched.
    pub free_text: Option<String>,
    /// The user agreed to the privacy advice that makes the profile
    /// searchable (PPR-UC).
    pub consent: bool,
}

impl PublicProfile {
    /// The mandatory fields are filled: friendly name, age, country
    /// (PPR-6, PPR-8).
    pub fn complete(&self) -> bool {
        self.friendly_name.as_deref().is_some_and(|s| !s.is_empty())
            && self.birth.is_some()
            && self.country.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// Found by a profile search: complete and agreed to.
    pub fn listed(&self) -> bool {
        self.complete() && self.consent
    }

    /// Everything but the friendly name emptied, as a clear leaves it
    /// (PPR-3). The consent goes too: a new profile needs a new yes.
    pub fn cleared(&self) -> PublicProfile {
        PublicProfile {
            friendly_name: self.friendly_name.clone(),
            ..PublicProfile::default()
        }
    }
}

/// Contact details the operator holds (never shown by a search, SRC-UC).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactDetails {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// A searchable user field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserField {
    UserId,
    FriendlyName,
    FirstName,
    LastName,
    Email,
    /// E.164 with `+`.
    Msisdn,
    City,
    Country,
    Gender,
    Intention,
    Interests,
    MaritalStatus,
}

/// A searchable group field (groups are searched only among listed ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupField {
    GroupId,
    Name,
    Topic,
    Owner,
    /// A user currently joined to the group.
    Joined,
}

/// One test on a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLeaf {
    /// The field's key equals this key (from [`search_key`]).
    Is(UserField, String),
    /// The field's key starts with this key (operator setting only).
    Prefix(UserField, String),
    /// Born in this month index or earlier ([`Birth::month_index`]).
    BornBy(u32),
    /// Born after this month index.
    BornAfter(u32),
    /// The profile is listed ([`PublicProfile::listed`]).
    Listed,
}

/// One test on a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLeaf {
    Is(GroupField, String),
    Prefix(GroupField, String),
}

/// A boolean combination of leaves (SRC-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term<L> {
    Leaf(L),
    All(Vec<Term<L>>),
    Any(Vec<Term<L>>),
    Not(Box<Term<L>>),
}

impl<L> Term<L> {
    /// Evaluates the term with `leaf` deciding each leaf.
    pub fn eval(&self, leaf: &impl Fn(&L) -> bool) -> bool {
        match self {
            Term::Leaf(l) => leaf(l),
            Term::All(v) => v.iter().all(|t| t.eval(leaf)),
            Term::Any(v) => v.iter().any(|t| t.eval(leaf)),
            Term::Not(t) => !t.eval(leaf),
        }
    }
}

impl Birth {
    /// Months since year 0: `year * 12 + month - 1`.
    pub fn month_index(&self) -> u32 {
        u32::from(self.year) * 12 + u32::from(self.month.clamp(1, 12)) - 1
    }
}

/// The key a value is indexed and searched by: Unicode NFKC, lower case,
/// blanks at the ends dropped and runs of blanks inside made one space.
/// "  Ｍarie  CURIE" and "marie curie" have the same key.
pub fn search_key(s: &str) -> String {
    let folded: String = s.nfkc().flat_map(char::to_lowercase).collect();
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether a group may ever be found: public and Searchable = T (PGC-15:
/// a private conversation never is, whatever its properties say).
pub fn group_listed(g: &GroupRecord) -> bool {
    !g.private
        && g.prop("Searchable")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("T"))
}

/// The keys of a group's searchable fields other than joined users, as a
/// backend indexes them.
pub fn group_keys(g: &GroupRecord) -> Vec<(GroupField, String)> {
    let mut keys = vec![
        (GroupField::GroupId, g.id.to_ascii_lowercase()),
        (GroupField::Owner, g.owner.clone()),
    ];
    for (field, prop) in [(GroupField::Name, "Name"), (GroupField::Topic, "Topic")] {
        if let Some(v) = g.prop(prop) {
            let k = search_key(v);
            if !k.is_empty() {
                keys.push((field, k));
            }
        }
    }
    keys
}

/// The keys of a user's searchable fields, as a backend indexes them.
/// Free text is never among them (PPR-1).
pub fn user_keys(
    id: &str,
    msisdn: Option<&str>,
    p: &PublicProfile,
    d: &ContactDetails,
) -> Vec<(UserField, String)> {
    let mut keys = vec![(UserField::UserId, id.to_string())];
    if let Some(m) = msisdn {
        keys.push((UserField::Msisdn, m.to_string()));
    }
    let fields = [
        (UserField::FriendlyName, &p.friendly_name),
        (UserField::City, &p.city),
        (UserField::Country, &p.country),
        (UserField::Gender, &p.gender),
        (UserField::Intention, &p.intention),
        (UserField::Interests, &p.interests),
        (UserField::MaritalStatus, &p.marital_status),
        (UserField::FirstName, &d.first_name),
        (UserField::LastName, &d.last_name),
        (UserField::Email, &d.email),
    ];
    for (field, value) in fields {
        if let Some(v) = value {
            let k = search_key(v);
            if !k.is_empty() {
                keys.push((field, k));
            }
        }
    }
    keys
}

/// Profiles, contact details and search.
#[async_trait]
pub trait DirectoryStore: Send + Sync + 'static {
    /// The user's profile (an empty one when never set, with the user's
    /// friendly name); `None` when there is no such user.
    async fn profile(&self, user: &str) -> Result<Option<PublicProfile>, StoreError>;
    /// Replaces the whole profile, the user's friendly name included, and
    /// its index entries, in one step; false when there is no such user.
    async fn put_profile(&self, user: &str, p: PublicProfile) -> Result<bool, StoreError>;
    async fn contact_details(&self, user: &str) -> Result<Option<ContactDetails>, StoreError>;
    /// Replaces the contact details and their index entries; false when
    /// there is no such user.
    async fn set_contact_details(&self, user: &str, d: ContactDetails) -> Result<bool, StoreError>;
    /// The friendly names of `users`, in their order: `None` for a user
    /// without one (or no such user). What a page of user results shows
    /// (SRC-4, PPR-12), asked once per page so that a backend can answer
    /// it in one trip; by default one [`DirectoryStore::profile`] each.
    async fn friendly_names(&self, users: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            out.push(self.profile(u).await?.and_then(|p| p.friendly_name));
        }
        Ok(out)
    }
    /// Up to `cap` users matching the term, in user ID order.
    async fn search_users(&self, t: &Term<UserLeaf>, cap: usize)
    -> Result<Vec<String>, StoreError>;
    /// Up to `cap` listed groups ([`group_listed`]) matching the term, in
    /// group ID order.
    async fn search_groups(
        &self,
        t: &Term<GroupLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError>;
}

/// The in-memory tables of this area (the friendly name lives with the
/// user).
#[derive(Default)]
pub(crate) struct MemDirectory {
    profiles: HashMap<String, PublicProfile>,
    details: HashMap<String, ContactDetails>,
}

impl MemDirectory {
    /// Stores a new user's profile (friendly name already taken out) and
    /// contact details.
    pub(crate) fn put(&mut self, user: &str, p: PublicProfile, d: ContactDetails) {
        self.profiles.insert(user.to_string(), p);
        self.details.insert(user.to_string(), d);
    }
}

fn leaf_matches(
    keys: &[(UserField, String)],
    birth: Option<u32>,
    listed: bool,
    l: &UserLeaf,
) -> bool {
    match l {
        UserLeaf::Is(f, k) => keys.iter().any(|(kf, kk)| kf == f && kk == k),
        UserLeaf::Prefix(f, k) => keys
            .iter()
            .any(|(kf, kk)| kf == f && kk.starts_with(k.as_str())),
        UserLeaf::BornBy(m) => birth.is_some_and(|b| b <= *m),
        UserLeaf::BornAfter(m) => birth.is_some_and(|b| b > *m),
        UserLeaf::Listed => listed,
    }
}

#[async_trait]
impl DirectoryStore for MemStore {
    async fn profile(&self, user: &str) -> Result<Option<PublicProfile>, StoreError> {
        let Some(u) = self.inner.lock().users.get(user).cloned() else {
            return Ok(None);
        };
        let mut p = self
            .directory
            .lock()
            .profiles
            .get(user)
            .cloned()
            .unwrap_or_default();
        p.friendly_name = u.friendly_name;
        Ok(Some(p))
    }

    async fn put_profile(&self, user: &str, mut p: PublicProfile) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        let Some(u) = g.users.get_mut(user) else {
            return Ok(false);
        };
        u.friendly_name = p.friendly_name.take();
        drop(g);
        self.directory.lock().profiles.insert(user.to_string(), p);
        Ok(true)
    }

    async fn contact_details(&self, user: &str) -> Result<Option<ContactDetails>, StoreError> {
        if !self.inner.lock().users.contains_key(user) {
            return Ok(None);
        }
        Ok(Some(
            self.directory
                .lock()
                .details
                .get(user)
                .cloned()
                .unwrap_or_default(),
        ))
    }

    async fn set_contact_details(&self, user: &str, d: ContactDetails) -> Result<bool, StoreError> {
        if !self.inner.lock().users.contains_key(user) {
            return Ok(false);
        }
        self.directory.lock().details.insert(user.to_string(), d);
        Ok(true)
    }

    async fn search_users(
        &self,
        t: &Term<UserLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        let users: Vec<_> = self.inner.lock().users.values().cloned().collect();
        let dir = self.directory.lock();
        let mut out: Vec<String> = users
            .into_iter()
            .filter(|u| {
                let mut p = dir.profiles.get(&u.id).cloned().unwrap_or_default();
                p.friendly_name = u.friendly_name.clone();
                let d = dir.details.get(&u.id).cloned().unwrap_or_default();
                let keys = user_keys(&u.id, u.msisdn.as_deref(), &p, &d);
                let birth = p.birth.map(|b| b.month_index());
                let listed = p.listed();
                t.eval(&|l| leaf_matches(&keys, birth, listed, l))
            })
            .map(|u| u.id)
            .collect();
        out.sort();
        out.truncate(cap);
        Ok(out)
    }

    async fn search_groups(
        &self,
        t: &Term<GroupLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        let groups = self.groups.lock().listed_with_joined();
        let mut out: Vec<String> = groups
            .into_iter()
            .filter(|(g, joined)| {
                let mut keys = group_keys(g);
                keys.extend(joined.iter().map(|u| (GroupField::Joined, u.clone())));
                t.eval(&|l| match l {
                    GroupLeaf::Is(f, k) => keys.iter().any(|(kf, kk)| kf == f && kk == k),
                    GroupLeaf::Prefix(f, k) => keys
                        .iter()
                        .any(|(kf, kk)| kf == f && kk.starts_with(k.as_str())),
                })
            })
            .map(|(g, _)| g.id)
            .collect();
        out.sort();
        out.truncate(cap);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_width_and_blanks() {
        assert_eq!(search_key("  Ｍarie  CURIE "), "marie curie");
        assert_eq!(search_key("ÉCOLE"), "école");
        // NFKC joins a decomposed accent.
        assert_eq!(search_key("e\u{301}cole"), "école");
        assert_eq!(search_key(""), "");
    }

    #[test]
    fn month_index_orders_births() {
        let a = Birth {
            year: 2000,
            month: 12,
        };
        let b = Birth {
            year: 2001,
            month: 1,
        };
        assert_eq!(a.month_index() + 1, b.month_index());
    }

    #[test]
    fn terms_combine() {
        let t: Term<u8> = Term::All(vec![
            Term::Leaf(1),
            Term::Not(Box::new(Term::Any(vec![Term::Leaf(2), Term::Leaf(3)]))),
        ]);
        assert!(t.eval(&|l| *l == 1));
        assert!(!t.eval(&|l| *l == 1 || *l == 3));
    }
}
