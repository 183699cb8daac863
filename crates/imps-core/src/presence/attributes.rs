//! The presence attributes (BASE-PRES), sets of them, and a user's stored
//! attribute instances with their per-version views.
//!
//! Attributes are kept as the elements the client sent (one subtree per
//! instance), so values we do not model survive. In 1.3 an attribute may
//! have one instance per client (a `ClientID` child); readers on 1.1/1.2 see
//! one instance without ClientID, the most recently updated one.

use imps_wire::{Element, Version};

use crate::CoreError;

macro_rules! attrs {
    ($( $v:ident = $name:literal, multi: $multi:literal, location: $loc:literal, since: $since:ident; )*) => {
        /// One presence attribute. Declared in `PresenceSubList` schema order,
        /// which is the order we write them in.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) enum Attr { $( $v, )* }

        impl Attr {
            pub(crate) const ALL: &'static [Attr] = &[ $( Attr::$v, )* ];

            pub(crate) fn name(self) -> &'static str {
                match self { $( Attr::$v => $name, )* }
            }

            pub(crate) fn from_name(name: &str) -> Option<Attr> {
                match name { $( $name => Some(Attr::$v), )* _ => None }
            }

            /// 1.3 allows several instances, one per client.
            pub(crate) fn multi(self) -> bool {
                match self { $( Attr::$v => $multi, )* }
            }

            /// Location has its own authorization (PRR-UC).
            pub(crate) fn is_location(self) -> bool {
                match self { $( Attr::$v => $loc, )* }
            }

            pub(crate) fn since(self) -> Version {
                match self { $( Attr::$v => Version::$since, )* }
            }
        }
    };
}

attrs! {
    OnlineStatus = "OnlineStatus", multi: true, location: false, since: V1_1;
    Registration = "Registration", multi: true, location: false, since: V1_1;
    ClientInfo = "ClientInfo", multi: true, location: false, since: V1_1;
    TimeZone = "TimeZone", multi: true, location: false, since: V1_1;
    GeoLocation = "GeoLocation", multi: true, location: true, since: V1_1;
    Address = "Address", multi: true, location: true, since: V1_1;
    FreeTextLocation = "FreeTextLocation", multi: true, location: true, since: V1_1;
    Plmn = "PLMN", multi: true, location: false, since: V1_1;
    CommCap = "CommCap", multi: true, location: false, since: V1_1;
    UserAvailability = "UserAvailability", multi: false, location: false, since: V1_1;
    PreferredContacts = "PreferredContacts", multi: false, location: false, since: V1_1;
    PreferredLanguage = "PreferredLanguage", multi: false, location: false, since: V1_1;
    StatusText = "StatusText", multi: false, location: false, since: V1_1;
    StatusMood = "StatusMood", multi: false, location: false, since: V1_1;
    Alias = "Alias", multi: false, location: false, since: V1_1;
    StatusContent = "StatusContent", multi: false, location: false, since: V1_1;
    ContactInfo = "ContactInfo", multi: false, location: false, since: V1_1;
    InfoLink = "InfoLink", multi: false, location: false, since: V1_2;
}

impl Attr {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of attributes, as a bit set: subscriptions and grants of many
/// watchers stay a few bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct AttrSet(u32);

impl AttrSet {
    pub(crate) const EMPTY: AttrSet = AttrSet(0);

    /// Every attribute, location included.
    pub(crate) fn all() -> AttrSet {
        Attr::ALL.iter().copied().collect()
    }

    /// What "all attributes" means in a grant: everything but location,
    /// which must be named to be granted (PRR-UC).
    pub(crate) fn all_but_location() -> AttrSet {
        Attr::ALL
            .iter()
            .copied()
            .filter(|a| !a.is_location())
            .collect()
    }

    pub(crate) fn only(a: Attr) -> AttrSet {
        AttrSet(a.bit())
    }

    pub(crate) fn contains(self, a: Attr) -> bool {
        self.0 & a.bit() != 0
    }

    pub(crate) fn insert(&mut self, a: Attr) {
        self.0 |= a.bit();
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn union(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 | o.0)
    }

    pub(crate) fn intersect(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 & o.0)
    }

    pub(crate) fn minus(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 & !o.0)
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Attr> {
        Attr::ALL.iter().copied().filter(move |a| self.contains(*a))
    }

    pub(crate) fn names(self) -> Vec<String> {
        self.iter().map(|a| a.name().to_string()).collect()
    }

    /// From stored names; names this build does not know are skipped.
    pub(crate) fn from_names<S: AsRef<str>>(names: &[S]) -> AttrSet {
        names
            .iter()
            .filter_map(|n| Attr::from_name(n.as_ref()))
            .collect()
    }

    /// Parses the attribute names of a request's `PresenceSubList`
    /// (`<OnlineStatus/>` ...). `None` when there is none or it is empty.
    /// An unknown name is 750.
    pub(crate) fn from_request(list: Option<&Element>) -> Result<Option<AttrSet>, CoreError> {
        let Some(list) = list else {
            return Ok(None);
        };
        let mut set = AttrSet::EMPTY;
        for c in &list.children {
            let a = Attr::from_name(&c.name)
                .ok_or_else(|| CoreError::UnknownAttribute(c.name.to_string()))?;
            set.insert(a);
        }
        Ok(if set.is_empty() { None } else { Some(set) })
    }

    /// `PresenceSubList{<Attr/>...}` naming the attributes (for requests
    /// we send and attribute lists we return).
    pub(crate) fn to_name_list(self, v: Version) -> Element {
        let mut e = Element::new("PresenceSubList");
        for a in self.iter().filter(|a| a.since() <= v) {
            e.children.push(Element::new(a.name()));
        }
        e
    }
}

impl FromIterator<Attr> for AttrSet {
    fn from_iter<I: IntoIterator<Item = Attr>>(it: I) -> AttrSet {
        let mut s = AttrSet::EMPTY;
        for a in it {
            s.insert(a);
        }
        s
    }
}

/// Children of ClientInfo that only 1.3 defines; older readers do not get them.
const CLIENT_INFO_13_ONLY: &[&str] = &["ClientContentLimit", "ClientIMPriority", "ApplicationID"];

/// Most instances of one attribute (one per client); beyond it the oldest
/// goes. A user has at most a handful of clients (GEN-16 caps sessions).
pub(crate) const MAX_INSTANCES: usize = 16;

/// One stored attribute instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    pub attr: Attr,
    /// The ClientID key it belongs to ("" when it names none).
    pub client: String,
    pub elem: Element,
}

/// The comparable key of a `ClientID` child: its URL, else its MSISDN.
pub(crate) fn client_id_key(e: &Element) -> String {
    e.child("ClientID")
        .and_then(|c| {
            c.child_text("URL")
                .filter(|s| !s.is_empty())
                .or_else(|| c.child_text("MSISDN").filter(|s| !s.is_empty()))
                .or(Some(c.text.trim()))
        })
        .unwrap_or("")
        .to_string()
}

/// What one UpdatePresence asks for, validated before anything changes.
pub(crate) struct Update {
    /// Instances to set, in request order.
    pub set: Vec<Instance>,
    /// Instances to remove (an empty attribute element): (attr, client).
    pub clear: Vec<(Attr, String)>,
    /// A client-sent OnlineStatus value: `false` = appear offline.
    pub online: Option<bool>,
}

impl Update {
    /// Validates an UpdatePresence's PresenceSubList: every child must be a
    /// known attribute (750), and an attribute with a value must carry a
    /// boolean Qualifier (751).
    pub(crate) fn parse(list: &Element) -> Result<Update, CoreError> {
        let mut up = Update {
            set: Vec::new(),
            clear: Vec::new(),
            online: None,
        };
        for c in &list.children {
            let attr = Attr::from_name(&c.name)
                .ok_or_else(|| CoreError::UnknownAttribute(c.name.to_string()))?;
            let client = client_id_key(c);
            let has_value = !c.text.trim().is_empty()
                || c.children
                    .iter()
                    .any(|x| x.name != "Qualifier" && x.name != "ClientID");
            if !has_value {
                // An attribute without a value (at most a Qualifier) clears
                // that client's instance, or every instance without ClientID.
                up.clear.push((attr, client));
                continue;
            }
            if c.child_bool("Qualifier").is_none() {
                return Err(CoreError::InvalidPresenceValue(format!(
                    "{} without a T/F Qualifier",
                    attr.name()
                )));
            }
            if attr == Attr::OnlineStatus {
                let v = c.child_bool("PresenceValue").ok_or_else(|| {
                    CoreError::InvalidPresenceValue(
                        "OnlineStatus PresenceValue must be T or F".into(),
                    )
                })?;
                up.online = Some(v);
                continue;
            }
            let mut elem = c.clone();
            elem.attrs.clear();
            up.set.push(Instance { attr, client, elem });
        }
        Ok(up)
    }
}

/// A user's stored attributes (everything but OnlineStatus), oldest update
/// first, so "the latest instance" is the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PresenceDoc {
    pub instances: Vec<Instance>,
}

impl PresenceDoc {
    /// Applies a validated update; returns the attributes that changed.
    pub(crate) fn apply(&mut self, up: &Update) -> AttrSet {
        let before = self.clone();
        for (attr, client) in &up.clear {
            self.instances
                .retain(|i| !(i.attr == *attr && (client.is_empty() || i.client == *client)));
        }
        for new in &up.set {
            // A single-instance attribute has one value whatever the client.
            self.instances
                .retain(|i| !(i.attr == new.attr && (!new.attr.multi() || i.client == new.client)));
            self.instances.push(new.clone());
            let count = self.instances.iter().filter(|i| i.attr == new.attr).count();
            let oldest = self.instances.iter().position(|i| i.attr == new.attr);
            if let Some(pos) = oldest.filter(|_| count > MAX_INSTANCES) {
                self.instances.remove(pos);
            }
        }
        Attr::ALL
            .iter()
            .copied()
            .filter(|a| before.of(*a).ne(self.of(*a)))
            .collect()
    }

    fn of(&self, a: Attr) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(move |i| i.attr == a)
    }

    /// The stored form: the XML of a PresenceSubList holding every instance.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut root = Element::new("PresenceSubList");
        root.children = self.instances.iter().map(|i| i.elem.clone()).collect();
        imps_wire::xml::encode(&root)
    }

    /// Reads the stored form back. Something unreadable (written by a
    /// broken build) is logged and treated as "no attributes".
    pub(crate) fn decode(bytes: &[u8], user: &str) -> PresenceDoc {
        let limits = imps_wire::Limits::default();
        match imps_wire::xml::decode(bytes, &limits) {
            Ok(root) => PresenceDoc {
                instances: root
                    .children
                    .into_iter()
                    .filter_map(|elem| {
                        let attr = Attr::from_name(&elem.name)?;
                        Some(Instance {
                            attr,
                            client: client_id_key(&elem),
                            elem,
                        })
                    })
                    .collect(),
            },
            Err(e) => {
                tracing::warn!(user, error = %e, "stored presence unreadable; starting empty");
                PresenceDoc::default()
            }
        }
    }
}

/// Whether a user is shown online, and by which clients (1.3 readers see
/// one OnlineStatus per ready client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OnlineView {
    /// The ClientIDs of the ready sessions, by key; empty = offline.
    /// Copies of the sessions' own (`Session::client`): one string each
    /// for the usual shapes (issue 19).
    pub clients: Vec<crate::session::ClientIdent>,
}

fn online_elem(value: bool, client: Option<Element>) -> Element {
    Element::new("OnlineStatus")
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", if value { "T" } else { "F" })
        .with_opt(client)
}

/// The `PresenceSubList` a reader of version `v` sees: the attributes in
/// `mask`, in schema order; 1.3 readers get every instance, older readers
/// the latest one without ClientID. An attribute in both `mask` and
/// `cleared` that has no value any more is sent as `<Attr><Qualifier>F`,
/// so a watcher told about a change learns that it was removed.
pub(crate) fn render(
    doc: &PresenceDoc,
    online: &OnlineView,
    v: Version,
    mask: AttrSet,
    cleared: AttrSet,
) -> Element {
    let mut list = Element::new("PresenceSubList");
    for a in mask.iter().filter(|a| a.since() <= v) {
        if a == Attr::OnlineStatus {
            if v >= Version::V1_3 && !online.clients.is_empty() {
                for c in &online.clients {
                    list.children.push(online_elem(true, Some(c.to_element(v))));
                }
            } else {
                list.children
                    .push(online_elem(!online.clients.is_empty(), None));
            }
            continue;
        }
        if v >= Version::V1_3 && doc.of(a).next().is_some() {
            list.children.extend(doc.of(a).map(|i| i.elem.clone()));
        } else if let Some(latest) = doc.of(a).last() {
            let mut e = latest.elem.clone();
            e.children.retain(|c| c.name != "ClientID");
            if a == Attr::ClientInfo {
                e.children
                    .retain(|c| !CLIENT_INFO_13_ONLY.contains(&c.name.as_str()));
            }
            list.children.push(e);
        } else if cleared.contains(a) && doc.of(a).next().is_none() {
            list.children
                .push(Element::new(a.name()).with_text("Qualifier", "F"));
        }
    }
    list
}

/// A 1.3 `PresenceSubList` (as a peer domain sends it) as a reader of
/// version `v` sees it: attributes that version lacks left out, and for
/// 1.1/1.2 one instance per attribute (the last), without ClientID, and
/// one OnlineStatus, T when any client is online.
pub(crate) fn for_version(list: &Element, v: Version) -> Element {
    let mut out = Element::new("PresenceSubList");
    if v >= Version::V1_3 {
        out.children = list
            .children
            .iter()
            .filter(|c| Attr::from_name(c.name.as_str()).is_some())
            .cloned()
            .collect();
        return out;
    }
    for a in Attr::ALL.iter().copied().filter(|a| a.since() <= v) {
        let all = list.children_named(a.name());
        if a == Attr::OnlineStatus {
            let items: Vec<&Element> = all.collect();
            if items.is_empty() {
                continue;
            }
            let on = items.iter().any(|e| {
                e.child_text("Qualifier") == Some("T") && e.child_text("PresenceValue") == Some("T")
            });
            out.children.push(online_elem(on, None));
            continue;
        }
        if let Some(last) = all.last() {
            let mut e = last.clone();
            e.children.retain(|c| c.name != "ClientID");
            if a == Attr::ClientInfo {
                e.children
                    .retain(|c| !CLIENT_INFO_13_ONLY.contains(&c.name.as_str()));
            }
            out.children.push(e);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text_attr(name: &str, value: &str, client: Option<&str>) -> Element {
        Element::new(name)
            .with_text("Qualifier", "T")
            .with_text("PresenceValue", value)
            .with_opt(client.map(|c| Element::new("ClientID").with_text("URL", c)))
    }

    #[test]
    fn unknown_attribute_is_750_missing_qualifier_751() {
        let bad = Element::new("PresenceSubList").with(Element::new("Mood"));
        assert_eq!(
            Update::parse(&bad).err().map(|e| e.status_code()),
            Some(750)
        );
        let noq = Element::new("PresenceSubList")
            .with(Element::new("StatusText").with_text("PresenceValue", "x"));
        assert_eq!(
            Update::parse(&noq).err().map(|e| e.status_code()),
            Some(751)
        );
    }

    #[test]
    fn instances_per_client_and_views_per_version() {
        let mut doc = PresenceDoc::default();
        let up = Update::parse(
            &Element::new("PresenceSubList")
                .with(text_attr("FreeTextLocation", "home", Some("phone")))
                .with(text_attr("FreeTextLocation", "office", Some("pc")))
                .with(text_attr("StatusText", "hi", None)),
        )
        .unwrap();
        let changed = doc.apply(&up);
        assert!(changed.contains(Attr::FreeTextLocation) && changed.contains(Attr::StatusText));
        assert!(
            doc.apply(&up).is_empty(),
            "same values again change nothing"
        );
        let online = OnlineView::default();
        let v13 = render(&doc, &online, Version::V1_3, AttrSet::all(), AttrSet::EMPTY);
        assert_eq!(v13.children_named("FreeTextLocation").count(), 2);
        let v12 = render(&doc, &online, Version::V1_2, AttrSet::all(), AttrSet::EMPTY);
        let only: Vec<_> = v12.children_named("FreeTextLocation").collect();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].child_text("PresenceValue"), Some("office"));
        assert!(only[0].child("ClientID").is_none());
        assert_eq!(
            v12.child("OnlineStatus")
                .and_then(|o| o.child_text("PresenceValue")),
            Some("F")
        );
        let back = PresenceDoc::decode(&doc.encode(), "u");
        assert_eq!(back, doc);
    }

    #[test]
    fn all_but_location_leaves_location_out() {
        let s = AttrSet::all_but_location();
        assert!(s.contains(Attr::OnlineStatus) && !s.contains(Attr::GeoLocation));
        assert!(!s.contains(Attr::Address) && !s.contains(Attr::FreeTextLocation));
    }
}
