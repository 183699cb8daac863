//! Our users' joins to groups of peer domains (issue 17); see
//! `imps_core::store::RemoteJoinStore` and
//! `sql/0012_remote_group_joins.sql`.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{RemoteJoin, RemoteJoinStore};
use tokio_postgres::Row;

use crate::PgStore;
use crate::rows::{col, exec, query};

fn join_of(r: &Row) -> Result<RemoteJoin, StoreError> {
    Ok(RemoteJoin {
        session_id: col(r, 0)?,
        user: col(r, 1)?,
        group_id: col(r, 2)?,
        peer: col(r, 3)?,
    })
}

#[async_trait]
impl RemoteJoinStore for PgStore {
    async fn put_remote_join(&self, j: RemoteJoin) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO remote_group_joins (session_id, user_id, group_id, peer)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id, group_id)
             DO UPDATE SET user_id = EXCLUDED.user_id, peer = EXCLUDED.peer",
            &[&j.session_id, &j.user, &j.group_id, &j.peer],
            "recording a join to a group of another domain",
        )
        .await?;
        Ok(())
    }

    async fn remove_remote_join(&self, session_id: &str, group_id: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM remote_group_joins WHERE session_id = $1 AND group_id = $2",
            &[&session_id, &group_id],
            "removing a join to a group of another domain",
        )
        .await?;
        Ok(())
    }

    async fn remove_remote_joins_of(&self, user: &str, group_id: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM remote_group_joins WHERE user_id = $1 AND group_id = $2",
            &[&user, &group_id],
            "removing joins to a group of another domain",
        )
        .await?;
        Ok(())
    }

    async fn take_remote_joins(&self, session_id: &str) -> Result<Vec<RemoteJoin>, StoreError> {
        let c = self.conn().await?;
        let rows = query(
            &c,
            "DELETE FROM remote_group_joins WHERE session_id = $1
             RETURNING session_id, user_id, group_id, peer",
            &[&session_id],
            "taking a session's joins to groups of other domains",
        )
        .await?;
        let mut out = rows.iter().map(join_of).collect::<Result<Vec<_>, _>>()?;
        out.sort();
        Ok(out)
    }

    async fn put_invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
        group_id: &str,
    ) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO remote_invite_groups (invite_id, invitee, group_id)
             VALUES ($1, $2, $3)
             ON CONFLICT (invite_id, invitee) DO UPDATE SET group_id = EXCLUDED.group_id",
            &[&invite_id, &invitee, &group_id],
            "recording the group of an invitation",
        )
        .await?;
        Ok(())
    }

    async fn invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<String>, StoreError> {
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT group_id FROM remote_invite_groups WHERE invite_id = $1 AND invitee = $2",
            &[&invite_id, &invitee],
            "reading the group of an invitation",
        )
        .await?;
        rows.first().map(|r| col(r, 0)).transpose()
    }

    async fn delete_invite_group(&self, invite_id: &str, invitee: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM remote_invite_groups WHERE invite_id = $1 AND invitee = $2",
            &[&invite_id, &invitee],
            "removing the group of an invitation",
        )
        .await?;
        Ok(())
    }

    async fn remote_joins(&self) -> Result<Vec<RemoteJoin>, StoreError> {
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT session_id, user_id, group_id, peer FROM remote_group_joins
             ORDER BY session_id, group_id",
            &[],
            "reading joins to groups of other domains",
        )
        .await?;
        rows.iter().map(join_of).collect()
    }
}
