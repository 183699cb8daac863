//! What a Search-Request asks, as a store [`Term`]: its search pairs
//! (SearchElement, SearchString, PairID) and, in 1.3, the AdvancedCriteria
//! expression that combines them (SRC-1, SRC-2).
//!
//! Decisions (docs/protocol.md, "Search and public profiles"):
//!
//! * Without AdvancedCriteria every pair must match (AND), as in 1.1 and
//!   1.2. With it, the expression names pairs by PairID and combines them
//!   with `AND`, `OR`, `NOT` and parentheses (any case; `&`, `&&`, `|`,
//!   `||` and `!` are read too). `NOT` binds tightest, then `AND`, then
//!   `OR`. Every pair must have a distinct PairID and be named in it.
//! * Nesting deeper than `max_depth` (parentheses and NOTs count), more
//!   pairs than `max_pairs`, or an expression over 1,024 characters: 402.
//! * A search must be anchored on something it asks for: criteria that
//!   every user could match (a NOT alone, or an OR with a NOT in it) are
//!   too broad, 537. So are wildcards (`*`, `%`), unless the operator
//!   allows a trailing `*` after at least two characters of a name.
//! * Users and groups are not searched together: 402.
//! * A search with any public-profile element (city, country, gender,
//!   intention, interests, marital status, age) is a profile search: the
//!   area adds who may be found (PPR-8, PPR-11).

use imps_wire::Version;

use crate::CoreError;
use crate::store::{GroupField, GroupLeaf, Term, UserField, UserLeaf, search_key};
use crate::users::canonical_user;

/// One search pair as the client sent it.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub element: String,
    pub string: String,
    pub pair_id: Option<u64>,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    Users {
        term: Term<UserLeaf>,
        /// Asks for public-profile fields: a profile search.
        profile: bool,
    },
    Groups(Term<GroupLeaf>),
}

/// What the parser needs to know besides the request.
pub(crate) struct Limits<'a> {
    pub version: Version,
    pub domain: &'a str,
    pub max_depth: usize,
    pub max_pairs: usize,
    pub max_string_chars: usize,
    pub prefix_names: bool,
    /// Month index ([`crate::store::Birth::month_index`]) of today.
    pub now_month: u32,
    /// Region for numbers written without `+` (ISO 3166 alpha-2), if any.
    pub default_region: Option<phonenumber::country::Id>,
}

const MAX_EXPRESSION_CHARS: usize = 1024;
/// The oldest age a search may name.
const MAX_AGE: u32 = 150;

enum Leaf {
    User(UserLeaf, bool),
    Group(GroupLeaf),
}

/// Reads the pairs and expression into a query.
pub(crate) fn parse(
    pairs: &[Pair],
    advanced: Option<&str>,
    l: &Limits<'_>,
) -> Result<Query, CoreError> {
    if pairs.is_empty() {
        return Err(CoreError::BadParameter(
            "a search needs at least one SearchPairList".into(),
        ));
    }
    if pairs.len() > l.max_pairs {
        return Err(CoreError::BadParameter(format!(
            "at most {} search pairs",
            l.max_pairs
        )));
    }
    let leaves = pairs
        .iter()
        .map(|p| leaf(p, l))
        .collect::<Result<Vec<_>, _>>()?;
    let users = leaves
        .iter()
        .filter(|x| matches!(x, Leaf::User(..)))
        .count();
    if users != 0 && users != leaves.len() {
        return Err(CoreError::BadParameter(
            "users and groups cannot be searched together".into(),
        ));
    }
    let shape = match advanced.map(str::trim).filter(|s| !s.is_empty()) {
        Some(expr) => expression(expr, pairs, l.max_depth)?,
        None => Term::All((0..pairs.len()).map(Term::Leaf).collect()),
    };
    if !anchored(&shape) {
        return Err(CoreError::SearchTooBroad(
            "the criteria would match everyone".into(),
        ));
    }
    if users > 0 {
        let profile = leaves.iter().any(|x| matches!(x, Leaf::User(_, true)));
        let term = map(&shape, &mut |i| match &leaves[*i] {
            Leaf::User(u, _) => u.clone(),
            Leaf::Group(_) => unreachable_user(),
        });
        Ok(Query::Users { term, profile })
    } else {
        let term = map(&shape, &mut |i| match &leaves[*i] {
            Leaf::Group(g) => g.clone(),
            Leaf::User(..) => unreachable_group(),
        });
        Ok(Query::Groups(term))
    }
}

// The kind was checked above for every leaf; these stand in for the
// impossible arm without a panic.
fn unreachable_user() -> UserLeaf {
    UserLeaf::Is(UserField::UserId, String::new())
}

fn unreachable_group() -> GroupLeaf {
    GroupLeaf::Is(GroupField::GroupId, String::new())
}

fn map<A, B>(t: &Term<A>, f: &mut impl FnMut(&A) -> B) -> Term<B> {
    match t {
        Term::Leaf(a) => Term::Leaf(f(a)),
        Term::All(v) => Term::All(v.iter().map(|x| map(x, f)).collect()),
        Term::Any(v) => Term::Any(v.iter().map(|x| map(x, f)).collect()),
        Term::Not(x) => Term::Not(Box::new(map(x, f))),
    }
}

/// Whether every match must satisfy at least one positive leaf.
fn anchored<L>(t: &Term<L>) -> bool {
    match t {
        Term::Leaf(_) => true,
        Term::All(v) => v.iter().any(anchored),
        Term::Any(v) => !v.is_empty() && v.iter().all(anchored),
        Term::Not(_) => false,
    }
}

fn too_long(what: &str, max: usize) -> CoreError {
    CoreError::BadParameter(format!("{what} is longer than {max} characters"))
}

/// One pair as a leaf of the store's term.
fn leaf(p: &Pair, l: &Limits<'_>) -> Result<Leaf, CoreError> {
    let element = p.element.trim().to_ascii_uppercase();
    let value = p.string.trim();
    if value.is_empty() {
        return Err(CoreError::BadParameter(format!(
            "empty SearchString for {element}"
        )));
    }
    if value.chars().count() > l.max_string_chars {
        return Err(too_long("a SearchString", l.max_string_chars));
    }
    let v13 = l.version >= Version::V1_3;
    let user = |f: UserField, profile: bool| -> Result<Leaf, CoreError> {
        Ok(Leaf::User(
            text_leaf(f, value, l, UserLeaf::Is, UserLeaf::Prefix, name_field(f))?,
            profile,
        ))
    };
    let group = |f: GroupField| -> Result<Leaf, CoreError> {
        Ok(Leaf::Group(text_leaf(
            f,
            value,
            l,
            GroupLeaf::Is,
            GroupLeaf::Prefix,
            f == GroupField::Name,
        )?))
    };
    match element.as_str() {
        "USER_ID" => Ok(Leaf::User(
            UserLeaf::Is(UserField::UserId, canonical_user(value, l.domain)?),
            false,
        )),
        "USER_ALIAS" => user(UserField::FriendlyName, false),
        "USER_FRIENDLY_NAME" if v13 => user(UserField::FriendlyName, false),
        "USER_FIRST_NAME" => user(UserField::FirstName, false),
        "USER_LAST_NAME" => user(UserField::LastName, false),
        "USER_EMAIL_ADDRESS" => user(UserField::Email, false),
        "USER_MOBILE_NUMBER" => Ok(Leaf::User(
            UserLeaf::Is(UserField::Msisdn, e164(value, l.default_region)?),
            false,
        )),
        "USER_CITY" if v13 => user(UserField::City, true),
        "USER_COUNTRY" if v13 => user(UserField::Country, true),
        "USER_GENDER" if v13 => user(UserField::Gender, true),
        "USER_INTENTION" if v13 => user(UserField::Intention, true),
        "USER_INTERESTS_HOBBIES" if v13 => user(UserField::Interests, true),
        "USER_MARITAL_STATUS" if v13 => user(UserField::MaritalStatus, true),
        "USER_AGE_MIN" if v13 => {
            let age = age(value)?;
            Ok(Leaf::User(
                UserLeaf::BornBy(l.now_month.saturating_sub(12 * age)),
                true,
            ))
        }
        "USER_AGE_MAX" if v13 => {
            let age = age(value)?;
            Ok(Leaf::User(
                UserLeaf::BornAfter(l.now_month.saturating_sub(12 * (age + 1))),
                true,
            ))
        }
        "GROUP_ID" => Ok(Leaf::Group(GroupLeaf::Is(
            GroupField::GroupId,
            crate::groups::canonical_group(value, l.domain, 1024)?,
        ))),
        "GROUP_NAME" => group(GroupField::Name),
        "GROUP_TOPIC" => group(GroupField::Topic),
        "GROUP_USER_ID_OWNER" => Ok(Leaf::Group(GroupLeaf::Is(
            GroupField::Owner,
            canonical_user(value, l.domain)?,
        ))),
        "GROUP_USER_ID_JOINED" => Ok(Leaf::Group(GroupLeaf::Is(
            GroupField::Joined,
            canonical_user(value, l.domain)?,
        ))),
        // Known elements this server does not search by: who is online
        // is presence, shown only to those authorized (PRI-1); automatic
        // joins are not kept.
        "USER_ONLINE_STATUS" | "GROUP_USER_ID_AUTOJOIN" => Err(CoreError::BadParameter(format!(
            "{element} is not a search criterion here"
        ))),
        _ => Err(CoreError::BadParameter(format!(
            "unknown SearchElement {element:?} for CSP {}",
            l.version
        ))),
    }
}

/// Names a trailing `*` may shorten, when the operator allows it.
fn name_field(f: UserField) -> bool {
    matches!(
        f,
        UserField::FriendlyName | UserField::FirstName | UserField::LastName
    )
}

/// A whole-value leaf, or a prefix leaf where allowed; wildcards
/// elsewhere are refused.
fn text_leaf<F: Copy, L>(
    f: F,
    value: &str,
    l: &Limits<'_>,
    is: impl Fn(F, String) -> L,
    prefix: impl Fn(F, String) -> L,
    name: bool,
) -> Result<L, CoreError> {
    if let Some(stem) = value.strip_suffix('*')
        && l.prefix_names
        && name
        && !stem.contains(['*', '%'])
    {
        let key = search_key(stem);
        if key.chars().count() < 2 {
            return Err(CoreError::SearchTooBroad(
                "a name prefix needs at least two characters".into(),
            ));
        }
        return Ok(prefix(f, key));
    }
    if value.contains(['*', '%']) {
        return Err(CoreError::SearchTooBroad(
            "wildcards are not accepted; search for whole values".into(),
        ));
    }
    Ok(is(f, search_key(value)))
}

fn age(value: &str) -> Result<u32, CoreError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|a| *a <= MAX_AGE)
        .ok_or_else(|| CoreError::BadParameter(format!("{value:?} is not an age in years")))
}

/// An MSISDN in E.164 (`+` and digits), through the phone number
/// library; refused when it does not read as a possible number.
pub(crate) fn e164(
    value: &str,
    region: Option<phonenumber::country::Id>,
) -> Result<String, CoreError> {
    let bad = || CoreError::BadParameter(format!("{value:?} is not a phone number"));
    // The library has panicked on odd input before (docs on dependencies):
    // only plausible text reaches it, and a panic is caught.
    let plausible = value.len() <= 40
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !plausible {
        return Err(bad());
    }
    let owned = value.to_string();
    let parsed = std::panic::catch_unwind(move || phonenumber::parse(region, &owned).ok())
        .ok()
        .flatten()
        .ok_or_else(bad)?;
    let formatted = parsed.format().mode(phonenumber::Mode::E164).to_string();
    if formatted.len() < 4 || !formatted.starts_with('+') {
        return Err(bad());
    }
    Ok(formatted)
}

/// The country (ISO 3166 alpha-2) of an E.164 number, when known.
pub(crate) fn country_of(msisdn: &str) -> Option<String> {
    let owned = msisdn.to_string();
    let parsed = std::panic::catch_unwind(move || phonenumber::parse(None, &owned).ok())
        .ok()
        .flatten()?;
    let id = parsed.country().id()?;
    Some(format!("{id:?}"))
}

// ---- the AdvancedCriteria expression ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Pair(u64),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn bad_expr(why: impl std::fmt::Display) -> CoreError {
    CoreError::BadParameter(format!("AdvancedCriteria: {why}"))
}

fn tokens(s: &str) -> Result<Vec<Tok>, CoreError> {
    if s.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(too_long("AdvancedCriteria", MAX_EXPRESSION_CHARS));
    }
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            '!' => out.push(Tok::Not),
            '&' | '|' => {
                if it.peek().is_some_and(|&(_, n)| n == c) {
                    it.next();
                }
                out.push(if c == '&' { Tok::And } else { Tok::Or });
            }
            c if c.is_ascii_alphanumeric() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = it.peek() {
                    if !n.is_ascii_alphanumeric() {
                        break;
                    }
                    end = j + n.len_utf8();
                    it.next();
                }
                let word = &s[i..end];
                out.push(match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Pair(
                        word.parse()
                            .map_err(|_| bad_expr(format!("{word:?} is not a PairID")))?,
                    ),
                });
            }
            other => return Err(bad_expr(format!("unexpected {other:?}"))),
        }
    }
    Ok(out)
}

struct ExprParser<'a> {
    toks: &'a [Tok],
    pos: usize,
    max_depth: usize,
    /// PairID -> index of the pair.
    ids: &'a std::collections::HashMap<u64, usize>,
    used: Vec<bool>,
}

impl ExprParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn deeper(&self, depth: usize) -> Result<usize, CoreError> {
        if depth >= self.max_depth {
            return Err(bad_expr(format!(
                "nested deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Result<Term<usize>, CoreError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Term::Any(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Term<usize>, CoreError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Term::All(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Term<usize>, CoreError> {
        match self.peek().cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                let d = self.deeper(depth)?;
                Ok(Term::Not(Box::new(self.unary(d)?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let d = self.deeper(depth)?;
                let inner = self.or(d)?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(bad_expr("a '(' is not closed"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Tok::Pair(id)) => {
                self.pos += 1;
                let i = *self
                    .ids
                    .get(&id)
                    .ok_or_else(|| bad_expr(format!("no pair has PairID {id}")))?;
                self.used[i] = true;
                Ok(Term::Leaf(i))
            }
            Some(t) => Err(bad_expr(format!("unexpected {t:?}"))),
            None => Err(bad_expr("ends too early")),
        }
    }
}

/// The expression over pair indexes.
fn expression(s: &str, pairs: &[Pair], max_depth: usize) -> Result<Term<usize>, CoreError> {
    let mut ids = std::collections::HashMap::new();
    for (i, p) in pairs.iter().enumerate() {
        let id = p
            .pair_id
            .ok_or_else(|| bad_expr("every pair needs a PairID"))?;
        if ids.insert(id, i).is_some() {
            return Err(bad_expr(format!("PairID {id} is used twice")));
        }
    }
    let toks = tokens(s)?;
    let mut p = ExprParser {
        toks: &toks,
        pos: 0,
        max_depth,
        ids: &ids,
        used: vec![false; pairs.len()],
    };
    let t = p.or(0)?;
    if p.pos != toks.len() {
        return Err(bad_expr(format!("unexpected {:?}", toks[p.pos])));
    }
    if let Some(i) = p.used.iter().position(|u| !u) {
        return Err(bad_expr(format!(
            "pair {} is not used",
            pairs[i].pair_id.unwrap_or_default()
        )));
    }
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits() -> Limits<'static> {
        Limits {
            version: Version::V1_3,
            domain: "example.com",
            max_depth: 4,
            max_pairs: 8,
            max_string_chars: 64,
            prefix_names: false,
            now_month: 2026 * 12 + 11,
            default_region: None,
        }
    }

    fn pair(e: &str, s: &str, id: u64) -> Pair {
        Pair {
            element: e.into(),
            string: s.into(),
            pair_id: Some(id),
        }
    }

    fn city(s: &str) -> Term<UserLeaf> {
        Term::Leaf(UserLeaf::Is(UserField::City, s.into()))
    }

    #[test]
    fn flat_pairs_are_all_required() {
        let q = parse(
            &[pair("USER_CITY", "Oulu", 1), pair("USER_GENDER", "F", 2)],
            None,
            &limits(),
        )
        .unwrap();
        assert_eq!(
            q,
            Query::Users {
                term: Term::All(vec![
                    city("oulu"),
                    Term::Leaf(UserLeaf::Is(UserField::Gender, "f".into()))
                ]),
                profile: true
            }
        );
    }

    #[test]
    fn precedence_not_and_or() {
        let pairs = [
            pair("USER_CITY", "a", 1),
            pair("USER_CITY", "b", 2),
            pair("USER_CITY", "c", 3),
        ];
        let Query::Users { term, .. } = parse(&pairs, Some("1 or 2 AND not 3"), &limits()).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            term,
            Term::Any(vec![
                city("a"),
                Term::All(vec![city("b"), Term::Not(Box::new(city("c")))])
            ])
        );
        let Query::Users { term, .. } = parse(&pairs, Some("(1 || 2) && !3"), &limits()).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            term,
            Term::All(vec![
                Term::Any(vec![city("a"), city("b")]),
                Term::Not(Box::new(city("c")))
            ])
        );
    }

    #[test]
    fn refusals() {
        let l = limits();
        let code = |pairs: &[Pair], e: Option<&str>| parse(pairs, e, &l).unwrap_err().status_code();
        let a = pair("USER_CITY", "a", 1);
        let b = pair("USER_CITY", "b", 2);
        assert_eq!(code(&[a.clone(), b.clone()], Some("NOT 1")), 402); // pair 2 unused
        assert_eq!(code(std::slice::from_ref(&a), Some("NOT 1")), 537);
        assert_eq!(code(&[a.clone(), b.clone()], Some("1 OR NOT 2")), 537);
        assert!(parse(std::slice::from_ref(&a), Some("((((1))))"), &l).is_ok());
        assert_eq!(code(std::slice::from_ref(&a), Some("(((((1)))))")), 402);
        assert_eq!(
            code(std::slice::from_ref(&a), Some("NOT NOT NOT NOT NOT 1")),
            402
        );
        assert_eq!(code(std::slice::from_ref(&a), Some("1 AND")), 402);
        assert_eq!(code(std::slice::from_ref(&a), Some("(1")), 402);
        assert_eq!(code(std::slice::from_ref(&a), Some("7")), 402);
        assert_eq!(code(&[pair("USER_CITY", "Oul*", 1)], None), 537);
        assert_eq!(code(&[pair("USER_CITY", "%", 1)], None), 537);
        assert_eq!(code(&[pair("USER_ONLINE_STATUS", "T", 1)], None), 402);
        assert_eq!(code(&[pair("NOPE", "x", 1)], None), 402);
        assert_eq!(code(&[pair("USER_CITY", "  ", 1)], None), 402);
        assert_eq!(code(&[a.clone(), pair("GROUP_NAME", "x", 2)], None), 402);
        assert_eq!(code(&[pair("USER_AGE_MIN", "-1", 1)], None), 402);
        assert_eq!(code(&[pair("USER_MOBILE_NUMBER", "abc", 1)], None), 402);
        assert_eq!(code(&[], None), 402);
        // 1.3 elements do not exist before 1.3.
        let old = Limits {
            version: Version::V1_2,
            ..limits()
        };
        assert_eq!(
            parse(&[pair("USER_CITY", "a", 1)], None, &old)
                .unwrap_err()
                .status_code(),
            402
        );
    }

    #[test]
    fn prefix_only_for_names_when_allowed() {
        let l = Limits {
            prefix_names: true,
            ..limits()
        };
        let q = parse(&[pair("USER_FIRST_NAME", "Mar*", 1)], None, &l).unwrap();
        assert_eq!(
            q,
            Query::Users {
                term: Term::All(vec![Term::Leaf(UserLeaf::Prefix(
                    UserField::FirstName,
                    "mar".into()
                ))]),
                profile: false
            }
        );
        assert!(parse(&[pair("USER_FIRST_NAME", "M*", 1)], None, &l).is_err());
        assert!(parse(&[pair("USER_CITY", "Oul*", 1)], None, &l).is_err());
    }

    #[test]
    fn ages_become_birth_bounds() {
        let l = limits();
        let q = parse(
            &[pair("USER_AGE_MIN", "18", 1), pair("USER_AGE_MAX", "30", 2)],
            None,
            &l,
        )
        .unwrap();
        assert_eq!(
            q,
            Query::Users {
                term: Term::All(vec![
                    Term::Leaf(UserLeaf::BornBy(l.now_month - 12 * 18)),
                    Term::Leaf(UserLeaf::BornAfter(l.now_month - 12 * 31)),
                ]),
                profile: true
            }
        );
    }

    #[test]
    fn msisdn_is_e164() {
        assert_eq!(e164("+358 40 123 4567", None).unwrap(), "+358401234567");
        let fi = "FI".parse().ok();
        assert_eq!(e164("040 123 4567", fi).unwrap(), "+358401234567");
        assert!(e164("040 123 4567", None).is_err());
        assert_eq!(country_of("+358401234567").as_deref(), Some("FI"));
    }

    proptest! {
        #[test]
        fn never_panics(expr in "[0-9()!&| ANDORNOTandornot]{0,60}", n in 1usize..5) {
            let pairs: Vec<Pair> = (1..=n as u64).map(|i| pair("USER_CITY", "x", i)).collect();
            let _ = parse(&pairs, Some(&expr), &limits());
        }

        #[test]
        fn msisdn_never_panics(s in "\\PC{0,30}") {
            let _ = e164(&s, None);
            let _ = country_of(&s);
        }
    }
}
