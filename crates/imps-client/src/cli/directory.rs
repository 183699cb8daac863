//! `imps search` and `imps profile` (public profile, CSP 1.3).
//!
//! A search is one or more criteria (`TEXT` with `--by`, and repeatable
//! `--where FIELD=TEXT`), numbered 1, 2, ... in the order given; without
//! `--match` all must match, with it (1.3) they combine as the expression
//! says. The server keeps the findings and hands them out in pages:
//! `--next SEARCH_ID [--index I]` shows any page of an open search,
//! `--stop SEARCH_ID` ends it.

use serde_json::json;

use crate::Version;
use crate::cli::args::{ProfileCmd, SearchArgs};
use crate::cli::read::SearchPage;
use crate::cli::session::{CliError, Ctx};
use crate::cli::{Report, build, ids, read};

/// Search field names and the SearchElement each one means.
const SEARCH_FIELDS: &[(&str, &str)] = &[
    ("user-id", "USER_ID"),
    ("first-name", "USER_FIRST_NAME"),
    ("last-name", "USER_LAST_NAME"),
    ("friendly-name", "USER_FRIENDLY_NAME"),
    ("email", "USER_EMAIL_ADDRESS"),
    ("alias", "USER_ALIAS"),
    ("mobile", "USER_MOBILE_NUMBER"),
    ("city", "USER_CITY"),
    ("country", "USER_COUNTRY"),
    ("gender", "USER_GENDER"),
    ("intention", "USER_INTENTION"),
    ("interests", "USER_INTERESTS_HOBBIES"),
    ("marital-status", "USER_MARITAL_STATUS"),
    ("age-min", "USER_AGE_MIN"),
    ("age-max", "USER_AGE_MAX"),
    ("group-id", "GROUP_ID"),
    ("group-name", "GROUP_NAME"),
    ("group-topic", "GROUP_TOPIC"),
    ("owner", "GROUP_USER_ID_OWNER"),
    ("joined", "GROUP_USER_ID_JOINED"),
];

/// SearchElements CSP 1.3 added (the public profile fields and the
/// friendly name).
const SEARCH_1_3: &[&str] = &[
    "USER_FRIENDLY_NAME",
    "USER_CITY",
    "USER_COUNTRY",
    "USER_GENDER",
    "USER_INTENTION",
    "USER_INTERESTS_HOBBIES",
    "USER_MARITAL_STATUS",
    "USER_AGE_MIN",
    "USER_AGE_MAX",
];

/// Page size of a new search when `--limit` is not given.
const DEFAULT_LIMIT: u64 = 50;

/// Public profile fields: short name and property name.
const PROFILE_FIELDS: &[(&str, &str)] = &[
    ("friendly-name", "PP_FRIENDLY_NAME"),
    ("age", "PP_AGE"),
    ("gender", "PP_GENDER"),
    ("intention", "PP_INTENTION"),
    ("interests", "PP_INTERESTS"),
    ("marital-status", "PP_MARITAL_STATUS"),
    ("city", "PP_CITY"),
    ("country", "PP_COUNTRY"),
    ("free-text", "PP_FREE_TEXT"),
];

/// The SearchElement for a field name (or an element name as the wire
/// spells it) in a session of version `v`. Before 1.3 the friendly name
/// is `USER_ALIAS`; the profile fields do not exist there.
fn search_element(field: &str, v: Version) -> Result<&'static str, CliError> {
    let f = field.trim();
    let key = f.to_ascii_lowercase().replace('_', "-");
    let el = SEARCH_FIELDS
        .iter()
        .find(|(n, e)| *n == key || e.eq_ignore_ascii_case(f))
        .map(|(_, e)| *e)
        .ok_or_else(|| {
            let names: Vec<_> = SEARCH_FIELDS.iter().map(|(n, _)| *n).collect();
            CliError::Local(format!(
                "cannot search by {field:?}; use one of {}",
                names.join(", ")
            ))
        })?;
    if v < Version::V1_3 && SEARCH_1_3.contains(&el) {
        if el == "USER_FRIENDLY_NAME" {
            return Ok("USER_ALIAS");
        }
        return Err(CliError::Local(format!(
            "searching by {field} needs CSP 1.3 (this session speaks {v}); log in with --csp 1.3"
        )));
    }
    Ok(el)
}

/// The criteria of a new search, in pair order: TEXT (with --by) first,
/// then each --where.
fn criteria(a: &SearchArgs, v: Version) -> Result<Vec<(String, String)>, CliError> {
    let mut pairs = Vec::new();
    if let Some(t) = &a.text {
        pairs.push((search_element(&a.by, v)?.to_string(), t.clone()));
    }
    for w in &a.where_ {
        let (k, t) = w.split_once('=').ok_or_else(|| {
            CliError::Local(format!("--where {w:?} is not FIELD=TEXT, e.g. city=Oulu"))
        })?;
        pairs.push((search_element(k, v)?.to_string(), t.to_string()));
    }
    if pairs.is_empty() {
        return Err(CliError::Local(
            "nothing to search for: give TEXT (with --by FIELD) or --where FIELD=TEXT; \
             --next or --stop SEARCH_ID for an open search"
                .into(),
        ));
    }
    Ok(pairs)
}

/// Checks a `--match` expression against `pairs` criteria before it is
/// sent: every number names a criterion and every criterion is named
/// (the server's rules; its grammar is checked there).
fn check_match(expr: &str, pairs: usize) -> Result<(), CliError> {
    let mut used = vec![false; pairs];
    let mut word = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let n: usize = word.parse().unwrap_or(0);
            if n == 0 || n > pairs {
                return Err(CliError::Local(format!(
                    "--match names criterion {word}, but there {} {pairs} (numbered from 1 in \
                     the order given: TEXT, then each --where)",
                    if pairs == 1 { "is" } else { "are" }
                )));
            }
            used[n - 1] = true;
            word.clear();
        }
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(CliError::Local(format!(
            "--match does not use criterion {}; every criterion must appear in it",
            i + 1
        )));
    }
    Ok(())
}

pub async fn search(mut ctx: Ctx, a: SearchArgs) -> Result<Report, CliError> {
    let v = ctx.version();
    if let Some(id) = &a.stop {
        ctx.call("stopping the search", build::stop_search(v, id))
            .await?;
        return Ok(Report::new(
            format!("search {id} stopped"),
            json!({"search_id": id, "stopped": true}),
        ));
    }
    let (resp, start) = if let Some(id) = &a.next {
        let body = build::search_page(v, id, a.index, a.limit);
        (
            ctx.call("reading the search results", body)
                .await
                .map_err(search_hint)?,
            a.index,
        )
    } else {
        let pairs = criteria(&a, v)?;
        if let Some(m) = &a.match_ {
            if v < Version::V1_3 {
                return Err(CliError::Local(format!(
                    "--match needs CSP 1.3 (this session speaks {v}); before 1.3 every \
                     criterion must match: leave --match out, or log in with --csp 1.3"
                )));
            }
            check_match(m, pairs.len())?;
        }
        let body = build::search(
            v,
            &pairs,
            a.match_.as_deref(),
            a.limit.unwrap_or(DEFAULT_LIMIT),
        );
        (
            ctx.call("searching", body).await.map_err(search_hint)?,
            Some(0),
        )
    };
    let mut page = read::search_page(&resp, v)
        .map_err(|e| CliError::Protocol(format!("reading the search results: {e}")))?;
    if page.search_id.is_none() {
        // The follow-up answer may leave the ID out; it is the one asked.
        page.search_id = a.next.clone();
    }
    Ok(page_report(&page, start.or_else(|| page.start())))
}

/// What a refusal of a search means for this command.
fn search_hint(e: CliError) -> CliError {
    let hint = match e.status_code() {
        Some(403) => {
            "a search by profile fields needs your own public profile to have a friendly \
             name, age and country: imps profile set friendly-name=... age=YYYY-MM country=FI"
        }
        Some(424) => "the search was stopped or has expired: search again",
        Some(425) => "no results at that index: use a smaller --index",
        Some(536) => "add criteria to find fewer",
        Some(537) => "use whole values, without wildcards, and criteria not everyone matches",
        _ => return e,
    };
    let code = e.status_code().unwrap_or_default();
    with_hint(e, code, hint)
}

/// A page for a person (results, then "N of FINDINGS" and how to go on)
/// and as JSON.
fn page_report(page: &SearchPage, start: Option<u64>) -> Report {
    let mut lines: Vec<String> = page.users.iter().map(|u| u.label()).collect();
    lines.extend(page.groups.iter().map(|g| format!("group {g}")));
    let n = page.count();
    let findings = page.findings.unwrap_or(n);
    if findings == 0 && n == 0 {
        lines.push("nothing found".into());
    } else {
        let mut summary = format!("{n} of {findings}");
        if let Some(s) = start.filter(|_| n > 0) {
            if n == 1 {
                summary.push_str(&format!(" (result {})", s + 1));
            } else {
                summary.push_str(&format!(" (results {}-{})", s + 1, s + n));
            }
        }
        if let Some(id) = &page.search_id
            && page.more()
        {
            let next = match page.next_index {
                Some(i) => format!("imps search --next {id} --index {i}"),
                None => format!("imps search --next {id}"),
            };
            summary.push_str(&format!(
                "; next page: {next} (imps search --stop {id} when done)"
            ));
        }
        lines.push(summary);
    }
    Report::new(
        lines.join("\n"),
        json!({
            "search_id": page.search_id,
            "findings": page.findings,
            "complete": page.complete,
            "next_index": page.next_index,
            "index": start,
            "users": page.users,
            "groups": page.groups,
        }),
    )
}

fn profile_field(key: &str) -> Result<&'static str, CliError> {
    let k = key.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((_, p)) = PROFILE_FIELDS
        .iter()
        .find(|(n, p)| *n == k || p.eq_ignore_ascii_case(key.trim()))
    {
        return Ok(p);
    }
    let names: Vec<_> = PROFILE_FIELDS.iter().map(|(n, _)| *n).collect();
    Err(CliError::Local(format!(
        "unknown profile field {key:?}; use {}",
        names.join(", ")
    )))
}

/// `PP_MARITAL_STATUS` -> `marital-status`; unknown names stay as sent.
fn profile_label(property: &str) -> String {
    PROFILE_FIELDS
        .iter()
        .find(|(_, p)| *p == property)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| property.to_string())
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
        ProfileCmd::Show { users } => show_profiles(&mut ctx, &users).await,
        ProfileCmd::Set { fields } => {
            let mut props: Vec<(String, String)> = Vec::new();
            for f in &fields {
                let (k, v) = f.split_once('=').ok_or_else(|| {
                    CliError::Local(format!("{f:?} is not FIELD=VALUE, e.g. city=Oulu"))
                })?;
                props.push((profile_field(k)?.to_string(), v.trim().to_string()));
            }
            if props.is_empty() {
                return Err(CliError::Local(
                    "give FIELD=VALUE pairs, e.g. friendly-name=Ann age=1990-04 country=FI".into(),
                ));
            }
            ctx.call(
                "updating the public profile",
                build::update_public_profile(&props, false),
            )
            .await
            .map_err(|e| {
                with_hint(
                    e,
                    402,
                    "age is YYYY-MM (year and month of birth), country two letters (FI), \
                     and the friendly name cannot be empty",
                )
            })?;
            let map: serde_json::Map<String, serde_json::Value> =
                props.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
            Ok(Report::new(
                "public profile updated; once it has a friendly name, age and country the \
                 server may ask whether others may find you by it (imps sysmsg list)",
                json!({"properties": map}),
            ))
        }
        ProfileCmd::Clear => {
            ctx.call(
                "clearing the public profile",
                build::update_public_profile(&[], true),
            )
            .await?;
            Ok(Report::new(
                "public profile cleared (the friendly name stays; profile searches no longer \
                 find you)",
                json!({"cleared": true}),
            ))
        }
    }
}

/// `imps profile show [USER...]`: ours (the owner's view, age as
/// YYYY-MM) or others' (age in years, or only the friendly name when the
/// profile is not public).
async fn show_profiles(ctx: &mut Ctx, users: &[String]) -> Result<Report, CliError> {
    let wire: Vec<String> = users.iter().map(|u| ids::wire_user(u)).collect();
    let resp = ctx
        .call("reading public profiles", build::get_public_profile(&wire))
        .await?;
    let profiles = read::public_profiles(&resp)
        .map_err(|e| CliError::Protocol(format!("reading public profiles: {e}")))?;
    let me = ctx.me();
    let mut lines = Vec::new();
    let mut out = Vec::new();
    for p in &profiles {
        let user = p
            .user_id
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| me.clone());
        let friendly = p
            .get("PP_FRIENDLY_NAME")
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string);
        let label = read::FoundUser {
            user_id: user.clone(),
            friendly_name: friendly,
        }
        .label();
        lines.push(format!("{label}:"));
        let shown: Vec<_> = p
            .properties
            .iter()
            .filter(|x| x.name != "PP_FRIENDLY_NAME" && !x.value.is_empty())
            .collect();
        if shown.is_empty() {
            lines.push("  (nothing more is public)".into());
        }
        for x in shown {
            lines.push(format!("  {}: {}", profile_label(&x.name), x.value));
        }
        let map: serde_json::Map<String, serde_json::Value> = p
            .properties
            .iter()
            .map(|x| (x.name.clone(), json!(x.value)))
            .collect();
        out.push(json!({"user": user, "properties": map}));
    }
    // 201: some users were not found.
    let mut missing = Vec::new();
    for (code, _, items) in read::details(&resp) {
        for i in items {
            lines.push(format!(
                "{}: {}",
                ids::display(&i),
                crate::cli::codes::describe(code)
            ));
            missing.push(json!({"user": i, "code": code}));
        }
    }
    if lines.is_empty() {
        lines.push("no public profile".into());
    }
    Ok(Report::new(
        lines.join("\n"),
        json!({"profiles": out, "not_found": missing}),
    ))
}

/// Adds `hint` to a refusal with status `code`.
fn with_hint(e: CliError, code: u16, hint: &str) -> CliError {
    match e {
        CliError::Status {
            action,
            code: c,
            description,
        } if c == code => CliError::Status {
            action,
            code: c,
            description: if description.is_empty() {
                hint.to_string()
            } else {
                format!("{description} ({hint})")
            },
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_to_elements_per_version() {
        let v13 = Version::V1_3;
        assert_eq!(search_element("city", v13).unwrap(), "USER_CITY");
        assert_eq!(
            search_element("marital_status", v13).unwrap(),
            "USER_MARITAL_STATUS"
        );
        assert_eq!(
            search_element("interests", v13).unwrap(),
            "USER_INTERESTS_HOBBIES"
        );
        assert_eq!(search_element("age-min", v13).unwrap(), "USER_AGE_MIN");
        assert_eq!(search_element("owner", v13).unwrap(), "GROUP_USER_ID_OWNER");
        assert_eq!(
            search_element("joined", v13).unwrap(),
            "GROUP_USER_ID_JOINED"
        );
        assert_eq!(
            search_element("USER_EMAIL_ADDRESS", v13).unwrap(),
            "USER_EMAIL_ADDRESS"
        );
        // Before 1.3 the friendly name is the alias; profile fields are
        // refused here, not by the server.
        let v12 = Version::V1_2;
        assert_eq!(search_element("friendly-name", v12).unwrap(), "USER_ALIAS");
        let e = search_element("city", v12).unwrap_err();
        assert!(e.to_string().contains("needs CSP 1.3"), "{e}");
        assert_eq!(e.exit_code(), 1);
        assert!(search_element("shoe-size", v13).is_err());
    }

    fn args(text: Option<&str>, wheres: &[&str]) -> SearchArgs {
        SearchArgs {
            by: "friendly-name".into(),
            text: text.map(str::to_string),
            where_: wheres.iter().map(|w| w.to_string()).collect(),
            match_: None,
            limit: None,
            next: None,
            index: None,
            stop: None,
        }
    }

    #[test]
    fn criteria_are_numbered_text_first() {
        let a = args(Some("Ann"), &["city=Oulu", "age-min=20"]);
        let p = criteria(&a, Version::V1_3).unwrap();
        assert_eq!(
            p,
            [
                ("USER_FRIENDLY_NAME".to_string(), "Ann".to_string()),
                ("USER_CITY".into(), "Oulu".into()),
                ("USER_AGE_MIN".into(), "20".into()),
            ]
        );
        assert!(criteria(&args(None, &[]), Version::V1_3).is_err());
        assert!(criteria(&args(None, &["city"]), Version::V1_3).is_err());
        // A value may hold '='.
        let p = criteria(&args(None, &["email=a=b@x"]), Version::V1_3).unwrap();
        assert_eq!(p[0].1, "a=b@x");
    }

    #[test]
    fn match_expressions_name_every_criterion() {
        assert!(check_match("1 AND NOT (2 OR 3)", 3).is_ok());
        assert!(check_match("((1|2)&!3)", 3).is_ok());
        let e = check_match("1 AND 4", 4).unwrap_err();
        assert!(e.to_string().contains("criterion 2"), "{e}");
        let e = check_match("1 OR 12", 2).unwrap_err();
        assert!(e.to_string().contains("12"), "{e}");
        assert!(check_match("0", 1).is_err());
    }

    #[test]
    fn pages_say_how_many_and_how_to_go_on() {
        let page = SearchPage {
            search_id: Some("7".into()),
            findings: Some(5),
            complete: Some(false),
            next_index: Some(4),
            users: vec![
                read::FoundUser {
                    user_id: "wv:zoe@localhost".into(),
                    friendly_name: Some("Zoë Quinn".into()),
                },
                read::FoundUser {
                    user_id: "wv:kim@localhost".into(),
                    friendly_name: None,
                },
            ],
            groups: vec![],
        };
        let r = page_report(&page, page.start());
        assert_eq!(
            r.human,
            "Zoë Quinn (wv:zoe@localhost)\nwv:kim@localhost\n2 of 5 (results 3-4); next page: \
             imps search --next 7 --index 4 (imps search --stop 7 when done)"
        );
        assert_eq!(r.json["next_index"], 4);
        assert_eq!(r.json["users"][0]["friendly_name"], "Zoë Quinn");
        assert_eq!(r.json["users"][1]["user_id"], "wv:kim@localhost");
        let empty = SearchPage {
            findings: Some(0),
            complete: Some(true),
            ..SearchPage::default()
        };
        assert_eq!(page_report(&empty, Some(0)).human, "nothing found");
    }

    #[test]
    fn hints_keep_the_code() {
        let e = CliError::Status {
            action: "searching".into(),
            code: 424,
            description: String::new(),
        };
        let h = search_hint(e);
        assert_eq!(h.status_code(), Some(424));
        assert!(h.to_string().contains("424"), "{h}");
        assert!(h.to_string().contains("search again"), "{h}");
        assert_eq!(profile_label("PP_MARITAL_STATUS"), "marital-status");
        assert_eq!(profile_field("age").unwrap(), "PP_AGE");
        assert_eq!(profile_field("PP_City").unwrap(), "PP_CITY");
    }
}
