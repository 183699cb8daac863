//! Round trips: Message -> XML -> Message is the identity for every example
//! and for random messages, and the encoder's output reads the same in an
//! independent XML parser (roxmltree).

use crate::xml_common;

use imps_wire::{
    Attr, Element, Limits, Message, PrimitiveKind, SessionType, Transaction, TransactionMode,
    Version, xml,
};
use proptest::prelude::*;
use xml_common::{all_examples, xml_round_trip};

#[test]
fn every_example_round_trips_in_every_version() {
    let all = all_examples();
    assert!(all.len() > 140, "only {} examples", all.len());
    for (v, name, msg) in all {
        match xml_round_trip(&msg) {
            Ok(back) => assert_eq!(back, msg, "{v}/{name}"),
            Err(e) => panic!("{v}/{name}: {e}"),
        }
    }
}

#[test]
fn every_example_reads_the_same_in_roxmltree() {
    for (v, name, msg) in all_examples() {
        let root = msg.to_element();
        let bytes = xml::encode(&root);
        let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{v}/{name}: {e}"));
        let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{v}/{name}: {e}"));
        assert_eq!(
            from_roxml(doc.root_element()),
            without_attrs(&root),
            "{v}/{name}"
        );
        // The namespaces land where the version says.
        let r = doc.root_element();
        assert_eq!(r.tag_name().namespace(), Some(v.csp_ns()), "{v}/{name}");
        for n in doc
            .descendants()
            .filter(|n| n.has_tag_name("TransactionContent"))
        {
            assert_eq!(n.tag_name().namespace(), Some(v.trc_ns()), "{v}/{name}");
        }
        for n in doc
            .descendants()
            .filter(|n| n.has_tag_name("PresenceSubList"))
        {
            assert_eq!(n.tag_name().namespace(), Some(v.pa_ns()), "{v}/{name}");
        }
    }
}

/// roxmltree's view as an Element without attributes (it reports xmlns
/// declarations separately; attribute values are compared elsewhere).
fn from_roxml(n: roxmltree::Node) -> Element {
    let mut e = Element::new(n.tag_name().name());
    for c in n.children() {
        if c.is_element() {
            e.children.push(from_roxml(c));
        } else if let Some(t) = c.text() {
            e.text.push_str(t);
        }
    }
    if !e.children.is_empty() && e.text.trim().is_empty() {
        e.text.clear();
    }
    e
}

fn without_attrs(e: &Element) -> Element {
    Element {
        name: e.name.clone(),
        attrs: Vec::new(),
        text: e.text.clone(),
        children: e.children.iter().map(without_attrs).collect(),
    }
}

// ---- random messages ----------------------------------------------------

/// Element names used in the CSP structures (csp-structures.md), a sample.
const NAMES: &[&str] = &[
    "UserID",
    "ClientID",
    "URL",
    "MSISDN",
    "Password",
    "DigestSchema",
    "SessionCookie",
    "Result",
    "Code",
    "Description",
    "DetailedResult",
    "Nonce",
    "KeepAliveTime",
    "CapabilityRequest",
    "Functions",
    "AllFunctions",
    "WVCSPFeat",
    "FundamentalFeat",
    "PresenceFeat",
    "IMFeat",
    "GroupFeat",
    "ServiceFunc",
    "GETSPI",
    "CapabilityList",
    "AgreedCapabilityList",
    "SupportedCIRMethod",
    "TCPAddress",
    "TCPPort",
    "ServerPollMin",
    "PresenceSubList",
    "OnlineStatus",
    "UserAvailability",
    "StatusText",
    "Qualifier",
    "PresenceValue",
    "ClientInfo",
    "ClientType",
    "Presence",
    "User",
    "UserList",
    "UserIDList",
    "ContactList",
    "ContactListIDList",
    "DefaultContactList",
    "NickList",
    "NickName",
    "Name",
    "Value",
    "Property",
    "ContactListProperties",
    "ReceiveList",
    "MessageInfo",
    "MessageID",
    "ContentType",
    "ContentSize",
    "ContentData",
    "Recipient",
    "Sender",
    "DateTime",
    "GroupID",
    "ScreenName",
    "SName",
    "GroupProperties",
    "Joined",
    "Left",
    "UserMapList",
    "UserMapping",
    "Mapping",
    "InviteID",
    "InviteType",
    "InviteNote",
    "SearchPairList",
    "SearchElement",
    "SearchString",
    "SearchID",
    "SearchResult",
    "BlockList",
    "GrantList",
    "EntityList",
    "AddList",
    "InUse",
    "SegmentID",
    "SegmentReference",
    "SystemMessage",
    "AnswerOption",
    "ExtBlock",
    "Font",
    "Color",
    "TransactionID",
    "SessionID",
    "SessionType",
    "TransactionMode",
];

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Any text XML can carry, biased towards characters that need escaping.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '&', '<', '>', '"', '\'', '\r', '\n', '\t', ' ', ']', ';', '#', 'é', '€', '🙂', '\u{FFFD}',
        '\u{85}', '\u{2028}', '\u{A0}',
    ]);
    let ch = prop_oneof![3 => any::<char>(), 2 => special, 3 => prop::char::range('a', 'z')];
    prop::collection::vec(ch, 0..24)
        .prop_map(|cs| cs.into_iter().filter(|c| is_xml_char(*c)).collect())
}

/// Identifiers the envelope trims on read: no surrounding whitespace.
fn ident() -> impl Strategy<Value = String> {
    "[!-~éПğ中🙂]{0,20}"
}

fn attrs() -> impl Strategy<Value = Vec<Attr>> {
    let name = prop::sample::select(vec!["xmlns", "xmlns:xsi", "xsi:type", "id", "a-b.c"]);
    prop::collection::vec((name, text()), 0..3).prop_map(|pairs| {
        let mut e = Element::new("x");
        for (n, v) in pairs {
            e.set_attr(n, v);
        }
        e.attrs
    })
}

/// A random element: a leaf with (possibly empty) text, or an element with
/// children and no text. No mixed content.
fn element() -> impl Strategy<Value = Element> {
    let name = prop::sample::select(NAMES.to_vec());
    let leaf = (name.clone(), attrs(), text()).prop_map(|(n, attrs, text)| Element {
        name: n.into(),
        attrs,
        text,
        children: Vec::new(),
    });
    leaf.prop_recursive(4, 48, 5, move |inner| {
        (name.clone(), attrs(), prop::collection::vec(inner, 1..5)).prop_map(
            |(n, attrs, children)| Element {
                name: n.into(),
                attrs,
                text: String::new(),
                children,
            },
        )
    })
}

fn body() -> impl Strategy<Value = Element> {
    let kind = prop::sample::select(PrimitiveKind::ALL.to_vec());
    let content = prop_oneof![
        prop::collection::vec(element(), 0..5).prop_map(|c| (String::new(), c)),
        text().prop_map(|t| (t, Vec::new())),
    ];
    (kind, content).prop_map(|(k, (text, children))| Element {
        name: k.name().into(),
        attrs: Vec::new(),
        text,
        children,
    })
}

fn transaction() -> impl Strategy<Value = Transaction> {
    let segment = prop::option::of(prop::collection::vec(element(), 0..3));
    let ext = prop::collection::vec(element(), 0..2);
    (
        any::<bool>(),
        prop::option::of(ident()),
        segment,
        body(),
        ext,
    )
        .prop_map(|(response, id, segment, body, ext)| Transaction {
            mode: if response {
                TransactionMode::Response
            } else {
                TransactionMode::Request
            },
            id,
            segment_info: segment.map(|children| Element {
                children,
                ..Element::new("SegmentInfo")
            }),
            body,
            ext,
        })
}

fn message() -> impl Strategy<Value = Message> {
    // Session-level extras must not reuse the names the envelope reads.
    let extra = element().prop_filter("envelope name", |e| {
        !matches!(
            e.name.as_str(),
            "SessionDescriptor" | "Transaction" | "Poll" | "CIR"
        )
    });
    (
        prop::sample::select(Version::ALL.to_vec()),
        any::<bool>(),
        prop::option::of(ident()),
        prop::collection::vec(transaction(), 1..4),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::collection::vec(extra, 0..2),
    )
        .prop_map(
            |(version, inband, session_id, transactions, poll, cir, session_extra)| Message {
                version,
                session_type: if inband {
                    SessionType::Inband
                } else {
                    SessionType::Outband
                },
                session_id,
                transactions,
                poll,
                // 1.1 has no CIR flag, so it cannot survive a 1.1 round trip.
                cir: if version == Version::V1_1 { None } else { cir },
                session_extra,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_messages_round_trip(msg in message()) {
        match xml_round_trip(&msg) {
            Ok(back) => prop_assert_eq!(back, msg),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    /// Element -> XML -> Element, and the encoding reads the same in
    /// roxmltree, attribute values included (no prefixed attribute names
    /// here: roxmltree insists on declared prefixes).
    #[test]
    fn random_elements_round_trip_and_agree_with_roxmltree(e in element()) {
        let bytes = xml::encode(&e);
        let back = xml::decode(&bytes, &Limits::default());
        prop_assert_eq!(back.as_ref(), Ok(&e));
        let text = String::from_utf8(bytes.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if walk(&e).iter().any(|e| e.attrs.iter().any(|a| a.name.contains(':'))) {
            return Ok(());
        }
        let doc = roxmltree::Document::parse(&text);
        let doc = doc.map_err(|err| TestCaseError::fail(format!("{err}: {text}")))?;
        prop_assert_eq!(from_roxml(doc.root_element()), without_attrs(&e));
        for (ours, theirs) in walk(&e).into_iter().zip(doc.root_element().descendants().filter(|n| n.is_element())) {
            for a in ours.attrs.iter().filter(|a| !a.name.starts_with("xmlns")) {
                prop_assert_eq!(theirs.attribute(a.name.as_str()), Some(a.value.as_str()));
            }
        }
    }
}

/// Elements in document order.
fn walk(e: &Element) -> Vec<&Element> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        out.push(e);
        stack.extend(e.children.iter().rev());
    }
    out
}
