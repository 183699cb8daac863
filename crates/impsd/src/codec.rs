//! Choosing the encoding of a request and the Content-Type of its answer.

use imps_wire::csp::content_type;
use imps_wire::{Encoding, Version};

/// The encoding named by a Content-Type, trusting "wbxml" before "xml"
/// (clients mix the 1.2 and 1.3 spellings for any version), else sniffed
/// from the first byte.
pub fn encoding_of(content_type: Option<&str>, body: &[u8]) -> Option<Encoding> {
    if let Some(enc) = content_type.and_then(content_type::encoding_for) {
        return Some(enc);
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'<' => Some(Encoding::Xml),
        0x01..=0x03 => Some(Encoding::Wbxml),
        _ => None,
    }
}

/// The reply's Content-Type: the request's own form when it named a CSP
/// type, else the standard one for the version.
pub fn reply_content_type(request_ct: Option<&str>, enc: Encoding, version: Version) -> String {
    if let Some(ct) = request_ct.filter(|ct| content_type::is_csp(ct)) {
        return content_type::media_type(ct).to_string();
    }
    standard_content_type(enc, version).to_string()
}

pub fn standard_content_type(enc: Encoding, version: Version) -> &'static str {
    content_type::content_type(enc, version)
}

/// A best guess at the version of a document we could not decode, so a
/// CSP Status can be sent in it. `None` when it does not look like CSP.
pub fn sniff_version(body: &[u8], enc: Encoding) -> Option<Version> {
    match enc {
        Encoding::Wbxml => body
            .get(1)
            .and_then(|b| Version::from_wbxml_public_id(u32::from(*b))),
        Encoding::Xml => {
            let head = &body[..body.len().min(4096)];
            let text = String::from_utf8_lossy(head);
            Version::ALL.into_iter().find(|v| text.contains(v.csp_ns()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            encoding_of(Some("application/vnd.wv.csp+wbxml"), b""),
            Some(Encoding::Wbxml)
        );
        assert_eq!(
            encoding_of(Some("application/vnd.wv.csp.xml; charset=utf-8"), b""),
            Some(Encoding::Xml)
        );
        assert_eq!(encoding_of(None, b"  <WV"), Some(Encoding::Xml));
        assert_eq!(
            encoding_of(Some("text/plain"), &[0x03, 0x11]),
            Some(Encoding::Wbxml)
        );
        assert_eq!(encoding_of(Some("text/plain"), b"hello"), None);
        assert_eq!(
            reply_content_type(
                Some("application/vnd.wv.csp.xml; charset=utf-8"),
                Encoding::Xml,
                Version::V1_3
            ),
            "application/vnd.wv.csp.xml"
        );
        assert_eq!(
            reply_content_type(None, Encoding::Wbxml, Version::V1_3),
            "application/vnd.wv.csp+wbxml"
        );
    }
}
