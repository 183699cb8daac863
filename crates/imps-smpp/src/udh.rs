//! User data headers (3GPP TS 23.040) for port-addressed SMS.

/// Information element: application port addressing, 16-bit ports.
pub const IEI_PORTS_16: u8 = 0x05;
/// `esm_class` bit saying short_message starts with a UDH.
pub const ESM_CLASS_UDHI: u8 = 0x40;

/// `06 05 04 <dest> <src>`: UDH length, IEI 16-bit ports, IE length 4,
/// destination and source port big-endian.
pub fn ports(dest: u16, src: u16) -> [u8; 7] {
    let d = dest.to_be_bytes();
    let s = src.to_be_bytes();
    [0x06, IEI_PORTS_16, 0x04, d[0], d[1], s[0], s[1]]
}

/// The destination and source ports of a UDH at the start of `sm`, and
/// where the payload starts; `None` when it has no 16-bit port element.
pub fn read_ports(sm: &[u8]) -> Option<(u16, u16, usize)> {
    let udhl = usize::from(*sm.first()?);
    let udh = sm.get(1..1 + udhl)?;
    let mut i = 0;
    let mut found = None;
    while i + 2 <= udh.len() {
        let (iei, len) = (udh[i], usize::from(udh[i + 1]));
        let ie = udh.get(i + 2..i + 2 + len)?;
        if iei == IEI_PORTS_16 && len == 4 {
            found = Some((
                u16::from_be_bytes([ie[0], ie[1]]),
                u16::from_be_bytes([ie[2], ie[3]]),
            ));
        }
        i += 2 + len;
    }
    found.map(|(d, s)| (d, s, 1 + udhl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wap_push_ports() {
        // WDP port 2948 from 9200: the UDH every WAP Push over SMS carries.
        assert_eq!(
            ports(2948, 9200),
            [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]
        );
        let mut sm = ports(2948, 9200).to_vec();
        sm.extend_from_slice(b"body");
        assert_eq!(read_ports(&sm), Some((2948, 9200, 7)));
        assert_eq!(read_ports(b""), None);
        assert_eq!(read_ports(&[0x03, 0x00, 0x01, 0x00]), None);
    }
}
