//! `imps sysmsg list` and `imps sysmsg answer` (also `imps answer`):
//! system messages from the operator (CSP 1.3). The server pushes them as
//! SystemMessage-Request; like invitations, CSP has no primitive to ask
//! for them again, so the poll loop keeps each one in the profile until
//! it is answered (SystemMessage-User), with an option when it offers
//! some and without one to acknowledge it when it offers none.

use serde_json::json;

use crate::cli::args::{AnswerArgs, SysmsgCmd};
use crate::cli::directory::needs_1_3;
use crate::cli::messaging;
use crate::cli::profile::PendingSystemMessage;
use crate::cli::session::{CliError, Ctx};
use crate::cli::{Report, build};

pub async fn sysmsg(ctx: Ctx, cmd: SysmsgCmd) -> Result<Report, CliError> {
    match cmd {
        SysmsgCmd::List => list(ctx).await,
        SysmsgCmd::Answer(a) => answer(ctx, a).await,
        SysmsgCmd::HelpSetting => help_setting(ctx).await,
    }
}

/// One message for a person: its ID and text, then its options and how to
/// answer.
pub fn describe(m: &PendingSystemMessage) -> String {
    let mut s = format!("{}: {}", m.id, m.text);
    if m.options.is_empty() {
        s.push_str(&format!("\n  acknowledge: imps sysmsg answer {}", m.id));
    } else {
        for (id, text) in &m.options {
            s.push_str(&format!("\n  [{id}] {text}"));
        }
        s.push_str(&format!(
            "\n  answer{}: imps sysmsg answer {} OPTION",
            if m.requires_response {
                " (required)"
            } else {
                ""
            },
            m.id
        ));
    }
    s
}

/// Fetches what arrived since the last look (acknowledging it, as
/// `imps invite list` does), then shows every message not answered yet.
async fn list(mut ctx: Ctx) -> Result<Report, CliError> {
    let fresh = if ctx.version() >= crate::Version::V1_3 {
        messaging::drain(&mut ctx).await?.len()
    } else {
        // Nothing can arrive before 1.3; do not take others' events.
        0
    };
    let kept = &ctx.profile.system_messages;
    let human = if kept.is_empty() {
        "no system messages waiting".to_string()
    } else {
        kept.iter().map(describe).collect::<Vec<_>>().join("\n")
    };
    let messages: Vec<serde_json::Value> = kept
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "text": m.text,
                "requires_response": m.requires_response,
                "options": m.options.iter().map(|(id, text)| json!({
                    "id": id.parse::<u64>().map(|n| json!(n)).unwrap_or_else(|_| json!(id)),
                    "text": text,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Report::new(
        human,
        json!({"system_messages": messages, "other_events": fresh}),
    ))
}

/// The server's help message, asked for by answering `help` without an
/// option (docs/protocol.md): its text ends with whether help is on.
async fn help_setting(mut ctx: Ctx) -> Result<Report, CliError> {
    needs_1_3(&ctx, "the help preference")?;
    ctx.call(
        "asking for the help preference",
        build::system_message_user(HELP, None),
    )
    .await?;
    // The server pushes the message before it answers the request.
    messaging::drain(&mut ctx).await?;
    let shown = ctx
        .profile
        .system_messages
        .iter()
        .find(|m| m.id == HELP)
        .cloned()
        .ok_or_else(|| CliError::Local("the server did not send its help message".into()))?;
    ctx.save()?;
    Ok(Report::new(
        describe(&shown),
        json!({"id": shown.id, "text": shown.text, "options": shown.options.iter().map(|(id, text)| json!({"id": id, "text": text})).collect::<Vec<_>>()}),
    ))
}

/// The ID of the server's help message, whose latest answer is the
/// user's help preference.
const HELP: &str = "help";

/// Checks an answer against the message when we have it: the option must
/// be one it offers, and a message with options needs one.
fn check(m: &PendingSystemMessage, option: Option<u64>) -> Result<(), CliError> {
    match option {
        Some(o) if !m.options.is_empty() && !m.offers(o) => Err(CliError::Local(format!(
            "system message {} offers no option {o}; choose one of {}",
            m.id,
            m.options_line()
        ))),
        Some(o) if m.options.is_empty() => Err(CliError::Local(format!(
            "system message {} offers no options (so not {o}); acknowledge it with \
             imps sysmsg answer {}",
            m.id, m.id
        ))),
        None if !m.options.is_empty() => Err(CliError::Local(format!(
            "system message {} needs a choice: imps sysmsg answer {} OPTION, one of {}",
            m.id,
            m.id,
            m.options_line()
        ))),
        _ => Ok(()),
    }
}

pub async fn answer(mut ctx: Ctx, a: AnswerArgs) -> Result<Report, CliError> {
    needs_1_3(&ctx, "answering system messages")?;
    let find = |ctx: &Ctx| {
        ctx.profile
            .system_messages
            .iter()
            .find(|m| m.id == a.id)
            .cloned()
    };
    let mut known = find(&ctx);
    if known.is_none() {
        // It may have arrived since the last look.
        messaging::drain(&mut ctx).await?;
        known = find(&ctx);
    }
    // One we never saw (another client's session got it) goes to the
    // server as asked; the server knows whether it is ours.
    if let Some(m) = &known {
        check(m, a.option)?;
    }
    ctx.call(
        "answering the system message",
        build::system_message_user(&a.id, a.option),
    )
    .await?;
    ctx.profile.system_messages.retain(|m| m.id != a.id);
    ctx.save()?;
    let human = match a.option {
        Some(o) => {
            let text = known
                .as_ref()
                .and_then(|m| m.options.iter().find(|(id, _)| id.parse() == Ok(o)))
                .map(|(_, t)| format!(" ({t})"))
                .unwrap_or_default();
            format!("answered system message {} with option {o}{text}", a.id)
        }
        None => format!("acknowledged system message {}", a.id),
    };
    Ok(Report::new(human, json!({"id": a.id, "option": a.option})))
}
