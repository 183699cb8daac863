//! Uploading a long list in parts (GEN-2).
//!
//! A client adds more members than fit in one message by sending several
//! ListManage-Requests for the same list, each with part of the AddNickList
//! and `SegmentInfo{SegmentCount N, SegmentID{TransactionID U,
//! SegmentReference k}}`, in the TransactionDescriptor (as for replies) or
//! as a child of the request. U is any ID the client picks for the upload;
//! it is scoped to the session. Parts may come in any order; a part sent
//! again replaces the earlier one. Until all N are in, each part is
//! answered `ListManage-Response{Result 202}` and nothing is applied; the
//! part that completes the set is answered like a single ListManage of the
//! whole list, applied in one store transaction. The other children
//! (RemoveNickList, ContactListProperties, ReceiveList, AuthorizeAndGrant)
//! may ride on any part; a later part's copy wins.
//!
//! Bounds (SEC-1): N is at most `max_upload_parts`; the members buffered
//! may not exceed the list limit (754 at once, the upload dropped);
//! uploads count against the session's segment sets and expire like them;
//! DropSegment-Request{SegmentID{U}} abandons one.

use imps_wire::{Element, Transaction};

use super::segment_store::{Upload, UploadPart};
use crate::CoreError;
use crate::reply::result;
use crate::service::Service;
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

/// One ListManage-Request from the parts, in order.
fn merge(parts: Vec<Element>) -> Element {
    let mut out = Element::new("ListManage-Request");
    let mut add = Element::new("AddNickList");
    for part in parts {
        for c in part.children {
            match c.name.as_str() {
                "AddNickList" => add.children.extend(c.children),
                "ContactList" if out.child("ContactList").is_some() => {}
                _ => {
                    out.children.retain(|x| x.name != c.name);
                    out.children.push(c);
                }
            }
        }
    }
    if !add.children.is_empty() {
        out.children.push(add);
    }
    out
}

impl Service {
    /// A ListManage-Request carrying SegmentInfo.
    pub(crate) async fn list_manage_part(
        &self,
        s: &Session,
        body: &Element,
        info: &Element,
    ) -> Result<Element, CoreError> {
        let cfg = self.lists_cfg();
        let count = info
            .child_u64("SegmentCount")
            .ok_or_else(|| CoreError::BadRequest("SegmentInfo without SegmentCount".into()))?;
        let part = without_info(body);
        if count <= 1 {
            return self.list_manage(s, &part).await;
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
        let wire = body.child_text("ContactList").ok_or_else(|| {
            CoreError::BadRequest("ListManage-Request without ContactList".into())
        })?;
        let id = self.own_list(s, wire)?;
        let max = cfg.max_contacts_per_list;
        let check = |u: &Upload| {
            if u.count != count || u.list != id.name {
                return Err(CoreError::BadParameter(format!(
                    "part {reference} of upload {upload_id} does not match its first part"
                )));
            }
            if u.entries > max {
                return Err(CoreError::TooManyContacts {
                    list: id.wire.clone(),
                    limit: max,
                });
            }
            Ok(())
        };
        let done = self.segments().upload_part(
            UploadPart {
                key: (s.id.clone(), upload_id.to_string()),
                reference,
                body: part,
            },
            Upload::new(id.name.clone(), count),
            check,
            self.now_ms(),
            cfg,
        )?;
        match done {
            None => Ok(Element::new("ListManage-Response").with(result(
                202,
                &format!("Part {reference} of {count} accepted; nothing applied yet"),
            ))),
            Some(parts) => {
                tracing::debug!(session = %s.id, list = %id.wire, count, "upload in parts complete");
                self.list_manage(s, &merge(parts)).await
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        let m = merge(vec![part(&["x", "y"], "F"), part(&["z"], "T")]);
        let add = m.child("AddNickList").unwrap();
        let got: Vec<&str> = add.children.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(got, ["x", "y", "z"]);
        assert_eq!(m.child_text("ReceiveList"), Some("T"));
        assert_eq!(m.children_named("ContactList").count(), 1);
    }
}
