//! Search in other domains over SSP (issue 17, SRC-UC), typed:
//! `SearchRequest` and `SearchResponse`.
//!
//! The one public SSP implementation carries no search, and the SSP
//! specification was not found, so the form is ours (docs/protocol.md,
//! "Search in other domains"): the search pairs travel in the CSP 1.3
//! layout (`SearchPairList{SearchPair{SearchElement, SearchString,
//! PairID?}*}`, `AdvancedCriteria`), which the receiving server reads
//! with its own parser; the answer is every finding at once, users as
//! `User userID= friendlyName=` and groups as `GroupID groupID=`. Paging
//! stays with the searcher's server.

use crate::ssp::{MetaInfo, SspStatus, attr, normalize_id};
use crate::{Element, WireError};

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP: {}", what.into()))
}

/// One search pair as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspSearchPair {
    pub element: String,
    pub string: String,
    pub pair_id: Option<u64>,
}

/// `SearchRequest`: a user of the sending domain searches the receiving
/// one's users or groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspSearchRequest {
    pub meta: MetaInfo,
    pub pairs: Vec<SspSearchPair>,
    pub advanced_criteria: Option<String>,
}

impl SspSearchRequest {
    pub const NAME: &'static str = "SearchRequest";

    pub fn from_element(e: &Element) -> Result<SspSearchRequest, WireError> {
        let mut pairs = Vec::new();
        for list in e.children_named("SearchPairList") {
            // The 1.3 layout, and a flat pair straight in the list.
            let flat = list.child("SearchElement").is_some();
            let items: Vec<&Element> = if flat {
                vec![list]
            } else {
                list.children_named("SearchPair").collect()
            };
            for p in items {
                let element = p
                    .child_text("SearchElement")
                    .ok_or_else(|| bad("SearchPair without SearchElement"))?;
                let string = p
                    .child_text("SearchString")
                    .ok_or_else(|| bad("SearchPair without SearchString"))?;
                let pair_id = match p.child_text("PairID") {
                    Some(t) => Some(
                        t.trim()
                            .parse()
                            .map_err(|_| bad(format!("PairID {t:?} is not a number")))?,
                    ),
                    None => None,
                };
                pairs.push(SspSearchPair {
                    element: element.to_string(),
                    string: string.to_string(),
                    pair_id,
                });
            }
        }
        Ok(SspSearchRequest {
            meta: MetaInfo::of(e)?,
            pairs,
            advanced_criteria: e
                .child_text("AdvancedCriteria")
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty()),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut list = Element::new("SearchPairList");
        for p in &self.pairs {
            list = list.with(
                Element::new("SearchPair")
                    .with_text("SearchElement", p.element.as_str())
                    .with_text("SearchString", p.string.as_str())
                    .with_opt(p.pair_id.map(|i| Element::text("PairID", i.to_string()))),
            );
        }
        Element::new(Self::NAME)
            .with(self.meta.to_element())
            .with(list)
            .with_opt(
                self.advanced_criteria
                    .as_deref()
                    .map(|a| Element::text("AdvancedCriteria", a)),
            )
    }
}

/// A user found: `wv:user@domain` and the friendly name, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspFoundUser {
    pub user_id: String,
    pub friendly_name: Option<String>,
}

/// `SearchResponse{Status, SearchResult{User*, GroupID*}}`: every finding
/// (no paging across domains). A missing Status reads as 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspSearchResponse {
    pub status: SspStatus,
    pub users: Vec<SspFoundUser>,
    pub groups: Vec<String>,
}

impl SspSearchResponse {
    pub const NAME: &'static str = "SearchResponse";

    pub fn from_element(e: &Element) -> Result<SspSearchResponse, WireError> {
        let status = e
            .child("Status")
            .map(SspStatus::from_element)
            .transpose()?
            .unwrap_or_else(SspStatus::ok);
        let mut users = Vec::new();
        let mut groups = Vec::new();
        if let Some(r) = e.child("SearchResult") {
            for u in r.children_named("User") {
                let raw = attr(u, "userID").ok_or_else(|| bad("User without userID"))?;
                users.push(SspFoundUser {
                    user_id: normalize_id(raw)
                        .ok_or_else(|| bad(format!("userID {raw:?} is not a wv: ID")))?,
                    friendly_name: attr(u, "friendlyName")
                        .map(str::to_string)
                        .filter(|n| !n.is_empty()),
                });
            }
            for g in r.children_named("GroupID") {
                let raw = attr(g, "groupID")
                    .map(str::to_string)
                    .unwrap_or_else(|| g.text.trim().to_string());
                if raw.is_empty() {
                    return Err(bad("GroupID without groupID"));
                }
                groups.push(raw);
            }
        }
        Ok(SspSearchResponse {
            status,
            users,
            groups,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut result = Element::new("SearchResult");
        for u in &self.users {
            let mut e = Element::new("User").with_attr("userID", u.user_id.as_str());
            if let Some(n) = &u.friendly_name {
                e = e.with_attr("friendlyName", n.as_str());
            }
            result = result.with(e);
        }
        for g in &self.groups {
            result = result.with(Element::new("GroupID").with_attr("groupID", g.as_str()));
        }
        Element::new(Self::NAME)
            .with(self.status.to_element())
            .with(result)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ssp::SspUser;

    #[test]
    fn search_primitives_round_trip() {
        let r = SspSearchRequest {
            meta: MetaInfo {
                client_originated: true,
                service_id: "wv:@a.example".into(),
                user: Some(SspUser {
                    user_id: "wv:alice@a.example".into(),
                    friendly_name: None,
                    client_id: None,
                }),
            },
            pairs: vec![
                SspSearchPair {
                    element: "USER_FRIENDLY_NAME".into(),
                    string: "Bob".into(),
                    pair_id: Some(1),
                },
                SspSearchPair {
                    element: "USER_LAST_NAME".into(),
                    string: "Smith".into(),
                    pair_id: Some(2),
                },
            ],
            advanced_criteria: Some("1 OR 2".into()),
        };
        assert_eq!(SspSearchRequest::from_element(&r.to_element()).unwrap(), r);
        let a = SspSearchResponse {
            status: SspStatus::ok(),
            users: vec![SspFoundUser {
                user_id: "wv:bob@b.example".into(),
                friendly_name: Some("Bob".into()),
            }],
            groups: vec!["wv:bob/chess@b.example".into()],
        };
        assert_eq!(SspSearchResponse::from_element(&a.to_element()).unwrap(), a);
    }

    #[test]
    fn a_flat_pair_and_a_missing_status_are_read() {
        let e = Element::new("SearchRequest")
            .with(
                Element::new("MetaInfo")
                    .with_attr("clientOriginated", "No")
                    .with(Element::new("Requestor").with_attr("serviceID", "wv:@a.example")),
            )
            .with(
                Element::new("SearchPairList")
                    .with_text("SearchElement", "USER_ID")
                    .with_text("SearchString", "wv:bob@b.example"),
            );
        let r = SspSearchRequest::from_element(&e).unwrap();
        assert_eq!(r.pairs.len(), 1);
        assert_eq!(r.pairs[0].pair_id, None);
        let a = SspSearchResponse::from_element(&Element::new("SearchResponse")).unwrap();
        assert_eq!(a.status.code, 200);
        assert!(a.users.is_empty());
    }
}
