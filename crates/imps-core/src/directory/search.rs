//! Search-Request and StopSearch-Request (BASE-SRCH, SRC-*, PPR-4..13).
//!
//! The first request carries the criteria; the answer holds a SearchID,
//! the number of findings, the first page and, while more remain, the
//! index of the next page. A later request with that SearchID and any
//! SearchIndex below the findings gets that page (earlier or later), so
//! a phone can browse both ways (SRC-UC). Results are in user or group ID
//! order; a user result is the User ID and, in 1.3, the friendly name,
//! never contact details (SRC-4, SRC-UC).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use imps_wire::csp::{FoundUser, SearchRequest, SearchResponse, SearchResult, StopSearchRequest};
use imps_wire::{Element, Version};

use super::DirectoryService;
use super::criteria::{self, Limits, Pair, Query};
use super::remote;
use crate::CoreError;
use crate::reply::ok_status;
use crate::session::Session;
use crate::store::{GroupLeaf, Term, UserLeaf};
use crate::users::wire_user;

/// One page of an open search.
struct Page {
    users: bool,
    ids: Vec<String>,
    /// The friendly names of this page's users of other domains.
    names: HashMap<String, String>,
    findings: u64,
    /// Index after the page's last result.
    end: u64,
}

/// A search the session may page through.
struct Open {
    session: String,
    /// Users (else groups).
    users: bool,
    ids: Vec<String>,
    /// Friendly names other domains gave for their users.
    names: HashMap<String, String>,
    limit: u64,
    /// Where the next page starts when the client names no index.
    next: u64,
    used_ms: u64,
    /// Order of opening, to forget the oldest first.
    seq: u64,
}

/// The open searches of every session, by SearchID.
#[derive(Default)]
pub(super) struct OpenSearches {
    by_id: HashMap<String, Open>,
    seq: u64,
}

impl OpenSearches {
    pub(super) fn drop_session(&mut self, session: &str) {
        self.by_id.retain(|_, o| o.session != session);
    }

    /// Forgets searches idle past `ttl_ms`, then the oldest ones while
    /// the session or the server is at its limit.
    fn make_room(
        &mut self,
        session: &str,
        now_ms: u64,
        ttl_ms: u64,
        per_session: usize,
        total: usize,
    ) {
        self.by_id
            .retain(|_, o| o.used_ms.saturating_add(ttl_ms) > now_ms);
        loop {
            let mine = self.by_id.values().filter(|o| o.session == session).count();
            let full = mine >= per_session || self.by_id.len() >= total;
            if !full {
                break;
            }
            let oldest = self
                .by_id
                .iter()
                .filter(|(_, o)| mine < per_session || o.session == session)
                .min_by_key(|(_, o)| o.seq)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => {
                    self.by_id.remove(&id);
                }
                None => break,
            }
        }
    }
}

impl DirectoryService {
    /// Search-Request: a new search, or a page of an open one.
    pub(super) async fn search(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let req = SearchRequest::from_element(body, s.version)
            .map_err(|e| CoreError::BadParameter(e.to_string()))?;
        if let Some(id) = req.search_id.as_deref().map(str::trim) {
            let page = self.page_of(s, id, req.index, req.limit)?;
            return self.answer(s, id, page).await;
        }
        if let Err(retry_ms) = self.rate.take(&s.user, self.base.now_ms()) {
            tracing::info!(user = %s.user, retry_ms, "search refused: over the user's search rate");
            return Err(CoreError::SearchingTooFast { retry_ms });
        }
        if req.advanced_criteria.is_some() && !self.agreed(s, "ADVSR") {
            return Err(CoreError::ServiceNotAgreed("ADVSR".into()));
        }
        let cfg = self.cfg();
        let pairs: Vec<Pair> = req
            .pairs
            .iter()
            .map(|p| Pair {
                element: p.element.clone(),
                string: p.string.clone(),
                pair_id: p.pair_id,
            })
            .collect();
        let limits = Limits {
            version: s.version,
            domain: &self.base.cfg.domain,
            max_depth: cfg.max_depth,
            max_pairs: cfg.max_pairs,
            max_string_chars: cfg.max_string_chars,
            prefix_names: cfg.prefix_names,
            now_month: self.now_month(),
            default_region: cfg.region().ok().flatten(),
        };
        // An ID of a peer domain (USER_ID, GROUP_ID, ...) is not ours to
        // parse: the search goes to that peer only.
        let (query, only) = match criteria::parse(&pairs, req.advanced_criteria.as_deref(), &limits)
        {
            Err(CoreError::DomainNotSupported(d)) if self.remote_only(&d) => (None, Some(d)),
            other => (Some(other?), None),
        };
        let cap = cfg.max_findings.saturating_add(1);
        let store = &self.base.store;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        // What to search here, the searcher's own profile checked first.
        let local = match query {
            Some(Query::Users { term, profile }) => {
                let term = if profile {
                    self.profile_search_term(s, term).await?
                } else {
                    term
                };
                Some(Local::Users(term))
            }
            Some(Query::Groups(term)) => Some(Local::Groups(term)),
            None => {
                if remote::names_profile(&pairs) {
                    self.own_profile_complete(s).await?;
                }
                None
            }
        };
        let users = match &local {
            Some(Local::Users(_)) => true,
            Some(Local::Groups(_)) => false,
            None => !remote::asks_groups(&pairs),
        };
        // Other domains search while we do.
        let peers = self.search_peers(only.as_deref());
        let asked = self
            .ask_peers(&s.user, &peers, &pairs, req.advanced_criteria.as_deref())
            .await?;
        let found = match local {
            Some(Local::Users(term)) => {
                tokio::time::timeout(timeout, store.search_users(&term, cap))
                    .await
                    .map_err(|_| CoreError::SearchTimeout)??
            }
            Some(Local::Groups(term)) => {
                tokio::time::timeout(timeout, store.search_groups(&term, cap))
                    .await
                    .map_err(|_| CoreError::SearchTimeout)??
            }
            None => Vec::new(),
        };
        if found.len() > cfg.max_findings {
            tracing::info!(user = %s.user, "search refused: too many findings");
            return Err(CoreError::TooManyHits(cfg.max_findings));
        }
        let merged = self.merge(users, found, asked).await?;
        let (ids, names) = (merged.ids, merged.names);
        let limit = page_size(req.limit, cfg.default_page, cfg.max_page);
        let now = self.base.now_ms();
        let id = {
            let mut open = self.searches.lock();
            open.make_room(
                &s.id,
                now,
                cfg.ttl_secs.saturating_mul(1000),
                cfg.max_open_per_session,
                cfg.max_open,
            );
            open.seq += 1;
            let seq = open.seq;
            let id = seq.to_string();
            open.by_id.insert(
                id.clone(),
                Open {
                    session: s.id.clone(),
                    users,
                    ids,
                    names,
                    limit,
                    next: 0,
                    used_ms: now,
                    seq,
                },
            );
            id
        };
        tracing::debug!(user = %s.user, search = %id, "search opened");
        let page = self.page_of(s, &id, Some(0), Some(limit))?;
        self.answer(s, &id, page).await
    }

    /// A page of open search `id`, from `index` (or where the last page
    /// ended).
    fn page_of(
        &self,
        s: &Session,
        id: &str,
        index: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Page, CoreError> {
        let cfg = self.cfg();
        let now = self.base.now_ms();
        let ttl_ms = cfg.ttl_secs.saturating_mul(1000);
        let mut open = self.searches.lock();
        let o = open
            .by_id
            .get_mut(id)
            .filter(|o| o.session == s.id && o.used_ms.saturating_add(ttl_ms) > now)
            .ok_or_else(|| CoreError::InvalidSearchId(id.to_string()))?;
        let findings = o.ids.len() as u64;
        let start = index.unwrap_or(o.next);
        if start > findings || (start == findings && findings > 0) {
            return Err(CoreError::InvalidSearchIndex {
                index: start,
                findings,
            });
        }
        if let Some(l) = limit {
            o.limit = page_size(Some(l), cfg.default_page, cfg.max_page);
        }
        let end = start.saturating_add(o.limit).min(findings);
        o.next = end;
        o.used_ms = now;
        let ids = o.ids[start as usize..end as usize].to_vec();
        let names = ids
            .iter()
            .filter_map(|i| o.names.get(i).map(|n| (i.clone(), n.clone())))
            .collect();
        Ok(Page {
            users: o.users,
            ids,
            names,
            findings,
            end,
        })
    }

    /// The Search-Response for a page: IDs on the wire and, for 1.3
    /// sessions, each user's friendly name (SRC-4, PPR-12).
    async fn answer(&self, s: &Session, id: &str, page: Page) -> Result<Element, CoreError> {
        let domain = &self.base.cfg.domain;
        let mut result = SearchResult::default();
        if page.users {
            let names = if s.version >= Version::V1_3 {
                self.base.store.friendly_names(&page.ids).await?
            } else {
                Vec::new()
            };
            for (i, u) in page.ids.into_iter().enumerate() {
                let friendly_name = names
                    .get(i)
                    .cloned()
                    .flatten()
                    .or_else(|| page.names.get(&u).cloned())
                    .filter(|n| !n.is_empty());
                result.users.push(FoundUser {
                    user_id: wire_user(&u, domain),
                    friendly_name,
                });
            }
        } else {
            result.groups = page.ids;
        }
        let complete = page.end >= page.findings;
        Ok(SearchResponse {
            search_id: Some(id.to_string()),
            findings: Some(page.findings),
            completion: Some(complete),
            index: (!complete).then_some(page.end),
            search_result: Some(result),
            ..SearchResponse::default()
        }
        .to_element(s.version))
    }

    /// StopSearch-Request: forgets the search.
    pub(super) fn stop_search(&self, s: &Session, body: &Element) -> Result<Element, CoreError> {
        let req = StopSearchRequest::from_element(body, s.version)
            .map_err(|e| CoreError::BadParameter(e.to_string()))?;
        let id = req.search_id.trim();
        let mut open = self.searches.lock();
        match open.by_id.get(id) {
            Some(o) if o.session == s.id => {
                open.by_id.remove(id);
                Ok(ok_status())
            }
            _ => Err(CoreError::InvalidSearchId(id.to_string())),
        }
    }

    /// A profile search needs the searcher's own mandatory fields (PPR-6)
    /// and finds only listed profiles of users old enough (PPR-8, PPR-11).
    async fn profile_search_term(
        &self,
        s: &Session,
        term: Term<UserLeaf>,
    ) -> Result<Term<UserLeaf>, CoreError> {
        self.own_profile_complete(s).await?;
        Ok(self.findable(term))
    }

    /// PPR-6: the searcher's own mandatory fields.
    async fn own_profile_complete(&self, s: &Session) -> Result<(), CoreError> {
        let own = self.base.store.profile(&s.user).await?.unwrap_or_default();
        if !own.complete() {
            return Err(CoreError::ProfileIncomplete(
                "friendly name, age and country are needed to search profiles".into(),
            ));
        }
        Ok(())
    }

    /// Whether the session may use function `code`, as negotiated.
    fn agreed(&self, s: &Session, code: &str) -> bool {
        let offered =
            crate::session::FunctionSet::offers(s.version, &self.base.cfg.disabled_functions, code);
        offered
            && s.with_state(|st| {
                st.agreed().is_none_or(|a| a.contains(code))
                    && (st.withheld.is_empty()
                        || crate::session::FunctionSet::offers(s.version, &st.withheld, code))
            })
    }
}

/// What a search looks for here.
enum Local {
    Users(Term<UserLeaf>),
    Groups(Term<GroupLeaf>),
}

/// Results per page: what the client asked, within the server's bounds.
fn page_size(asked: Option<u64>, default: u64, max: u64) -> u64 {
    asked.filter(|n| *n > 0).unwrap_or(default).min(max).max(1)
}
