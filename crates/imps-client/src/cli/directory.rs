//! `imps search` and `imps profile` (public profile, CSP 1.3).

use serde_json::json;

use crate::Version;
use crate::cli::args::{ProfileCmd, SearchArgs};
use crate::cli::session::{CliError, Ctx};
use crate::cli::{Report, build, ids, read};

/// `--by` names and the SearchElement each one means.
const SEARCH_FIELDS: &[(&str, &str)] = &[
    ("user-id", "USER_ID"),
    ("first-name", "USER_FIRST_NAME"),
    ("last-name", "USER_LAST_NAME"),
    ("friendly-name", "USER_FRIENDLY_NAME"),
    ("email", "USER_EMAIL_ADDRESS"),
    ("alias", "USER_ALIAS"),
    ("mobile", "USER_MOBILE_NUMBER"),
    ("group-id", "GROUP_ID"),
    ("group-name", "GROUP_NAME"),
    ("group-topic", "GROUP_TOPIC"),
];

/// Public profile fields: short name and property name.
const PROFILE_FIELDS: &[(&str, &str)] = &[
    ("age", "PP_AGE"),
    ("city", "PP_CITY"),
    ("country", "PP_COUNTRY"),
    ("friendly-name", "PP_FRIENDLY_NAME"),
    ("free-text", "PP_FREE_TEXT"),
    ("gender", "PP_GENDER"),
    ("intention", "PP_INTENTION"),
    ("interests", "PP_INTERESTS"),
    ("marital-status", "PP_MARITAL_STATUS"),
];

fn search_element(by: &str) -> Result<&'static str, CliError> {
    let b = by.to_ascii_lowercase().replace('_', "-");
    SEARCH_FIELDS
        .iter()
        .find(|(n, e)| *n == b || e.eq_ignore_ascii_case(by))
        .map(|(_, e)| *e)
        .ok_or_else(|| {
            let names: Vec<_> = SEARCH_FIELDS.iter().map(|(n, _)| *n).collect();
            CliError::Local(format!(
                "cannot search by {by:?}; use one of {}",
                names.join(", ")
            ))
        })
}

pub async fn search(mut ctx: Ctx, a: SearchArgs) -> Result<Report, CliError> {
    let el = search_element(&a.by)?;
    let body = build::search(&[(el.to_string(), a.text.clone())], a.limit);
    let resp = ctx.call("search", body).await?;
    let (users, groups, done) = read::search_results(&resp);
    let mut lines: Vec<String> = users.iter().map(|u| ids::display(u)).collect();
    lines.extend(groups.iter().map(|g| format!("group {}", ids::display(g))));
    if lines.is_empty() {
        lines.push("nothing found".into());
    }
    Ok(Report::new(
        lines.join("\n"),
        json!({"users": users, "groups": groups, "complete": done,
            "search_id": resp.child_text("SearchID"), "findings": resp.child_u64("SearchFindings")}),
    ))
}

fn profile_field(key: &str) -> Result<String, CliError> {
    let k = key.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((_, p)) = PROFILE_FIELDS
        .iter()
        .find(|(n, p)| *n == k || p.eq_ignore_ascii_case(key))
    {
        return Ok(p.to_string());
    }
    let names: Vec<_> = PROFILE_FIELDS.iter().map(|(n, _)| *n).collect();
    Err(CliError::Local(format!(
        "unknown profile field {key:?}; use {}",
        names.join(", ")
    )))
}

pub(crate) fn needs_1_3(ctx: &Ctx, what: &str) -> Result<(), CliError> {
    if ctx.version() < Version::V1_3 {
        return Err(CliError::Local(format!(
            "{what} needs CSP 1.3 (this session speaks {}); log in with --csp 1.3",
            ctx.profile.version
        )));
    }
    Ok(())
}

pub async fn profile(mut ctx: Ctx, cmd: ProfileCmd) -> Result<Report, CliError> {
    needs_1_3(&ctx, "the public profile")?;
    match cmd {
        ProfileCmd::Get { users } => {
            let users: Vec<String> = if users.is_empty() {
                vec![ctx.me()]
            } else {
                users.iter().map(|u| ids::wire_user(u)).collect()
            };
            let resp = ctx
                .call("reading public profiles", build::get_public_profile(&users))
                .await?;
            let profiles = read::public_profiles(&resp);
            let mut lines = Vec::new();
            for (u, props) in &profiles {
                lines.push(format!("{}:", ids::display(u)));
                for (n, v) in props {
                    lines.push(format!("  {n}: {v}"));
                }
            }
            if lines.is_empty() {
                lines.push("no public profile".into());
            }
            let out: Vec<_> = profiles
                .iter()
                .map(|(u, p)| {
                    let map: serde_json::Map<String, serde_json::Value> =
                        p.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
                    json!({"user": u, "properties": map})
                })
                .collect();
            Ok(Report::new(lines.join("\n"), json!({"profiles": out})))
        }
        ProfileCmd::Set { fields } => {
            let mut props = Vec::new();
            for f in &fields {
                let (k, v) = f
                    .split_once('=')
                    .ok_or_else(|| CliError::Local(format!("{f:?} is not FIELD=VALUE")))?;
                props.push((profile_field(k)?, v.to_string()));
            }
            if props.is_empty() {
                return Err(CliError::Local(
                    "give FIELD=VALUE pairs, e.g. city=Helsinki".into(),
                ));
            }
            ctx.call(
                "updating the public profile",
                build::update_public_profile(&props, false),
            )
            .await?;
            let map: serde_json::Map<String, serde_json::Value> =
                props.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
            Ok(Report::new(
                "public profile updated",
                json!({"properties": map}),
            ))
        }
        ProfileCmd::Clear => {
            ctx.call(
                "clearing the public profile",
                build::update_public_profile(&[], true),
            )
            .await?;
            Ok(Report::new("public profile cleared", json!({})))
        }
    }
}
