//! What the XML decoder accepts and how it reads it: the rules documented
//! in `imps_wire::xml`, one test each, plus documents shaped like real
//! clients' (Android, the Colibria-oriented SMS20 client).

use crate::xml_common;

use imps_wire::{Element, Limits, Message, SessionType, Version, WireError, xml};
use xml_common::parse;

fn err(xml: &str) -> WireError {
    match xml::decode(xml.as_bytes(), &Limits::default()) {
        Ok(e) => panic!("accepted {xml:?} as {e:?}"),
        Err(e) => e,
    }
}

fn is_xml_err(e: &WireError) -> bool {
    matches!(e, WireError::Xml(_))
}

#[test]
fn skips_declaration_comments_and_processing_instructions() {
    let e = parse(
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- c --><?pi x?>\n\
         <A><!-- inside --><B>t<!-- split -->u</B><?pi?></A>\n<!-- after -->\n",
    );
    assert_eq!(e, Element::new("A").with_text("B", "tu"));
}

#[test]
fn cdata_is_text() {
    let e = parse("<A><![CDATA[<b>&amp;]]>x<![CDATA[]]></A>");
    assert_eq!(e.text, "<b>&amp;x");
}

#[test]
fn keeps_local_names_and_attributes_as_written() {
    let e = parse(
        "<wv:A xmlns:wv=\"urn:a\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:type='t &amp; &#x41;&#66;' xmlns=\"urn:d\"><wv:B/></wv:A>",
    );
    assert_eq!(e.name, "A");
    assert_eq!(e.children[0].name, "B");
    let attrs: Vec<(&str, &str)> = e
        .attrs
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(
        attrs,
        [
            ("xmlns:wv", "urn:a"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xsi:type", "t & AB"),
            ("xmlns", "urn:d"),
        ]
    );
}

#[test]
fn leaf_text_is_kept_untrimmed_and_unescaped() {
    let e = parse("<A><B>  a &lt;&gt;&amp;&quot;&apos; &#233;&#x1F642; </B><C>   </C><D></D></A>");
    assert_eq!(e.children[0].text, "  a <>&\"' é🙂 ");
    assert_eq!(e.children[1].text, "   ");
    assert_eq!(e.children[2], Element::new("D"));
}

#[test]
fn indentation_between_children_is_dropped() {
    let e = parse("<A>\n  <B>x</B>\r\n\t<C/>\n</A>");
    assert_eq!(
        e,
        Element::new("A")
            .with_text("B", "x")
            .with(Element::new("C"))
    );
}

#[test]
fn mixed_content_concatenates_text_and_keeps_children() {
    let e = parse("<A> one <B/> two </A>");
    assert_eq!(e.text, " one  two ");
    assert_eq!(e.children, vec![Element::new("B")]);
    // The encoder writes the text first; reading that back is stable.
    let again = parse(&String::from_utf8_lossy(&xml::encode(&e)));
    assert_eq!(again, e);
}

#[test]
fn line_ends_are_normalised_but_escaped_cr_survives() {
    let e = parse("<A>a\r\nb\rc&#13;\n</A>");
    assert_eq!(e.text, "a\nb\nc\r\n");
    let e = parse("<A v=\"x\ny\tz&#10;&#9;\"/>");
    assert_eq!(e.attr("v"), Some("x y z\n\t"));
}

#[test]
fn rejects_doctype_of_any_kind() {
    assert_eq!(err("<!DOCTYPE A><A/>"), WireError::Doctype);
    assert_eq!(
        err(
            "<?xml version=\"1.0\"?><!DOCTYPE WV-CSP-Message PUBLIC \"-//OMA//DTD WV-CSP 1.2//EN\" \
             \"http://www.openmobilealliance.org/DTD/WV-CSP.DTD\"><WV-CSP-Message/>"
        ),
        WireError::Doctype
    );
    assert_eq!(err("<A/><!DOCTYPE A>"), WireError::Doctype);
    // However it is spelt, it is refused (quick-xml reads `<!doctype` too).
    let lower = err("<!doctype A><A/>");
    assert!(
        lower == WireError::Doctype || is_xml_err(&lower),
        "{lower:?}"
    );
}

#[test]
fn rejects_undefined_entities() {
    assert!(is_xml_err(&err("<A>&nbsp;</A>")));
    assert!(is_xml_err(&err("<A v=\"&xxe;\"/>")));
    assert!(is_xml_err(&err("<A>&#0;</A>")));
    assert!(is_xml_err(&err("<A>&#xD800;</A>")));
    assert!(is_xml_err(&err("<A>a & b</A>")));
}

#[test]
fn rejects_malformed_structure() {
    for bad in [
        "<A></B>",
        "</A>",
        "<A/><B/>",
        "<A/>junk",
        "junk<A/>",
        "<A/>&amp;",
        "<A/><![CDATA[]]>",
        "",
        "   ",
        "<!-- only a comment -->",
        "<A v=\"1\" v=\"2\"/>",
        "<A 1b=\"x\"/>",
        "<1A/>",
        "<A v=1/>",
        "<a:b:c/>",
        "<a:/>",
    ] {
        let e = err(bad);
        assert!(is_xml_err(&e), "{bad:?} gave {e:?}");
    }
}

#[test]
fn an_early_end_is_truncation() {
    for cut in [
        "<A>",
        "<A><B>x</B>",
        "<A><B",
        "<A v=\"",
        "<A><!-- x",
        "<A><![CDATA[x",
    ] {
        assert_eq!(
            err(cut),
            WireError::Truncated { offset: cut.len() },
            "{cut:?}"
        );
    }
}

#[test]
fn requires_utf8() {
    let e = xml::decode(b"<A>caf\xe9</A>", &Limits::default());
    assert!(matches!(e, Err(WireError::Xml(m)) if m.contains("UTF-8")));
    let e = xml::decode(b"<A v=\"\xff\"/>", &Limits::default());
    assert!(matches!(e, Err(WireError::Xml(m)) if m.contains("UTF-8")));
    let e = xml::decode(b"<A><!-- \xc3 --></A>", &Limits::default());
    assert!(matches!(e, Err(WireError::Xml(m)) if m.contains("UTF-8")));
    // A declared non-UTF-8 encoding is fine while the bytes are ASCII...
    parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><A>cafe</A>");
    // ...and refused when they are not: we cannot read them as declared.
    assert!(is_xml_err(&err(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><A>café</A>"
    )));
    parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?><A>café</A>");
}

#[test]
fn limits_are_exact() {
    let limits = Limits {
        max_size: 64,
        max_depth: 3,
        max_elements: 4,
        max_text: 5,
    };
    let ok = |s: &str| xml::decode(s.as_bytes(), &limits);
    assert!(ok("<A><B><C/></B></A>").is_ok());
    assert_eq!(
        ok("<A><B><C><D/></C></B></A>"),
        Err(WireError::TooDeep { limit: 3 })
    );
    assert!(ok("<A><B/><B/><B/></A>").is_ok());
    assert_eq!(
        ok("<A><B/><B/><B/><B/></A>"),
        Err(WireError::TooManyElements { limit: 4 })
    );
    assert!(ok("<A>12345</A>").is_ok());
    assert_eq!(
        ok("<A>123456</A>"),
        Err(WireError::TextTooLong { limit: 5 })
    );
    assert_eq!(
        ok("<A>12<B/>3456</A>"),
        Err(WireError::TextTooLong { limit: 5 })
    );
    assert_eq!(
        ok("<A v=\"123456\"/>"),
        Err(WireError::TextTooLong { limit: 5 })
    );
    // Counted after unescaping; indentation between children is free.
    assert!(ok("<A>&amp;&amp;&amp;&amp;&amp;</A>").is_ok());
    assert!(ok("<A>\n        <B/>\n      </A>").is_ok());
    let big = format!("<A>{}</A>", "x".repeat(60));
    assert_eq!(
        ok(&big),
        Err(WireError::TooLarge {
            size: 67,
            limit: 64
        })
    );
}

/// An Android-style login (no declaration, `<X/>`, DigestSchema after
/// SessionCookie) reads into the envelope.
#[test]
fn reads_an_android_login() {
    let doc = "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\"><Session>\
        <SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor><Transaction>\
        <TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>1</TransactionID>\
        </TransactionDescriptor><TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">\
        <Login-Request><UserID>alice</UserID><ClientID><URL>JiMMY</URL></ClientID>\
        <TimeToLive>7205</TimeToLive><SessionCookie>17045</SessionCookie><DigestSchema>MD5</DigestSchema>\
        <DigestSchema>SHA</DigestSchema></Login-Request></TransactionContent></Transaction></Session>\
        </WV-CSP-Message>";
    let msg = Message::from_element(parse(doc), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msg.version, Version::V1_2);
    assert_eq!(msg.session_type, SessionType::Outband);
    let body = &msg.transactions[0].body;
    assert_eq!(body.children_named("DigestSchema").count(), 2);
}

/// The SMS20 client's habits: a declaration, `<X />`, xsd/xsi declarations
/// on the root, indentation, and a vendor element in its own namespace.
#[test]
fn reads_a_colibria_style_request() {
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<WV-CSP-Message xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2">
  <Session>
    <SessionDescriptor>
      <SessionType>Inband</SessionType>
      <SessionID>im.user.com#48815@server.com</SessionID>
    </SessionDescriptor>
    <Transaction>
      <TransactionDescriptor>
        <TransactionMode>Request</TransactionMode>
        <TransactionID>3</TransactionID>
      </TransactionDescriptor>
      <TransactionContent xmlns="http://www.openmobilealliance.org/DTD/WV-TRC1.2">
        <ClientCapability-Request>
          <ClientID><URL>WV:InstantMessenger-1.0.2309.16485@COLIBRIA.PC-CLIENT</URL></ClientID>
          <CapabilityList>
            <ClientType>COMPUTER</ClientType>
            <ClientTypeDetail xmlns="http://imps.colibria.com/PA-ext-1.2">PC</ClientTypeDetail>
            <ColibriaExtensions />
          </CapabilityList>
        </ClientCapability-Request>
      </TransactionContent>
    </Transaction>
  </Session>
</WV-CSP-Message>
"#;
    let msg = Message::from_element(parse(doc), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        msg.session_id.as_deref(),
        Some("im.user.com#48815@server.com")
    );
    let caps = msg.transactions[0]
        .body
        .child("CapabilityList")
        .cloned()
        .unwrap_or_default();
    let detail = caps.child("ClientTypeDetail").cloned().unwrap_or_default();
    assert_eq!(detail.xmlns(), Some("http://imps.colibria.com/PA-ext-1.2"));
    assert_eq!(detail.text, "PC");
    assert_eq!(
        caps.child("ColibriaExtensions"),
        Some(&Element::new("ColibriaExtensions"))
    );
}
