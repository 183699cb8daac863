//! The chat UI's network side: loading the start state, carrying out
//! [`Action`]s, and a pump that turns server pushes (WebSocket, or HTTP
//! polling) into [`AppEvent`]s. Requests go over the profile's HTTP
//! session so the TransactionID counter stays in one place; the
//! WebSocket only receives.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::build;
use crate::cli::events::{self};
use crate::cli::session::{CliError, Ctx};
use crate::cli::{groups, ids, messaging, social};
use crate::tui::app::{Action, App, AppEvent, Prompt};
use crate::{ClientConfig, HttpClient, WsClient};

/// Fills the sidebar: contacts with their presence (and a subscription
/// for live updates), remembered rooms, and what still waits for an
/// answer. Refusals leave that part empty and say so in the status line.
pub async fn load(ctx: &mut Ctx, app: &mut App) {
    let mut problems = Vec::new();
    match social::lists(ctx).await {
        Ok((lists, _)) => {
            for l in &lists {
                match social::members(ctx, l).await {
                    Ok(people) => people
                        .into_iter()
                        .for_each(|c| app.add_contact(&c.user, c.nick)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            let who: Vec<String> = app.contacts.iter().map(|c| c.id.clone()).collect();
            for p in social::presence_of(ctx, &who).await {
                app.set_presence(&p);
            }
            if !lists.is_empty() {
                let sub = build::subscribe_presence(ctx.version(), &[], &lists);
                if let Err(e) = ctx.call("subscribing to presence", sub).await {
                    problems.push(e.to_string());
                }
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    for g in ctx.profile.groups.clone() {
        app.add_room(&g);
    }
    for i in ctx.profile.invites.clone() {
        app.prompts.push_back(Prompt::Invite(i));
    }
    for m in ctx.profile.system_messages.clone() {
        app.prompts.push_back(Prompt::System(m));
    }
    for u in ctx.profile.auth_requests.clone() {
        app.prompts.push_back(Prompt::PresenceAuth(u));
    }
    if let Some(p) = problems.first() {
        app.status = p.clone();
    }
}

/// `http://host:port/imps` -> `ws://host:port/imps/ws` (impsd's default
/// WebSocket path; https becomes wss).
pub fn ws_url(server: &str) -> String {
    let (scheme, rest) = match server.split_once("://") {
        Some(("https", r)) => ("wss", r),
        Some((_, r)) => ("ws", r),
        None => ("ws", server),
    };
    format!("{scheme}://{}/ws", rest.trim_end_matches('/'))
}

/// Opens the WebSocket and binds it to the saved session (any request
/// naming the session does; KeepAlive is harmless).
pub async fn connect_ws(ctx: &Ctx) -> Result<WsClient, CliError> {
    let p = &ctx.profile;
    let cfg = ClientConfig::new(ws_url(&p.server), p.csp_version(), p.csp_encoding())
        .with_client_id(p.client_id.clone());
    let ws = WsClient::connect_with(cfg)
        .await
        .map_err(|e| CliError::from_client("opening the WebSocket", e))?;
    ws.set_session_id(p.session_id.clone());
    // A counter far from the HTTP one, so the server's logs tell them apart.
    ws.set_next_transaction_id(500);
    ws.keep_alive(None)
        .await
        .map_err(|e| CliError::from_client("binding the WebSocket", e))?;
    Ok(ws)
}

/// Forwards WebSocket pushes until the socket or the UI goes away.
pub async fn ws_pump(ws: WsClient, tx: mpsc::Sender<AppEvent>) {
    loop {
        match ws.next_push(Duration::from_secs(30)).await {
            Some(m) => {
                if tx.send(AppEvent::Push(m)).await.is_err() {
                    return;
                }
            }
            None if ws.is_closed() => {
                let _ = tx
                    .send(AppEvent::Closed("the server closed the WebSocket".into()))
                    .await;
                return;
            }
            // Idle: keep the session alive.
            None => {
                if ws.keep_alive(None).await.is_err() && tx.is_closed() {
                    return;
                }
            }
        }
    }
}

/// Polls over HTTP every `every` (for servers without WebSocket).
pub async fn poll_pump(client: HttpClient, every: Duration, tx: mpsc::Sender<AppEvent>) {
    loop {
        match client.poll().await {
            Ok(Some(m)) => {
                if tx.send(AppEvent::Push(m)).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                if tx
                    .send(AppEvent::Status(format!("poll failed: {e}")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Carries out actions in order, reporting failures to the status line.
pub async fn worker(mut ctx: Ctx, mut rx: mpsc::Receiver<Action>, tx: mpsc::Sender<AppEvent>) {
    while let Some(a) = rx.recv().await {
        let outcome = perform(&mut ctx, a).await;
        let status = match outcome {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => e.to_string(),
        };
        if tx.send(AppEvent::Status(status)).await.is_err() {
            return;
        }
    }
}

async fn perform(ctx: &mut Ctx, a: Action) -> Result<Option<String>, CliError> {
    match a {
        Action::Send { to, text, font } => {
            messaging::send_to(ctx, to, &text, &font).await?;
            Ok(None)
        }
        Action::AnswerPresenceAuth { user, accept } => {
            let wbxml = ctx.profile.csp_encoding() == crate::Encoding::Wbxml;
            let body = build::presence_auth_answer(ctx.version(), wbxml, &user, accept);
            ctx.call("answering the presence request", body).await?;
            let key = ids::user_key(&user);
            ctx.profile
                .auth_requests
                .retain(|u| ids::user_key(u) != key);
            ctx.save()?;
            Ok(Some(format!(
                "{} {} to see your presence",
                if accept { "allowed" } else { "refused" },
                ids::display(&user)
            )))
        }
        Action::Ack { tid, ack } => {
            if let Some(body) = events::ack_body(&ack) {
                ctx.answer(&tid, body).await?;
            }
            Ok(None)
        }
        Action::AnswerInvite { invite, accept } => {
            if let (true, Some(g)) = (accept, invite.group.as_deref()) {
                groups::join(ctx, g, None).await?;
            }
            let body = build::invite_user_response(
                &invite.invite_id,
                accept,
                &ctx.me(),
                &invite.from,
                None,
            );
            ctx.call("answering the invitation", body).await?;
            ctx.profile
                .invites
                .retain(|i| i.invite_id != invite.invite_id);
            ctx.save()?;
            Ok(Some(format!(
                "{} invitation from {}",
                if accept { "accepted" } else { "declined" },
                ids::display(&invite.from)
            )))
        }
        Action::AnswerSystem { id, option } => {
            ctx.call(
                "answering the system message",
                build::system_message_user(&id, option),
            )
            .await?;
            ctx.profile.system_messages.retain(|m| m.id != id);
            ctx.save()?;
            Ok(Some(match option {
                Some(o) => format!("answered system message {id} with option {o}"),
                None => format!("acknowledged system message {id}"),
            }))
        }
        Action::KeepSystem(m) => {
            ctx.profile.remember_system_message(&m);
            ctx.save()?;
            Ok(None)
        }
        Action::Join { group } => {
            let members = groups::join(ctx, &group, None).await?;
            Ok(Some(format!(
                "joined {} ({} in the room)",
                ids::display(&group),
                members.len()
            )))
        }
        Action::Leave { group } => {
            ctx.call("leaving the group", build::leave_group(&group))
                .await?;
            ctx.profile.forget_group(&group);
            ctx.save()?;
            Ok(Some(format!("left {}", ids::display(&group))))
        }
    }
}
