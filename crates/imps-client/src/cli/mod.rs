//! The `imps` command for people: log in once, then one-shot commands
//! (send, inbox, contacts, presence, groups, ...) that reuse the saved
//! session, and `imps chat`, a terminal UI. Output is for people by
//! default and one JSON document with `--json`.
//!
//! Everything here talks to the server only through [`crate::Client`],
//! with requests built from the protocol's element structures
//! ([`build`]) and answers read leniently ([`read`]). Failures become a
//! [`CliError`] whose exit code and message name the CSP status code and
//! what it means ([`codes`]).

pub mod account;
pub mod args;
pub mod build;
pub mod codes;
pub mod directory;
pub mod events;
pub mod groups;
pub mod ids;
pub mod messaging;
pub mod profile;
pub mod read;
pub mod session;
pub mod social;
pub mod sysmsg;

pub use args::{Command, Global};
pub use session::{CliError, Ctx};

/// What a command prints: `human` on a terminal, `json` with `--json`.
/// A command that printed as it went (watch, chat) returns `Report::done`.
#[derive(Debug, Clone)]
pub struct Report {
    pub human: String,
    pub json: serde_json::Value,
}

impl Report {
    pub fn new(human: impl Into<String>, mut json: serde_json::Value) -> Report {
        if let Some(o) = json.as_object_mut() {
            o.entry("ok").or_insert(serde_json::Value::Bool(true));
        }
        Report {
            human: human.into(),
            json,
        }
    }

    /// Nothing more to print.
    pub fn done() -> Report {
        Report {
            human: String::new(),
            json: serde_json::Value::Null,
        }
    }
}

/// Runs one command (all but the converters, which the binary keeps).
pub async fn run(global: &Global, cmd: Command) -> Result<Report, CliError> {
    let path = profile::resolve_path(global.profile.as_deref()).map_err(CliError::Local)?;
    match cmd {
        Command::Login(a) => account::login(path, a).await,
        Command::Logout => account::logout(path).await,
        Command::Register(a) => account::register(path, a).await,
        Command::Send(a) => messaging::send(Ctx::open(path)?, a).await,
        Command::Inbox(a) => messaging::inbox(Ctx::open(path)?, a).await,
        Command::Contacts { cmd } => social::contacts(Ctx::open(path)?, cmd).await,
        Command::Presence { cmd } => social::presence(Ctx::open(path)?, cmd, global.json).await,
        Command::Block { cmd } => social::block(Ctx::open(path)?, cmd).await,
        Command::Group { cmd } => groups::group(Ctx::open(path)?, cmd).await,
        Command::Invite { cmd } => groups::invite(Ctx::open(path)?, cmd).await,
        Command::Search(a) => directory::search(Ctx::open(path)?, a).await,
        Command::Profile { cmd } => directory::profile(Ctx::open(path)?, cmd).await,
        Command::Answer(a) => sysmsg::answer(Ctx::open(path)?, a).await,
        Command::Sysmsg { cmd } => sysmsg::sysmsg(Ctx::open(path)?, cmd).await,
        Command::Chat(a) => crate::tui::run(Ctx::open(path)?, a).await,
    }
}
