//! `imps login`, `imps logout`, `imps register`: start a session the way
//! a phone does (login, capability and service negotiation, keep-alive)
//! and keep it in the profile.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use serde_json::json;

use crate::cli::args::{LoginArgs, RegisterArgs, WireArgs};
use crate::cli::codes;
use crate::cli::profile::{self, Profile, encoding_name};
use crate::cli::session::{CliError, Ctx, client_for};
use crate::cli::{Report, ids};
use crate::{Encoding, HttpClient, LoginInfo, LoginStep, Version};
use imps_wire::csp::{SystemMessage, SystemMessageResponse};

/// The largest message we accept, told to the server as ParserSize.
const PARSER_SIZE: u64 = 262_144;

fn wire_profile(w: &WireArgs, old: Option<&Profile>) -> Result<Profile, CliError> {
    let version = Version::parse(&w.csp).ok_or_else(|| {
        CliError::Local(format!(
            "unknown CSP version {:?}; use 1.1, 1.2 or 1.3",
            w.csp
        ))
    })?;
    let encoding = if w.wbxml {
        Encoding::Wbxml
    } else {
        Encoding::Xml
    };
    Ok(Profile {
        server: w.server.clone(),
        version: version.as_str().to_string(),
        encoding: encoding_name(encoding).to_string(),
        // A fresh ClientID per login: the server refuses a second session
        // of the same user and ClientID (603).
        client_id: format!("WV:imps-cli-{}", random_hex()),
        next_transaction_id: 1,
        groups: old.map(|o| o.groups.clone()).unwrap_or_default(),
        ..Profile::default()
    })
}

fn random_hex() -> String {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        b = std::process::id().to_be_bytes();
    }
    hex::encode(b)
}

/// Ends the old session in a profile, if any; errors are ignored (it may
/// have expired long ago).
async fn drop_old(path: &std::path::Path) -> Option<Profile> {
    let old = profile::load(path).ok().flatten()?;
    if old.session_id.is_some()
        && let Ok(c) = client_for(&old, &[])
    {
        let _ = c.logout().await;
    }
    Some(old)
}

/// Capability and service negotiation, and the lifetime we want. A
/// server that refuses any of them still gave us a session, so these are
/// warnings.
async fn settle(client: &HttpClient, ttl: u64) -> (u64, Vec<String>) {
    let mut warnings = Vec::new();
    if let Err(e) = client
        .client_capability(&["SHTTP"], Some(PARSER_SIZE))
        .await
    {
        warnings.push(CliError::from_client("capability negotiation", e).to_string());
    }
    if let Err(e) = client.service_request_all().await {
        warnings.push(CliError::from_client("service negotiation", e).to_string());
    }
    let keepalive = match client.keep_alive(Some(ttl)).await {
        Ok(k) => k.unwrap_or(ttl),
        Err(e) => {
            warnings.push(CliError::from_client("keep-alive", e).to_string());
            0
        }
    };
    (keepalive, warnings)
}

fn finish(
    path: PathBuf,
    mut p: Profile,
    client: &HttpClient,
    info: &LoginInfo,
    keepalive: u64,
    warnings: Vec<String>,
    verb: &str,
) -> Result<Report, CliError> {
    p.session_id = Some(info.session_id.clone());
    p.cookie = client.session_cookie().to_string();
    p.keepalive_secs = if keepalive > 0 {
        keepalive
    } else {
        info.keepalive_secs
    };
    p.next_transaction_id = client.peek_transaction_id();
    profile::save(&path, &p).map_err(CliError::Local)?;
    let mut human = format!(
        "{verb} as {} at {} (CSP {} {}); session kept in {}",
        ids::display(&p.user),
        p.server,
        p.version,
        p.encoding.to_uppercase(),
        path.display()
    );
    for w in &warnings {
        human.push_str(&format!("\nwarning: {w}"));
    }
    Ok(Report::new(
        human,
        json!({
            "user": p.user, "server": p.server, "version": p.version,
            "encoding": p.encoding, "session_id": info.session_id,
            "keepalive_secs": p.keepalive_secs, "profile": path.display().to_string(),
            "warnings": warnings,
        }),
    ))
}

pub async fn login(path: PathBuf, a: LoginArgs) -> Result<Report, CliError> {
    let password = read_password(a.password_stdin)?;
    let old = drop_old(&path).await;
    let mut p = wire_profile(&a.wire, old.as_ref())?;
    p.user = a.user.clone();
    let client = client_for(&p, &[])?;
    let mut step = login_once(&client, &a, &password, &[]).await?;
    let mut answered = Vec::new();
    if let LoginStep::Held { messages, .. } = &step
        && messages.iter().any(|m| m.response_required())
    {
        // The operator's terms (CSP 1.3): the same client logs in again
        // with the answer, which decides the level of service.
        answered = answer_terms(messages, a.accept_terms)?;
        step = login_once(&client, &a, &password, &answered).await?;
    }
    let info = match step {
        LoginStep::Done(info) => info,
        LoginStep::Held {
            code,
            description,
            messages,
        } => return Err(held_error(code, description, &messages)),
    };
    if let Some(u) = &info.user_id {
        p.user = ids::display(u);
    }
    let (keepalive, warnings) = settle(&client, a.wire.ttl).await;
    let mut r = finish(path, p, &client, &info, keepalive, warnings, "logged in")?;
    if !answered.is_empty() {
        let terms: Vec<_> = answered
            .iter()
            .map(|t| json!({"id": t.id, "option": t.chosen_option_id}))
            .collect();
        r.json["terms"] = json!(terms);
        for t in &answered {
            r.human = format!(
                "answered {}{}\n{}",
                t.id,
                t.chosen_option_id
                    .map(|o| format!(" with option {o}"))
                    .unwrap_or_default(),
                r.human
            );
        }
    }
    Ok(r)
}

/// One password or digest login, carrying answers to system messages.
async fn login_once(
    client: &HttpClient,
    a: &LoginArgs,
    password: &str,
    answers: &[SystemMessageResponse],
) -> Result<LoginStep, CliError> {
    if a.digest {
        client
            .login_digest_answering(&a.user, password, &["SHA", "MD5"], answers)
            .await
    } else {
        client
            .login_password_answering(&a.user, password, answers)
            .await
    }
    .map_err(|e| login_error(e, a.digest))
}

/// The messages of a held login as text for a person.
fn show_messages(messages: &[SystemMessage]) -> String {
    messages
        .iter()
        .map(|m| {
            let mut s = m.text.clone();
            for o in &m.answer_options {
                s.push_str(&format!("\n  [{}] {}", o.id, o.text));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The answers to the messages that need one: `--accept-terms N`, else
/// asked on the terminal, else the login stops showing the terms.
/// Messages without options are acknowledged (shown, nothing to choose).
fn answer_terms(
    messages: &[SystemMessage],
    accept: Option<u64>,
) -> Result<Vec<SystemMessageResponse>, CliError> {
    let needing: Vec<&SystemMessage> = messages.iter().filter(|m| m.response_required()).collect();
    let choosing = needing.iter().any(|m| !m.answer_options.is_empty());
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if choosing && accept.is_none() && !interactive {
        return Err(CliError::Status {
            action: "login".into(),
            code: 403,
            description: format!(
                "the server asks you to accept its terms first:\n{}\nlog in again with \
                 --accept-terms OPTION",
                show_messages(messages)
            ),
        });
    }
    let mut out = Vec::new();
    for m in needing {
        if m.answer_options.is_empty() {
            eprintln!("{}", m.text);
            out.push(SystemMessageResponse::new(m.id.trim(), None));
            continue;
        }
        let chosen = match accept {
            Some(n) => n,
            None => ask_option(m)?,
        };
        if m.option(chosen).is_none() {
            return Err(CliError::Local(format!(
                "the terms offer no option {chosen}:\n{}",
                show_messages(std::slice::from_ref(m))
            )));
        }
        out.push(SystemMessageResponse::new(m.id.trim(), Some(chosen)));
    }
    Ok(out)
}

/// Shows one message on the terminal and reads the chosen option ID.
fn ask_option(m: &SystemMessage) -> Result<u64, CliError> {
    use std::io::Write;
    eprintln!("{}", show_messages(std::slice::from_ref(m)));
    loop {
        eprint!("your choice: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Local(format!("reading your choice: {e}")))?;
        if n == 0 {
            return Err(CliError::Local("no choice made; not logged in".into()));
        }
        match line.trim().parse::<u64>() {
            Ok(o) if m.option(o).is_some() => return Ok(o),
            _ => eprintln!("choose one of the numbers in brackets"),
        }
    }
}

/// A login the server still holds (a refused client, declined terms) or
/// refused with messages: its code, and the messages as the reason.
fn held_error(code: u16, description: String, messages: &[SystemMessage]) -> CliError {
    let shown = show_messages(messages);
    CliError::Status {
        action: "login".into(),
        code,
        description: if description.is_empty() {
            shown
        } else {
            format!("{description}\n{shown}")
        },
    }
}

fn login_error(e: crate::ClientError, digest: bool) -> CliError {
    match e.status_code() {
        Some(409) | Some(401) => CliError::Status {
            action: "login".into(),
            code: 409,
            description: "wrong user ID or password".into(),
        },
        Some(543) if digest => CliError::Status {
            action: "login".into(),
            code: 543,
            description: "the server cannot do digest login for this account; try without --digest"
                .into(),
        },
        _ => CliError::from_client("login", e),
    }
}

pub async fn logout(path: PathBuf) -> Result<Report, CliError> {
    let mut ctx = Ctx::open(path)?;
    let res = ctx.client.logout().await;
    // Whatever the server says, this session is of no more use.
    ctx.profile.session_id = None;
    ctx.save()?;
    match res {
        Ok(()) => Ok(Report::new(
            format!("logged out {}", ids::display(&ctx.profile.user)),
            json!({"user": ctx.profile.user}),
        )),
        Err(e) if e.status_code().is_some_and(codes::is_session_gone) => Ok(Report::new(
            "the session had already ended",
            json!({"user": ctx.profile.user, "already_ended": true}),
        )),
        Err(e) => Err(CliError::from_client("logout", e)),
    }
}

/// CSP has no self-registration; impsd registers a phone number it is
/// told about by a trusted gateway (an HTTP header). This logs in with
/// that header and reports the UserID the server assigned.
pub async fn register(path: PathBuf, a: RegisterArgs) -> Result<Report, CliError> {
    let old = drop_old(&path).await;
    let mut p = wire_profile(&a.wire, old.as_ref())?;
    let headers = vec![(a.msisdn_header.clone(), a.msisdn.clone())];
    let client = client_for(&p, &headers)?;
    let info = client
        .login_password(&a.user, "")
        .await
        .map_err(|e| match e.status_code() {
            Some(code) => CliError::Status {
                action: "register".into(),
                code,
                description: format!(
                    "the server did not register {} (it trusts a phone number only from the \
                     gateway addresses in its msisdn.trusted_proxies setting; otherwise ask the \
                     operator for an account: impsd user add)",
                    a.msisdn
                ),
            },
            None => CliError::from_client("register", e),
        })?;
    p.user = match (&info.user_id, a.user.is_empty()) {
        (Some(u), _) => ids::display(u),
        (None, false) => a.user.clone(),
        (None, true) => {
            return Err(CliError::Protocol(
                "register: the server opened a session but did not say which user ID it assigned"
                    .into(),
            ));
        }
    };
    // Later commands send no header, so the session, not the number,
    // carries who we are.
    let (keepalive, warnings) = settle(&client, a.wire.ttl).await;
    let mut r = finish(
        path,
        p.clone(),
        &client,
        &info,
        keepalive,
        warnings,
        "registered and logged in",
    )?;
    r.json["assigned_user"] = json!(p.user);
    r.human = format!("your user ID is {}\n{}", p.user, r.human);
    Ok(r)
}

/// The password: one line of standard input with `--password-stdin`,
/// else `$IMPS_PASSWORD`, else standard input when it is not a
/// terminal, else asked on the terminal without echo.
fn read_password(stdin: bool) -> Result<String, CliError> {
    if !stdin && let Ok(p) = std::env::var("IMPS_PASSWORD") {
        return Ok(p);
    }
    if stdin || !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut s)
            .map_err(|e| CliError::Local(format!("reading the password: {e}")))?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_string());
    }
    prompt_hidden("password: ").map_err(|e| CliError::Local(format!("reading the password: {e}")))
}

fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
    use std::io::Write;
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    crossterm::terminal::enable_raw_mode()?;
    let mut s = String::new();
    let result = loop {
        match read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(std::io::Error::other("cancelled"));
                }
                KeyCode::Char(c) => s.push(c),
                KeyCode::Backspace => {
                    s.pop();
                }
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    eprintln!();
    result.map(|()| s)
}
