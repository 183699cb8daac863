//! A search [`Term`] as one SQL statement with bound parameters, for
//! PostgreSQL. The same plan as the SQLite backend's compiler:
//!
//! ```sql
//! SELECT d.id FROM (<driver>) AS d WHERE <predicate on d.id>
//! ORDER BY d.id LIMIT $n
//! ```
//!
//! The predicate is the whole term, each leaf an `EXISTS` probe on one ID
//! (an index point lookup), combined with AND / OR / NOT; the conditions
//! of one `All` on the user's profile row (listed, age bounds) share one
//! probe of that row. The driver is a set of IDs known to hold every
//! match, picked from the term by static cost: a leaf drives with its own
//! index range, `All` with its cheapest child, `Any` with the UNION of
//! its children's drivers when each has one, and `Not` (or nothing
//! cheaper) with every user (every group). A driver of one leaf is not
//! checked again where the term's top `All` names it.
//!
//! Unlike SQLite's compiler this one does not count the broad leaves on
//! the connection before choosing (PostgreSQL's planner sees the whole
//! statement and its statistics); the answer is the same whichever driver
//! is chosen, only the work differs.
//!
//! IDs and keys are `COLLATE "C"` columns: the order and the prefix
//! ranges are byte (code point) order, as Rust's and SQLite's. Values are
//! always bound, never spliced into the text. The statement is prepared
//! for its one run, not cached: terms come in too many shapes for a
//! per-connection cache without a bound.

use deadpool_postgres::GenericClient;
use imps_core::StoreError;
use imps_core::store::{GroupField, GroupLeaf, Term, UserField, UserLeaf};
use tokio_postgres::types::ToSql;

use super::{group_field_code, user_field_code};
use crate::rows::{Param, col, limit, query_once};

/// Most leaves in one term (the core asks for far fewer).
pub(crate) const MAX_LEAVES: usize = 64;
/// Deepest nesting, and most nodes, of one term: bounds the recursion
/// here and the server's expression depth.
const MAX_DEPTH: usize = 32;
const MAX_NODES: usize = 256;

/// The driver cost of "every row", in static cost units.
const UNIVERSE: u32 = 100;

type Value = Box<dyn ToSql + Sync + Send>;

/// A compiled search, ready to run on any connection.
pub(crate) struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Query {
    fn new(sql: &str) -> Query {
        Query {
            sql: sql.to_string(),
            params: Vec::new(),
        }
    }

    /// Binds a value and appends its placeholder.
    fn bind(&mut self, v: Value) {
        self.params.push(v);
        self.sql.push_str(&format!("${}", self.params.len()));
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    fn int(&mut self, v: i32) {
        self.bind(Box::new(v));
    }

    fn big(&mut self, v: i64) {
        self.bind(Box::new(v));
    }

    fn text(&mut self, v: &str) {
        self.bind(Box::new(v.to_string()));
    }

    pub(crate) async fn run<C: GenericClient>(
        &self,
        c: &C,
        what: &str,
    ) -> Result<Vec<String>, StoreError> {
        let params: Vec<Param<'_>> = self
            .params
            .iter()
            .map(|p| p.as_ref() as Param<'_>)
            .collect();
        // Not cached: a client can make terms of very many shapes.
        query_once(c, &self.sql, &params, what)
            .await?
            .iter()
            .map(|r| col(r, 0))
            .collect()
    }
}

/// The least string greater than every string starting with `prefix`, or
/// `None` when there is none (no upper bound). C collation compares UTF-8
/// bytes, which is code point order: `prefix` with its last character
/// replaced by the next one bounds the range exactly.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
        // U+10FFFF has no successor: bound on the character before it.
    }
    None
}

/// ` AND <col> >= $a [AND <col> < $b]` for a prefix.
fn push_prefix_range(q: &mut Query, col: &str, prefix: &str) {
    q.push(&format!(" AND {col} >= "));
    q.text(prefix);
    if let Some(end) = prefix_end(prefix) {
        q.push(&format!(" AND {col} < "));
        q.text(&end);
    }
}

/// What one kind of leaf (user or group) contributes to the statement.
trait LeafSql {
    /// Appends a boolean expression: the row `d.id` passes the leaf.
    fn pred(&self, q: &mut Query);
    /// Appends a SELECT of the distinct IDs that pass, as column `id`.
    fn driver(&self, q: &mut Query);
    /// Static size class of the driver's answer: 0 for at most one row.
    fn cost(&self) -> u32;
    /// Appends ` AND <condition>` on the user's `user_profiles` row if
    /// the leaf is one; `false` if not.
    fn profile_cond(&self, _q: &mut Query) -> bool {
        false
    }
}

fn user_field_cost(f: UserField) -> u32 {
    match f {
        UserField::UserId | UserField::Msisdn | UserField::Email => 0,
        UserField::FriendlyName | UserField::FirstName | UserField::LastName => 2,
        UserField::City => 4,
        UserField::Country
        | UserField::Gender
        | UserField::Intention
        | UserField::Interests
        | UserField::MaritalStatus => 8,
    }
}

impl LeafSql for UserLeaf {
    fn pred(&self, q: &mut Query) {
        match self {
            UserLeaf::Is(f, k) => {
                q.push("EXISTS (SELECT 1 FROM user_keys WHERE field = ");
                q.int(user_field_code(*f));
                q.push(" AND key = ");
                q.text(k);
                q.push(" AND user_id = d.id)");
            }
            UserLeaf::Prefix(f, k) => {
                q.push("EXISTS (SELECT 1 FROM user_keys WHERE user_id = d.id AND field = ");
                q.int(user_field_code(*f));
                push_prefix_range(q, "key", k);
                q.push(")");
            }
            UserLeaf::BornBy(m) => {
                q.push(
                    "EXISTS (SELECT 1 FROM user_profiles WHERE user_id = d.id AND birth_idx <= ",
                );
                q.big(i64::from(*m));
                q.push(")");
            }
            UserLeaf::BornAfter(m) => {
                q.push("EXISTS (SELECT 1 FROM user_profiles WHERE user_id = d.id AND birth_idx > ");
                q.big(i64::from(*m));
                q.push(")");
            }
            UserLeaf::Listed => {
                q.push("EXISTS (SELECT 1 FROM user_profiles WHERE user_id = d.id AND listed)")
            }
        }
    }

    fn driver(&self, q: &mut Query) {
        match self {
            UserLeaf::Is(f, k) => {
                q.push("SELECT user_id AS id FROM user_keys WHERE field = ");
                q.int(user_field_code(*f));
                q.push(" AND key = ");
                q.text(k);
            }
            UserLeaf::Prefix(f, k) => {
                // At most one key per field and user: no duplicates.
                q.push("SELECT user_id AS id FROM user_keys WHERE field = ");
                q.int(user_field_code(*f));
                push_prefix_range(q, "key", k);
            }
            UserLeaf::BornBy(m) => {
                q.push("SELECT user_id AS id FROM user_profiles WHERE birth_idx <= ");
                q.big(i64::from(*m));
            }
            UserLeaf::BornAfter(m) => {
                q.push("SELECT user_id AS id FROM user_profiles WHERE birth_idx > ");
                q.big(i64::from(*m));
            }
            // As the partial index's predicate, so that the index applies.
            UserLeaf::Listed => q.push("SELECT user_id AS id FROM user_profiles WHERE listed"),
        }
    }

    fn cost(&self) -> u32 {
        match self {
            UserLeaf::Is(f, _) => user_field_cost(*f),
            UserLeaf::Prefix(f, _) => (user_field_cost(*f) * 3).max(1),
            UserLeaf::Listed => 50,
            UserLeaf::BornBy(_) | UserLeaf::BornAfter(_) => 60,
        }
    }

    fn profile_cond(&self, q: &mut Query) -> bool {
        match self {
            UserLeaf::BornBy(m) => {
                q.push(" AND birth_idx <= ");
                q.big(i64::from(*m));
                true
            }
            UserLeaf::BornAfter(m) => {
                q.push(" AND birth_idx > ");
                q.big(i64::from(*m));
                true
            }
            UserLeaf::Listed => {
                q.push(" AND listed");
                true
            }
            _ => false,
        }
    }
}

fn group_field_cost(f: GroupField) -> u32 {
    match f {
        GroupField::GroupId => 0,
        GroupField::Joined => 2,
        GroupField::Name | GroupField::Owner => 3,
        GroupField::Topic => 6,
    }
}

impl LeafSql for GroupLeaf {
    fn pred(&self, q: &mut Query) {
        let (GroupLeaf::Is(f, k) | GroupLeaf::Prefix(f, k)) = self;
        let prefix = matches!(self, GroupLeaf::Prefix(..));
        match group_field_code(*f) {
            Some(code) if !prefix => {
                q.push("EXISTS (SELECT 1 FROM group_keys WHERE field = ");
                q.int(code);
                q.push(" AND key = ");
                q.text(k);
                q.push(" AND group_id = d.id)");
            }
            Some(code) => {
                q.push("EXISTS (SELECT 1 FROM group_keys WHERE group_id = d.id AND field = ");
                q.int(code);
                push_prefix_range(q, "key", k);
                q.push(")");
            }
            None if !prefix => {
                q.push("EXISTS (SELECT 1 FROM group_joined WHERE group_id = d.id AND user_id = ");
                q.text(k);
                q.push(")");
            }
            None => {
                q.push("EXISTS (SELECT 1 FROM group_joined WHERE group_id = d.id");
                push_prefix_range(q, "user_id", k);
                q.push(")");
            }
        }
    }

    fn driver(&self, q: &mut Query) {
        let (GroupLeaf::Is(f, k) | GroupLeaf::Prefix(f, k)) = self;
        let prefix = matches!(self, GroupLeaf::Prefix(..));
        match group_field_code(*f) {
            Some(code) if !prefix => {
                q.push("SELECT group_id AS id FROM group_keys WHERE field = ");
                q.int(code);
                q.push(" AND key = ");
                q.text(k);
            }
            Some(code) => {
                q.push("SELECT group_id AS id FROM group_keys WHERE field = ");
                q.int(code);
                push_prefix_range(q, "key", k);
            }
            None if !prefix => {
                q.push("SELECT group_id AS id FROM group_joined WHERE user_id = ");
                q.text(k);
            }
            None => {
                // Several joined users of one group may match.
                q.push("SELECT DISTINCT group_id AS id FROM group_joined WHERE TRUE");
                push_prefix_range(q, "user_id", k);
            }
        }
    }

    fn cost(&self) -> u32 {
        match self {
            GroupLeaf::Is(f, _) => group_field_cost(*f),
            GroupLeaf::Prefix(f, _) => (group_field_cost(*f) * 3).max(1),
        }
    }
}

/// Refuses a term too large to compile safely. Iterative, so that any
/// depth of input is measured without recursion.
fn check_size<L>(t: &Term<L>) -> Result<(), StoreError> {
    let (mut leaves, mut nodes) = (0usize, 0usize);
    let mut stack = vec![(t, 1usize)];
    while let Some((t, depth)) = stack.pop() {
        nodes += 1;
        if depth > MAX_DEPTH {
            return Err(StoreError::Backend(format!(
                "search term nested deeper than {MAX_DEPTH}"
            )));
        }
        if nodes > MAX_NODES {
            return Err(StoreError::Backend(format!(
                "search term has more than {MAX_NODES} parts"
            )));
        }
        match t {
            Term::Leaf(_) => {
                leaves += 1;
                if leaves > MAX_LEAVES {
                    return Err(StoreError::Backend(format!(
                        "search term has more than {MAX_LEAVES} leaves"
                    )));
                }
            }
            Term::All(v) | Term::Any(v) => stack.extend(v.iter().map(|c| (c, depth + 1))),
            Term::Not(c) => stack.push((c, depth + 1)),
        }
    }
    Ok(())
}

/// Appends the predicate of `t` on `d.id`. `known`, if any, is a leaf
/// every row of the driver passes: where it is the term or a child of
/// the term's `All` it is not checked again.
fn pred<L: LeafSql>(t: &Term<L>, q: &mut Query, known: Option<&L>) {
    let is_known = |l: &L| known.is_some_and(|k| std::ptr::eq(k, l));
    match t {
        Term::Leaf(l) if is_known(l) => q.push("TRUE"),
        Term::Leaf(l) => l.pred(q),
        Term::All(v) | Term::Any(v) if v.is_empty() => {
            q.push(if matches!(t, Term::All(_)) {
                "TRUE"
            } else {
                "FALSE"
            });
        }
        Term::All(v) => {
            q.push("(");
            // Conditions on the profile row: one probe for all of them.
            // Their placeholders are numbered as they are appended, so the
            // probe is written into `q` directly, opened only once the
            // first such condition shows up.
            let mut first = true;
            let mut rest = Vec::new();
            let mut probe_open = false;
            for c in v {
                match c {
                    Term::Leaf(l) if is_known(l) => {}
                    Term::Leaf(l) if l.is_profile_cond() => {
                        if !probe_open {
                            q.push("EXISTS (SELECT 1 FROM user_profiles WHERE user_id = d.id");
                            probe_open = true;
                        }
                        l.profile_cond(q);
                    }
                    c => rest.push(c),
                }
            }
            if probe_open {
                q.push(")");
                first = false;
            }
            for c in rest {
                if !first {
                    q.push(" AND ");
                }
                first = false;
                pred(c, q, None);
            }
            if first {
                q.push("TRUE");
            }
            q.push(")");
        }
        Term::Any(v) => {
            q.push("(");
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                pred(c, q, None);
            }
            q.push(")");
        }
        Term::Not(c) => {
            q.push("NOT (");
            pred(c, q, None);
            q.push(")");
        }
    }
}

/// Whether [`LeafSql::profile_cond`] would take the leaf, without
/// writing anything.
trait ProfileCond {
    fn is_profile_cond(&self) -> bool;
}

impl<L: LeafSql> ProfileCond for L {
    fn is_profile_cond(&self) -> bool {
        let mut scratch = Query::new("");
        self.profile_cond(&mut scratch)
    }
}

/// The leaves whose union holds every match, with the plan's cost;
/// `None`: no driver better than every row.
fn plan<L: LeafSql>(t: &Term<L>) -> Option<(u32, Vec<&L>)> {
    let p = match t {
        Term::Leaf(l) => Some((l.cost(), vec![l])),
        Term::All(v) => v.iter().filter_map(plan).min_by_key(|(c, _)| *c),
        Term::Any(v) => {
            let mut cost = 0u32;
            let mut leaves = Vec::new();
            for c in v {
                let (c, l) = plan(c)?;
                cost = cost.saturating_add(c.max(1));
                leaves.extend(l);
            }
            Some((cost, leaves))
        }
        Term::Not(_) => None,
    };
    p.filter(|(c, _)| *c < UNIVERSE)
}

/// Builds the statement; `None` when nothing can match (no need to ask).
/// `universe` selects every candidate as column `id`; `guard`, if any, is
/// a predicate every answer must also pass.
fn compile<L: LeafSql>(
    t: &Term<L>,
    cap: usize,
    universe: &str,
    guard: impl Fn(&[&L]) -> Option<&'static str>,
) -> Result<Option<Query>, StoreError> {
    check_size(t)?;
    if cap == 0 {
        return Ok(None);
    }
    let mut q = Query::new("SELECT d.id FROM (");
    let drivers = plan(t);
    let guard = match &drivers {
        Some((_, leaves)) if leaves.is_empty() => return Ok(None),
        Some((_, leaves)) => {
            for (i, l) in leaves.iter().enumerate() {
                if i > 0 {
                    q.push(" UNION ");
                }
                l.driver(&mut q);
            }
            guard(leaves)
        }
        None => {
            q.push(universe);
            guard(&[])
        }
    };
    q.push(") AS d WHERE ");
    if let Some(g) = guard {
        q.push(g);
        q.push(" AND ");
    }
    let known = match &drivers {
        Some((_, leaves)) if leaves.len() == 1 => leaves.first().copied(),
        _ => None,
    };
    pred(t, &mut q, known);
    q.push(" ORDER BY d.id COLLATE \"C\" LIMIT ");
    q.big(limit(cap));
    Ok(Some(q))
}

/// A user search; `None` when nothing can match.
pub(crate) fn users(t: &Term<UserLeaf>, cap: usize) -> Result<Option<Query>, StoreError> {
    compile(t, cap, "SELECT id FROM users", |_| None)
}

/// A group search among listed groups; `None` when nothing can match. A
/// group with keys is listed; a driver from the joined users or from
/// every group needs the check.
pub(crate) fn groups(t: &Term<GroupLeaf>, cap: usize) -> Result<Option<Query>, StoreError> {
    compile(t, cap, "SELECT id FROM chat_groups", |leaves| {
        let keyed = !leaves.is_empty()
            && leaves.iter().all(|l| {
                let (GroupLeaf::Is(f, _) | GroupLeaf::Prefix(f, _)) = l;
                group_field_code(*f).is_some()
            });
        (!keyed).then_some("EXISTS (SELECT 1 FROM group_keys WHERE group_id = d.id)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_exactly() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("").as_deref(), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
    }

    #[test]
    fn oversized_terms_are_refused_without_panicking() {
        let wide = Term::Any(
            (0..=MAX_LEAVES)
                .map(|_| Term::Leaf(UserLeaf::Listed))
                .collect(),
        );
        assert!(users(&wide, 10).is_err());
        let mut deep = Term::Leaf(UserLeaf::Listed);
        for _ in 0..10_000 {
            deep = Term::Not(Box::new(deep));
        }
        assert!(users(&deep, 10).is_err());
        while let Term::Not(inner) = deep {
            deep = *inner;
        }
    }

    #[test]
    fn values_are_bound_and_placeholders_numbered_in_order() -> Result<(), StoreError> {
        let t = Term::All(vec![
            Term::Leaf(UserLeaf::Is(UserField::City, "x' OR 1=1 --".into())),
            Term::Leaf(UserLeaf::BornBy(24_000)),
            Term::Leaf(UserLeaf::Listed),
            Term::Not(Box::new(Term::Leaf(UserLeaf::BornAfter(24_100)))),
        ]);
        let q = users(&t, 5)?.ok_or(StoreError::Backend("no query".into()))?;
        assert!(!q.sql.contains("OR 1=1"));
        assert!(!q.sql.contains("24000"));
        // Driven by the city, the cheapest positive leaf.
        assert!(
            q.sql
                .starts_with("SELECT d.id FROM (SELECT user_id AS id FROM user_keys"),
            "{}",
            q.sql
        );
        // Every placeholder from $1 to $n appears, once each, in order.
        let mut at = 0;
        for i in 1..=q.params.len() {
            let p = format!("${i}");
            let found = q.sql[at..]
                .find(&p)
                .ok_or(StoreError::Backend(format!("{p} missing in {}", q.sql)))?;
            at += found + p.len();
        }
        Ok(())
    }
}
