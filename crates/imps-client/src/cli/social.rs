//! `imps contacts`, `imps presence`, `imps block`: contact lists,
//! presence and the block list.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::args::{BlockCmd, ContactsCmd, PresenceCmd};
use crate::cli::build::{self, PresenceUpdate};
use crate::cli::events::{self, Event};
use crate::cli::read::{self, Contact, PresenceView};
use crate::cli::session::{CliError, Ctx};
use crate::cli::{Report, ids, messaging};

/// The contact lists: (all lists, the default one).
pub async fn lists(ctx: &mut Ctx) -> Result<(Vec<String>, Option<String>), CliError> {
    let resp = ctx.call("reading contact lists", build::get_list()).await?;
    Ok(read::contact_lists(&resp))
}

/// The members of one list.
pub async fn members(ctx: &mut Ctx, list: &str) -> Result<Vec<Contact>, CliError> {
    let resp = ctx
        .call(
            "reading a contact list",
            build::list_manage(list, &[], &[], false),
        )
        .await?;
    Ok(read::contacts(&resp))
}

/// A list the user named: a full ID (`alice/friends`) or the name of
/// one of ours (`friends`).
fn named_list(ctx: &Ctx, l: &str) -> String {
    if l.contains('/') {
        ids::wire_group(l)
    } else {
        ids::new_group_id(&ctx.me(), l)
    }
}

/// The list to change: the one asked for, else the default list, else
/// the first, else a new default list we create.
async fn target_list(ctx: &mut Ctx, asked: Option<String>) -> Result<String, CliError> {
    if let Some(l) = asked {
        return Ok(named_list(ctx, &l));
    }
    let (all, default) = lists(ctx).await?;
    if let Some(l) = default.or_else(|| all.into_iter().next()) {
        return Ok(l);
    }
    let id = ids::default_list_id(&ctx.me());
    match ctx
        .call(
            "creating a contact list",
            build::create_list(&id, "Friends", true),
        )
        .await
    {
        Ok(_) => Ok(id),
        Err(e) if e.status_code() == Some(701) => Ok(id),
        Err(e) => Err(e),
    }
}

/// Presence of these users; empty (not an error) when the server
/// refuses, so a contact list still shows.
pub async fn presence_of(ctx: &mut Ctx, users: &[String]) -> Vec<PresenceView> {
    if users.is_empty() {
        return Vec::new();
    }
    let body = build::get_presence(ctx.version(), users, &[]);
    match ctx.call("reading presence", body).await {
        Ok(r) => read::presences(&r),
        Err(_) => Vec::new(),
    }
}

fn presence_json(p: &PresenceView) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    v["summary"] = json!(p.summary());
    v
}

fn presence_line(p: &PresenceView) -> String {
    let mut s = format!("{:<20} {}", ids::display(&p.user), p.summary());
    for x in [&p.alias, &p.status_text, &p.mood].into_iter().flatten() {
        s.push_str(&format!("  {x}"));
    }
    s
}

pub async fn contacts(mut ctx: Ctx, cmd: Option<ContactsCmd>) -> Result<Report, CliError> {
    match cmd.unwrap_or(ContactsCmd::List) {
        ContactsCmd::List => {
            let (all, default) = lists(&mut ctx).await?;
            let mut out = Vec::new();
            let mut human = Vec::new();
            for l in &all {
                let people = members(&mut ctx, l).await?;
                let ids: Vec<String> = people.iter().map(|c| c.user.clone()).collect();
                let pres = presence_of(&mut ctx, &ids).await;
                human.push(format!("{}:", ids::display(l)));
                let mut entries = Vec::new();
                for c in &people {
                    let p = pres
                        .iter()
                        .find(|p| ids::user_key(&p.user) == ids::user_key(&c.user));
                    let state = p.map(|p| p.summary()).unwrap_or("unknown");
                    let nick = c
                        .nick
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default();
                    human.push(format!("  {}{nick}  {state}", ids::display(&c.user)));
                    entries.push(json!({"user": c.user, "nick": c.nick,
                        "presence": p.map(presence_json)}));
                }
                out.push(
                    json!({"id": l, "default": default.as_deref() == Some(l.as_str()),
                    "contacts": entries}),
                );
            }
            if all.is_empty() {
                human.push("no contacts yet (imps contacts add USER)".into());
            }
            Ok(Report::new(human.join("\n"), json!({"lists": out})))
        }
        ContactsCmd::Add {
            user,
            nick,
            list,
            no_share,
        } => {
            let list = target_list(&mut ctx, list).await?;
            let who = ids::wire_user(&user);
            let nick = nick.unwrap_or_else(|| ids::display(&who));
            // A contact may see our presence: 1.3's AuthorizeAndGrant puts
            // them on the grant list with OnlineStatus; an attribute list
            // (every version) adds what a chat shows (availability, text).
            let v13 = ctx.version() >= crate::Version::V1_3;
            let add = [(nick.clone(), who.clone())];
            let resp = ctx
                .call(
                    "adding a contact",
                    build::list_manage(&list, &add, &[], v13 && !no_share),
                )
                .await?;
            let mut warnings = Vec::new();
            if !no_share {
                let grant = build::create_attribute_list(
                    ctx.version(),
                    std::slice::from_ref(&who),
                    build::SHARED_ATTRIBUTES,
                );
                if let Err(e) = ctx.call("sharing presence", grant).await {
                    warnings.push(e.to_string());
                }
            }
            // Watching presence is what a contact is for; a server that
            // refuses only costs the live updates.
            let sub = build::subscribe_presence(ctx.version(), std::slice::from_ref(&who), &[]);
            let subscribed = ctx.call("subscribing to presence", sub).await;
            if let Err(e) = &subscribed {
                warnings.push(e.to_string());
            }
            let mut human = format!("added {} to {}", ids::display(&who), ids::display(&list));
            for w in &warnings {
                human.push_str(&format!("\nwarning: {w}"));
            }
            Ok(Report::new(
                human,
                json!({"list": list, "user": who, "nick": nick,
                    "contacts": read::contacts(&resp), "subscribed": subscribed.is_ok(),
                    "shared": !no_share, "warnings": warnings}),
            ))
        }
        ContactsCmd::Remove { user, list } => {
            let list = target_list(&mut ctx, list).await?;
            let who = ids::wire_user(&user);
            ctx.call(
                "removing a contact",
                build::list_manage(&list, &[], std::slice::from_ref(&who), false),
            )
            .await?;
            Ok(Report::new(
                format!(
                    "removed {} from {}",
                    ids::display(&who),
                    ids::display(&list)
                ),
                json!({"list": list, "user": who}),
            ))
        }
        ContactsCmd::DeleteList { list } => {
            let list = named_list(&ctx, &list);
            ctx.call("deleting the contact list", build::delete_list(&list))
                .await?;
            Ok(Report::new(
                format!("deleted contact list {}", ids::display(&list)),
                json!({"list": list}),
            ))
        }
    }
}

fn availability(status: &str) -> Result<(bool, Option<&'static str>), CliError> {
    Ok(match status.to_ascii_lowercase().as_str() {
        "online" | "available" => (true, Some("AVAILABLE")),
        "away" => (true, Some("NOT_AVAILABLE")),
        "busy" | "dnd" => (true, Some("DISCREET")),
        "offline" | "invisible" => (false, None),
        other => {
            return Err(CliError::Local(format!(
                "unknown status {other:?}; use online, away, busy or offline"
            )));
        }
    })
}

pub async fn presence(mut ctx: Ctx, cmd: PresenceCmd, json_out: bool) -> Result<Report, CliError> {
    match cmd {
        PresenceCmd::Set {
            status,
            text,
            mood,
            alias,
        } => {
            let mut u = PresenceUpdate {
                text,
                mood: mood.map(|m| m.to_ascii_uppercase()),
                alias,
                ..PresenceUpdate::default()
            };
            if let Some(s) = &status {
                let (online, avail) = availability(s)?;
                u.online = Some(online);
                u.availability = avail.map(str::to_string);
            }
            if u == PresenceUpdate::default() {
                return Err(CliError::Local(
                    "nothing to set: give --status, --text, --mood or --alias".into(),
                ));
            }
            ctx.call("updating presence", build::update_presence(&u))
                .await?;
            Ok(Report::new(
                "presence updated",
                json!({"status": status, "text": u.text, "mood": u.mood, "alias": u.alias}),
            ))
        }
        PresenceCmd::Get { users } => {
            let users: Vec<String> = if users.is_empty() {
                vec![ctx.me()]
            } else {
                users.iter().map(|u| ids::wire_user(u)).collect()
            };
            let body = build::get_presence(ctx.version(), &users, &[]);
            let resp = ctx.call("reading presence", body).await?;
            let pres = read::presences(&resp);
            let human = if pres.is_empty() {
                "no presence information".to_string()
            } else {
                pres.iter()
                    .map(presence_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Report::new(
                human,
                json!({"presence": pres.iter().map(presence_json).collect::<Vec<_>>()}),
            ))
        }
        PresenceCmd::Watch {
            users,
            count,
            timeout,
        } => watch(&mut ctx, users, count, timeout, json_out).await,
        PresenceCmd::Authorize { user, deny } => {
            let who = ids::wire_user(&user);
            let wbxml = ctx.profile.csp_encoding() == crate::Encoding::Wbxml;
            let body = build::presence_auth_answer(ctx.version(), wbxml, &who, !deny);
            ctx.call("answering the presence request", body).await?;
            let key = ids::user_key(&who);
            ctx.profile
                .auth_requests
                .retain(|u| ids::user_key(u) != key);
            ctx.save()?;
            let verb = if deny { "refused" } else { "allowed" };
            Ok(Report::new(
                format!("{verb} {} to see your presence", ids::display(&who)),
                json!({"user": who, "accepted": !deny}),
            ))
        }
    }
}

/// Subscribes, then prints events as they arrive until `count` presence
/// updates or `timeout` seconds (forever when neither is given).
async fn watch(
    ctx: &mut Ctx,
    users: Vec<String>,
    count: Option<u64>,
    timeout: Option<u64>,
    json_out: bool,
) -> Result<Report, CliError> {
    let users: Vec<String> = users.iter().map(|u| ids::wire_user(u)).collect();
    let lists = if users.is_empty() {
        lists(ctx).await?.0
    } else {
        Vec::new()
    };
    if users.is_empty() && lists.is_empty() {
        return Err(CliError::Local(
            "nothing to watch: name users, or add contacts first".into(),
        ));
    }
    let body = build::subscribe_presence(ctx.version(), &users, &lists);
    ctx.call("subscribing to presence", body).await?;
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    let mut seen = 0u64;
    let mut stdout = std::io::stdout();
    loop {
        for e in messaging::drain(ctx).await? {
            if let Event::Presence { presence } = &e {
                seen += presence.len().max(1) as u64;
            }
            let line = if json_out {
                serde_json::to_string(&e).unwrap_or_default()
            } else {
                events::describe(&e)
            };
            // A closed pipe (watch | head) ends the watch quietly.
            if writeln!(stdout, "{line}")
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return Ok(Report::done());
            }
            if matches!(e, Event::Disconnect { .. }) {
                return Ok(Report::done());
            }
        }
        if count.is_some_and(|c| seen >= c) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Report::done());
        }
        tokio::time::sleep(messaging::POLL_INTERVAL).await;
    }
}

pub async fn block(mut ctx: Ctx, cmd: Option<BlockCmd>) -> Result<Report, CliError> {
    match cmd.unwrap_or(BlockCmd::List) {
        BlockCmd::List => {
            let resp = ctx
                .call("reading the block list", build::get_blocked_list())
                .await?;
            let (blocked, in_use, granted) = read::blocked(&resp);
            let human = if blocked.is_empty() {
                "nobody is blocked".to_string()
            } else {
                let mut s = blocked
                    .iter()
                    .map(|b| ids::display(b))
                    .collect::<Vec<_>>()
                    .join("\n");
                if in_use == Some(false) {
                    s.push_str("\n(the block list is switched off)");
                }
                s
            };
            Ok(Report::new(
                human,
                json!({"blocked": blocked, "in_use": in_use, "granted": granted}),
            ))
        }
        BlockCmd::Add { users } | BlockCmd::Remove { users } if users.is_empty() => {
            Err(CliError::Local("name at least one user".into()))
        }
        BlockCmd::Add { users } => {
            let who: Vec<String> = users.iter().map(|u| ids::wire_user(u)).collect();
            ctx.call("blocking", build::block_entity(ctx.version(), &who, &[]))
                .await?;
            Ok(Report::new(
                format!("blocked {}", users.join(", ")),
                json!({"blocked": who}),
            ))
        }
        BlockCmd::Remove { users } => {
            let who: Vec<String> = users.iter().map(|u| ids::wire_user(u)).collect();
            ctx.call("unblocking", build::block_entity(ctx.version(), &[], &who))
                .await?;
            Ok(Report::new(
                format!("unblocked {}", users.join(", ")),
                json!({"unblocked": who}),
            ))
        }
    }
}
