//! SQLite tables of the groups area; see `imps_core::GroupStore` and
//! `sql/0005_groups.sql`. Writes are batched jobs on the writer thread
//! (one fsync for many); a join checks the user, the screen name and the
//! group's size and inserts in one job, so two joins never both win.

mod rows;

use async_trait::async_trait;
use imps_core::store::{Access, GroupPass, GroupRecord, InviteRecord, JoinOutcome, JoinedUser};
use imps_core::{GroupStore, StoreError};
use rusqlite::{Connection, OptionalExtension};

use self::rows::{
    INVITE_COLUMNS, JOINED_COLUMNS, changed, invite_from_row, joined_from_row, opt_int,
    pass_from_row, read_all, read_group, write_props,
};
use crate::SqliteStore;
use crate::directory::write_group_keys;
use crate::rows::{backend, is_uniqueness_violation, to_sql_int};

/// Rewrites the search keys of group `id` from what is stored (none when
/// it is gone or not listed).
pub(crate) fn reindex_group(c: &Connection, id: &str) -> Result<(), StoreError> {
    let g = read_group(c, id)?;
    write_group_keys(c, id, g.as_ref())
}

/// Rewrites `group_keys` from every stored group.
pub(crate) fn reindex_groups(c: &Connection) -> Result<(), StoreError> {
    let fail = |e| backend("reindexing the groups", e);
    c.execute_batch("DELETE FROM group_keys;").map_err(fail)?;
    let ids: Vec<String> = c
        .prepare("SELECT id FROM chat_groups")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(fail)?;
    for id in &ids {
        reindex_group(c, id)?;
    }
    tracing::info!(groups = ids.len(), "reindexed the groups' search keys");
    Ok(())
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, g: GroupRecord) -> Result<(), StoreError> {
        self.writer()
            .run_batched(move |c| {
                let created = to_sql_int(g.created_ms, "created_ms")?;
                let res = c
                    .prepare_cached("INSERT INTO chat_groups (id, owner, private, created_ms) VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute((&g.id, &g.owner, g.private, created)));
                match res {
                    Ok(_) => {}
                    Err(e) if is_uniqueness_violation(&e) => {
                        return Err(StoreError::Conflict(format!("group {} exists", g.id)));
                    }
                    Err(e) => return Err(backend(&format!("creating group {}", g.id), e)),
                }
                write_props(c, &g)?;
                changed(
                    c,
                    "INSERT INTO group_members (group_id, user_id, access) VALUES (?1, ?2, 'Admin')",
                    (&g.id, &g.owner),
                    "adding the group owner",
                )?;
                // In the same job: a listed group is found from its commit on.
                write_group_keys(c, &g.id, Some(&g))
            })
            .await
    }

    async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        let id = id.to_owned();
        self.read_lane().run(move |c| read_group(c, &id)).await
    }

    async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        self.read_lane()
            .run(|c| {
                let ids: Vec<String> = read_all(
                    c,
                    "SELECT id FROM chat_groups ORDER BY id",
                    [],
                    |r| r.get(0),
                    "listing groups",
                )?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.extend(read_group(c, &id)?);
                }
                Ok(out)
            })
            .await
    }

    async fn update_group(&self, g: GroupRecord) -> Result<bool, StoreError> {
        self.writer()
            .run_batched(move |c| {
                let exists = c
                    .prepare_cached("SELECT 1 FROM chat_groups WHERE id = ?1")
                    .and_then(|mut s| s.exists([&g.id]))
                    .map_err(|e| backend("looking up a group", e))?;
                if exists {
                    write_props(c, &g)?;
                    // Owner and privacy are the stored ones, not `g`'s:
                    // index what is stored.
                    reindex_group(c, &g.id)?;
                }
                Ok(exists)
            })
            .await
    }

    async fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.writer()
            .run_batched(move |c| {
                // The keys would also go by the foreign key's cascade;
                // said here so as not to depend on the pragma.
                write_group_keys(c, &id, None)?;
                changed(
                    c,
                    "DELETE FROM chat_groups WHERE id = ?1",
                    [&id],
                    "deleting a group",
                )
            })
            .await
    }

    async fn members(&self, group: &str) -> Result<Vec<(String, Access)>, StoreError> {
        let group = group.to_owned();
        self.read_lane()
            .run(move |c| {
                let rows: Vec<(String, String)> = read_all(
                    c,
                    "SELECT user_id, access FROM group_members WHERE group_id = ?1 ORDER BY user_id",
                    [&group],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                    "reading group members",
                )?;
                Ok(rows
                    .into_iter()
                    .map(|(u, a)| (u, Access::parse(&a).unwrap_or(Access::User)))
                    .collect())
            })
            .await
    }

    async fn set_member(
        &self,
        group: &str,
        user: &str,
        access: Option<Access>,
    ) -> Result<bool, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| match access {
                Some(a) => changed(
                    c,
                    "INSERT INTO group_members (group_id, user_id, access) VALUES (?1, ?2, ?3)
                     ON CONFLICT (group_id, user_id) DO UPDATE SET access = excluded.access",
                    (&group, &user, a.as_str()),
                    "setting a group member",
                ),
                None => changed(
                    c,
                    "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                    (&group, &user),
                    "removing a group member",
                ),
            })
            .await
    }

    async fn joined(&self, group: &str) -> Result<Vec<JoinedUser>, StoreError> {
        let group = group.to_owned();
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    &format!("SELECT {JOINED_COLUMNS} FROM group_joined WHERE group_id = ?1 ORDER BY joined_ms, rowid"),
                    [&group],
                    joined_from_row,
                    "reading joined users",
                )
            })
            .await
    }

    async fn join(&self, group: &str, j: JoinedUser, max: u64) -> Result<JoinOutcome, StoreError> {
        let group = group.to_owned();
        self.writer()
            .run_batched(move |c| {
                let old = c
                    .prepare_cached(&format!(
                        "SELECT {JOINED_COLUMNS} FROM group_joined WHERE group_id = ?1 AND user_id = ?2"
                    ))
                    .and_then(|mut s| s.query_row((&group, &j.user), joined_from_row).optional())
                    .map_err(|e| backend("looking up a joined user", e))?;
                if let Some(old) = old {
                    return Ok(JoinOutcome::AlreadyJoined(old));
                }
                let key = j.sname.to_lowercase();
                let taken = c
                    .prepare_cached("SELECT 1 FROM group_joined WHERE group_id = ?1 AND sname_key = ?2")
                    .and_then(|mut s| s.exists((&group, &key)))
                    .map_err(|e| backend("looking up a screen name", e))?;
                if taken {
                    return Ok(JoinOutcome::ScreenNameTaken);
                }
                let n: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM group_joined WHERE group_id = ?1")
                    .and_then(|mut s| s.query_row([&group], |r| r.get(0)))
                    .map_err(|e| backend("counting joined users", e))?;
                if u64::try_from(n).unwrap_or(u64::MAX) >= max {
                    return Ok(JoinOutcome::Full);
                }
                let joined_ms = to_sql_int(j.joined_ms, "joined_ms")?;
                c.prepare_cached(
                    "INSERT INTO group_joined (group_id, user_id, sname, sname_key, session_id, subscribed, show_id, joined_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut s| {
                    s.execute((&group, &j.user, &j.sname, &key, &j.session_id, j.subscribed, j.show_id, joined_ms))
                })
                .map_err(|e| backend("adding a joined user", e))?;
                Ok(JoinOutcome::Joined)
            })
            .await
    }

    async fn set_joined_flags(
        &self,
        group: &str,
        user: &str,
        subscribed: Option<bool>,
        show_id: Option<bool>,
    ) -> Result<bool, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| {
                changed(
                    c,
                    "UPDATE group_joined SET subscribed = COALESCE(?3, subscribed), show_id = COALESCE(?4, show_id)
                     WHERE group_id = ?1 AND user_id = ?2",
                    (&group, &user, subscribed, show_id),
                    "updating a joined user",
                )
            })
            .await
    }

    async fn leave(&self, group: &str, user: &str) -> Result<Option<JoinedUser>, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(&format!(
                    "DELETE FROM group_joined WHERE group_id = ?1 AND user_id = ?2 RETURNING {JOINED_COLUMNS}"
                ))
                .and_then(|mut s| s.query_row((&group, &user), joined_from_row).optional())
                .map_err(|e| backend("removing a joined user", e))
            })
            .await
    }

    async fn joined_by_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<(String, JoinedUser)>, StoreError> {
        let sid = session_id.to_owned();
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    &format!("SELECT {JOINED_COLUMNS}, group_id FROM group_joined WHERE session_id = ?1 ORDER BY group_id"),
                    [&sid],
                    |r| Ok((r.get(6)?, joined_from_row(r)?)),
                    "reading a session's groups",
                )
            })
            .await
    }

    async fn rejects(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let group = group.to_owned();
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    "SELECT user_id FROM group_rejects WHERE group_id = ?1 ORDER BY user_id",
                    [&group],
                    |r| r.get(0),
                    "reading a reject list",
                )
            })
            .await
    }

    async fn set_reject(
        &self,
        group: &str,
        user: &str,
        rejected: bool,
    ) -> Result<bool, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        let sql = if rejected {
            "INSERT INTO group_rejects (group_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_rejects WHERE group_id = ?1 AND user_id = ?2"
        };
        self.writer()
            .run_batched(move |c| changed(c, sql, (&group, &user), "changing a reject list"))
            .await
    }

    async fn put_pass(&self, group: &str, pass: GroupPass) -> Result<(), StoreError> {
        let group = group.to_owned();
        self.writer()
            .run_batched(move |c| {
                let until = opt_int(pass.until_ms, "until_ms")?;
                changed(
                    c,
                    "INSERT INTO group_passes (group_id, user_id, kind, until_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (group_id, user_id) DO UPDATE SET kind = excluded.kind, until_ms = excluded.until_ms",
                    (&group, &pass.user, pass.kind.as_str(), until),
                    "storing a group pass",
                )
                .map(|_| ())
            })
            .await
    }

    async fn pass(&self, group: &str, user: &str) -> Result<Option<GroupPass>, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.read_lane()
            .run(move |c| {
                c.prepare_cached("SELECT user_id, kind, until_ms FROM group_passes WHERE group_id = ?1 AND user_id = ?2")
                    .and_then(|mut s| s.query_row((&group, &user), pass_from_row).optional())
                    .map_err(|e| backend("reading a group pass", e))
            })
            .await
    }

    async fn remove_pass(&self, group: &str, user: &str) -> Result<bool, StoreError> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| {
                changed(
                    c,
                    "DELETE FROM group_passes WHERE group_id = ?1 AND user_id = ?2",
                    (&group, &user),
                    "removing a group pass",
                )
            })
            .await
    }

    async fn passes(&self, group: &str) -> Result<Vec<GroupPass>, StoreError> {
        let group = group.to_owned();
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    "SELECT user_id, kind, until_ms FROM group_passes WHERE group_id = ?1 ORDER BY user_id",
                    [&group],
                    pass_from_row,
                    "reading group passes",
                )
            })
            .await
    }

    async fn expired_passes(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(String, GroupPass)>, StoreError> {
        let now = to_sql_int(now_ms, "now_ms")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    "SELECT user_id, kind, until_ms, group_id FROM group_passes
                     WHERE until_ms IS NOT NULL AND until_ms <= ?1
                     ORDER BY until_ms, group_id, user_id LIMIT ?2",
                    (now, limit),
                    |row| Ok((row.get::<_, String>(3)?, pass_from_row(row)?)),
                    "reading expired group passes",
                )
            })
            .await
    }

    async fn count_groups(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        let owner = owner.map(str::to_owned);
        self.read_lane()
            .run(move |c| {
                let n: i64 = match &owner {
                    Some(o) => c
                        .prepare_cached("SELECT count(*) FROM chat_groups WHERE owner = ?1")
                        .and_then(|mut s| s.query_row([o], |r| r.get(0))),
                    None => c
                        .prepare_cached("SELECT count(*) FROM chat_groups")
                        .and_then(|mut s| s.query_row([], |r| r.get(0))),
                }
                .map_err(|e| backend("counting groups", e))?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn put_invite(&self, inv: InviteRecord) -> Result<(), StoreError> {
        self.writer()
            .run_batched(move |c| {
                let created = to_sql_int(inv.created_ms, "created_ms")?;
                let expires = opt_int(inv.expires_ms, "expires_ms")?;
                c.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO invites ({INVITE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        inv.invite_id,
                        inv.invitee,
                        inv.inviter,
                        inv.kind,
                        inv.group_id,
                        inv.note,
                        inv.sname,
                        inv.urls.join("\n"),
                        created,
                        expires,
                        inv.delivered,
                    ])
                })
                .map(|_| ())
                .map_err(|e| backend(&format!("storing invitation {}", inv.invite_id), e))
            })
            .await
    }

    async fn invite(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<InviteRecord>, StoreError> {
        let (id, invitee) = (invite_id.to_owned(), invitee.to_owned());
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {INVITE_COLUMNS} FROM invites WHERE invite_id = ?1 AND invitee = ?2"
                ))
                .and_then(|mut s| s.query_row((&id, &invitee), invite_from_row).optional())
                .map_err(|e| backend("reading an invitation", e))
            })
            .await
    }

    async fn invites_from(
        &self,
        inviter: &str,
        invite_id: &str,
    ) -> Result<Vec<InviteRecord>, StoreError> {
        let (inviter, id) = (inviter.to_owned(), invite_id.to_owned());
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE inviter = ?1 AND invite_id = ?2 ORDER BY invitee"),
                    (&inviter, &id),
                    invite_from_row,
                    "reading an invitation's invitees",
                )
            })
            .await
    }

    async fn pending_invites(&self, invitee: &str) -> Result<Vec<InviteRecord>, StoreError> {
        let invitee = invitee.to_owned();
        self.read_lane()
            .run(move |c| {
                read_all(
                    c,
                    &format!(
                        "SELECT {INVITE_COLUMNS} FROM invites WHERE invitee = ?1 AND delivered = 0
                         ORDER BY created_ms, invite_id"
                    ),
                    [&invitee],
                    invite_from_row,
                    "reading pending invitations",
                )
            })
            .await
    }

    async fn mark_invite_delivered(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<(), StoreError> {
        let (id, invitee) = (invite_id.to_owned(), invitee.to_owned());
        self.writer()
            .run_batched(move |c| {
                changed(
                    c,
                    "UPDATE invites SET delivered = 1 WHERE invite_id = ?1 AND invitee = ?2",
                    (&id, &invitee),
                    "marking an invitation delivered",
                )
                .map(|_| ())
            })
            .await
    }

    async fn delete_invite(&self, invite_id: &str, invitee: &str) -> Result<bool, StoreError> {
        let (id, invitee) = (invite_id.to_owned(), invitee.to_owned());
        self.writer()
            .run_batched(move |c| {
                changed(
                    c,
                    "DELETE FROM invites WHERE invite_id = ?1 AND invitee = ?2",
                    (&id, &invitee),
                    "deleting an invitation",
                )
            })
            .await
    }
}
