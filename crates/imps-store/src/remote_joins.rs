//! SQLite table of our users' joins to groups of peer domains; see
//! `imps_core::store::RemoteJoinStore` and `sql/0016_remote_group_joins.sql`.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{RemoteJoin, RemoteJoinStore};

use crate::SqliteStore;
use crate::rows::backend;

fn join_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RemoteJoin> {
    Ok(RemoteJoin {
        session_id: r.get(0)?,
        user: r.get(1)?,
        group_id: r.get(2)?,
        peer: r.get(3)?,
    })
}

#[async_trait]
impl RemoteJoinStore for SqliteStore {
    async fn put_remote_join(&self, j: RemoteJoin) -> Result<(), StoreError> {
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "INSERT INTO remote_group_joins (session_id, user_id, group_id, peer)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (session_id, group_id)
                     DO UPDATE SET user_id = excluded.user_id, peer = excluded.peer",
                )
                .and_then(|mut s| s.execute((&j.session_id, &j.user, &j.group_id, &j.peer)))
                .map_err(|e| backend("recording a join to a group of another domain", e))?;
                Ok(())
            })
            .await
    }

    async fn remove_remote_join(&self, session_id: &str, group_id: &str) -> Result<(), StoreError> {
        let (s, g) = (session_id.to_string(), group_id.to_string());
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "DELETE FROM remote_group_joins WHERE session_id = ?1 AND group_id = ?2",
                )
                .and_then(|mut st| st.execute([&s, &g]))
                .map_err(|e| backend("removing a join to a group of another domain", e))?;
                Ok(())
            })
            .await
    }

    async fn remove_remote_joins_of(&self, user: &str, group_id: &str) -> Result<(), StoreError> {
        let (u, g) = (user.to_string(), group_id.to_string());
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "DELETE FROM remote_group_joins WHERE user_id = ?1 AND group_id = ?2",
                )
                .and_then(|mut st| st.execute([&u, &g]))
                .map_err(|e| backend("removing joins to a group of another domain", e))?;
                Ok(())
            })
            .await
    }

    async fn take_remote_joins(&self, session_id: &str) -> Result<Vec<RemoteJoin>, StoreError> {
        let s = session_id.to_string();
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("taking a session's joins to groups of other domains", e);
                let rows = c
                    .prepare_cached(
                        "DELETE FROM remote_group_joins WHERE session_id = ?1
                         RETURNING session_id, user_id, group_id, peer",
                    )
                    .and_then(|mut st| {
                        st.query_map([&s], join_of)
                            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    })
                    .map_err(what)?;
                let mut rows = rows;
                rows.sort();
                Ok(rows)
            })
            .await
    }

    async fn put_invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
        group_id: &str,
    ) -> Result<(), StoreError> {
        let (i, u, g) = (
            invite_id.to_string(),
            invitee.to_string(),
            group_id.to_string(),
        );
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO remote_invite_groups (invite_id, invitee, group_id)
                     VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut st| st.execute([&i, &u, &g]))
                .map_err(|e| backend("recording the group of an invitation", e))?;
                Ok(())
            })
            .await
    }

    async fn invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<String>, StoreError> {
        let (i, u) = (invite_id.to_string(), invitee.to_string());
        self.read_lane()
            .run(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT group_id FROM remote_invite_groups
                         WHERE invite_id = ?1 AND invitee = ?2",
                    )
                    .map_err(|e| backend("reading the group of an invitation", e))?;
                let mut rows = st
                    .query_map([&i, &u], |r| r.get::<_, String>(0))
                    .map_err(|e| backend("reading the group of an invitation", e))?;
                rows.next()
                    .transpose()
                    .map_err(|e| backend("reading the group of an invitation", e))
            })
            .await
    }

    async fn delete_invite_group(&self, invite_id: &str, invitee: &str) -> Result<(), StoreError> {
        let (i, u) = (invite_id.to_string(), invitee.to_string());
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "DELETE FROM remote_invite_groups WHERE invite_id = ?1 AND invitee = ?2",
                )
                .and_then(|mut st| st.execute([&i, &u]))
                .map_err(|e| backend("removing the group of an invitation", e))?;
                Ok(())
            })
            .await
    }

    async fn remote_joins(&self) -> Result<Vec<RemoteJoin>, StoreError> {
        self.read_lane()
            .run(|c| {
                let what = |e| backend("reading joins to groups of other domains", e);
                let rows = c
                    .prepare_cached(
                        "SELECT session_id, user_id, group_id, peer FROM remote_group_joins
                         ORDER BY session_id, group_id",
                    )
                    .and_then(|mut st| {
                        st.query_map([], join_of)
                            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    })
                    .map_err(what)?;
                Ok(rows)
            })
            .await
    }
}
