//! What the server administrator can do to groups (`impsd group expel`):
//! expel a user from any group, private conversations included (PGC-12).
//! The user is put out (unsolicited LeaveGroup-Response 809), loses any
//! invitation or rejoin pass, and is put on the group's reject list so a
//! participant's new invitation does not bring them back.

use super::GroupsService;
use super::join::Departure;
use crate::CoreError;
use crate::users::canonical_user;

impl GroupsService {
    /// Expels `user` from `group` (wire or bare forms accepted). 800 for
    /// an unknown group, 531 for an unknown user. True when the user was
    /// joined and has been put out.
    pub(crate) async fn admin_expel(&self, group: &str, user: &str) -> Result<bool, CoreError> {
        let gid = super::canonical_group(
            group,
            &self.base.cfg.domain,
            self.groups_cfg().max_group_name_chars,
        )?;
        let user = canonical_user(user, &self.base.cfg.domain)?;
        if !self.base.user_exists(&user).await? {
            return Err(CoreError::UnknownUser(user));
        }
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.load_group(&gid).await?;
        // Reject first, so the group cannot be reaped as empty before the
        // rejection lands, and the departure below cannot be undone by a
        // racing join (the lock is held anyway).
        self.base.store.set_reject(&gid, &user, true).await?;
        self.base.store.remove_pass(&gid, &user).await?;
        let why = "Expelled by the server administrator".to_string();
        let row = self
            .depart_locked(&g, &user, Departure::Removed { code: 809, why })
            .await?;
        tracing::warn!(group = %gid, user = %user, was_joined = row.is_some(), "user expelled by the administrator");
        Ok(row.is_some())
    }
}
