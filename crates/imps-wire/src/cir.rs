//! CIR payloads that travel outside a CSP message: the `WVCI` line every
//! CIR method carries, and the WSP push PDU that wraps it for WAP push CIR
//! (WAPUDP, WAPSMS).
//!
//! Formats (see `docs/protocol.md`, "CIR by datagram and SMS"):
//!
//! * the line is `WVCI <major>.<minor> <SessionCookie>`, ASCII, without a
//!   line end when it is a whole datagram or SMS;
//! * the push PDU is connectionless WSP: transaction ID, PDU type `0x06`
//!   (Push), the headers' length as a uintvar, the content type
//!   `application/vnd.wv.csp.cir` as the short integer `0x46`, the header
//!   `X-Wap-Application-Id` (well-known field `0x2F`) with the short
//!   integer `0x0A` (`x-wap-application:wv.ua`), then the WVCI line as the
//!   body. It goes to WDP port 2948 from 9200.
//!
//! No I/O: bytes in, values out; the decoder never panics (a property test
//! feeds it arbitrary bytes).

use crate::{Version, WireError};

/// The first word of every CIR message.
pub const CIR_PREFIX: &str = "WVCI";
/// WDP port of connectionless WAP push (the destination).
pub const WAP_PUSH_PORT: u16 = 2948;
/// WDP port a connectionless WSP push comes from.
pub const WSP_SOURCE_PORT: u16 = 9200;
/// WSP PDU type of a Push.
pub const WSP_PUSH: u8 = 0x06;
/// WSP well-known content type `application/vnd.wv.csp.cir`.
pub const CONTENT_TYPE_CSP_CIR: u8 = 0x46;
/// WSP well-known header field `X-Wap-Application-Id`.
pub const HEADER_X_WAP_APPLICATION_ID: u8 = 0x2F;
/// Push application ID `x-wap-application:wv.ua` (Wireless Village).
pub const APP_ID_WV_UA: u8 = 0x0A;
/// The same application ID in its text form.
pub const APP_ID_WV_UA_TEXT: &str = "x-wap-application:wv.ua";
/// Longest CIR line accepted on decode (a real one is ~30 bytes).
pub const CIR_LINE_MAX: usize = 256;

/// `WVCI <version> <cookie>`: "something waits for this session; poll".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CirLine {
    pub version: Version,
    pub cookie: String,
}

impl CirLine {
    pub fn new(version: Version, cookie: impl Into<String>) -> CirLine {
        CirLine {
            version,
            cookie: cookie.into(),
        }
    }

    /// The line without a line end.
    pub fn to_text(&self) -> String {
        format!("{CIR_PREFIX} {} {}", self.version.as_str(), self.cookie)
    }

    /// Reads a line (a trailing CR/LF is allowed). Three fields separated
    /// by spaces, as Android's SMS CIR reads it; the cookie may be empty
    /// (a session that sent none).
    pub fn parse(text: &str) -> Result<CirLine, WireError> {
        if text.len() > CIR_LINE_MAX {
            return Err(WireError::Structure("CIR line too long".into()));
        }
        let text = text.trim_end_matches(['\r', '\n']);
        let mut parts = text.splitn(3, ' ');
        let (Some(prefix), Some(version)) = (parts.next(), parts.next()) else {
            return Err(WireError::Structure(format!("not a CIR line: {text:?}")));
        };
        if prefix != CIR_PREFIX {
            return Err(WireError::Structure(format!("not a CIR line: {text:?}")));
        }
        let version = Version::parse(version)
            .ok_or_else(|| WireError::UnsupportedVersion(version.to_string()))?;
        Ok(CirLine {
            version,
            cookie: parts.next().unwrap_or_default().to_string(),
        })
    }

    /// Reads the line from bytes (a datagram or an SMS body).
    pub fn from_bytes(bytes: &[u8]) -> Result<CirLine, WireError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| WireError::Structure("CIR line is not text".into()))?;
        CirLine::parse(text)
    }
}

/// A connectionless WSP push: what WAP push CIR sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WapPush {
    pub transaction_id: u8,
    /// The well-known content type, when it was sent as a short integer.
    pub content_type: Option<u8>,
    /// The push application ID, when the header was present as a short
    /// integer or as `x-wap-application:wv.ua`.
    pub application_id: Option<u8>,
    pub body: Vec<u8>,
}

impl WapPush {
    /// The push of a CIR line, as WAP push CIR sends it.
    pub fn cir(transaction_id: u8, line: &CirLine) -> WapPush {
        WapPush {
            transaction_id,
            content_type: Some(CONTENT_TYPE_CSP_CIR),
            application_id: Some(APP_ID_WV_UA),
            body: line.to_text().into_bytes(),
        }
    }

    /// Encodes the PDU. Content type and application ID are written as
    /// short integers (each below 0x80).
    pub fn encode(&self) -> Vec<u8> {
        let mut headers = Vec::with_capacity(3);
        headers.push(0x80 | (self.content_type.unwrap_or(CONTENT_TYPE_CSP_CIR) & 0x7F));
        if let Some(app) = self.application_id {
            headers.push(0x80 | HEADER_X_WAP_APPLICATION_ID);
            headers.push(0x80 | (app & 0x7F));
        }
        let mut out = Vec::with_capacity(4 + headers.len() + self.body.len());
        out.push(self.transaction_id);
        out.push(WSP_PUSH);
        put_uintvar(&mut out, headers.len() as u32);
        out.extend_from_slice(&headers);
        out.extend_from_slice(&self.body);
        out
    }

    /// Decodes a push PDU. The content type may be a short integer, a
    /// text string or a length-prefixed general form; other headers are
    /// skipped by their encoding rules.
    pub fn decode(bytes: &[u8]) -> Result<WapPush, WireError> {
        let bad = |offset: usize, what: &str| WireError::Wbxml {
            offset,
            what: format!("WSP push: {what}"),
        };
        let [tid, pdu_type, rest @ ..] = bytes else {
            return Err(WireError::Truncated {
                offset: bytes.len(),
            });
        };
        if *pdu_type != WSP_PUSH {
            return Err(bad(1, "not a Push PDU"));
        }
        let (hlen, used) = get_uintvar(rest).ok_or_else(|| bad(2, "bad headers length"))?;
        let start = 2 + used;
        let end = usize::try_from(hlen)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|e| *e <= bytes.len())
            .ok_or(WireError::Truncated {
                offset: bytes.len(),
            })?;
        let headers = &bytes[start..end];
        // Content type first.
        let (content_type, mut i) = match headers.first() {
            None => return Err(bad(start, "no content type")),
            Some(&b) if b >= 0x80 => (Some(b & 0x7F), 1),
            Some(_) => (
                None,
                value_len(headers, 0).ok_or_else(|| bad(start, "bad content type"))?,
            ),
        };
        let mut application_id = None;
        while i < headers.len() {
            let field = headers[i];
            i += 1;
            if field >= 0x80 {
                let vlen =
                    value_len(headers, i).ok_or_else(|| bad(start + i, "bad header value"))?;
                if field & 0x7F == HEADER_X_WAP_APPLICATION_ID {
                    application_id = match headers.get(i) {
                        Some(&v) if v >= 0x80 => Some(v & 0x7F),
                        _ => {
                            let text = &headers[i..i + vlen];
                            let text = text.strip_suffix(&[0]).unwrap_or(text);
                            (text == APP_ID_WV_UA_TEXT.as_bytes()).then_some(APP_ID_WV_UA)
                        }
                    };
                }
                i += vlen;
            } else {
                // An application header: name text, then a text value.
                let name =
                    text_len(headers, i - 1).ok_or_else(|| bad(start + i, "bad header name"))?;
                i = i - 1 + name;
                let v = value_len(headers, i).ok_or_else(|| bad(start + i, "bad header value"))?;
                i += v;
            }
        }
        Ok(WapPush {
            transaction_id: *tid,
            content_type,
            application_id,
            body: bytes[end..].to_vec(),
        })
    }
}

/// Writes a WSP uintvar (7 bits a byte, high bit = more follows).
pub fn put_uintvar(out: &mut Vec<u8>, mut v: u32) {
    let mut tmp = [0u8; 5];
    let mut n = 0;
    loop {
        tmp[n] = (v & 0x7F) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for k in (0..n).rev() {
        out.push(tmp[k] | if k > 0 { 0x80 } else { 0 });
    }
}

/// Reads a WSP uintvar: (value, bytes used). At most 5 bytes.
pub fn get_uintvar(b: &[u8]) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    for (i, &byte) in b.iter().enumerate().take(5) {
        v = v.checked_mul(128)? | u32::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Length of a NUL-terminated text starting at `i`, NUL included.
fn text_len(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..)?.iter().position(|&c| c == 0).map(|p| p + 1)
}

/// Length of one WSP field value starting at `i`: a short integer
/// (>= 0x80), a short length (0..=30) plus that many bytes, a length quote
/// (31) with a uintvar length, or a NUL-terminated text.
fn value_len(b: &[u8], i: usize) -> Option<usize> {
    let first = *b.get(i)?;
    let len = match first {
        0x80..=0xFF => 1,
        0..=30 => 1 + usize::from(first),
        31 => {
            let (l, used) = get_uintvar(b.get(i + 1..)?)?;
            1 + used + usize::try_from(l).ok()?
        }
        _ => text_len(b, i)?,
    };
    (i.checked_add(len)? <= b.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cir_line_reads_and_writes() {
        let l = CirLine::new(Version::V1_2, "1234567");
        assert_eq!(l.to_text(), "WVCI 1.2 1234567");
        assert_eq!(CirLine::parse("WVCI 1.2 1234567\r\n"), Ok(l.clone()));
        assert_eq!(CirLine::from_bytes(b"WVCI 1.2 1234567"), Ok(l));
        assert!(CirLine::parse("HELO 1.2 x").is_err());
        assert!(CirLine::parse("WVCI").is_err());
        assert!(CirLine::parse("WVCI 9.9 x").is_err());
        assert_eq!(
            CirLine::parse("WVCI 1.3 ").map(|l| l.cookie),
            Ok(String::new())
        );
    }

    #[test]
    fn the_push_pdu_is_byte_exact() {
        let p = WapPush::cir(7, &CirLine::new(Version::V1_3, "c1"));
        let mut want = vec![0x07, 0x06, 0x03, 0xC6, 0xAF, 0x8A];
        want.extend_from_slice(b"WVCI 1.3 c1");
        assert_eq!(p.encode(), want);
        assert_eq!(WapPush::decode(&want), Ok(p));
    }

    #[test]
    fn push_headers_in_other_forms_are_read() {
        // Content type as text, an application header, the app ID as text.
        let mut h = Vec::new();
        h.extend_from_slice(b"application/vnd.wv.csp.cir\0");
        h.extend_from_slice(b"X-Extra\0v\0");
        h.push(0xAF);
        h.extend_from_slice(b"x-wap-application:wv.ua\0");
        h.push(0x81); // a well-known field with a general-form value
        h.extend_from_slice(&[2, 1, 2]);
        let mut pdu = vec![1, 6];
        put_uintvar(&mut pdu, h.len() as u32);
        pdu.extend_from_slice(&h);
        pdu.extend_from_slice(b"WVCI 1.1 z");
        let p = WapPush::decode(&pdu).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.content_type, None);
        assert_eq!(p.application_id, Some(APP_ID_WV_UA));
        assert_eq!(p.body, b"WVCI 1.1 z");
    }

    #[test]
    fn uintvars_round_trip() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            put_uintvar(&mut b, v);
            assert_eq!(get_uintvar(&b), Some((v, b.len())), "{v}");
        }
        assert_eq!(get_uintvar(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), None);
    }
}
