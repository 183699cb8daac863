//! OPAQUE content: integers, packed dates, and everything else.
//!
//! The element tree holds text only, so OPAQUE bytes are turned into the
//! text an XML client would have sent for the same element:
//!
//! * on an integer element (see `tables::is_int_on_decode`), 0 to 4 bytes
//!   are an unsigned big-endian number and become decimal text (libwbxml
//!   writes 0 as an empty OPAQUE);
//! * on `DateTime`/`DeliveryTime`, 6 bytes are a packed date and become
//!   `yyyymmddThhmmss` plus the time-zone letter;
//! * **anything else becomes standard base64 text** (with padding). This
//!   covers binary `ContentData` (Android sends images that way), and also
//!   an OPAQUE of the wrong shape on an integer or date element: the bytes
//!   are kept rather than guessed at, and the layer that parses the value
//!   reports it as invalid. base64 is what `ContentEncoding` `BASE64`
//!   already means in CSP, so an application can read it back.

use base64::Engine as _;

use super::tables;

/// Appends the text form of OPAQUE `bytes` on element `name` to `out`.
pub(crate) fn to_text(name: &str, bytes: &[u8], out: &mut String) {
    let int = tables::is_int_on_decode(name)
        .then(|| int_from_bytes(bytes))
        .flatten();
    if let Some(n) = int {
        out.push_str(itoa(n, &mut [0; 10]));
        return;
    }
    let date = tables::is_date(name)
        .then(|| date_from_bytes(bytes))
        .flatten();
    if let Some(d) = date {
        out.push_str(&d);
        return;
    }
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

fn int_from_bytes(bytes: &[u8]) -> Option<u32> {
    if bytes.len() > 4 {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Formats without allocating; `buf` holds the digits.
fn itoa(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// The text of a plain decimal `u32` as minimal big-endian bytes (at least
/// one, as Android writes), or None when the text is not in canonical form
/// (sign, spaces, leading zeros, too large): those stay strings so the
/// text survives a round trip unchanged.
pub(crate) fn int_to_bytes(text: &str) -> Option<([u8; 4], usize)> {
    let b = text.as_bytes();
    if b.is_empty()
        || b.len() > 10
        || !b.iter().all(u8::is_ascii_digit)
        || (b.len() > 1 && b[0] == b'0')
    {
        return None;
    }
    let n: u32 = text.parse().ok()?;
    let bytes = n.to_be_bytes();
    let len = (4 - (n.leading_zeros() / 8) as usize).max(1);
    let mut out = [0u8; 4];
    out[..len].copy_from_slice(&bytes[4 - len..]);
    Some((out, len))
}

/// Unpacks a 6-byte date: 40 bits of 2 zero bits, year (12), month (4),
/// day (5), hour (5), minute (6), second (6), then a time-zone character
/// (`Z` for UTC; a NUL means none). Other shapes return None.
fn date_from_bytes(bytes: &[u8]) -> Option<String> {
    let [b0, b1, b2, b3, b4, tz] = <[u8; 6]>::try_from(bytes).ok()?;
    let v = u64::from_be_bytes([0, 0, 0, b0, b1, b2, b3, b4]);
    if v >> 38 != 0 {
        return None;
    }
    let year = (v >> 26) & 0xFFF;
    let month = (v >> 22) & 0xF;
    let day = (v >> 17) & 0x1F;
    let hour = (v >> 12) & 0x1F;
    let minute = (v >> 6) & 0x3F;
    let second = v & 0x3F;
    let mut s = format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}");
    match tz {
        0 => {}
        c if c.is_ascii_alphanumeric() => s.push(char::from(c)),
        _ => return None,
    }
    Some(s)
}

/// Packs `yyyymmddThhmmss` plus an optional one-letter zone into the
/// 6-byte form. The encoder does not use it (Android ignores OPAQUE dates
/// and libwbxml writes text), but it pins the layout the decoder reads.
#[cfg(test)]
pub(crate) fn date_to_bytes(text: &str) -> Option<[u8; 6]> {
    let b = text.as_bytes();
    if !(15..=16).contains(&b.len()) || b[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        std::str::from_utf8(&b[r]).ok()?.parse().ok()
    };
    let fields = [
        (num(0..4)?, 12),
        (num(4..6)?, 4),
        (num(6..8)?, 5),
        (num(9..11)?, 5),
        (num(11..13)?, 6),
        (num(13..15)?, 6),
    ];
    let mut v = 0u64;
    for (value, bits) in fields {
        if value >> bits != 0 {
            return None;
        }
        v = (v << bits) | value;
    }
    let [_, _, _, b0, b1, b2, b3, b4] = v.to_be_bytes();
    Some([b0, b1, b2, b3, b4, b.get(15).copied().unwrap_or(0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_vector_e5() {
        let bytes = [0x1F, 0x46, 0x73, 0x0E, 0xBB, 0x5A];
        assert_eq!(date_to_bytes("20010925T165859Z"), Some(bytes));
        assert_eq!(date_from_bytes(&bytes).as_deref(), Some("20010925T165859Z"));
        let mut s = String::new();
        to_text("DeliveryTime", &bytes, &mut s);
        assert_eq!(s, "20010925T165859Z");
    }

    #[test]
    fn dates_round_trip_every_field_extreme() {
        for t in [
            "00000101T000000Z",
            "40951231T235959Z",
            "20240229T120000",
            "19991231T235960A",
        ] {
            let b = date_to_bytes(t).expect(t);
            assert_eq!(date_from_bytes(&b).as_deref(), Some(t));
        }
        assert_eq!(date_from_bytes(&[0xC0, 0, 0, 0, 0, b'Z']), None);
        assert_eq!(date_from_bytes(&[0, 0, 0, 0, 0, b'+']), None);
        assert_eq!(date_from_bytes(&[0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn integers() {
        assert_eq!(int_to_bytes("0"), Some(([0, 0, 0, 0], 1)));
        assert_eq!(int_to_bytes("201"), Some(([0xC9, 0, 0, 0], 1)));
        assert_eq!(int_to_bytes("256"), Some(([1, 0, 0, 0], 2)));
        assert_eq!(int_to_bytes("4294967295"), Some(([0xFF; 4], 4)));
        for bad in [
            "",
            "4294967296",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "99999999999",
        ] {
            assert_eq!(int_to_bytes(bad), None, "{bad:?}");
        }
        for (bytes, text) in [
            (&[][..], "0"),
            (&[0][..], "0"),
            (&[0xC9][..], "201"),
            (&[1, 0, 0, 0][..], "16777216"),
        ] {
            let mut s = String::new();
            to_text("Code", bytes, &mut s);
            assert_eq!(s, text);
        }
    }

    #[test]
    fn other_opaque_is_base64() {
        let mut s = String::new();
        to_text("ContentData", b"\x00\xFFhi!", &mut s);
        assert_eq!(s, "AP9oaSE=");
        let mut s = String::new();
        to_text("Code", &[1, 2, 3, 4, 5], &mut s);
        assert_eq!(s, "AQIDBAU=");
    }
}
