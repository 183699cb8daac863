//! Typed CSP primitives (`imps_wire::csp`).
//!
//! * Property tests: a random value of every type, valid for the version,
//!   is written with `to_element`, carried in a Message through XML and
//!   WBXML in 1.1, 1.2 and 1.3, read back with `from_element`, and must
//!   equal the original. Writing the value read back must also give the
//!   element written the first time (the element round trip for
//!   schema-ordered input). Unknown children are generated with names from
//!   the token tables of every version, plus a vendor element.
//! * Random trees under each type's name never panic, and whatever reads
//!   writes an element that reads back to the same element.
//! * Examples from the message shapes in the reference, hostile input,
//!   and the version-dependent forms.

use std::fmt::Debug;

use imps_wire::csp::{self, *};
use imps_wire::element::bool_str;
use imps_wire::{
    Element, Encoding, Limits, Message, PrimitiveKind, Transaction, Version, WireError, decode,
    encode,
};
use proptest::prelude::*;
use proptest::sample::select;

type S<T> = BoxedStrategy<T>;

// ---------------------------------------------------------------------
// The wire round trip.

/// Writes `value` for `v`, sends it through both encodings inside a
/// Message, reads it back, and checks value and element equality.
fn wire_round_trip<T: PartialEq + Debug>(
    value: &T,
    v: Version,
    to: impl Fn(&T, Version) -> Element,
    from: impl Fn(&Element, Version) -> Result<T, WireError>,
) -> Result<(), TestCaseError> {
    let body = to(value, v);
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let msg = Message::single(
            v,
            Some("sess-1".into()),
            Transaction::request("42", body.clone()),
        );
        let bytes =
            encode(&msg, enc).map_err(|e| TestCaseError::fail(format!("{enc:?} encode: {e}")))?;
        let back = decode(&bytes, enc, &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{enc:?} decode: {e}")))?;
        prop_assert_eq!(back.version, v);
        let tx = back
            .transactions
            .first()
            .ok_or_else(|| TestCaseError::fail("no transaction"))?;
        prop_assert_eq!(
            &tx.body,
            &body,
            "{:?} {:?}: tree changed on the wire",
            enc,
            v
        );
        let parsed =
            from(&tx.body, v).map_err(|e| TestCaseError::fail(format!("{enc:?} {v:?}: {e}")))?;
        prop_assert_eq!(&parsed, value, "{:?} {:?}", enc, v);
        prop_assert_eq!(&to(&parsed, v), &body, "{:?} {:?}: element changed", enc, v);
    }
    Ok(())
}

fn primitive_round_trip<P: Primitive + PartialEq + Debug>(
    value: &P,
    v: Version,
) -> Result<(), TestCaseError> {
    if v < P::KIND.since() {
        return Ok(());
    }
    let e = P::to_element(value, v);
    prop_assert_eq!(e.name.as_str(), P::KIND.name());
    wire_round_trip(value, v, P::to_element, P::from_element)
}

fn version() -> S<Version> {
    select(Version::ALL.to_vec()).boxed()
}

// ---------------------------------------------------------------------
// Strategies for text, numbers and trees.

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Any text XML can carry, biased towards characters that need escaping,
/// odd unicode, and strings the WBXML tables turn into tokens.
fn text() -> S<String> {
    let special = select(vec![
        '&', '<', '>', '"', '\'', '\r', '\n', '\t', ' ', ']', ';', '#', 'é', '€', '🙂', '\u{FFFD}',
        '\u{85}', '\u{2028}', '\u{A0}', '\u{200B}', '\u{202E}', 'ß', '中', '\u{301}',
    ]);
    let ch = prop_oneof![3 => any::<char>(), 2 => special, 3 => prop::char::range('a', 'z')];
    prop_oneof![
        1 => Just(String::new()),
        1 => select(vec!["T", "F", "200", "AVAILABLE", "text/plain", "wv:alice@example.com", "]]>"])
            .prop_map(String::from),
        6 => prop::collection::vec(ch, 0..24)
            .prop_map(|cs| cs.into_iter().filter(|c| is_xml_char(*c)).collect()),
    ]
    .boxed()
}

fn opt_text() -> S<Option<String>> {
    prop::option::of(text()).boxed()
}

fn texts() -> S<Vec<String>> {
    prop::collection::vec(text(), 0..3).boxed()
}

fn num() -> S<u64> {
    prop_oneof![0..1000u64, any::<u64>()].boxed()
}

fn opt_num() -> S<Option<u64>> {
    prop::option::of(num()).boxed()
}

fn opt_bool() -> S<Option<bool>> {
    prop::option::of(any::<bool>()).boxed()
}

/// `Some` only for 1.3 (the field is not written for older versions).
fn opt13<T: Debug + Clone + 'static>(v: Version, s: S<T>) -> S<Option<T>> {
    if v >= Version::V1_3 {
        prop::option::of(s).boxed()
    } else {
        Just(None).boxed()
    }
}

fn el(name: &str, children: Vec<Element>) -> Element {
    let mut e = Element::new(name);
    e.children = children;
    e
}

/// Unknown children: CSP names none of the types map (each in the 1.1,
/// 1.2 and 1.3 tables), a small structure, and a vendor element.
fn other_child() -> S<Element> {
    let leaf_names = vec![
        "Acceptance",
        "InviteNote",
        "SearchString",
        "InviteID",
        "ResponseNote",
        "SubscribeType",
        "DeliveryMethod",
    ];
    prop_oneof![
        4 => (select(leaf_names), text()).prop_map(|(n, t)| Element::text(n, t)),
        1 => (text(), text()).prop_map(|(n, t)| {
            Element::new("Property").with_text("Name", n).with_text("Value", t)
        }),
        1 => text().prop_map(|t| Element::new("Logo").with_text("ContentType", t)),
        1 => text().prop_map(|t| {
            Element::text("VendorNote", t).with_attr("xmlns", "http://vendor.example/ext")
        }),
    ]
    .boxed()
}

fn others() -> S<Vec<Element>> {
    prop::collection::vec(other_child(), 0..3).boxed()
}

fn presence_sub_list() -> S<Element> {
    let attr = prop_oneof![
        (
            select(vec![
                "OnlineStatus",
                "UserAvailability",
                "StatusText",
                "Alias",
                "StatusMood"
            ]),
            any::<bool>(),
            text()
        )
            .prop_map(|(n, q, t)| {
                Element::new(n)
                    .with_text("Qualifier", bool_str(q))
                    .with_text("PresenceValue", t)
            }),
        select(vec!["OnlineStatus", "ClientInfo", "CommCap", "StatusText"]).prop_map(Element::new),
        (any::<bool>(), text(), text()).prop_map(|(q, ct, p)| {
            Element::new("ClientInfo")
                .with_text("Qualifier", bool_str(q))
                .with_text("ClientType", ct)
                .with_text("ClientProducer", p)
        }),
    ];
    prop::collection::vec(attr, 0..4)
        .prop_map(|cs| el("PresenceSubList", cs))
        .boxed()
}

fn functions() -> S<Element> {
    let feat = select(vec![
        "FundamentalFeat",
        "PresenceFeat",
        "IMFeat",
        "GroupFeat",
    ]);
    prop::collection::vec(feat, 0..4)
        .prop_map(|fs| {
            Element::new("Functions")
                .with(el("WVCSPFeat", fs.into_iter().map(Element::new).collect()))
        })
        .boxed()
}

fn capability_list() -> S<Element> {
    (
        text(),
        num(),
        prop::collection::vec(select(vec!["STCP", "SHTTP", "SSMS"]), 0..3),
    )
        .prop_map(|(ct, size, cir)| {
            let mut e = Element::new("CapabilityList")
                .with_text("ClientType", ct)
                .with_text("ParserSize", size.to_string());
            for m in cir {
                e = e.with_text("SupportedCIRMethod", m);
            }
            e
        })
        .boxed()
}

fn agreed_capability_list() -> S<Element> {
    (num(), text())
        .prop_map(|(poll, addr)| {
            Element::new("AgreedCapabilityList")
                .with_text("ServerPollMin", poll.to_string())
                .with_text("TCPAddress", addr)
        })
        .boxed()
}

fn answer_option() -> S<AnswerOption> {
    (num(), text(), others())
        .prop_map(|(id, text, other)| AnswerOption { id, text, other })
        .boxed()
}

fn verification_mechanism() -> S<VerificationMechanism> {
    (opt_text(), opt_text(), others())
        .prop_map(|(in_text, url, other)| VerificationMechanism {
            in_text,
            url,
            other,
        })
        .boxed()
}

fn system_message() -> S<SystemMessage> {
    (
        text(),
        opt_bool(),
        text(),
        prop::collection::vec(answer_option(), 0..4),
        prop::option::of(verification_mechanism()),
        others(),
    )
        .prop_map(
            |(id, requires_response, text, answer_options, verification, other)| SystemMessage {
                id,
                requires_response,
                text,
                answer_options,
                verification,
                other,
            },
        )
        .boxed()
}

fn system_message_list() -> S<SystemMessageList> {
    (prop::collection::vec(system_message(), 0..3), others())
        .prop_map(|(messages, other)| SystemMessageList { messages, other })
        .boxed()
}

fn system_message_response() -> S<SystemMessageResponse> {
    (text(), opt_num(), opt_text(), others())
        .prop_map(
            |(id, chosen_option_id, verification_key, other)| SystemMessageResponse {
                id,
                chosen_option_id,
                verification_key,
                other,
            },
        )
        .boxed()
}

fn system_message_response_list() -> S<SystemMessageResponseList> {
    (
        prop::collection::vec(system_message_response(), 0..3),
        others(),
    )
        .prop_map(|(responses, other)| SystemMessageResponseList { responses, other })
        .boxed()
}

fn font() -> S<Element> {
    (text(), text())
        .prop_map(|(size, color)| {
            Element::new("Font")
                .with_text("Size", size)
                .with_text("Color", color)
        })
        .boxed()
}

fn ext_block_etem() -> S<Element> {
    (text(), any::<bool>())
        .prop_map(|(t, ns)| {
            let e = Element::text("ExtBlockETEM", t);
            if ns {
                e.with_attr("xmlns", "http://vendor.example/etem")
            } else {
                e
            }
        })
        .boxed()
}

// ---------------------------------------------------------------------
// Strategies for the shared structures.

fn client_id() -> S<ClientId> {
    let ids = prop_oneof![
        (text(), opt_text()).prop_map(|(u, m)| (Some(u), m)),
        text().prop_map(|m| (None, Some(m))),
    ];
    (ids, others())
        .prop_map(|((url, msisdn), other)| ClientId { url, msisdn, other })
        .boxed()
}

fn screen_name() -> S<ScreenName> {
    (text(), text(), others())
        .prop_map(|(s_name, group_id, other)| ScreenName {
            s_name,
            group_id,
            other,
        })
        .boxed()
}

fn detailed_result(v: Version) -> S<DetailedResult> {
    let domains = if v >= Version::V1_2 {
        texts()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        num(),
        opt_text(),
        texts(),
        texts(),
        prop::collection::vec(screen_name(), 0..2),
        texts(),
        texts(),
        domains,
        others(),
    )
        .prop_map(
            |(
                code,
                description,
                user_ids,
                group_ids,
                screen_names,
                message_ids,
                contact_lists,
                domains,
                other,
            )| DetailedResult {
                code,
                description,
                user_ids,
                group_ids,
                screen_names,
                message_ids,
                contact_lists,
                domains,
                other,
            },
        )
        .boxed()
}

fn csp_result(v: Version) -> S<CspResult> {
    (
        num(),
        opt_text(),
        prop::collection::vec(detailed_result(v), 0..2),
        opt13(v, system_message_list()),
        opt13(v, num()),
        others(),
    )
        .prop_map(
            |(code, description, details, system_message_list, try_again_timeout, other)| {
                CspResult {
                    code,
                    description,
                    details,
                    system_message_list,
                    try_again_timeout,
                    other,
                }
            },
        )
        .boxed()
}

fn user(v: Version) -> S<User> {
    (
        text(),
        opt13(v, text()),
        opt13(v, text()),
        prop::option::of(client_id()),
        others(),
    )
        .prop_map(
            |(user_id, friendly_name, application_id, client_id, other)| User {
                user_id,
                friendly_name,
                application_id,
                client_id,
                other,
            },
        )
        .boxed()
}

fn group() -> S<Group> {
    let target = prop_oneof![
        text().prop_map(GroupRef::Id),
        screen_name().prop_map(GroupRef::ScreenName),
    ];
    (target, others())
        .prop_map(|(target, other)| Group { target, other })
        .boxed()
}

fn sender(v: Version) -> S<Sender> {
    let party = prop_oneof![
        user(v).prop_map(Party::User),
        group().prop_map(Party::Group)
    ];
    (party, others())
        .prop_map(|(party, other)| Sender { party, other })
        .boxed()
}

fn recipient(v: Version) -> S<Recipient> {
    (
        prop::collection::vec(user(v), 0..3),
        prop::collection::vec(group(), 0..2),
        texts(),
        others(),
    )
        .prop_map(|(users, groups, contact_lists, other)| Recipient {
            users,
            groups,
            contact_lists,
            other,
        })
        .boxed()
}

fn message_info(v: Version) -> S<MessageInfo> {
    let head = (
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_num(),
        opt13(v, text()),
    );
    let tail = (
        prop::option::of(recipient(v)),
        prop::option::of(sender(v)),
        opt_text(),
        opt13(v, font()),
        opt_num(),
        if v >= Version::V1_3 {
            prop::collection::vec(ext_block_etem(), 0..3).boxed()
        } else {
            Just(Vec::new()).boxed()
        },
        others(),
    );
    (head, tail)
        .prop_map(
            |(
                (
                    message_id,
                    message_uri,
                    content_type,
                    content_encoding,
                    content_size,
                    content_name,
                ),
                (recipient, sender, date_time, font, validity, ext_block_etem, other),
            )| MessageInfo {
                message_id,
                message_uri,
                content_type,
                content_encoding,
                content_size,
                content_name,
                recipient,
                sender,
                date_time,
                font,
                validity,
                ext_block_etem,
                other,
            },
        )
        .boxed()
}

fn presence() -> S<Presence> {
    (
        text(),
        prop::collection::vec(presence_sub_list(), 0..3),
        others(),
    )
        .prop_map(|(user_id, presence_sub_lists, other)| Presence {
            user_id,
            presence_sub_lists,
            other,
        })
        .boxed()
}

// ---------------------------------------------------------------------
// Strategies for the primitives.

fn login_request(v: Version) -> S<LoginRequest> {
    let head = (
        opt_text(),
        client_id(),
        opt13(v, text()),
        opt_text(),
        opt_text(),
        texts(),
        opt_text(),
    );
    let tail = (
        opt_num(),
        opt_text(),
        opt13(v, system_message_response_list()),
        opt13(v, functions()),
        opt13(v, capability_list()),
        others(),
    );
    (head, tail)
        .prop_map(
            |(
                (
                    user_id,
                    client_id,
                    application_id,
                    password,
                    digest_bytes,
                    digest_schemas,
                    session_id,
                ),
                (
                    time_to_live,
                    session_cookie,
                    system_message_response_list,
                    functions,
                    capability_list,
                    other,
                ),
            )| LoginRequest {
                user_id,
                client_id,
                application_id,
                password,
                digest_bytes,
                digest_schemas,
                session_id,
                time_to_live,
                session_cookie,
                system_message_response_list,
                functions,
                capability_list,
                other,
            },
        )
        .boxed()
}

fn login_response(v: Version) -> S<LoginResponse> {
    let head = (
        opt_text(),
        prop::option::of(client_id()),
        opt_text(),
        csp_result(v),
        opt_text(),
        opt_text(),
    );
    let tail = (
        opt_text(),
        opt_num(),
        opt_bool(),
        opt13(v, functions()),
        opt13(v, agreed_capability_list()),
        others(),
    );
    (head, tail)
        .prop_map(
            |(
                (user_id, client_id, password, result, nonce, digest_schema),
                (
                    session_id,
                    keep_alive_time,
                    capability_request,
                    functions,
                    agreed_capability_list,
                    other,
                ),
            )| LoginResponse {
                user_id,
                client_id,
                password,
                result,
                nonce,
                digest_schema,
                session_id,
                keep_alive_time,
                capability_request,
                functions,
                agreed_capability_list,
                other,
            },
        )
        .boxed()
}

/// ClientID is written in 1.1 only.
fn opt_client_id_11(v: Version) -> S<Option<ClientId>> {
    if v == Version::V1_1 {
        prop::option::of(client_id()).boxed()
    } else {
        Just(None).boxed()
    }
}

fn client_capability_request(v: Version) -> S<ClientCapabilityRequest> {
    (opt_client_id_11(v), capability_list(), others())
        .prop_map(
            |(client_id, capability_list, other)| ClientCapabilityRequest {
                client_id,
                capability_list,
                other,
            },
        )
        .boxed()
}

fn service_request(v: Version) -> S<ServiceRequest> {
    (
        opt_client_id_11(v),
        prop::option::of(functions()),
        opt_bool(),
        others(),
    )
        .prop_map(
            |(client_id, functions, all_functions_request, other)| ServiceRequest {
                client_id,
                functions,
                all_functions_request,
                other,
            },
        )
        .boxed()
}

fn keep_alive_request() -> S<KeepAliveRequest> {
    (opt_num(), others())
        .prop_map(|(time_to_live, other)| KeepAliveRequest {
            time_to_live,
            other,
        })
        .boxed()
}

fn keep_alive_response(v: Version) -> S<KeepAliveResponse> {
    (csp_result(v), opt_num(), others())
        .prop_map(|(result, keep_alive_time, other)| KeepAliveResponse {
            result,
            keep_alive_time,
            other,
        })
        .boxed()
}

fn status(v: Version) -> S<Status> {
    (csp_result(v), prop::option::of(client_id()), others())
        .prop_map(|(result, client_id, other)| Status {
            result,
            client_id,
            other,
        })
        .boxed()
}

fn disconnect(v: Version) -> S<Disconnect> {
    (csp_result(v), others())
        .prop_map(|(result, other)| Disconnect { result, other })
        .boxed()
}

fn send_message_request(v: Version) -> S<SendMessageRequest> {
    (opt_bool(), message_info(v), opt_text(), others())
        .prop_map(
            |(delivery_report, message_info, content_data, other)| SendMessageRequest {
                delivery_report,
                message_info,
                content_data,
                other,
            },
        )
        .boxed()
}

fn send_message_response(v: Version) -> S<SendMessageResponse> {
    (csp_result(v), opt_text(), others())
        .prop_map(|(result, message_id, other)| SendMessageResponse {
            result,
            message_id,
            other,
        })
        .boxed()
}

fn new_message(v: Version) -> S<NewMessage> {
    (message_info(v), opt_text(), others())
        .prop_map(|(message_info, content_data, other)| NewMessage {
            message_info,
            content_data,
            other,
        })
        .boxed()
}

fn get_message_response(v: Version) -> S<GetMessageResponse> {
    (message_info(v), opt_text(), others())
        .prop_map(|(message_info, content_data, other)| GetMessageResponse {
            message_info,
            content_data,
            other,
        })
        .boxed()
}

fn message_notification(v: Version) -> S<MessageNotification> {
    (message_info(v), others())
        .prop_map(|(message_info, other)| MessageNotification {
            message_info,
            other,
        })
        .boxed()
}

fn message_delivered() -> S<MessageDelivered> {
    (text(), others())
        .prop_map(|(message_id, other)| MessageDelivered { message_id, other })
        .boxed()
}

fn get_message_request() -> S<GetMessageRequest> {
    (text(), others())
        .prop_map(|(message_id, other)| GetMessageRequest { message_id, other })
        .boxed()
}

fn get_message_list_request() -> S<GetMessageListRequest> {
    (opt_text(), opt_num(), others())
        .prop_map(|(group_id, message_count, other)| GetMessageListRequest {
            group_id,
            message_count,
            other,
        })
        .boxed()
}

fn get_message_list_response(v: Version) -> S<GetMessageListResponse> {
    (
        prop::collection::vec(message_info(v), 0..3),
        opt13(v, num()),
        others(),
    )
        .prop_map(
            |(messages, message_total_count, other)| GetMessageListResponse {
                messages,
                message_total_count,
                other,
            },
        )
        .boxed()
}

fn update_presence_request() -> S<UpdatePresenceRequest> {
    (presence_sub_list(), others())
        .prop_map(|(presence_sub_list, other)| UpdatePresenceRequest {
            presence_sub_list,
            other,
        })
        .boxed()
}

fn get_presence_request() -> S<GetPresenceRequest> {
    (
        texts(),
        texts(),
        prop::option::of(presence_sub_list()),
        others(),
    )
        .prop_map(
            |(user_ids, contact_lists, presence_sub_list, other)| GetPresenceRequest {
                user_ids,
                contact_lists,
                presence_sub_list,
                other,
            },
        )
        .boxed()
}

fn get_presence_response(v: Version) -> S<GetPresenceResponse> {
    (
        prop::option::of(csp_result(v)),
        prop::collection::vec(presence(), 0..3),
        others(),
    )
        .prop_map(|(result, presences, other)| GetPresenceResponse {
            result,
            presences,
            other,
        })
        .boxed()
}

fn presence_notification_request() -> S<PresenceNotificationRequest> {
    (prop::collection::vec(presence(), 0..3), others())
        .prop_map(|(presences, other)| PresenceNotificationRequest { presences, other })
        .boxed()
}

fn system_message_request() -> S<SystemMessageRequest> {
    (system_message_list(), others())
        .prop_map(|(system_message_list, other)| SystemMessageRequest {
            system_message_list,
            other,
        })
        .boxed()
}

fn system_message_user() -> S<SystemMessageUser> {
    (system_message_response_list(), others())
        .prop_map(|(system_message_response_list, other)| SystemMessageUser {
            system_message_response_list,
            other,
        })
        .boxed()
}

fn polling_request() -> S<PollingRequest> {
    others().prop_map(|other| PollingRequest { other }).boxed()
}

fn logout_request() -> S<LogoutRequest> {
    others().prop_map(|other| LogoutRequest { other }).boxed()
}

// ---------------------------------------------------------------------
// One property test per type.

/// `name => strategy(v)`: a proptest that round-trips primitives.
macro_rules! primitive_props {
    ($($test:ident => $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]
            $(
                #[test]
                fn $test((v, value) in version().prop_flat_map(|v| ($strategy)(v).prop_map(move |x| (v, x)))) {
                    primitive_round_trip(&value, v)?;
                }
            )*
        }
    };
}

primitive_props! {
    login_request_round_trips => login_request;
    login_response_round_trips => login_response;
    client_capability_request_round_trips => client_capability_request;
    service_request_round_trips => service_request;
    keep_alive_request_round_trips => |_| keep_alive_request();
    keep_alive_response_round_trips => keep_alive_response;
    polling_request_round_trips => |_| polling_request();
    logout_request_round_trips => |_| logout_request();
    disconnect_round_trips => disconnect;
    status_round_trips => status;
    send_message_request_round_trips => send_message_request;
    send_message_response_round_trips => send_message_response;
    new_message_round_trips => new_message;
    message_delivered_round_trips => |_| message_delivered();
    message_notification_round_trips => message_notification;
    get_message_request_round_trips => |_| get_message_request();
    get_message_response_round_trips => get_message_response;
    get_message_list_request_round_trips => |_| get_message_list_request();
    get_message_list_response_round_trips => get_message_list_response;
    update_presence_request_round_trips => |_| update_presence_request();
    get_presence_request_round_trips => |_| get_presence_request();
    get_presence_response_round_trips => get_presence_response;
    presence_notification_request_round_trips => |_| presence_notification_request();
    system_message_request_round_trips => |_| system_message_request();
    system_message_user_round_trips => |_| system_message_user();
}

// The 1.3 system-message primitives, in 1.3 only (the generic props
// above pick a random version and skip the ones before 1.3), and the
// login forms that carry their lists.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn system_message_request_round_trips_in_1_3(value in system_message_request()) {
        primitive_round_trip(&value, Version::V1_3)?;
    }

    #[test]
    fn system_message_user_round_trips_in_1_3(value in system_message_user()) {
        primitive_round_trip(&value, Version::V1_3)?;
    }

    #[test]
    fn login_response_with_system_messages_round_trips_in_1_3(
        mut value in login_response(Version::V1_3),
        list in system_message_list(),
    ) {
        value.result.system_message_list = Some(list);
        primitive_round_trip(&value, Version::V1_3)?;
    }

    #[test]
    fn login_request_with_system_message_answers_round_trips_in_1_3(
        mut value in login_request(Version::V1_3),
        list in system_message_response_list(),
    ) {
        value.system_message_response_list = Some(list);
        primitive_round_trip(&value, Version::V1_3)?;
    }
}

/// `name => (strategy(v), Type)`: the shared structures, carried as the
/// transaction body on their own.
macro_rules! structure_props {
    ($($test:ident => $strategy:expr, $ty:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $test((v, value) in version().prop_flat_map(|v| ($strategy)(v).prop_map(move |x| (v, x)))) {
                    wire_round_trip(&value, v, $ty::to_element, $ty::from_element)?;
                }
            )*
        }
    };
}

structure_props! {
    result_round_trips => csp_result, CspResult;
    detailed_result_round_trips => detailed_result, DetailedResult;
    client_id_round_trips => |_| client_id(), ClientId;
    screen_name_round_trips => |_| screen_name(), ScreenName;
    user_round_trips => user, User;
    group_round_trips => |_| group(), Group;
    sender_round_trips => sender, Sender;
    recipient_round_trips => recipient, Recipient;
    message_info_round_trips => message_info, MessageInfo;
    presence_round_trips => |_| presence(), Presence;
    answer_option_round_trips => |_| answer_option(), AnswerOption;
    verification_mechanism_round_trips => |_| verification_mechanism(), VerificationMechanism;
    system_message_round_trips => |_| system_message(), SystemMessage;
    system_message_list_round_trips => |_| system_message_list(), SystemMessageList;
    system_message_response_round_trips => |_| system_message_response(), SystemMessageResponse;
    system_message_response_list_round_trips => |_| system_message_response_list(), SystemMessageResponseList;
}

// ---------------------------------------------------------------------
// Random trees: never a panic, and reading is stable.

/// Names every type maps, plus a few it does not.
const TREE_NAMES: &[&str] = &[
    "UserID",
    "ClientID",
    "URL",
    "MSISDN",
    "ApplicationID",
    "Password",
    "DigestBytes",
    "DigestSchema",
    "SessionID",
    "TimeToLive",
    "SessionCookie",
    "Functions",
    "CapabilityList",
    "Result",
    "Code",
    "Description",
    "DetailedResult",
    "Nonce",
    "KeepAliveTime",
    "CapabilityRequest",
    "AllFunctionsRequest",
    "MessageInfo",
    "MessageID",
    "ContentType",
    "ContentSize",
    "Recipient",
    "Sender",
    "User",
    "Group",
    "GroupID",
    "ScreenName",
    "SName",
    "ContactList",
    "DateTime",
    "Validity",
    "ContentData",
    "DeliveryReport",
    "MessageInfoList",
    "MessageTotalCount",
    "MessageCount",
    "Presence",
    "PresenceSubList",
    "UserIDList",
    "ContactListIDList",
    "Property",
    "Name",
    "Value",
    "Domain",
    "FriendlyName",
    "Font",
    "ExtBlockETEM",
    "Acceptance",
    "SystemMessageList",
    "SystemMessage",
    "SystemMessageID",
    "RequiresResponse",
    "SystemMessageText",
    "AnswerOptions",
    "AnswerOption",
    "AnswerOptionID",
    "AnswerOptionText",
    "AnswerOptionsText",
    "VerificationMechanism",
    "InText",
    "SystemMessageResponseList",
    "SystemMessageResponse",
    "ChosenOptionID",
    "VerificationKey",
    "TryAgainTimeout",
    "Vendor",
];

fn tree_text() -> S<String> {
    prop_oneof![
        select(vec![
            "",
            "T",
            "F",
            "true",
            " 200 ",
            "0",
            "18446744073709551616",
            "-1",
            "x"
        ])
        .prop_map(String::from),
        text(),
    ]
    .boxed()
}

/// The system-message names only (plus two others), so that random
/// trees under those types read successfully often enough to test
/// stability, not only the errors.
const SYSMSG_TREE_NAMES: &[&str] = &[
    "SystemMessageList",
    "SystemMessage",
    "SystemMessageID",
    "RequiresResponse",
    "SystemMessageText",
    "AnswerOptions",
    "AnswerOption",
    "AnswerOptionID",
    "AnswerOptionText",
    "AnswerOptionsText",
    "VerificationMechanism",
    "InText",
    "URL",
    "SystemMessageResponseList",
    "SystemMessageResponse",
    "ChosenOptionID",
    "VerificationKey",
    "Vendor",
];

fn tree() -> S<Element> {
    tree_of(TREE_NAMES)
}

fn tree_of(names: &'static [&'static str]) -> S<Element> {
    let leaf = (select(names.to_vec()), tree_text()).prop_map(|(n, t)| Element::text(n, t));
    leaf.prop_recursive(4, 48, 6, move |inner| {
        (
            select(names.to_vec()),
            tree_text(),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(n, t, cs)| {
                let mut e = Element::text(n, t);
                e.children = cs;
                e
            })
    })
    .boxed()
}

fn children_under(name: &'static str) -> S<Element> {
    prop::collection::vec(tree(), 0..8)
        .prop_map(move |cs| el(name, cs))
        .boxed()
}

/// Whatever reads, writes an element that reads back and writes the same.
fn stable<T: Debug>(
    e: &Element,
    v: Version,
    to: impl Fn(&T, Version) -> Element,
    from: impl Fn(&Element, Version) -> Result<T, WireError>,
) -> Result<(), TestCaseError> {
    if let Ok(value) = from(e, v) {
        let written = to(&value, v);
        let again = from(&written, v)
            .map_err(|err| TestCaseError::fail(format!("re-read of {written:?}: {err}")))?;
        prop_assert_eq!(to(&again, v), written);
    }
    Ok(())
}

fn sysmsg_children_under(name: &'static str) -> S<Element> {
    prop::collection::vec(tree_of(SYSMSG_TREE_NAMES), 0..8)
        .prop_map(move |cs| el(name, cs))
        .boxed()
}

/// Shuffles the children of `e` and of every element under it, and puts
/// the `junk` elements in at random places.
fn scramble(e: &mut Element, seed: &mut u64, junk: &mut Vec<Element>) {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let n = e.children.len();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        e.children.swap(i, j);
    }
    if next() % 4 == 0
        && let Some(j) = junk.pop()
    {
        let at = (next() % (e.children.len() as u64 + 1)) as usize;
        e.children.insert(at, j);
    }
    for c in &mut e.children {
        scramble(c, seed, junk);
    }
}

/// A valid element, scrambled: its children (at every level) in a random
/// order, and sometimes random system-message trees put in.
fn scrambled(valid: S<Element>) -> S<(Element, bool)> {
    (
        valid,
        any::<u64>(),
        prop::collection::vec(tree_of(SYSMSG_TREE_NAMES), 0..3),
    )
        .prop_map(|(mut e, seed, mut junk)| {
            let clean = junk.is_empty();
            scramble(&mut e, &mut (seed | 1), &mut junk);
            (e, clean)
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_system_message_trees_are_stable(
        request in sysmsg_children_under("SystemMessage-Request"),
        user in sysmsg_children_under("SystemMessage-User"),
        message in sysmsg_children_under("SystemMessage"),
        login in sysmsg_children_under("Login-Response"),
        v in version(),
    ) {
        stable(&request, v, SystemMessageRequest::to_element, SystemMessageRequest::from_element)?;
        stable(&user, v, SystemMessageUser::to_element, SystemMessageUser::from_element)?;
        stable(&message, v, SystemMessage::to_element, SystemMessage::from_element)?;
        // A Login-Response needs a Result: give it one, with a random list
        // in it half the time.
        let mut login = login;
        let mut res = Element::new("Result").with_text("Code", "200");
        if request.children.len() % 2 == 0 {
            res.children.extend(request.children.iter().take(2).cloned());
        }
        login.children.insert(0, res);
        stable(&login, v, LoginResponse::to_element, LoginResponse::from_element)?;
    }

    /// Valid messages with their children in any order read (Android does
    /// not keep the schema order), and with junk put in they never panic
    /// and stay stable.
    #[test]
    fn scrambled_system_messages_read_in_any_order(
        (request, clean_request) in scrambled(system_message_request().prop_map(|r| r.to_element(V13)).boxed()),
        (user, clean_user) in scrambled(system_message_user().prop_map(|u| u.to_element(V13)).boxed()),
        (login, clean_login) in scrambled(
            (login_response(V13), system_message_list())
                .prop_map(|(mut r, l)| {
                    r.result.system_message_list = Some(l);
                    r.to_element(V13)
                })
                .boxed(),
        ),
    ) {
        let r = SystemMessageRequest::from_element(&request, V13);
        prop_assert!(!clean_request || r.is_ok(), "{:?}", r);
        let u = SystemMessageUser::from_element(&user, V13);
        prop_assert!(!clean_user || u.is_ok(), "{:?}", u);
        let l = LoginResponse::from_element(&login, V13);
        prop_assert!(!clean_login || l.as_ref().is_ok_and(|l| l.system_message_list().is_some()), "{:?}", l);
        stable(&request, V13, SystemMessageRequest::to_element, SystemMessageRequest::from_element)?;
        stable(&user, V13, SystemMessageUser::to_element, SystemMessageUser::from_element)?;
        stable(&login, V13, LoginResponse::to_element, LoginResponse::from_element)?;
    }
}

macro_rules! stable_props {
    ($($test:ident => $ty:ident, $name:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            $(
                #[test]
                fn $test(e in children_under($name), v in version()) {
                    stable(&e, v, $ty::to_element, $ty::from_element)?;
                }
            )*
        }
    };
}

stable_props! {
    random_login_request => LoginRequest, "Login-Request";
    random_login_response => LoginResponse, "Login-Response";
    random_client_capability_request => ClientCapabilityRequest, "ClientCapability-Request";
    random_service_request => ServiceRequest, "Service-Request";
    random_keep_alive => KeepAliveResponse, "KeepAlive-Response";
    random_status => Status, "Status";
    random_send_message_request => SendMessageRequest, "SendMessage-Request";
    random_new_message => NewMessage, "NewMessage";
    random_get_message_list_response => GetMessageListResponse, "GetMessageList-Response";
    random_get_presence_request => GetPresenceRequest, "GetPresence-Request";
    random_get_presence_response => GetPresenceResponse, "GetPresence-Response";
    random_message_info => MessageInfo, "MessageInfo";
    random_recipient => Recipient, "Recipient";
    random_sender => Sender, "Sender";
    random_result => CspResult, "Result";
    random_system_message_request => SystemMessageRequest, "SystemMessage-Request";
    random_system_message_user => SystemMessageUser, "SystemMessage-User";
    random_system_message => SystemMessage, "SystemMessage";
    random_answer_option => AnswerOption, "AnswerOption";
    random_system_message_response => SystemMessageResponse, "SystemMessageResponse";
}

// ---------------------------------------------------------------------
// Examples.

const V: [Version; 3] = Version::ALL;

fn xml_body(v: Version, body: &str) -> Element {
    let doc = format!(
        "<WV-CSP-Message xmlns=\"{}\"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>1</TransactionID></TransactionDescriptor>\
         <TransactionContent xmlns=\"{}\">{body}</TransactionContent></Transaction></Session></WV-CSP-Message>",
        v.csp_ns(),
        v.trc_ns()
    );
    let msg = decode(doc.as_bytes(), Encoding::Xml, &Limits::default()).expect("decode");
    msg.transactions
        .into_iter()
        .next()
        .expect("one transaction")
        .body
}

fn is_structure_err<T: Debug>(r: Result<T, WireError>) -> bool {
    matches!(r, Err(WireError::Structure(_)))
}

#[test]
fn android_digest_login_first_leg_out_of_order() {
    // Android appends DigestSchema after SessionCookie.
    let e = xml_body(
        Version::V1_2,
        "<Login-Request><UserID>alice</UserID><ClientID><URL>JiMMY</URL></ClientID>\
         <TimeToLive>7205</TimeToLive><SessionCookie>1234567</SessionCookie>\
         <DigestSchema>MD5</DigestSchema><DigestSchema>SHA</DigestSchema></Login-Request>",
    );
    let r = LoginRequest::from_element(&e, Version::V1_2).expect("login");
    assert_eq!(r.user_id.as_deref(), Some("alice"));
    assert_eq!(r.client_id, ClientId::url("JiMMY"));
    assert_eq!(r.time_to_live, Some(7205));
    assert_eq!(r.session_cookie.as_deref(), Some("1234567"));
    assert_eq!(r.digest_schemas, ["MD5", "SHA"]);
    assert!(r.password.is_none() && r.digest_bytes.is_none() && r.other.is_empty());
    // Written in schema order: the schemas move before TimeToLive.
    let names: Vec<String> = r
        .to_element(Version::V1_2)
        .children
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "UserID",
            "ClientID",
            "DigestSchema",
            "DigestSchema",
            "TimeToLive",
            "SessionCookie"
        ]
    );
}

#[test]
fn login_request_version_dependent_children() {
    let r = LoginRequest {
        user_id: Some("wv:alice".into()),
        client_id: ClientId::url("JiMMY"),
        application_id: Some("app".into()),
        password: Some("pw".into()),
        capability_list: Some(Element::new("CapabilityList")),
        ..LoginRequest::default()
    };
    let v13 = r.to_element(Version::V1_3);
    assert!(v13.child("ApplicationID").is_some() && v13.child("CapabilityList").is_some());
    for v in [Version::V1_1, Version::V1_2] {
        let e = r.to_element(v);
        assert!(e.child("ApplicationID").is_none(), "{v:?}");
        assert!(e.child("CapabilityList").is_none(), "{v:?}");
        // Sent anyway in an older version: kept as unknown children, and
        // written back as they came.
        let back = LoginRequest::from_element(&v13, v).expect("read 1.3 children");
        assert!(back.application_id.is_none() && back.capability_list.is_none());
        let kept: Vec<&str> = back.other.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(kept, ["ApplicationID", "CapabilityList"]);
        assert_eq!(
            back.to_element(v).child("ApplicationID"),
            v13.child("ApplicationID")
        );
    }
}

#[test]
fn login_request_hostile() {
    for v in V {
        // No ClientID.
        let e = Element::new("Login-Request").with_text("UserID", "a");
        assert!(is_structure_err(LoginRequest::from_element(&e, v)));
        // ClientID with neither URL nor MSISDN.
        let e = Element::new("Login-Request").with(Element::new("ClientID"));
        assert!(is_structure_err(LoginRequest::from_element(&e, v)));
        // TimeToLive that is not a number.
        let e = Element::new("Login-Request")
            .with(Element::new("ClientID").with_text("URL", "c"))
            .with_text("TimeToLive", "forever");
        assert!(is_structure_err(LoginRequest::from_element(&e, v)));
        // A leaf that holds elements.
        let e = Element::new("Login-Request")
            .with(Element::new("ClientID").with_text("URL", "c"))
            .with(Element::new("Password").with_text("URL", "x"));
        assert!(is_structure_err(LoginRequest::from_element(&e, v)));
        // Another primitive.
        let e = Element::new("Logout-Request");
        assert!(is_structure_err(LoginRequest::from_element(&e, v)));
        // No UserID is fine (MSISDN login).
        let e = Element::new("Login-Request")
            .with(Element::new("ClientID").with_text("MSISDN", "+3581234"));
        let r = LoginRequest::from_element(&e, v).expect("msisdn login");
        assert_eq!(r.client_id.msisdn.as_deref(), Some("+3581234"));
        assert!(r.user_id.is_none());
    }
}

#[test]
fn duplicates_and_unknown_children_are_kept_in_order() {
    let e = Element::new("Login-Request")
        .with_text("UserID", "first")
        .with(Element::new("ClientID").with_text("URL", "c"))
        .with(Element::new("ColibriaExtensions").with_text("X", "1"))
        .with_text("UserID", "second")
        .with_text("Acceptance", "T");
    let r = LoginRequest::from_element(&e, Version::V1_2).expect("login");
    assert_eq!(r.user_id.as_deref(), Some("first"));
    let other: Vec<&str> = r.other.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(other, ["ColibriaExtensions", "UserID", "Acceptance"]);
    assert_eq!(r.to_element(Version::V1_2), e);
}

#[test]
fn children_a_version_lacks_are_kept_even_when_repeated() {
    // Found by `random_message_info`: two 1.3-only Fonts in a 1.1
    // MessageInfo must both survive, not one as a field (not written for
    // 1.1) and one as unknown.
    let e = Element::new("MessageInfo")
        .with(Element::new("Font").with_text("Color", "red"))
        .with(Element::new("Font"));
    let m = MessageInfo::from_element(&e, Version::V1_1).expect("info");
    assert!(m.font.is_none());
    assert_eq!(m.other.len(), 2);
    assert_eq!(m.to_element(Version::V1_1), e);
    let m = MessageInfo::from_element(&e, Version::V1_3).expect("info");
    assert!(m.font.is_some());
    assert_eq!(m.to_element(Version::V1_3), e);
}

#[test]
fn client_id_bare_text_is_read_as_url() {
    let e = Element::text("ClientID", " WV:InstantMessenger-1.0 ");
    let c = ClientId::from_element(&e, Version::V1_2).expect("bare ClientID");
    assert_eq!(c.url.as_deref(), Some("WV:InstantMessenger-1.0"));
    assert_eq!(
        c.to_element(Version::V1_2),
        Element::new("ClientID").with_text("URL", "WV:InstantMessenger-1.0")
    );
}

#[test]
fn login_response_challenge_and_success() {
    let e = xml_body(
        Version::V1_2,
        "<Login-Response><Result><Code>401</Code><Description>Digest required</Description></Result>\
         <Nonce>abc</Nonce><DigestSchema>MD5</DigestSchema><CapabilityRequest>F</CapabilityRequest></Login-Response>",
    );
    let r = LoginResponse::from_element(&e, Version::V1_2).expect("challenge");
    assert_eq!(r.result.code, 401);
    assert!(!r.result.is_success());
    assert_eq!(r.nonce.as_deref(), Some("abc"));
    assert_eq!(r.digest_schema.as_deref(), Some("MD5"));
    assert_eq!(r.capability_request, Some(false));
    assert!(r.session_id.is_none());
    assert_eq!(r.to_element(Version::V1_2), e);

    let ok = LoginResponse {
        result: CspResult::new(200, None),
        session_id: Some("s1".into()),
        keep_alive_time: Some(600),
        capability_request: Some(true),
        agreed_capability_list: Some(Element::new("AgreedCapabilityList")),
        ..LoginResponse::default()
    };
    let e12 = ok.to_element(Version::V1_2);
    assert_eq!(e12.child_text("CapabilityRequest"), Some("T"));
    assert_eq!(e12.child_u64("KeepAliveTime"), Some(600));
    assert!(e12.child("AgreedCapabilityList").is_none());
    assert!(
        ok.to_element(Version::V1_3)
            .child("AgreedCapabilityList")
            .is_some()
    );

    // Without Result, and with a Result without Code: errors.
    let e = Element::new("Login-Response").with_text("SessionID", "s");
    assert!(is_structure_err(LoginResponse::from_element(
        &e,
        Version::V1_2
    )));
    let e =
        Element::new("Login-Response").with(Element::new("Result").with_text("Description", "x"));
    assert!(is_structure_err(LoginResponse::from_element(
        &e,
        Version::V1_2
    )));
}

#[test]
fn result_codes_and_details() {
    // Some servers send the code as text with spaces.
    let e = Element::new("Result")
        .with_text("Code", " 201 ")
        .with_text("Description", "Partially successful")
        .with(
            Element::new("DetailedResult")
                .with_text("Code", "531")
                .with_text("UserID", "wv:nobody")
                .with(
                    Element::new("ScreenName")
                        .with_text("SName", "bob")
                        .with_text("GroupID", "wv:g/x"),
                ),
        );
    let r = CspResult::from_element(&e, Version::V1_2).expect("result");
    assert_eq!(r.code, 201);
    assert_eq!(r.details.len(), 1);
    assert_eq!(r.details[0].code, 531);
    assert_eq!(r.details[0].user_ids, ["wv:nobody"]);
    assert_eq!(r.details[0].screen_names[0].s_name, "bob");
    assert_eq!(r.to_element(Version::V1_2).child_text("Code"), Some("201"));

    let bad = [
        Element::new("Result"),
        Element::new("Result").with_text("Code", "OK"),
        Element::new("Result").with_text("Code", "-1"),
        Element::new("Result").with_text("Code", "99999999999999999999999"),
        Element::new("Result")
            .with_text("Code", "200")
            .with(Element::new("DetailedResult").with_text("UserID", "u")),
        Element::new("Result").with_text("Code", "200").with(
            Element::new("DetailedResult")
                .with_text("Code", "4")
                .with(Element::new("ScreenName")),
        ),
    ];
    for e in bad {
        assert!(
            is_structure_err(CspResult::from_element(&e, Version::V1_3)),
            "{e:?}"
        );
    }

    // 1.3-only parts of Result, and Domain (1.2+).
    let r = CspResult {
        code: 503,
        try_again_timeout: Some(30),
        details: vec![DetailedResult {
            code: 404,
            domains: vec!["example.com".into()],
            ..DetailedResult::default()
        }],
        ..CspResult::default()
    };
    assert!(
        r.to_element(Version::V1_3)
            .child("TryAgainTimeout")
            .is_some()
    );
    assert!(
        r.to_element(Version::V1_2)
            .child("TryAgainTimeout")
            .is_none()
    );
    let d11 = r.to_element(Version::V1_1);
    assert!(d11.path(&["DetailedResult", "Domain"]).is_none());
    let d12 = r.to_element(Version::V1_2);
    assert_eq!(
        d12.path(&["DetailedResult", "Domain"])
            .map(|d| d.text.as_str()),
        Some("example.com")
    );
}

#[test]
fn status_and_disconnect() {
    for v in V {
        let s = Status::new(200, Some("Successful"));
        let e = s.to_element(v);
        assert_eq!(
            e,
            Element::new("Status").with(
                Element::new("Result")
                    .with_text("Code", "200")
                    .with_text("Description", "Successful")
            )
        );
        assert_eq!(Status::from_element(&e, v).expect("status"), s);
        assert!(is_structure_err(Status::from_element(
            &Element::new("Status"),
            v
        )));
        assert!(is_structure_err(Disconnect::from_element(
            &Element::new("Disconnect"),
            v
        )));
        let d = Disconnect {
            result: CspResult::new(600, Some("Session expired")),
            other: Vec::new(),
        };
        assert_eq!(
            Disconnect::from_element(&d.to_element(v), v).expect("disconnect"),
            d
        );
    }
}

#[test]
fn client_id_in_capability_and_service_requests_is_written_for_1_1_only() {
    let caps = Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("SupportedCIRMethod", "STCP");
    let r = ClientCapabilityRequest {
        client_id: Some(ClientId::url("JiMMY")),
        capability_list: caps.clone(),
        other: Vec::new(),
    };
    assert!(r.to_element(Version::V1_1).child("ClientID").is_some());
    assert!(r.to_element(Version::V1_2).child("ClientID").is_none());
    assert!(r.to_element(Version::V1_3).child("ClientID").is_none());
    let v11 = r.to_element(Version::V1_1);
    let read = ClientCapabilityRequest::from_element(&v11, Version::V1_1).expect("1.1");
    assert_eq!(read.client_id, Some(ClientId::url("JiMMY")));
    // A 1.2 client that still sends ClientID: kept in `other`.
    let read = ClientCapabilityRequest::from_element(&v11, Version::V1_2).expect("1.2 + ClientID");
    assert_eq!(read.client_id, None);
    assert_eq!(
        read.other,
        [ClientId::url("JiMMY").to_element(Version::V1_2)]
    );
    assert_eq!(read.capability_list, caps);
    assert!(is_structure_err(ClientCapabilityRequest::from_element(
        &Element::new("ClientCapability-Request"),
        Version::V1_2
    )));

    // Android's Service-Request: four empty features and AllFunctionsRequest T.
    let e = xml_body(
        Version::V1_2,
        "<Service-Request><Functions><WVCSPFeat><FundamentalFeat/><PresenceFeat/><IMFeat/><GroupFeat/></WVCSPFeat></Functions>\
         <AllFunctionsRequest>T</AllFunctionsRequest></Service-Request>",
    );
    let s = ServiceRequest::from_element(&e, Version::V1_2).expect("service");
    assert_eq!(s.all_functions_request, Some(true));
    assert_eq!(
        s.functions
            .as_ref()
            .and_then(|f| f.child("WVCSPFeat"))
            .map(|w| w.children.len()),
        Some(4)
    );
    assert_eq!(s.to_element(Version::V1_2), e);
    let bad = Element::new("Service-Request").with_text("AllFunctionsRequest", "yes");
    assert!(is_structure_err(ServiceRequest::from_element(
        &bad,
        Version::V1_2
    )));
}

#[test]
fn empty_primitives_and_keep_alive() {
    for v in V {
        assert_eq!(
            PollingRequest::default().to_element(v),
            Element::new("Polling-Request")
        );
        assert_eq!(
            LogoutRequest::from_element(&Element::new("Logout-Request"), v).expect("logout"),
            LogoutRequest::default()
        );
        assert!(is_structure_err(PollingRequest::from_element(
            &Element::new("Logout-Request"),
            v
        )));
        let k = KeepAliveRequest::from_element(&Element::new("KeepAlive-Request"), v)
            .expect("empty keep-alive");
        assert_eq!(k.time_to_live, None);
        let bad = Element::new("KeepAlive-Request").with_text("TimeToLive", "1e3");
        assert!(is_structure_err(KeepAliveRequest::from_element(&bad, v)));
        assert!(is_structure_err(KeepAliveResponse::from_element(
            &Element::new("KeepAlive-Response").with_text("KeepAliveTime", "60"),
            v
        )));
    }
}

fn android_send(v: Version) -> Element {
    xml_body(
        v,
        "<SendMessage-Request><DeliveryReport>F</DeliveryReport><MessageInfo>\
         <ContentType>text/plain</ContentType><ContentSize>5</ContentSize>\
         <Recipient><User><UserID>wv:bob@example.com</UserID></User></Recipient>\
         <Sender><User><UserID>wv:alice@example.com</UserID></User></Sender>\
         </MessageInfo><ContentData>hello</ContentData></SendMessage-Request>",
    )
}

#[test]
fn send_message_request_from_android() {
    for v in V {
        let e = android_send(v);
        let r = SendMessageRequest::from_element(&e, v).expect("send");
        assert_eq!(r.delivery_report, Some(false));
        assert_eq!(r.content_data.as_deref(), Some("hello"));
        let info = &r.message_info;
        assert_eq!(info.content_type.as_deref(), Some("text/plain"));
        assert_eq!(info.content_size, Some(5));
        let to = info.recipient.as_ref().expect("recipient");
        assert_eq!(to.users[0].user_id, "wv:bob@example.com");
        assert!(!to.is_empty());
        assert_eq!(
            info.sender.as_ref().map(|s| &s.party),
            Some(&Party::User(User::id("wv:alice@example.com")))
        );
        assert_eq!(r.to_element(v), e);
    }
}

#[test]
fn groups_senders_and_recipients() {
    let e = Element::new("Recipient")
        .with(Element::new("Group").with_text("GroupID", "wv:alice/chat@example.com"))
        .with(
            Element::new("Group").with(
                Element::new("ScreenName")
                    .with_text("SName", "Bobby")
                    .with_text("GroupID", "wv:alice/chat@example.com"),
            ),
        )
        .with_text("ContactList", "wv:alice/friends@example.com");
    let r = Recipient::from_element(&e, Version::V1_2).expect("recipient");
    assert_eq!(r.groups.len(), 2);
    assert_eq!(
        r.groups[0].target,
        GroupRef::Id("wv:alice/chat@example.com".into())
    );
    assert_eq!(r.groups[1].group_id(), "wv:alice/chat@example.com");
    assert_eq!(r.contact_lists, ["wv:alice/friends@example.com"]);
    assert_eq!(r.to_element(Version::V1_2), e);

    let hostile = [
        Element::new("Sender"),
        Element::new("Sender").with(Element::new("User")),
        Element::new("Sender").with(Element::new("Group")),
        Element::new("Sender")
            .with(Element::new("Group").with(Element::new("ScreenName").with_text("SName", "x"))),
        Element::new("Sender")
            .with(Element::new("User").with(Element::new("UserID").with_text("X", "y"))),
    ];
    for e in hostile {
        assert!(
            is_structure_err(Sender::from_element(&e, Version::V1_3)),
            "{e:?}"
        );
    }
    // A second party is kept, not lost.
    let two = Element::new("Sender")
        .with(Element::new("User").with_text("UserID", "a"))
        .with(Element::new("Group").with_text("GroupID", "g"));
    let s = Sender::from_element(&two, Version::V1_3).expect("sender");
    assert_eq!(s.party, Party::User(User::id("a")));
    assert_eq!(s.other.len(), 1);
    assert_eq!(s.to_element(Version::V1_3), two);

    // FriendlyName and ApplicationID are 1.3.
    let u = User {
        friendly_name: Some("Bob".into()),
        application_id: Some("app".into()),
        client_id: Some(ClientId::url("c")),
        ..User::id("wv:bob")
    };
    let names = |v| -> Vec<String> {
        u.to_element(v)
            .children
            .iter()
            .map(|c| c.name.to_string())
            .collect()
    };
    assert_eq!(
        names(Version::V1_3),
        ["UserID", "FriendlyName", "ApplicationID", "ClientID"]
    );
    assert_eq!(names(Version::V1_2), ["UserID", "ClientID"]);
}

#[test]
fn message_info_version_dependent_children() {
    let info = MessageInfo {
        message_id: Some("m1".into()),
        content_name: Some("pic.png".into()),
        font: Some(Element::new("Font").with_text("Color", "red")),
        validity: Some(3600),
        ext_block_etem: vec![Element::text("ExtBlockETEM", "x")],
        date_time: Some("20010925T165859Z".into()),
        ..MessageInfo::default()
    };
    let names = |v| -> Vec<String> {
        info.to_element(v)
            .children
            .iter()
            .map(|c| c.name.to_string())
            .collect()
    };
    assert_eq!(
        names(Version::V1_3),
        [
            "MessageID",
            "ContentName",
            "DateTime",
            "Font",
            "Validity",
            "ExtBlockETEM"
        ]
    );
    assert_eq!(names(Version::V1_1), ["MessageID", "DateTime", "Validity"]);
    let bad = Element::new("MessageInfo").with_text("ContentSize", "five");
    assert!(is_structure_err(MessageInfo::from_element(
        &bad,
        Version::V1_2
    )));
    let bad =
        Element::new("MessageInfo").with(Element::new("Recipient").with(Element::new("User")));
    assert!(is_structure_err(MessageInfo::from_element(
        &bad,
        Version::V1_2
    )));
}

#[test]
fn message_primitives_need_their_children() {
    for v in V {
        assert!(is_structure_err(SendMessageRequest::from_element(
            &Element::new("SendMessage-Request").with_text("ContentData", "x"),
            v
        )));
        assert!(is_structure_err(SendMessageResponse::from_element(
            &Element::new("SendMessage-Response").with_text("MessageID", "x"),
            v
        )));
        assert!(is_structure_err(NewMessage::from_element(
            &Element::new("NewMessage"),
            v
        )));
        assert!(is_structure_err(MessageNotification::from_element(
            &Element::new("MessageNotification"),
            v
        )));
        assert!(is_structure_err(MessageDelivered::from_element(
            &Element::new("MessageDelivered"),
            v
        )));
        assert!(is_structure_err(GetMessageRequest::from_element(
            &Element::new("GetMessage-Request"),
            v
        )));
        assert!(is_structure_err(GetMessageResponse::from_element(
            &Element::new("GetMessage-Response").with_text("ContentData", "x"),
            v
        )));
        assert!(is_structure_err(GetMessageListRequest::from_element(
            &Element::new("GetMessageList-Request").with_text("MessageCount", "many"),
            v
        )));
        // Wrong primitive.
        assert!(is_structure_err(NewMessage::from_element(
            &Element::new("GetMessage-Response"),
            v
        )));

        // A NewMessage without ContentData is an empty message.
        let e = Element::new("NewMessage").with(
            Element::new("MessageInfo")
                .with_text("MessageID", "m7")
                .with(
                    Element::new("Sender").with(Element::new("User").with_text("UserID", "wv:a")),
                ),
        );
        let n = NewMessage::from_element(&e, v).expect("new message");
        assert_eq!(n.message_info.message_id.as_deref(), Some("m7"));
        assert!(n.content_data.is_none());
        assert_eq!(n.to_element(v), e);

        let d = MessageDelivered::from_element(
            &Element::new("MessageDelivered").with_text("MessageID", "m7"),
            v,
        )
        .expect("delivered");
        assert_eq!(d.message_id, "m7");
    }
}

#[test]
fn get_message_list_response_forms() {
    let info = |id: &str| Element::new("MessageInfo").with_text("MessageID", id);
    let wrapped = Element::new("GetMessageList-Response")
        .with(
            Element::new("MessageInfoList")
                .with(info("a"))
                .with(info("b")),
        )
        .with_text("MessageTotalCount", "7");
    let bare = Element::new("GetMessageList-Response")
        .with(info("a"))
        .with(info("b"));
    for v in V {
        for e in [&wrapped, &bare] {
            let r = GetMessageListResponse::from_element(e, v).expect("list");
            let ids: Vec<_> = r
                .messages
                .iter()
                .filter_map(|m| m.message_id.as_deref())
                .collect();
            assert_eq!(ids, ["a", "b"]);
        }
    }
    let r = GetMessageListResponse::from_element(&wrapped, Version::V1_3).expect("list");
    assert_eq!(r.message_total_count, Some(7));
    assert_eq!(r.to_element(Version::V1_3), wrapped);
    assert_eq!(r.to_element(Version::V1_2), bare);
    assert_eq!(r.to_element(Version::V1_1), bare);
}

#[test]
fn get_presence_request_selectors() {
    let sub = Element::new("PresenceSubList")
        .with(Element::new("OnlineStatus"))
        .with(Element::new("ClientInfo"));
    let old = Element::new("GetPresence-Request")
        .with(Element::new("User").with_text("UserID", "wv:alice"))
        .with(Element::new("User").with_text("UserID", "wv:bob"))
        .with_text("ContactList", "wv:alice/friends")
        .with(sub.clone());
    let new = Element::new("GetPresence-Request")
        .with(
            Element::new("UserIDList")
                .with_text("UserID", "wv:alice")
                .with_text("UserID", "wv:bob"),
        )
        .with(Element::new("ContactListIDList").with_text("ContactList", "wv:alice/friends"))
        .with(sub.clone());
    for v in V {
        for e in [&old, &new] {
            let r = GetPresenceRequest::from_element(e, v).expect("get presence");
            assert_eq!(r.user_ids, ["wv:alice", "wv:bob"]);
            assert_eq!(r.contact_lists, ["wv:alice/friends"]);
            assert_eq!(r.presence_sub_list.as_ref(), Some(&sub));
            let want = if v >= Version::V1_3 { &new } else { &old };
            assert_eq!(&r.to_element(v), want);
        }
    }
    // Android's malformed per-contact selector, and a bare UserID.
    let quirk = Element::new("GetPresence-Request")
        .with(
            Element::new("User").with(
                Element::new("Property")
                    .with_text("Name", "UserID")
                    .with_text("Value", "wv:carol"),
            ),
        )
        .with_text("UserID", "wv:dave");
    let r = GetPresenceRequest::from_element(&quirk, Version::V1_2).expect("quirk");
    assert_eq!(r.user_ids, ["wv:carol", "wv:dave"]);
    let hostile = Element::new("GetPresence-Request").with(Element::new("User"));
    assert!(is_structure_err(GetPresenceRequest::from_element(
        &hostile,
        Version::V1_2
    )));
}

#[test]
fn presence_notification_and_response() {
    let e = xml_body(
        Version::V1_2,
        "<PresenceNotification-Request><Presence><UserID>wv:bob@example.com</UserID>\
         <PresenceSubList xmlns=\"http://www.openmobilealliance.org/DTD/WV-PA1.2\">\
         <OnlineStatus><Qualifier>T</Qualifier><PresenceValue>T</PresenceValue></OnlineStatus>\
         <UserAvailability><Qualifier>T</Qualifier><PresenceValue>AVAILABLE</PresenceValue></UserAvailability>\
         </PresenceSubList></Presence></PresenceNotification-Request>",
    );
    let n = PresenceNotificationRequest::from_element(&e, Version::V1_2).expect("notify");
    assert_eq!(n.presences.len(), 1);
    let p = &n.presences[0];
    assert_eq!(p.user_id, "wv:bob@example.com");
    // The envelope took the PA namespace off; attributes stay a tree.
    let sub = &p.presence_sub_lists[0];
    assert!(sub.xmlns().is_none());
    assert_eq!(
        sub.path(&["UserAvailability", "PresenceValue"])
            .map(|x| x.text.as_str()),
        Some("AVAILABLE")
    );
    assert_eq!(n.to_element(Version::V1_2), e);

    // GetPresence-Response: Result is optional, UserID is not.
    let r = GetPresenceResponse::from_element(
        &Element::new("GetPresence-Response").with(
            Element::new("Presence")
                .with_text("UserID", "wv:a")
                .with(Element::new("PresenceSubList")),
        ),
        Version::V1_3,
    )
    .expect("response");
    assert!(r.result.is_none());
    let bad = Element::new("GetPresence-Response")
        .with(Element::new("Presence").with(Element::new("PresenceSubList")));
    assert!(is_structure_err(GetPresenceResponse::from_element(
        &bad,
        Version::V1_3
    )));
    // `User{UserID}` in place of `UserID` is read and written as UserID.
    let user_form = Element::new("Presence").with(Element::new("User").with_text("UserID", "wv:a"));
    let p = Presence::from_element(&user_form, Version::V1_1).expect("user form");
    assert_eq!(
        p.to_element(Version::V1_1),
        Element::new("Presence").with_text("UserID", "wv:a")
    );
}

#[test]
fn update_presence_request_needs_a_list() {
    for v in V {
        assert!(is_structure_err(UpdatePresenceRequest::from_element(
            &Element::new("UpdatePresence-Request"),
            v
        )));
        let e = Element::new("UpdatePresence-Request").with(
            Element::new("PresenceSubList").with(
                Element::new("StatusText")
                    .with_text("Qualifier", "T")
                    .with_text("PresenceValue", "at lunch <back soon> & more"),
            ),
        );
        let u = UpdatePresenceRequest::from_element(&e, v).expect("update");
        assert_eq!(u.to_element(v), e);
    }
}

#[test]
fn primitive_trait_names_every_kind() {
    fn check<P: Primitive + Default>() {
        for v in Version::ALL {
            let e = P::default().to_element(v);
            assert_eq!(PrimitiveKind::from_name(&e.name), Some(P::KIND));
        }
    }
    check::<LoginRequest>();
    check::<LoginResponse>();
    check::<ClientCapabilityRequest>();
    check::<ServiceRequest>();
    check::<KeepAliveRequest>();
    check::<KeepAliveResponse>();
    check::<PollingRequest>();
    check::<LogoutRequest>();
    check::<Disconnect>();
    check::<Status>();
    check::<SendMessageRequest>();
    check::<SendMessageResponse>();
    check::<NewMessage>();
    check::<MessageDelivered>();
    check::<MessageNotification>();
    check::<GetMessageRequest>();
    check::<GetMessageResponse>();
    check::<GetMessageListRequest>();
    check::<GetMessageListResponse>();
    check::<UpdatePresenceRequest>();
    check::<GetPresenceRequest>();
    check::<GetPresenceResponse>();
    check::<PresenceNotificationRequest>();
    check::<SystemMessageRequest>();
    check::<SystemMessageUser>();
    check::<SearchRequest>();
    check::<SearchResponse>();
    check::<StopSearchRequest>();
    check::<GetPublicProfileRequest>();
    check::<GetPublicProfileResponse>();
    check::<UpdatePublicProfileRequest>();
}

#[test]
fn content_types() {
    use csp::content_type::{content_type, encoding_for};
    assert_eq!(
        content_type(Encoding::Xml, Version::V1_2),
        "application/vnd.wv.csp.xml"
    );
    assert_eq!(
        content_type(Encoding::Wbxml, Version::V1_3),
        "application/vnd.wv.csp+wbxml"
    );
    assert_eq!(
        encoding_for("application/vnd.wv.csp.wbxml"),
        Some(Encoding::Wbxml)
    );
    assert_eq!(
        encoding_for("application/vnd.wv.csp+xml; charset=UTF-8"),
        Some(Encoding::Xml)
    );
    assert_eq!(encoding_for("application/vnd.wv.csp.sms"), None);
}

// ---------------------------------------------------------------------
// System messages (1.3, issue 15).

const V13: Version = Version::V1_3;

/// The example of `name` in 1.3, as its transaction body.
fn example_body(name: &str) -> Element {
    imps_wire::examples::all(V13)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no example {name}"))
        .1
        .transactions
        .remove(0)
        .body
}

/// A system message with every child the structure has.
fn full_system_message() -> SystemMessage {
    SystemMessage {
        id: "terms-3".into(),
        requires_response: Some(true),
        text: "Messages cost 0.05 EUR. Accept?".into(),
        answer_options: vec![
            AnswerOption::new(1, "Accept"),
            AnswerOption::new(2, "Decline"),
        ],
        verification: Some(VerificationMechanism {
            in_text: Some("code 4711".into()),
            url: Some("http://example.com/terms".into()),
            other: Vec::new(),
        }),
        other: Vec::new(),
    }
}

fn full_system_message_response() -> SystemMessageResponse {
    SystemMessageResponse {
        verification_key: Some("4711".into()),
        ..SystemMessageResponse::new("terms-3", Some(1))
    }
}

#[test]
fn system_message_request_reads_the_example_and_writes_it_back() {
    let e = example_body("SystemMessage-Request");
    let r = SystemMessageRequest::from_element(&e, V13).expect("system message request");
    let m = &r.system_message_list.messages;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].id, "sys-1");
    assert!(m[0].response_required());
    assert_eq!(m[0].text, "The terms of service have changed.");
    assert_eq!(
        m[0].answer_options,
        [
            AnswerOption::new(1, "Accept"),
            AnswerOption::new(2, "Decline")
        ]
    );
    assert_eq!(m[0].option(2).map(|o| o.text.as_str()), Some("Decline"));
    assert!(m[0].option(3).is_none() && m[0].verification.is_none());
    assert_eq!(r.to_element(V13), e);

    let e = example_body("SystemMessage-User");
    let u = SystemMessageUser::from_element(&e, V13).expect("system message user");
    assert_eq!(
        u.system_message_response_list.responses,
        [SystemMessageResponse::new("sys-1", Some(1))]
    );
    assert_eq!(u.to_element(V13), e);
}

#[test]
fn system_message_elements_in_any_order_and_unknown_children() {
    let e = xml_body(
        V13,
        "<SystemMessage-Request><Vendor>v</Vendor><SystemMessageList><SystemMessage>\
         <AnswerOptions><AnswerOption><AnswerOptionText>Yes</AnswerOptionText>\
         <AnswerOptionID> 7 </AnswerOptionID><Extra>e</Extra></AnswerOption>\
         <Stray/></AnswerOptions>\
         <SystemMessageText>Hi</SystemMessageText><RequiresResponse>true</RequiresResponse>\
         <VerificationMechanism><URL>http://x</URL></VerificationMechanism>\
         <SystemMessageID>m1</SystemMessageID><Note>n</Note></SystemMessage>\
         <ListNote>l</ListNote></SystemMessageList></SystemMessage-Request>",
    );
    let r = SystemMessageRequest::from_element(&e, V13).expect("out of order");
    let m = &r.system_message_list.messages[0];
    assert_eq!((m.id.as_str(), m.text.as_str()), ("m1", "Hi"));
    assert_eq!(m.requires_response, Some(true));
    assert_eq!(m.answer_options.len(), 1);
    assert_eq!(
        (m.answer_options[0].id, m.answer_options[0].text.as_str()),
        (7, "Yes")
    );
    assert_eq!(m.answer_options[0].other, [Element::text("Extra", "e")]);
    assert_eq!(
        m.verification.as_ref().and_then(|v| v.url.as_deref()),
        Some("http://x")
    );
    assert_eq!(m.other, [Element::text("Note", "n")]);
    assert_eq!(
        r.system_message_list.other,
        [Element::text("ListNote", "l")]
    );
    assert_eq!(r.other, [Element::text("Vendor", "v")]);
    // Written in schema order, unknown children last; the stray child of
    // AnswerOptions is not kept.
    let written = r.to_element(V13);
    let names =
        |e: &Element| -> Vec<String> { e.children.iter().map(|c| c.name.to_string()).collect() };
    let msg = written
        .path(&["SystemMessageList", "SystemMessage"])
        .expect("message");
    assert_eq!(
        names(msg),
        [
            "SystemMessageID",
            "RequiresResponse",
            "SystemMessageText",
            "AnswerOptions",
            "VerificationMechanism",
            "Note"
        ]
    );
    assert_eq!(
        names(msg.child("AnswerOptions").expect("options")),
        ["AnswerOption"]
    );
    assert_eq!(
        SystemMessageRequest::from_element(&written, V13).expect("again"),
        r
    );
}

#[test]
fn system_message_lenient_forms() {
    // Bare AnswerOptions (no wrapper), two wrappers, and Android's
    // AnswerOptionsText spelling: all read, written in one wrapper.
    let opt = |id: &str, name: &str, t: &str| {
        Element::new("AnswerOption")
            .with_text("AnswerOptionID", id)
            .with_text(name, t)
    };
    let e = Element::new("SystemMessage")
        .with_text("SystemMessageID", "m")
        .with_text("SystemMessageText", "t")
        .with(opt("1", "AnswerOptionText", "a"))
        .with(Element::new("AnswerOptions").with(opt("2", "AnswerOptionsText", "b")))
        .with(Element::new("AnswerOptions").with(opt("3", "AnswerOptionText", "c")));
    let m = SystemMessage::from_element(&e, V13).expect("lenient");
    let ids: Vec<u64> = m.answer_options.iter().map(|o| o.id).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(m.answer_options[1].text, "b");
    let w = m.to_element(V13);
    assert_eq!(w.children_named("AnswerOptions").count(), 1);
    assert!(w.child("AnswerOption").is_none());
    let texts: Vec<&str> = w
        .path(&["AnswerOptions"])
        .into_iter()
        .flat_map(|o| o.children.iter())
        .flat_map(|o| o.children.iter())
        .map(|c| c.name.as_ref())
        .collect();
    assert_eq!(
        texts,
        [
            "AnswerOptionID",
            "AnswerOptionText",
            "AnswerOptionID",
            "AnswerOptionText",
            "AnswerOptionID",
            "AnswerOptionText"
        ]
    );
    // No options: no wrapper at all; an empty wrapper reads as none.
    let m = SystemMessage::new("m", "t");
    assert!(m.to_element(V13).child("AnswerOptions").is_none());
    assert!(!m.response_required());
    let e = m.to_element(V13).with(Element::new("AnswerOptions"));
    assert_eq!(
        SystemMessage::from_element(&e, V13).expect("empty wrapper"),
        m
    );

    // Bare messages and answers directly in the primitives.
    let e =
        Element::new("SystemMessage-Request").with(SystemMessage::new("a", "x").to_element(V13));
    let r = SystemMessageRequest::from_element(&e, V13).expect("bare message");
    assert_eq!(
        r.system_message_list.messages,
        [SystemMessage::new("a", "x")]
    );
    let e = Element::new("SystemMessage-User")
        .with(
            SystemMessageResponseList::new(vec![SystemMessageResponse::new("a", Some(1))])
                .to_element(V13),
        )
        .with(SystemMessageResponse::new("b", None).to_element(V13));
    let u = SystemMessageUser::from_element(&e, V13).expect("bare answer");
    let ids: Vec<&str> = u
        .system_message_response_list
        .responses
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    // An answer without a chosen option (an acknowledgement), and a
    // second ChosenOptionID kept as an unknown child.
    let e = Element::new("SystemMessageResponse")
        .with_text("SystemMessageID", "a")
        .with_text("ChosenOptionID", "1")
        .with_text("ChosenOptionID", "2");
    let r = SystemMessageResponse::from_element(&e, V13).expect("two choices");
    assert_eq!(r.chosen_option_id, Some(1));
    assert_eq!(r.other, [Element::text("ChosenOptionID", "2")]);
    assert_eq!(r.to_element(V13), e);
    let ack = SystemMessageResponse::new("a", None);
    assert_eq!(
        ack.to_element(V13),
        Element::new("SystemMessageResponse").with_text("SystemMessageID", "a")
    );
}

#[test]
fn system_message_hostile() {
    let msg = |extra: Element| {
        Element::new("SystemMessage")
            .with_text("SystemMessageID", "m")
            .with_text("SystemMessageText", "t")
            .with(extra)
    };
    let opt = |id: &str| {
        Element::new("AnswerOptions").with(
            Element::new("AnswerOption")
                .with_text("AnswerOptionID", id)
                .with_text("AnswerOptionText", "x"),
        )
    };
    for v in V {
        // IDs that are not numbers, negative, or too large: errors.
        for bad in ["x", "-1", "18446744073709551616", "", "1.5", "0x10"] {
            assert!(
                is_structure_err(SystemMessage::from_element(&msg(opt(bad)), v)),
                "{bad:?}"
            );
            let r = Element::new("SystemMessageResponse")
                .with_text("SystemMessageID", "m")
                .with_text("ChosenOptionID", bad);
            assert!(
                is_structure_err(SystemMessageResponse::from_element(&r, v)),
                "{bad:?}"
            );
        }
        // The largest ID is fine, and so is surrounding space.
        let m = SystemMessage::from_element(&msg(opt(" 18446744073709551615 ")), v).expect("max");
        assert_eq!(m.answer_options[0].id, u64::MAX);
        // Missing required children.
        let no_id = Element::new("SystemMessage").with_text("SystemMessageText", "t");
        assert!(is_structure_err(SystemMessage::from_element(&no_id, v)));
        let no_text = Element::new("SystemMessage").with_text("SystemMessageID", "m");
        assert!(is_structure_err(SystemMessage::from_element(&no_text, v)));
        let no_option_text = msg(Element::new("AnswerOptions")
            .with(Element::new("AnswerOption").with_text("AnswerOptionID", "1")));
        assert!(is_structure_err(SystemMessage::from_element(
            &no_option_text,
            v
        )));
        let no_option_id = msg(Element::new("AnswerOption").with_text("AnswerOptionText", "x"));
        assert!(is_structure_err(SystemMessage::from_element(
            &no_option_id,
            v
        )));
        let answer = Element::new("SystemMessageResponse").with_text("ChosenOptionID", "1");
        assert!(is_structure_err(SystemMessageResponse::from_element(
            &answer, v
        )));
        // A boolean that is not one, a leaf holding elements.
        let e = msg(Element::text("RequiresResponse", "maybe"));
        assert!(is_structure_err(SystemMessage::from_element(&e, v)));
        let e = Element::new("SystemMessage")
            .with(Element::new("SystemMessageID").with_text("URL", "x"))
            .with_text("SystemMessageText", "t");
        assert!(is_structure_err(SystemMessage::from_element(&e, v)));
        // The primitives need their list (or bare members); another name
        // is not the primitive.
        for name in ["SystemMessage-Request", "SystemMessage-User"] {
            let e = Element::new(name).with_text("Vendor", "v");
            let err = if name == "SystemMessage-User" {
                is_structure_err(SystemMessageUser::from_element(&e, v))
            } else {
                is_structure_err(SystemMessageRequest::from_element(&e, v))
            };
            assert!(err, "{name}");
        }
        assert!(is_structure_err(SystemMessageRequest::from_element(
            &Element::new("SystemMessage-User"),
            v
        )));
        assert!(is_structure_err(SystemMessageList::from_element(
            &Element::new("SystemMessage"),
            v
        )));
        // A bad message inside a Result is an error of the Result in 1.3,
        // and an unknown child (kept, not read) before.
        let res = Element::new("Result")
            .with_text("Code", "200")
            .with(Element::new("SystemMessageList").with(no_id.clone()));
        let r = CspResult::from_element(&res, v);
        if v == V13 {
            assert!(is_structure_err(r));
        } else {
            assert_eq!(r.expect("kept").other.len(), 1);
        }
    }
}

#[test]
fn login_response_system_message_list_inside_or_beside_the_result() {
    let list = SystemMessageList::new(vec![full_system_message()]);
    let inside = example_body("Login-Response-system-message");
    let r = LoginResponse::from_element(&inside, V13).expect("inside");
    let got = r.system_message_list().expect("list");
    assert_eq!(got.messages[0].id, "terms-3");
    assert_eq!(got.messages[0].answer_options.len(), 3);
    assert!(r.session_id.is_none() && r.other.is_empty());
    assert_eq!(r.to_element(V13), inside);

    // Beside the Result (before or after it): read into the Result,
    // written inside it.
    let plain = CspResult::new(200, None).to_element(V13);
    for before in [true, false] {
        let mut e = Element::new("Login-Response");
        let l = list.to_element(V13);
        if before {
            e = e.with(l).with(plain.clone());
        } else {
            e = e.with(plain.clone()).with(l);
        }
        let r = LoginResponse::from_element(&e, V13).expect("beside");
        assert_eq!(r.result.system_message_list.as_ref(), Some(&list));
        assert!(r.other.is_empty());
        let w = r.to_element(V13);
        assert!(w.child("SystemMessageList").is_none());
        assert_eq!(
            w.child("Result").and_then(|x| x.child("SystemMessageList")),
            Some(&list.to_element(V13))
        );
    }

    // In both places: the Result's own wins, the other is kept in place.
    let other_list = SystemMessageList::new(vec![SystemMessage::new("x", "y")]);
    let e = Element::new("Login-Response")
        .with_text("UserID", "u")
        .with(other_list.to_element(V13))
        .with(
            CspResult {
                system_message_list: Some(list.clone()),
                ..CspResult::new(200, None)
            }
            .to_element(V13),
        );
    let r = LoginResponse::from_element(&e, V13).expect("both");
    assert_eq!(r.system_message_list(), Some(&list));
    assert_eq!(r.other, [other_list.to_element(V13)]);

    // Before 1.3 neither place is read: both stay as they came, and the
    // typed list is not written.
    for v in [Version::V1_1, Version::V1_2] {
        let r = LoginResponse::from_element(&inside, v).expect("old version");
        assert!(r.system_message_list().is_none());
        assert_eq!(r.result.other.len(), 1);
        assert_eq!(r.to_element(v), inside);
        let e = Element::new("Login-Response")
            .with(plain.clone())
            .with(list.to_element(V13));
        let r = LoginResponse::from_element(&e, v).expect("beside, old version");
        assert!(r.system_message_list().is_none());
        assert_eq!(r.to_element(v), e);
        let typed = LoginResponse {
            result: CspResult {
                system_message_list: Some(list.clone()),
                try_again_timeout: Some(30),
                ..CspResult::new(200, None)
            },
            ..LoginResponse::default()
        };
        assert_eq!(typed.to_element(v).child("Result"), Some(&plain));
    }
}

#[test]
fn login_request_system_message_answers_are_1_3_only() {
    let e = example_body("Login-Request-system-message-answer");
    let r = LoginRequest::from_element(&e, V13).expect("answers");
    let list = r.system_message_response_list.as_ref().expect("list");
    assert_eq!(
        list.responses,
        [SystemMessageResponse::new("terms-3", Some(2))]
    );
    assert_eq!(r.to_element(V13), e);
    for v in [Version::V1_1, Version::V1_2] {
        let r = LoginRequest::from_element(&e, v).expect("old version");
        assert!(r.system_message_response_list.is_none());
        assert_eq!(r.other.len(), 1);
        let typed = LoginRequest {
            system_message_response_list: Some(SystemMessageResponseList::new(vec![
                full_system_message_response(),
            ])),
            ..LoginRequest::default()
        };
        assert!(
            typed
                .to_element(v)
                .child("SystemMessageResponseList")
                .is_none()
        );
    }
}

/// Every element the system-message types write has a 1.3 WBXML token:
/// a 1.3 document with all of them needs no string table (a LITERAL would
/// put its name there), and the IDs travel as OPAQUE integers.
#[test]
fn system_message_elements_are_wbxml_tokens_in_1_3() {
    let list = SystemMessageList::new(vec![full_system_message(), SystemMessage::new("m2", "Hi")]);
    let answers = SystemMessageResponseList::new(vec![
        full_system_message_response(),
        SystemMessageResponse::new("m2", None),
    ]);
    let bodies = [
        SystemMessageRequest {
            system_message_list: list.clone(),
            other: Vec::new(),
        }
        .to_element(V13),
        SystemMessageUser {
            system_message_response_list: answers.clone(),
            other: Vec::new(),
        }
        .to_element(V13),
        LoginResponse {
            result: CspResult {
                system_message_list: Some(list),
                try_again_timeout: Some(60),
                ..CspResult::new(200, Some("Answer first"))
            },
            ..LoginResponse::default()
        }
        .to_element(V13),
        LoginRequest {
            user_id: Some("alice".into()),
            client_id: ClientId::url("JiMMY"),
            system_message_response_list: Some(answers),
            ..LoginRequest::default()
        }
        .to_element(V13),
    ];
    let mut names = std::collections::BTreeSet::new();
    fn collect(e: &Element, out: &mut std::collections::BTreeSet<String>) {
        out.insert(e.name.to_string());
        e.children.iter().for_each(|c| collect(c, out));
    }
    for body in &bodies {
        collect(body, &mut names);
        let msg = Message::single(
            V13,
            Some("s".into()),
            Transaction::request("1", body.clone()),
        );
        let bytes = encode(&msg, Encoding::Wbxml).expect("encode");
        assert_eq!(bytes[3], 0, "{}: a LITERAL in 1.3", body.name);
        let back = decode(&bytes, Encoding::Wbxml, &Limits::default()).expect("decode");
        assert_eq!(back, msg, "{}", body.name);
        // In 1.2 the same elements have no tokens (they are LITERALs).
        let old = Message::single(
            Version::V1_2,
            Some("s".into()),
            Transaction::request("1", body.clone()),
        );
        let bytes = encode(&old, Encoding::Wbxml).expect("encode 1.2");
        assert_ne!(bytes[3], 0, "{}: no LITERAL in 1.2", body.name);
        assert_eq!(
            decode(&bytes, Encoding::Wbxml, &Limits::default()).expect("decode 1.2"),
            old
        );
    }
    for name in [
        "SystemMessage-Request",
        "SystemMessageList",
        "SystemMessage",
        "SystemMessageID",
        "RequiresResponse",
        "SystemMessageText",
        "AnswerOptions",
        "AnswerOption",
        "AnswerOptionID",
        "AnswerOptionText",
        "VerificationMechanism",
        "InText",
        "URL",
        "SystemMessage-User",
        "SystemMessageResponseList",
        "SystemMessageResponse",
        "ChosenOptionID",
        "VerificationKey",
        "TryAgainTimeout",
    ] {
        assert!(names.contains(name), "{name} not covered");
    }

    // AnswerOptionText is page 9 token 0x0B in 1.3 (ReactiveAuthState's
    // token before): SWITCH_PAGE 9, then the tag with content.
    let root = Element::new("WV-CSP-Message").with_text("AnswerOptionText", "Yes");
    let b13 = imps_wire::wbxml::encode(&root, V13).expect("encode");
    assert!(
        b13.windows(3).any(|w| w == [0x00, 0x09, 0x4B]),
        "{b13:02X?}"
    );
    // AnswerOptionID 7 as OPAQUE: C3 01 07, right after its tag (0x1C).
    let root = Element::new("WV-CSP-Message").with_text("AnswerOptionID", "7");
    let b13 = imps_wire::wbxml::encode(&root, V13).expect("encode");
    assert!(
        b13.windows(4).any(|w| w == [0x5C, 0xC3, 0x01, 0x07]),
        "{b13:02X?}"
    );
    let doc = imps_wire::wbxml::decode(&b13, &Limits::default()).expect("decode");
    assert_eq!(doc.root, root);
}

// ---------------------------------------------------------------------
// Search and public profiles.

/// Unknown children for a type that maps the `mapped` names
/// (`other_child` draws `SearchString` and `Property`, which these types
/// map).
fn others_but(mapped: &'static [&'static str]) -> S<Vec<Element>> {
    prop::collection::vec(
        other_child().prop_filter("a name the type maps", move |e| {
            !mapped.contains(&e.name.as_str())
        }),
        0..3,
    )
    .boxed()
}

/// What a pair maps, and `SearchPair`, which the flat layout reads as a
/// pair of its own.
const PAIR_NAMES: &[&str] = &["SearchElement", "SearchString", "PairID", "SearchPair"];

fn search_pair(v: Version) -> S<SearchPair> {
    (text(), text(), opt13(v, num()), others_but(PAIR_NAMES))
        .prop_map(|(element, string, pair_id, other)| SearchPair {
            element,
            string,
            pair_id,
            other,
        })
        .boxed()
}

fn search_request(v: Version) -> S<SearchRequest> {
    (
        prop::collection::vec(search_pair(v), 0..4),
        opt13(v, text()),
        opt_num(),
        opt_text(),
        opt_num(),
        others(),
    )
        .prop_map(
            |(pairs, advanced_criteria, limit, search_id, index, other)| SearchRequest {
                pairs,
                advanced_criteria,
                limit,
                search_id,
                index,
                other,
            },
        )
        .boxed()
}

fn found_user(v: Version) -> S<FoundUser> {
    (text(), opt13(v, text()))
        .prop_map(|(user_id, friendly_name)| FoundUser {
            user_id,
            friendly_name,
        })
        .boxed()
}

fn search_result(v: Version) -> S<SearchResult> {
    (
        prop::collection::vec(found_user(v), 0..3),
        texts(),
        others(),
    )
        .prop_map(|(users, groups, other)| SearchResult {
            users,
            groups,
            other,
        })
        .boxed()
}

fn search_response(v: Version) -> S<SearchResponse> {
    (
        prop::option::of(csp_result(v)),
        opt_text(),
        opt_num(),
        opt_bool(),
        opt_num(),
        prop::option::of(search_result(v)),
        others(),
    )
        .prop_map(
            |(result, search_id, findings, completion, index, search_result, other)| {
                SearchResponse {
                    result,
                    search_id,
                    findings,
                    completion,
                    index,
                    search_result,
                    other,
                }
            },
        )
        .boxed()
}

fn stop_search_request() -> S<StopSearchRequest> {
    (text(), others())
        .prop_map(|(search_id, other)| StopSearchRequest { search_id, other })
        .boxed()
}

fn property() -> S<Property> {
    (text(), text())
        .prop_map(|(name, value)| Property { name, value })
        .boxed()
}

fn public_profile() -> S<PublicProfile> {
    (
        opt_text(),
        prop::collection::vec(property(), 0..4),
        others_but(&["UserID", "Property"]),
    )
        .prop_map(|(user_id, properties, other)| PublicProfile {
            user_id,
            properties,
            other,
        })
        .boxed()
}

fn get_public_profile_request() -> S<GetPublicProfileRequest> {
    (texts(), others())
        .prop_map(|(user_ids, other)| GetPublicProfileRequest { user_ids, other })
        .boxed()
}

fn get_public_profile_response(v: Version) -> S<GetPublicProfileResponse> {
    (
        prop::option::of(csp_result(v)),
        prop::collection::vec(public_profile(), 0..3),
        others(),
    )
        .prop_map(|(result, profiles, other)| GetPublicProfileResponse {
            result,
            profiles,
            other,
        })
        .boxed()
}

fn update_public_profile_request() -> S<UpdatePublicProfileRequest> {
    (opt_bool(), prop::option::of(public_profile()), others())
        .prop_map(|(clear, profile, other)| UpdatePublicProfileRequest {
            clear,
            profile,
            other,
        })
        .boxed()
}

primitive_props! {
    search_request_round_trips => search_request;
    search_response_round_trips => search_response;
    stop_search_request_round_trips => |_| stop_search_request();
}

// The public-profile primitives are 1.3 only (the generic props would
// skip the older versions).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn get_public_profile_request_round_trips_in_1_3(value in get_public_profile_request()) {
        primitive_round_trip(&value, V13)?;
    }

    #[test]
    fn get_public_profile_response_round_trips_in_1_3(value in get_public_profile_response(V13)) {
        primitive_round_trip(&value, V13)?;
    }

    #[test]
    fn update_public_profile_request_round_trips_in_1_3(value in update_public_profile_request()) {
        primitive_round_trip(&value, V13)?;
    }
}

structure_props! {
    search_pair_round_trips => search_pair, SearchPair;
    found_user_round_trips => found_user, FoundUser;
    search_result_round_trips => search_result, SearchResult;
    property_round_trips => |_| property(), Property;
    public_profile_round_trips => |_| public_profile(), PublicProfile;
}

/// The search and profile names (plus a vendor one), so that random trees
/// under those types read often enough to test stability.
const SEARCH_TREE_NAMES: &[&str] = &[
    "SearchPairList",
    "SearchPair",
    "SearchElement",
    "SearchString",
    "PairID",
    "AdvancedCriteria",
    "SearchLimit",
    "SearchID",
    "SearchIndex",
    "SearchFindings",
    "CompletionFlag",
    "SearchResult",
    "UserList",
    "User",
    "UserID",
    "FriendlyName",
    "GroupList",
    "GroupID",
    "Result",
    "Code",
    "PublicProfile",
    "Property",
    "Name",
    "Value",
    "ClearPublicProfile",
    "UserIDList",
    "Vendor",
];

fn search_children_under(name: &'static str) -> S<Element> {
    prop::collection::vec(tree_of(SEARCH_TREE_NAMES), 0..8)
        .prop_map(move |cs| el(name, cs))
        .boxed()
}

/// A pair's element with a leaf text `tree_text` gives (numbers,
/// booleans, odd text).
fn pair_leaf() -> S<Element> {
    (
        select(vec!["SearchElement", "SearchString", "PairID"]),
        tree_text(),
    )
        .prop_map(|(n, t)| Element::text(n, t))
        .boxed()
}

/// A `SearchPairList` child: mostly a pair's elements (the flat layout),
/// some tagged pairs with any number of pair elements (duplicates too),
/// and random trees.
fn flat_pair_child() -> S<Element> {
    prop_oneof![
        6 => pair_leaf(),
        2 => prop::collection::vec(
            prop_oneof![4 => pair_leaf(), 1 => tree_of(SEARCH_TREE_NAMES)],
            0..6,
        )
        .prop_map(|cs| el("SearchPair", cs)),
        1 => tree_of(SEARCH_TREE_NAMES),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Arbitrary children never make a reader panic, and whatever reads
    /// writes an element that reads back and writes the same.
    #[test]
    fn random_search_and_profile_trees_are_stable(
        request in search_children_under("Search-Request"),
        response in search_children_under("Search-Response"),
        stop in search_children_under("StopSearch-Request"),
        result in search_children_under("SearchResult"),
        pair in search_children_under("SearchPair"),
        get in search_children_under("GetPublicProfile-Request"),
        got in search_children_under("GetPublicProfile-Response"),
        update in search_children_under("UpdatePublicProfile-Request"),
        profile in search_children_under("PublicProfile"),
        v in version(),
    ) {
        stable(&request, v, SearchRequest::to_element, SearchRequest::from_element)?;
        stable(&response, v, SearchResponse::to_element, SearchResponse::from_element)?;
        stable(&stop, v, StopSearchRequest::to_element, StopSearchRequest::from_element)?;
        stable(&result, v, SearchResult::to_element, SearchResult::from_element)?;
        stable(&pair, v, SearchPair::to_element, SearchPair::from_element)?;
        stable(&get, v, GetPublicProfileRequest::to_element, GetPublicProfileRequest::from_element)?;
        stable(&got, v, GetPublicProfileResponse::to_element, GetPublicProfileResponse::from_element)?;
        stable(&update, v, UpdatePublicProfileRequest::to_element, UpdatePublicProfileRequest::from_element)?;
        stable(&profile, v, PublicProfile::to_element, PublicProfile::from_element)?;
    }

    /// Flat pair lists in any arrangement (pairs in one list or several,
    /// out of order, incomplete, mixed with tagged pairs): never a panic,
    /// stable when they read, and an error only for a pair that lacks an
    /// element or a string.
    #[test]
    fn random_flat_pair_lists_are_stable(
        lists in prop::collection::vec(prop::collection::vec(flat_pair_child(), 0..8), 1..3),
        v in version(),
    ) {
        let e = el(
            "Search-Request",
            lists.into_iter().map(|cs| el("SearchPairList", cs)).collect(),
        );
        stable(&e, v, SearchRequest::to_element, SearchRequest::from_element)?;
        if let Ok(r) = SearchRequest::from_element(&e, v) {
            // Each SearchElement of a valid flat list is one pair.
            let flat_elements = e
                .children
                .iter()
                .flat_map(|l| l.children.iter())
                .filter(|c| c.name == "SearchElement")
                .count();
            let tagged = e
                .children
                .iter()
                .flat_map(|l| l.children.iter())
                .filter(|c| c.name == "SearchPair")
                .count();
            prop_assert_eq!(r.pairs.len(), flat_elements + tagged);
        }
    }
}

/// The example of `name` in version `v`, as its transaction body.
fn example_in(v: Version, name: &str) -> Element {
    imps_wire::examples::all(v)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no example {name} in {v:?}"))
        .1
        .transactions
        .remove(0)
        .body
}

#[test]
fn search_examples_read_and_write_back() {
    for v in V {
        let e = example_in(v, "Search-Request");
        let r = SearchRequest::from_element(&e, v).expect("search request");
        let pair_id = (v >= V13).then_some(1);
        assert_eq!(
            r.pairs,
            [SearchPair {
                pair_id,
                ..SearchPair::new("USER_ALIAS", "bob")
            }],
            "{v:?}"
        );
        assert_eq!(r.limit, Some(20));
        assert!(r.search_id.is_none() && r.index.is_none() && r.other.is_empty());
        assert_eq!(r.to_element(v), e, "{v:?}");

        let e = example_in(v, "Search-Request-next");
        let r = SearchRequest::from_element(&e, v).expect("next page");
        assert!(r.pairs.is_empty() && r.limit.is_none());
        assert_eq!(r.search_id.as_deref(), Some("1"));
        assert_eq!(r.index, Some(20));
        assert_eq!(r.to_element(v), e, "{v:?}");

        let e = example_in(v, "Search-Response");
        let r = SearchResponse::from_element(&e, v).expect("search response");
        assert!(r.result.is_none());
        assert_eq!(r.search_id.as_deref(), Some("1"));
        assert_eq!(r.findings, Some(1));
        assert_eq!(r.completion, Some(true));
        assert!(r.index.is_none());
        let found = r.search_result.as_ref().expect("search result");
        assert_eq!(
            found.users,
            [FoundUser {
                user_id: imps_wire::examples::BOB.into(),
                friendly_name: (v >= V13).then(|| "Bob".into()),
            }]
        );
        assert!(found.groups.is_empty() && found.other.is_empty());
        assert_eq!(r.to_element(v), e, "{v:?}");

        let e = example_in(v, "StopSearch-Request");
        let r = StopSearchRequest::from_element(&e, v).expect("stop search");
        assert_eq!(r.search_id, "1");
        assert_eq!(r.to_element(v), e, "{v:?}");
    }
}

#[test]
fn search_pairs_flat_in_one_list_or_in_several() {
    let one_list = xml_body(
        Version::V1_1,
        "<Search-Request><SearchPairList>\
         <SearchElement>USER_FIRST_NAME</SearchElement><SearchString>Bob</SearchString>\
         <SearchElement>USER_LAST_NAME</SearchElement><SearchString>Smith</SearchString>\
         </SearchPairList><SearchLimit>50</SearchLimit></Search-Request>",
    );
    let two_lists = xml_body(
        Version::V1_1,
        "<Search-Request>\
         <SearchPairList><SearchElement>USER_FIRST_NAME</SearchElement><SearchString>Bob</SearchString></SearchPairList>\
         <SearchPairList><SearchElement>USER_LAST_NAME</SearchElement><SearchString>Smith</SearchString></SearchPairList>\
         <SearchLimit>50</SearchLimit></Search-Request>",
    );
    let want = [
        SearchPair::new("USER_FIRST_NAME", "Bob"),
        SearchPair::new("USER_LAST_NAME", "Smith"),
    ];
    for v in V {
        let a = SearchRequest::from_element(&one_list, v).expect("one list");
        let b = SearchRequest::from_element(&two_lists, v).expect("two lists");
        assert_eq!(a.pairs, want, "{v:?}");
        assert_eq!(a, b, "{v:?}");
        assert_eq!(a.limit, Some(50));
    }
    // 1.1 and 1.2 write one list per pair; 1.3 one list of SearchPairs.
    let r = SearchRequest::from_element(&one_list, Version::V1_1).expect("one list");
    for v in [Version::V1_1, Version::V1_2] {
        assert_eq!(r.to_element(v), two_lists, "{v:?}");
    }
    let e13 = r.to_element(V13);
    let names: Vec<&str> = e13.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["SearchPairList", "SearchLimit"]);
    let pairs: Vec<&Element> = e13.children[0].children_named("SearchPair").collect();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[1].child_text("SearchString"), Some("Smith"));
    assert!(pairs[1].child("PairID").is_none());

    // Out of order inside a pair (string first) still pairs up.
    let e = Element::new("Search-Request").with(
        Element::new("SearchPairList")
            .with_text("SearchString", "Bob")
            .with_text("SearchElement", "USER_ALIAS")
            .with_text("SearchString", "Carol")
            .with_text("SearchElement", "USER_ID"),
    );
    let r = SearchRequest::from_element(&e, Version::V1_2).expect("reversed pairs");
    assert_eq!(
        r.pairs,
        [
            SearchPair::new("USER_ALIAS", "Bob"),
            SearchPair::new("USER_ID", "Carol")
        ]
    );
}

#[test]
fn search_pair_tagged_layout_and_1_3_writing() {
    let e = xml_body(
        V13,
        "<Search-Request><SearchPairList>\
         <SearchPair><SearchElement>USER_CITY</SearchElement><SearchString>Bern</SearchString><PairID>1</PairID></SearchPair>\
         <SearchPair><PairID> 2 </PairID><SearchString>chess</SearchString><SearchElement>USER_INTERESTS_HOBBIES</SearchElement></SearchPair>\
         </SearchPairList><AdvancedCriteria>1 AND 2</AdvancedCriteria><SearchLimit>10</SearchLimit></Search-Request>",
    );
    let r = SearchRequest::from_element(&e, V13).expect("tagged pairs");
    assert_eq!(
        r.pairs,
        [
            SearchPair {
                pair_id: Some(1),
                ..SearchPair::new("USER_CITY", "Bern")
            },
            SearchPair {
                pair_id: Some(2),
                ..SearchPair::new("USER_INTERESTS_HOBBIES", "chess")
            },
        ]
    );
    assert_eq!(r.advanced_criteria.as_deref(), Some("1 AND 2"));
    assert_eq!(r.limit, Some(10));
    assert!(r.other.is_empty());
    // Written in schema order: the second pair's children move.
    let w = r.to_element(V13);
    assert_eq!(SearchRequest::from_element(&w, V13).expect("re-read"), r);
    let second = w.children[0].children[1].clone();
    let names: Vec<&str> = second.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["SearchElement", "SearchString", "PairID"]);
    assert_eq!(second.child_text("PairID"), Some("2"));
    let names: Vec<&str> = w.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["SearchPairList", "AdvancedCriteria", "SearchLimit"]);

    // The tagless 1.3 layout one server used: PairID mapped too.
    let flat = Element::new("Search-Request").with(
        Element::new("SearchPairList")
            .with_text("SearchElement", "USER_CITY")
            .with_text("SearchString", "Bern")
            .with_text("PairID", "1")
            .with_text("SearchElement", "USER_INTERESTS_HOBBIES")
            .with_text("SearchString", "chess")
            .with_text("PairID", "2"),
    );
    let f = SearchRequest::from_element(&flat, V13).expect("tagless 1.3");
    assert_eq!(f.pairs, r.pairs);

    // The tagged layout is read in 1.2 too; PairID is not mapped there.
    let r12 = SearchRequest::from_element(&e, Version::V1_2).expect("tagged in 1.2");
    assert_eq!(r12.pairs.len(), 2);
    assert!(r12.pairs.iter().all(|p| p.pair_id.is_none()));
}

#[test]
fn search_1_3_children_are_kept_in_other_before_1_3() {
    let e13 = SearchRequest {
        pairs: vec![SearchPair {
            pair_id: Some(7),
            ..SearchPair::new("USER_ALIAS", "bob")
        }],
        advanced_criteria: Some("7".into()),
        limit: Some(5),
        ..SearchRequest::default()
    }
    .to_element(V13);
    let v12 = Version::V1_2;
    let r = SearchRequest::from_element(&e13, v12).expect("1.3 form in 1.2");
    assert!(r.advanced_criteria.is_none());
    assert_eq!(r.other, [Element::text("AdvancedCriteria", "7")]);
    assert!(r.pairs[0].pair_id.is_none());
    assert_eq!(r.pairs[0].other, [Element::text("PairID", "7")]);
    // Written back for 1.2: flat, the kept children after what is mapped.
    let w = r.to_element(v12);
    let expected = Element::new("Search-Request")
        .with(
            Element::new("SearchPairList")
                .with_text("SearchElement", "USER_ALIAS")
                .with_text("SearchString", "bob")
                .with_text("PairID", "7"),
        )
        .with_text("SearchLimit", "5")
        .with_text("AdvancedCriteria", "7");
    assert_eq!(w, expected);
    assert_eq!(SearchRequest::from_element(&w, v12).expect("re-read"), r);
    // A 1.3 value written for 1.2 leaves the 1.3 fields out.
    let r13 = SearchRequest::from_element(&e13, V13).expect("1.3");
    assert_eq!(r13.pairs[0].pair_id, Some(7));
    let w = r13.to_element(v12);
    assert!(w.child("AdvancedCriteria").is_none());
    assert!(w.children[0].child("PairID").is_none());
    assert!(w.children[0].child("SearchPair").is_none());
}

#[test]
fn search_hostile() {
    let list = |cs: Vec<Element>| Element::new("Search-Request").with(el("SearchPairList", cs));
    let bad = [
        // A pair without SearchString, flat and tagged.
        list(vec![Element::text("SearchElement", "USER_ID")]),
        list(vec![
            Element::text("SearchElement", "USER_ID"),
            Element::text("SearchElement", "USER_ALIAS"),
            Element::text("SearchString", "bob"),
        ]),
        list(vec![
            Element::new("SearchPair").with_text("SearchElement", "USER_ID"),
        ]),
        // Without SearchElement.
        list(vec![Element::text("SearchString", "bob")]),
        list(vec![
            Element::text("SearchElement", "USER_ID"),
            Element::text("SearchString", "a"),
            Element::text("SearchString", "b"),
        ]),
        // A flat pair left open before a tagged one.
        list(vec![
            Element::text("SearchElement", "USER_ID"),
            Element::new("SearchPair")
                .with_text("SearchElement", "USER_ALIAS")
                .with_text("SearchString", "bob"),
        ]),
        // Leaves that hold elements, numbers that are not.
        list(vec![
            Element::new("SearchElement").with_text("X", "y"),
            Element::text("SearchString", "bob"),
        ]),
        Element::new("Search-Request").with_text("SearchLimit", "many"),
        Element::new("Search-Request").with_text("SearchIndex", "-1"),
        // Another primitive.
        Element::new("Search-Response"),
    ];
    for v in V {
        for e in &bad {
            assert!(
                is_structure_err(SearchRequest::from_element(e, v)),
                "{v:?} {e:?}"
            );
        }
    }
    let bad_pair_id = list(vec![
        Element::text("SearchElement", "USER_ID"),
        Element::text("SearchString", "bob"),
        Element::text("PairID", "one"),
    ]);
    assert!(is_structure_err(SearchRequest::from_element(
        &bad_pair_id,
        V13
    )));
    // Not mapped before 1.3, so not parsed.
    let r = SearchRequest::from_element(&bad_pair_id, Version::V1_2).expect("1.2");
    assert_eq!(r.pairs[0].other, [Element::text("PairID", "one")]);

    for v in V {
        assert!(is_structure_err(StopSearchRequest::from_element(
            &Element::new("StopSearch-Request").with_text("Vendor", "x"),
            v
        )));
        let e = Element::new("Search-Response").with_text("CompletionFlag", "maybe");
        assert!(is_structure_err(SearchResponse::from_element(&e, v)));
        let e = Element::new("Search-Response").with(Element::new("Result"));
        assert!(is_structure_err(SearchResponse::from_element(&e, v)));
        let e = Element::new("Search-Response").with(Element::new("SearchResult").with(
            Element::new("UserList").with(Element::new("User").with_text("FriendlyName", "no id")),
        ));
        assert!(is_structure_err(SearchResponse::from_element(&e, v)));
    }
    // Unknown children of a list with no flat pair open are not kept; in
    // an open flat pair they are the pair's.
    let e = list(vec![
        Element::text("Vendor", "before"),
        Element::text("SearchElement", "USER_ID"),
        Element::text("SearchString", "bob"),
        Element::text("Vendor", "after"),
    ]);
    let r = SearchRequest::from_element(&e, Version::V1_1).expect("vendor children");
    assert_eq!(r.pairs[0].other, [Element::text("Vendor", "after")]);
}

#[test]
fn search_result_forms() {
    let e = xml_body(
        Version::V1_2,
        "<Search-Response><Result><Code>200</Code></Result><SearchID>s-9</SearchID>\
         <SearchFindings>4</SearchFindings><CompletionFlag>F</CompletionFlag><SearchIndex>2</SearchIndex>\
         <SearchResult><UserList><UserID>wv:a</UserID><UserID>wv:b</UserID></UserList>\
         <User><UserID>wv:c</UserID><FriendlyName>C</FriendlyName></User><UserID>wv:d</UserID>\
         <GroupList><GroupID>wv:g1</GroupID></GroupList><GroupID>wv:g2</GroupID><Vendor>v</Vendor>\
         </SearchResult></Search-Response>",
    );
    for v in V {
        let r = SearchResponse::from_element(&e, v).expect("search response");
        assert_eq!(r.result, Some(CspResult::new(200, None)));
        assert_eq!(r.search_id.as_deref(), Some("s-9"));
        assert_eq!(r.findings, Some(4));
        assert_eq!(r.completion, Some(false));
        assert_eq!(r.index, Some(2));
        let found = r.search_result.as_ref().expect("result");
        let ids: Vec<&str> = found.users.iter().map(|u| u.user_id.as_str()).collect();
        assert_eq!(ids, ["wv:a", "wv:b", "wv:c", "wv:d"]);
        // FriendlyName is 1.3.
        assert_eq!(
            found.users[2].friendly_name.as_deref(),
            (v >= V13).then_some("C")
        );
        assert_eq!(found.groups, ["wv:g1", "wv:g2"]);
        assert_eq!(found.other, [Element::text("Vendor", "v")]);

        let w = r.to_element(v);
        let names: Vec<&str> = w.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Result",
                "SearchID",
                "SearchFindings",
                "CompletionFlag",
                "SearchIndex",
                "SearchResult"
            ]
        );
        let sr = w.child("SearchResult").expect("SearchResult");
        let names: Vec<&str> = sr.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["UserList", "GroupList", "Vendor"]);
        let users = sr.child("UserList").expect("UserList");
        assert_eq!(users.children.len(), 4);
        assert!(users.children.iter().all(|u| u.name == "User"));
        assert_eq!(
            users.children[2].child("FriendlyName").is_some(),
            v >= V13,
            "{v:?}"
        );
        assert_eq!(SearchResponse::from_element(&w, v).expect("re-read"), r);
    }
    // Empty: an empty SearchResult, no Result.
    let r = SearchResponse {
        completion: Some(true),
        search_result: Some(SearchResult::default()),
        ..SearchResponse::default()
    };
    assert_eq!(
        r.to_element(Version::V1_1),
        Element::new("Search-Response")
            .with_text("CompletionFlag", "T")
            .with(Element::new("SearchResult"))
    );
    // Groups only: no UserList.
    let r = SearchResult {
        groups: vec!["wv:g".into()],
        ..SearchResult::default()
    };
    assert_eq!(
        r.to_element(V13),
        Element::new("SearchResult").with(Element::new("GroupList").with_text("GroupID", "wv:g"))
    );
}

#[test]
fn public_profile_examples_and_forms() {
    let e = example_in(V13, "GetPublicProfile-Request");
    let r = GetPublicProfileRequest::from_element(&e, V13).expect("get profile");
    assert_eq!(r.user_ids, [imps_wire::examples::CAROL]);
    assert_eq!(r.to_element(V13), e);

    let e = example_in(V13, "GetPublicProfile-Response");
    let r = GetPublicProfileResponse::from_element(&e, V13).expect("profile");
    assert!(r.result.as_ref().is_some_and(CspResult::is_success));
    assert_eq!(r.profiles.len(), 1);
    let p = &r.profiles[0];
    assert_eq!(p.user_id.as_deref(), Some(imps_wire::examples::CAROL));
    assert_eq!(p.get("PP_CITY"), Some("Zürich"));
    assert_eq!(p.get("PP_FREE_TEXT"), Some("Tea > coffee"));
    assert_eq!(p.get("pp_city"), None);
    assert_eq!(p.get("PP_AGE"), None);
    assert_eq!(r.to_element(V13), e);

    let e = example_in(V13, "UpdatePublicProfile-Request");
    let r = UpdatePublicProfileRequest::from_element(&e, V13).expect("update");
    assert_eq!(r.clear, Some(false));
    let p = r.profile.as_ref().expect("profile");
    assert!(p.user_id.is_none());
    assert_eq!(
        p.properties,
        [
            Property::new("PP_CITY", "Bern"),
            Property::new("PP_INTERESTS", "Chess & go")
        ]
    );
    assert_eq!(r.to_element(V13), e);

    // First property of a name wins.
    let p = PublicProfile {
        properties: vec![Property::new("PP_AGE", "30"), Property::new("PP_AGE", "31")],
        ..PublicProfile::default()
    };
    assert_eq!(p.get("PP_AGE"), Some("30"));

    // Users named as UserIDList and User selectors; written bare.
    let e = Element::new("GetPublicProfile-Request")
        .with(
            Element::new("UserIDList")
                .with_text("UserID", "wv:a")
                .with_text("UserID", "wv:b"),
        )
        .with(Element::new("User").with_text("UserID", "wv:c"))
        .with_text("UserID", "wv:d");
    let r = GetPublicProfileRequest::from_element(&e, V13).expect("selectors");
    assert_eq!(r.user_ids, ["wv:a", "wv:b", "wv:c", "wv:d"]);
    let w = r.to_element(V13);
    assert_eq!(w.children.len(), 4);
    assert!(w.children.iter().all(|c| c.name == "UserID"));

    // A response without Result reads; written without one.
    let e = Element::new("GetPublicProfile-Response")
        .with(Element::new("PublicProfile").with_text("UserID", "wv:a"));
    let r = GetPublicProfileResponse::from_element(&e, V13).expect("no result");
    assert!(r.result.is_none());
    assert_eq!(r.to_element(V13), e);
}

#[test]
fn public_profile_hostile() {
    let profile = |p: Element| Element::new("GetPublicProfile-Response").with(p);
    let bad = [
        profile(
            Element::new("PublicProfile")
                .with(Element::new("Property").with_text("Name", "PP_AGE")),
        ),
        profile(
            Element::new("PublicProfile").with(Element::new("Property").with_text("Value", "3")),
        ),
        profile(Element::new("PublicProfile").with(Element::new("UserID").with_text("X", "y"))),
        Element::new("GetPublicProfile-Response").with(Element::new("Result")),
        Element::new("GetPublicProfile-Request"),
    ];
    for e in &bad {
        assert!(
            is_structure_err(GetPublicProfileResponse::from_element(e, V13)),
            "{e:?}"
        );
    }
    let e = Element::new("GetPublicProfile-Request").with(Element::new("User"));
    assert!(is_structure_err(GetPublicProfileRequest::from_element(
        &e, V13
    )));
    let e = Element::new("UpdatePublicProfile-Request").with_text("ClearPublicProfile", "yes");
    assert!(is_structure_err(UpdatePublicProfileRequest::from_element(
        &e, V13
    )));
    // An empty Value is a value.
    let e = Element::new("Property")
        .with_text("Name", "PP_FREE_TEXT")
        .with_text("Value", "");
    assert_eq!(
        Property::from_element(&e, V13).expect("empty value"),
        Property::new("PP_FREE_TEXT", "")
    );
}

/// Every element the search types write has a WBXML token in the version
/// it is written in (the search elements in every version, `SearchPair`,
/// `PairID`, `AdvancedCriteria`, `FriendlyName` and the profile elements
/// in 1.3): no LITERAL, so no string table.
#[test]
fn search_and_profile_elements_are_wbxml_tokens() {
    let search = |v: Version| {
        vec![
            SearchRequest {
                pairs: vec![
                    SearchPair {
                        pair_id: Some(1),
                        ..SearchPair::new("USER_ALIAS", "bob")
                    },
                    SearchPair {
                        pair_id: Some(2),
                        ..SearchPair::new("USER_CITY", "Bern")
                    },
                ],
                advanced_criteria: Some("1 OR 2".into()),
                limit: Some(20),
                search_id: Some("search-7".into()),
                index: Some(0),
                other: Vec::new(),
            }
            .to_element(v),
            SearchResponse {
                result: Some(CspResult::new(200, None)),
                search_id: Some("search-7".into()),
                findings: Some(3),
                completion: Some(false),
                index: Some(2),
                search_result: Some(SearchResult {
                    users: vec![FoundUser {
                        user_id: "wv:bob".into(),
                        friendly_name: Some("Bob".into()),
                    }],
                    groups: vec!["wv:g".into()],
                    other: Vec::new(),
                }),
                other: Vec::new(),
            }
            .to_element(v),
            StopSearchRequest {
                search_id: "search-7".into(),
                other: Vec::new(),
            }
            .to_element(v),
        ]
    };
    let profile = PublicProfile {
        user_id: Some("wv:carol".into()),
        properties: vec![Property::new("PP_CITY", "Bern")],
        other: Vec::new(),
    };
    let profiles = vec![
        GetPublicProfileRequest {
            user_ids: vec!["wv:carol".into()],
            other: Vec::new(),
        }
        .to_element(V13),
        GetPublicProfileResponse {
            result: Some(CspResult::new(200, None)),
            profiles: vec![profile.clone()],
            other: Vec::new(),
        }
        .to_element(V13),
        UpdatePublicProfileRequest {
            clear: Some(true),
            profile: Some(profile),
            other: Vec::new(),
        }
        .to_element(V13),
    ];
    let mut cases: Vec<(Version, Element)> = Vec::new();
    for v in V {
        cases.extend(search(v).into_iter().map(|e| (v, e)));
    }
    cases.extend(profiles.into_iter().map(|e| (V13, e)));
    let mut names = std::collections::BTreeSet::new();
    fn collect(e: &Element, out: &mut std::collections::BTreeSet<String>) {
        out.insert(e.name.to_string());
        e.children.iter().for_each(|c| collect(c, out));
    }
    for (v, body) in &cases {
        if *v == V13 {
            collect(body, &mut names);
        }
        let msg = Message::single(
            *v,
            Some("s".into()),
            Transaction::request("1", body.clone()),
        );
        let bytes = encode(&msg, Encoding::Wbxml).expect("encode");
        assert_eq!(bytes[3], 0, "{v:?} {}: a LITERAL", body.name);
        let back = decode(&bytes, Encoding::Wbxml, &Limits::default()).expect("decode");
        assert_eq!(back, msg, "{v:?} {}", body.name);
    }
    for name in [
        "Search-Request",
        "SearchPairList",
        "SearchPair",
        "SearchElement",
        "SearchString",
        "PairID",
        "AdvancedCriteria",
        "SearchLimit",
        "SearchID",
        "SearchIndex",
        "Search-Response",
        "SearchFindings",
        "CompletionFlag",
        "SearchResult",
        "UserList",
        "User",
        "UserID",
        "FriendlyName",
        "GroupList",
        "GroupID",
        "StopSearch-Request",
        "GetPublicProfile-Request",
        "GetPublicProfile-Response",
        "UpdatePublicProfile-Request",
        "ClearPublicProfile",
        "PublicProfile",
        "Property",
        "Name",
        "Value",
    ] {
        assert!(names.contains(name), "{name} not covered");
    }
}
