//! SQLite tables of the lists area; see `imps_core::ListStore` and
//! `sql/0002_lists.sql`. Every change that touches several rows (a list
//! and its members, ADC-2's contact list plus grant list, the limits it is
//! checked against) runs in one transaction on the writer thread.

use async_trait::async_trait;
use imps_core::store::{
    AccessChange, AccessCheck, AccessLists, ContactEntry, ContactListRecord, CreateListOutcome,
    DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, ListChange, ListChangeOutcome,
};
use imps_core::{ListStore, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use crate::SqliteStore;
use crate::rows::{backend, to_sql_int};

fn list_from_row(row: &Row<'_>) -> rusqlite::Result<ContactListRecord> {
    let created: i64 = row.get(5)?;
    Ok(ContactListRecord {
        owner: row.get(0)?,
        name: row.get(1)?,
        wire_id: row.get(2)?,
        display_name: row.get(3)?,
        is_default: row.get(4)?,
        created_ms: u64::try_from(created)
            .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(5, created))?,
    })
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<ContactEntry> {
    Ok(ContactEntry {
        user_id: row.get(0)?,
        nickname: row.get(1)?,
    })
}

fn list_exists(c: &Connection, owner: &str, name: &str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM contact_lists WHERE owner = ?1 AND name = ?2")
        .and_then(|mut s| s.exists((owner, name)))
        .map_err(|e| backend("looking up a contact list", e))
}

fn count(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<usize, StoreError> {
    let n: i64 = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row(args, |r| r.get(0)))
        .map_err(|e| backend("counting", e))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

fn members(c: &Connection, owner: &str, name: &str) -> Result<Vec<ContactEntry>, StoreError> {
    c.prepare_cached(
        "SELECT user_id, nickname FROM contacts WHERE owner = ?1 AND list_name = ?2 ORDER BY rowid",
    )
    .and_then(|mut s| s.query_map((owner, name), entry_from_row)?.collect())
    .map_err(|e| backend(&format!("reading contacts of {owner}/{name}"), e))
}

/// Inserts or renames one member; true when it was not a member before.
fn upsert_member(
    tx: &Transaction<'_>,
    owner: &str,
    name: &str,
    e: &ContactEntry,
) -> Result<bool, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO contacts (owner, list_name, user_id, nickname) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (owner, list_name, user_id) DO NOTHING",
        )
        .and_then(|mut s| s.execute((owner, name, &e.user_id, &e.nickname)))
        .map_err(|err| backend("adding a contact", err))?;
    if inserted == 0 && e.nickname.is_some() {
        tx.prepare_cached(
            "UPDATE contacts SET nickname = ?4 WHERE owner = ?1 AND list_name = ?2 AND user_id = ?3",
        )
        .and_then(|mut s| s.execute((owner, name, &e.user_id, &e.nickname)))
        .map_err(|err| backend("renaming a contact", err))?;
    }
    Ok(inserted > 0)
}

fn access_entries(c: &Connection, owner: &str, kind: &str) -> Result<Vec<String>, StoreError> {
    c.prepare_cached(
        "SELECT user_id FROM access_entries WHERE owner = ?1 AND kind = ?2 ORDER BY rowid",
    )
    .and_then(|mut s| s.query_map((owner, kind), |r| r.get(0))?.collect())
    .map_err(|e| backend(&format!("reading access list {kind} of {owner}"), e))
}

/// Adds and removes entries of one access list; true when it is new.
fn add_access(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    user: &str,
) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "INSERT INTO access_entries (owner, kind, user_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| s.execute((owner, kind, user)))
    .map(|n| n > 0)
    .map_err(|e| backend("adding an access entry", e))
}

fn remove_access(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    user: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM access_entries WHERE owner = ?1 AND kind = ?2 AND user_id = ?3")
        .and_then(|mut s| s.execute((owner, kind, user)))
        .map(|_| ())
        .map_err(|e| backend("removing an access entry", e))
}

/// The list is allowed to end up over `max` only when it shrank or kept
/// its size (the limit may have been lowered since it grew).
fn access_over(
    tx: &Transaction<'_>,
    owner: &str,
    kind: &str,
    before: usize,
    max: usize,
) -> Result<bool, StoreError> {
    let after = count(
        tx,
        "SELECT COUNT(*) FROM access_entries WHERE owner = ?1 AND kind = ?2",
        (owner, kind),
    )?;
    Ok(after > max && after > before)
}

/// (block_in_use, grant_in_use, notify_added), defaults when no row.
fn prefs(c: &Connection, owner: &str) -> Result<(bool, bool, bool), StoreError> {
    Ok(c.prepare_cached(
        "SELECT block_in_use, grant_in_use, notify_added FROM list_prefs WHERE owner = ?1",
    )
    .and_then(|mut s| {
        s.query_row([owner], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
    })
    .map_err(|e| backend(&format!("reading list preferences of {owner}"), e))?
    .unwrap_or((DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, true)))
}

fn put_prefs(tx: &Transaction<'_>, owner: &str, p: (bool, bool, bool)) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO list_prefs (owner, block_in_use, grant_in_use, notify_added) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (owner) DO UPDATE SET block_in_use = excluded.block_in_use,
           grant_in_use = excluded.grant_in_use, notify_added = excluded.notify_added",
    )
    .and_then(|mut s| s.execute((owner, p.0, p.1, p.2)))
    .map(|_| ())
    .map_err(|e| backend(&format!("storing list preferences of {owner}"), e))
}

fn begin(c: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    c.transaction()
        .map_err(|e| backend("starting a transaction", e))
}

fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    tx.commit().map_err(|e| backend("committing", e))
}

fn apply_list_change(c: &mut Connection, ch: ListChange) -> Result<ListChangeOutcome, StoreError> {
    let tx = begin(c)?;
    if !list_exists(&tx, &ch.owner, &ch.name)? {
        return Ok(ListChangeOutcome::NoSuchList);
    }
    let before = count(
        &tx,
        "SELECT COUNT(*) FROM contacts WHERE owner = ?1 AND list_name = ?2",
        (&ch.owner, &ch.name),
    )?;
    for u in &ch.remove {
        tx.prepare_cached(
            "DELETE FROM contacts WHERE owner = ?1 AND list_name = ?2 AND user_id = ?3",
        )
        .and_then(|mut s| s.execute((&ch.owner, &ch.name, u)))
        .map_err(|e| backend("removing a contact", e))?;
    }
    let mut newly_added = Vec::new();
    for e in &ch.add {
        if upsert_member(&tx, &ch.owner, &ch.name, e)? {
            newly_added.push(e.user_id.clone());
        }
    }
    let after = count(
        &tx,
        "SELECT COUNT(*) FROM contacts WHERE owner = ?1 AND list_name = ?2",
        (&ch.owner, &ch.name),
    )?;
    if after > ch.max_contacts && after > before {
        return Ok(ListChangeOutcome::TooManyContacts); // dropping tx rolls back
    }
    let granted_before = count(
        &tx,
        "SELECT COUNT(*) FROM access_entries WHERE owner = ?1 AND kind = 'G'",
        [&ch.owner],
    )?;
    for u in &ch.ungrant {
        remove_access(&tx, &ch.owner, "G", u)?;
    }
    let mut newly_granted = Vec::new();
    if ch.grant_added {
        for e in &ch.add {
            if add_access(&tx, &ch.owner, "G", &e.user_id)? {
                newly_granted.push(e.user_id.clone());
            }
        }
    }
    if access_over(&tx, &ch.owner, "G", granted_before, ch.max_grants)? {
        return Ok(ListChangeOutcome::TooManyContacts);
    }
    if let Some(d) = &ch.display_name {
        tx.prepare_cached(
            "UPDATE contact_lists SET display_name = ?3 WHERE owner = ?1 AND name = ?2",
        )
        .and_then(|mut s| s.execute((&ch.owner, &ch.name, d)))
        .map_err(|e| backend("renaming a contact list", e))?;
    }
    match ch.default {
        Some(true) => {
            tx.prepare_cached("UPDATE contact_lists SET is_default = (name = ?2) WHERE owner = ?1")
                .and_then(|mut s| s.execute((&ch.owner, &ch.name)))
                .map_err(|e| backend("setting the default list", e))?;
        }
        Some(false) => {
            tx.prepare_cached(
                "UPDATE contact_lists SET is_default = 0 WHERE owner = ?1 AND name = ?2",
            )
            .and_then(|mut s| s.execute((&ch.owner, &ch.name)))
            .map_err(|e| backend("clearing the default list", e))?;
        }
        None => {}
    }
    commit(tx)?;
    Ok(ListChangeOutcome::Applied {
        newly_added,
        newly_granted,
    })
}

fn apply_access_change(c: &mut Connection, ch: AccessChange) -> Result<bool, StoreError> {
    let tx = begin(c)?;
    for (kind, add, remove) in [
        ("B", &ch.block_add, &ch.block_remove),
        ("G", &ch.grant_add, &ch.grant_remove),
    ] {
        let before = count(
            &tx,
            "SELECT COUNT(*) FROM access_entries WHERE owner = ?1 AND kind = ?2",
            (&ch.owner, kind),
        )?;
        for u in remove {
            remove_access(&tx, &ch.owner, kind, u)?;
        }
        for u in add {
            add_access(&tx, &ch.owner, kind, u)?;
        }
        if access_over(&tx, &ch.owner, kind, before, ch.max_entries)? {
            return Ok(false);
        }
    }
    if ch.block_in_use.is_some() || ch.grant_in_use.is_some() {
        let (b, g, n) = prefs(&tx, &ch.owner)?;
        put_prefs(
            &tx,
            &ch.owner,
            (
                ch.block_in_use.unwrap_or(b),
                ch.grant_in_use.unwrap_or(g),
                n,
            ),
        )?;
    }
    commit(tx)?;
    Ok(true)
}

fn create_list(
    c: &mut Connection,
    list: ContactListRecord,
    members: Vec<ContactEntry>,
    max_lists: usize,
    max_contacts: usize,
) -> Result<CreateListOutcome, StoreError> {
    let created_ms = to_sql_int(list.created_ms, "created_ms")?;
    let tx = begin(c)?;
    if list_exists(&tx, &list.owner, &list.name)? {
        return Ok(CreateListOutcome::Exists);
    }
    let lists = count(
        &tx,
        "SELECT COUNT(*) FROM contact_lists WHERE owner = ?1",
        [&list.owner],
    )?;
    if lists >= max_lists {
        return Ok(CreateListOutcome::TooManyLists);
    }
    if list.is_default {
        tx.prepare_cached("UPDATE contact_lists SET is_default = 0 WHERE owner = ?1")
            .and_then(|mut s| s.execute([&list.owner]))
            .map_err(|e| backend("clearing the default list", e))?;
    }
    tx.prepare_cached(
        "INSERT INTO contact_lists (owner, name, wire_id, display_name, is_default, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            &list.owner,
            &list.name,
            &list.wire_id,
            &list.display_name,
            list.is_default,
            created_ms,
        ))
    })
    .map_err(|e| {
        backend(
            &format!("creating contact list {}/{}", list.owner, list.name),
            e,
        )
    })?;
    let mut n = 0usize;
    for m in &members {
        if upsert_member(&tx, &list.owner, &list.name, m)? {
            n += 1;
        }
    }
    if n > max_contacts {
        return Ok(CreateListOutcome::TooManyContacts);
    }
    commit(tx)?;
    Ok(CreateListOutcome::Created)
}

#[async_trait]
impl ListStore for SqliteStore {
    async fn contact_lists(&self, owner: &str) -> Result<Vec<ContactListRecord>, StoreError> {
        let owner = owner.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(
                    "SELECT owner, name, wire_id, display_name, is_default, created_ms
                     FROM contact_lists WHERE owner = ?1 ORDER BY rowid",
                )
                .and_then(|mut s| s.query_map([&owner], list_from_row)?.collect())
                .map_err(|e| backend(&format!("listing contact lists of {owner}"), e))
            })
            .await
    }

    async fn create_contact_list(
        &self,
        list: ContactListRecord,
        members: Vec<ContactEntry>,
        max_lists: usize,
        max_contacts: usize,
    ) -> Result<CreateListOutcome, StoreError> {
        self.writer()
            .run(move |c| create_list(c, list, members, max_lists, max_contacts))
            .await
    }

    async fn delete_contact_list(&self, owner: &str, name: &str) -> Result<bool, StoreError> {
        let (owner, name) = (owner.to_owned(), name.to_owned());
        self.writer()
            .run(move |c| {
                let tx = begin(c)?;
                tx.prepare_cached("DELETE FROM contacts WHERE owner = ?1 AND list_name = ?2")
                    .and_then(|mut s| s.execute((&owner, &name)))
                    .map_err(|e| backend("deleting contacts", e))?;
                let n = tx
                    .prepare_cached("DELETE FROM contact_lists WHERE owner = ?1 AND name = ?2")
                    .and_then(|mut s| s.execute((&owner, &name)))
                    .map_err(|e| backend("deleting a contact list", e))?;
                commit(tx)?;
                Ok(n > 0)
            })
            .await
    }

    async fn contacts(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<Vec<ContactEntry>>, StoreError> {
        let (owner, name) = (owner.to_owned(), name.to_owned());
        self.read_lane()
            .run(move |c| {
                // One read transaction, so a list deleted between the two
                // queries cannot read as an empty existing list.
                let tx = begin(c)?;
                if !list_exists(&tx, &owner, &name)? {
                    return Ok(None);
                }
                let m = members(&tx, &owner, &name)?;
                drop(tx);
                Ok(Some(m))
            })
            .await
    }

    async fn is_contact(&self, owner: &str, user: &str) -> Result<bool, StoreError> {
        let (owner, user) = (owner.to_owned(), user.to_owned());
        self.read_lane()
            .run(move |c| {
                c.prepare_cached("SELECT 1 FROM contacts WHERE owner = ?1 AND user_id = ?2")
                    .and_then(|mut s| s.exists((&owner, &user)))
                    .map_err(|e| backend("looking up a contact", e))
            })
            .await
    }

    async fn change_contact_list(
        &self,
        change: ListChange,
    ) -> Result<ListChangeOutcome, StoreError> {
        self.writer()
            .run(move |c| apply_list_change(c, change))
            .await
    }

    async fn access_lists(&self, owner: &str) -> Result<AccessLists, StoreError> {
        let owner = owner.to_owned();
        self.read_lane()
            .run(move |c| {
                let tx = begin(c)?;
                let (block_in_use, grant_in_use, _) = prefs(&tx, &owner)?;
                let blocked = access_entries(&tx, &owner, "B")?;
                let granted = access_entries(&tx, &owner, "G")?;
                drop(tx);
                Ok(AccessLists {
                    block_in_use,
                    grant_in_use,
                    blocked,
                    granted,
                })
            })
            .await
    }

    async fn access_check(&self, owner: &str, other: &str) -> Result<AccessCheck, StoreError> {
        let (owner, other) = (owner.to_owned(), other.to_owned());
        self.read_lane()
            .run(move |c| {
                // One statement, so one consistent read without a
                // transaction of its own: IM asks this for every message.
                c.prepare_cached(
                    "SELECT (SELECT block_in_use FROM list_prefs WHERE owner = ?1),
                            (SELECT grant_in_use FROM list_prefs WHERE owner = ?1),
                            EXISTS (SELECT 1 FROM access_entries
                                    WHERE owner = ?1 AND kind = 'B' AND user_id = ?2),
                            EXISTS (SELECT 1 FROM access_entries
                                    WHERE owner = ?1 AND kind = 'G' AND user_id = ?2),
                            NOT EXISTS (SELECT 1 FROM access_entries
                                        WHERE owner = ?1 AND kind = 'B')",
                )
                .and_then(|mut s| {
                    s.query_row((&owner, &other), |r| {
                        Ok(AccessCheck {
                            block_in_use: r
                                .get::<_, Option<bool>>(0)?
                                .unwrap_or(DEFAULT_BLOCK_IN_USE),
                            grant_in_use: r
                                .get::<_, Option<bool>>(1)?
                                .unwrap_or(DEFAULT_GRANT_IN_USE),
                            blocked: r.get(2)?,
                            granted: r.get(3)?,
                            block_list_empty: r.get(4)?,
                        })
                    })
                })
                .map_err(|e| backend("checking the access lists", e))
            })
            .await
    }

    async fn change_access(&self, change: AccessChange) -> Result<bool, StoreError> {
        self.writer()
            .run(move |c| apply_access_change(c, change))
            .await
    }

    async fn added_notify(&self, user: &str) -> Result<bool, StoreError> {
        let user = user.to_owned();
        self.read_lane().run(move |c| Ok(prefs(c, &user)?.2)).await
    }

    async fn set_added_notify(&self, user: &str, notify: bool) -> Result<(), StoreError> {
        let user = user.to_owned();
        self.writer()
            .run(move |c| {
                let tx = begin(c)?;
                let (b, g, _) = prefs(&tx, &user)?;
                put_prefs(&tx, &user, (b, g, notify))?;
                commit(tx)
            })
            .await
    }
}
