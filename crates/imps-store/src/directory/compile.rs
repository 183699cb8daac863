//! A search [`Term`] as one SQL statement with bound parameters.
//!
//! The statement reads a driver, a set of IDs known to hold every match,
//! in ID order, checks the whole term on each ID and stops at the cap.
//! The driver is picked from the term so that a selective search reads
//! few rows:
//!
//! - a leaf drives with its own index range (`user_keys` on
//!   (field, key), the birth index, the listed index, ...);
//! - `All` drives with its cheapest child. An equality leaf on a field
//!   that names one row (user ID, MSISDN, e-mail, group ID) costs one
//!   row. Other equality leaves are counted on the connection before
//!   compiling when the term gives a choice (two or more positive
//!   leaves that may drive), each a bounded walk of a primary-key range
//!   (about 70 ns an entry), in rounds: all up to [`FIRST_BOUND`], then
//!   those that reached it up to [`COUNT_BOUND`], then up to
//!   [`RECOUNT_BOUND`], ending after a round in which one stayed below
//!   its bound (see [`count_leaves`]). A leaf costs what it counted if
//!   that is below the bound; at the bound, or not counted, it costs at
//!   least the bound and otherwise a static factor of [`COUNT_BOUND`]
//!   per kind (a name before a city, a city before a country, any key
//!   before "listed", "listed" before an age bound). So two broad
//!   fields with a rare intersection (a big country and a rare
//!   intention) drive from whichever is actually smaller, not from the
//!   first of two equal static costs;
//! - an `All` of users that asks for a first and a last name also offers
//!   the pair of both (one `user_keys` row per user holding both names),
//!   which is implied by the two leaves and so never checked itself;
//! - `Any` drives with the UNION of its children's drivers when each has
//!   one;
//! - `Not`, or nothing cheaper, drives with every user (every listed
//!   group).
//!
//! When every driver leaf is a user key (the usual case), the statement
//! is
//!
//! ```sql
//! SELECT k.user_id AS id FROM user_keys AS k
//!   WHERE k.field = ? AND k.key = ? AND <rest of the term on k>
//! [UNION SELECT ... one arm per driver leaf] ORDER BY ... LIMIT ?
//! ```
//!
//! Each arm walks its key's primary-key range, which is in user ID
//! order, and SQLite merges the arms (MERGE (UNION)) without reading
//! them whole or sorting, stopping at the cap. A user's key rows repeat
//! the listed flag, the birth month and the city, country, gender and
//! intention keys (`sql/0011_search_rows.sql`), so those leaves are
//! checked on the row being read ([`LeafSql::inline`]); other leaves are
//! an `EXISTS` probe on the ID (a primary-key point lookup). In an arm
//! its own leaf is known true wherever it occurs in the term, and the
//! term is folded with that before it is written out.
//!
//! Other drivers (an age bound, "listed", a prefix, every user, every
//! group) keep the general shape
//!
//! ```sql
//! SELECT d.id FROM (<driver>) AS d WHERE <predicate on d.id> ORDER BY d.id LIMIT ?
//! ```
//!
//! where every leaf is a probe, and the conditions of one `All` on the
//! user's profile row (listed, age bounds) share one lookup of that
//! row. An equality leaf and "listed" (and every user) come out of
//! their index in ID order there too; prefix, age and union drivers are
//! read whole and sorted, which is cheap when they are selective.
//!
//! Values are always bound, never spliced into the text; the text
//! depends only on the term's shape, so the statement cache serves
//! repeated shapes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use imps_core::StoreError;
use imps_core::store::{GroupField, GroupLeaf, Term, UserField, UserLeaf};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::{FULL_NAME_CODE, full_name_key, group_field_code, user_field_code};
use crate::rows::backend;

/// Most leaves in one term (the core asks for far fewer). Also keeps a
/// UNION driver well under SQLite's compound-select limit (500).
pub(crate) const MAX_LEAVES: usize = 64;
/// Deepest nesting, and most nodes, of one term: bounds the recursion
/// here and SQLite's expression depth (1000).
const MAX_DEPTH: usize = 32;
const MAX_NODES: usize = 256;

/// The second bound counted to, and the unit of the static classes.
/// Counting is a walk of a primary-key range (about 0.07 ms per thousand
/// entries); a driver smaller than this is read whole, its rows checked
/// as they are read, in about twice the time the count took.
pub(crate) const COUNT_BOUND: u64 = 2048;
/// The last, largest bound, for leaves that all reached [`COUNT_BOUND`]
/// (about 0.6 ms each on the benchmark machine; two big leaves pay that
/// for nothing, a rare one under it saves a scan of the other).
pub(crate) const RECOUNT_BOUND: u64 = 8192;

/// The first bound counted to: most keys of a selective search are
/// below it, and when one is, the others need not be counted further.
pub(crate) const FIRST_BOUND: u64 = 256;

/// The static class of "listed"; age bounds are above it. Leaves of a
/// class below it are compared by their counts.
const LISTED_CLASS: u32 = 50;

/// The driver cost of "every row": a driver costing this much or more is
/// no better than scanning every row in ID order.
const UNIVERSE: u64 = 100 * COUNT_BOUND;

/// A compiled search, ready to run on any connection.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl Query {
    pub(crate) fn run(&self, c: &Connection, what: &str) -> Result<Vec<String>, StoreError> {
        c.prepare_cached(&self.sql)
            .and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(self.params.iter()), |r| r.get(0))?
                    .collect()
            })
            .map_err(|e| backend(what, e))
    }
}

/// What one kind of leaf (user or group) contributes to the statement.
trait LeafSql {
    /// Appends a boolean expression: the row whose ID is the SQL
    /// expression `id` passes the leaf.
    fn pred(&self, q: &mut Query, id: &str);
    /// Appends a SELECT of the distinct IDs that pass, as column `id`.
    fn driver(&self, q: &mut Query);
    /// Static size class of the driver's answer, for picking one: 0 for
    /// at most one row, else a factor of [`COUNT_BOUND`] rows.
    fn cost(&self) -> u32;
    /// Appends a SELECT of one row per ID that passes, read from an
    /// index range, if the leaf can be counted cheaply; `false` if not.
    fn counter(&self, q: &mut Query) -> bool;
    /// Appends ` AND <condition>` on the user's `user_profiles` row if
    /// the leaf is one (several such leaves of one `All` are checked
    /// with one lookup of the row); `false` if not.
    fn profile_cond(&self, _q: &mut Query) -> bool {
        false
    }
    /// Appends `k.field = ? AND k.key = ?` if the leaf's IDs are the
    /// `user_keys` rows of one key (read as `k`, see [`KEY_ARM`]);
    /// `false` if not.
    fn key_range(&self, _q: &mut Query) -> bool {
        false
    }
    /// Appends a boolean expression deciding the leaf from the columns
    /// of the `user_keys` row `k` being read, if the row carries what it
    /// needs (NULL-safe: never NULL, so NOT works); `false` if not.
    fn inline(&self, _q: &mut Query) -> bool {
        false
    }
    /// The leaf is implied by other leaves of its `All` (a helper driver
    /// the compiler added): it is true wherever the term is checked.
    fn implied(&self) -> bool {
        false
    }
}

/// How an arm driven by one user key starts; its rows are `k`.
const KEY_ARM: &str = "SELECT k.user_id AS id FROM user_keys AS k WHERE ";

/// Estimated driver size of a leaf: what was counted (from
/// [`LeafSql::counter`], up to `bound`) if below the bound, else the
/// static class times [`COUNT_BOUND`], and at least the bound.
fn leaf_cost<L: LeafSql>(l: &L, counted: Option<(u64, u64)>) -> u64 {
    let fixed = u64::from(l.cost()) * COUNT_BOUND;
    match (l.cost(), counted) {
        (0, _) => 1,
        (_, Some((n, bound))) if n < bound => n,
        (_, Some((_, bound))) => fixed.max(bound),
        (_, None) => fixed,
    }
}

fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

/// The least string greater than every string starting with `prefix`, or
/// `None` when there is none (no upper bound). Strings compare as UTF-8
/// bytes (BINARY), which is code point order: `prefix` with its last
/// character replaced by the next one bounds the range exactly.
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

/// `AND <col> >= ? [AND <col> < ?]` for a prefix.
fn push_prefix_range(q: &mut Query, col: &str, prefix: &str) {
    q.sql.push_str(&format!(" AND {col} >= ?"));
    q.params.push(text(prefix));
    if let Some(end) = prefix_end(prefix) {
        q.sql.push_str(&format!(" AND {col} < ?"));
        q.params.push(Value::Text(end));
    }
}

fn user_field_cost(f: UserField) -> u32 {
    match f {
        // One user at most per value.
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
    fn pred(&self, q: &mut Query, id: &str) {
        match self {
            UserLeaf::Is(f, k) => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM user_keys WHERE field = ? AND key = ? AND user_id = {id})"
                ));
                q.params.push(Value::Integer(user_field_code(*f)));
                q.params.push(text(k));
            }
            UserLeaf::Prefix(f, k) => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM user_keys WHERE user_id = {id} AND field = ?"
                ));
                q.params.push(Value::Integer(user_field_code(*f)));
                push_prefix_range(q, "key", k);
                q.sql.push(')');
            }
            UserLeaf::BornBy(m) => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM user_profiles WHERE user_id = {id} AND birth_idx <= ?)"
                ));
                q.params.push(Value::Integer(i64::from(*m)));
            }
            UserLeaf::BornAfter(m) => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM user_profiles WHERE user_id = {id} AND birth_idx > ?)"
                ));
                q.params.push(Value::Integer(i64::from(*m)));
            }
            UserLeaf::Listed => q.sql.push_str(&format!(
                "EXISTS (SELECT 1 FROM user_profiles WHERE user_id = {id} AND listed = 1)"
            )),
        }
    }

    fn driver(&self, q: &mut Query) {
        match self {
            UserLeaf::Is(f, k) => {
                q.sql
                    .push_str("SELECT user_id AS id FROM user_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(user_field_code(*f)));
                q.params.push(text(k));
            }
            UserLeaf::Prefix(f, k) => {
                // At most one key per field and user: no duplicates.
                q.sql
                    .push_str("SELECT user_id AS id FROM user_keys WHERE field = ?");
                q.params.push(Value::Integer(user_field_code(*f)));
                push_prefix_range(q, "key", k);
            }
            UserLeaf::BornBy(m) => {
                q.sql
                    .push_str("SELECT user_id AS id FROM user_profiles WHERE birth_idx <= ?");
                q.params.push(Value::Integer(i64::from(*m)));
            }
            UserLeaf::BornAfter(m) => {
                q.sql
                    .push_str("SELECT user_id AS id FROM user_profiles WHERE birth_idx > ?");
                q.params.push(Value::Integer(i64::from(*m)));
            }
            // A literal 1, so that the partial index applies.
            UserLeaf::Listed => q
                .sql
                .push_str("SELECT user_id AS id FROM user_profiles WHERE listed = 1"),
        }
    }

    fn cost(&self) -> u32 {
        match self {
            UserLeaf::Is(f, _) => user_field_cost(*f),
            // A short prefix may be broad, and the range comes out in key
            // order, to be sorted.
            UserLeaf::Prefix(f, _) => (user_field_cost(*f) * 3).max(1),
            // Streams in ID order, but usually many.
            UserLeaf::Listed => LISTED_CLASS,
            // Age bounds are mostly minimum ages: nearly everyone, read
            // in birth order. Only better than no driver at all.
            UserLeaf::BornBy(_) | UserLeaf::BornAfter(_) => 60,
        }
    }

    fn profile_cond(&self, q: &mut Query) -> bool {
        match self {
            UserLeaf::BornBy(m) | UserLeaf::BornAfter(m) => {
                q.sql.push_str(if matches!(self, UserLeaf::BornBy(_)) {
                    " AND birth_idx <= ?"
                } else {
                    " AND birth_idx > ?"
                });
                q.params.push(Value::Integer(i64::from(*m)));
                true
            }
            UserLeaf::Listed => {
                q.sql.push_str(" AND listed = 1");
                true
            }
            _ => false,
        }
    }

    fn counter(&self, q: &mut Query) -> bool {
        match self {
            UserLeaf::Is(f, k) => {
                q.sql
                    .push_str("SELECT 1 FROM user_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(user_field_code(*f)));
                q.params.push(text(k));
                true
            }
            _ => false,
        }
    }

    fn key_range(&self, q: &mut Query) -> bool {
        match self {
            UserLeaf::Is(f, k) => {
                push_key_range(q, user_field_code(*f), k);
                true
            }
            _ => false,
        }
    }

    fn inline(&self, q: &mut Query) -> bool {
        // The columns of `sql/0011_search_rows.sql`, written by
        // `insert_user_keys`. `IS` and coalesce: a missing value is
        // false, never NULL.
        let (expr, value) = match self {
            UserLeaf::Listed => {
                q.sql.push_str("k.listed = 1");
                return true;
            }
            UserLeaf::BornBy(m) => (
                "coalesce(k.birth_idx <= ?, 0)",
                Value::Integer(i64::from(*m)),
            ),
            UserLeaf::BornAfter(m) => (
                "coalesce(k.birth_idx > ?, 0)",
                Value::Integer(i64::from(*m)),
            ),
            UserLeaf::Is(UserField::City, k) => ("k.city IS ?", text(k)),
            UserLeaf::Is(UserField::Country, k) => ("k.country IS ?", text(k)),
            UserLeaf::Is(UserField::Gender, k) => ("k.gender IS ?", text(k)),
            UserLeaf::Is(UserField::Intention, k) => ("k.intention IS ?", text(k)),
            _ => return false,
        };
        q.sql.push_str(expr);
        q.params.push(value);
        true
    }
}

/// `k.field = ? AND k.key = ?`.
fn push_key_range(q: &mut Query, code: i64, key: &str) {
    q.sql.push_str("k.field = ? AND k.key = ?");
    q.params.push(Value::Integer(code));
    q.params.push(text(key));
}

/// A leaf of a compiled user search: the client's leaves, and the first
/// + last name pairs the compiler adds (see [`users`]).
#[derive(Debug)]
enum UserPart<'a> {
    Leaf(&'a UserLeaf),
    /// The `user_keys` rows of this first + last name pair
    /// (`full_name_key`): implied by the `All` it was added to, which
    /// asks for both names.
    FullName(String),
}

impl LeafSql for UserPart<'_> {
    fn pred(&self, q: &mut Query, id: &str) {
        match self {
            UserPart::Leaf(l) => l.pred(q, id),
            UserPart::FullName(_) => q.sql.push('1'),
        }
    }

    fn driver(&self, q: &mut Query) {
        match self {
            UserPart::Leaf(l) => l.driver(q),
            UserPart::FullName(k) => {
                q.sql
                    .push_str("SELECT user_id AS id FROM user_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(FULL_NAME_CODE));
                q.params.push(text(k));
            }
        }
    }

    fn cost(&self) -> u32 {
        match self {
            UserPart::Leaf(l) => l.cost(),
            // Rarer than either name.
            UserPart::FullName(_) => 1,
        }
    }

    fn counter(&self, q: &mut Query) -> bool {
        match self {
            UserPart::Leaf(l) => l.counter(q),
            UserPart::FullName(k) => {
                q.sql
                    .push_str("SELECT 1 FROM user_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(FULL_NAME_CODE));
                q.params.push(text(k));
                true
            }
        }
    }

    fn profile_cond(&self, q: &mut Query) -> bool {
        match self {
            UserPart::Leaf(l) => l.profile_cond(q),
            UserPart::FullName(_) => false,
        }
    }

    fn key_range(&self, q: &mut Query) -> bool {
        match self {
            UserPart::Leaf(l) => l.key_range(q),
            UserPart::FullName(k) => {
                push_key_range(q, FULL_NAME_CODE, k);
                true
            }
        }
    }

    fn inline(&self, q: &mut Query) -> bool {
        match self {
            UserPart::Leaf(l) => l.inline(q),
            UserPart::FullName(_) => false,
        }
    }

    fn implied(&self) -> bool {
        matches!(self, UserPart::FullName(_))
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
    fn pred(&self, q: &mut Query, id: &str) {
        let (GroupLeaf::Is(f, k) | GroupLeaf::Prefix(f, k)) = self;
        let prefix = matches!(self, GroupLeaf::Prefix(..));
        match group_field_code(*f) {
            Some(code) if !prefix => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM group_keys WHERE field = ? AND key = ? AND group_id = {id})"
                ));
                q.params.push(Value::Integer(code));
                q.params.push(text(k));
            }
            Some(code) => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM group_keys WHERE group_id = {id} AND field = ?"
                ));
                q.params.push(Value::Integer(code));
                push_prefix_range(q, "key", k);
                q.sql.push(')');
            }
            None if !prefix => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM group_joined WHERE group_id = {id} AND user_id = ?)"
                ));
                q.params.push(text(k));
            }
            None => {
                q.sql.push_str(&format!(
                    "EXISTS (SELECT 1 FROM group_joined WHERE group_id = {id}"
                ));
                push_prefix_range(q, "user_id", k);
                q.sql.push(')');
            }
        }
    }

    fn driver(&self, q: &mut Query) {
        let (GroupLeaf::Is(f, k) | GroupLeaf::Prefix(f, k)) = self;
        let prefix = matches!(self, GroupLeaf::Prefix(..));
        match group_field_code(*f) {
            Some(code) if !prefix => {
                q.sql
                    .push_str("SELECT group_id AS id FROM group_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(code));
                q.params.push(text(k));
            }
            Some(code) => {
                q.sql
                    .push_str("SELECT group_id AS id FROM group_keys WHERE field = ?");
                q.params.push(Value::Integer(code));
                push_prefix_range(q, "key", k);
            }
            None if !prefix => {
                q.sql
                    .push_str("SELECT group_id AS id FROM group_joined WHERE user_id = ?");
                q.params.push(text(k));
            }
            None => {
                // Several joined users of one group may match.
                q.sql
                    .push_str("SELECT DISTINCT group_id AS id FROM group_joined WHERE 1");
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

    fn counter(&self, q: &mut Query) -> bool {
        let GroupLeaf::Is(f, k) = self else {
            return false;
        };
        match group_field_code(*f) {
            Some(code) => {
                q.sql
                    .push_str("SELECT 1 FROM group_keys WHERE field = ? AND key = ?");
                q.params.push(Value::Integer(code));
            }
            None => q
                .sql
                .push_str("SELECT 1 FROM group_joined WHERE user_id = ?"),
        }
        q.params.push(text(k));
        true
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

/// A term folded for one driver: constants where a leaf's value is
/// known.
enum Folded<'a, L> {
    Const(bool),
    Leaf(&'a L),
    All(Vec<Folded<'a, L>>),
    Any(Vec<Folded<'a, L>>),
    Not(Box<Folded<'a, L>>),
}

/// `t` with `known` (a leaf every row of the driver passes: the driver
/// is that leaf's index range) and implied leaves made true, and the
/// constants folded away.
fn fold<'a, L: LeafSql>(t: &'a Term<L>, known: Option<&L>) -> Folded<'a, L> {
    match t {
        Term::Leaf(l) if l.implied() || known.is_some_and(|k| std::ptr::eq(k, l)) => {
            Folded::Const(true)
        }
        Term::Leaf(l) => Folded::Leaf(l),
        Term::All(v) | Term::Any(v) => {
            // All: a false child decides, true children drop out; Any
            // the other way round.
            let all = matches!(t, Term::All(_));
            let mut rest = Vec::new();
            for c in v {
                match fold(c, known) {
                    Folded::Const(b) if b == all => {}
                    Folded::Const(b) => return Folded::Const(b),
                    f => rest.push(f),
                }
            }
            match rest.len() {
                0 => Folded::Const(all),
                1 => rest.pop().unwrap_or(Folded::Const(all)),
                _ if all => Folded::All(rest),
                _ => Folded::Any(rest),
            }
        }
        Term::Not(c) => match fold(c, known) {
            Folded::Const(b) => Folded::Const(!b),
            f => Folded::Not(Box::new(f)),
        },
    }
}

/// Appends `f` as a boolean expression on the row whose ID is `id`.
/// With `inline`, the row is a `user_keys` row `k`, and leaves it
/// carries are read from it; the others are probes.
fn render<L: LeafSql>(f: &Folded<'_, L>, q: &mut Query, id: &str, inline: bool) {
    match f {
        Folded::Const(b) => q.sql.push(if *b { '1' } else { '0' }),
        Folded::Leaf(l) => {
            if !(inline && l.inline(q)) {
                l.pred(q, id);
            }
        }
        Folded::All(v) => {
            q.sql.push('(');
            let mut first = true;
            let mut rest = Vec::new();
            if inline {
                rest.extend(v);
            } else {
                // Conditions on the profile row: one lookup for all of
                // them.
                let mut probe = Query {
                    sql: String::new(),
                    params: Vec::new(),
                };
                for c in v {
                    match c {
                        Folded::Leaf(l) if l.profile_cond(&mut probe) => {}
                        c => rest.push(c),
                    }
                }
                if !probe.sql.is_empty() {
                    q.sql.push_str(&format!(
                        "EXISTS (SELECT 1 FROM user_profiles WHERE user_id = {id}"
                    ));
                    q.sql.push_str(&probe.sql);
                    q.sql.push(')');
                    q.params.extend(probe.params);
                    first = false;
                }
            }
            for c in rest {
                if !first {
                    q.sql.push_str(" AND ");
                }
                first = false;
                render(c, q, id, inline);
            }
            q.sql.push(')');
        }
        Folded::Any(v) => {
            q.sql.push('(');
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    q.sql.push_str(" OR ");
                }
                render(c, q, id, inline);
            }
            q.sql.push(')');
        }
        Folded::Not(c) => {
            // Always parenthesised, whatever the child.
            q.sql.push_str("NOT (");
            render(c, q, id, inline);
            q.sql.push(')');
        }
    }
}

/// The leaves whose union holds every match, with the plan's cost;
/// `None`: no driver better than every row. An empty list: nothing can
/// match.
/// `est` gives a leaf's count and the bound it was counted to, if it
/// was counted.
fn plan<'a, L: LeafSql>(
    t: &'a Term<L>,
    est: &dyn Fn(&L) -> Option<(u64, u64)>,
) -> Option<(u64, Vec<&'a L>)> {
    let p = match t {
        Term::Leaf(l) => Some((leaf_cost(l, est(l)), vec![l])),
        Term::All(v) => v
            .iter()
            .filter_map(|c| plan(c, est))
            .min_by_key(|(c, _)| *c),
        Term::Any(v) => {
            let mut cost = 0u64;
            let mut leaves = Vec::new();
            for c in v {
                let (c, l) = plan(c, est)?;
                cost = cost.saturating_add(c);
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
/// a predicate every answer must also pass (not asked when every driver
/// leaf is a user key).
fn compile<L: LeafSql>(
    t: &Term<L>,
    cap: usize,
    counts: Option<(&Connection, Option<&CountCache>)>,
    universe: &str,
    guard: impl Fn(&[&L]) -> Option<&'static str>,
) -> Result<Option<Query>, StoreError> {
    if cap == 0 {
        return Ok(None);
    }
    let counted = match counts {
        Some((c, cache)) => count_leaves(t, c, cache)?,
        None => Vec::new(),
    };
    let est = |l: &L| {
        counted
            .iter()
            .find(|(x, _, _)| std::ptr::eq(*x, l))
            .map(|(_, n, bound)| (*n, *bound))
    };
    let mut q = Query {
        sql: String::new(),
        params: Vec::new(),
    };
    let drivers = plan(t, &est);
    if let Some((_, leaves)) = &drivers {
        if leaves.is_empty() {
            return Ok(None);
        }
        if key_arms(t, leaves, &mut q) {
            q.sql.push_str(if leaves.len() == 1 {
                " ORDER BY k.user_id LIMIT ?"
            } else {
                " ORDER BY 1 LIMIT ?"
            });
            q.params
                .push(Value::Integer(i64::try_from(cap).unwrap_or(i64::MAX)));
            return Ok(Some(q));
        }
    }
    q.sql.push_str("SELECT d.id FROM (");
    let guard = match &drivers {
        Some((_, leaves)) => {
            for (i, l) in leaves.iter().enumerate() {
                if i > 0 {
                    q.sql.push_str(" UNION ");
                }
                l.driver(&mut q);
            }
            guard(leaves)
        }
        None => {
            q.sql.push_str(universe);
            guard(&[])
        }
    };
    q.sql.push_str(") AS d WHERE ");
    if let Some(g) = guard {
        q.sql.push_str(g);
        q.sql.push_str(" AND ");
    }
    // A driver of one leaf: its rows pass that leaf.
    let known = match &drivers {
        Some((_, leaves)) if leaves.len() == 1 => leaves.first().copied(),
        _ => None,
    };
    render(&fold(t, known), &mut q, "d.id", false);
    q.sql.push_str(" ORDER BY d.id LIMIT ?");
    q.params
        .push(Value::Integer(i64::try_from(cap).unwrap_or(i64::MAX)));
    Ok(Some(q))
}

/// Writes one arm per driver leaf, joined by UNION, if every one is a
/// user key: the key's rows, with the term (the arm's leaf known true)
/// checked on each, inline where the row carries the values. `false`,
/// with `q` untouched, if a leaf is not a key.
fn key_arms<L: LeafSql>(t: &Term<L>, leaves: &[&L], q: &mut Query) -> bool {
    let mut arms = Query {
        sql: String::new(),
        params: Vec::new(),
    };
    for (i, l) in leaves.iter().enumerate() {
        if i > 0 {
            arms.sql.push_str(" UNION ");
        }
        arms.sql.push_str(KEY_ARM);
        if !l.key_range(&mut arms) {
            return false;
        }
        arms.sql.push_str(" AND ");
        render(&fold(t, Some(*l)), &mut arms, "k.user_id", true);
    }
    q.sql.push_str(&arms.sql);
    q.params.extend(arms.params);
    true
}

/// The positive leaves of `t` (not under a NOT): those a driver may come
/// from.
fn positive_leaves<'a, L>(t: &'a Term<L>, out: &mut Vec<&'a L>) {
    match t {
        Term::Leaf(l) => out.push(l),
        Term::All(v) | Term::Any(v) => v.iter().for_each(|c| positive_leaves(c, out)),
        Term::Not(_) => {}
    }
}

/// Counts the countable positive leaves of `t` that may drive, when
/// there is a choice to make: two or more positive leaves of a static
/// class between one row and "listed" (a counted key always costs less
/// than "listed" or an age bound, and a one-row key always drives, so
/// neither needs a count to be compared). Each count is one bounded walk
/// of an index range, in rounds of growing bounds ([`FIRST_BOUND`],
/// [`COUNT_BOUND`], [`RECOUNT_BOUND`]): a round counts the leaves that
/// reached the last bound, and the counting ends after a round where a
/// leaf stayed below its bound (that one is known to be smaller than
/// every leaf still open) or fewer than two reached it. Gives (leaf,
/// count, bound counted to).
fn count_leaves<'a, L: LeafSql>(
    t: &'a Term<L>,
    c: &Connection,
    cache: Option<&CountCache>,
) -> Result<Vec<(&'a L, u64, u64)>, StoreError> {
    let mut leaves = Vec::new();
    positive_leaves(t, &mut leaves);
    leaves.retain(|l| (1..LISTED_CLASS).contains(&l.cost()));
    let mut out: Vec<(&L, u64, u64)> = Vec::new();
    if leaves.len() < 2 {
        return Ok(out);
    }
    for l in leaves {
        if let Some(n) = count_leaf(l, c, cache, FIRST_BOUND)? {
            out.push((l, n, FIRST_BOUND));
        }
    }
    for bound in [COUNT_BOUND, RECOUNT_BOUND] {
        let open = out.iter().filter(|(_, n, b)| n >= b).count();
        if open < 2 || open < out.len() {
            break;
        }
        for (l, n, b) in out.iter_mut() {
            if let Some(m) = count_leaf(*l, c, cache, bound)? {
                (*n, *b) = (m, bound);
            }
        }
    }
    Ok(out)
}

/// Counts made lately, by counting statement and values, shared by the
/// reader connections of one store. A count only picks the driver, so
/// one a few seconds old serves as well as a new one (a stale count can
/// make a search slower, never different), and the keys searched most
/// (a big city, a country, an intention) are not walked again for every
/// search.
#[derive(Default)]
pub(crate) struct CountCache {
    entries: Mutex<HashMap<String, Counted>>,
}

/// A count: `n` up to `bound` (at the bound: at least that many).
#[derive(Clone, Copy)]
struct Counted {
    n: u64,
    bound: u64,
    at: Instant,
}

/// How long a count is used.
const COUNT_TTL: Duration = Duration::from_secs(10);
/// Most counts kept; when full the cache starts again empty.
const COUNT_CACHE_MAX: usize = 4096;

impl CountCache {
    /// The count up to `bound`, if one kept answers it.
    fn get(&self, key: &str, bound: u64) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let c = entries.get(key).filter(|c| c.at.elapsed() < COUNT_TTL)?;
        if c.n < c.bound {
            Some(c.n.min(bound))
        } else {
            (c.bound >= bound).then_some(bound)
        }
    }

    fn put(&self, key: String, n: u64, bound: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= COUNT_CACHE_MAX && !entries.contains_key(&key) {
            entries.clear();
        }
        let at = Instant::now();
        entries.insert(key, Counted { n, bound, at });
    }
}

/// How many IDs pass `l`, up to `bound`; `None` if it cannot be counted.
/// From `cache` when it knows, else counted on `c` (and kept there).
fn count_leaf<L: LeafSql>(
    l: &L,
    c: &Connection,
    cache: Option<&CountCache>,
    bound: u64,
) -> Result<Option<u64>, StoreError> {
    let mut q = Query {
        sql: String::from("SELECT count(*) FROM ("),
        params: Vec::new(),
    };
    if !l.counter(&mut q) {
        return Ok(None);
    }
    let key = cache.map(|_| format!("{}|{:?}", q.sql, q.params));
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Some(n) = cache.get(key, bound)
    {
        return Ok(Some(n));
    }
    q.sql.push_str(" LIMIT ?)");
    q.params
        .push(Value::Integer(i64::try_from(bound).unwrap_or(i64::MAX)));
    let n: i64 = c
        .prepare_cached(&q.sql)
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(q.params.iter()), |r| r.get(0)))
        .map_err(|e| backend("estimating a search", e))?;
    let n = u64::try_from(n).unwrap_or(0);
    if let (Some(cache), Some(key)) = (cache, key) {
        cache.put(key, n, bound);
    }
    Ok(Some(n))
}

/// A user search; `None` when nothing can match. With a connection,
/// broad leaves are counted on it to pick the driver.
///
/// The term is first rewritten, keeping what it matches: an `All`
/// inside an `All` is merged into it (so that all their conditions are
/// in one place for the driver and the row checks), and an `All` that
/// asks for a first name and a last name is given the pair of both
/// ([`UserPart::FullName`]) as one more driver to choose from.
pub(crate) fn users(
    t: &Term<UserLeaf>,
    cap: usize,
    counts: Option<(&Connection, Option<&CountCache>)>,
) -> Result<Option<Query>, StoreError> {
    check_size(t)?;
    let t = user_parts(t);
    compile(&t, cap, counts, "SELECT id FROM users", |_| None)
}

/// The term as [`UserPart`]s: nested `All`s merged, first + last name
/// pairs added. Recursive: call after [`check_size`].
fn user_parts(t: &Term<UserLeaf>) -> Term<UserPart<'_>> {
    fn merge<'a>(v: &'a [Term<UserLeaf>], out: &mut Vec<Term<UserPart<'a>>>) {
        for c in v {
            match c {
                Term::All(w) => merge(w, out),
                c => out.push(user_parts(c)),
            }
        }
    }
    match t {
        Term::Leaf(l) => Term::Leaf(UserPart::Leaf(l)),
        Term::All(v) => {
            let mut out = Vec::new();
            merge(v, &mut out);
            let name = |field: UserField| {
                out.iter().find_map(|c| match c {
                    Term::Leaf(UserPart::Leaf(UserLeaf::Is(f, k))) if *f == field => {
                        Some(k.as_str())
                    }
                    _ => None,
                })
            };
            if let (Some(first), Some(last)) =
                (name(UserField::FirstName), name(UserField::LastName))
            {
                // First: of equal estimates the first child drives, and
                // the pair is never broader than either name.
                let pair = full_name_key(first, last);
                out.insert(0, Term::Leaf(UserPart::FullName(pair)));
            }
            Term::All(out)
        }
        Term::Any(v) => Term::Any(v.iter().map(user_parts).collect()),
        Term::Not(c) => Term::Not(Box::new(user_parts(c))),
    }
}

/// A group search among listed groups; `None` when nothing can match. A
/// group with keys is listed; a driver from the joined users or from
/// every group needs the check.
pub(crate) fn groups(
    t: &Term<GroupLeaf>,
    cap: usize,
    counts: Option<(&Connection, Option<&CountCache>)>,
) -> Result<Option<Query>, StoreError> {
    check_size(t)?;
    compile(t, cap, counts, "SELECT id FROM chat_groups", |leaves| {
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
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
    }

    #[test]
    fn oversized_terms_are_refused_without_panicking() {
        let wide = Term::Any(
            (0..=MAX_LEAVES)
                .map(|_| Term::Leaf(UserLeaf::Listed))
                .collect(),
        );
        assert!(users(&wide, 10, None).is_err());
        let mut deep = Term::Leaf(UserLeaf::Listed);
        for _ in 0..10_000 {
            deep = Term::Not(Box::new(deep));
        }
        assert!(users(&deep, 10, None).is_err());
        // Dropping a deep Box chain recurses; unwind it by hand.
        while let Term::Not(inner) = deep {
            deep = *inner;
        }
        let many_empty = Term::All((0..10_000).map(|_| Term::All(Vec::new())).collect());
        assert!(users(&many_empty, 10, None).is_err());
        let ok = Term::Any(
            (0..MAX_LEAVES)
                .map(|i| Term::Leaf(UserLeaf::Is(UserField::UserId, format!("u{i}"))))
                .collect(),
        );
        assert!(users(&ok, 10, None).is_ok());
    }

    /// Two leaves of the same static class: the one counted smaller
    /// drives, whichever comes first, and the answer is the same.
    #[test]
    fn counted_leaves_pick_the_smaller_driver() -> Result<(), Box<dyn std::error::Error>> {
        let mut c = Connection::open_in_memory()?;
        crate::migrations::migrate(&mut c)?;
        let tx = c.transaction()?;
        for i in 0..5000 {
            let id = format!("u{i:05}");
            tx.execute("INSERT INTO users (id, created_ms) VALUES (?1, 0)", [&id])?;
            let keys = vec![
                (UserField::Country, "big".to_string()),
                (
                    UserField::Intention,
                    if i % 500 == 7 { "rare" } else { "common" }.to_string(),
                ),
                (
                    UserField::City,
                    if i < 4800 { "wide" } else { "narrow" }.to_string(),
                ),
                (
                    UserField::Gender,
                    if i % 2 == 0 { "m" } else { "f" }.to_string(),
                ),
            ];
            // As the store writes them: each row carries the others.
            let p = imps_core::store::PublicProfile::default();
            super::super::insert_user_keys(&tx, &id, &p, &keys)?;
        }
        tx.commit()?;
        let is = |f, k: &str| Term::Leaf(UserLeaf::Is(f, k.into()));
        let t = Term::All(vec![
            is(UserField::Country, "big"),
            is(UserField::Intention, "rare"),
        ]);
        let fixed = users(&t, 50, None)?.ok_or("no query")?;
        let counted = users(&t, 50, Some((&c, None)))?.ok_or("no query")?;
        // Without counts the first of two equal classes drives.
        assert_eq!(fixed.params[1], text("big"));
        assert_eq!(counted.params[1], text("rare"));
        let want: Vec<String> = (0..5000)
            .filter(|i| i % 500 == 7)
            .map(|i| format!("u{i:05}"))
            .collect();
        assert_eq!(fixed.run(&c, "t")?, want);
        assert_eq!(counted.run(&c, "t")?, want);
        // Both past the first bound (4,800 and 2,500 rows): recounted, the
        // gender, which counts less, drives although a city's static
        // class is cheaper.
        let t = Term::All(vec![
            is(UserField::City, "wide"),
            is(UserField::Gender, "m"),
        ]);
        let counted = users(&t, 5000, Some((&c, None)))?.ok_or("no query")?;
        assert_eq!(counted.params[1], text("m"));
        let want: Vec<String> = (0..4800)
            .filter(|i| i % 2 == 0)
            .map(|i| format!("u{i:05}"))
            .collect();
        assert_eq!(counted.run(&c, "t")?, want);
        Ok(())
    }

    #[test]
    fn values_are_bound_not_spliced() -> Result<(), StoreError> {
        let t = Term::All(vec![
            Term::Leaf(UserLeaf::Is(UserField::City, "x' OR 1=1 --".into())),
            Term::Leaf(UserLeaf::Listed),
            Term::Not(Box::new(Term::Leaf(UserLeaf::BornAfter(24_000)))),
        ]);
        let q = users(&t, 5, None)?.ok_or(StoreError::Backend("no query".into()))?;
        assert!(!q.sql.contains("OR 1=1"));
        assert!(!q.sql.contains("24000"));
        // Driven by the city, the cheapest positive leaf, with the
        // other leaves checked on its rows.
        assert!(q.sql.starts_with(KEY_ARM), "{}", q.sql);
        assert!(!q.sql.contains("user_profiles"), "{}", q.sql);
        Ok(())
    }

    /// The plans SQLite makes of the usual shapes: every arm a range of
    /// the key's primary key, unions merged, nothing sorted, and no
    /// probe for what the key rows carry.
    #[test]
    fn key_drivers_stream_in_id_order() -> Result<(), Box<dyn std::error::Error>> {
        let mut c = Connection::open_in_memory()?;
        crate::migrations::migrate(&mut c)?;
        let is = |f, k: &str| Term::Leaf(UserLeaf::Is(f, k.into()));
        let profile = |t| {
            Term::All(vec![
                t,
                Term::Leaf(UserLeaf::Listed),
                Term::Leaf(UserLeaf::BornBy(24_000)),
            ])
        };
        let advanced = profile(Term::All(vec![
            Term::Any(vec![is(UserField::City, "a"), is(UserField::City, "b")]),
            is(UserField::Intention, "networking"),
            Term::Not(Box::new(is(UserField::Gender, "m"))),
            Term::Leaf(UserLeaf::BornBy(23_700)),
        ]));
        let city_age = profile(Term::All(vec![
            is(UserField::City, "a"),
            Term::Leaf(UserLeaf::BornBy(23_800)),
            Term::Leaf(UserLeaf::BornAfter(23_764)),
        ]));
        let names = Term::All(vec![
            is(UserField::FirstName, "ann"),
            is(UserField::LastName, "lee"),
        ]);
        for (what, t, merged) in [
            ("advanced", &advanced, true),
            ("city_age", &city_age, false),
            ("names", &names, false),
        ] {
            let q = users(t, 201, Some((&c, None)))?.ok_or("no query")?;
            let plan: Vec<String> = c
                .prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql))?
                .query_map(rusqlite::params_from_iter(q.params.iter()), |r| {
                    r.get::<_, String>(3)
                })?
                .collect::<Result<_, _>>()?;
            let plan = plan.join(" | ");
            assert!(!plan.contains("TEMP B-TREE"), "{what}: {plan}");
            assert_eq!(plan.contains("MERGE (UNION)"), merged, "{what}: {plan}");
            assert!(
                plan.contains("SEARCH k USING PRIMARY KEY (field=? AND key=?)"),
                "{what}: {plan}"
            );
            if what == "names" {
                // The pair drives; both names are checked on its rows.
                assert_eq!(q.params[0], Value::Integer(FULL_NAME_CODE), "{}", q.sql);
                assert_eq!(q.sql.matches("EXISTS").count(), 2, "{}", q.sql);
            } else {
                assert!(!q.sql.contains("EXISTS"), "{what}: {}", q.sql);
            }
        }
        Ok(())
    }

    /// A kept count answers a bound it covers: an exact count any bound,
    /// a count that reached its bound only bounds up to that one.
    #[test]
    fn kept_counts_answer_what_they_cover() {
        let cache = CountCache::default();
        assert_eq!(cache.get("a", 256), None);
        cache.put("a".into(), 100, 2048);
        assert_eq!(cache.get("a", 256), Some(100));
        assert_eq!(cache.get("a", 64), Some(64));
        assert_eq!(cache.get("a", 8192), Some(100));
        cache.put("b".into(), 2048, 2048);
        assert_eq!(cache.get("b", 256), Some(256));
        assert_eq!(cache.get("b", 2048), Some(2048));
        assert_eq!(cache.get("b", 8192), None);
        assert_eq!(cache.get("c", 256), None);
    }

    /// Folding a known leaf: wherever it is, it is true for the arm's
    /// rows, and the constants leave the term.
    #[test]
    fn a_known_leaf_folds_away() {
        let a = Term::Leaf(UserLeaf::Is(UserField::City, "a".into()));
        let b = Term::Leaf(UserLeaf::Is(UserField::City, "b".into()));
        let t = Term::All(vec![
            Term::Any(vec![a, b]),
            Term::Not(Box::new(Term::Leaf(UserLeaf::Listed))),
        ]);
        let Term::All(v) = &t else { return };
        let Some(Term::Any(ab)) = v.first() else {
            return;
        };
        let Some(Term::Leaf(known)) = ab.first() else {
            return;
        };
        let mut q = Query {
            sql: String::new(),
            params: Vec::new(),
        };
        render(&fold(&t, Some(known)), &mut q, "k.user_id", true);
        assert_eq!(q.sql, "NOT (k.listed = 1)");
        let never = Term::All(vec![t, Term::Any(Vec::new())]);
        let mut q = Query {
            sql: String::new(),
            params: Vec::new(),
        };
        render(&fold(&never, None), &mut q, "d.id", false);
        assert_eq!(q.sql, "0");
    }
}
