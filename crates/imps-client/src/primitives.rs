//! Builders for the requests the client sends, and readers for the
//! answers. Public so tests can send a slightly wrong request on purpose
//! through `Client::request`.

use imps_wire::csp::{SystemMessageResponse, SystemMessageResponseList};
use imps_wire::{Element, Version};

/// How a Login-Request proves who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAuth<'a> {
    /// 2-way login.
    Password(&'a str),
    /// 4-way login, first leg: the schemas we accept, preferred first.
    DigestSchemas(&'a [&'a str]),
    /// 4-way login, second leg.
    DigestBytes(&'a str),
}

/// The session lifetime we ask for when the caller does not say.
pub const DEFAULT_TTL_SECS: u64 = 600;

/// `ClientID{URL}`.
pub fn client_id(url: &str) -> Element {
    Element::new("ClientID").with_text("URL", url)
}

/// A Login-Request. Children are in schema order (UserID, ClientID,
/// Password | DigestBytes, DigestSchema*, TimeToLive, SessionCookie).
pub fn login_request(
    user: &str,
    client: &str,
    auth: LoginAuth<'_>,
    ttl: u64,
    cookie: &str,
) -> Element {
    let mut e = Element::new("Login-Request")
        .with_text("UserID", user)
        .with(client_id(client));
    match auth {
        LoginAuth::Password(p) => e = e.with_text("Password", p),
        LoginAuth::DigestBytes(d) => e = e.with_text("DigestBytes", d),
        LoginAuth::DigestSchemas(schemas) => {
            for s in schemas {
                e = e.with_text("DigestSchema", *s);
            }
        }
    }
    e.with_text("TimeToLive", ttl.to_string())
        .with_text("SessionCookie", cookie)
}

/// Adds the answers to the system messages of a held login (CSP 1.3) to
/// a Login-Request: `SystemMessageResponseList` is a direct child, after
/// `SessionCookie`, so appending it keeps the schema order of
/// [`login_request`]. Before 1.3 there is no such element and the
/// request is returned as it was; so it is when there are no answers.
pub fn with_system_message_answers(
    login: Element,
    v: Version,
    answers: &[SystemMessageResponse],
) -> Element {
    if v < Version::V1_3 || answers.is_empty() {
        return login;
    }
    login.with(SystemMessageResponseList::new(answers.to_vec()).to_element(v))
}

/// A ClientCapability-Request shaped like Android's: a mobile client
/// taking pushed messages over HTTP, offering the given CIR methods in
/// order of preference.
pub fn client_capability_request(
    client: &str,
    cir_methods: &[&str],
    parser_size: Option<u64>,
) -> Element {
    client_capability_request_udp(client, cir_methods, parser_size, None)
}

/// Where a client takes datagram CIR: `UDPPort`, and the `UDPAddress`
/// 1.3 added (sent only when given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UdpCirOffer {
    pub address: Option<String>,
    pub port: u16,
}

/// As [`client_capability_request`], with where datagram CIR should go.
pub fn client_capability_request_udp(
    client: &str,
    cir_methods: &[&str],
    parser_size: Option<u64>,
    udp: Option<&UdpCirOffer>,
) -> Element {
    let mut list = Element::new("CapabilityList").with_text("ClientType", "MOBILE_PHONE");
    if let Some(n) = parser_size {
        list = list
            .with_text("AcceptedContentLength", n.to_string())
            .with_text("ParserSize", n.to_string());
    }
    list = list
        .with_text("InitialDeliveryMethod", "P")
        .with_text("MultiTrans", "1")
        .with_text("SupportedBearer", "HTTP");
    for m in cir_methods {
        list = list.with_text("SupportedCIRMethod", *m);
    }
    if let Some(u) = udp {
        if let Some(a) = &u.address {
            list = list.with_text("UDPAddress", a.clone());
        }
        list = list.with_text("UDPPort", u.port.to_string());
    }
    Element::new("ClientCapability-Request")
        .with(client_id(client))
        .with(list)
}

/// A Service-Request asking for every function of the four features.
pub fn service_request_all(client: &str) -> Element {
    let feat = Element::new("WVCSPFeat")
        .with(Element::new("FundamentalFeat"))
        .with(Element::new("PresenceFeat"))
        .with(Element::new("IMFeat"))
        .with(Element::new("GroupFeat"));
    Element::new("Service-Request")
        .with(client_id(client))
        .with(Element::new("Functions").with(feat))
        .with_text("AllFunctionsRequest", "T")
}

/// `Status{Result{Code, Description}}`.
pub fn status(code: u16, description: &str) -> Element {
    let mut result = Element::new("Result").with_text("Code", code.to_string());
    if !description.is_empty() {
        result = result.with_text("Description", description);
    }
    Element::new("Status").with(result)
}

/// Reads `Result/Code` and `Result/Description` from any response
/// primitive (or from a `Result` element itself). `None` when there is no
/// Result or its Code is not a number.
pub fn status_of(e: &Element) -> Option<(u16, String)> {
    let result = if e.name == "Result" {
        e
    } else {
        e.child("Result")?
    };
    let code = result.child_text("Code")?.parse().ok()?;
    let description = result.child_text("Description").unwrap_or("").to_string();
    Some((code, description))
}

/// Makes a response a success or a `ClientError::Status`. A `Status`
/// without a readable code is a protocol error: Android crashes on it, so
/// our server must never send one.
pub(crate) fn check_ok(body: Element) -> crate::Result<Element> {
    match status_of(&body) {
        Some((200, _)) => Ok(body),
        Some((code, description)) => Err(crate::ClientError::Status { code, description }),
        None if body.name == "Status" => Err(crate::ClientError::Protocol(
            "Status without a numeric Result/Code".into(),
        )),
        None => Ok(body),
    }
}

/// Checks that a response is the primitive we expect.
pub(crate) fn expect_name(body: &Element, name: &str) -> crate::Result<()> {
    if body.name == name {
        Ok(())
    } else {
        Err(crate::ClientError::Protocol(format!(
            "expected {name}, got {}",
            body.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e: &Element) -> Vec<&str> {
        e.children.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn password_login_has_the_contract_children() {
        let e = login_request("alice", "WV:test", LoginAuth::Password("secret"), 600, "c1");
        assert_eq!(e.name, "Login-Request");
        assert_eq!(
            names(&e),
            [
                "UserID",
                "ClientID",
                "Password",
                "TimeToLive",
                "SessionCookie"
            ]
        );
        assert_eq!(e.child_text("UserID"), Some("alice"));
        assert_eq!(
            e.path(&["ClientID", "URL"]).map(|u| u.text.as_str()),
            Some("WV:test")
        );
        assert_eq!(e.child_text("Password"), Some("secret"));
        assert_eq!(e.child_u64("TimeToLive"), Some(600));
        assert_eq!(e.child_text("SessionCookie"), Some("c1"));
    }

    #[test]
    fn digest_login_legs_carry_schemas_then_bytes_and_never_the_password() {
        let first = login_request(
            "bob",
            "WV:t",
            LoginAuth::DigestSchemas(&["SHA", "MD5"]),
            600,
            "c",
        );
        let schemas: Vec<_> = first
            .children_named("DigestSchema")
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(schemas, ["SHA", "MD5"]);
        assert!(first.child("Password").is_none());
        let second = login_request("bob", "WV:t", LoginAuth::DigestBytes("AAAA"), 600, "c");
        assert_eq!(second.child_text("DigestBytes"), Some("AAAA"));
        assert!(second.child("Password").is_none() && second.child("DigestSchema").is_none());
    }

    #[test]
    fn login_answers_to_system_messages_follow_the_cookie_in_1_3_only() {
        let login = login_request("alice", "WV:t", LoginAuth::Password("pw"), 600, "c");
        let answers = [SystemMessageResponse::new("terms-v1", Some(2))];
        let e = with_system_message_answers(login.clone(), Version::V1_3, &answers);
        assert_eq!(names(&e).last(), Some(&"SystemMessageResponseList"));
        let r = e
            .path(&["SystemMessageResponseList", "SystemMessageResponse"])
            .unwrap();
        assert_eq!(r.child_text("SystemMessageID"), Some("terms-v1"));
        assert_eq!(r.child_text("ChosenOptionID"), Some("2"));
        assert_eq!(
            with_system_message_answers(login.clone(), Version::V1_2, &answers),
            login
        );
        assert_eq!(
            with_system_message_answers(login.clone(), Version::V1_3, &[]),
            login
        );
    }

    #[test]
    fn capability_and_service_requests_have_the_android_shape() {
        let cap = client_capability_request("WV:t", &["STCP", "SHTTP"], Some(262144));
        let list = cap.child("CapabilityList").map(names).unwrap_or_default();
        assert!(list.contains(&"ParserSize") && list.contains(&"ClientType"));
        let cir: Vec<_> = cap
            .child("CapabilityList")
            .into_iter()
            .flat_map(|l| l.children_named("SupportedCIRMethod"))
            .map(|m| m.text.as_str())
            .collect();
        assert_eq!(cir, ["STCP", "SHTTP"]);
        let svc = service_request_all("WV:t");
        let feat = svc
            .path(&["Functions", "WVCSPFeat"])
            .map(names)
            .unwrap_or_default();
        assert_eq!(
            feat,
            ["FundamentalFeat", "PresenceFeat", "IMFeat", "GroupFeat"]
        );
        assert_eq!(svc.child_bool("AllFunctionsRequest"), Some(true));
    }

    #[test]
    fn status_of_reads_codes_and_check_ok_sorts_them() {
        assert_eq!(
            status_of(&status(604, "Not logged on")),
            Some((604, "Not logged on".into()))
        );
        assert_eq!(status_of(&Element::new("Logout-Request")), None);
        assert!(check_ok(status(200, "")).is_ok());
        assert_eq!(
            check_ok(status(531, "x"))
                .err()
                .and_then(|e| e.status_code()),
            Some(531)
        );
        assert!(matches!(
            check_ok(Element::new("Status")),
            Err(crate::ClientError::Protocol(_))
        ));
    }
}
