//! What the server pushes, sorted into events a person understands, with
//! the answer each one needs. Shared by `imps inbox`, `imps presence
//! watch` and the chat UI so they all acknowledge the same way: a
//! NewMessage with `MessageDelivered` in Response mode under its
//! TransactionID (as Android does), everything else with Status 200.

use imps_wire::{Element, Message, TransactionMode};
use serde::Serialize;

use crate::cli::profile::{PendingInvite, PendingSystemMessage};
use crate::cli::read::{self, Incoming, Member, PresenceView};

/// One server-originated transaction, as an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message(Incoming),
    Presence {
        presence: Vec<PresenceView>,
    },
    Invitation(PendingInvite),
    /// The inviter withdrew an invitation (CancelInviteUser-Request).
    InviteCancelled {
        invite_id: String,
        from: String,
        group: Option<String>,
    },
    /// Someone asks to see our presence (PresenceAuth-Request up to 1.2,
    /// Notification-Request of type ANU in 1.3).
    PresenceAuth {
        user: String,
    },
    /// The answer to an invitation we sent.
    InviteAnswer {
        invite_id: String,
        accepted: bool,
        from: String,
        note: Option<String>,
    },
    GroupChange {
        group: String,
        joined: Vec<Member>,
        left: Vec<Member>,
    },
    /// We were removed from a group (unsolicited LeaveGroup-Response).
    GroupLeft {
        group: String,
        code: Option<u16>,
    },
    SystemMessage(PendingSystemMessage),
    DeliveryReport {
        message_id: String,
        code: Option<u16>,
        description: String,
    },
    /// The server ended the session.
    Disconnect {
        code: Option<u16>,
        description: String,
    },
    /// A notification we do not show in detail (its primitive name).
    Other {
        primitive: String,
    },
}

/// How to answer a server request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// `MessageDelivered{MessageID}` in Response mode.
    Delivered(String),
    /// `Status 200` in Response mode.
    Status,
    /// Nothing (the session is over).
    Nothing,
}

/// Sorts one server request body into an event and the answer it needs.
pub fn classify(body: &Element) -> (Event, Ack) {
    let status = crate::status_of(body);
    match body.name.as_str() {
        "NewMessage" => {
            let m = read::incoming(body);
            let ack = Ack::Delivered(m.message_id.clone());
            (Event::Message(m), ack)
        }
        "PresenceNotification-Request" => (
            Event::Presence {
                presence: read::presences(body),
            },
            Ack::Status,
        ),
        "InviteUser-Request" => (Event::Invitation(read::invitation(body)), Ack::Status),
        "CancelInviteUser-Request" => (
            Event::InviteCancelled {
                invite_id: body.child_text("InviteID").unwrap_or("").to_string(),
                from: body
                    .path(&["Sender", "User", "UserID"])
                    .map(|u| u.text.clone())
                    .unwrap_or_default(),
                group: body
                    .child_text("GroupID")
                    .filter(|g| !g.is_empty())
                    .map(str::to_string),
            },
            Ack::Status,
        ),
        "PresenceAuth-Request" => (
            Event::PresenceAuth {
                user: body.child_text("UserID").unwrap_or("").to_string(),
            },
            Ack::Status,
        ),
        "Notification-Request"
            if body
                .child_text("NotificationType")
                .is_some_and(|t| t.eq_ignore_ascii_case("ANU")) =>
        {
            (
                Event::PresenceAuth {
                    user: body
                        .path(&["UserIDList", "UserID"])
                        .or_else(|| body.child("UserID"))
                        .map(|u| u.text.clone())
                        .unwrap_or_default(),
                },
                Ack::Status,
            )
        }
        "Invite-Response" => (
            Event::InviteAnswer {
                invite_id: body.child_text("InviteID").unwrap_or("").to_string(),
                accepted: body.child_bool("Acceptance").unwrap_or(false),
                from: body
                    .path(&["Recipient", "User", "UserID"])
                    .or_else(|| body.path(&["Sender", "User", "UserID"]))
                    .map(|u| u.text.clone())
                    .unwrap_or_default(),
                note: body
                    .child_text("ResponseNote")
                    .map(str::to_string)
                    .filter(|s| !s.is_empty()),
            },
            Ack::Status,
        ),
        "GroupChangeNotice" => (
            Event::GroupChange {
                group: body.child_text("GroupID").unwrap_or("").to_string(),
                joined: body.child("Joined").map(read::members).unwrap_or_default(),
                left: body.child("Left").map(read::members).unwrap_or_default(),
            },
            Ack::Status,
        ),
        "LeaveGroup-Response" => (
            Event::GroupLeft {
                group: body.child_text("GroupID").unwrap_or("").to_string(),
                code: status.map(|(c, _)| c),
            },
            Ack::Status,
        ),
        "SystemMessage-Request" => {
            // One event per message would need a Vec; a request carries
            // one in practice, and the rest are kept by `system_messages`.
            let first = read::system_messages(body)
                .into_iter()
                .next()
                .unwrap_or_default();
            (Event::SystemMessage(first), Ack::Status)
        }
        "DeliveryReport-Request" => (
            Event::DeliveryReport {
                message_id: body
                    .path(&["MessageInfo", "MessageID"])
                    .map(|m| m.text.clone())
                    .unwrap_or_default(),
                code: status.as_ref().map(|(c, _)| *c),
                description: status.map(|(_, d)| d).unwrap_or_default(),
            },
            Ack::Status,
        ),
        "Disconnect" => (
            Event::Disconnect {
                code: status.as_ref().map(|(c, _)| *c),
                description: status.map(|(_, d)| d).unwrap_or_default(),
            },
            Ack::Nothing,
        ),
        other => (
            Event::Other {
                primitive: other.to_string(),
            },
            Ack::Status,
        ),
    }
}

/// Like [`classify`], with one event per system message when a
/// SystemMessage-Request carries several (they share the one Status).
pub fn classify_all(body: &Element) -> (Vec<Event>, Ack) {
    if body.name == "SystemMessage-Request" {
        let all: Vec<Event> = read::system_messages(body)
            .into_iter()
            .map(Event::SystemMessage)
            .collect();
        if !all.is_empty() {
            return (all, Ack::Status);
        }
    }
    let (event, ack) = classify(body);
    (vec![event], ack)
}

/// The server requests in a pushed or polled message, each with its
/// TransactionID (Response-mode transactions are not for us to answer).
pub fn requests(msg: &Message) -> Vec<(Option<String>, &Element)> {
    msg.transactions
        .iter()
        .filter(|t| t.mode == TransactionMode::Request)
        .map(|t| (t.id.clone(), &t.body))
        .collect()
}

/// The answer element for an ack, if any.
pub fn ack_body(ack: &Ack) -> Option<Element> {
    match ack {
        Ack::Delivered(id) => Some(crate::cli::build::message_delivered(id)),
        Ack::Status => Some(crate::primitives::status(200, "")),
        Ack::Nothing => None,
    }
}

/// One line for a person.
pub fn describe(e: &Event) -> String {
    use crate::cli::ids::display;
    match e {
        Event::Message(m) => {
            let who = m.from_name.clone().unwrap_or_else(|| display(&m.from));
            match &m.group {
                Some(g) => format!("[{}] {}: {}", display(g), who, m.text),
                None => format!("{}: {}", who, m.text),
            }
        }
        Event::Presence { presence } => presence
            .iter()
            .map(|p| {
                let mut s = format!("{} is {}", display(&p.user), p.summary());
                if let Some(t) = &p.status_text {
                    s.push_str(&format!(" ({t})"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Event::Invitation(i) => {
            let what = match &i.group {
                Some(g) => format!("to group {}", display(g)),
                None => format!("({})", i.invite_type),
            };
            let note = i
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            format!(
                "invitation {} from {} {what}{note}; answer: imps invite accept {} | imps invite reject {}",
                i.invite_id,
                display(&i.from),
                i.invite_id,
                i.invite_id
            )
        }
        Event::InviteCancelled {
            invite_id, from, ..
        } => format!("{} withdrew invitation {invite_id}", display(from)),
        Event::PresenceAuth { user } => format!(
            "{} asks to see your presence; answer: imps presence authorize {} [--deny]",
            display(user),
            display(user)
        ),
        Event::InviteAnswer {
            invite_id,
            accepted,
            from,
            ..
        } => format!(
            "{} {} invitation {invite_id}",
            display(from),
            if *accepted { "accepted" } else { "declined" }
        ),
        Event::GroupChange {
            group,
            joined,
            left,
        } => {
            let names = |v: &Vec<Member>| {
                v.iter()
                    .map(|m| {
                        m.screen_name
                            .clone()
                            .or_else(|| m.user.as_deref().map(display))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut s = format!("group {}:", display(group));
            if !joined.is_empty() {
                s.push_str(&format!(" joined {}", names(joined)));
            }
            if !left.is_empty() {
                s.push_str(&format!(" left {}", names(left)));
            }
            s
        }
        Event::GroupLeft { group, .. } => format!("you were removed from group {}", display(group)),
        Event::SystemMessage(m) => {
            let answer = if m.options.is_empty() {
                format!("acknowledge: imps sysmsg answer {}", m.id)
            } else {
                format!("answer: imps sysmsg answer {} OPTION", m.id)
            };
            let opts = if m.options.is_empty() {
                String::new()
            } else {
                format!(" {}", m.options_line())
            };
            format!("system message {}: {}{opts}; {answer}", m.id, m.text)
        }
        Event::DeliveryReport {
            message_id, code, ..
        } => format!(
            "delivery report for {message_id}: {}",
            code.map(crate::cli::codes::describe).unwrap_or_default()
        ),
        Event::Disconnect { code, description } => format!(
            "the server ended the session: {} {description}",
            code.map(crate::cli::codes::describe).unwrap_or_default()
        ),
        Event::Other { primitive } => format!("({primitive})"),
    }
}
