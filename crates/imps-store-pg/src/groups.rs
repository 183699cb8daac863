//! Groups, members, joined users, rejects, passes and invitations; see
//! `imps_core::GroupStore` and `sql/0005_groups.sql`. A group and what is
//! written with it (properties, the owner's membership, search keys) is
//! one transaction; a join takes the group's lock, then checks the user,
//! the screen name and the group's size and inserts, so two joins never
//! both win the last place or one screen name.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use imps_core::store::{
    Access, GroupPass, GroupRecord, InviteRecord, JoinOutcome, JoinedUser, PassKind, WelcomeNote,
};
use imps_core::{GroupStore, StoreError};
use tokio_postgres::Row;

use crate::PgStore;
use crate::directory::write_group_keys;
use crate::rows::{
    LockArea, backend, col, col_opt_u64, col_u64, exec, exec_raw, is_unique_violation, limit, lock,
    opt_to_i64, query, query_one, query_opt, to_i64,
};

const JOINED_COLUMNS: &str = "user_id, sname, session_id, subscribed, show_id, joined_ms";

fn joined_from_row(r: &Row) -> Result<JoinedUser, StoreError> {
    Ok(JoinedUser {
        user: col(r, 0)?,
        sname: col(r, 1)?,
        session_id: col(r, 2)?,
        subscribed: col(r, 3)?,
        show_id: col(r, 4)?,
        joined_ms: col_u64(r, 5)?,
    })
}

const INVITE_COLUMNS: &str = "invite_id, invitee, inviter, kind, group_id, note, sname, urls, \
     created_ms, expires_ms, delivered";

fn invite_from_row(r: &Row) -> Result<InviteRecord, StoreError> {
    let urls: String = col(r, 7)?;
    Ok(InviteRecord {
        invite_id: col(r, 0)?,
        invitee: col(r, 1)?,
        inviter: col(r, 2)?,
        kind: col(r, 3)?,
        group_id: col(r, 4)?,
        note: col(r, 5)?,
        sname: col(r, 6)?,
        urls: urls
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        created_ms: col_u64(r, 8)?,
        expires_ms: col_opt_u64(r, 9)?,
        delivered: col(r, 10)?,
    })
}

fn pass_from_row(r: &Row) -> Result<GroupPass, StoreError> {
    let kind: String = col(r, 1)?;
    Ok(GroupPass {
        user: col(r, 0)?,
        kind: PassKind::parse(&kind).unwrap_or(PassKind::Invited),
        until_ms: col_opt_u64(r, 2)?,
    })
}

const GROUP_COLUMNS: &str =
    "id, owner, private, welcome_type, welcome_encoding, welcome_data, created_ms";

fn group_from_row(r: &Row) -> Result<GroupRecord, StoreError> {
    let wtype: Option<String> = col(r, 3)?;
    let data: Option<String> = col(r, 5)?;
    let welcome = match (wtype, data) {
        (Some(t), Some(d)) => Some(WelcomeNote {
            content_type: t,
            encoding: col(r, 4)?,
            data: d,
        }),
        _ => None,
    };
    Ok(GroupRecord {
        id: col(r, 0)?,
        owner: col(r, 1)?,
        private: col(r, 2)?,
        props: Vec::new(),
        welcome,
        created_ms: col_u64(r, 6)?,
    })
}

/// A group with its properties (by name), read in one statement.
pub(crate) async fn read_group<C: GenericClient>(
    c: &C,
    id: &str,
) -> Result<Option<GroupRecord>, StoreError> {
    let rows = query(
        c,
        &format!(
            "SELECT {GROUP_COLUMNS}, p.name, p.value FROM chat_groups g
               LEFT JOIN group_props p ON p.group_id = g.id
             WHERE g.id = $1 ORDER BY p.name"
        ),
        &[&id],
        &format!("reading group {id}"),
    )
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut g = group_from_row(first)?;
    for r in &rows {
        if let Some(name) = col::<Option<String>>(r, 7)? {
            g.props.push((name, col(r, 8)?));
        }
    }
    Ok(Some(g))
}

/// Writes the properties and welcome note of an existing group.
async fn write_props<C: GenericClient>(c: &C, g: &GroupRecord) -> Result<(), StoreError> {
    let w = g.welcome.as_ref();
    exec(
        c,
        "UPDATE chat_groups SET welcome_type = $2, welcome_encoding = $3, welcome_data = $4
         WHERE id = $1",
        &[
            &g.id,
            &w.map(|w| w.content_type.as_str()),
            &w.and_then(|w| w.encoding.as_deref()),
            &w.map(|w| w.data.as_str()),
        ],
        &format!("writing the welcome note of {}", g.id),
    )
    .await?;
    exec(
        c,
        "DELETE FROM group_props WHERE group_id = $1",
        &[&g.id],
        &format!("clearing the properties of {}", g.id),
    )
    .await?;
    for (n, v) in &g.props {
        exec(
            c,
            "INSERT INTO group_props (group_id, name, value) VALUES ($1, $2, $3)",
            &[&g.id, n, v],
            &format!("writing property {n} of {}", g.id),
        )
        .await?;
    }
    Ok(())
}

/// Runs one statement; whether it changed a row.
async fn changed<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[crate::rows::Param<'_>],
    what: &str,
) -> Result<bool, StoreError> {
    Ok(exec(c, sql, params, what).await? > 0)
}

#[async_trait]
impl GroupStore for PgStore {
    async fn create_group(&self, g: GroupRecord) -> Result<(), StoreError> {
        let created = to_i64(g.created_ms, "created_ms")?;
        let mut c = self.conn().await?;
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting create_group", &e))?;
        let res = exec_raw(
            &tx,
            "INSERT INTO chat_groups (id, owner, private, created_ms) VALUES ($1, $2, $3, $4)",
            &[&g.id, &g.owner, &g.private, &created],
            "creating a group",
        )
        .await?;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("group {} exists", g.id)));
            }
            Err(e) => return Err(backend(&format!("creating group {}", g.id), &e)),
        }
        write_props(&tx, &g).await?;
        exec(
            &tx,
            "INSERT INTO group_members (group_id, user_id, access) VALUES ($1, $2, 'Admin')",
            &[&g.id, &g.owner],
            "adding the group owner",
        )
        .await?;
        // In the same transaction: a listed group is found from its
        // commit on.
        write_group_keys(&tx, &g.id, Some(&g)).await?;
        tx.commit()
            .await
            .map_err(|e| backend(&format!("committing group {}", g.id), &e))
    }

    async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        let c = self.conn().await?;
        read_group(&c, id).await
    }

    async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let c = self.conn().await?;
        // One statement: every group with its properties, by ID then name.
        let rows = query(
            &c,
            &format!(
                "SELECT {GROUP_COLUMNS}, p.name, p.value FROM chat_groups g
                   LEFT JOIN group_props p ON p.group_id = g.id
                 ORDER BY g.id, p.name"
            ),
            &[],
            "listing groups",
        )
        .await?;
        let mut out: Vec<GroupRecord> = Vec::new();
        for r in &rows {
            let id: String = col(r, 0)?;
            if out.last().is_none_or(|g| g.id != id) {
                out.push(group_from_row(r)?);
            }
            if let (Some(g), Some(name)) = (out.last_mut(), col::<Option<String>>(r, 7)?) {
                g.props.push((name, col(r, 8)?));
            }
        }
        Ok(out)
    }

    async fn update_group(&self, g: GroupRecord) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting update_group", &e))?;
        // Locks the row: two updates of one group index what they wrote.
        let exists = query_opt(
            &tx,
            "SELECT 1 FROM chat_groups WHERE id = $1 FOR UPDATE",
            &[&g.id],
            "looking up a group",
        )
        .await?
        .is_some();
        if !exists {
            return Ok(false);
        }
        write_props(&tx, &g).await?;
        // Owner and privacy are the stored ones, not `g`'s: index what is
        // stored.
        let stored = read_group(&tx, &g.id).await?;
        write_group_keys(&tx, &g.id, stored.as_ref()).await?;
        tx.commit()
            .await
            .map_err(|e| backend(&format!("committing group {}", g.id), &e))?;
        Ok(true)
    }

    async fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        // Everything about the group, its search keys included, goes by
        // the foreign keys' cascade, in this one statement.
        changed(
            &c,
            "DELETE FROM chat_groups WHERE id = $1",
            &[&id],
            "deleting a group",
        )
        .await
    }

    async fn members(&self, group: &str) -> Result<Vec<(String, Access)>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            "SELECT user_id, access FROM group_members WHERE group_id = $1 ORDER BY user_id",
            &[&group],
            "reading group members",
        )
        .await?
        .iter()
        .map(|r| {
            let a: String = col(r, 1)?;
            Ok((col(r, 0)?, Access::parse(&a).unwrap_or(Access::User)))
        })
        .collect()
    }

    async fn set_member(
        &self,
        group: &str,
        user: &str,
        access: Option<Access>,
    ) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        match access {
            Some(a) => {
                changed(
                    &c,
                    "INSERT INTO group_members (group_id, user_id, access) VALUES ($1, $2, $3)
                     ON CONFLICT (group_id, user_id) DO UPDATE SET access = excluded.access",
                    &[&group, &user, &a.as_str()],
                    "setting a group member",
                )
                .await
            }
            None => {
                changed(
                    &c,
                    "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
                    &[&group, &user],
                    "removing a group member",
                )
                .await
            }
        }
    }

    async fn joined(&self, group: &str) -> Result<Vec<JoinedUser>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {JOINED_COLUMNS} FROM group_joined WHERE group_id = $1
                 ORDER BY joined_ms, seq"
            ),
            &[&group],
            "reading joined users",
        )
        .await?
        .iter()
        .map(joined_from_row)
        .collect()
    }

    async fn join(&self, group: &str, j: JoinedUser, max: u64) -> Result<JoinOutcome, StoreError> {
        let joined_ms = to_i64(j.joined_ms, "joined_ms")?;
        let mut c = self.conn().await?;
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting a join", &e))?;
        lock(&tx, LockArea::Group, group).await?;
        let old = query_opt(
            &tx,
            &format!(
                "SELECT {JOINED_COLUMNS} FROM group_joined WHERE group_id = $1 AND user_id = $2"
            ),
            &[&group, &j.user],
            "looking up a joined user",
        )
        .await?;
        if let Some(old) = old {
            return Ok(JoinOutcome::AlreadyJoined(joined_from_row(&old)?));
        }
        let key = j.sname.to_lowercase();
        let taken = query_opt(
            &tx,
            "SELECT 1 FROM group_joined WHERE group_id = $1 AND sname_key = $2",
            &[&group, &key],
            "looking up a screen name",
        )
        .await?
        .is_some();
        if taken {
            return Ok(JoinOutcome::ScreenNameTaken);
        }
        let n = query_one(
            &tx,
            "SELECT COUNT(*) FROM group_joined WHERE group_id = $1",
            &[&group],
            "counting joined users",
        )
        .await?;
        if col_u64(&n, 0)? >= max {
            return Ok(JoinOutcome::Full);
        }
        exec(
            &tx,
            "INSERT INTO group_joined (group_id, user_id, sname, sname_key, session_id, subscribed,
               show_id, joined_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &group,
                &j.user,
                &j.sname,
                &key,
                &j.session_id,
                &j.subscribed,
                &j.show_id,
                &joined_ms,
            ],
            "adding a joined user",
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| backend("committing a join", &e))?;
        Ok(JoinOutcome::Joined)
    }

    async fn set_joined_flags(
        &self,
        group: &str,
        user: &str,
        subscribed: Option<bool>,
        show_id: Option<bool>,
    ) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        changed(
            &c,
            "UPDATE group_joined SET subscribed = COALESCE($3, subscribed),
               show_id = COALESCE($4, show_id)
             WHERE group_id = $1 AND user_id = $2",
            &[&group, &user, &subscribed, &show_id],
            "updating a joined user",
        )
        .await
    }

    async fn leave(&self, group: &str, user: &str) -> Result<Option<JoinedUser>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!(
                "DELETE FROM group_joined WHERE group_id = $1 AND user_id = $2
                 RETURNING {JOINED_COLUMNS}"
            ),
            &[&group, &user],
            "removing a joined user",
        )
        .await?
        .map(|r| joined_from_row(&r))
        .transpose()
    }

    async fn joined_by_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<(String, JoinedUser)>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {JOINED_COLUMNS}, group_id FROM group_joined WHERE session_id = $1
                 ORDER BY group_id"
            ),
            &[&session_id],
            "reading a session's groups",
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 6)?, joined_from_row(r)?)))
        .collect()
    }

    async fn rejects(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            "SELECT user_id FROM group_rejects WHERE group_id = $1 ORDER BY user_id",
            &[&group],
            "reading a reject list",
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }

    async fn set_reject(
        &self,
        group: &str,
        user: &str,
        rejected: bool,
    ) -> Result<bool, StoreError> {
        let sql = if rejected {
            "INSERT INTO group_rejects (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_rejects WHERE group_id = $1 AND user_id = $2"
        };
        let c = self.conn().await?;
        changed(&c, sql, &[&group, &user], "changing a reject list").await
    }

    async fn put_pass(&self, group: &str, pass: GroupPass) -> Result<(), StoreError> {
        let until = opt_to_i64(pass.until_ms, "until_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO group_passes (group_id, user_id, kind, until_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, user_id) DO UPDATE SET kind = excluded.kind,
               until_ms = excluded.until_ms",
            &[&group, &pass.user, &pass.kind.as_str(), &until],
            "storing a group pass",
        )
        .await
        .map(|_| ())
    }

    async fn pass(&self, group: &str, user: &str) -> Result<Option<GroupPass>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            "SELECT user_id, kind, until_ms FROM group_passes WHERE group_id = $1 AND user_id = $2",
            &[&group, &user],
            "reading a group pass",
        )
        .await?
        .map(|r| pass_from_row(&r))
        .transpose()
    }

    async fn remove_pass(&self, group: &str, user: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        changed(
            &c,
            "DELETE FROM group_passes WHERE group_id = $1 AND user_id = $2",
            &[&group, &user],
            "removing a group pass",
        )
        .await
    }

    async fn passes(&self, group: &str) -> Result<Vec<GroupPass>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            "SELECT user_id, kind, until_ms FROM group_passes WHERE group_id = $1 ORDER BY user_id",
            &[&group],
            "reading group passes",
        )
        .await?
        .iter()
        .map(pass_from_row)
        .collect()
    }

    async fn expired_passes(
        &self,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<(String, GroupPass)>, StoreError> {
        let now = to_i64(now_ms, "now_ms")?;
        let c = self.conn().await?;
        query(
            &c,
            "SELECT user_id, kind, until_ms, group_id FROM group_passes
             WHERE until_ms IS NOT NULL AND until_ms <= $1
             ORDER BY until_ms, group_id, user_id LIMIT $2",
            &[&now, &limit(limit_n)],
            "reading expired group passes",
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 3)?, pass_from_row(r)?)))
        .collect()
    }

    async fn count_groups(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        let c = self.conn().await?;
        let r = query_one(
            &c,
            "SELECT count(*) FROM chat_groups WHERE $1::text IS NULL OR owner = $1",
            &[&owner],
            "counting groups",
        )
        .await?;
        col_u64(&r, 0)
    }

    async fn put_invite(&self, inv: InviteRecord) -> Result<(), StoreError> {
        let created = to_i64(inv.created_ms, "created_ms")?;
        let expires = opt_to_i64(inv.expires_ms, "expires_ms")?;
        let urls = inv.urls.join("\n");
        let c = self.conn().await?;
        exec(
            &c,
            &format!(
                "INSERT INTO invites ({INVITE_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (invite_id, invitee) DO UPDATE SET inviter = excluded.inviter,
                   kind = excluded.kind, group_id = excluded.group_id, note = excluded.note,
                   sname = excluded.sname, urls = excluded.urls,
                   created_ms = excluded.created_ms, expires_ms = excluded.expires_ms,
                   delivered = excluded.delivered"
            ),
            &[
                &inv.invite_id,
                &inv.invitee,
                &inv.inviter,
                &inv.kind,
                &inv.group_id,
                &inv.note,
                &inv.sname,
                &urls,
                &created,
                &expires,
                &inv.delivered,
            ],
            &format!("storing invitation {}", inv.invite_id),
        )
        .await
        .map(|_| ())
    }

    async fn invite(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<InviteRecord>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE invite_id = $1 AND invitee = $2"),
            &[&invite_id, &invitee],
            "reading an invitation",
        )
        .await?
        .map(|r| invite_from_row(&r))
        .transpose()
    }

    async fn invites_from(
        &self,
        inviter: &str,
        invite_id: &str,
    ) -> Result<Vec<InviteRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {INVITE_COLUMNS} FROM invites WHERE inviter = $1 AND invite_id = $2
                 ORDER BY invitee"
            ),
            &[&inviter, &invite_id],
            "reading an invitation's invitees",
        )
        .await?
        .iter()
        .map(invite_from_row)
        .collect()
    }

    async fn pending_invites(&self, invitee: &str) -> Result<Vec<InviteRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {INVITE_COLUMNS} FROM invites WHERE invitee = $1 AND NOT delivered
                 ORDER BY created_ms, invite_id"
            ),
            &[&invitee],
            "reading pending invitations",
        )
        .await?
        .iter()
        .map(invite_from_row)
        .collect()
    }

    async fn mark_invite_delivered(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE invites SET delivered = TRUE WHERE invite_id = $1 AND invitee = $2",
            &[&invite_id, &invitee],
            "marking an invitation delivered",
        )
        .await
        .map(|_| ())
    }

    async fn delete_invite(&self, invite_id: &str, invitee: &str) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        changed(
            &c,
            "DELETE FROM invites WHERE invite_id = $1 AND invitee = $2",
            &[&invite_id, &invitee],
            "deleting an invitation",
        )
        .await
    }
}
