//! CIR methods the transport serves without a connection from the client:
//! a datagram (SUDP, WAPUDP) to the address the client negotiated, or an
//! SMS (SSMS, WAPSMS) to the user's number through the SMSC. The
//! core agrees them in ClientCapability and records the target on the
//! session; the binary's [`CirWaker`] sends the wake-ups (the core never
//! names a socket).

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use crate::session::Session;

/// CIR methods by their CSP names (the SupportedCIRMethod values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CirMethod {
    Stcp,
    Shttp,
    Sudp,
    WapUdp,
    Ssms,
    WapSms,
}

impl CirMethod {
    pub const ALL: [CirMethod; 6] = [
        CirMethod::Stcp,
        CirMethod::Shttp,
        CirMethod::Sudp,
        CirMethod::WapUdp,
        CirMethod::Ssms,
        CirMethod::WapSms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CirMethod::Stcp => "STCP",
            CirMethod::Shttp => "SHTTP",
            CirMethod::Sudp => "SUDP",
            CirMethod::WapUdp => "WAPUDP",
            CirMethod::Ssms => "SSMS",
            CirMethod::WapSms => "WAPSMS",
        }
    }

    /// A SupportedCIRMethod value, any case, surrounding space ignored.
    pub fn parse(text: &str) -> Option<CirMethod> {
        let t = text.trim();
        CirMethod::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(t))
    }
}

/// Where the server sends a session's wake-ups by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CirTarget {
    /// SUDP: the WVCI line as one datagram.
    Udp(SocketAddr),
    /// WAPUDP: the WVCI line in a WSP push PDU, as one datagram.
    WapUdp(SocketAddr),
    /// SSMS: the WVCI line as a text SMS to this number.
    Sms(String),
    /// WAPSMS: the WVCI line in a WSP push PDU, by SMS to this number.
    WapSms(String),
}

impl CirTarget {
    pub fn method(&self) -> CirMethod {
        match self {
            CirTarget::Udp(_) => CirMethod::Sudp,
            CirTarget::WapUdp(_) => CirMethod::WapUdp,
            CirTarget::Sms(_) => CirMethod::Ssms,
            CirTarget::WapSms(_) => CirMethod::WapSms,
        }
    }

    /// The stored form: the method's name, a space, the address or
    /// number (`SUDP 10.0.0.7:3716`, `SSMS +358401234567`).
    pub fn to_record(&self) -> String {
        let to = match self {
            CirTarget::Udp(a) | CirTarget::WapUdp(a) => a.to_string(),
            CirTarget::Sms(n) | CirTarget::WapSms(n) => n.clone(),
        };
        format!("{} {to}", self.method().as_str())
    }

    /// Reads [`CirTarget::to_record`]'s form; `None` for anything else
    /// (a row written by a later version, say), which leaves the session
    /// without a wake-up target until it negotiates again.
    pub fn from_record(text: &str) -> Option<CirTarget> {
        let (method, to) = text.trim().split_once(' ')?;
        let to = to.trim();
        match CirMethod::parse(method)? {
            CirMethod::Sudp => to.parse().ok().map(CirTarget::Udp),
            CirMethod::WapUdp => to.parse().ok().map(CirTarget::WapUdp),
            CirMethod::Ssms if !to.is_empty() => Some(CirTarget::Sms(to.to_string())),
            CirMethod::WapSms if !to.is_empty() => Some(CirTarget::WapSms(to.to_string())),
            _ => None,
        }
    }
}

/// Sends wake-ups for sessions whose CIR the transport serves without a
/// connection from the client. Implemented by the binary.
pub trait CirWaker: Send + Sync + Debug + 'static {
    /// `session` agreed a target ([`Session::cir_target`]) for the first
    /// time (a later ClientCapability may change the target, which the
    /// waker reads at each send). Must not block. From now on the router
    /// calls [`CirWaker::news`] for what it queues there.
    fn attach(&self, session: Arc<Session>);

    /// Something was queued for an attached session. Must not block: the
    /// waker keeps no task per session (issue 19), and a session that
    /// ended is simply not woken.
    fn news(&self, session: &Arc<Session>);
}

/// Where datagram CIR goes when the client names an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpAddressPolicy {
    /// To the IP address the ClientCapability-Request came from; a
    /// `UDPAddress` the client names is ignored (no datagrams to third
    /// parties, and it works through NAT).
    #[default]
    Peer,
    /// To the `UDPAddress` the client names, else as `Peer`. For networks
    /// where requests come through a proxy and the phones' addresses are
    /// trusted.
    Client,
}

/// A `UDPAddress` value: an IP address as text, or (as one server
/// declares the element) an IPv4 address as an unsigned integer.
pub fn parse_udp_address(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    IpAddr::from_str(t)
        .ok()
        .or_else(|| t.parse::<u32>().ok().map(|n| IpAddr::V4(Ipv4Addr::from(n))))
}

crate::config::setting_enum! {
    UdpAddressPolicy, "cir.udp_address", to_ascii_lowercase, "peer or client",
    { Peer => "peer", Client => "client" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_addresses_in_both_forms() {
        assert_eq!(
            parse_udp_address(" 10.1.2.3 "),
            Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
        );
        // 10.1.2.3 as a 32-bit integer.
        assert_eq!(
            parse_udp_address("167838211"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
        );
        assert_eq!(
            parse_udp_address("::1"),
            Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        );
        assert_eq!(parse_udp_address("phone"), None);
        assert_eq!(parse_udp_address("99999999999"), None);
    }

    #[test]
    fn targets_read_back_from_their_stored_form() {
        let all = [
            CirTarget::Udp("10.0.0.7:3716".parse().unwrap()),
            CirTarget::WapUdp("[::1]:2948".parse().unwrap()),
            CirTarget::Sms("+358401234567".into()),
            CirTarget::WapSms("358401234567".into()),
        ];
        for t in all {
            assert_eq!(CirTarget::from_record(&t.to_record()), Some(t.clone()));
        }
        for bad in ["", "SUDP", "SUDP phone", "STCP 1.2.3.4:5", "SSMS ", "XYZ 1"] {
            assert_eq!(CirTarget::from_record(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn methods_by_name() {
        for m in CirMethod::ALL {
            assert_eq!(CirMethod::parse(&m.as_str().to_ascii_lowercase()), Some(m));
        }
        assert_eq!(CirMethod::parse("SMTP"), None);
    }
}
