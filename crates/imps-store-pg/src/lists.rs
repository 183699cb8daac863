//! Contact lists, block and grant lists; see `imps_core::ListStore` and
//! `sql/0002_lists.sql`. Every change that touches several rows (a list
//! and its members, ADC-2's contact list plus grant list, the limits it is
//! checked against) runs in one transaction holding the owner's lists
//! lock, so two changes of one owner never both pass a limit that only
//! one of them fits.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use imps_core::store::{
    AccessChange, AccessCheck, AccessLists, ContactEntry, ContactListRecord, CreateListOutcome,
    DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, ListChange, ListChangeOutcome,
};
use imps_core::{ListStore, StoreError};
use tokio_postgres::IsolationLevel;

use crate::PgStore;
use crate::rows::{
    LockArea, Param, backend, col, col_u64, exec, lock, query, query_one, query_opt, to_i64,
};

async fn begin<'a>(
    c: &'a mut deadpool_postgres::Object,
    owner: &str,
) -> Result<Transaction<'a>, StoreError> {
    let tx = c
        .transaction()
        .await
        .map_err(|e| backend("starting a transaction", &e))?;
    lock(&tx, LockArea::Lists, owner).await?;
    Ok(tx)
}

async fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    tx.commit().await.map_err(|e| backend("committing", &e))
}

async fn count<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
) -> Result<usize, StoreError> {
    let r = query_one(c, sql, params, "counting").await?;
    let n: i64 = col(&r, 0)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

async fn list_exists<C: GenericClient>(c: &C, owner: &str, name: &str) -> Result<bool, StoreError> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM contact_lists WHERE owner = $1 AND name = $2",
        &[&owner, &name],
        "looking up a contact list",
    )
    .await?
    .is_some())
}

async fn members_count<C: GenericClient>(
    c: &C,
    owner: &str,
    name: &str,
) -> Result<usize, StoreError> {
    count(
        c,
        "SELECT COUNT(*) FROM contacts WHERE owner = $1 AND list_name = $2",
        &[&owner, &name],
    )
    .await
}

/// Inserts or renames one member; true when it was not a member before.
async fn upsert_member(
    tx: &Transaction<'_>,
    owner: &str,
    name: &str,
    e: &ContactEntry,
) -> Result<bool, StoreError> {
    let inserted = exec(
        tx,
        "INSERT INTO contacts (owner, list_name, user_id, nickname) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner, list_name, user_id) DO NOTHING",
        &[&owner, &name, &e.user_id, &e.nickname],
        "adding a contact",
    )
    .await?;
    if inserted == 0 && e.nickname.is_some() {
        exec(
            tx,
            "UPDATE contacts SET nickname = $4 WHERE owner = $1 AND list_name = $2 AND user_id = $3",
            &[&owner, &name, &e.user_id, &e.nickname],
            "renaming a contact",
        )
        .await?;
    }
    Ok(inserted > 0)
}

async fn access_entries<C: GenericClient>(
    c: &C,
    owner: &str,
    kind: &str,
) -> Result<Vec<String>, StoreError> {
    query(
        c,
        "SELECT user_id FROM access_entries WHERE owner = $1 AND kind = $2 ORDER BY seq",
        &[&owner, &kind],
        &format!("reading access list {kind} of {owner}"),
    )
    .await?
    .iter()
    .map(|r| col(r, 0))
    .collect()
}

/// Adds an entry to one access list; true when it is new.
async fn add_access(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    user: &str,
) -> Result<bool, StoreError> {
    exec(
        tx,
        "INSERT INTO access_entries (owner, kind, user_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&owner, &kind, &user],
        "adding an access entry",
    )
    .await
    .map(|n| n > 0)
}

async fn remove_access(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    user: &str,
) -> Result<(), StoreError> {
    exec(
        tx,
        "DELETE FROM access_entries WHERE owner = $1 AND kind = $2 AND user_id = $3",
        &[&owner, &kind, &user],
        "removing an access entry",
    )
    .await
    .map(|_| ())
}

async fn access_count(tx: &Transaction<'_>, owner: &str, kind: &str) -> Result<usize, StoreError> {
    count(
        tx,
        "SELECT COUNT(*) FROM access_entries WHERE owner = $1 AND kind = $2",
        &[&owner, &kind],
    )
    .await
}

/// The list may end up over `max` only when it shrank or kept its size
/// (the limit may have been lowered since it grew).
async fn access_over(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    before: usize,
    max: usize,
) -> Result<bool, StoreError> {
    let after = access_count(tx, owner, kind).await?;
    Ok(after > max && after > before)
}

/// (block_in_use, grant_in_use, notify_added), defaults when no row.
async fn prefs<C: GenericClient>(c: &C, owner: &str) -> Result<(bool, bool, bool), StoreError> {
    let row = query_opt(
        c,
        "SELECT block_in_use, grant_in_use, notify_added FROM list_prefs WHERE owner = $1",
        &[&owner],
        &format!("reading list preferences of {owner}"),
    )
    .await?;
    match row {
        Some(r) => Ok((col(&r, 0)?, col(&r, 1)?, col(&r, 2)?)),
        None => Ok((DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, true)),
    }
}

/// Sets the given preferences, keeping the others (or their defaults
/// for a user with no row yet), in one statement.
async fn put_prefs<C: GenericClient>(
    c: &C,
    owner: &str,
    block: Option<bool>,
    grant: Option<bool>,
    notify: Option<bool>,
) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO list_prefs (owner, block_in_use, grant_in_use, notify_added)
         VALUES ($1, COALESCE($2::boolean, $5::boolean), COALESCE($3::boolean, $6::boolean),
                 COALESCE($4::boolean, TRUE))
         ON CONFLICT (owner) DO UPDATE SET
           block_in_use = COALESCE($2, list_prefs.block_in_use),
           grant_in_use = COALESCE($3, list_prefs.grant_in_use),
           notify_added = COALESCE($4, list_prefs.notify_added)",
        &[
            &owner,
            &block,
            &grant,
            &notify,
            &DEFAULT_BLOCK_IN_USE,
            &DEFAULT_GRANT_IN_USE,
        ],
        &format!("storing list preferences of {owner}"),
    )
    .await
    .map(|_| ())
}

async fn apply_list_change(
    c: &mut deadpool_postgres::Object,
    ch: ListChange,
) -> Result<ListChangeOutcome, StoreError> {
    let tx = begin(c, &ch.owner).await?;
    if !list_exists(&tx, &ch.owner, &ch.name).await? {
        return Ok(ListChangeOutcome::NoSuchList);
    }
    let before = members_count(&tx, &ch.owner, &ch.name).await?;
    for u in &ch.remove {
        exec(
            &tx,
            "DELETE FROM contacts WHERE owner = $1 AND list_name = $2 AND user_id = $3",
            &[&ch.owner, &ch.name, u],
            "removing a contact",
        )
        .await?;
    }
    let mut newly_added = Vec::new();
    for e in &ch.add {
        if upsert_member(&tx, &ch.owner, &ch.name, e).await? {
            newly_added.push(e.user_id.clone());
        }
    }
    let after = members_count(&tx, &ch.owner, &ch.name).await?;
    if after > ch.max_contacts && after > before {
        return Ok(ListChangeOutcome::TooManyContacts); // dropping tx rolls back
    }
    let granted_before = access_count(&tx, &ch.owner, "G").await?;
    for u in &ch.ungrant {
        remove_access(&tx, &ch.owner, "G", u).await?;
    }
    let mut newly_granted = Vec::new();
    if ch.grant_added {
        for e in &ch.add {
            if add_access(&tx, &ch.owner, "G", &e.user_id).await? {
                newly_granted.push(e.user_id.clone());
            }
        }
    }
    if access_over(&tx, &ch.owner, "G", granted_before, ch.max_grants).await? {
        return Ok(ListChangeOutcome::TooManyContacts);
    }
    if let Some(d) = &ch.display_name {
        exec(
            &tx,
            "UPDATE contact_lists SET display_name = $3 WHERE owner = $1 AND name = $2",
            &[&ch.owner, &ch.name, d],
            "renaming a contact list",
        )
        .await?;
    }
    match ch.default {
        Some(true) => {
            exec(
                &tx,
                "UPDATE contact_lists SET is_default = (name = $2) WHERE owner = $1",
                &[&ch.owner, &ch.name],
                "setting the default list",
            )
            .await?;
        }
        Some(false) => {
            exec(
                &tx,
                "UPDATE contact_lists SET is_default = FALSE WHERE owner = $1 AND name = $2",
                &[&ch.owner, &ch.name],
                "clearing the default list",
            )
            .await?;
        }
        None => {}
    }
    commit(tx).await?;
    Ok(ListChangeOutcome::Applied {
        newly_added,
        newly_granted,
    })
}

async fn apply_access_change(
    c: &mut deadpool_postgres::Object,
    ch: AccessChange,
) -> Result<bool, StoreError> {
    let tx = begin(c, &ch.owner).await?;
    for (kind, add, remove) in [
        ("B", &ch.block_add, &ch.block_remove),
        ("G", &ch.grant_add, &ch.grant_remove),
    ] {
        let before = access_count(&tx, &ch.owner, kind).await?;
        for u in remove {
            remove_access(&tx, &ch.owner, kind, u).await?;
        }
        for u in add {
            add_access(&tx, &ch.owner, kind, u).await?;
        }
        if access_over(&tx, &ch.owner, kind, before, ch.max_entries).await? {
            return Ok(false);
        }
    }
    if ch.block_in_use.is_some() || ch.grant_in_use.is_some() {
        put_prefs(&tx, &ch.owner, ch.block_in_use, ch.grant_in_use, None).await?;
    }
    commit(tx).await?;
    Ok(true)
}

async fn create_list(
    c: &mut deadpool_postgres::Object,
    list: ContactListRecord,
    members: Vec<ContactEntry>,
    max_lists: usize,
    max_contacts: usize,
) -> Result<CreateListOutcome, StoreError> {
    let created_ms = to_i64(list.created_ms, "created_ms")?;
    let tx = begin(c, &list.owner).await?;
    if list_exists(&tx, &list.owner, &list.name).await? {
        return Ok(CreateListOutcome::Exists);
    }
    let lists = count(
        &tx,
        "SELECT COUNT(*) FROM contact_lists WHERE owner = $1",
        &[&list.owner],
    )
    .await?;
    if lists >= max_lists {
        return Ok(CreateListOutcome::TooManyLists);
    }
    if list.is_default {
        exec(
            &tx,
            "UPDATE contact_lists SET is_default = FALSE WHERE owner = $1",
            &[&list.owner],
            "clearing the default list",
        )
        .await?;
    }
    exec(
        &tx,
        "INSERT INTO contact_lists (owner, name, wire_id, display_name, is_default, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &list.owner,
            &list.name,
            &list.wire_id,
            &list.display_name,
            &list.is_default,
            &created_ms,
        ],
        &format!("creating contact list {}/{}", list.owner, list.name),
    )
    .await?;
    let mut n = 0usize;
    for m in &members {
        if upsert_member(&tx, &list.owner, &list.name, m).await? {
            n += 1;
        }
    }
    if n > max_contacts {
        return Ok(CreateListOutcome::TooManyContacts);
    }
    commit(tx).await?;
    Ok(CreateListOutcome::Created)
}

#[async_trait]
impl ListStore for PgStore {
    async fn contact_lists(&self, owner: &str) -> Result<Vec<ContactListRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            "SELECT owner, name, wire_id, display_name, is_default, created_ms
             FROM contact_lists WHERE owner = $1 ORDER BY seq",
            &[&owner],
            &format!("listing contact lists of {owner}"),
        )
        .await?
        .iter()
        .map(|r| {
            Ok(ContactListRecord {
                owner: col(r, 0)?,
                name: col(r, 1)?,
                wire_id: col(r, 2)?,
                display_name: col(r, 3)?,
                is_default: col(r, 4)?,
                created_ms: col_u64(r, 5)?,
            })
        })
        .collect()
    }

    async fn create_contact_list(
        &self,
        list: ContactListRecord,
        members: Vec<ContactEntry>,
        max_lists: usize,
        max_contacts: usize,
    ) -> Result<CreateListOutcome, StoreError> {
        let mut c = self.conn().await?;
        create_list(&mut c, list, members, max_lists, max_contacts).await
    }

    async fn delete_contact_list(&self, owner: &str, name: &str) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        let tx = begin(&mut c, owner).await?;
        exec(
            &tx,
            "DELETE FROM contacts WHERE owner = $1 AND list_name = $2",
            &[&owner, &name],
            "deleting contacts",
        )
        .await?;
        let n = exec(
            &tx,
            "DELETE FROM contact_lists WHERE owner = $1 AND name = $2",
            &[&owner, &name],
            "deleting a contact list",
        )
        .await?;
        commit(tx).await?;
        Ok(n > 0)
    }

    async fn contacts(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<Vec<ContactEntry>>, StoreError> {
        let c = self.conn().await?;
        // One statement, so one snapshot: a list deleted meanwhile cannot
        // read as an empty existing list. No row: no list; one row with
        // a NULL member: an empty list.
        let rows = query(
            &c,
            "SELECT m.user_id, m.nickname FROM contact_lists l
               LEFT JOIN contacts m ON m.owner = l.owner AND m.list_name = l.name
             WHERE l.owner = $1 AND l.name = $2 ORDER BY m.seq",
            &[&owner, &name],
            &format!("reading contacts of {owner}/{name}"),
        )
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(user_id) = col::<Option<String>>(r, 0)? {
                out.push(ContactEntry {
                    user_id,
                    nickname: col(r, 1)?,
                });
            }
        }
        Ok(Some(out))
    }

    async fn is_contact(&self, owner: &str, user: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        Ok(query_opt(
            &c,
            "SELECT 1 FROM contacts WHERE owner = $1 AND user_id = $2 LIMIT 1",
            &[&owner, &user],
            "looking up a contact",
        )
        .await?
        .is_some())
    }

    async fn change_contact_list(
        &self,
        change: ListChange,
    ) -> Result<ListChangeOutcome, StoreError> {
        let mut c = self.conn().await?;
        apply_list_change(&mut c, change).await
    }

    async fn access_lists(&self, owner: &str) -> Result<AccessLists, StoreError> {
        let mut c = self.conn().await?;
        // Three reads of one snapshot.
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| backend("starting a read", &e))?;
        let (block_in_use, grant_in_use, _) = prefs(&tx, owner).await?;
        let blocked = access_entries(&tx, owner, "B").await?;
        let granted = access_entries(&tx, owner, "G").await?;
        commit(tx).await?;
        Ok(AccessLists {
            block_in_use,
            grant_in_use,
            blocked,
            granted,
        })
    }

    async fn access_check(&self, owner: &str, other: &str) -> Result<AccessCheck, StoreError> {
        let c = self.conn().await?;
        // One statement, so one consistent read: IM asks this for every
        // message.
        let r = query_one(
            &c,
            "SELECT (SELECT block_in_use FROM list_prefs WHERE owner = $1),
                    (SELECT grant_in_use FROM list_prefs WHERE owner = $1),
                    EXISTS (SELECT 1 FROM access_entries
                            WHERE owner = $1 AND kind = 'B' AND user_id = $2),
                    EXISTS (SELECT 1 FROM access_entries
                            WHERE owner = $1 AND kind = 'G' AND user_id = $2),
                    NOT EXISTS (SELECT 1 FROM access_entries
                                WHERE owner = $1 AND kind = 'B')",
            &[&owner, &other],
            "checking the access lists",
        )
        .await?;
        Ok(AccessCheck {
            block_in_use: col::<Option<bool>>(&r, 0)?.unwrap_or(DEFAULT_BLOCK_IN_USE),
            grant_in_use: col::<Option<bool>>(&r, 1)?.unwrap_or(DEFAULT_GRANT_IN_USE),
            blocked: col(&r, 2)?,
            granted: col(&r, 3)?,
            block_list_empty: col(&r, 4)?,
        })
    }

    async fn change_access(&self, change: AccessChange) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        apply_access_change(&mut c, change).await
    }

    async fn added_notify(&self, user: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        Ok(prefs(&c, user).await?.2)
    }

    async fn set_added_notify(&self, user: &str, notify: bool) -> Result<(), StoreError> {
        let c = self.conn().await?;
        put_prefs(&c, user, None, None, Some(notify)).await
    }
}
