//! HTTP Content-Types of the CSP binding, as pure functions.
//!
//! 1.1 and 1.2 use `application/vnd.wv.csp.xml` / `.wbxml`; 1.3 switched
//! to the structured suffixes `+xml` / `+wbxml`. Clients mix the two
//! spellings with any version, so reading a Content-Type only looks for
//! the encoding ("wbxml" is checked first, because it contains "xml") and
//! never for the version.

use crate::{Encoding, Version};

pub const XML: &str = "application/vnd.wv.csp.xml";
pub const WBXML: &str = "application/vnd.wv.csp.wbxml";
pub const XML_1_3: &str = "application/vnd.wv.csp+xml";
pub const WBXML_1_3: &str = "application/vnd.wv.csp+wbxml";
/// The plain-text SMS encoding (PTS), every version. Not an [`Encoding`]
/// this crate implements.
pub const SMS: &str = "application/vnd.wv.csp.sms";
/// A CIR carried in a WAP push.
pub const CIR: &str = "application/vnd.wv.csp.cir";

/// Every CSP document type: version, encoding, Content-Type.
pub const TABLE: [(Version, Encoding, &str); 6] = [
    (Version::V1_1, Encoding::Xml, XML),
    (Version::V1_1, Encoding::Wbxml, WBXML),
    (Version::V1_2, Encoding::Xml, XML),
    (Version::V1_2, Encoding::Wbxml, WBXML),
    (Version::V1_3, Encoding::Xml, XML_1_3),
    (Version::V1_3, Encoding::Wbxml, WBXML_1_3),
];

/// The standard Content-Type for an encoding in a version.
pub fn content_type(enc: Encoding, v: Version) -> &'static str {
    match (enc, v) {
        (Encoding::Xml, Version::V1_3) => XML_1_3,
        (Encoding::Wbxml, Version::V1_3) => WBXML_1_3,
        (Encoding::Xml, Version::V1_1 | Version::V1_2) => XML,
        (Encoding::Wbxml, Version::V1_1 | Version::V1_2) => WBXML,
    }
}

/// The encoding a Content-Type names, if any: parameters (`; charset=`)
/// are ignored and case does not matter. Any type containing "wbxml" is
/// WBXML, else any containing "xml" is XML (so `text/xml` is XML too).
pub fn encoding_for(content_type: &str) -> Option<Encoding> {
    let media = media_type(content_type).to_ascii_lowercase();
    if media.contains("wbxml") {
        Some(Encoding::Wbxml)
    } else if media.contains("xml") {
        Some(Encoding::Xml)
    } else {
        None
    }
}

/// True when the Content-Type is one of the `application/vnd.wv.csp`
/// family (any spelling, any case, with or without parameters).
pub fn is_csp(content_type: &str) -> bool {
    let media = media_type(content_type);
    media
        .get(..22)
        .is_some_and(|p| p.eq_ignore_ascii_case("application/vnd.wv.csp"))
}

/// The media type without parameters or surrounding spaces.
pub fn media_type(content_type: &str) -> &str {
    content_type
        .split(';')
        .next()
        .unwrap_or(content_type)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_agrees_with_content_type_and_encoding_for() {
        for (v, enc, ct) in TABLE {
            assert_eq!(content_type(enc, v), ct);
            assert_eq!(encoding_for(ct), Some(enc));
            assert!(is_csp(ct));
        }
    }

    #[test]
    fn reads_parameters_case_and_other_spellings() {
        assert_eq!(
            encoding_for("Application/VND.WV.CSP.XML; charset=utf-8"),
            Some(Encoding::Xml)
        );
        assert_eq!(
            encoding_for(" application/vnd.wv.csp+wbxml ;x=y"),
            Some(Encoding::Wbxml)
        );
        assert_eq!(encoding_for("text/xml"), Some(Encoding::Xml));
        assert_eq!(encoding_for(SMS), None);
        assert_eq!(encoding_for("text/plain; note=xml"), None);
        assert_eq!(encoding_for(""), None);
        assert!(is_csp("APPLICATION/vnd.wv.csp.sms"));
        assert!(!is_csp("application/vnd.wv"));
        assert!(!is_csp("text/xml"));
        assert!(!is_csp("ü"));
        assert_eq!(media_type(" a/b ; c=d"), "a/b");
    }
}
