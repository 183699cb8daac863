//! Instant-messaging examples.

use super::{ALICE, BOB, Examples, content_size, request, response, result, user};
use crate::{Element, Message, Transaction, Version};

/// `MessageInfo` for a text message from `from` to `to`.
pub fn message_info(id: Option<&str>, from: &str, to: &str, text: &str) -> Element {
    Element::new("MessageInfo")
        .with_opt(id.map(|id| Element::text("MessageID", id)))
        .with_text("ContentType", "text/plain")
        .with_text("ContentSize", content_size(text))
        .with(Element::new("Recipient").with(user(to)))
        .with(Element::new("Sender").with(user(from)))
}

/// A SendMessage-Request as Android writes it: no DateTime, no report.
pub fn send_message(v: Version, tid: &str, to: &str, text: &str) -> Message {
    let body = Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(message_info(None, ALICE, to, text))
        .with_text("ContentData", text);
    request(v, tid, body)
}

pub(super) fn add(v: Version, out: &mut Examples) {
    // Text that needs escaping, a line break and non-Latin characters.
    let text = "Hi Bob <3 & see you at 5 \"sharp\"\nПривет, 你好 🙂";
    out.push(("SendMessage-Request", send_message(v, "20", BOB, text)));

    let sent = Element::new("SendMessage-Response")
        .with(result(200, None))
        .with_text("MessageID", "m-1001");
    // The Poll flag: a server transaction is waiting (1.1 writes it in the
    // TransactionDescriptor, 1.2+ in Session).
    let mut sent = response(v, "20", sent);
    sent.poll = Some(true);
    out.push(("SendMessage-Response", sent));

    let reply = "On my way";
    let info =
        message_info(Some("m-1002"), BOB, ALICE, reply).with_text("DateTime", "20240102T030405Z");
    let new = Element::new("NewMessage")
        .with(info)
        .with_text("ContentData", reply);
    out.push(("NewMessage", request(v, "s3", new)));

    // Android answers NewMessage in mode Response under the NewMessage's ID.
    let delivered = Element::new("MessageDelivered").with_text("MessageID", "m-1002");
    out.push(("MessageDelivered", response(v, "s3", delivered)));

    // 1.3 wraps the list and adds a total; ≤1.2 lists MessageInfo directly.
    let infos = [
        message_info(Some("m-1003"), BOB, ALICE, "first"),
        message_info(Some("m-1004"), BOB, ALICE, "second"),
    ];
    let list = if v >= Version::V1_3 {
        let wrapper = infos
            .into_iter()
            .fold(Element::new("MessageInfoList"), Element::with);
        Element::new("GetMessageList-Response")
            .with(wrapper)
            .with_text("MessageTotalCount", "2")
    } else {
        infos
            .into_iter()
            .fold(Element::new("GetMessageList-Response"), Element::with)
    };
    out.push(("GetMessageList-Response", response(v, "21", list)));

    let report = Element::new("DeliveryReport-Request")
        .with(result(200, None))
        .with_text("DeliveryTime", "20240102T030410Z")
        .with(
            Element::new("MessageInfo")
                .with_text("MessageID", "m-1001")
                .with(Element::new("Recipient").with(user(BOB))),
        );
    out.push(("DeliveryReport-Request", request(v, "s4", report)));

    // Two transactions in one message (the DTD allows a list): the answer
    // to a client request plus a pushed message, with the CIR flag (1.2+).
    if v >= Version::V1_2 {
        let mut two = response(v, "22", Element::new("Status").with(result(200, None)));
        let push = Element::new("NewMessage")
            .with(message_info(Some("m-1005"), BOB, ALICE, "ping"))
            .with_text("ContentData", "ping");
        two.transactions.push(Transaction::request("s5", push));
        two.cir = Some(true);
        out.push(("Status-multi", two));
    }
}
