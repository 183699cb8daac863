//! CreateGroup and DeleteGroup.
//!
//! CreateGroup answers a Status. When the server has something to tell
//! the creator beyond the code (the GroupID it generated for a private
//! conversation, the screen name it chose), it goes in a
//! `DetailedResult{Code 200, GroupID, ScreenName}` of that Status: the
//! CSP Result structure has exactly these slots.

use super::GroupsService;
use std::sync::Arc;

use imps_wire::Element;

use super::Role;
use super::ids::{group_owner_part, screen_name};
use super::join::JoinParams;
use super::props::{effective, parse_group_properties};
use crate::CoreError;
use crate::reply::{ok_status, result};
use crate::session::Session;
use crate::store::{GroupRecord, StoreError};

impl GroupsService {
    /// CreateGroup-Request. A GroupID must be `wv:<creator>/<name>@domain`
    /// (806 otherwise, as in the field: nobody creates groups in another
    /// user's name space); 801 when it exists. A property `Type = Private`
    /// makes it a private group conversation (see `pgc`).
    pub(crate) async fn create_group(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let (props, note) = match body.child("GroupProperties") {
            Some(gp) => parse_group_properties(gp)?,
            None => (Vec::new(), None),
        };
        let private = props.iter().any(|(n, v)| n == "Type" && v == "Private");
        let gid = match body.child_text("GroupID").filter(|t| !t.is_empty()) {
            Some(_) => {
                let gid = self.group_id_of(body)?;
                if group_owner_part(&gid) != s.user {
                    return Err(CoreError::BadGroupProperty(format!(
                        "GroupID {gid} is not in the name space of {}",
                        s.user
                    )));
                }
                Some(gid)
            }
            None => None,
        };
        if private {
            return self.create_private(s, body, gid, props, note).await;
        }
        let gid = gid.ok_or_else(|| CoreError::BadParameter("GroupID missing".into()))?;
        let mut g = GroupRecord {
            id: gid.clone(),
            owner: s.user.clone(),
            private: false,
            props,
            welcome: note,
            created_ms: self.base.now_ms(),
        };
        if g.prop("Name").is_none() {
            let name = gid.split_once('/').map_or("", |(_, n)| n);
            let name = name.rsplit_once('@').map_or(name, |(n, _)| n).to_string();
            super::props::merge(&mut g.props, &[("Name".into(), name)]);
        }
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        self.create_within_quota(g.clone()).await?;
        tracing::info!(group = %gid, owner = %s.user, access = effective(&g, "AccessType"), "group created");
        if !body.child_bool("JoinGroup").unwrap_or(false) {
            return Ok(ok_status());
        }
        Ok(
            match self
                .join_session(&g, s, JoinParams::from_request(body), false)
                .await
            {
                Ok(j) if j.renamed => created_status(None, Some((&j.row.sname, &gid)), Vec::new()),
                Ok(_) => ok_status(),
                Err(e) => created_status(None, None, vec![detail(&e, &gid)]),
            },
        )
    }

    /// DeleteGroup-Request: the owner or an Admin member; joined users get
    /// an unsolicited LeaveGroup-Response with 800. Nobody deletes a
    /// private group (PGC-11): 816.
    pub(crate) async fn delete_group(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.visible_group(&gid, &s.user).await?;
        if g.private {
            return Err(CoreError::GroupPrivileges(
                "nobody can delete a private conversation".into(),
            ));
        }
        if self.role_in(&g, &s.user).await? != Role::Admin {
            return Err(CoreError::GroupPrivileges(format!(
                "{} is not an admin of {gid}",
                s.user
            )));
        }
        for j in self.base.store.joined(&gid).await? {
            if j.session_id == s.id {
                continue;
            }
            let notice = Element::new("LeaveGroup-Response")
                .with_text("GroupID", gid.clone())
                .with(result(800, "Group deleted"));
            self.base.router.to_session(&j.session_id, notice);
        }
        self.delete_joined(&gid).await?;
        tracing::info!(group = %gid, by = %s.user, "group deleted");
        Ok(ok_status())
    }
}

/// Held while a group is counted and created, so two creations never
/// both take the last place (not a valid group ID: no clash).
const CREATE_LOCK: &str = "\u{0}create";

impl GroupsService {
    /// Stores a new group unless that would pass the server's limit
    /// (815) or its owner's (814); 801 when the ID is taken.
    pub(crate) async fn create_within_quota(&self, g: GroupRecord) -> Result<(), CoreError> {
        let lock = self.locks.get(CREATE_LOCK);
        let _held = lock.lock().await;
        let cfg = self.groups_cfg();
        let total = self.base.store.count_groups(None).await?;
        if total >= cfg.max_groups_total {
            tracing::warn!(owner = %g.owner, total, "group refused: server limit reached");
            return Err(CoreError::ServerGroupLimit(cfg.max_groups_total));
        }
        let owned = self.base.store.count_groups(Some(&g.owner)).await?;
        if owned >= cfg.max_groups_per_user {
            tracing::info!(owner = %g.owner, owned, "group refused: user limit reached");
            return Err(CoreError::TooManyGroups {
                user: g.owner.clone(),
                limit: cfg.max_groups_per_user,
            });
        }
        let id = g.id.clone();
        match self.base.store.create_group(g).await {
            Err(StoreError::Conflict(_)) => Err(CoreError::GroupExists(id)),
            other => Ok(other?),
        }
    }
}

/// `DetailedResult{Code, Description, GroupID?}` for a failure about one group.
pub(crate) fn detail(e: &CoreError, gid: &str) -> Element {
    detailed(e.status_code(), &e.description()).with_text("GroupID", gid)
}

/// The Status of a CreateGroup (or its 1.3 private cousin): 200 with a
/// `DetailedResult{200, GroupID?, ScreenName?}` when there is something to
/// say, 201 when some part failed.
pub(crate) fn created_status(
    gid: Option<&str>,
    sname: Option<(&str, &str)>,
    failures: Vec<Element>,
) -> Element {
    let code = if failures.is_empty() { 200 } else { 201 };
    let mut r = result(
        code,
        if code == 200 {
            "Successful"
        } else {
            "Partially successful"
        },
    );
    if gid.is_some() || sname.is_some() {
        let mut d = detailed(200, "Successful");
        if let Some(g) = gid {
            d = d.with_text("GroupID", g);
        }
        if let Some((n, g)) = sname {
            d = d.with(screen_name(n, g));
        }
        r = r.with(d);
    }
    for f in failures {
        r = r.with(f);
    }
    crate::reply::status_with(r)
}

/// `DetailedResult{Code, Description}`, to which the items it is about
/// are added.
pub(crate) fn detailed(code: u16, description: &str) -> Element {
    let mut r = result(code, description);
    r.name = "DetailedResult".into();
    r
}
