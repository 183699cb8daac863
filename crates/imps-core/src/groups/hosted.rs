//! Our groups used by users of a peer domain (issue 17, fourth step): the
//! host's side.
//!
//! A group request from a peer is run through the same code as a local
//! client's, acting as the remote user (held as `user@domain`) in a
//! session that exists only for that request (`ssp:<peer>`, never in the
//! registry), so the reject list, private-group passes, restricted access,
//! the minimum age, MaxActiveUsers and screen-name rules apply to them as
//! to one of ours. A remote user's joined row names that pseudo-session;
//! what would be pushed to it leaves instead as SSP, one transaction per
//! peer domain and not per member: a group message
//! (`SendMessageRequest` to `GroupID` naming that domain's joined users),
//! a `GroupChangeNotice` to its subscribed users, a `LeaveGroupIndication`
//! for a user removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use imps_wire::ssp::{SspDetail, SspStatus, domain_of};
use imps_wire::ssp_groups::{
    GetGroupMemberResponse, GetGroupPropsResponse, GetJoinedUsersResponse, GroupChangeNotice,
    GroupContent, GroupMessage, GroupOp, GroupRequest, GroupSubStatus, JoinGroupResponse,
    LeaveGroupIndication, RejectListResponse, SspMapping,
};
use imps_wire::ssp_im::refusal;
use imps_wire::{Element, Version};

use super::GroupsService;
use super::join::{Departure, JoinParams};
use super::message::Target;
use super::notice::Change;
use super::props::welcome_elem;
use crate::CoreError;
use crate::federation::{check_actor, status_of};
use crate::session::Session;
use crate::store::{GroupRecord, JoinedUser};

/// Whether a joined user is of another domain (`user@domain`).
pub(crate) fn is_remote(user: &str) -> bool {
    user.contains('@')
}

/// Remote users grouped by their domain, as `wv:` IDs.
fn by_domain<'a>(users: impl Iterator<Item = &'a str>) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in users {
        if let Some((_, d)) = u.rsplit_once('@') {
            m.entry(d.to_string()).or_default().push(format!("wv:{u}"));
        }
    }
    m
}

/// Every `UserID` text under `e`.
fn wire_ids(e: Option<&Element>, out: &mut Vec<String>) {
    let Some(e) = e else { return };
    for c in &e.children {
        if c.name == "UserID" {
            if let Some(id) = imps_wire::ssp::normalize_id(&c.text) {
                out.push(id);
            }
        } else {
            wire_ids(Some(c), out);
        }
    }
}

/// `UserIDList{UserID*}`, the CSP list the group handlers read.
fn id_list(ids: &[String]) -> Element {
    let mut l = Element::new("UserIDList");
    for id in ids {
        l = l.with_text("UserID", id.as_str());
    }
    l
}

/// The outcome a CSP answer states (`Result{Code, Description,
/// DetailedResult*}`, no Result being success), as the SSP status: a
/// partial success keeps its per-user (and per-group) outcomes.
fn outcome(csp: &Element) -> SspStatus {
    let r = csp.child("Result");
    let code = |e: &Element| {
        e.child_u64("Code")
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(200)
    };
    let description = |e: &Element| e.child_text("Description").map(str::to_string);
    let texts = |e: &Element, name: &str| -> Vec<String> {
        e.children_named(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
            .map(|t| imps_wire::ssp::normalize_id(t).unwrap_or_else(|| t.to_string()))
            .collect()
    };
    SspStatus {
        code: r.map_or(200, code),
        description: r.and_then(description),
        details: r
            .map(|r| {
                r.children_named("DetailedResult")
                    .map(|d| SspDetail {
                        code: code(d),
                        description: description(d),
                        users: texts(d, "UserID"),
                        groups: texts(d, "GroupID"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Every `Mapping` under `e`.
fn mappings(e: &Element, out: &mut Vec<SspMapping>) {
    for c in &e.children {
        if c.name == "Mapping" {
            out.push(SspMapping {
                sname: c.child_text("SName").unwrap_or("").trim().to_string(),
                user_id: c
                    .child_text("UserID")
                    .and_then(imps_wire::ssp::normalize_id),
            });
        } else {
            mappings(c, out);
        }
    }
}

impl GroupsService {
    /// The session a request from `user` of `peer` runs in.
    fn pseudo_session(&self, peer: &str, user: &str) -> Arc<Session> {
        Arc::new(Session::new(
            format!("ssp:{peer}"),
            user.to_string(),
            crate::session::ClientIdent::from_parts(
                &format!("ssp:{peer}"),
                &Element::new("ClientID"),
            ),
            Version::V1_3,
            String::new(),
            String::new(),
            self.base.now_ms(),
            0,
        ))
    }

    /// The acting remote user of a request from `peer` (901 for one of
    /// another domain), in the core's form.
    fn remote_actor(
        &self,
        peer: &str,
        meta: &imps_wire::ssp::MetaInfo,
    ) -> Result<String, CoreError> {
        check_actor(peer, meta, &[])?;
        let user = meta
            .user
            .as_ref()
            .ok_or_else(|| CoreError::BadRequest("group request without an acting user".into()))?;
        self.base.canonical_party(&user.user_id)
    }

    /// One of our groups, named by a peer (516 for any other domain: no
    /// relaying).
    fn hosted_group(&self, wire: &str) -> Result<String, CoreError> {
        super::canonical_group(
            wire,
            &self.base.cfg.domain,
            self.groups_cfg().max_group_name_chars,
        )
    }

    /// A group request from the server of `peer`: the response primitive
    /// to queue for it. `Err` only when the store failed.
    pub(crate) async fn ssp_group_request(
        &self,
        peer: &str,
        request: &Element,
        req: GroupRequest,
    ) -> Result<Element, CoreError> {
        match self.run_group_request(peer, req).await {
            Ok(e) => Ok(e),
            Err(CoreError::Store(e)) => Err(CoreError::Store(e)),
            Err(e) => {
                tracing::info!(peer, primitive = %request.name.as_str(), code = e.status_code(), error = %e, "SSP group request refused");
                Ok(refusal(request, status_of(&e)))
            }
        }
    }

    async fn run_group_request(&self, peer: &str, req: GroupRequest) -> Result<Element, CoreError> {
        let user = self.remote_actor(peer, &req.meta)?;
        let gid = self.hosted_group(&req.group_id)?;
        let s = self.pseudo_session(peer, &user);
        let body = |name: &str| Element::new(name).with_text("GroupID", gid.clone());
        let ok = SspStatus::ok();
        Ok(match req.op {
            GroupOp::Join => {
                let lock = self.locks.get(&gid);
                let _held = lock.lock().await;
                let g = self.load_group(&gid).await?;
                let p = JoinParams {
                    sname: req.screen_name.clone(),
                    subscribe: req.subscribe,
                    show_id: false,
                };
                let j = self.join_session(&g, &s, p, false).await?;
                JoinGroupResponse {
                    status: ok,
                    joined: req
                        .joined_list
                        .then(|| j.all.iter().map(|r| r.sname.clone()).collect()),
                    screen_name: Some(j.row.sname.clone()),
                    welcome: g.welcome.as_ref().map(welcome_elem),
                }
                .to_element()
            }
            GroupOp::Leave => {
                self.visible_group(&gid, &user).await?;
                match self.depart(&gid, &user, Departure::Left).await? {
                    Some(_) => refusal(&Element::new(GroupOp::Leave.name()), ok),
                    None => return Err(CoreError::NotJoined(gid)),
                }
            }
            GroupOp::GetJoinedUsers => {
                let csp = self
                    .get_joined_users(&s, &body("GetJoinedUsers-Request"))
                    .await?;
                let mut joined = Vec::new();
                mappings(&csp, &mut joined);
                GetJoinedUsersResponse { status: ok, joined }.to_element()
            }
            GroupOp::GetMembers => {
                let csp = self
                    .get_group_members(&s, &body("GetGroupMembers-Request"))
                    .await?;
                let (mut admins, mut moderators, mut users) = (Vec::new(), Vec::new(), Vec::new());
                wire_ids(csp.child("Admin"), &mut admins);
                wire_ids(csp.child("Mod"), &mut moderators);
                wire_ids(csp.child("UserList"), &mut users);
                GetGroupMemberResponse {
                    status: ok,
                    admins,
                    moderators,
                    users,
                }
                .to_element()
            }
            GroupOp::GetProps => {
                let csp = self
                    .get_group_props(&s, &body("GetGroupProps-Request"))
                    .await?;
                GetGroupPropsResponse {
                    status: ok,
                    properties: csp.child("GroupProperties").cloned(),
                    own: csp.child("OwnProperties").cloned(),
                }
                .to_element()
            }
            GroupOp::Delete => {
                let csp = self.delete_group(&s, &body("DeleteGroup-Request")).await?;
                refusal(&Element::new(req.op.name()), outcome(&csp))
            }
            GroupOp::AddMembers | GroupOp::RemoveMembers => {
                let GroupContent::Users(ids) = &req.content else {
                    return Err(CoreError::BadRequest(
                        "a member request without users".into(),
                    ));
                };
                let csp = if req.op == GroupOp::AddMembers {
                    let b = body("AddGroupMembers-Request").with(id_list(ids));
                    self.add_group_members(&s, &b).await?
                } else {
                    let b = body("RemoveGroupMembers-Request").with(id_list(ids));
                    self.remove_group_members(&s, &b).await?
                };
                refusal(&Element::new(req.op.name()), outcome(&csp))
            }
            GroupOp::MemberAccess => {
                let GroupContent::Access {
                    admins,
                    moderators,
                    users,
                } = &req.content
                else {
                    return Err(CoreError::BadRequest("MemberAccess without levels".into()));
                };
                let mut b = body("MemberAccess-Request");
                if !admins.is_empty() {
                    b = b.with(Element::new("Admin").with(id_list(admins)));
                }
                if !moderators.is_empty() {
                    b = b.with(Element::new("Mod").with(id_list(moderators)));
                }
                if !users.is_empty() {
                    b = b.with(id_list(users));
                }
                let csp = self.member_access(&s, &b).await?;
                refusal(&Element::new(req.op.name()), outcome(&csp))
            }
            GroupOp::SetProps => {
                let GroupContent::Props { properties, own } = &req.content else {
                    return Err(CoreError::BadRequest(
                        "SetGroupProps without properties".into(),
                    ));
                };
                let b = body("SetGroupProps-Request")
                    .with_opt(properties.clone())
                    .with_opt(own.clone());
                let csp = self.set_group_props(&s, &b).await?;
                refusal(&Element::new(req.op.name()), outcome(&csp))
            }
            GroupOp::RejectList => {
                let GroupContent::Rejects { add, remove } = &req.content else {
                    return Err(CoreError::BadRequest("RejectList without lists".into()));
                };
                let mut b = body("RejectList-Request");
                if !add.is_empty() {
                    b = b.with(Element::new("AddList").with(id_list(add)));
                }
                if !remove.is_empty() {
                    b = b.with(Element::new("RemoveList").with(id_list(remove)));
                }
                let csp = self.reject_list(&s, &b).await?;
                let status = outcome(&csp);
                let mut users = Vec::new();
                if csp.child("UserList").is_some() {
                    wire_ids(csp.child("UserList"), &mut users);
                } else {
                    // A partial success answers with a Status only: the
                    // list the group has now is read here, so the member
                    // is not shown an empty one.
                    let domain = &self.base.cfg.domain;
                    users = self
                        .base
                        .store
                        .rejects(&gid)
                        .await?
                        .iter()
                        .map(|u| crate::users::wire_user(u, domain))
                        .collect();
                }
                RejectListResponse { status, users }.to_element()
            }
            GroupOp::Subscribe | GroupOp::Unsubscribe | GroupOp::SubStatus => {
                let kind = match req.op {
                    GroupOp::Subscribe => "S",
                    GroupOp::Unsubscribe => "U",
                    _ => "G",
                };
                let csp = self
                    .subscribe_group_notice(
                        &s,
                        &body("SubscribeGroupNotice-Request").with_text("SubscribeType", kind),
                    )
                    .await?;
                GroupSubStatus {
                    group_id: gid.clone(),
                    subscribed: csp.child_bool("Value").unwrap_or(false),
                    status: ok,
                }
                .to_element()
            }
        })
    }

    /// A message from a user of `peer` to one of our groups: spoken in
    /// the group as by a local member. The status answers the peer.
    pub(crate) async fn ssp_group_message_up(
        &self,
        peer: &str,
        m: GroupMessage,
    ) -> Result<SspStatus, CoreError> {
        match self.group_message_up(peer, m).await {
            Ok(()) => Ok(SspStatus::ok()),
            Err(CoreError::Store(e)) => Err(CoreError::Store(e)),
            Err(e) => Ok(status_of(&e)),
        }
    }

    async fn group_message_up(&self, peer: &str, m: GroupMessage) -> Result<(), CoreError> {
        let user = self.remote_actor(peer, &m.meta)?;
        if let Some(sender) = &m.sender
            && self.base.canonical_party(sender)? != user
        {
            return Err(CoreError::ForeignActor(peer.to_string()));
        }
        let gid = self.hosted_group(&m.group_id)?;
        let s = self.pseudo_session(peer, &user);
        let content_type = m
            .content_type
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "text/plain".into());
        let (data, encoding) = match String::from_utf8(m.content.clone()) {
            Ok(t) if content_type.to_ascii_lowercase().starts_with("text/") => (t, None),
            _ => (B64.encode(&m.content), Some("BASE64")),
        };
        let info = Element::new("MessageInfo")
            .with_text("ContentType", content_type)
            .with_opt(encoding.map(|e| Element::text("ContentEncoding", e)))
            .with_text("ContentSize", m.content.len().to_string());
        let body = Element::new("SendMessage-Request")
            .with(info)
            .with_text("ContentData", data);
        self.send_to_group(&s, &body, &m.message_id, Target::Group(gid))
            .await
    }

    /// Sends a group message to the joined users of other domains: one
    /// request per domain. `body` is the CSP request it came from.
    pub(crate) async fn fan_out_remote(
        &self,
        gid: &str,
        sname: &str,
        body: &Element,
        message_id: &str,
        joined: &[JoinedUser],
    ) {
        let remote = by_domain(
            joined
                .iter()
                .map(|j| j.user.as_str())
                .filter(|u| is_remote(u)),
        );
        if remote.is_empty() {
            return;
        }
        let info = body.child("MessageInfo");
        let content_type = info
            .and_then(|i| i.child_text("ContentType"))
            .filter(|t| !t.is_empty())
            .unwrap_or("text/plain")
            .to_string();
        let data = body.child_text("ContentData").unwrap_or("");
        let base64 = info
            .and_then(|i| i.child_text("ContentEncoding"))
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"));
        let content = if base64 {
            let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            B64.decode(compact.as_bytes())
                .unwrap_or_else(|_| data.as_bytes().to_vec())
        } else {
            data.as_bytes().to_vec()
        };
        let now = self.base.now_ms();
        for (peer, recipients) in remote {
            let m = GroupMessage {
                meta: self.base.ssp_meta(None),
                message_id: message_id.to_string(),
                group_id: gid.to_string(),
                content_type: Some(content_type.clone()),
                recipients,
                sender: None,
                sender_sname: Some(sname.to_string()),
                date_time: Some(crate::im::ssp_date_time(now)),
                content: content.clone(),
            };
            if let Err(e) = self.base.queue_ssp(&peer, None, &m.to_element()).await {
                tracing::warn!(peer = %peer, group = %gid, error = %e, "group message for another domain not queued");
            }
        }
    }

    /// Tells the subscribed joined users of other domains what changed:
    /// one GroupChangeNotice per domain.
    pub(crate) async fn notify_remote(
        &self,
        g: &GroupRecord,
        rows: &[JoinedUser],
        change: &Change,
        exclude: Option<&str>,
    ) {
        let remote = by_domain(
            rows.iter()
                .filter(|r| (r.subscribed || g.private) && Some(r.user.as_str()) != exclude)
                .map(|r| r.user.as_str())
                .filter(|u| is_remote(u)),
        );
        for (peer, recipients) in remote {
            let n = GroupChangeNotice {
                meta: self.base.ssp_meta(None),
                group_id: g.id.clone(),
                recipients,
                joined: change.joined.iter().map(|j| j.sname.clone()).collect(),
                left: change.left.iter().map(|j| j.sname.clone()).collect(),
                properties: change.props.clone(),
            };
            if let Err(e) = self.base.queue_ssp(&peer, None, &n.to_element()).await {
                tracing::warn!(peer = %peer, group = %g.id, error = %e, "group change notice for another domain not queued");
            }
        }
    }

    /// Tells a removed user of another domain, through their server.
    pub(crate) async fn tell_removed_remote(&self, gid: &str, user: &str, code: u16, why: &str) {
        let Some(peer) = domain_of(user) else { return };
        let ind = LeaveGroupIndication {
            meta: self.base.ssp_meta(None),
            group_id: gid.to_string(),
            user: format!("wv:{user}"),
            status: SspStatus {
                code,
                description: Some(why.to_string()),
                details: Vec::new(),
            },
            reason: Some(why.to_string()),
        };
        if let Err(e) = self.base.queue_ssp(peer, None, &ind.to_element()).await {
            tracing::warn!(peer, group = %gid, error = %e, "removal notice for another domain not queued");
        }
    }
}
