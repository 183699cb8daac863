//! Groups hosted in a peer domain (issue 17, fourth step): the member's
//! side.
//!
//! A client's JoinGroup, LeaveGroup, GetJoinedUsers, GetGroupMembers,
//! GetGroupProps, SubscribeGroupNotice or managing request (DeleteGroup,
//! Add/RemoveGroupMembers, MemberAccess, SetGroupProps, RejectList)
//! naming a group of a peer domain
//! goes to that domain's server as the SSP group request, durably queued,
//! and the client's request waits for the answer up to
//! `federation.answer_timeout_ms` (504 after; the request may still be
//! carried out there). The host decides everything; its refusal reaches
//! the client with the host's code. A message to such a group goes to the
//! host, which fans it out. What the host pushes (group messages, change
//! notices, removals) is delivered here to the users it names. The groups
//! joined from a session are kept in the store (`RemoteJoinStore`, so a
//! restart of this server forgets none) and when the session ends
//! without a LeaveGroup the host is told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use imps_wire::element::bool_str;
use imps_wire::ssp::{SspStatus, domain_of};
use imps_wire::ssp_groups::{
    GetGroupMemberResponse, GetGroupPropsResponse, GetJoinedUsersResponse, GroupChangeNotice,
    GroupContent, GroupMessage, GroupOp, GroupRequest, GroupSubStatus, JoinGroupResponse,
    LeaveGroupIndication, RejectListResponse, SspMapping,
};
use imps_wire::{Element, PrimitiveKind, Version};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::GroupsService;
use super::ids::screen_name;
use super::join::JoinParams;
use super::notice::MemberLists;
use super::time::csp_datetime;
use crate::CoreError;
use crate::base::Base;
use crate::federation::check_actor;
use crate::reply::result;
use crate::session::Session;
use crate::store::RemoteJoin;

/// The member's side state: answers waited for (the groups joined are in
/// the store).
#[derive(Default)]
pub(crate) struct RemoteGroups {
    /// TransactionID of our request → (peer, who waits).
    waiting: Mutex<HashMap<String, (String, oneshot::Sender<Element>)>>,
}

/// `wv:user@ours` → `user`: a recipient the host names must be ours.
fn local_recipient(wire: &str, domain: &str) -> Result<String, CoreError> {
    match wire.strip_prefix("wv:").unwrap_or(wire).rsplit_once('@') {
        Some((u, d)) if d.eq_ignore_ascii_case(domain) && !u.is_empty() => Ok(u.to_lowercase()),
        _ => Err(CoreError::DomainNotSupported(
            domain_of(wire).unwrap_or_default().to_string(),
        )),
    }
}

/// A joined-user list in the shape a session reads, from the host's
/// mappings.
fn joined_list(shape: MemberLists, gid: &str, list: &[SspMapping]) -> Element {
    if shape == MemberLists::ScreenNames {
        let mut l = Element::new("UserList");
        for m in list {
            l = l.with(screen_name(&m.sname, gid));
        }
        return l;
    }
    let maps = list
        .iter()
        .map(|m| {
            Element::new("Mapping")
                .with_text("SName", m.sname.as_str())
                .with_opt(m.user_id.as_deref().map(|u| Element::text("UserID", u)))
        })
        .collect();
    super::notice::user_map_list(shape, maps)
}

fn user_list(ids: &[String]) -> Element {
    let mut l = Element::new("UserList");
    for u in ids {
        l = l.with(Element::new("User").with_text("UserID", u.as_str()));
    }
    l
}

/// The CSP Status of a host's status-only answer: its code and
/// description, and for a partial success (201) a DetailedResult per
/// outcome the host gave (the users and groups it names, as the host
/// wrote them).
fn host_status(st: &SspStatus) -> Element {
    let mut r = result(
        st.code,
        st.description.as_deref().unwrap_or(if st.code == 201 {
            "Partially successful"
        } else {
            "Successful"
        }),
    );
    for d in &st.details {
        let mut e = super::manage::detailed(d.code, d.description.as_deref().unwrap_or(""));
        for u in &d.users {
            e = e.with_text("UserID", u.as_str());
        }
        for g in &d.groups {
            e = e.with_text("GroupID", g.as_str());
        }
        r = r.with(e);
    }
    crate::reply::status_with(r)
}

impl GroupsService {
    /// The group a request names, with its peer, when it is hosted by a
    /// peer domain.
    pub(crate) fn remote_group(&self, raw: &str) -> Option<(String, String)> {
        let s = raw.trim();
        let s = crate::users::strip_scheme(s).unwrap_or(s);
        let (_, d) = s.rsplit_once('@')?;
        let d = d.to_ascii_lowercase();
        if d.eq_ignore_ascii_case(&self.base.cfg.domain) || !self.base.is_peer_domain(&d) {
            return None;
        }
        let gid = super::canonical_group(raw, &d, self.groups_cfg().max_group_name_chars).ok()?;
        Some((gid, d))
    }

    /// A client's group request for a group of a peer domain, if it is one.
    pub(crate) async fn remote_group_request(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        body: &Element,
    ) -> Option<Result<Element, CoreError>> {
        use PrimitiveKind as P;
        let op = match kind {
            P::JoinGroupRequest => GroupOp::Join,
            P::LeaveGroupRequest => GroupOp::Leave,
            P::GetJoinedUsersRequest => GroupOp::GetJoinedUsers,
            P::GetGroupMembersRequest => GroupOp::GetMembers,
            P::GetGroupPropsRequest => GroupOp::GetProps,
            P::DeleteGroupRequest => GroupOp::Delete,
            P::AddGroupMembersRequest => GroupOp::AddMembers,
            P::RemoveGroupMembersRequest => GroupOp::RemoveMembers,
            P::MemberAccessRequest => GroupOp::MemberAccess,
            P::SetGroupPropsRequest => GroupOp::SetProps,
            P::RejectListRequest => GroupOp::RejectList,
            P::SubscribeGroupNoticeRequest => {
                match body
                    .child_text("SubscribeType")
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                {
                    Some("S") => GroupOp::Subscribe,
                    Some("U") => GroupOp::Unsubscribe,
                    _ => GroupOp::SubStatus,
                }
            }
            _ => return None,
        };
        let (gid, peer) = self.remote_group(body.child_text("GroupID")?)?;
        Some(self.ask_remote(s, op, body, gid, peer).await)
    }

    async fn ask_remote(
        &self,
        s: &Arc<Session>,
        op: GroupOp,
        body: &Element,
        gid: String,
        peer: String,
    ) -> Result<Element, CoreError> {
        let p = JoinParams::from_request(body);
        let want_list = body.child_bool("JoinedRequest").unwrap_or(false);
        let req = GroupRequest {
            op,
            meta: self.base.ssp_meta(Some(&s.user)),
            group_id: gid.clone(),
            screen_name: p.sname.clone().filter(|_| op == GroupOp::Join),
            joined_list: want_list,
            subscribe: p.subscribe,
            content: self.managing_content(op, body)?,
        };
        let answer = self.ask_peer(&peer, &req.to_element()).await?;
        let unreadable = |e: imps_wire::WireError| {
            tracing::info!(peer = %peer, error = %e, "unreadable answer to a group request");
            CoreError::Internal(format!("unreadable answer from {peer}"))
        };
        let status = match answer.child("Status") {
            Some(st) => SspStatus::from_element(st).map_err(unreadable)?,
            None => SspStatus::ok(),
        };
        if status.code >= 300 {
            return Err(CoreError::PeerRefused {
                peer,
                code: status.code,
                description: status.description.unwrap_or_default(),
            });
        }
        let shape = self.member_lists(s);
        Ok(match op {
            GroupOp::Join => {
                let r = JoinGroupResponse::from_element(&answer).map_err(unreadable)?;
                self.base
                    .store
                    .put_remote_join(RemoteJoin {
                        session_id: s.id.clone(),
                        user: s.user.clone(),
                        group_id: gid.clone(),
                        peer: peer.clone(),
                    })
                    .await?;
                let mut resp = Element::new("JoinGroup-Response");
                if want_list {
                    let names: Vec<SspMapping> = r
                        .joined
                        .unwrap_or_default()
                        .into_iter()
                        .map(|sname| SspMapping {
                            sname,
                            user_id: None,
                        })
                        .collect();
                    let list = joined_list(shape, &gid, &names);
                    resp = resp.with(
                        if s.version >= Version::V1_3 && shape != MemberLists::Flat {
                            Element::new("Joined").with(list)
                        } else {
                            list
                        },
                    );
                }
                let renamed = r.screen_name.is_some() && r.screen_name != p.sname;
                if let Some(sn) = r
                    .screen_name
                    .filter(|_| s.version >= Version::V1_3 || renamed)
                {
                    resp = resp.with(screen_name(&sn, &gid));
                }
                resp.with_opt(r.welcome)
            }
            GroupOp::Leave => {
                self.base.store.remove_remote_join(&s.id, &gid).await?;
                Element::new("LeaveGroup-Response")
                    .with_text("GroupID", gid)
                    .with(result(200, "Successful"))
            }
            GroupOp::GetJoinedUsers => {
                let r = GetJoinedUsersResponse::from_element(&answer).map_err(unreadable)?;
                Element::new("GetJoinedUsers-Response").with(joined_list(
                    if shape == MemberLists::ScreenNames {
                        MemberLists::Flat
                    } else {
                        shape
                    },
                    &gid,
                    &r.joined,
                ))
            }
            GroupOp::GetMembers => {
                let r = GetGroupMemberResponse::from_element(&answer).map_err(unreadable)?;
                Element::new("GetGroupMembers-Response")
                    .with(Element::new("Admin").with(user_list(&r.admins)))
                    .with(Element::new("Mod").with(user_list(&r.moderators)))
                    .with(user_list(&r.users))
            }
            GroupOp::GetProps => {
                let r = GetGroupPropsResponse::from_element(&answer).map_err(unreadable)?;
                Element::new("GetGroupProps-Response")
                    .with(
                        r.properties
                            .unwrap_or_else(|| Element::new("GroupProperties")),
                    )
                    .with_opt(r.own)
            }
            GroupOp::Delete
            | GroupOp::AddMembers
            | GroupOp::RemoveMembers
            | GroupOp::MemberAccess
            | GroupOp::SetProps => {
                if op == GroupOp::Delete {
                    self.base.store.remove_remote_join(&s.id, &gid).await?;
                }
                host_status(&status)
            }
            GroupOp::RejectList => {
                let r = RejectListResponse::from_element(&answer).map_err(unreadable)?;
                if r.status.code == 200 && r.status.details.is_empty() {
                    Element::new("RejectList-Response").with(user_list(&r.users))
                } else {
                    // A partial success is answered as a local one is:
                    // the Status with its DetailedResults (the CSP
                    // answer has no room for both); the host's list
                    // after it is the next RejectList's answer.
                    host_status(&r.status)
                }
            }
            GroupOp::Subscribe | GroupOp::Unsubscribe | GroupOp::SubStatus => {
                let r = GroupSubStatus::from_element(&answer).map_err(unreadable)?;
                Element::new("SubscribeGroupNotice-Response")
                    .with_text("Value", bool_str(r.subscribed))
            }
        })
    }

    /// The lists and properties a managing request carries, from the
    /// client's CSP request: user IDs as `wv:` IDs of any domain (ours
    /// are named with our domain, so the host reads them as ours).
    fn managing_content(&self, op: GroupOp, body: &Element) -> Result<GroupContent, CoreError> {
        let ids = |e: Option<&Element>| -> Result<Vec<String>, CoreError> {
            let Some(e) = e else { return Ok(Vec::new()) };
            super::ids::user_ids(e)
                .into_iter()
                .map(|w| {
                    let u = self.base.canonical_party(&w)?;
                    Ok(crate::users::wire_user(&u, &self.base.cfg.domain))
                })
                .collect()
        };
        Ok(match op {
            GroupOp::AddMembers | GroupOp::RemoveMembers => GroupContent::Users(ids(Some(body))?),
            GroupOp::MemberAccess => GroupContent::Access {
                admins: ids(body.child("Admin"))?,
                moderators: ids(body.child("Mod"))?,
                users: ids(Some(body))?,
            },
            GroupOp::SetProps => GroupContent::Props {
                properties: body.child("GroupProperties").cloned(),
                own: body.child("OwnProperties").cloned(),
            },
            GroupOp::RejectList => GroupContent::Rejects {
                add: ids(body.child("AddList"))?,
                remove: ids(body.child("RemoveList"))?,
            },
            _ => GroupContent::None,
        })
    }

    /// Queues `req` for `peer` and waits for its answer.
    async fn ask_peer(&self, peer: &str, req: &Element) -> Result<Element, CoreError> {
        let Some(f) = self.base.cfg.federation.as_ref() else {
            return Err(CoreError::DomainNotSupported(peer.to_string()));
        };
        let cap = usize::try_from(f.queue_max()).unwrap_or(usize::MAX);
        if self.remote.waiting.lock().len() >= cap {
            return Err(CoreError::Busy(
                "too many answers from other domains awaited".into(),
            ));
        }
        let wait = Duration::from_millis(f.answer_wait_ms().max(1));
        let (tx, rx) = oneshot::channel();
        let id = self.base.queue_ssp(peer, None, req).await?;
        let tid = Base::ssp_tid(id);
        self.remote
            .waiting
            .lock()
            .insert(tid.clone(), (peer.to_string(), tx));
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(e)) => Ok(e),
            _ => {
                self.remote.waiting.lock().remove(&tid);
                Err(CoreError::PeerNoAnswer(peer.to_string()))
            }
        }
    }

    /// A response from `peer` to transaction `tid`: true when a group
    /// request of ours waited for it.
    pub(crate) fn ssp_group_answer(&self, peer: &str, tid: &str, p: &Element) -> bool {
        let mut w = self.remote.waiting.lock();
        match w.remove(tid) {
            Some((from, tx)) if from == peer => {
                let _ = tx.send(p.clone());
                true
            }
            Some(other) => {
                w.insert(tid.to_string(), other);
                false
            }
            None => false,
        }
    }

    /// A client's message to a group of a peer domain: queued for the
    /// host, which fans it out; the client is answered once it is queued.
    pub(crate) async fn send_to_remote_group(
        &self,
        s: &Arc<Session>,
        body: &Element,
        message_id: &str,
        gid: &str,
        peer: &str,
    ) -> Result<(), CoreError> {
        let info = body.child("MessageInfo");
        let data = body.child_text("ContentData").unwrap_or("");
        let base64 = info
            .and_then(|i| i.child_text("ContentEncoding"))
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"));
        let content = if base64 {
            let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            B64.decode(compact.as_bytes())
                .map_err(|_| CoreError::BadParameter("content is not base64".into()))?
        } else {
            data.as_bytes().to_vec()
        };
        let m = GroupMessage {
            meta: self.base.ssp_meta(Some(&s.user)),
            message_id: message_id.to_string(),
            group_id: gid.to_string(),
            content_type: info
                .and_then(|i| i.child_text("ContentType"))
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            recipients: Vec::new(),
            sender: Some(crate::users::wire_user(&s.user, &self.base.cfg.domain)),
            sender_sname: None,
            date_time: Some(crate::im::ssp_date_time(self.base.now_ms())),
            content,
        };
        self.base
            .queue_ssp(peer, None, &m.to_element())
            .await
            .map(|_| ())
    }

    /// A push from the host of a group of `peer` about that group: its
    /// group ID checked to be of `peer`, the server acting.
    fn check_host(
        &self,
        peer: &str,
        meta: &imps_wire::ssp::MetaInfo,
        gid: &str,
    ) -> Result<(), CoreError> {
        check_actor(peer, meta, &[gid])
    }

    /// A group message from the host `peer` for our users it names.
    pub(crate) fn ssp_group_message_down(
        &self,
        peer: &str,
        m: GroupMessage,
    ) -> Result<SspStatus, CoreError> {
        self.check_host(peer, &m.meta, &m.group_id)?;
        let domain = &self.base.cfg.domain;
        let users = m
            .recipients
            .iter()
            .map(|r| local_recipient(r, domain))
            .collect::<Result<Vec<_>, _>>()?;
        let content_type = m
            .content_type
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "text/plain".into());
        let (data, encoding) = match String::from_utf8(m.content.clone()) {
            Ok(t) if content_type.to_ascii_lowercase().starts_with("text/") => (t, None),
            _ => (B64.encode(&m.content), Some("BASE64")),
        };
        let sender = Element::new("Sender").with(Element::new("Group").with(screen_name(
            m.sender_sname.as_deref().unwrap_or(""),
            &m.group_id,
        )));
        let now = self.base.now_ms();
        let info = Element::new("MessageInfo")
            .with_text("MessageID", m.message_id.as_str())
            .with_text("ContentType", content_type)
            .with_opt(encoding.map(|e| Element::text("ContentEncoding", e)))
            .with_text("ContentSize", m.content.len().to_string())
            .with(
                Element::new("Recipient")
                    .with(Element::new("Group").with_text("GroupID", m.group_id.as_str())),
            )
            .with(sender)
            .with_text("DateTime", csp_datetime(now));
        let msg = Element::new("NewMessage")
            .with(info)
            .with_text("ContentData", data);
        let mut n = 0;
        for u in &users {
            n += self.base.router.to_user(u, msg.clone());
        }
        tracing::debug!(peer, group = %m.group_id, delivered = n, "group message from another domain");
        Ok(SspStatus::ok())
    }

    /// A GroupChangeNotice from the host `peer` for our users it names.
    pub(crate) fn ssp_group_notice(
        &self,
        peer: &str,
        n: GroupChangeNotice,
    ) -> Result<(), CoreError> {
        self.check_host(peer, &n.meta, &n.group_id)?;
        let domain = &self.base.cfg.domain;
        let users = n
            .recipients
            .iter()
            .map(|r| local_recipient(r, domain))
            .collect::<Result<Vec<_>, _>>()?;
        let as_maps = |l: &[String]| -> Vec<SspMapping> {
            l.iter()
                .map(|s| SspMapping {
                    sname: s.clone(),
                    user_id: None,
                })
                .collect()
        };
        for u in &users {
            self.base.router.to_user_shaped(u, &mut |r| {
                let shape = self.member_lists_for(r);
                let mut e =
                    Element::new("GroupChangeNotice").with_text("GroupID", n.group_id.as_str());
                if !n.joined.is_empty() {
                    e = e.with(Element::new("Joined").with(joined_list(
                        shape,
                        &n.group_id,
                        &as_maps(&n.joined),
                    )));
                }
                if !n.left.is_empty() {
                    e = e.with(Element::new("Left").with(joined_list(
                        MemberLists::ScreenNames,
                        &n.group_id,
                        &as_maps(&n.left),
                    )));
                }
                vec![e.with_opt(n.properties.clone())]
            });
        }
        Ok(())
    }

    /// A LeaveGroupIndication from the host `peer`: our user was removed.
    pub(crate) async fn ssp_leave_indication(
        &self,
        peer: &str,
        ind: LeaveGroupIndication,
    ) -> Result<(), CoreError> {
        self.check_host(peer, &ind.meta, &ind.group_id)?;
        let user = local_recipient(&ind.user, &self.base.cfg.domain)?;
        self.base
            .store
            .remove_remote_joins_of(&user, &ind.group_id)
            .await?;
        let why = ind
            .reason
            .or(ind.status.description)
            .unwrap_or_else(|| "Removed from the group".into());
        let notice = Element::new("LeaveGroup-Response")
            .with_text("GroupID", ind.group_id.as_str())
            .with(result(ind.status.code, &why));
        self.base.router.to_user(&user, notice);
        Ok(())
    }

    /// A session ended: its user leaves the groups of other domains joined
    /// from it (no answer awaited).
    pub(crate) async fn leave_remote_groups(&self, s: &Session) {
        let groups = match self.base.store.take_remote_joins(&s.id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(session = %s.id, error = %e, "joins to groups of other domains not read; the hosts are not told");
                return;
            }
        };
        for RemoteJoin {
            group_id: gid,
            peer,
            ..
        } in groups
        {
            let req = GroupRequest {
                op: GroupOp::Leave,
                meta: self.base.ssp_meta(Some(&s.user)),
                group_id: gid.clone(),
                screen_name: None,
                joined_list: false,
                subscribe: false,
                content: GroupContent::None,
            };
            if let Err(e) = self.base.queue_ssp(&peer, None, &req.to_element()).await {
                tracing::warn!(peer = %peer, group = %gid, error = %e, "leave for a group of another domain not queued");
            }
        }
    }
}
