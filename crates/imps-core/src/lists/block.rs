//! Block and grant lists: GetBlockedList and BlockEntity (BASE-LIST).
//!
//! Two wire forms, both accepted in every version on input and each sent
//! in its own version on output:
//! * up to 1.2: `BlockList{InUse, AddList|RemoveList|EntityList}`, and the
//!   same for `GrantList`;
//! * 1.3: top-level `BlockListInUse` / `GrantListInUse`, and
//!   `BlockList{AddList|RemoveList|EntityList}` without InUse.
//!
//! Only users can be listed; other entities (groups, screen names, lists,
//! applications) are refused per entry with 501 in a DetailedResult.

use super::ListsService;
use imps_wire::{Element, Version, element::bool_str};

use super::add::Failures;
use super::ids::user_ids;
use crate::CoreError;
use crate::session::Session;
use crate::store::AccessChange;
use crate::users::{canonical_user, wire_user};

/// Entity kinds an AddList/RemoveList may hold besides UserID.
const OTHER_ENTITIES: [&str; 4] = ["ScreenName", "GroupID", "ContactList", "ApplicationID"];

impl ListsService {
    pub(crate) async fn get_blocked_list(&self, s: &Session) -> Result<Element, CoreError> {
        let a = self.base.store.access_lists(&s.user).await?;
        let entities = |users: &[String]| {
            let mut e = Element::new("EntityList");
            e.children = users
                .iter()
                .map(|u| Element::text("UserID", wire_user(u, &self.base.cfg.domain)))
                .collect();
            e
        };
        let mut block = Element::new("BlockList");
        let mut grant = Element::new("GrantList");
        let resp = if s.version == Version::V1_3 {
            block = block.with(entities(&a.blocked));
            grant = grant.with(entities(&a.granted));
            Element::new("GetBlockedList-Response")
                .with(block)
                .with_text("BlockListInUse", bool_str(a.block_in_use))
                .with(grant)
                .with_text("GrantListInUse", bool_str(a.grant_in_use))
        } else {
            block = block
                .with_text("InUse", bool_str(a.block_in_use))
                .with(entities(&a.blocked));
            grant = grant
                .with_text("InUse", bool_str(a.grant_in_use))
                .with(entities(&a.granted));
            Element::new("GetBlockedList-Response")
                .with(block)
                .with(grant)
        };
        self.segment_reply(
            s,
            resp,
            &[
                &["BlockList", "EntityList", "UserID"],
                &["GrantList", "EntityList", "UserID"],
            ],
        )
    }

    pub(crate) async fn block_entity(
        &self,
        s: &Session,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let block = body.child("BlockList");
        let grant = body.child("GrantList");
        let in_use = |top: &str, list: Option<&Element>| {
            body.child_bool(top)
                .or_else(|| list.and_then(|l| l.child_bool("InUse")))
        };
        let mut failures = Failures::default();
        let mut users = |list: Option<&Element>, which: &str| -> Vec<String> {
            let Some(part) = list.and_then(|l| l.child(which)) else {
                return Vec::new();
            };
            for kind in OTHER_ENTITIES {
                for e in part.children_named(kind) {
                    let err = CoreError::NotImplemented(format!("listing a {kind}"));
                    failures.push_named(&err, kind, e.text.trim());
                }
            }
            let mut out = Vec::new();
            for u in user_ids(part) {
                match canonical_user(&u, &self.base.cfg.domain) {
                    Ok(id) => out.push(id),
                    Err(e) => failures.push(&e, &u),
                }
            }
            out
        };
        let change = AccessChange {
            owner: s.user.clone(),
            block_in_use: in_use("BlockListInUse", block),
            grant_in_use: in_use("GrantListInUse", grant),
            block_add: users(block, "AddList"),
            block_remove: users(block, "RemoveList"),
            grant_add: users(grant, "AddList"),
            grant_remove: users(grant, "RemoveList"),
            max_entries: self.lists_cfg().max_access_entries,
        };
        let something = change.block_in_use.is_some()
            || change.grant_in_use.is_some()
            || !change.block_add.is_empty()
            || !change.block_remove.is_empty()
            || !change.grant_add.is_empty()
            || !change.grant_remove.is_empty();
        let applied = if something {
            let owner = change.owner.clone();
            let r = self.base.store.change_access(change).await;
            // Whatever the outcome, cached answers about this owner may
            // be out of date now.
            self.access.invalidate(&owner);
            r?
        } else {
            true
        };
        if !applied {
            return Err(CoreError::TooManyContacts {
                list: "block or grant list".into(),
                limit: self.lists_cfg().max_access_entries,
            });
        }
        Ok(crate::reply::status_with(failures.result(something)))
    }
}
