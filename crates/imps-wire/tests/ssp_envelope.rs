//! The SSP envelope (issue 17, first step): association steps and
//! sessions read and written, the public implementation's misspellings
//! and case changes accepted, IDs in one form, and no panic on any input.
#![allow(clippy::unwrap_used)]

use imps_wire::ssp::{
    MetaInfo, Mode, SetupStep, SetupTransaction, SspMessage, SspSession, SspStatus, SspTransaction,
    SspUser, normalize_id, service_id,
};
use imps_wire::{Element, Limits};
use proptest::prelude::*;

fn decode(xml: &str) -> Result<SspMessage, imps_wire::WireError> {
    SspMessage::decode(xml.as_bytes(), &Limits::default())
}

#[test]
fn ssp_an_opening_step_with_the_misspelled_version_attribute_is_read() {
    let m = decode(
        r#"<WV-SSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-SSP1.3">
             <SetupTransaction mode="request" TransactionID="9">
               <SendSecretToken serviceid="WV:@North.Example" protocol="WV-SSP" procotolVersion="1.3">
                 <SecretToken> 00ff </SecretToken>
               </SendSecretToken>
             </SetupTransaction>
           </WV-SSP-Message>"#,
    )
    .unwrap();
    let SspMessage::Setup(s) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(s.mode, Mode::Request);
    assert_eq!(s.transaction_id, "9");
    assert_eq!(
        s.step,
        SetupStep::SendSecretToken {
            service_id: "wv:@north.example".into(),
            protocol: "WV-SSP".into(),
            protocol_version: "1.3".into(),
            secret: "00ff".into(),
        }
    );
    // Written back in the one spelling.
    let out = String::from_utf8(m.encode()).unwrap();
    assert!(out.contains(r#"protocolVersion="1.3""#), "{out}");
    assert!(!out.contains("procotol"), "{out}");
    assert!(out.contains(r#"serviceID="wv:@north.example""#), "{out}");
}

#[test]
fn ssp_a_session_keeps_its_transactions_and_their_primitives_in_order() {
    let m = decode(
        r#"<WV-SSP-Message><Session sessionID="4@south.example">
             <Transaction mode="Request" transactionID="0000000001-1">
               <SendMessageRequest deliveryReport="Yes">
                 <MetaInfo clientOriginated="Yes"><Requestor serviceID="wv:@south.example">
                   <User userID="carol@South.Example"><ClientID url="">handset</ClientID></User>
                 </Requestor></MetaInfo>
               </SendMessageRequest>
             </Transaction>
             <Transaction mode="Response" transactionID="0000000001-0">
               <SendMessageResponse messageID="x1"><Status code="200"/></SendMessageResponse>
             </Transaction>
           </Session></WV-SSP-Message>"#,
    )
    .unwrap();
    let SspMessage::Session(s) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(s.session_id, "4@south.example");
    assert_eq!(s.transactions.len(), 2);
    assert_eq!(s.transactions[1].mode, Mode::Response);
    let meta = MetaInfo::of(&s.transactions[0].primitive).unwrap();
    assert!(meta.client_originated);
    assert_eq!(
        meta.user,
        Some(SspUser {
            user_id: "wv:carol@south.example".into(),
            friendly_name: None,
            client_id: Some("handset".into()),
        })
    );
    assert!(meta.acts_for("SOUTH.example"));
    assert!(!meta.acts_for("north.example"));
    let st = s.transactions[1].primitive.child("Status").unwrap();
    assert_eq!(SspStatus::from_element(st).unwrap(), SspStatus::ok());
}

#[test]
fn ssp_a_user_of_another_domain_does_not_act_through_an_association() {
    let meta = MetaInfo {
        client_originated: true,
        service_id: service_id("south.example"),
        user: Some(SspUser {
            user_id: "wv:mallory@north.example".into(),
            friendly_name: None,
            client_id: None,
        }),
    };
    assert!(!meta.acts_for("south.example"));
    // A server-originated request (presence push) names no user.
    let server = MetaInfo {
        client_originated: false,
        user: None,
        ..meta
    };
    assert!(server.acts_for("south.example"));
    // clientOriginated="No" means the user child is not the actor.
    let read = MetaInfo::of(&Element::new("X").with(server.to_element())).unwrap();
    assert_eq!(read, server);
}

#[test]
fn ssp_ids_are_written_with_wv_and_a_lower_case_domain() {
    assert_eq!(
        normalize_id("alice@A.Example").as_deref(),
        Some("wv:alice@a.example")
    );
    assert_eq!(
        normalize_id("WV:alice@a.example").as_deref(),
        Some("wv:alice@a.example")
    );
    assert_eq!(
        normalize_id("wv:@a.example").as_deref(),
        Some("wv:@a.example")
    );
    for bad in [
        "",
        "alice",
        "wv:alice@",
        "al ice@a.example",
        "a@b/c",
        "a@b c",
    ] {
        assert_eq!(normalize_id(bad), None, "{bad:?}");
    }
}

#[test]
fn ssp_structure_errors_are_refused_with_a_reason() {
    for (doc, why) in [
        ("<WV-CSP-Message/>", "root"),
        ("<WV-SSP-Message/>", "empty"),
        (
            r#"<WV-SSP-Message><Session sessionID="1"/></WV-SSP-Message>"#,
            "without a Transaction",
        ),
        (
            r#"<WV-SSP-Message><Session sessionID="1"><Transaction mode="Ask" transactionID="1"><X/></Transaction></Session></WV-SSP-Message>"#,
            "mode",
        ),
        (
            r#"<WV-SSP-Message><SetupTransaction mode="Request" transactionID="1"><LoginRequest serviceID="wv:@a.b"/></SetupTransaction></WV-SSP-Message>"#,
            "PasswordDigest",
        ),
        (
            r#"<WV-SSP-Message><SetupTransaction mode="Request" transactionID="1"><LoginResponse sessionID="1"><Status code="2x"/></LoginResponse></SetupTransaction></WV-SSP-Message>"#,
            "not a number",
        ),
    ] {
        let e = decode(doc).unwrap_err().to_string();
        assert!(e.contains(why), "{doc}: {e}");
    }
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,12}"
}

fn domain() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}\\.[a-z]{2,4}"
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Request), Just(Mode::Response)]
}

fn status() -> impl Strategy<Value = SspStatus> {
    (100u16..1000, proptest::option::of("[a-zA-Z ]{1,20}")).prop_map(|(code, description)| {
        SspStatus {
            code,
            description,
            details: Vec::new(),
        }
    })
}

fn step() -> impl Strategy<Value = SetupStep> {
    prop_oneof![
        (domain(), token()).prop_map(|(d, secret)| SetupStep::SendSecretToken {
            service_id: service_id(&d),
            protocol: "WV-SSP".into(),
            protocol_version: "1.3".into(),
            secret,
        }),
        (domain(), proptest::option::of(any::<u64>()), token()).prop_map(|(d, ttl, digest)| {
            SetupStep::LoginRequest {
                service_id: service_id(&d),
                time_to_live: ttl,
                digest,
            }
        }),
        (token(), proptest::option::of(any::<u64>()), status()).prop_map(
            |(session_id, ttl, status)| SetupStep::LoginResponse {
                session_id,
                time_to_live: ttl,
                status,
            }
        ),
    ]
}

fn meta() -> impl Strategy<Value = MetaInfo> {
    (
        domain(),
        proptest::option::of((token(), proptest::option::of(token()))),
    )
        .prop_map(|(d, user)| MetaInfo {
            client_originated: user.is_some(),
            service_id: service_id(&d),
            user: user.map(|(u, client_id)| SspUser {
                user_id: format!("wv:{}@{d}", u.to_lowercase()),
                friendly_name: None,
                client_id,
            }),
        })
}

fn message() -> impl Strategy<Value = SspMessage> {
    prop_oneof![
        (mode(), token(), step()).prop_map(|(mode, transaction_id, step)| {
            SspMessage::Setup(SetupTransaction {
                mode,
                transaction_id,
                step,
            })
        }),
        (
            token(),
            proptest::collection::vec((mode(), token(), meta()), 1..4)
        )
            .prop_map(|(session_id, ts)| {
                SspMessage::Session(SspSession {
                    session_id,
                    transactions: ts
                        .into_iter()
                        .map(|(mode, transaction_id, meta)| SspTransaction {
                            mode,
                            transaction_id,
                            primitive: Element::new("GetPresenceRequest").with(meta.to_element()),
                        })
                        .collect(),
                })
            }),
    ]
}

proptest! {
    #[test]
    fn ssp_roundtrip(m in message()) {
        let back = SspMessage::decode(&m.encode(), &Limits::default()).unwrap();
        prop_assert_eq!(&back, &m);
        // Compared in order: a session may hold two transactions under one
        // TransactionID (the generator makes such, and a peer may too).
        if let (SspMessage::Session(s), SspMessage::Session(orig)) = (&back, &m) {
            for (t, want) in s.transactions.iter().zip(&orig.transactions) {
                let read = MetaInfo::of(&t.primitive).unwrap();
                prop_assert_eq!(read, MetaInfo::of(&want.primitive).unwrap());
            }
        }
    }

    /// Any bytes, and any document made by cutting a valid one, give a
    /// value or an error, never a panic.
    #[test]
    fn ssp_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), m in message(), cut in 0usize..2048) {
        let _ = SspMessage::decode(&bytes, &Limits::default());
        let enc = m.encode();
        let cut = cut.min(enc.len());
        let _ = SspMessage::decode(&enc[..cut], &Limits::default());
        let mut twisted = enc.clone();
        if !twisted.is_empty() {
            let i = cut % twisted.len();
            twisted[i] = twisted[i].wrapping_add(1);
        }
        if let Ok(SspMessage::Session(s)) = SspMessage::decode(&twisted, &Limits::default()) {
            for t in &s.transactions {
                let _ = MetaInfo::of(&t.primitive);
            }
        }
    }
}
