//! Search: `Search-Request`, `Search-Response`, `StopSearch-Request`, and
//! what they carry (`SearchPair`, `SearchResult`).
//!
//! Decisions (see also the top of [`crate::csp`]):
//!
//! * **Two `SearchPair` layouts are read, in every version.** A
//!   `SearchPairList` may hold `SearchPair{SearchElement, SearchString,
//!   PairID?}` elements (1.3; the Android 1.3 token table has the tag) or
//!   the pair's elements directly (1.1/1.2, and the tagless 1.3 layout a
//!   server used because the 1.3 DTD is wrong). One list may hold several
//!   flat pairs in sequence, even mixed with tagged ones; they are grouped
//!   in document order:
//!   * a `SearchElement` (or `SearchString`) completes the open flat pair
//!     when that pair has none yet, and opens a new pair otherwise;
//!   * a `PairID` (1.3) goes to the open pair (opening one when none is
//!     open); a second one goes to that pair's `other`;
//!   * a `SearchPair` element closes the open flat pair and is one pair;
//!   * any other child goes to the open flat pair's `other`; with no flat
//!     pair open it is not kept (unknown children of a wrapper);
//!   * a pair without `SearchElement` or `SearchString` is an error.
//! * **Writing**: 1.3 writes one `SearchPairList` holding a `SearchPair`
//!   per pair (with `PairID` when set), then `AdvancedCriteria`,
//!   `SearchLimit`, `SearchID`, `SearchIndex` (schema order); no
//!   `SearchPairList` at all when there are no pairs (a follow-up request
//!   names only `SearchID` and `SearchIndex`). 1.1 and 1.2 write one
//!   `SearchPairList{SearchElement, SearchString, other}` per pair, and
//!   neither `PairID` nor `AdvancedCriteria`. A pair's unknown children
//!   named `SearchElement`, `SearchString` or `SearchPair` (only a tagged
//!   pair can have them, as duplicates) are not written in the flat
//!   layout, where they would change the pairing.
//! * **1.3-only children** (`PairID`, `AdvancedCriteria`, `FriendlyName`
//!   of a found user) are mapped only when reading 1.3. Before, `PairID`
//!   and `AdvancedCriteria` stay in `other` (the pair's, the request's);
//!   a found user's `FriendlyName` is not kept ([`FoundUser`] has no
//!   `other`).
//! * **`SearchID`** is text: a server may choose any string (the schema
//!   says integer; the WBXML encoder never writes it as OPAQUE, which
//!   Android would drop).
//! * **`SearchResult`**: users are read from `UserList{User{UserID,
//!   FriendlyName?}*}`, `UserList{UserID*}`, and bare `User` / `UserID`;
//!   groups from `GroupList{GroupID*}` and bare `GroupID`. Written as
//!   `UserList{User*}` (only when there are users) and `GroupList{GroupID*}`
//!   (only when there are groups); an empty result is an empty
//!   `SearchResult`. Unknown children of the lists and of a `User` are not
//!   kept.
//! * **`Search-Response`** has no `Result` in the schema, but some servers
//!   send one: it is read when present and written when set, never
//!   required.
//! * **`StopSearch-Request`** needs its `SearchID`.

use super::{
    Builder, CspResult, boolean, expect_kind, expect_name, is_v13, number, primitive, required,
    text,
};
use crate::{Element, PrimitiveKind, Version, WireError};

const SEARCH_PAIR_LIST: &str = "SearchPairList";
const SEARCH_ELEMENT: &str = "SearchElement";
const SEARCH_STRING: &str = "SearchString";
const PAIR_ID: &str = "PairID";

/// One search criterion: `SearchPair{SearchElement, SearchString,
/// PairID? (1.3)}`, or the same children directly in a `SearchPairList`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPair {
    /// What to search, e.g. `USER_ALIAS` or `GROUP_NAME`.
    pub element: String,
    /// The value to look for.
    pub string: String,
    /// 1.3.
    pub pair_id: Option<u64>,
    pub other: Vec<Element>,
}

impl SearchPair {
    pub const NAME: &'static str = "SearchPair";

    /// A pair of search element and string.
    pub fn new(element: impl Into<String>, string: impl Into<String>) -> SearchPair {
        SearchPair {
            element: element.into(),
            string: string.into(),
            ..SearchPair::default()
        }
    }

    /// Reads a tagged `SearchPair` element (any version).
    pub fn from_element(e: &Element, v: Version) -> Result<SearchPair, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = OpenPair::default();
        for c in &e.children {
            match c.name.as_str() {
                SEARCH_ELEMENT if r.element.is_none() => r.element = Some(text(c)?),
                SEARCH_STRING if r.string.is_none() => r.string = Some(text(c)?),
                PAIR_ID if is_v13(v) && r.pair_id.is_none() => r.pair_id = Some(number(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        r.close(e)
    }

    /// Writes the tagged `SearchPair` (the 1.3 form); `PairID` only for
    /// 1.3.
    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .text(SEARCH_ELEMENT, &self.element)
            .text(SEARCH_STRING, &self.string)
            .when(is_v13(v), |b| b.number(PAIR_ID, self.pair_id))
            .finish(&self.other)
    }

    /// The flat form for 1.1 and 1.2: the pair's children, to go straight
    /// into a `SearchPairList`. No `PairID`; unknown children that would
    /// change the pairing are left out.
    fn flat(&self) -> Element {
        let other: Vec<Element> = self
            .other
            .iter()
            .filter(|c| {
                !matches!(
                    c.name.as_str(),
                    SEARCH_ELEMENT | SEARCH_STRING | "SearchPair"
                )
            })
            .cloned()
            .collect();
        Builder::new(SEARCH_PAIR_LIST)
            .text(SEARCH_ELEMENT, &self.element)
            .text(SEARCH_STRING, &self.string)
            .finish(&other)
    }
}

/// A pair being read, before its required children are checked.
#[derive(Default)]
struct OpenPair {
    element: Option<String>,
    string: Option<String>,
    pair_id: Option<u64>,
    other: Vec<Element>,
}

impl OpenPair {
    fn close(self, parent: &Element) -> Result<SearchPair, WireError> {
        Ok(SearchPair {
            element: required(self.element, parent, SEARCH_ELEMENT)?,
            string: required(self.string, parent, SEARCH_STRING)?,
            pair_id: self.pair_id,
            other: self.other,
        })
    }
}

/// Reads the pairs of one `SearchPairList`, tagged and flat, in document
/// order (the rules are at the top of this module).
fn read_pair_list(list: &Element, v: Version, out: &mut Vec<SearchPair>) -> Result<(), WireError> {
    let mut open: Option<OpenPair> = None;
    for c in &list.children {
        match c.name.as_str() {
            SearchPair::NAME => {
                if let Some(p) = open.take() {
                    out.push(p.close(list)?);
                }
                out.push(SearchPair::from_element(c, v)?);
            }
            SEARCH_ELEMENT => {
                let value = text(c)?;
                match open.as_mut() {
                    Some(p) if p.element.is_none() => p.element = Some(value),
                    _ => {
                        if let Some(p) = open.take() {
                            out.push(p.close(list)?);
                        }
                        open = Some(OpenPair {
                            element: Some(value),
                            ..OpenPair::default()
                        });
                    }
                }
            }
            SEARCH_STRING => {
                let value = text(c)?;
                match open.as_mut() {
                    Some(p) if p.string.is_none() => p.string = Some(value),
                    _ => {
                        if let Some(p) = open.take() {
                            out.push(p.close(list)?);
                        }
                        open = Some(OpenPair {
                            string: Some(value),
                            ..OpenPair::default()
                        });
                    }
                }
            }
            PAIR_ID if is_v13(v) => {
                let p = open.get_or_insert_with(OpenPair::default);
                if p.pair_id.is_none() {
                    p.pair_id = Some(number(c)?);
                } else {
                    p.other.push(c.clone());
                }
            }
            _ => {
                if let Some(p) = open.as_mut() {
                    p.other.push(c.clone());
                }
            }
        }
    }
    if let Some(p) = open {
        out.push(p.close(list)?);
    }
    Ok(())
}

/// `Search-Request`: a first request names the criteria
/// (`SearchPairList*`, `AdvancedCriteria?` (1.3), `SearchLimit`); a
/// follow-up names the search (`SearchID`, `SearchIndex`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchRequest {
    /// Every pair of every `SearchPairList`, in document order.
    pub pairs: Vec<SearchPair>,
    /// 1.3.
    pub advanced_criteria: Option<String>,
    pub limit: Option<u64>,
    pub search_id: Option<String>,
    pub index: Option<u64>,
    pub other: Vec<Element>,
}

impl SearchRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<SearchRequest, WireError> {
        expect_kind(e, PrimitiveKind::SearchRequest)?;
        let mut r = SearchRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                SEARCH_PAIR_LIST => read_pair_list(c, v, &mut r.pairs)?,
                "AdvancedCriteria" if is_v13(v) && r.advanced_criteria.is_none() => {
                    r.advanced_criteria = Some(text(c)?);
                }
                "SearchLimit" if r.limit.is_none() => r.limit = Some(number(c)?),
                "SearchID" if r.search_id.is_none() => r.search_id = Some(text(c)?),
                "SearchIndex" if r.index.is_none() => r.index = Some(number(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let b = Builder::new(PrimitiveKind::SearchRequest.name());
        let b = if is_v13(v) {
            let list = (!self.pairs.is_empty()).then(|| {
                Builder::new(SEARCH_PAIR_LIST)
                    .children(self.pairs.iter().map(|p| p.to_element(v)))
                    .finish(&[])
            });
            b.opt_child(list)
                .opt_text("AdvancedCriteria", self.advanced_criteria.as_deref())
        } else {
            b.children(self.pairs.iter().map(SearchPair::flat))
        };
        b.number("SearchLimit", self.limit)
            .opt_text("SearchID", self.search_id.as_deref())
            .number("SearchIndex", self.index)
            .finish(&self.other)
    }
}
primitive!(SearchRequest);

/// A user found by a search: `User{UserID, FriendlyName? (1.3)}`, or a
/// bare `UserID`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FoundUser {
    pub user_id: String,
    /// 1.3.
    pub friendly_name: Option<String>,
}

impl FoundUser {
    /// A user found by ID alone.
    pub fn new(user_id: impl Into<String>) -> FoundUser {
        FoundUser {
            user_id: user_id.into(),
            friendly_name: None,
        }
    }

    /// Reads a `User` or a bare `UserID`.
    pub fn from_element(e: &Element, v: Version) -> Result<FoundUser, WireError> {
        if e.name == "UserID" {
            return Ok(FoundUser::new(text(e)?));
        }
        expect_name(e, "User")?;
        let mut user_id = None;
        let mut friendly_name = None;
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if user_id.is_none() => user_id = Some(text(c)?),
                "FriendlyName" if is_v13(v) && friendly_name.is_none() => {
                    friendly_name = Some(text(c)?);
                }
                _ => {}
            }
        }
        Ok(FoundUser {
            user_id: required(user_id, e, "UserID")?,
            friendly_name,
        })
    }

    /// Writes `User{UserID, FriendlyName?}`; `FriendlyName` only for 1.3.
    pub fn to_element(&self, v: Version) -> Element {
        Builder::new("User")
            .text("UserID", &self.user_id)
            .when(is_v13(v), |b| {
                b.opt_text("FriendlyName", self.friendly_name.as_deref())
            })
            .finish(&[])
    }
}

/// `SearchResult{UserList{User*}? , GroupList{GroupID*}?}`: one page of
/// hits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchResult {
    pub users: Vec<FoundUser>,
    pub groups: Vec<String>,
    pub other: Vec<Element>,
}

impl SearchResult {
    pub const NAME: &'static str = "SearchResult";

    pub fn from_element(e: &Element, v: Version) -> Result<SearchResult, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = SearchResult::default();
        for c in &e.children {
            match c.name.as_str() {
                "UserList" => {
                    for u in &c.children {
                        if matches!(u.name.as_str(), "User" | "UserID") {
                            r.users.push(FoundUser::from_element(u, v)?);
                        }
                    }
                }
                "User" | "UserID" => r.users.push(FoundUser::from_element(c, v)?),
                "GroupList" => {
                    for g in c.children_named("GroupID") {
                        r.groups.push(text(g)?);
                    }
                }
                "GroupID" => r.groups.push(text(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let users = (!self.users.is_empty()).then(|| {
            Builder::new("UserList")
                .children(self.users.iter().map(|u| u.to_element(v)))
                .finish(&[])
        });
        let groups = (!self.groups.is_empty()).then(|| {
            Builder::new("GroupList")
                .texts("GroupID", &self.groups)
                .finish(&[])
        });
        Builder::new(Self::NAME)
            .opt_child(users)
            .opt_child(groups)
            .finish(&self.other)
    }
}

/// `Search-Response{Result?, SearchID, SearchFindings, CompletionFlag,
/// SearchIndex?, SearchResult}`. The schema has no `Result`; some servers
/// send one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchResponse {
    pub result: Option<CspResult>,
    pub search_id: Option<String>,
    /// Total hits.
    pub findings: Option<u64>,
    /// True when the search is complete (no more pages).
    pub completion: Option<bool>,
    /// The index to ask for next.
    pub index: Option<u64>,
    pub search_result: Option<SearchResult>,
    pub other: Vec<Element>,
}

impl SearchResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<SearchResponse, WireError> {
        expect_kind(e, PrimitiveKind::SearchResponse)?;
        let mut r = SearchResponse::default();
        for c in &e.children {
            match c.name.as_str() {
                CspResult::NAME if r.result.is_none() => {
                    r.result = Some(CspResult::from_element(c, v)?);
                }
                "SearchID" if r.search_id.is_none() => r.search_id = Some(text(c)?),
                "SearchFindings" if r.findings.is_none() => r.findings = Some(number(c)?),
                "CompletionFlag" if r.completion.is_none() => r.completion = Some(boolean(c)?),
                "SearchIndex" if r.index.is_none() => r.index = Some(number(c)?),
                SearchResult::NAME if r.search_result.is_none() => {
                    r.search_result = Some(SearchResult::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::SearchResponse.name())
            .opt_child(self.result.as_ref().map(|r| r.to_element(v)))
            .opt_text("SearchID", self.search_id.as_deref())
            .number("SearchFindings", self.findings)
            .boolean("CompletionFlag", self.completion)
            .number("SearchIndex", self.index)
            .opt_child(self.search_result.as_ref().map(|s| s.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(SearchResponse);

/// `StopSearch-Request{SearchID}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopSearchRequest {
    pub search_id: String,
    pub other: Vec<Element>,
}

impl StopSearchRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<StopSearchRequest, WireError> {
        expect_kind(e, PrimitiveKind::StopSearchRequest)?;
        let mut search_id = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "SearchID" if search_id.is_none() => search_id = Some(text(c)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(StopSearchRequest {
            search_id: required(search_id, e, "SearchID")?,
            other,
        })
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(PrimitiveKind::StopSearchRequest.name())
            .text("SearchID", &self.search_id)
            .finish(&self.other)
    }
}
primitive!(StopSearchRequest);
