//! Examples of primitives CSP 1.3 added. `all` drops them for 1.1 and 1.2.

use super::{CAROL, Examples, request, response, result, screen_name};
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
