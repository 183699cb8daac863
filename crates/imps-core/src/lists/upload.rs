//! Uploading a long list in parts (GEN-2).
//!
//! A client adds more members than fit in one message by sending several
//! requests of the same kind, each with part of the entries and
//! `SegmentInfo{SegmentCount N, SegmentID{TransactionID U,
//! SegmentReference k}}`, in the TransactionDescriptor (as for replies) or
//! as a child of the request. U is any ID the client picks for the upload;
//! it is scoped to the session. Parts may come in any order; a part sent
//! again replaces the earlier one. Until all N are in, nothing is applied
//! and each part is answered with Result 202; the part that completes the
//! set is merged back into one request and answered like that request
//! sent whole. These primitives may be uploaded this way:
//!
//! * ListManage-Request (contact lists): the AddNickLists of the parts are
//!   concatenated; the other children (RemoveNickList,
//!   ContactListProperties, ReceiveList, AuthorizeAndGrant) may ride on any
//!   part, a later part's copy winning. A waiting part gets
//!   `ListManage-Response{Result 202}`.
//! * BlockEntity-Request (block and grant lists, 1.2 and 1.3 forms): the
//!   AddList and RemoveList entries under BlockList and GrantList are
//!   concatenated; the in-use flags (InUse, BlockListInUse,
//!   GrantListInUse) may ride on any part, a later part's copy winning. A
//!   waiting part gets `Status{Result 202}`, BlockEntity having no
//!   response primitive of its own.
//! * CreateAttributeList-Request (attribute lists): the entries of
//!   UserIDList and ContactListIDList are concatenated, bare UserID and
//!   ContactList children (1.1/1.2) are all kept; PresenceSubList,
//!   DefaultList and the 1.3 notify flags may ride on any part, a later
//!   part's copy winning. A waiting part gets `Status{Result 202}`.
//! * AddGroupMembers-Request and MemberAccess-Request (a group's member
//!   and access list) and RejectList-Request (its reject list): the
//!   entries of UserList / UserIDList (also under Admin and Mod) and of
//!   AddList / RemoveList are concatenated, bare User and UserID children
//!   all kept. Every part names the same GroupID; the caller's right to
//!   edit the list is checked on every part. A waiting part gets
//!   `Status{Result 202}`.
//!
//! A part of one primitive, or naming another list or group, cannot
//! complete an upload begun with another (402, the upload dropped).
//!
//! Bounds (SEC-1): N is at most `max_upload_parts`; the entries buffered
//! may not exceed the list limit (`max_contacts_per_list`;
//! `max_access_entries` for each of the block and grant lists and for the
//! users and contact lists of an attribute list; `[groups]
//! max_users_per_request` for a group list): 754 at once, the upload
//! dropped; uploads count against the session's segment sets and expire
//! like them; DropSegment-Request{SegmentID{U}} abandons one.

use super::{ListsService, PresenceGrants};

use imps_wire::{Element, Transaction};

use super::segment_store::{Upload, UploadPart};
use crate::CoreError;
use crate::reply::result;
use crate::session::Session;

/// The request's SegmentInfo, from the descriptor or the body.
pub(crate) fn segment_info(tx: &Transaction) -> Option<Element> {
    tx.segment_info
        .clone()
        .or_else(|| tx.body.child("SegmentInfo").cloned())
}

/// The request without its SegmentInfo.
fn without_info(body: &Element) -> Element {
    let mut b = body.clone();
    b.children.retain(|c| c.name != "SegmentInfo");
    b
}

/// How the parts of one primitive are put back together.
struct Rules {
    /// Containers whose entries are concatenated, in part order.
    concat: &'static [&'static str],
    /// Containers merged child by child with these same rules.
    nested: &'static [&'static str],
    /// Entries that may appear many times as direct children: every copy
    /// of every part is kept, in part order.
    repeated: &'static [&'static str],
}

const LIST_MANAGE: Rules = Rules {
    concat: &["AddNickList", "RemoveNickList"],
    nested: &[],
    repeated: &[],
};

const BLOCK_ENTITY: Rules = Rules {
    concat: &["AddList", "RemoveList"],
    nested: &["BlockList", "GrantList"],
    repeated: &[],
};

/// CreateAttributeList: 1.3 lists, and the bare 1.1/1.2 forms.
const ATTRIBUTE_LIST: Rules = Rules {
    concat: &["UserIDList", "ContactListIDList"],
    nested: &[],
    repeated: &["UserID", "ContactList", "User"],
};

/// AddGroupMembers and MemberAccess (Admin{UserList}, Mod{UserList},
/// UserList), in the list forms of every version.
const GROUP_MEMBERS: Rules = Rules {
    concat: &["UserList", "UserIDList"],
    nested: &["Admin", "Mod"],
    repeated: &["User", "UserID"],
};

const REJECT_LIST: Rules = Rules {
    concat: &["AddList", "RemoveList"],
    nested: &[],
    repeated: &[],
};

/// Merges one part's children into `out`: entry containers are
/// concatenated, nested lists merged, repeated entries all kept, and any
/// other child (a flag, a property) replaces an earlier copy, so a flag
/// sent in any part is kept and a later part's copy wins.
fn merge_into(out: &mut Element, part: Element, rules: &Rules) {
    for c in part.children {
        let name = c.name.as_str();
        if rules.repeated.contains(&name) {
            out.children.push(c);
            continue;
        }
        let at = out.children.iter().position(|x| x.name == c.name);
        if rules.nested.contains(&name) {
            let i = at.unwrap_or_else(|| {
                out.children.push(Element::new(c.name.clone()));
                out.children.len() - 1
            });
            merge_into(&mut out.children[i], c, rules);
        } else if let Some(i) = at {
            if rules.concat.contains(&name) {
                out.children[i].children.extend(c.children);
            } else {
                out.children[i] = c;
            }
        } else {
            out.children.push(c);
        }
    }
}

/// One request named `name` from the parts, in order.
fn merge(name: &str, parts: Vec<Element>, rules: &Rules) -> Element {
    let mut out = Element::new(name);
    for part in parts {
        merge_into(&mut out, part, rules);
    }
    out
}

/// Entries one part names under `rules`: the children of its entry
/// containers (nested ones included) and its repeated entries.
fn listed(part: &Element, rules: &Rules) -> usize {
    part.children
        .iter()
        .map(|c| {
            let name = c.name.as_str();
            if rules.repeated.contains(&name) {
                1
            } else if rules.nested.contains(&name) {
                listed(c, rules)
            } else if rules.concat.contains(&name) {
                // An entry may itself be a list (AddList{UserIDList{...}}).
                c.children
                    .iter()
                    .map(|e| {
                        if matches!(e.name.as_str(), "UserIDList" | "UserList") {
                            e.children.len()
                        } else {
                            1
                        }
                    })
                    .sum()
            } else {
                0
            }
        })
        .sum()
}

fn attribute_entries(part: &Element) -> usize {
    listed(part, &ATTRIBUTE_LIST)
}

fn member_entries(part: &Element) -> usize {
    listed(part, &GROUP_MEMBERS)
}

fn reject_entries(part: &Element) -> usize {
    listed(part, &REJECT_LIST)
}

/// The group lists that may be uploaded in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupList {
    /// AddGroupMembers-Request.
    AddMembers,
    /// MemberAccess-Request.
    Access,
    /// RejectList-Request.
    Rejects,
}

impl GroupList {
    fn primitive(self) -> &'static str {
        match self {
            GroupList::AddMembers => "AddGroupMembers-Request",
            GroupList::Access => "MemberAccess-Request",
            GroupList::Rejects => "RejectList-Request",
        }
    }

    fn rules(self) -> &'static Rules {
        match self {
            GroupList::AddMembers | GroupList::Access => &GROUP_MEMBERS,
            GroupList::Rejects => &REJECT_LIST,
        }
    }

    fn counter(self) -> fn(&Element) -> usize {
        match self {
            GroupList::AddMembers | GroupList::Access => member_entries,
            GroupList::Rejects => reject_entries,
        }
    }
}

/// Entries a ListManage part adds (every AddNickList it carries: the
/// merge keeps them all).
fn contact_entries(part: &Element) -> usize {
    part.children_named("AddNickList")
        .map(|l| l.children.len())
        .sum()
}

/// Entries a BlockEntity part adds to the block list and the grant list,
/// over every copy of each container, as the merge joins them.
fn access_entries_of(part: &Element) -> (usize, usize) {
    let adds = |list: &str| {
        part.children_named(list)
            .flat_map(|l| l.children_named("AddList"))
            .map(|a| a.children.len())
            .sum()
    };
    (adds("BlockList"), adds("GrantList"))
}

fn access_entries(part: &Element) -> usize {
    let (b, g) = access_entries_of(part);
    b + g
}

/// Where one received part leaves its upload.
enum Step {
    /// SegmentCount 1: the part is the whole request.
    Whole(Element),
    /// Buffered; (this part, of count).
    Pending(u64, u64),
    /// The last part came in: every part, in order.
    Complete(Vec<Element>),
}

/// What is being uploaded.
struct Kind<L, C> {
    primitive: &'static str,
    /// Names the list the upload changes; called once the part is known to
    /// be split.
    list: L,
    counter: fn(&Element) -> usize,
    /// Refuses an upload whose buffered entries are over the limit.
    limit: C,
}

impl ListsService {
    /// Checks one part's SegmentInfo and buffers it (GEN-2). Shared by
    /// every primitive that may be uploaded in parts.
    fn buffer_part<L, C>(
        &self,
        s: &Session,
        body: &Element,
        info: &Element,
        kind: Kind<L, C>,
    ) -> Result<Step, CoreError>
    where
        L: FnOnce() -> Result<String, CoreError>,
        C: FnOnce(&Upload) -> Result<(), CoreError>,
    {
        let cfg = self.lists_cfg();
        let count = info
            .child_u64("SegmentCount")
            .ok_or_else(|| CoreError::BadRequest("SegmentInfo without SegmentCount".into()))?;
        let part = without_info(body);
        if count <= 1 {
            return Ok(Step::Whole(part));
        }
        if count > cfg.max_upload_parts {
            return Err(CoreError::BadParameter(format!(
                "SegmentCount {count} above the limit of {}",
                cfg.max_upload_parts
            )));
        }
        let sid = info
            .child("SegmentID")
            .ok_or_else(|| CoreError::BadRequest("SegmentInfo without SegmentID".into()))?;
        let upload_id = sid
            .child_text("TransactionID")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CoreError::BadRequest("SegmentID without TransactionID".into()))?;
        let reference = sid
            .child_u64("SegmentReference")
            .filter(|r| (1..=count).contains(r))
            .ok_or_else(|| {
                CoreError::BadParameter(format!("SegmentReference not in 1..={count}"))
            })?;
        let list = (kind.list)()?;
        let primitive = kind.primitive;
        let limit = kind.limit;
        let check = |u: &Upload| {
            if u.kind != primitive || u.count != count || u.list != list {
                return Err(CoreError::BadParameter(format!(
                    "part {reference} of upload {upload_id} does not match its first part"
                )));
            }
            limit(u)
        };
        let done = self.segments().upload_part(
            UploadPart {
                key: (s.id.clone(), upload_id.to_string()),
                reference,
                body: part,
            },
            Upload::new(primitive, list.clone(), count, kind.counter),
            check,
            self.base.now_ms(),
            cfg,
        )?;
        Ok(match done {
            None => Step::Pending(reference, count),
            Some(parts) => {
                tracing::debug!(session = %crate::ids::log_tag(&s.id), primitive, list = %list, count, "upload in parts complete");
                Step::Complete(parts)
            }
        })
    }

    /// A ListManage-Request carrying SegmentInfo.
    pub(crate) async fn list_manage_part(
        &self,
        s: &Session,
        body: &Element,
        info: &Element,
        grants: &dyn PresenceGrants,
    ) -> Result<Element, CoreError> {
        let max = self.lists_cfg().max_contacts_per_list;
        let kind = Kind {
            primitive: "ListManage-Request",
            list: || {
                let wire = body.child_text("ContactList").ok_or_else(|| {
                    CoreError::BadRequest("ListManage-Request without ContactList".into())
                })?;
                Ok(self.own_list(s, wire)?.name)
            },
            counter: contact_entries,
            limit: |u: &Upload| {
                if u.entries > max {
                    return Err(CoreError::TooManyContacts {
                        list: body
                            .child_text("ContactList")
                            .unwrap_or_default()
                            .to_string(),
                        limit: max,
                    });
                }
                Ok(())
            },
        };
        match self.buffer_part(s, body, info, kind)? {
            Step::Whole(part) => self.list_manage(s, &part, grants).await,
            Step::Pending(k, n) => Ok(Element::new("ListManage-Response").with(pending(k, n))),
            Step::Complete(parts) => {
                self.list_manage(s, &merge("ListManage-Request", parts, &LIST_MANAGE), grants)
                    .await
            }
        }
    }

    /// A BlockEntity-Request carrying SegmentInfo: block and grant lists
    /// in parts. A part still waiting for others is answered with a
    /// Status of 202; the last one like the whole request.
    pub(crate) async fn block_entity_part(
        &self,
        s: &Session,
        body: &Element,
        info: &Element,
    ) -> Result<Element, CoreError> {
        let max = self.lists_cfg().max_access_entries;
        let kind = Kind {
            primitive: "BlockEntity-Request",
            list: || Ok("block and grant lists".to_string()),
            counter: access_entries,
            limit: |u: &Upload| {
                let (b, g) = u
                    .parts
                    .values()
                    .map(access_entries_of)
                    .fold((0, 0), |(b, g), (pb, pg)| (b + pb, g + pg));
                if b > max || g > max {
                    return Err(CoreError::TooManyContacts {
                        list: "block or grant list".into(),
                        limit: max,
                    });
                }
                Ok(())
            },
        };
        match self.buffer_part(s, body, info, kind)? {
            Step::Whole(part) => self.block_entity(s, &part).await,
            Step::Pending(k, n) => Ok(crate::reply::status_with(pending(k, n))),
            Step::Complete(parts) => {
                self.block_entity(s, &merge("BlockEntity-Request", parts, &BLOCK_ENTITY))
                    .await
            }
        }
    }

    /// One part of a CreateAttributeList-Request (presence asks): an
    /// attribute list naming more users or contact lists than fit in one
    /// message.
    pub(crate) fn attribute_list_part(
        &self,
        s: &Session,
        body: &Element,
        info: &Element,
    ) -> Result<Assembled, CoreError> {
        let max = self.lists_cfg().max_access_entries;
        let kind = Kind {
            primitive: "CreateAttributeList-Request",
            list: || Ok("attribute lists".to_string()),
            counter: attribute_entries,
            limit: |u: &Upload| over_limit(u, max, "attribute list"),
        };
        let step = self.buffer_part(s, body, info, kind)?;
        Ok(assembled(
            step,
            "CreateAttributeList-Request",
            &ATTRIBUTE_LIST,
        ))
    }

    /// One part of a group member, access or reject list request (groups
    /// asks, after checking that the caller may edit list `group`). Every
    /// part must name the same group; `max` users in all.
    pub(crate) fn group_list_part(
        &self,
        s: &Session,
        which: GroupList,
        group: String,
        max: usize,
        body: &Element,
        info: &Element,
    ) -> Result<Assembled, CoreError> {
        let kind = Kind {
            primitive: which.primitive(),
            list: || Ok(group),
            counter: which.counter(),
            limit: |u: &Upload| over_limit(u, max, "group list"),
        };
        let step = self.buffer_part(s, body, info, kind)?;
        Ok(assembled(step, which.primitive(), which.rules()))
    }
}

/// What the owning area gets for one part: the whole request once every
/// part is in (merged by `rules`), else the 202 answer for this part.
fn assembled(step: Step, primitive: &str, rules: &Rules) -> Assembled {
    match step {
        Step::Whole(part) => Assembled::Whole(part),
        Step::Pending(k, n) => Assembled::Pending(crate::reply::status_with(pending(k, n))),
        Step::Complete(parts) => Assembled::Whole(merge(primitive, parts, rules)),
    }
}

/// Where a part of another area's upload leaves it.
pub(crate) enum Assembled {
    /// The whole request (it was not split, or this was its last part):
    /// the owning area handles it as if it came in one message.
    Whole(Element),
    /// Buffered while others are missing: answer with this.
    Pending(Element),
}

/// 754 when the entries buffered so far are over `max`.
fn over_limit(u: &Upload, max: usize, list: &str) -> Result<(), CoreError> {
    if u.entries > max {
        return Err(CoreError::TooManyContacts {
            list: list.into(),
            limit: max,
        });
    }
    Ok(())
}

/// The Result of a part buffered while others are missing.
fn pending(reference: u64, count: u64) -> Element {
    result(
        202,
        &format!("Part {reference} of {count} accepted; nothing applied yet"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gen_2_removals_are_joined_and_every_copy_of_a_list_is_counted() {
        let part = |add: &[&str], remove: &[&str]| {
            let list = |name: &str, users: &[&str]| {
                users
                    .iter()
                    .fold(Element::new(name), |l, u| l.with_text("UserID", *u))
            };
            Element::new("ListManage-Request")
                .with_text("ContactList", "wv:a/b")
                .with(list("AddNickList", add))
                .with(list("AddNickList", add))
                .with(list("RemoveNickList", remove))
        };
        let p1 = part(&["x"], &["r1", "r2"]);
        assert_eq!(contact_entries(&p1), 2, "both AddNickLists count");
        let m = merge(
            "ListManage-Request",
            vec![p1, part(&["y"], &["r3"])],
            &LIST_MANAGE,
        );
        let removed: Vec<_> = m
            .child("RemoveNickList")
            .unwrap()
            .children
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(removed, ["r1", "r2", "r3"], "no part's removals are lost");
        let block = Element::new("BlockEntity-Request")
            .with(Element::new("BlockList").with(Element::new("AddList").with_text("UserID", "a")))
            .with(Element::new("BlockList").with(Element::new("AddList").with_text("UserID", "b")));
        assert_eq!(access_entries_of(&block), (2, 0));
        let rejects = Element::new("RejectList-Request").with(
            Element::new("AddList").with(
                Element::new("UserIDList")
                    .with_text("UserID", "a")
                    .with_text("UserID", "b")
                    .with_text("UserID", "c"),
            ),
        );
        assert_eq!(
            reject_entries(&rejects),
            3,
            "a nested list counts its entries"
        );
    }

    #[test]
    fn parts_merge_in_order_and_later_flags_win() {
        let part = |users: &[&str], receive: &str| {
            let mut add = Element::new("AddNickList");
            for u in users {
                add = add.with_text("UserID", *u);
            }
            Element::new("ListManage-Request")
                .with_text("ContactList", "wv:a/b")
                .with(add)
                .with_text("ReceiveList", receive)
        };
        let m = merge(
            "ListManage-Request",
            vec![part(&["x", "y"], "F"), part(&["z"], "T")],
            &LIST_MANAGE,
        );
        let add = m.child("AddNickList").unwrap();
        let got: Vec<&str> = add.children.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(got, ["x", "y", "z"]);
        assert_eq!(m.child_text("ReceiveList"), Some("T"));
        assert_eq!(m.children_named("ContactList").count(), 1);
    }

    #[test]
    fn block_parts_concatenate_entries_and_keep_flags_from_any_part() {
        let ids = |name: &str, users: &[&str]| {
            let mut l = Element::new(name);
            for u in users {
                l = l.with_text("UserID", *u);
            }
            l
        };
        let p1 = Element::new("BlockEntity-Request")
            .with(Element::new("BlockList").with(ids("AddList", &["a", "b"])))
            .with_text("BlockListInUse", "T");
        let p2 = Element::new("BlockEntity-Request")
            .with(
                Element::new("BlockList")
                    .with(ids("AddList", &["c"]))
                    .with(ids("RemoveList", &["z"])),
            )
            .with(Element::new("GrantList").with(ids("AddList", &["g"])));
        let p3 = Element::new("BlockEntity-Request")
            .with(Element::new("GrantList").with(ids("AddList", &["h"])))
            .with_text("GrantListInUse", "F");
        let m = merge("BlockEntity-Request", vec![p1, p2, p3], &BLOCK_ENTITY);
        let users = |path: &[&str]| -> Vec<String> {
            m.path(path)
                .map(|l| l.children.iter().map(|c| c.text.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(users(&["BlockList", "AddList"]), ["a", "b", "c"]);
        assert_eq!(users(&["BlockList", "RemoveList"]), ["z"]);
        assert_eq!(users(&["GrantList", "AddList"]), ["g", "h"]);
        assert_eq!(m.child_text("BlockListInUse"), Some("T"));
        assert_eq!(m.child_text("GrantListInUse"), Some("F"));
        assert_eq!(m.children_named("BlockList").count(), 1);
        assert_eq!(access_entries_of(&m), (3, 2));
    }

    #[test]
    fn attribute_and_group_parts_keep_every_entry() {
        let a1 = Element::new("CreateAttributeList-Request")
            .with_text("UserID", "a")
            .with_text("UserID", "b")
            .with(Element::new("ContactListIDList").with_text("ContactList", "l1"));
        let a2 = Element::new("CreateAttributeList-Request")
            .with_text("UserID", "c")
            .with(Element::new("ContactListIDList").with_text("ContactList", "l2"))
            .with(Element::new("PresenceSubList"));
        assert_eq!(attribute_entries(&a1) + attribute_entries(&a2), 5);
        let m = merge("CreateAttributeList-Request", vec![a1, a2], &ATTRIBUTE_LIST);
        let users: Vec<&str> = m
            .children_named("UserID")
            .map(|u| u.text.as_str())
            .collect();
        assert_eq!(users, ["a", "b", "c"]);
        assert_eq!(m.path(&["ContactListIDList"]).unwrap().children.len(), 2);
        assert!(m.child("PresenceSubList").is_some());

        let ids = |users: &[&str]| {
            let mut l = Element::new("UserList");
            for u in users {
                l = l.with(Element::new("User").with_text("UserID", *u));
            }
            l
        };
        let g1 = Element::new("MemberAccess-Request")
            .with_text("GroupID", "g")
            .with(Element::new("Admin").with(ids(&["a"])))
            .with(ids(&["u1"]));
        let g2 = Element::new("MemberAccess-Request")
            .with_text("GroupID", "g")
            .with(Element::new("Admin").with(ids(&["b"])))
            .with(Element::new("Mod").with(ids(&["m"])));
        assert_eq!(member_entries(&g1) + member_entries(&g2), 4);
        let m = merge("MemberAccess-Request", vec![g1, g2], &GROUP_MEMBERS);
        assert_eq!(m.path(&["Admin", "UserList"]).unwrap().children.len(), 2);
        assert_eq!(m.path(&["Mod", "UserList"]).unwrap().children.len(), 1);
        assert_eq!(m.child("UserList").unwrap().children.len(), 1);
        assert_eq!(m.children_named("GroupID").count(), 1);
    }
}
