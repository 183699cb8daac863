//! Examples of primitives CSP 1.3 added. `all` drops them for 1.1 and 1.2;
//! the 1.3 forms of older primitives (a login with system messages) are
//! added for 1.3 only, here.

use super::{
    CAROL, Examples, client_id, outband_request, outband_response, request, response, result,
    screen_name,
};
use crate::{Element, Version};

pub(super) fn add(v: Version, out: &mut Examples) {
    let option = |id: &str, text: &str| {
        Element::new("AnswerOption")
            .with_text("AnswerOptionID", id)
            .with_text("AnswerOptionText", text)
    };
    let message = Element::new("SystemMessage")
        .with_text("SystemMessageID", "sys-1")
        .with_text("RequiresResponse", "T")
        .with_text("SystemMessageText", "The terms of service have changed.")
        .with(
            Element::new("AnswerOptions")
                .with(option("1", "Accept"))
                .with(option("2", "Decline")),
        );
    let sys =
        Element::new("SystemMessage-Request").with(Element::new("SystemMessageList").with(message));
    out.push(("SystemMessage-Request", request(v, "s8", sys)));

    // The answer, inside the session: option 1 of message sys-1.
    let user = Element::new("SystemMessage-User").with(
        Element::new("SystemMessageResponseList").with(
            Element::new("SystemMessageResponse")
                .with_text("SystemMessageID", "sys-1")
                .with_text("ChosenOptionID", "1"),
        ),
    );
    out.push(("SystemMessage-User", request(v, "44", user)));

    if v >= Version::V1_3 {
        // Before the login completes: the messages travel in the Result
        // of the Login-Response (no SessionID yet), and the answers in the
        // next Login-Request. The code and the missing SessionID only
        // show the shape; the login service decides them.
        let terms = Element::new("SystemMessage")
            .with_text("SystemMessageID", "terms-3")
            .with_text("RequiresResponse", "T")
            .with_text(
                "SystemMessageText",
                "Messages cost 0.05 EUR each. Do you accept the terms?",
            )
            .with(
                Element::new("AnswerOptions")
                    .with(option("1", "Accept"))
                    .with(option("2", "Presence only"))
                    .with(option("3", "Decline")),
            );
        let pending = Element::new("Login-Response").with(
            result(200, Some("Answer the system message to log in"))
                .with(Element::new("SystemMessageList").with(terms)),
        );
        out.push((
            "Login-Response-system-message",
            outband_response(v, "1", pending),
        ));
        let again = Element::new("Login-Request")
            .with_text("UserID", "alice")
            .with(client_id())
            .with_text("Password", "s3cret&<pw>")
            .with_text("TimeToLive", "7205")
            .with_text("SessionCookie", "1234567890123")
            .with(
                Element::new("SystemMessageResponseList").with(
                    Element::new("SystemMessageResponse")
                        .with_text("SystemMessageID", "terms-3")
                        .with_text("ChosenOptionID", "2"),
                ),
            );
        out.push((
            "Login-Request-system-message-answer",
            outband_request(v, "2", again),
        ));
    }

    let get = Element::new("GetPublicProfile-Request").with_text("UserID", CAROL);
    out.push(("GetPublicProfile-Request", request(v, "40", get)));
    let prop = |n: &str, val: &str| {
        Element::new("Property")
            .with_text("Name", n)
            .with_text("Value", val)
    };
    let profile = Element::new("PublicProfile")
        .with_text("UserID", CAROL)
        .with(prop("PP_FRIENDLY_NAME", "Carol"))
        .with(prop("PP_CITY", "Zürich"))
        .with(prop("PP_FREE_TEXT", "Tea > coffee"));
    let got = Element::new("GetPublicProfile-Response")
        .with(result(200, None))
        .with(profile);
    out.push(("GetPublicProfile-Response", response(v, "40", got)));
    let update = Element::new("UpdatePublicProfile-Request")
        .with_text("ClearPublicProfile", "F")
        .with(
            Element::new("PublicProfile")
                .with(prop("PP_CITY", "Bern"))
                .with(prop("PP_INTERESTS", "Chess & go")),
        );
    out.push(("UpdatePublicProfile-Request", request(v, "45", update)));

    // Segment 2 of a response the server split; the descriptor's
    // SegmentInfo says how many there are.
    let segment_id = || {
        Element::new("SegmentID")
            .with_text("TransactionID", "41")
            .with_text("SegmentReference", "2")
    };
    let get = Element::new("GetSegment-Request").with(segment_id());
    out.push(("GetSegment-Request", request(v, "42", get)));
    let seg = Element::new("GetSegment-Response").with_text("SegmentContent", "PE5pY2tMaXN0Pg==");
    let mut seg = response(v, "42", seg);
    if let Some(t) = seg.transactions.first_mut() {
        t.segment_info = Some(
            Element::new("SegmentInfo")
                .with_text("SegmentCount", "3")
                .with(segment_id()),
        );
    }
    out.push(("GetSegment-Response", seg));

    let extend = Element::new("ExtendConversation-Request")
        .with_text("ExtendConversationID", "conv-7")
        .with(Element::new("UserIDList").with_text("UserID", CAROL))
        .with_text("SubscribeNotification", "T")
        .with(
            Element::new("WelcomeNote")
                .with_text("ContentType", "text/plain")
                .with_text("ContentData", "Carol joins the chat"),
        )
        .with(screen_name("alice", "wv:alice/conv-7@example.com"));
    out.push(("ExtendConversation-Request", request(v, "43", extend)));
}
