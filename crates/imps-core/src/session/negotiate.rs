//! GetSPInfo, ClientCapability and Service negotiation.

use super::SessionService;
use std::sync::Arc;

use std::net::{IpAddr, SocketAddr};

use imps_wire::cir::WAP_PUSH_PORT;
use imps_wire::{Element, Version};

use super::{Capabilities, FunctionSet, Session};
use crate::cir::{CirMethod, CirTarget, UdpAddressPolicy, parse_udp_address};

/// CIR methods we can serve, by their CSP names.
const STCP: &str = "STCP";
const SHTTP: &str = "SHTTP";
/// Capability elements of datagram CIR.
const UDP_PORT: &str = "UDPPort";
const UDP_ADDRESS: &str = "UDPAddress";
const SUPPORTED_CIR_METHOD: &str = "SupportedCIRMethod";

impl SessionService {
    /// GetSPInfo: who runs this service. Allowed without a session.
    pub(crate) fn get_sp_info(&self, body: &Element) -> Element {
        let info = &self.base.cfg.sp_info;
        Element::new("GetSPInfo-Response")
            .with_opt(body.child("ClientID").cloned())
            .with_text("Name", info.name.clone())
            .with_text("Description", info.description.clone())
            .with_text("URL", info.url.clone())
    }

    /// ClientCapability: record what the client can take (CFG-1: its
    /// largest message) and agree CIR methods we serve.
    /// A change of delivery method is stored with the session, so a
    /// restart keeps it.
    ///
    /// Datagram CIR (SUDP, WAPUDP) goes to `peer`, the address the
    /// request came from, unless `cir.udp_address` trusts the client's
    /// `UDPAddress`; its port is the client's `UDPPort` (WAPUDP: 2948 when
    /// none is given).
    pub(crate) async fn client_capability(
        &self,
        s: &Arc<Session>,
        body: &Element,
        peer: Option<IpAddr>,
    ) -> Element {
        let empty = Element::new("CapabilityList");
        let list = body.child("CapabilityList").unwrap_or(&empty);
        let offered: Vec<String> = list
            .children_named(SUPPORTED_CIR_METHOD)
            .map(|e| e.text.trim().to_ascii_uppercase())
            .collect();
        let udp = self.udp_target(list, peer);
        let cir = &self.base.cfg.cir;
        let waker = self.base.cfg.cir_waker.is_some();
        // SMS CIR goes to the user's registered number only (never to a
        // number the client names: the operator pays for each SMS).
        let wants_sms = offered.iter().any(|m| {
            matches!(
                CirMethod::parse(m),
                Some(CirMethod::Ssms | CirMethod::WapSms)
            )
        });
        let msisdn = if wants_sms && waker && (cir.sms || cir.wap_sms) {
            match self.base.store.user(&s.user).await {
                Ok(u) => u.and_then(|u| u.msisdn).filter(|m| !m.is_empty()),
                Err(e) => {
                    tracing::warn!(error = %e, "SMS CIR: cannot read the user's number");
                    None
                }
            }
        } else {
            None
        };
        let mut targets = Vec::new();
        let agreed: Vec<String> = offered
            .iter()
            .filter(|m| match CirMethod::parse(m) {
                Some(CirMethod::Stcp) => cir.tcp.is_some(),
                Some(CirMethod::Shttp) => cir.http_base.is_some(),
                Some(CirMethod::Sudp) => {
                    let t = udp.filter(|(_, p)| p.is_some() && waker && cir.udp);
                    targets.extend(
                        t.map(|(ip, p)| CirTarget::Udp(SocketAddr::new(ip, p.unwrap_or_default()))),
                    );
                    t.is_some()
                }
                Some(CirMethod::WapUdp) => {
                    let t = udp.filter(|_| waker && cir.wap_udp);
                    targets.extend(t.map(|(ip, p)| {
                        CirTarget::WapUdp(SocketAddr::new(ip, p.unwrap_or(WAP_PUSH_PORT)))
                    }));
                    t.is_some()
                }
                Some(CirMethod::Ssms) => {
                    let t = msisdn.clone().filter(|_| cir.sms);
                    targets.extend(t.clone().map(CirTarget::Sms));
                    t.is_some()
                }
                Some(CirMethod::WapSms) => {
                    let t = msisdn.clone().filter(|_| cir.wap_sms);
                    targets.extend(t.clone().map(CirTarget::WapSms));
                    t.is_some()
                }
                _ => false,
            })
            .cloned()
            .collect();
        // The server wakes by itself only when the client prefers it: its
        // first agreed method is a datagram or SMS one (a client that also
        // offered STCP first will hold a TCP CIR connection instead).
        let cir_target = agreed
            .first()
            .and_then(|m| CirMethod::parse(m))
            .and_then(|first| targets.iter().find(|t| t.method() == first).cloned());
        // The client's limits: ParserSize and AcceptedContentLength (1.2),
        // AcceptedPushLength (1.3). The smallest one it states binds us.
        let max_message = ["ParserSize", "AcceptedContentLength", "AcceptedPushLength"]
            .iter()
            .filter_map(|n| list.child_u64(n))
            .filter(|v| *v > 0)
            .min()
            // What the session keeps (32 bits): the client is told the same.
            .map(|v| {
                v.min(self.base.cfg.max_message_size)
                    .min(u64::from(u32::MAX))
            });
        let poll_min = list
            .child_u64("ServerPollMin")
            .unwrap_or(0)
            .max(self.base.cfg.server_poll_min_secs);
        let mut caps = Capabilities {
            delivery_method: list.child_text("InitialDeliveryMethod").map(Into::into),
            cir_target: cir_target.clone(),
            ..Capabilities::default()
        };
        caps.set_max_message_size(max_message);
        if let Some(l) = list
            .child_text("DefaultLanguage")
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty())
        {
            s.set_language(l);
        }
        let android = shows_android_engine(s.version, list);
        let new_method = caps.delivery_method.clone();
        let (old_method, old_android, old_target) = s.with_state(|st| {
            let old = st.caps.as_ref().and_then(|c| c.delivery_method.clone());
            let old_target = st.caps.as_ref().and_then(|c| c.cir_target.clone());
            st.caps = Some(caps);
            let was = std::mem::replace(&mut st.style.android_engine, android);
            (old, was, old_target)
        });
        // What a restart brings back changed: store it (the wake-up target
        // too, so a phone that holds no connection is still woken).
        if new_method != old_method || android != old_android || cir_target != old_target {
            self.base.resave_session(s).await;
        }
        if cir_target.is_some()
            && let Some(w) = &self.base.cfg.cir_waker
            && s.attach_cir()
        {
            w.attach(s.clone());
        }

        let mut out = Element::new(if s.version == Version::V1_1 {
            "CapabilityList"
        } else {
            "AgreedCapabilityList"
        });
        if let Some(ct) = list.child("ClientType") {
            out = out.with(ct.clone());
        }
        if let Some(v) = max_message {
            if s.version == Version::V1_3 {
                out = out.with_text("AcceptedPushLength", v.to_string());
            } else {
                out = out.with_text("AcceptedContentLength", v.to_string());
            }
            out = out.with_text("ParserSize", v.to_string());
        }
        out = out
            .with_text(
                "InitialDeliveryMethod",
                list.child_text("InitialDeliveryMethod").unwrap_or("P"),
            )
            .with_text("MultiTrans", "1")
            .with_text("ServerPollMin", poll_min.to_string())
            .with_text("SupportedBearer", "HTTP");
        for m in &agreed {
            out = out.with_text(SUPPORTED_CIR_METHOD, m.clone());
        }
        if agreed.iter().any(|m| m == STCP)
            && let Some((host, port)) = &self.base.cfg.cir.tcp
        {
            out = out
                .with_text("TCPAddress", host.clone())
                .with_text("TCPPort", port.to_string());
        }
        // Where datagram CIR goes, so the client can see what we took
        // from it: UDPAddress (1.3 has the element) and UDPPort.
        if let Some(a) = targets.iter().find_map(|t| match t {
            CirTarget::Udp(a) | CirTarget::WapUdp(a) => Some(a),
            _ => None,
        }) {
            if s.version == Version::V1_3 {
                out = out.with_text(UDP_ADDRESS, a.ip().to_string());
            }
            out = out.with_text(UDP_PORT, a.port().to_string());
        }
        if agreed.iter().any(|m| m == SHTTP)
            && let Some(base) = &self.base.cfg.cir.http_base
        {
            let url = format!("{}/{}", base.trim_end_matches('/'), s.cir_token);
            let name = if s.version == Version::V1_3 {
                "CIRHTTPAddress"
            } else {
                "CIRURL"
            };
            out = out.with(Element::new(name).with_text("URL", url));
        }
        // IM content policy (GEN-6, GEN-9), and what the client accepts.
        for e in self.im.im_capabilities(s, list) {
            out = out.with(e);
        }
        // The list is the response's first child: Android reads the first
        // child whatever its name.
        Element::new("ClientCapability-Response").with(out)
    }

    /// The address and port (when given) for datagram CIR from a
    /// CapabilityList: `UDPPort` in every version, `UDPAddress` (1.3; read
    /// in any version) as text or as an integer. `None` when no address
    /// is known.
    fn udp_target(&self, list: &Element, peer: Option<IpAddr>) -> Option<(IpAddr, Option<u16>)> {
        let port = list
            .child_text(UDP_PORT)
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p != 0);
        let named = list.child_text(UDP_ADDRESS).and_then(parse_udp_address);
        let ip = match self.base.cfg.cir.udp_address {
            UdpAddressPolicy::Peer => peer,
            UdpAddressPolicy::Client => named.or(peer),
        }?;
        Some((ip, port))
    }

    /// Service negotiation. AllFunctions is always present (a reply
    /// without it crashes Android's login); Functions lists what was asked
    /// for but is not available.
    /// The service runs the session's ready hooks once this is answered.
    pub(crate) fn service_negotiation(&self, s: &Arc<Session>, body: &Element) -> Element {
        // SYM-11: what the user's level of service leaves out is not
        // offered, as if policy had switched it off.
        let mut off = self.base.cfg.disabled_functions.clone();
        off.extend(s.with_state(|st| st.withheld.to_vec()));
        let available = FunctionSet::available(s.version, &off);
        let agreed = match body.child("Functions") {
            Some(f) => {
                let requested = FunctionSet::requested(f, s.version);
                let missing = requested.minus(&available);
                let agreed = requested.intersect(&available);
                s.with_state(|st| st.set_agreed(agreed));
                (agreed, missing)
            }
            None => {
                s.with_state(|st| st.set_agreed(available));
                (available, FunctionSet::default())
            }
        };
        tracing::debug!(session = %crate::ids::log_tag(&s.id), agreed = ?agreed.0, "service negotiated");
        let mut resp = Element::new("Service-Response");
        if !agreed.1.is_empty() {
            resp = resp.with(Element::new("Functions").with(agreed.1.to_tree()));
        }
        resp.with(Element::new("AllFunctions").with(available.to_tree()))
    }
}

/// Whether a CapabilityList shows the Android engine (issue 13). It
/// writes one capability list for every version, so a 1.3 list with the
/// 1.2-only `AcceptedContentLength`, or a 1.1 list offering the 1.2 CIR
/// methods `SSMS`/`SHTTP`, gives it away. In 1.2 nothing does, and nothing
/// needs to: the engine's shapes are the 1.2 ones.
pub(crate) fn shows_android_engine(v: Version, list: &Element) -> bool {
    match v {
        Version::V1_3 => list.child("AcceptedContentLength").is_some(),
        Version::V1_1 => list.children_named("SupportedCIRMethod").any(|m| {
            let m = m.text.trim();
            m.eq_ignore_ascii_case(SHTTP) || m.eq_ignore_ascii_case("SSMS")
        }),
        Version::V1_2 => false,
    }
}
