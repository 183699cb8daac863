//! Session and fundamental-service examples: login (password and digest),
//! logout, keep-alive, service and capability negotiation, polling, status.

use super::{Examples, client_id, outband_request, outband_response, request, response, result};
use crate::{Element, Message, Transaction, Version};

pub(super) fn add(v: Version, out: &mut Examples) {
    // Login, 2-way: the password in the clear.
    let login = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(client_id())
        .with_text("Password", "s3cret&<pw>")
        .with_text("TimeToLive", "7205")
        .with_text("SessionCookie", "1234567890123");
    out.push(("Login-Request", outband_request(v, "1", login)));

    // Login, 4-way first leg, as Android writes it: the schemas it supports
    // appended after SessionCookie, in preference order, and no password.
    let digest = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(client_id())
        .with_text("TimeToLive", "7205")
        .with_text("SessionCookie", "1234567890123")
        .with_text("DigestSchema", "MD5")
        .with_text("DigestSchema", "SHA");
    out.push(("Login-Request-digest", outband_request(v, "2", digest)));

    // Second leg: same TransactionID as the first.
    let digest2 = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(client_id())
        .with_text("DigestBytes", "mFQBcqIbt4GwhBfmMGc2Tw==")
        .with_text("TimeToLive", "7205")
        .with_text("SessionCookie", "1234567890123");
    out.push((
        "Login-Request-digest-bytes",
        outband_request(v, "2", digest2),
    ));

    let ok = Element::new("Login-Response")
        .with(result(200, None))
        .with_text("SessionID", super::SESSION_ID)
        .with_text("KeepAliveTime", "600")
        .with_text("CapabilityRequest", "T");
    out.push(("Login-Response", outband_response(v, "1", ok)));

    // The challenge: Nonce and one chosen schema, and no SessionID (which
    // is how Android tells a challenge from a success).
    let challenge = Element::new("Login-Response")
        .with(result(
            401,
            Some("Please complete authentication challenge"),
        ))
        .with_text("Nonce", "4f1e2d3c4b5a69788796a5b4c3d2e1f0")
        .with_text("DigestSchema", "MD5")
        .with_text("CapabilityRequest", "F");
    out.push((
        "Login-Response-challenge",
        outband_response(v, "2", challenge),
    ));

    out.push((
        "Logout-Request",
        request(v, "7", Element::new("Logout-Request")),
    ));
    let disconnect = Element::new("Disconnect").with(result(601, Some("Forced logout")));
    out.push(("Disconnect", request(v, "s1", disconnect)));

    let ka = Element::new("KeepAlive-Request").with_text("TimeToLive", "7205");
    out.push(("KeepAlive-Request", request(v, "8", ka)));
    let ka = Element::new("KeepAlive-Response")
        .with(result(200, None))
        .with_text("KeepAliveTime", "600");
    let mut ka = response(v, "8", ka);
    if v >= Version::V1_2 {
        // The CIR flag exists from 1.2: F asks the client to rebuild its
        // CIR channel.
        ka.cir = Some(false);
    }
    out.push(("KeepAlive-Response", ka));

    let spi = Element::new("GetSPInfo-Request").with(client_id());
    out.push(("GetSPInfo-Request", outband_request(v, "1", spi)));
    let logo = Element::new("Logo")
        .with_text("ContentType", "image/png")
        .with_text("ContentEncoding", "base64")
        .with_text("ContentData", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==");
    let spi = Element::new("GetSPInfo-Response")
        .with(client_id())
        .with_text("Name", "impsd")
        .with(logo)
        .with_text("Description", "An IMPS server")
        .with_text("URL", "http://im.example.com/");
    out.push(("GetSPInfo-Response", outband_response(v, "1", spi)));

    capabilities(v, out);
    services(v, out);

    // Android's Polling-Request carries no TransactionID.
    let poll = Transaction {
        id: None,
        ..Transaction::request("", Element::new("Polling-Request"))
    };
    out.push((
        "Polling-Request",
        Message::single(v, Some(super::SESSION_ID.into()), poll),
    ));

    let status = Element::new("Status").with(result(200, Some("Successfully completed")));
    out.push(("Status", response(v, "9", status)));
    // A 201 with a detail, and the Poll flag: more server messages wait
    // (in TransactionDescriptor for 1.1, in Session from 1.2).
    let detail = Element::new("DetailedResult")
        .with_text("Code", "531")
        .with_text("Description", "Unknown user")
        .with_text("UserID", "wv:nobody@example.com");
    let partial =
        Element::new("Status").with(result(201, Some("Partially successful")).with(detail));
    let mut partial = response(v, "10", partial);
    partial.poll = Some(true);
    out.push(("Status-partial", partial));
}

fn capabilities(v: Version, out: &mut Examples) {
    // What Android sends (reference (e) step 3). SHTTP/SSMS are 1.2+ names.
    let methods: &[&str] = if v == Version::V1_1 {
        &["STCP", "WAPSMS"]
    } else {
        &["STCP", "SSMS", "SHTTP"]
    };
    let mut caps = Element::new("CapabilityList")
        .with_text("AcceptedContentLength", "262144")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("InitialDeliveryMethod", "P")
        .with_text("MultiTrans", "1")
        .with_text("ParserSize", "262144")
        .with_text("ServerPollMin", "30")
        .with_text("SupportedBearer", "HTTP");
    for m in methods {
        caps = caps.with_text("SupportedCIRMethod", *m);
    }
    let mut req = Element::new("ClientCapability-Request");
    if v == Version::V1_1 {
        req = req.with(client_id());
    }
    out.push(("ClientCapability-Request", request(v, "3", req.with(caps))));

    // A Colibria-style client: ClientID in 1.2 too, and a vendor element in
    // its own namespace inside the list. Unknown elements must survive.
    let vendor = Element::text("ClientTypeDetail", "PC")
        .with_attr("xmlns", "http://imps.colibria.com/PA-ext-1.2");
    let caps = Element::new("CapabilityList")
        .with_text("ClientType", "COMPUTER")
        .with(vendor)
        .with_text("SupportedBearer", "HTTP");
    let req = Element::new("ClientCapability-Request")
        .with(Element::new("ClientID").with_text(
            "URL",
            "WV:InstantMessenger-1.0.2309.16485@COLIBRIA.PC-CLIENT",
        ))
        .with(caps);
    out.push(("ClientCapability-Request-vendor", request(v, "4", req)));

    // The answer. Android reads the first child as the list, so no leading
    // ClientID even in 1.1.
    let list = if v == Version::V1_1 {
        "CapabilityList"
    } else {
        "AgreedCapabilityList"
    };
    let mut agreed = Element::new(list);
    agreed = match v {
        Version::V1_1 => agreed,
        Version::V1_2 => agreed
            .with(Element::new("CIRURL").with_text("URL", "http://im.example.com/cir/7f3a/42")),
        Version::V1_3 => agreed.with(
            Element::new("CIRHTTPAddress").with_text("URL", "http://im.example.com/cir/7f3a/42"),
        ),
    };
    agreed = agreed
        .with_text("ServerPollMin", "30")
        .with_text("SupportedBearer", "HTTP")
        .with_text("SupportedCIRMethod", "STCP");
    if v >= Version::V1_2 {
        agreed = agreed.with_text("SupportedCIRMethod", "SHTTP");
    }
    agreed = agreed
        .with_text("TCPAddress", "im.example.com")
        .with_text("TCPPort", "3171");
    let resp = Element::new("ClientCapability-Response").with(agreed);
    out.push(("ClientCapability-Response", response(v, "3", resp)));
}

fn services(v: Version, out: &mut Examples) {
    // An empty feature element asks for the whole subtree.
    let wanted = Element::new("WVCSPFeat")
        .with(Element::new("FundamentalFeat"))
        .with(Element::new("PresenceFeat"))
        .with(Element::new("IMFeat"))
        .with(Element::new("GroupFeat"));
    let mut req = Element::new("Service-Request");
    if v == Version::V1_1 {
        req = req.with(client_id());
    }
    let req = req
        .with(Element::new("Functions").with(wanted))
        .with_text("AllFunctionsRequest", "T");
    out.push(("Service-Request", request(v, "5", req)));

    let f = |group: &str, leaves: &[&str]| {
        leaves
            .iter()
            .fold(Element::new(group), |g, l| g.with(Element::new(*l)))
    };
    let fundamental = Element::new("FundamentalFeat")
        .with(f("ServiceFunc", &["GETSPI"]))
        .with(f("SearchFunc", &["SRCH", "STSRC"]))
        .with(f("InviteFunc", &["INVIT", "CAINV"]));
    let presence = Element::new("PresenceFeat")
        .with(f("ContListFunc", &["GCLI", "CCLI", "DCLI", "MCLS"]))
        .with(f("PresenceDeliverFunc", &["GETPR", "UPDPR"]));
    let im = Element::new("IMFeat")
        .with(f("IMSendFunc", &["MDELIV", "FWMSG"]))
        .with(f(
            "IMReceiveFunc",
            &["SETD", "GETLM", "GETM", "REJCM", "NOTIF", "NEWM"],
        ))
        .with(f("IMAuthFunc", &["GLBLU", "BLENT"]));
    let group = Element::new("GroupFeat")
        .with(f("GroupMgmtFunc", &["CREAG", "DELGR", "GETGP", "SETGP"]))
        .with(f("GroupUseFunc", &["SUBGCN", "GRCHN"]))
        .with(f(
            "GroupAuthFunc",
            &["GETGM", "ADDGM", "RMVGM", "MBRAC", "REJEC"],
        ));
    let all = Element::new("WVCSPFeat")
        .with(fundamental)
        .with(presence)
        .with(im)
        .with(group);
    let mut resp = Element::new("Service-Response");
    if v == Version::V1_1 {
        resp = resp.with(client_id());
    }
    // Android dereferences AllFunctions without checking: always present.
    let resp = resp.with(Element::new("AllFunctions").with(all));
    out.push(("Service-Response", response(v, "5", resp)));
}
