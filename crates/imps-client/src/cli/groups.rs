//! `imps group` and `imps invite`: chat rooms and invitations.

use serde_json::json;

use crate::Version;
use crate::cli::args::{GroupCmd, InviteCmd};
use crate::cli::build::{self, Target};
use crate::cli::read::{self, Member};
use crate::cli::session::{CliError, Ctx};
use crate::cli::{Report, ids, messaging};

fn member_names(m: &[Member]) -> String {
    m.iter()
        .map(|x| {
            x.screen_name
                .clone()
                .or_else(|| x.user.as_deref().map(ids::display))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Joins a group under a screen name (our user ID by default).
pub async fn join(
    ctx: &mut Ctx,
    group: &str,
    sname: Option<String>,
) -> Result<Vec<Member>, CliError> {
    let sname = sname.unwrap_or_else(|| ids::display(&ctx.profile.user));
    let resp = ctx
        .call("joining the group", build::join_group(group, &sname))
        .await?;
    ctx.profile.remember_group(group);
    ctx.save()?;
    Ok(read::members(&resp))
}

/// Who is in a group now: GetJoinedUsers (1.2+), else GetGroupMembers.
pub async fn joined_users(ctx: &mut Ctx, group: &str) -> Result<Vec<Member>, CliError> {
    let body = if ctx.version() >= Version::V1_2 {
        build::get_joined_users(group)
    } else {
        build::get_group_members(group)
    };
    let resp = ctx.call("reading the group's members", body).await?;
    Ok(read::members(&resp))
}

pub async fn group(mut ctx: Ctx, cmd: GroupCmd) -> Result<Report, CliError> {
    match cmd {
        GroupCmd::Create {
            name,
            topic,
            screen_name,
        } => {
            let id = ids::new_group_id(&ctx.me(), &name);
            let sname = screen_name.unwrap_or_else(|| ids::display(&ctx.profile.user));
            ctx.call(
                "creating the group",
                build::create_group(&id, &name, topic.as_deref(), &sname),
            )
            .await?;
            ctx.profile.remember_group(&id);
            ctx.save()?;
            Ok(Report::new(
                format!(
                    "created group {} and joined it as {sname}",
                    ids::display(&id)
                ),
                json!({"group": id, "screen_name": sname}),
            ))
        }
        GroupCmd::Join { group, screen_name } => {
            let id = ids::wire_group(&group);
            let members = join(&mut ctx, &id, screen_name).await?;
            let mut human = format!("joined {}", ids::display(&id));
            if !members.is_empty() {
                human.push_str(&format!("; in the group: {}", member_names(&members)));
            }
            Ok(Report::new(human, json!({"group": id, "members": members})))
        }
        GroupCmd::Leave { group } => {
            let id = ids::wire_group(&group);
            ctx.call("leaving the group", build::leave_group(&id))
                .await?;
            ctx.profile.forget_group(&id);
            ctx.save()?;
            Ok(Report::new(
                format!("left {}", ids::display(&id)),
                json!({"group": id}),
            ))
        }
        GroupCmd::Send { group, text, font } => {
            let id = ids::wire_group(&group);
            let mid = messaging::send_to(
                &mut ctx,
                Target::Group(id.clone()),
                &text,
                &messaging::font(&font),
            )
            .await?;
            Ok(Report::new(
                format!("sent to group {}", ids::display(&id)),
                json!({"group": id, "message_id": mid}),
            ))
        }
        GroupCmd::Members { group } => {
            let id = ids::wire_group(&group);
            let members = joined_users(&mut ctx, &id).await?;
            let human = if members.is_empty() {
                format!("nobody is in {}", ids::display(&id))
            } else {
                members
                    .iter()
                    .map(|m| match (&m.screen_name, &m.user) {
                        (Some(s), Some(u)) => format!("{s} ({})", ids::display(u)),
                        (Some(s), None) => s.clone(),
                        (None, Some(u)) => ids::display(u),
                        (None, None) => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Report::new(human, json!({"group": id, "members": members})))
        }
        GroupCmd::Delete { group } => {
            let id = ids::wire_group(&group);
            ctx.call("deleting the group", build::delete_group(&id))
                .await?;
            ctx.profile.forget_group(&id);
            ctx.save()?;
            Ok(Report::new(
                format!("deleted group {}", ids::display(&id)),
                json!({"group": id}),
            ))
        }
    }
}

/// An InviteID unique enough for one user: the time in milliseconds.
fn new_invite_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("inv{ms}")
}

pub async fn invite(mut ctx: Ctx, cmd: InviteCmd) -> Result<Report, CliError> {
    match cmd {
        InviteCmd::Send { user, group, note } => {
            let to = ids::wire_user(&user);
            let group = group.map(|g| ids::wire_group(&g));
            let id = new_invite_id();
            let body = build::invite(&id, &ctx.me(), &to, group.as_deref(), note.as_deref());
            ctx.call("inviting", body).await?;
            Ok(Report::new(
                format!("invited {} (invitation {id})", ids::display(&to)),
                json!({"invite_id": id, "to": to, "group": group}),
            ))
        }
        InviteCmd::List => {
            // Pick up invitations that arrived since the last look.
            let fresh = messaging::drain(&mut ctx).await?;
            let human = if ctx.profile.invites.is_empty() {
                "no invitations waiting".to_string()
            } else {
                ctx.profile
                    .invites
                    .iter()
                    .map(|i| {
                        crate::cli::events::describe(&crate::cli::events::Event::Invitation(
                            i.clone(),
                        ))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Report::new(
                human,
                json!({"invitations": ctx.profile.invites, "other_events": fresh.len()}),
            ))
        }
        InviteCmd::Accept {
            invite_id,
            note,
            screen_name,
        } => answer(ctx, &invite_id, true, note, screen_name).await,
        InviteCmd::Reject { invite_id, note } => answer(ctx, &invite_id, false, note, None).await,
        InviteCmd::Cancel {
            invite_id,
            user,
            group,
            note,
        } => {
            let to = user.map(|u| ids::wire_user(&u));
            let group = group.map(|g| ids::wire_group(&g));
            let body = build::cancel_invite(
                &invite_id,
                &ctx.me(),
                to.as_deref(),
                group.as_deref(),
                note.as_deref(),
            );
            ctx.call("cancelling the invitation", body).await?;
            let whom = to
                .as_deref()
                .map(|t| format!(" for {}", ids::display(t)))
                .unwrap_or_default();
            Ok(Report::new(
                format!("withdrew invitation {invite_id}{whom}"),
                json!({"invite_id": invite_id, "to": to}),
            ))
        }
    }
}

async fn answer(
    mut ctx: Ctx,
    invite_id: &str,
    accept: bool,
    note: Option<String>,
    sname: Option<String>,
) -> Result<Report, CliError> {
    if ctx.profile.invites.iter().all(|i| i.invite_id != invite_id) {
        messaging::drain(&mut ctx).await?;
    }
    let Some(inv) = ctx
        .profile
        .invites
        .iter()
        .find(|i| i.invite_id == invite_id)
        .cloned()
    else {
        return Err(CliError::Local(format!(
            "no invitation {invite_id} waiting (see imps invite list)"
        )));
    };
    let mut joined = None;
    // Like Android: join first, so an accepted group invitation means
    // we are in the group.
    if let (true, Some(g)) = (accept, inv.group.as_deref()) {
        joined = Some(join(&mut ctx, g, sname).await?);
    }
    let body =
        build::invite_user_response(invite_id, accept, &ctx.me(), &inv.from, note.as_deref());
    ctx.call("answering the invitation", body).await?;
    ctx.profile.invites.retain(|i| i.invite_id != invite_id);
    ctx.save()?;
    let verb = if accept { "accepted" } else { "declined" };
    Ok(Report::new(
        format!(
            "{verb} invitation {invite_id} from {}",
            ids::display(&inv.from)
        ),
        json!({"invite_id": invite_id, "accepted": accept, "group": inv.group, "members": joined}),
    ))
}
