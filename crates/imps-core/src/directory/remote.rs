//! Search in other domains (SRC-UC, issue 17).
//!
//! The searcher's server sends the search pairs as an SSP `SearchRequest`
//! to every peer it may reach (or, when the search names an ID of one
//! peer domain, to that peer only), runs its own search meanwhile, and
//! waits for the answers together up to `search.remote_timeout_ms`. A
//! peer that does not answer in time, or refuses, is left out and
//! logged; a peer that finds too many makes the search too broad (536),
//! as a local search would. The peer runs the search with its own parser
//! and its own rules (what its users allow to be found, its rate limit,
//! its limits); it answers every finding at once and the searcher's
//! server keeps the merged list and pages it like a local search.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use imps_wire::Version;
use imps_wire::ssp::{SspStatus, domain_of, normalize_id};
use imps_wire::ssp_search::{SspFoundUser, SspSearchPair, SspSearchRequest, SspSearchResponse};
use tokio::sync::oneshot;

use super::DirectoryService;
use super::criteria::{self, Limits, Pair, Query};
use crate::CoreError;
use crate::federation::{check_actor, status_of};
use crate::store::{Term, UserLeaf};
use crate::users::wire_user;

/// The SearchRequests we wait answers for: TransactionID → (peer, who
/// waits).
pub(super) type Waiting = HashMap<String, (String, oneshot::Sender<SspSearchResponse>)>;

/// The questions one search put to other domains.
pub(super) struct Asked {
    pending: Vec<(String, oneshot::Receiver<SspSearchResponse>)>,
    deadline: tokio::time::Instant,
}

/// Public-profile elements: a search naming one needs the searcher's own
/// profile (PPR-6), checked on the searcher's side.
const PROFILE_ELEMENTS: [&str; 8] = [
    "USER_CITY",
    "USER_COUNTRY",
    "USER_GENDER",
    "USER_INTENTION",
    "USER_INTERESTS_HOBBIES",
    "USER_MARITAL_STATUS",
    "USER_AGE_MIN",
    "USER_AGE_MAX",
];

pub(super) fn names_profile(pairs: &[Pair]) -> bool {
    pairs.iter().any(|p| {
        PROFILE_ELEMENTS
            .iter()
            .any(|e| p.element.trim().eq_ignore_ascii_case(e))
    })
}

/// Whether a search asks for groups (else users), from its first pair.
pub(super) fn asks_groups(pairs: &[Pair]) -> bool {
    pairs.first().is_some_and(|p| {
        p.element
            .trim()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("GROUP_"))
    })
}

/// The merged findings of a search: IDs (users in the core's form, local
/// bare, remote `user@domain`; groups as written) and the friendly names
/// other domains gave.
pub(super) struct Merged {
    pub ids: Vec<String>,
    pub names: HashMap<String, String>,
}

impl DirectoryService {
    /// Whether searches go to other domains (and theirs are answered).
    fn remote_on(&self) -> bool {
        self.cfg().remote && self.base.cfg.federation.is_some()
    }

    /// The peers a search goes to: `only` (a peer named by an ID in the
    /// search), else every peer the federation may reach now.
    pub(super) fn search_peers(&self, only: Option<&str>) -> Vec<String> {
        if !self.remote_on() {
            return Vec::new();
        }
        let Some(f) = self.base.cfg.federation.as_ref() else {
            return Vec::new();
        };
        let reachable = f.search_peers();
        match only {
            Some(d) => reachable
                .into_iter()
                .filter(|p| p.eq_ignore_ascii_case(d))
                .collect(),
            None => reachable,
        }
    }

    /// Whether a domain the local parse refused (516) is a peer this
    /// search may go to instead.
    pub(super) fn remote_only(&self, domain: &str) -> bool {
        self.remote_on() && self.base.is_peer_domain(domain)
    }

    /// Queues the search for each of `peers`, on behalf of `user`.
    pub(super) async fn ask_peers(
        &self,
        user: &str,
        peers: &[String],
        pairs: &[Pair],
        advanced: Option<&str>,
    ) -> Result<Asked, CoreError> {
        let wait = Duration::from_millis(self.cfg().remote_timeout_ms.max(1));
        let deadline = tokio::time::Instant::now() + wait;
        let mut pending = Vec::new();
        let Some(f) = self.base.cfg.federation.as_ref() else {
            return Ok(Asked { pending, deadline });
        };
        let cap = usize::try_from(f.queue_max()).unwrap_or(usize::MAX);
        // Questions whose searcher gave up (an error after asking, or the
        // wait ended) are forgotten.
        self.waiting.lock().retain(|_, (_, tx)| !tx.is_closed());
        let req = SspSearchRequest {
            meta: self.base.ssp_meta(Some(user)),
            pairs: pairs
                .iter()
                .map(|p| SspSearchPair {
                    element: p.element.clone(),
                    string: p.string.clone(),
                    pair_id: p.pair_id,
                })
                .collect(),
            advanced_criteria: advanced.map(str::to_string),
        }
        .to_element();
        for peer in peers {
            if self.waiting.lock().len() >= cap {
                tracing::info!(peer = %peer, "too many searches of other domains awaited; this peer is left out");
                continue;
            }
            match self.base.queue_ssp(peer, None, &req).await {
                Ok(id) => {
                    let (tx, rx) = oneshot::channel();
                    self.waiting
                        .lock()
                        .insert(crate::base::Base::ssp_tid(id), (peer.clone(), tx));
                    pending.push((peer.clone(), rx));
                }
                Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                Err(e) => {
                    tracing::info!(peer = %peer, error = %e, "search not sent to the peer; left out");
                }
            }
        }
        Ok(Asked { pending, deadline })
    }

    /// Waits for the answers and merges them after the local findings:
    /// local first, then each peer's in domain order as the peer sent
    /// them, duplicates dropped. Only IDs of the answering peer's domain
    /// are taken.
    pub(super) async fn merge(
        &self,
        users: bool,
        local: Vec<String>,
        asked: Asked,
    ) -> Result<Merged, CoreError> {
        let max = self.cfg().max_findings;
        let mut answers: Vec<(String, SspSearchResponse)> = Vec::new();
        for (peer, rx) in asked.pending {
            let answer = tokio::time::timeout_at(asked.deadline, rx).await;
            match answer {
                Ok(Ok(r)) => answers.push((peer, r)),
                _ => {
                    self.waiting.lock().retain(|_, (_, tx)| !tx.is_closed());
                    tracing::info!(peer = %peer, "peer did not answer the search in time; left out");
                }
            }
        }
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        let mut seen: HashSet<String> = local.iter().map(|i| i.to_ascii_lowercase()).collect();
        let mut ids = local;
        let mut names = HashMap::new();
        for (peer, r) in answers {
            if r.status.code == 536 {
                tracing::info!(peer = %peer, "peer found too many; the search must be refined");
                return Err(CoreError::TooManyHits(max));
            }
            if r.status.code >= 300 {
                tracing::info!(peer = %peer, code = r.status.code, description = ?r.status.description, "peer refused the search; left out");
                continue;
            }
            let of_peer = |id: &str| domain_of(id).is_some_and(|d| d.eq_ignore_ascii_case(&peer));
            if users {
                for u in r.users.into_iter().take(max.saturating_add(1)) {
                    if !of_peer(&u.user_id) {
                        continue;
                    }
                    let id = u
                        .user_id
                        .strip_prefix("wv:")
                        .unwrap_or(&u.user_id)
                        .to_ascii_lowercase();
                    if seen.insert(id.clone()) {
                        if let Some(n) = u.friendly_name {
                            names.insert(id.clone(), n);
                        }
                        ids.push(id);
                    }
                }
            } else {
                for g in r.groups.into_iter().take(max.saturating_add(1)) {
                    let Some(g) = normalize_id(&g) else { continue };
                    if !of_peer(&g) {
                        continue;
                    }
                    if seen.insert(g.to_ascii_lowercase()) {
                        ids.push(g);
                    }
                }
            }
        }
        if ids.len() > max {
            return Err(CoreError::TooManyHits(max));
        }
        Ok(Merged { ids, names })
    }

    /// A SearchResponse from `peer` to our transaction `tid`; one that
    /// answers nothing we wait for is dropped.
    pub(crate) fn ssp_search_answer(&self, peer: &str, tid: &str, r: SspSearchResponse) {
        let mut w = self.waiting.lock();
        match w.remove(tid) {
            Some((p, tx)) if p == peer => {
                let _ = tx.send(r);
            }
            Some(other) => {
                tracing::warn!(peer, tid, "SearchResponse from a peer not asked; dropped");
                w.insert(tid.to_string(), other);
            }
            None => tracing::debug!(peer, tid, "late or unexpected SearchResponse dropped"),
        }
    }

    /// A peer's SearchRequest: run here under our own rules, as a local
    /// search by that user would be, answered with every finding.
    pub(crate) async fn ssp_search(&self, peer: &str, r: SspSearchRequest) -> SspSearchResponse {
        match self.ssp_search_run(peer, r).await {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(peer, error = %e, "search from a peer refused");
                SspSearchResponse {
                    status: status_of(&e),
                    users: Vec::new(),
                    groups: Vec::new(),
                }
            }
        }
    }

    async fn ssp_search_run(
        &self,
        peer: &str,
        r: SspSearchRequest,
    ) -> Result<SspSearchResponse, CoreError> {
        if !self.remote_on() {
            return Err(CoreError::NotImplemented(
                "search from other domains is switched off here".into(),
            ));
        }
        check_actor(peer, &r.meta, &[])?;
        let user = r
            .meta
            .user
            .as_ref()
            .map(|u| {
                u.user_id
                    .strip_prefix("wv:")
                    .unwrap_or(&u.user_id)
                    .to_ascii_lowercase()
            })
            .ok_or_else(|| CoreError::BadRequest("a search needs the acting user".into()))?;
        if let Err(retry_ms) = self.rate.take(&user, self.base.now_ms()) {
            return Err(CoreError::SearchingTooFast { retry_ms });
        }
        let cfg = self.cfg();
        let pairs: Vec<Pair> = r
            .pairs
            .into_iter()
            .map(|p| Pair {
                element: p.element,
                string: p.string,
                pair_id: p.pair_id,
            })
            .collect();
        let limits = Limits {
            version: Version::V1_3,
            domain: &self.base.cfg.domain,
            max_depth: cfg.max_depth,
            max_pairs: cfg.max_pairs,
            max_string_chars: cfg.max_string_chars,
            prefix_names: cfg.prefix_names,
            now_month: self.now_month(),
            default_region: cfg.region().ok().flatten(),
        };
        let query = criteria::parse(&pairs, r.advanced_criteria.as_deref(), &limits)?;
        let cap = cfg.max_findings.saturating_add(1);
        let store = &self.base.store;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let mut out = SspSearchResponse {
            status: SspStatus::ok(),
            users: Vec::new(),
            groups: Vec::new(),
        };
        match query {
            Query::Users { term, profile } => {
                // Who may be found by a profile search is ours to say;
                // the searcher's own profile was checked at home.
                let term = if profile { self.findable(term) } else { term };
                let ids = tokio::time::timeout(timeout, store.search_users(&term, cap))
                    .await
                    .map_err(|_| CoreError::SearchTimeout)??;
                if ids.len() > cfg.max_findings {
                    return Err(CoreError::TooManyHits(cfg.max_findings));
                }
                let names = store.friendly_names(&ids).await?;
                for (i, u) in ids.into_iter().enumerate() {
                    out.users.push(SspFoundUser {
                        user_id: wire_user(&u, &self.base.cfg.domain),
                        friendly_name: names.get(i).cloned().flatten().filter(|n| !n.is_empty()),
                    });
                }
            }
            Query::Groups(term) => {
                let ids = tokio::time::timeout(timeout, store.search_groups(&term, cap))
                    .await
                    .map_err(|_| CoreError::SearchTimeout)??;
                if ids.len() > cfg.max_findings {
                    return Err(CoreError::TooManyHits(cfg.max_findings));
                }
                out.groups = ids;
            }
        }
        tracing::info!(peer, user = %user, found = out.users.len() + out.groups.len(), "search from a peer answered");
        Ok(out)
    }

    /// A profile search finds only listed profiles of users old enough
    /// (PPR-8, PPR-11).
    pub(super) fn findable(&self, term: Term<UserLeaf>) -> Term<UserLeaf> {
        let mut all = vec![term, Term::Leaf(UserLeaf::Listed)];
        let min = self.cfg().min_profile_age;
        if min > 0 {
            all.push(Term::Leaf(UserLeaf::BornBy(
                self.now_month().saturating_sub(12 * min),
            )));
        }
        Term::All(all)
    }
}
