//! Long lists in parts (GEN-1, GEN-3, GEN-4, SEC-1, IOP-1, CFG-1).
//!
//! When a reply to a CSP 1.3 session is larger than the maximum message
//! size that session negotiated (ClientCapability, CFG-1), the long list in
//! it is cut into parts that each fit. The reply carries part 1 and
//! `SegmentInfo{SegmentCount N, SegmentID{TransactionID T, SegmentReference 1}}`;
//! the client fetches part k with `GetSegment-Request{SegmentID{T, k}}`,
//! answered by `GetSegment-Response{Result, SegmentContent{<the reply
//! primitive holding part k>}, SegmentInfo}`, and frees them with
//! `DropSegment-Request{SegmentID{T}}`. Each part is a complete primitive
//! of the original kind, so a client reads every part with the same code
//! and joins the lists.
//!
//! SEC-1: T is a fresh 128-bit random token, and a set of parts answers
//! only the session it was made for; anything else (another session, an
//! expired or dropped set) is 420, the same answer as a token that never
//! existed. Sets expire, each session holds a bounded number of them, and
//! all sessions' parts share a byte budget; the oldest go first.
//!
//! IOP-1: sessions below 1.3, or that never negotiated a size, or that did
//! not agree the SGMNT function, get the whole reply as before. Splitting
//! is transport-independent (GEN-4): it happens on the element tree, before
//! any encoding. Instant messages are never split (GEN-3): `NEVER_SPLIT`.
//!
//! `SegmentInfo` belongs in the TransactionDescriptor: the area puts it
//! as the body's last child and `Service::handle` moves it there.

use super::ListsService;
use imps_wire::{Element, Message, Transaction, Version};

use crate::CoreError;
use crate::reply::{ok_result, ok_status};
use crate::session::{FunctionSet, Session, is_implemented};

use super::segment_store::xml_len;

/// GEN-3: primitives carrying an instant message are never split.
const NEVER_SPLIT: [&str; 6] = [
    "NewMessage",
    "SendMessage-Request",
    "SendMessage-Response",
    "GetMessage-Response",
    "MessageNotification",
    "ForwardMessage-Request",
];

/// Slack for what the size estimate cannot see (the Poll flag, a longer
/// TransactionID than the one measured, an ExtBlock).
const ENVELOPE_SLACK: usize = 128;

/// Digits of a SegmentCount/SegmentReference we reserve when measuring.
const MAX_NUMBER: u64 = 999_999;

/// `SegmentInfo{SegmentCount, SegmentID{TransactionID, SegmentReference}}`.
pub(crate) fn segment_info(token: &str, count: u64, reference: u64) -> Element {
    Element::new("SegmentInfo")
        .with_text("SegmentCount", count.to_string())
        .with(
            Element::new("SegmentID")
                .with_text("TransactionID", token)
                .with_text("SegmentReference", reference.to_string()),
        )
}

/// `SegmentID{TransactionID, SegmentReference?}` of a Get/DropSegment.
fn segment_id(body: &Element) -> Result<(String, Option<u64>), CoreError> {
    let id = body
        .child("SegmentID")
        .ok_or_else(|| CoreError::BadRequest(format!("{} without SegmentID", body.name)))?;
    let tid = id
        .child_text("TransactionID")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CoreError::BadRequest("SegmentID without TransactionID".into()))?;
    Ok((tid.to_string(), id.child_u64("SegmentReference")))
}

fn descend_mut<'a>(mut e: &'a mut Element, path: &[&str]) -> Option<&'a mut Element> {
    for n in path {
        e = e.child_mut(n)?;
    }
    Some(e)
}

/// The body without the items at `paths`, where they were, and the items
/// (with the index of their path).
fn take_items(
    mut body: Element,
    paths: &[&[&str]],
) -> (Element, Vec<usize>, Vec<(usize, Element)>) {
    let mut holes = vec![0; paths.len()];
    let mut items = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let Some((item, parent)) = p.split_last() else {
            continue;
        };
        let Some(parent) = descend_mut(&mut body, parent) else {
            continue;
        };
        holes[i] = parent
            .children
            .iter()
            .position(|c| c.name == *item)
            .unwrap_or(parent.children.len());
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut parent.children)
            .into_iter()
            .partition(|c| c.name == *item);
        parent.children = kept;
        items.extend(taken.into_iter().map(|t| (i, t)));
    }
    (body, holes, items)
}

/// The skeleton with one part's items put back where they were.
fn fill(
    skeleton: &Element,
    paths: &[&[&str]],
    holes: &[usize],
    part: Vec<(usize, Element)>,
) -> Element {
    let mut e = skeleton.clone();
    let mut by_path: Vec<Vec<Element>> = vec![Vec::new(); paths.len()];
    for (i, item) in part {
        by_path[i].push(item);
    }
    for (i, items) in by_path.into_iter().enumerate().rev() {
        let Some((_, parent)) = paths[i].split_last() else {
            continue;
        };
        if let Some(parent) = descend_mut(&mut e, parent) {
            let at = holes[i].min(parent.children.len());
            parent.children.splice(at..at, items);
        }
    }
    e
}

impl ListsService {
    /// The largest message this session may get, when it may get a reply
    /// in parts at all (IOP-1): CSP 1.3, a negotiated size, SGMNT usable.
    fn segment_limit(&self, s: &Session) -> Option<usize> {
        if s.version != Version::V1_3 || !is_implemented("SGMNT") {
            return None;
        }
        if !FunctionSet::available(s.version, &self.base.cfg.disabled_functions).contains("SGMNT") {
            return None;
        }
        let (max, agreed) = s.with_state(|st| {
            (
                st.caps.as_ref().and_then(|c| c.max_message_size()),
                st.agreed().is_none_or(|a| a.contains("SGMNT")),
            )
        });
        max.filter(|_| agreed).and_then(|m| usize::try_from(m).ok())
    }

    /// Splits `body` when it is too large for the session (see the module
    /// doc). `list_paths` name the repeated elements that may be spread
    /// over parts, e.g. `&[&["NickList", "NickName"]]`; several paths are
    /// filled one after the other. Reusable by any area's list replies.
    pub(crate) fn segment_reply(
        &self,
        s: &Session,
        body: Element,
        list_paths: &[&[&str]],
    ) -> Result<Element, CoreError> {
        let Some(max) = self.segment_limit(s) else {
            return Ok(body);
        };
        if NEVER_SPLIT.contains(&body.name.as_str()) {
            return Ok(body);
        }
        let overhead = envelope_overhead(s);
        let v = s.version;
        if wire_len(&body, v) + overhead <= max {
            return Ok(body);
        }
        let (skeleton, holes, items) = take_items(body.clone(), list_paths);
        if items.len() < 2 {
            return Ok(body);
        }
        let token = crate::ids::random_token()?;
        let wrapper = get_segment_response(skeleton.clone(), &token, MAX_NUMBER, MAX_NUMBER);
        let budget = max.saturating_sub(overhead + wire_len(&wrapper, v));
        let mut parts: Vec<Vec<(usize, Element)>> = vec![Vec::new()];
        let mut used = 0;
        for (i, item) in items {
            let size = wire_len(&item, v);
            let full = parts.last().is_some_and(|p| !p.is_empty()) && used + size > budget;
            if full {
                parts.push(Vec::new());
                used = 0;
            }
            used += size;
            if let Some(p) = parts.last_mut() {
                p.push((i, item));
            }
        }
        if parts.len() < 2 {
            return Ok(body);
        }
        let parts: Vec<Element> = parts
            .into_iter()
            .map(|p| fill(&skeleton, list_paths, &holes, p))
            .collect();
        let count = parts.len() as u64;
        let Some(first) = parts.first().cloned() else {
            return Ok(body);
        };
        let first = first.with(segment_info(&token, count, 1));
        tracing::debug!(session = %crate::ids::log_tag(&s.id), primitive = %first.name, count, max, "reply split into parts");
        self.segments()
            .insert_set(token, &s.id, parts, self.base.now_ms(), self.lists_cfg());
        Ok(first)
    }

    /// GetSegment-Request: part k of one of this session's split replies.
    pub(crate) fn get_segment(&self, s: &Session, body: &Element) -> Result<Element, CoreError> {
        let (token, reference) = segment_id(body)?;
        let reference = reference
            .ok_or_else(|| CoreError::BadRequest("SegmentID without SegmentReference".into()))?;
        let (part, count) = self
            .segments()
            .part(&s.id, &token, reference, self.base.now_ms())?;
        Ok(get_segment_response(part, &token, count, reference))
    }

    /// DropSegment-Request: forget a split reply, or an unfinished upload.
    pub(crate) fn drop_segment(&self, s: &Session, body: &Element) -> Result<Element, CoreError> {
        let (token, _) = segment_id(body)?;
        if !self.segments().drop_id(&s.id, &token, self.base.now_ms()) {
            return Err(CoreError::UnknownSegment(token));
        }
        Ok(ok_status())
    }
}

fn get_segment_response(part: Element, token: &str, count: u64, reference: u64) -> Element {
    Element::new("GetSegment-Response")
        .with(ok_result())
        .with(Element::new("SegmentContent").with(part))
        .with(segment_info(token, count, reference))
}

/// An element's size as XML on the wire: the message encoder gives every
/// PresenceSubList the presence namespace (an xmlns attribute), which a
/// bare element's encoding does not show.
fn wire_len(e: &Element, v: Version) -> usize {
    fn sub_lists(e: &Element) -> usize {
        usize::from(e.name == "PresenceSubList" && e.xmlns().is_none())
            + e.children.iter().map(sub_lists).sum::<usize>()
    }
    let attr = " xmlns=\"\"".len() + v.pa_ns().len();
    xml_len(e) + sub_lists(e) * attr
}

/// Bytes the envelope adds around a reply body for this session, as XML
/// (WBXML is always smaller, so this is conservative for both).
fn envelope_overhead(s: &Session) -> usize {
    let body = Element::new("X");
    let tx = Transaction::response(Some("0".repeat(16)), body.clone());
    let msg = Message::single(s.version, Some(s.id.clone()), tx);
    let whole = imps_wire::encode(&msg, imps_wire::Encoding::Xml).map_or(1024, |b| b.len());
    whole.saturating_sub(xml_len(&body)) + ENVELOPE_SLACK
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parts_put_items_back_where_they_were() {
        let body = Element::new("GetList-Response")
            .with_text("ContactList", "a")
            .with_text("ContactList", "b")
            .with_text("DefaultContactList", "d");
        let paths: &[&[&str]] = &[&["ContactList"]];
        let (skel, holes, items) = take_items(body.clone(), paths);
        assert_eq!(skel.children.len(), 1);
        assert_eq!(items.len(), 2);
        assert_eq!(fill(&skel, paths, &holes, items), body);
    }

    #[test]
    fn gen_3_instant_messages_are_never_split() {
        for name in ["NewMessage", "SendMessage-Request", "GetMessage-Response"] {
            assert!(NEVER_SPLIT.contains(&name));
        }
    }
}
