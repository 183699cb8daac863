//! GetList, CreateList, DeleteList and ListManage (BASE-LIST).
//!
//! Shapes per version: GetList-Response is `ContactList*` in 1.1 and 1.2
//! and `ContactListIDList{ContactList*}` in 1.3, followed by
//! `DefaultContactList`; from 1.2 on the default list appears only there,
//! as the reference server does. The Android engine reads only direct
//! `ContactList` children and `DefaultContactList`, so a 1.3 session on it
//! gets the 1.2 shape (issue 13). CreateList is
//! answered with Status up to 1.2 and CreateList-Response in 1.3.
//! ListManage-Response carries `NickList{NickName{Name, UserID}*}` and
//! `ContactListProperties` when the client asked with ReceiveList T; every
//! NickName has both children (Android dereferences them), Name being the
//! UserID when the member has no nickname.

use super::{ListsService, PresenceGrants};
use imps_wire::{Element, Version, element::bool_str};

use super::add::Failures;
use super::ids::{ListId, nick_entries, user_ids};
use super::property;
use crate::CoreError;
use crate::reply::ok_status;
use crate::session::Session;
use crate::store::{ContactListRecord, CreateListOutcome, ListChange};
use crate::users::{canonical_user, wire_user};

/// The properties a client may set on a list.
#[derive(Debug, Default)]
struct Props {
    display_name: Option<String>,
    default: Option<bool>,
}

impl ListsService {
    /// Parses a list ID of the session's own user; another user's list
    /// reads as one that does not exist (700).
    pub(crate) fn own_list(&self, s: &Session, wire: &str) -> Result<ListId, CoreError> {
        let id = ListId::parse(wire, &self.base.cfg.domain, self.lists_cfg())?;
        if id.owner != s.user {
            return Err(CoreError::ListNotFound(wire.to_string()));
        }
        Ok(id)
    }

    /// `ContactListProperties{Property{Name, Value}*}`; an unknown name or
    /// a bad value is 752.
    fn props(&self, e: Option<&Element>) -> Result<Props, CoreError> {
        let mut p = Props::default();
        let Some(e) = e else { return Ok(p) };
        for prop in e.children_named("Property") {
            let name = prop
                .child_text("Name")
                .ok_or_else(|| CoreError::BadListProperty("Property without Name".into()))?;
            let value = prop.child_text("Value").unwrap_or("");
            if name.eq_ignore_ascii_case("DisplayName") {
                if value.is_empty() || value.chars().count() > self.lists_cfg().max_name_chars {
                    return Err(CoreError::BadListProperty(format!("DisplayName {value:?}")));
                }
                p.display_name = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("Default") {
                p.default = Some(
                    imps_wire::element::parse_bool(value)
                        .ok_or_else(|| CoreError::BadListProperty(format!("Default {value:?}")))?,
                );
            } else {
                return Err(CoreError::BadListProperty(name.to_string()));
            }
        }
        Ok(p)
    }

    pub(crate) async fn get_list(&self, s: &Session) -> Result<Element, CoreError> {
        let lists = self.base.store.contact_lists(&s.user).await?;
        let ids: Vec<Element> = lists
            .iter()
            .filter(|l| s.version == Version::V1_1 || !l.is_default)
            .map(|l| Element::text("ContactList", l.wire_id.clone()))
            .collect();
        let mut resp = Element::new("GetList-Response");
        // The Android engine reads only ContactList children of the
        // response (and DefaultContactList), in 1.3 too.
        let wrapped = s.version == Version::V1_3 && !s.style().android_engine;
        let path: &[&str] = if wrapped {
            if !ids.is_empty() {
                let mut wrap = Element::new("ContactListIDList");
                wrap.children = ids;
                resp = resp.with(wrap);
            }
            &["ContactListIDList", "ContactList"]
        } else {
            resp.children = ids;
            &["ContactList"]
        };
        if let Some(d) = lists.iter().find(|l| l.is_default) {
            resp = resp.with_text("DefaultContactList", d.wire_id.clone());
        }
        self.segment_reply(s, resp, &[path])
    }

    pub(crate) async fn create_list(
        &self,
        s: &Session,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let cfg = self.lists_cfg();
        let wire = body.child_text("ContactList").ok_or_else(|| {
            CoreError::BadRequest("CreateList-Request without ContactList".into())
        })?;
        let id = ListId::parse(wire, &self.base.cfg.domain, cfg)?;
        if id.owner != s.user {
            return Err(CoreError::Forbidden(format!(
                "{wire} belongs to another user"
            )));
        }
        let props = self.props(body.child("ContactListProperties"))?;
        let inputs = match body.child("NickList") {
            Some(l) => nick_entries(l, cfg)?,
            None => Vec::new(),
        };
        let mut failures = Failures::default();
        let members = self.resolve_members(inputs, &mut failures).await?;
        // The first list a user makes is their default unless they say
        // otherwise: clients expect a DefaultContactList to exist.
        let has_default = self
            .base
            .store
            .contact_lists(&s.user)
            .await?
            .iter()
            .any(|l| l.is_default);
        let record = ContactListRecord {
            owner: id.owner.clone(),
            name: id.name.clone(),
            wire_id: id.wire.clone(),
            display_name: Some(props.display_name.unwrap_or_else(|| id.written_name())),
            is_default: props.default.unwrap_or(!has_default),
            created_ms: self.base.now_ms(),
        };
        let added: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let outcome = self
            .base
            .store
            .create_contact_list(
                record.clone(),
                members,
                cfg.max_lists_per_user,
                cfg.max_contacts_per_list,
            )
            .await?;
        match outcome {
            CreateListOutcome::Created => {}
            CreateListOutcome::Exists => return Err(CoreError::ListExists(id.wire)),
            CreateListOutcome::TooManyLists => {
                return Err(CoreError::TooManyLists {
                    user: s.user.clone(),
                    limit: cfg.max_lists_per_user,
                });
            }
            CreateListOutcome::TooManyContacts => {
                return Err(CoreError::TooManyContacts {
                    list: id.wire,
                    limit: cfg.max_contacts_per_list,
                });
            }
        }
        self.notify_added(&s.user, &added).await;
        let result = failures.result(true);
        Ok(if s.version == Version::V1_3 {
            Element::new("CreateList-Response")
                .with(result)
                .with_text("ContactList", record.wire_id.clone())
                .with(list_properties(&record))
        } else {
            crate::reply::status_with(result)
        })
    }

    pub(crate) async fn delete_list(
        &self,
        s: &Session,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let wire = body.child_text("ContactList").ok_or_else(|| {
            CoreError::BadRequest("DeleteList-Request without ContactList".into())
        })?;
        let id = self.own_list(s, wire)?;
        if !self
            .base
            .store
            .delete_contact_list(&id.owner, &id.name)
            .await?
        {
            return Err(CoreError::ListNotFound(id.wire));
        }
        Ok(ok_status())
    }

    /// ListManage without parts (or after an upload in parts is whole).
    pub(crate) async fn list_manage(
        &self,
        s: &Session,
        body: &Element,
        grants: &dyn PresenceGrants,
    ) -> Result<Element, CoreError> {
        let cfg = self.lists_cfg();
        let wire = body.child_text("ContactList").ok_or_else(|| {
            CoreError::BadRequest("ListManage-Request without ContactList".into())
        })?;
        let id = self.own_list(s, wire)?;
        let receive = body.child_bool("ReceiveList").unwrap_or(false);
        let authorize_and_grant = body.child_bool("AuthorizeAndGrant").unwrap_or(false);
        let props = self.props(body.child("ContactListProperties"))?;
        let mut failures = Failures::default();
        let inputs = match body.child("AddNickList") {
            Some(l) => nick_entries(l, cfg)?,
            None => Vec::new(),
        };
        let add = self.resolve_members(inputs, &mut failures).await?;
        let mut remove = Vec::new();
        for u in body
            .child("RemoveNickList")
            .map(user_ids)
            .unwrap_or_default()
        {
            match canonical_user(&u, &self.base.cfg.domain) {
                Ok(id) => remove.push(id),
                Err(e) => failures.push(&e, &u),
            }
        }
        let change = ListChange {
            display_name: props.display_name,
            default: props.default,
            add,
            remove,
            ..ListChange::default()
        };
        let changes = !change.add.is_empty()
            || !change.remove.is_empty()
            || change.display_name.is_some()
            || change.default.is_some();
        if changes {
            self.change_list(s, &id, change, authorize_and_grant, grants)
                .await?;
        }
        let mut resp = Element::new("ListManage-Response").with(failures.result(changes));
        if !receive {
            if !changes && !self.has_list(&id).await? {
                return Err(CoreError::ListNotFound(id.wire));
            }
            return Ok(resp);
        }
        // Read after the write: the answer shows what the store holds.
        let record = self
            .base
            .store
            .contact_lists(&id.owner)
            .await?
            .into_iter()
            .find(|l| l.name == id.name)
            .ok_or_else(|| CoreError::ListNotFound(id.wire.clone()))?;
        let members = self
            .base
            .store
            .contacts(&id.owner, &id.name)
            .await?
            .ok_or_else(|| CoreError::ListNotFound(id.wire.clone()))?;
        let mut nicks = Element::new("NickList");
        nicks.children = members
            .into_iter()
            .map(|m| {
                let uid = wire_user(&m.user_id, &self.base.cfg.domain);
                Element::new("NickName")
                    .with_text("Name", m.nickname.unwrap_or_else(|| uid.clone()))
                    .with_text("UserID", uid)
            })
            .collect();
        resp = resp.with(nicks).with(list_properties(&record));
        self.segment_reply(s, resp, &[&["NickList", "NickName"]])
    }

    async fn has_list(&self, id: &ListId) -> Result<bool, CoreError> {
        Ok(self
            .base
            .store
            .contact_lists(&id.owner)
            .await?
            .iter()
            .any(|l| l.name == id.name))
    }
}

/// `ContactListProperties{Property DisplayName, Property Default}`.
fn list_properties(l: &ContactListRecord) -> Element {
    let display = l.display_name.clone().unwrap_or_else(|| l.name.clone());
    Element::new("ContactListProperties")
        .with(property("DisplayName", display))
        .with(property("Default", bool_str(l.is_default)))
}
