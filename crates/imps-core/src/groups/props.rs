//! Group properties: their names and values on the wire, validation, and
//! GetGroupProps / SetGroupProps.
//!
//! Names are matched ignoring case (Android and Nokia send `Accesstype`)
//! and stored and sent in one spelling (`AccessType`, the value token).
//! `MinimumAge` (whole years, PPR-9) is our name for the age limit: CSP has
//! no property for it. Unknown properties are ignored, not refused, so a
//! client's vendor property does not fail its whole request.

use super::GroupsService;
use std::sync::Arc;

use imps_wire::Element;
use imps_wire::element::bool_str;

use super::Role;
use crate::CoreError;
use crate::reply::ok_status;
use crate::session::Session;
use crate::store::{GroupRecord, WelcomeNote};

/// Group properties by canonical name.
pub(crate) type Props = Vec<(String, String)>;

/// Longest text property (Name, Topic, DisplayName) in characters.
const MAX_TEXT_PROP: usize = 256;
/// Oldest minimum age we accept, in years.
const MAX_MIN_AGE: u64 = 150;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Number,
    OneOf(&'static [&'static str]),
    /// Computed by the server; ignored on input.
    ReadOnly,
}

const PROPS: &[(&str, Kind)] = &[
    ("Name", Kind::Text),
    ("Topic", Kind::Text),
    ("DisplayName", Kind::Text),
    ("AccessType", Kind::OneOf(&["Open", "Restricted"])),
    ("Type", Kind::OneOf(&["Public", "Private"])),
    ("PrivateMessaging", Kind::Bool),
    ("Searchable", Kind::Bool),
    ("MaxActiveUsers", Kind::Number),
    ("ActiveUsers", Kind::ReadOnly),
    ("AutoJoin", Kind::Bool),
    ("AutoDelete", Kind::Bool),
    ("Validity", Kind::Number),
    ("History", Kind::Bool),
    ("RequireInvitation", Kind::Bool),
    ("MinimumAge", Kind::Number),
];

/// The stored spelling of a property name, if we know it.
pub(crate) fn canonical_prop(name: &str) -> Option<&'static str> {
    PROPS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(n, _)| *n)
}

/// The value a group has for a property, or its default.
pub(crate) fn effective<'a>(g: &'a GroupRecord, name: &str) -> &'a str {
    g.prop(name).unwrap_or(match name {
        "AccessType" => "Open",
        "Type" => "Public",
        "PrivateMessaging" | "Searchable" | "AutoDelete" | "History" => "F",
        _ => "",
    })
}

pub(crate) fn is_true(g: &GroupRecord, name: &str) -> bool {
    effective(g, name) == "T"
}

/// Validates one property; `None` when it is to be ignored.
fn check(name: &str, value: &str) -> Result<Option<(String, String)>, CoreError> {
    let Some(canon) = canonical_prop(name) else {
        tracing::debug!(property = name, "unknown group property ignored");
        return Ok(None);
    };
    let kind = PROPS
        .iter()
        .find(|(n, _)| *n == canon)
        .map(|(_, k)| *k)
        .unwrap_or(Kind::ReadOnly);
    let v = value.trim();
    let bad = || CoreError::BadGroupProperty(format!("{canon}={v:?}"));
    let out = match kind {
        Kind::ReadOnly => return Ok(None),
        Kind::Text => {
            if value.chars().count() > MAX_TEXT_PROP {
                return Err(bad());
            }
            value.to_string()
        }
        Kind::Bool => {
            let b = imps_wire::element::parse_bool(v).ok_or_else(bad)?;
            if canon == "History" && b {
                return Err(CoreError::HistoryNotSupported);
            }
            bool_str(b).to_string()
        }
        Kind::Number => {
            let n: u64 = v.parse().map_err(|_| bad())?;
            if canon == "MinimumAge" && n > MAX_MIN_AGE {
                return Err(bad());
            }
            n.to_string()
        }
        Kind::OneOf(values) => values
            .iter()
            .find(|x| x.eq_ignore_ascii_case(v))
            .ok_or_else(bad)?
            .to_string(),
    };
    Ok(Some((canon.to_string(), out)))
}

/// The properties and welcome note of a `GroupProperties` element.
/// The note is `None` when absent.
pub(crate) fn parse_group_properties(
    el: &Element,
) -> Result<(Props, Option<WelcomeNote>), CoreError> {
    let mut props: Vec<(String, String)> = Vec::new();
    for p in el.children_named("Property") {
        let name = p.child_text("Name").unwrap_or("");
        let value = p.child("Value").map(|v| v.text.as_str()).unwrap_or("");
        if let Some((n, v)) = check(name, value)? {
            props.retain(|(x, _)| *x != n);
            props.push((n, v));
        }
    }
    let note = el.child("WelcomeNote").map(parse_welcome_note);
    Ok((props, note))
}

/// `WelcomeNote{ContentType?, ContentEncoding?, ContentData}`, or a plain
/// text element (some clients), read as text/plain.
pub(crate) fn parse_welcome_note(el: &Element) -> WelcomeNote {
    if el.children.is_empty() {
        return WelcomeNote {
            content_type: "text/plain".into(),
            encoding: None,
            data: el.text.clone(),
        };
    }
    WelcomeNote {
        content_type: el
            .child_text("ContentType")
            .filter(|t| !t.is_empty())
            .unwrap_or("text/plain")
            .to_string(),
        encoding: el.child_text("ContentEncoding").map(str::to_string),
        data: el
            .child("ContentData")
            .map(|d| d.text.clone())
            .unwrap_or_default(),
    }
}

pub(crate) fn welcome_elem(w: &WelcomeNote) -> Element {
    Element::new("WelcomeNote")
        .with_text("ContentType", w.content_type.clone())
        .with_opt(
            w.encoding
                .as_ref()
                .map(|e| Element::text("ContentEncoding", e.clone())),
        )
        .with_text("ContentData", w.data.clone())
}

pub(crate) fn property(name: &str, value: &str) -> Element {
    Element::new("Property")
        .with_text("Name", name)
        .with_text("Value", value)
}

/// Replaces or adds `new` in `props`, keeping them sorted by name.
pub(crate) fn merge(props: &mut Vec<(String, String)>, new: &[(String, String)]) {
    for (n, v) in new {
        props.retain(|(x, _)| x != n);
        props.push((n.clone(), v.clone()));
    }
    props.sort();
}

/// `GroupProperties{Property*, WelcomeNote?}` with the computed ActiveUsers.
pub(crate) fn group_properties_elem(g: &GroupRecord, active: Option<usize>) -> Element {
    let mut el = Element::new("GroupProperties");
    for (n, v) in &g.props {
        el = el.with(property(n, v));
    }
    if let Some(a) = active {
        el = el.with(property("ActiveUsers", &a.to_string()));
    }
    el.with_opt(g.welcome.as_ref().map(welcome_elem))
}

impl GroupsService {
    /// GetGroupProps-Request: anyone may read a public group's properties
    /// (they are what a search shows); a private group's only its
    /// participants (PGC-15). A restricted group that searches do not
    /// show tells an outsider only that it exists and is restricted (issue
    /// 14): its name, topic and welcome note are for its members.
    /// OwnProperties when the reader is joined.
    pub(crate) async fn get_group_props(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let g = self.visible_group(&gid, &s.user).await?;
        if effective(&g, "AccessType").eq_ignore_ascii_case("Restricted")
            && !is_true(&g, "Searchable")
            && self.role_in(&g, &s.user).await? == Role::Outsider
        {
            return Ok(Element::new("GetGroupProps-Response")
                .with(Element::new("GroupProperties").with(property("AccessType", "Restricted"))));
        }
        let joined = self.base.store.joined(&gid).await?;
        let mut resp = Element::new("GetGroupProps-Response")
            .with(group_properties_elem(&g, Some(joined.len())));
        if let Some(me) = joined.iter().find(|j| j.user == s.user) {
            resp = resp
                .with(Element::new("OwnProperties").with(property("ShowID", bool_str(me.show_id))));
        }
        Ok(resp)
    }

    /// SetGroupProps-Request: group properties need an admin (816
    /// otherwise); in a private group any participant may rename it or
    /// change its topic and welcome note, and nobody may change what makes
    /// it private. OwnProperties (ShowID) need the user joined (808).
    pub(crate) async fn set_group_props(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let mut g = self.visible_group(&gid, &s.user).await?;
        if let Some(own) = body.child("OwnProperties") {
            let show = own
                .children_named("Property")
                .find(|p| {
                    p.child_text("Name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("ShowID"))
                })
                .and_then(|p| p.child_bool("Value"));
            if !self.flags_joined(&gid, &s.user, None, show).await? {
                return Err(CoreError::NotJoined(gid));
            }
        }
        let Some(gp) = body.child("GroupProperties") else {
            return Ok(ok_status());
        };
        let (props, note) = parse_group_properties(gp)?;
        let role = self.role_in(&g, &s.user).await?;
        if g.private {
            let fixed = props.iter().any(|(n, v)| {
                !matches!(n.as_str(), "Name" | "Topic" | "DisplayName") && g.prop(n) != Some(v)
            });
            if fixed || role == Role::Outsider {
                return Err(CoreError::GroupPrivileges(
                    "a private conversation's type and access rules are fixed".into(),
                ));
            }
        } else if role != Role::Admin {
            return Err(CoreError::GroupPrivileges(format!(
                "{} is not an admin of {gid}",
                s.user
            )));
        }
        merge(&mut g.props, &props);
        if note.is_some() {
            g.welcome = note;
        }
        if !self.base.store.update_group(g.clone()).await? {
            return Err(CoreError::GroupNotFound(gid));
        }
        let mut changed = Element::new("GroupProperties");
        for (n, v) in &props {
            changed = changed.with(property(n, v));
        }
        let changed = changed.with_opt(
            g.welcome
                .as_ref()
                .filter(|_| gp.child("WelcomeNote").is_some())
                .map(welcome_elem),
        );
        self.notify_props_changed(&g, changed).await?;
        Ok(ok_status())
    }
}
