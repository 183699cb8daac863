//! Who is who (issue 16): public profiles (PPR-*) and the Search
//! transaction over users and groups (BASE-SRCH, SRC-*).
//!
//! Files: `criteria` (search pairs and AdvancedCriteria into a store
//! term), `search` (Search-Request, the open searches and their pages,
//! StopSearch), `profile` (Get/UpdatePublicProfile).
//!
//! The store answers a search with the IDs that match, at most
//! `max_findings`; the area keeps that list for the session under a
//! SearchID and hands it out in pages, earlier or later, until the search
//! is stopped, expires, or the session ends.

mod criteria;
mod profile;
mod remote;
mod search;

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};
use parking_lot::Mutex;

use crate::CoreError;
use crate::base::Base;
use crate::service::Outcome;
use crate::session::Session;

/// When a complete public profile becomes searchable (PPR-UC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileConsent {
    /// After the user agrees to the privacy advice, a system message the
    /// server sends when the profile is first complete.
    Advice,
    /// At once: the operator asked for consent some other way.
    Implicit,
}

crate::config::setting_enum! {
    ProfileConsent, "search.profile_consent", to_ascii_lowercase, "\"advice\" or \"implicit\"",
    { Advice => "advice", Implicit => "implicit" }
}

/// The `[search]` section; defaults in [`SEARCH_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Most users or groups one search may find; past it the client is
    /// asked to refine (536).
    pub max_findings: usize,
    /// Results per page when the request has no SearchLimit.
    pub default_page: u64,
    /// Most results per page, whatever SearchLimit asks.
    pub max_page: u64,
    /// An open search unused this long is forgotten (424 after).
    pub ttl_secs: u64,
    /// Open searches per session; a new one forgets the oldest.
    pub max_open_per_session: usize,
    /// Open searches on the server; a new one forgets the oldest.
    pub max_open: usize,
    /// Deepest nesting of AdvancedCriteria (parentheses and NOTs).
    pub max_depth: usize,
    /// Most search pairs in one request.
    pub max_pairs: usize,
    /// Longest SearchString, in characters.
    pub max_string_chars: usize,
    /// How long the store may take to answer one search (535 after).
    pub timeout_ms: u64,
    /// Users younger than this are never found by a profile search, and
    /// others do not see their profile (PPR-11); 0 = no minimum.
    pub min_profile_age: u32,
    /// Accept a trailing `*` on first, last and friendly names (at least
    /// two characters before it); other wildcards are always refused.
    pub prefix_names: bool,
    /// When a complete profile becomes searchable.
    pub profile_consent: ProfileConsent,
    /// Country (ISO 3166 alpha-2) of MSISDNs searched without `+`; empty:
    /// such numbers are refused.
    pub default_region: String,
    /// Longest free text of a profile, in characters; other profile
    /// fields take at most 64.
    pub max_free_text_chars: usize,
    /// New searches a user may start per second on average (pages of an
    /// open search are free); 0 turns the limit off. Past it: 503 with
    /// TryAgainTimeout.
    pub rate_per_sec: u32,
    /// New searches a user may start at once after a quiet spell.
    pub burst: u32,
    /// Send user and group searches to the peer domains too, and answer
    /// theirs (SRC-UC); needs `[federation]`.
    pub remote: bool,
    /// How long a search waits for the peer domains' answers; a peer
    /// that has not answered by then is left out.
    pub remote_timeout_ms: u64,
}

/// The defaults: small pages for phones, a few hundred findings at most.
pub const SEARCH_DEFAULTS: SearchConfig = SearchConfig {
    max_findings: 200,
    default_page: 20,
    max_page: 100,
    ttl_secs: 600,
    max_open_per_session: 4,
    max_open: 10_000,
    max_depth: 8,
    max_pairs: 16,
    max_string_chars: 128,
    timeout_ms: 3000,
    min_profile_age: 16,
    prefix_names: false,
    profile_consent: ProfileConsent::Advice,
    default_region: String::new(),
    max_free_text_chars: 512,
    rate_per_sec: 2,
    burst: 20,
    remote: true,
    remote_timeout_ms: 3000,
};

impl Default for SearchConfig {
    fn default() -> Self {
        SEARCH_DEFAULTS
    }
}

impl SearchConfig {
    /// Checks the values; the message names the setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("max_findings", self.max_findings),
            ("max_open_per_session", self.max_open_per_session),
            ("max_open", self.max_open),
            ("max_depth", self.max_depth),
            ("max_pairs", self.max_pairs),
            ("max_string_chars", self.max_string_chars),
        ] {
            if v == 0 {
                return Err(format!("search.{name} must be at least 1"));
            }
        }
        if self.max_pairs > 32 {
            return Err("search.max_pairs must be at most 32".into());
        }
        if self.max_depth > 32 {
            return Err("search.max_depth must be at most 32".into());
        }
        if self.rate_per_sec > 0 && self.burst == 0 {
            return Err("search.burst must be at least 1 when search.rate_per_sec is set".into());
        }
        if self.remote && self.remote_timeout_ms == 0 {
            return Err("search.remote_timeout_ms must be at least 1".into());
        }
        if self.default_page == 0 || self.default_page > self.max_page {
            return Err("search.default_page must be 1..=search.max_page".into());
        }
        if self.region().is_err() {
            return Err(format!(
                "search.default_region {:?} is not an ISO 3166 alpha-2 code",
                self.default_region
            ));
        }
        Ok(())
    }

    /// The default region for numbers without `+`.
    pub(crate) fn region(&self) -> Result<Option<phonenumber::country::Id>, ()> {
        let r = self.default_region.trim();
        if r.is_empty() {
            return Ok(None);
        }
        r.to_ascii_uppercase().parse().map(Some).map_err(|_| ())
    }
}

/// The directory area: profiles and search.
pub(crate) struct DirectoryService {
    base: Arc<Base>,
    searches: Mutex<search::OpenSearches>,
    /// New searches per user (ours and those of other domains' users).
    rate: crate::rate::SendRate,
    /// Searches of other domains awaiting their answer.
    waiting: Mutex<remote::Waiting>,
}

impl DirectoryService {
    pub(crate) fn new(base: Arc<Base>) -> DirectoryService {
        let cfg = &base.cfg.search;
        let rate = crate::rate::SendRate::new(crate::rate::RateSettings {
            per_sec: cfg.rate_per_sec,
            burst: cfg.burst,
            max_senders: cfg.max_open,
        });
        DirectoryService {
            base,
            searches: Mutex::new(search::OpenSearches::default()),
            rate,
            waiting: Mutex::new(remote::Waiting::default()),
        }
    }

    fn cfg(&self) -> &SearchConfig {
        &self.base.cfg.search
    }

    /// Search-Request, StopSearch-Request, GetPublicProfile-Request and
    /// UpdatePublicProfile-Request. An update that completes a profile
    /// not yet agreed to is answered with `ProfileUpdated::needs_consent`
    /// so the hub can send the privacy advice.
    pub(crate) async fn handle_directory(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<(Outcome, bool), CoreError> {
        use PrimitiveKind as P;
        let b = &tx.body;
        Ok(match kind {
            P::SearchRequest => (Outcome::Reply(self.search(s, b).await?), false),
            P::StopSearchRequest => (Outcome::Reply(self.stop_search(s, b)?), false),
            P::GetPublicProfileRequest => (Outcome::Reply(self.get_profiles(s, b).await?), false),
            P::UpdatePublicProfileRequest => {
                let (reply, advise) = self.update_profile(s, b).await?;
                (Outcome::Reply(reply), advise)
            }
            _ => return Err(CoreError::NotImplemented(kind.name().into())),
        })
    }

    /// Forgets the session's open searches.
    pub(crate) fn directory_session_ended(&self, s: &Session) {
        self.searches.lock().drop_session(&s.id);
    }

    /// Makes the user's profile searchable: their answer to the privacy
    /// advice (PPR-UC). False when there is no such user.
    pub(crate) async fn give_consent(&self, user: &str, yes: bool) -> Result<bool, CoreError> {
        let Some(mut p) = self.base.store.profile(user).await? else {
            return Ok(false);
        };
        if p.consent != yes {
            p.consent = yes;
            self.base.store.put_profile(user, p).await?;
            tracing::info!(user, searchable = yes, "public profile consent answered");
        }
        Ok(true)
    }

    /// Months since year 0, today.
    fn now_month(&self) -> u32 {
        let (y, m) = crate::groups::year_month(self.base.now_ms());
        y * 12 + m - 1
    }
}
