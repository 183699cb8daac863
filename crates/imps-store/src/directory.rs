//! SQLite tables of the directory area (public profiles, contact details,
//! search); see `imps_core::DirectoryStore`, `sql/0010_directory.sql` and
//! `sql/0011_search_rows.sql`.
//!
//! Every write that changes a searchable value rewrites the owner's rows
//! in `user_keys` / `group_keys` in the same job, so a search never sees a
//! profile without its keys or keys of a value that is gone. The same
//! holds for what each user key row repeats of the profile (listed, birth
//! month, city, country, gender, intention): any write of a profile or
//! contact details rewrites all of the user's rows. A search is compiled
//! to one statement (see [`compile`]) on a reader connection, after
//! counting (bounded, and kept a few seconds) how many IDs its broad
//! leaves hold, and runs there.

mod compile;

pub(crate) use compile::CountCache;

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::NewUser;
use imps_core::store::{
    Birth, ContactDetails, DirectoryStore, GroupField, GroupLeaf, GroupRecord, PublicProfile, Term,
    UserField, UserLeaf, group_keys, group_listed, user_keys,
};
use rusqlite::{Connection, OptionalExtension};

use crate::SqliteStore;
use crate::rows::backend;

/// The stored code of a user field (`user_keys.field`). Stored: never
/// change one.
pub(crate) fn user_field_code(f: UserField) -> i64 {
    match f {
        UserField::UserId => 1,
        UserField::FriendlyName => 2,
        UserField::FirstName => 3,
        UserField::LastName => 4,
        UserField::Email => 5,
        UserField::Msisdn => 6,
        UserField::City => 7,
        UserField::Country => 8,
        UserField::Gender => 9,
        UserField::Intention => 10,
        UserField::Interests => 11,
        UserField::MaritalStatus => 12,
    }
}

/// The stored code of a group field (`group_keys.field`); `None` for
/// Joined, which is answered from `group_joined`. Stored: never change one.
pub(crate) fn group_field_code(f: GroupField) -> Option<i64> {
    match f {
        GroupField::GroupId => Some(1),
        GroupField::Name => Some(2),
        GroupField::Topic => Some(3),
        GroupField::Owner => Some(4),
        GroupField::Joined => None,
    }
}

const PROFILE_SELECT: &str = "SELECT u.friendly_name, p.birth_year, p.birth_month, p.gender,
    p.intention, p.interests, p.marital_status, p.city, p.country, p.free_text, p.consent
    FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE u.id = ?1";

fn profile_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PublicProfile> {
    let year: Option<u16> = r.get(1)?;
    let month: Option<u8> = r.get(2)?;
    Ok(PublicProfile {
        friendly_name: r.get(0)?,
        birth: year.zip(month).map(|(year, month)| Birth { year, month }),
        gender: r.get(3)?,
        intention: r.get(4)?,
        interests: r.get(5)?,
        marital_status: r.get(6)?,
        city: r.get(7)?,
        country: r.get(8)?,
        free_text: r.get(9)?,
        consent: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
    })
}

/// The profile with the user's friendly name; `None` for no such user.
fn read_profile(c: &Connection, user: &str) -> Result<Option<PublicProfile>, StoreError> {
    c.prepare_cached(PROFILE_SELECT)
        .and_then(|mut s| s.query_row([user], profile_from_row).optional())
        .map_err(|e| backend(&format!("reading the profile of {user}"), e))
}

fn read_contacts(c: &Connection, user: &str) -> Result<Option<ContactDetails>, StoreError> {
    c.prepare_cached(
        "SELECT c.first_name, c.last_name, c.email
         FROM users u LEFT JOIN user_contacts c ON c.user_id = u.id WHERE u.id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([user], |r| {
            Ok(ContactDetails {
                first_name: r.get(0)?,
                last_name: r.get(1)?,
                email: r.get(2)?,
            })
        })
        .optional()
    })
    .map_err(|e| backend(&format!("reading the contact details of {user}"), e))
}

/// The field code of the first + last name pair rows: not a
/// [`UserField`] (no leaf asks for it), a driver the compiler adds where
/// one `All` asks for both names. Stored: never change it.
pub(crate) const FULL_NAME_CODE: i64 = 13;

/// The key of a first + last name pair row. Both keys come from
/// `search_key`; the separator is a control character, so two different
/// pairs rarely share a key, and when they do, the pair row only drives:
/// both names are still checked on every row it gives.
pub(crate) fn full_name_key(first: &str, last: &str) -> String {
    format!("{first}\u{1f}{last}")
}

/// Replaces all of a user's keys.
pub(crate) fn write_user_keys(
    c: &Connection,
    user: &str,
    p: &PublicProfile,
    keys: &[(UserField, String)],
) -> Result<(), StoreError> {
    let fail = |e| backend(&format!("indexing user {user}"), e);
    c.prepare_cached("DELETE FROM user_keys WHERE user_id = ?1")
        .and_then(|mut s| s.execute([user]))
        .map_err(fail)?;
    insert_user_keys(c, user, p, keys)
}

/// Adds a user's keys (a new user has none to replace): one row per key,
/// plus the first + last name pair when both are there. Every row repeats
/// what a profile search checks besides its own key (listed, the birth
/// month, city, country, gender and intention keys; see
/// `sql/0011_search_rows.sql`), taken from `p` and `keys`, so a search
/// driven by any key checks those on the row it reads.
pub(crate) fn insert_user_keys(
    c: &Connection,
    user: &str,
    p: &PublicProfile,
    keys: &[(UserField, String)],
) -> Result<(), StoreError> {
    let key_of = |field: UserField| {
        keys.iter()
            .find(|(f, _)| *f == field)
            .map(|(_, k)| k.as_str())
    };
    let birth = p.birth.map(|b| i64::from(b.month_index()));
    let (city, country, gender, intention) = (
        key_of(UserField::City),
        key_of(UserField::Country),
        key_of(UserField::Gender),
        key_of(UserField::Intention),
    );
    let pair = key_of(UserField::FirstName)
        .zip(key_of(UserField::LastName))
        .map(|(f, l)| (FULL_NAME_CODE, full_name_key(f, l)));
    let mut ins = c
        .prepare_cached(
            "INSERT OR IGNORE INTO user_keys (field, key, user_id, listed, birth_idx, city,
               country, gender, intention) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(|e| backend("preparing a key insert", e))?;
    let rows = keys
        .iter()
        .map(|(f, k)| (user_field_code(*f), k.as_str()))
        .chain(pair.as_ref().map(|(code, k)| (*code, k.as_str())));
    for (code, k) in rows {
        ins.execute(rusqlite::params![
            code,
            k,
            user,
            p.listed(),
            birth,
            city,
            country,
            gender,
            intention
        ])
        .map_err(|e| backend(&format!("indexing user {user}"), e))?;
    }
    Ok(())
}

/// Replaces a group's keys: none unless `g` is there and listed.
pub(crate) fn write_group_keys(
    c: &Connection,
    id: &str,
    g: Option<&GroupRecord>,
) -> Result<(), StoreError> {
    let fail = |e| backend(&format!("indexing group {id}"), e);
    c.prepare_cached("DELETE FROM group_keys WHERE group_id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(fail)?;
    let Some(g) = g.filter(|g| group_listed(g)) else {
        return Ok(());
    };
    let mut ins = c
        .prepare_cached(
            "INSERT OR IGNORE INTO group_keys (field, key, group_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(fail)?;
    for (f, k) in group_keys(g) {
        if let Some(code) = group_field_code(f) {
            ins.execute((code, &k, id)).map_err(fail)?;
        }
    }
    Ok(())
}

/// Rewrites `user_keys` from the stored users, profiles and contact
/// details (the groups' keys are the groups file's).
pub(crate) fn reindex_users(c: &Connection) -> Result<(), StoreError> {
    let fail = |e| backend("reindexing the directory", e);
    c.execute_batch("DELETE FROM user_keys;").map_err(fail)?;
    let mut users = c
        .prepare(
            "SELECT u.id, u.msisdn, u.friendly_name, p.birth_year, p.birth_month, p.gender,
               p.intention, p.interests, p.marital_status, p.city, p.country, p.free_text,
               p.consent, c.first_name, c.last_name, c.email
             FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id
               LEFT JOIN user_contacts c ON c.user_id = u.id",
        )
        .map_err(fail)?;
    let mut rows = users.query([]).map_err(fail)?;
    let mut n_users = 0u64;
    while let Some(r) = rows.next().map_err(fail)? {
        let id: String = r.get(0).map_err(fail)?;
        let msisdn: Option<String> = r.get(1).map_err(fail)?;
        let year: Option<u16> = r.get(3).map_err(fail)?;
        let month: Option<u8> = r.get(4).map_err(fail)?;
        let p = PublicProfile {
            friendly_name: r.get(2).map_err(fail)?,
            birth: year.zip(month).map(|(year, month)| Birth { year, month }),
            gender: r.get(5).map_err(fail)?,
            intention: r.get(6).map_err(fail)?,
            interests: r.get(7).map_err(fail)?,
            marital_status: r.get(8).map_err(fail)?,
            city: r.get(9).map_err(fail)?,
            country: r.get(10).map_err(fail)?,
            free_text: r.get(11).map_err(fail)?,
            consent: r.get::<_, Option<bool>>(12).map_err(fail)?.unwrap_or(false),
        };
        let d = ContactDetails {
            first_name: r.get(13).map_err(fail)?,
            last_name: r.get(14).map_err(fail)?,
            email: r.get(15).map_err(fail)?,
        };
        insert_user_keys(c, &id, &p, &user_keys(&id, msisdn.as_deref(), &p, &d))?;
        // The listed flag follows the same rules as a put_profile.
        c.prepare_cached("UPDATE user_profiles SET listed = ?2 WHERE user_id = ?1")
            .and_then(|mut s| s.execute((&id, p.listed())))
            .map_err(fail)?;
        n_users += 1;
    }
    drop(rows);
    tracing::info!(users = n_users, "reindexed the users' search keys");
    Ok(())
}

/// Inserts new users with their profiles, contact details and keys, on
/// a connection inside the caller's transaction.
pub(crate) fn import_users(
    c: &Connection,
    users: &[(NewUser, PublicProfile, ContactDetails)],
) -> Result<(), StoreError> {
    let mut iu = c
        .prepare_cached(
            "INSERT INTO users (id, password_hash, digest_secret, msisdn, friendly_name,
               created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(|e| backend("preparing import_users", e))?;
    let mut ip = c
        .prepare_cached(
            "INSERT INTO user_profiles (user_id, birth_year, birth_month, birth_idx, gender,
               intention, interests, marital_status, city, country, free_text, consent, listed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(|e| backend("preparing import_users", e))?;
    let mut ic = c
        .prepare_cached(
            "INSERT INTO user_contacts (user_id, first_name, last_name, email)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(|e| backend("preparing import_users", e))?;
    for (u, p, d) in users {
        let created_ms = crate::rows::to_sql_int(u.created_ms, "created_ms")?;
        if let Err(e) = iu.execute(rusqlite::params![
            u.id,
            u.password_hash,
            u.digest_secret,
            u.msisdn,
            p.friendly_name,
            created_ms
        ]) {
            return Err(if crate::rows::is_uniqueness_violation(&e) {
                match &u.msisdn {
                    Some(m) if crate::rows::violation_mentions(&e, "users.msisdn") => {
                        StoreError::Conflict(format!("msisdn {m} taken"))
                    }
                    _ => StoreError::Conflict(format!("user {} exists", u.id)),
                }
            } else {
                backend(&format!("creating user {}", u.id), e)
            });
        }
        let (year, month, idx) = profile_params(p);
        ip.execute(rusqlite::params![
            u.id,
            year,
            month,
            idx,
            p.gender,
            p.intention,
            p.interests,
            p.marital_status,
            p.city,
            p.country,
            p.free_text,
            p.consent,
            p.listed(),
        ])
        .map_err(|e| backend(&format!("storing the profile of {}", u.id), e))?;
        ic.execute((&u.id, &d.first_name, &d.last_name, &d.email))
            .map_err(|e| backend(&format!("storing the contact details of {}", u.id), e))?;
        insert_user_keys(c, &u.id, p, &user_keys(&u.id, u.msisdn.as_deref(), p, d))?;
    }
    Ok(())
}

fn profile_params(p: &PublicProfile) -> (Option<u16>, Option<u8>, Option<i64>) {
    match p.birth {
        Some(b) => (
            Some(b.year),
            Some(b.month),
            Some(i64::from(b.month_index())),
        ),
        None => (None, None, None),
    }
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn profile(&self, user: &str) -> Result<Option<PublicProfile>, StoreError> {
        let user = user.to_owned();
        self.read_lane().run(move |c| read_profile(c, &user)).await
    }

    async fn put_profile(&self, user: &str, p: PublicProfile) -> Result<bool, StoreError> {
        let user = user.to_owned();
        self.writer()
            .run_batched(move |c| {
                // The friendly name is the user's own column; RETURNING
                // tells both that the user exists and its MSISDN key.
                let msisdn: Option<Option<String>> = c
                    .prepare_cached(
                        "UPDATE users SET friendly_name = ?2 WHERE id = ?1 RETURNING msisdn",
                    )
                    .and_then(|mut s| {
                        s.query_row((&user, &p.friendly_name), |r| r.get(0))
                            .optional()
                    })
                    .map_err(|e| backend(&format!("setting the friendly name of {user}"), e))?;
                let Some(msisdn) = msisdn else {
                    return Ok(false);
                };
                let (year, month, idx) = profile_params(&p);
                c.prepare_cached(
                    "INSERT OR REPLACE INTO user_profiles (user_id, birth_year, birth_month,
                       birth_idx, gender, intention, interests, marital_status, city, country,
                       free_text, consent, listed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        user,
                        year,
                        month,
                        idx,
                        p.gender,
                        p.intention,
                        p.interests,
                        p.marital_status,
                        p.city,
                        p.country,
                        p.free_text,
                        p.consent,
                        p.listed(),
                    ])
                })
                .map_err(|e| backend(&format!("storing the profile of {user}"), e))?;
                let d = read_contacts(c, &user)?.unwrap_or_default();
                write_user_keys(c, &user, &p, &user_keys(&user, msisdn.as_deref(), &p, &d))?;
                Ok(true)
            })
            .await
    }

    async fn contact_details(&self, user: &str) -> Result<Option<ContactDetails>, StoreError> {
        let user = user.to_owned();
        self.read_lane().run(move |c| read_contacts(c, &user)).await
    }

    async fn friendly_names(&self, users: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let users = users.to_vec();
        // One job for the page: a trip to the reader thread costs more
        // than the lookups.
        self.read_lane()
            .run(move |c| {
                let mut s = c
                    .prepare_cached("SELECT friendly_name FROM users WHERE id = ?1")
                    .map_err(|e| backend("preparing friendly_names", e))?;
                users
                    .iter()
                    .map(|u| {
                        s.query_row([u], |r| r.get::<_, Option<String>>(0))
                            .optional()
                            .map(Option::flatten)
                            .map_err(|e| backend(&format!("reading the friendly name of {u}"), e))
                    })
                    .collect()
            })
            .await
    }

    async fn set_contact_details(&self, user: &str, d: ContactDetails) -> Result<bool, StoreError> {
        let user = user.to_owned();
        self.writer()
            .run_batched(move |c| {
                let msisdn: Option<Option<String>> = c
                    .prepare_cached("SELECT msisdn FROM users WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&user], |r| r.get(0)).optional())
                    .map_err(|e| backend(&format!("looking up user {user}"), e))?;
                let Some(msisdn) = msisdn else {
                    return Ok(false);
                };
                c.prepare_cached(
                    "INSERT OR REPLACE INTO user_contacts (user_id, first_name, last_name, email)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((&user, &d.first_name, &d.last_name, &d.email)))
                .map_err(|e| backend(&format!("storing the contact details of {user}"), e))?;
                let p = read_profile(c, &user)?.unwrap_or_default();
                write_user_keys(c, &user, &p, &user_keys(&user, msisdn.as_deref(), &p, &d))?;
                Ok(true)
            })
            .await
    }

    async fn search_users(
        &self,
        t: &Term<UserLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        // Refused or empty terms answer without a connection.
        if compile::users(t, cap, None)?.is_none() {
            return Ok(Vec::new());
        }
        let t = t.clone();
        let counts = self.search_counts();
        self.read_lane()
            .run(
                move |c| match compile::users(&t, cap, Some((c, Some(counts.as_ref()))))? {
                    Some(q) => q.run(c, "searching users"),
                    None => Ok(Vec::new()),
                },
            )
            .await
    }

    async fn search_groups(
        &self,
        t: &Term<GroupLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        // Refused or empty terms answer without a connection.
        if compile::groups(t, cap, None)?.is_none() {
            return Ok(Vec::new());
        }
        let t = t.clone();
        let counts = self.search_counts();
        self.read_lane()
            .run(
                move |c| match compile::groups(&t, cap, Some((c, Some(counts.as_ref()))))? {
                    Some(q) => q.run(c, "searching groups"),
                    None => Ok(Vec::new()),
                },
            )
            .await
    }
}
