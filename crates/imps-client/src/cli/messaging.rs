//! `imps send` and `imps inbox`, and the poll loop other commands share:
//! fetch what the server queued for the session, acknowledge each item,
//! and remember what needs an answer later (invitations, system
//! messages).

use std::time::{Duration, Instant};

use imps_wire::TransactionMode;
use serde_json::json;

use crate::cli::args::{FontArgs, InboxArgs, SendArgs};
use crate::cli::build::{self, Font, Target};
use crate::cli::events::{self, Event};
use crate::cli::session::{CliError, Ctx, status_error};
use crate::cli::{Report, ids};

/// At most this many transactions are fetched by one drain, so a server
/// that keeps saying "more" cannot keep a one-shot command running.
const MAX_DRAIN: usize = 10_000;

/// How often `--wait` and `watch` poll an idle session.
pub const POLL_INTERVAL: Duration = Duration::from_millis(300);

pub fn font(a: &FontArgs) -> Font {
    let mut styles = Vec::new();
    if a.bold {
        styles.push("Bold".to_string());
    }
    if a.italic {
        styles.push("Italic".to_string());
    }
    if a.underline {
        styles.push("Underline".to_string());
    }
    Font {
        size: a.size.clone(),
        styles,
        color: a.color.clone(),
    }
}

/// Sends text to a user or group; returns the MessageID the server gave.
pub async fn send_to(
    ctx: &mut Ctx,
    to: Target,
    text: &str,
    font: &Font,
) -> Result<Option<String>, CliError> {
    if !font.is_empty() && ctx.version() < crate::Version::V1_3 {
        return Err(CliError::Local(
            "formatting (--bold, --color, ...) needs CSP 1.3; log in with --csp 1.3".into(),
        ));
    }
    let body = build::send_message(ctx.version(), &ctx.me(), &to, text, font);
    let resp = ctx.call("send", body).await?;
    Ok(resp.child_text("MessageID").map(str::to_string))
}

pub async fn send(mut ctx: Ctx, a: SendArgs) -> Result<Report, CliError> {
    let to = ids::wire_user(&a.user);
    let id = send_to(&mut ctx, Target::User(to.clone()), &a.text, &font(&a.font)).await?;
    Ok(Report::new(
        format!(
            "sent to {}{}",
            ids::display(&to),
            id.as_deref()
                .map(|i| format!(" (message {i})"))
                .unwrap_or_default()
        ),
        json!({"to": to, "message_id": id}),
    ))
}

/// Polls until the server has nothing more, acknowledging each request.
/// Returns the events in arrival order; the profile is updated with what
/// must be answered later.
pub async fn drain(ctx: &mut Ctx) -> Result<Vec<Event>, CliError> {
    let mut out = Vec::new();
    for _ in 0..MAX_DRAIN {
        let msg = ctx
            .client
            .poll()
            .await
            .map_err(|e| CliError::from_client("polling", e))?;
        let Some(msg) = msg else { break };
        // A refused poll comes back as a Response-mode Status.
        for t in msg
            .transactions
            .iter()
            .filter(|t| t.mode == TransactionMode::Response)
        {
            if let Some((code, d)) = crate::status_of(&t.body).filter(|(c, _)| *c != 200) {
                if crate::cli::codes::is_session_gone(code) {
                    ctx.profile.session_id = None;
                    ctx.save()?;
                }
                return Err(status_error("polling", code, d));
            }
        }
        let reqs = events::requests(&msg);
        if reqs.is_empty() {
            break;
        }
        for (tid, body) in reqs {
            let (all, ack) = events::classify_all(body);
            if let (Some(tid), Some(answer)) = (tid, events::ack_body(&ack)) {
                ctx.answer(&tid, answer).await?;
            }
            for event in all {
                remember(ctx, &event);
                out.push(event);
            }
        }
    }
    ctx.save()?;
    Ok(out)
}

/// Keeps what needs an answer later in the profile.
fn remember(ctx: &mut Ctx, e: &Event) {
    let p = &mut ctx.profile;
    match e {
        Event::Invitation(i) if !p.invites.iter().any(|x| x.invite_id == i.invite_id) => {
            p.invites.push(i.clone())
        }
        Event::SystemMessage(m) => p.remember_system_message(m),
        Event::InviteCancelled { invite_id, .. } => p.invites.retain(|i| &i.invite_id != invite_id),
        Event::PresenceAuth { user }
            if !user.is_empty()
                && !p
                    .auth_requests
                    .iter()
                    .any(|u| ids::user_key(u) == ids::user_key(user)) =>
        {
            p.auth_requests.push(user.clone())
        }
        Event::GroupLeft { group, .. } => p.forget_group(group),
        Event::Disconnect { .. } => p.session_id = None,
        _ => {}
    }
}

/// Binds `addr` for datagram CIR and asks the server for SUDP to its
/// port (the server sends to the address our requests come from).
async fn udp_cir(ctx: &mut Ctx, addr: &str) -> Result<crate::UdpCir, CliError> {
    let cir = crate::UdpCir::bind(addr)
        .await
        .map_err(|e| CliError::Local(format!("--udp-cir {addr}: {e}")))?;
    let port = cir
        .port()
        .map_err(|e| CliError::Local(format!("--udp-cir {addr}: {e}")))?;
    let body = crate::primitives::client_capability_request_udp(
        &ctx.client.config().client_id,
        &["SUDP"],
        None,
        Some(&crate::primitives::UdpCirOffer {
            address: None,
            port,
        }),
    );
    let answer = ctx.call("negotiating UDP CIR", body).await?;
    let agreed = crate::agreed_cir_methods(
        answer
            .child("AgreedCapabilityList")
            .or_else(|| answer.child("CapabilityList"))
            .unwrap_or(&answer),
    );
    if !agreed.iter().any(|m| m == "SUDP") {
        return Err(CliError::Local(
            "the server does not offer UDP CIR (SUDP); use --wait alone to poll".into(),
        ));
    }
    Ok(cir)
}

/// `imps inbox --list`: what waits on the server (GetMessageList), without
/// taking it. The server answers at most `count` (and its own batch
/// limit); 1.3 says how many wait in all.
async fn list_waiting(mut ctx: Ctx, count: Option<u64>) -> Result<Report, CliError> {
    let resp = ctx
        .call(
            "listing waiting messages",
            build::get_message_list(None, count),
        )
        .await?;
    let (infos, total) = crate::cli::read::message_list(&resp);
    let mut human: Vec<String> = infos
        .iter()
        .map(|m| {
            let who = m.from_name.clone().unwrap_or_else(|| ids::display(&m.from));
            let when = m.date_time.as_deref().unwrap_or("");
            format!("{}  from {who}  {when}", m.message_id)
                .trim_end()
                .to_string()
        })
        .collect();
    match total {
        Some(t) if t as usize > infos.len() => {
            human.push(format!("({} of {t} shown)", infos.len()))
        }
        _ if infos.is_empty() => human.push("no messages waiting".into()),
        _ => {}
    }
    Ok(Report::new(
        human.join("\n"),
        json!({"waiting": infos, "total": total}),
    ))
}

pub async fn inbox(mut ctx: Ctx, a: InboxArgs) -> Result<Report, CliError> {
    if a.list {
        return list_waiting(ctx, a.count).await;
    }
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    let mut udp = match &a.udp_cir {
        Some(addr) => Some(udp_cir(&mut ctx, addr).await?),
        None => None,
    };
    let mut all = Vec::new();
    loop {
        all.extend(drain(&mut ctx).await?);
        if !all.is_empty() || Instant::now() >= deadline {
            break;
        }
        match udp.as_mut() {
            // Poll again when the server says something waits.
            Some(cir) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let woken = cir
                    .next_wakeup(left)
                    .await
                    .map_err(|e| CliError::from_client("waiting for a UDP wake-up", e))?;
                if woken.is_none() {
                    break;
                }
            }
            None => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
    let messages: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let others: Vec<_> = all
        .iter()
        .filter(|e| !matches!(e, Event::Message(_)))
        .cloned()
        .collect();
    let human = if all.is_empty() {
        "no new messages".to_string()
    } else {
        all.iter()
            .map(events::describe)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Report::new(
        human,
        json!({"messages": messages, "events": others}),
    ))
}
