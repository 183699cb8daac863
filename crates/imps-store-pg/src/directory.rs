//! Public profiles, contact details and search; see
//! `imps_core::DirectoryStore` and `sql/0007_directory.sql`.
//!
//! Every write that changes a searchable value rewrites the owner's rows
//! in `user_keys` / `group_keys` in the same transaction, so a search
//! never sees a profile without its keys or keys of a value that is gone.
//! A profile write and a contact-details write of one user both lock the
//! user's row first, so each computes the keys from the other's latest
//! value. A search is compiled to one statement ([`compile`]).

mod compile;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use imps_core::StoreError;
use imps_core::store::{
    Birth, ContactDetails, DirectoryStore, GroupField, GroupLeaf, GroupRecord, NewUser,
    PublicProfile, Term, UserField, UserLeaf, group_keys, group_listed, user_keys,
};
use tokio_postgres::Row;

use crate::PgStore;
use crate::rows::{backend, col, exec, exec_raw, is_unique_violation, query_opt, to_i64};

/// The stored code of a user field (`user_keys.field`): the same codes
/// as the SQLite backend's. Stored: never change one.
pub(crate) fn user_field_code(f: UserField) -> i32 {
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
/// Joined, which is answered from `group_joined`.
pub(crate) fn group_field_code(f: GroupField) -> Option<i32> {
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
    FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE u.id = $1";

fn profile_from_row(r: &Row) -> Result<PublicProfile, StoreError> {
    let year: Option<i32> = col(r, 1)?;
    let month: Option<i32> = col(r, 2)?;
    let birth = match (year, month) {
        (Some(y), Some(m)) => Some(Birth {
            year: u16::try_from(y)
                .map_err(|_| StoreError::Backend(format!("postgres: birth year {y}")))?,
            month: u8::try_from(m)
                .map_err(|_| StoreError::Backend(format!("postgres: birth month {m}")))?,
        }),
        _ => None,
    };
    Ok(PublicProfile {
        friendly_name: col(r, 0)?,
        birth,
        gender: col(r, 3)?,
        intention: col(r, 4)?,
        interests: col(r, 5)?,
        marital_status: col(r, 6)?,
        city: col(r, 7)?,
        country: col(r, 8)?,
        free_text: col(r, 9)?,
        consent: col::<Option<bool>>(r, 10)?.unwrap_or(false),
    })
}

/// The profile with the user's friendly name; `None` for no such user.
async fn read_profile<C: GenericClient>(
    c: &C,
    user: &str,
) -> Result<Option<PublicProfile>, StoreError> {
    query_opt(
        c,
        PROFILE_SELECT,
        &[&user],
        &format!("reading the profile of {user}"),
    )
    .await?
    .map(|r| profile_from_row(&r))
    .transpose()
}

async fn read_contacts<C: GenericClient>(
    c: &C,
    user: &str,
) -> Result<Option<ContactDetails>, StoreError> {
    query_opt(
        c,
        "SELECT c.first_name, c.last_name, c.email
         FROM users u LEFT JOIN user_contacts c ON c.user_id = u.id WHERE u.id = $1",
        &[&user],
        &format!("reading the contact details of {user}"),
    )
    .await?
    .map(|r| {
        Ok(ContactDetails {
            first_name: col(&r, 0)?,
            last_name: col(&r, 1)?,
            email: col(&r, 2)?,
        })
    })
    .transpose()
}

/// Replaces all of a user's keys.
async fn write_user_keys<C: GenericClient>(
    c: &C,
    user: &str,
    keys: &[(UserField, String)],
) -> Result<(), StoreError> {
    exec(
        c,
        "DELETE FROM user_keys WHERE user_id = $1",
        &[&user],
        &format!("indexing user {user}"),
    )
    .await?;
    insert_user_keys(c, user, keys).await
}

/// Adds a user's keys (a new user has none to replace), in one statement.
pub(crate) async fn insert_user_keys<C: GenericClient>(
    c: &C,
    user: &str,
    keys: &[(UserField, String)],
) -> Result<(), StoreError> {
    let fields: Vec<i32> = keys.iter().map(|(f, _)| user_field_code(*f)).collect();
    let values: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
    exec(
        c,
        "INSERT INTO user_keys (field, key, user_id)
         SELECT f, k, $3 FROM unnest($1::integer[], $2::text[]) AS t (f, k)
         ON CONFLICT DO NOTHING",
        &[&fields, &values, &user],
        &format!("indexing user {user}"),
    )
    .await
    .map(|_| ())
}

/// Replaces a group's keys: none unless `g` is there and listed.
pub(crate) async fn write_group_keys<C: GenericClient>(
    c: &C,
    id: &str,
    g: Option<&GroupRecord>,
) -> Result<(), StoreError> {
    let what = format!("indexing group {id}");
    exec(
        c,
        "DELETE FROM group_keys WHERE group_id = $1",
        &[&id],
        &what,
    )
    .await?;
    let Some(g) = g.filter(|g| group_listed(g)) else {
        return Ok(());
    };
    let mut fields = Vec::new();
    let mut values = Vec::new();
    for (f, k) in group_keys(g) {
        if let Some(code) = group_field_code(f) {
            fields.push(code);
            values.push(k);
        }
    }
    exec(
        c,
        "INSERT INTO group_keys (field, key, group_id)
         SELECT f, k, $3 FROM unnest($1::integer[], $2::text[]) AS t (f, k)
         ON CONFLICT DO NOTHING",
        &[&fields, &values, &id],
        &what,
    )
    .await
    .map(|_| ())
}

/// (birth_year, birth_month, birth_idx) of a profile.
fn birth_params(p: &PublicProfile) -> (Option<i32>, Option<i32>, Option<i64>) {
    match p.birth {
        Some(b) => (
            Some(i32::from(b.year)),
            Some(i32::from(b.month)),
            Some(i64::from(b.month_index())),
        ),
        None => (None, None, None),
    }
}

/// Inserts or replaces a user's profile row (not the friendly name,
/// which is the user's own column).
async fn put_profile_row<C: GenericClient>(
    c: &C,
    user: &str,
    p: &PublicProfile,
) -> Result<(), StoreError> {
    let (year, month, idx) = birth_params(p);
    exec(
        c,
        "INSERT INTO user_profiles (user_id, birth_year, birth_month, birth_idx, gender,
           intention, interests, marital_status, city, country, free_text, consent, listed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (user_id) DO UPDATE SET birth_year = excluded.birth_year,
           birth_month = excluded.birth_month, birth_idx = excluded.birth_idx,
           gender = excluded.gender, intention = excluded.intention,
           interests = excluded.interests, marital_status = excluded.marital_status,
           city = excluded.city, country = excluded.country, free_text = excluded.free_text,
           consent = excluded.consent, listed = excluded.listed",
        &[
            &user,
            &year,
            &month,
            &idx,
            &p.gender,
            &p.intention,
            &p.interests,
            &p.marital_status,
            &p.city,
            &p.country,
            &p.free_text,
            &p.consent,
            &p.listed(),
        ],
        &format!("storing the profile of {user}"),
    )
    .await
    .map(|_| ())
}

async fn put_contacts_row<C: GenericClient>(
    c: &C,
    user: &str,
    d: &ContactDetails,
) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO user_contacts (user_id, first_name, last_name, email)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name,
           last_name = excluded.last_name, email = excluded.email",
        &[&user, &d.first_name, &d.last_name, &d.email],
        &format!("storing the contact details of {user}"),
    )
    .await
    .map(|_| ())
}

/// Users written by one statement of [`import_users`]: bounds the size
/// of each statement's arrays.
const IMPORT_CHUNK: usize = 1000;

/// Inserts new users with their profiles, contact details and keys, in
/// the caller's transaction: four statements per chunk of users (arrays
/// unnested by the server), not four per user.
pub(crate) async fn import_users<C: GenericClient>(
    c: &C,
    users: &[(NewUser, PublicProfile, ContactDetails)],
) -> Result<(), StoreError> {
    for chunk in users.chunks(IMPORT_CHUNK) {
        import_chunk(c, chunk).await?;
    }
    Ok(())
}

async fn import_chunk<C: GenericClient>(
    c: &C,
    users: &[(NewUser, PublicProfile, ContactDetails)],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = users.iter().map(|(u, _, _)| u.id.as_str()).collect();
    let hashes: Vec<Option<&str>> = users
        .iter()
        .map(|(u, _, _)| u.password_hash.as_deref())
        .collect();
    let secrets: Vec<Option<&[u8]>> = users
        .iter()
        .map(|(u, _, _)| u.digest_secret.as_deref())
        .collect();
    let msisdns: Vec<Option<&str>> = users.iter().map(|(u, _, _)| u.msisdn.as_deref()).collect();
    let names: Vec<Option<&str>> = users
        .iter()
        .map(|(_, p, _)| p.friendly_name.as_deref())
        .collect();
    let created: Vec<i64> = users
        .iter()
        .map(|(u, _, _)| to_i64(u.created_ms, "created_ms"))
        .collect::<Result<_, _>>()?;
    let res = exec_raw(
        c,
        "INSERT INTO users (id, password_hash, digest_secret, msisdn, friendly_name, created_ms)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[],
                              $6::bigint[])",
        &[&ids, &hashes, &secrets, &msisdns, &names, &created],
        "importing users",
    )
    .await?;
    match res {
        Ok(_) => {}
        // Taken before, or twice in the batch: the server's detail says
        // which key.
        Err(e) if is_unique_violation(&e) => {
            let detail = e
                .as_db_error()
                .and_then(|d| d.detail())
                .unwrap_or("a key is taken")
                .to_string();
            return Err(StoreError::Conflict(
                if crate::rows::constraint(&e) == Some("users_msisdn_key") {
                    format!("msisdn taken: {detail}")
                } else {
                    format!("user exists: {detail}")
                },
            ));
        }
        Err(e) => return Err(backend("importing users", &e)),
    }

    let births: Vec<_> = users.iter().map(|(_, p, _)| birth_params(p)).collect();
    let text = |f: fn(&PublicProfile) -> &Option<String>| -> Vec<Option<&str>> {
        users.iter().map(|(_, p, _)| f(p).as_deref()).collect()
    };
    let years: Vec<Option<i32>> = births.iter().map(|b| b.0).collect();
    let months: Vec<Option<i32>> = births.iter().map(|b| b.1).collect();
    let idxs: Vec<Option<i64>> = births.iter().map(|b| b.2).collect();
    let consent: Vec<bool> = users.iter().map(|(_, p, _)| p.consent).collect();
    let listed: Vec<bool> = users.iter().map(|(_, p, _)| p.listed()).collect();
    exec(
        c,
        "INSERT INTO user_profiles (user_id, birth_year, birth_month, birth_idx, gender,
           intention, interests, marital_status, city, country, free_text, consent, listed)
         SELECT * FROM unnest($1::text[], $2::integer[], $3::integer[], $4::bigint[],
           $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
           $12::boolean[], $13::boolean[])",
        &[
            &ids,
            &years,
            &months,
            &idxs,
            &text(|p| &p.gender),
            &text(|p| &p.intention),
            &text(|p| &p.interests),
            &text(|p| &p.marital_status),
            &text(|p| &p.city),
            &text(|p| &p.country),
            &text(|p| &p.free_text),
            &consent,
            &listed,
        ],
        "importing profiles",
    )
    .await?;

    let detail = |f: fn(&ContactDetails) -> &Option<String>| -> Vec<Option<&str>> {
        users.iter().map(|(_, _, d)| f(d).as_deref()).collect()
    };
    exec(
        c,
        "INSERT INTO user_contacts (user_id, first_name, last_name, email)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])",
        &[
            &ids,
            &detail(|d| &d.first_name),
            &detail(|d| &d.last_name),
            &detail(|d| &d.email),
        ],
        "importing contact details",
    )
    .await?;

    let (mut fields, mut keys, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (u, p, d) in users {
        for (f, k) in user_keys(&u.id, u.msisdn.as_deref(), p, d) {
            fields.push(user_field_code(f));
            keys.push(k);
            owners.push(u.id.as_str());
        }
    }
    exec(
        c,
        "INSERT INTO user_keys (field, key, user_id)
         SELECT * FROM unnest($1::integer[], $2::text[], $3::text[])
         ON CONFLICT DO NOTHING",
        &[&fields, &keys, &owners],
        "indexing imported users",
    )
    .await
    .map(|_| ())
}

#[async_trait]
impl DirectoryStore for PgStore {
    async fn profile(&self, user: &str) -> Result<Option<PublicProfile>, StoreError> {
        let c = self.conn().await?;
        read_profile(&c, user).await
    }

    async fn put_profile(&self, user: &str, p: PublicProfile) -> Result<bool, StoreError> {
        let what = format!("storing the profile of {user}");
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(&what, &e))?;
        // The friendly name is the user's own column; RETURNING tells both
        // that the user exists and its MSISDN key, and the UPDATE locks
        // the user's row until the commit.
        let Some(row) = query_opt(
            &tx,
            "UPDATE users SET friendly_name = $2 WHERE id = $1 RETURNING msisdn",
            &[&user, &p.friendly_name],
            &format!("setting the friendly name of {user}"),
        )
        .await?
        else {
            return Ok(false);
        };
        let msisdn: Option<String> = col(&row, 0)?;
        put_profile_row(&tx, user, &p).await?;
        let d = read_contacts(&tx, user).await?.unwrap_or_default();
        write_user_keys(&tx, user, &user_keys(user, msisdn.as_deref(), &p, &d)).await?;
        tx.commit().await.map_err(|e| backend(&what, &e))?;
        Ok(true)
    }

    async fn contact_details(&self, user: &str) -> Result<Option<ContactDetails>, StoreError> {
        let c = self.conn().await?;
        read_contacts(&c, user).await
    }

    async fn set_contact_details(&self, user: &str, d: ContactDetails) -> Result<bool, StoreError> {
        let what = format!("storing the contact details of {user}");
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(&what, &e))?;
        let Some(row) = query_opt(
            &tx,
            "SELECT msisdn FROM users WHERE id = $1 FOR UPDATE",
            &[&user],
            &format!("looking up user {user}"),
        )
        .await?
        else {
            return Ok(false);
        };
        let msisdn: Option<String> = col(&row, 0)?;
        put_contacts_row(&tx, user, &d).await?;
        let p = read_profile(&tx, user).await?.unwrap_or_default();
        write_user_keys(&tx, user, &user_keys(user, msisdn.as_deref(), &p, &d)).await?;
        tx.commit().await.map_err(|e| backend(&what, &e))?;
        Ok(true)
    }

    async fn search_users(
        &self,
        t: &Term<UserLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        // Refused or empty terms answer without a connection.
        let Some(q) = compile::users(t, cap)? else {
            return Ok(Vec::new());
        };
        let c = self.conn().await?;
        q.run(&c, "searching users").await
    }

    async fn search_groups(
        &self,
        t: &Term<GroupLeaf>,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        let Some(q) = compile::groups(t, cap)? else {
            return Ok(Vec::new());
        };
        let c = self.conn().await?;
        q.run(&c, "searching groups").await
    }
}
