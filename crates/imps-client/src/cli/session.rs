//! The saved session in use: opens a client from the profile, sends
//! requests, turns refusals into [`CliError`]s a person can act on, and
//! writes the TransactionID counter back so the next command carries on
//! the numbering.

use std::path::PathBuf;

use imps_wire::Element;
use serde_json::json;

use crate::cli::codes::{self, exit};
use crate::cli::profile::{self, Profile};
use crate::{Client, ClientConfig, ClientError, HttpClient, HttpTransport};

/// Why a command failed, sorted by what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Something on this machine (file, input).
    Local(String),
    /// No usable session.
    Session(String),
    /// The server said no, with a CSP status code.
    Status {
        action: String,
        code: u16,
        description: String,
    },
    Network(String),
    Protocol(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Local(_) => exit::LOCAL,
            CliError::Session(_) => exit::SESSION,
            CliError::Status { code, .. } => codes::exit_for_status(*code),
            CliError::Network(_) => exit::NETWORK,
            CliError::Protocol(_) => exit::PROTOCOL,
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            CliError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The error as `--json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let kind = match self {
            CliError::Local(_) => "local",
            CliError::Session(_) => "session",
            CliError::Status { .. } => "status",
            CliError::Network(_) => "network",
            CliError::Protocol(_) => "protocol",
        };
        let mut v = json!({"ok": false, "error": kind, "message": self.to_string()});
        if let CliError::Status {
            code, description, ..
        } = self
        {
            v["code"] = json!(code);
            v["meaning"] = json!(codes::meaning(*code));
            v["description"] = json!(description);
        }
        v
    }

    /// Wraps a client error met while doing `action`.
    pub fn from_client(action: &str, e: ClientError) -> CliError {
        match e {
            ClientError::Status { code, description } => status_error(action, code, description),
            ClientError::Http(code, body) => CliError::Network(format!(
                "{action}: the server answered HTTP {code}: {}",
                body.trim()
            )),
            ClientError::Transport(m) => {
                CliError::Network(format!("{action}: cannot reach the server: {m}"))
            }
            ClientError::Io(e) => CliError::Network(format!("{action}: {e}")),
            ClientError::Closed => {
                CliError::Network(format!("{action}: the server closed the connection"))
            }
            ClientError::Timeout => {
                CliError::Network(format!("{action}: the server did not answer in time"))
            }
            ClientError::Wire(e) => CliError::Protocol(format!("{action}: unreadable answer: {e}")),
            ClientError::Protocol(m) => CliError::Protocol(format!("{action}: {m}")),
        }
    }
}

/// A refusal; a session the server no longer knows becomes `Session`.
pub fn status_error(action: &str, code: u16, description: String) -> CliError {
    if codes::is_session_gone(code) {
        let why = if code == 601 {
            "the server logged you out"
        } else {
            "session expired"
        };
        CliError::Session(format!(
            "{why}; log in again (imps login) [{}]",
            codes::describe(code)
        ))
    } else {
        CliError::Status {
            action: action.to_string(),
            code,
            description,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Local(m)
            | CliError::Session(m)
            | CliError::Network(m)
            | CliError::Protocol(m) => f.write_str(m),
            CliError::Status {
                action,
                code,
                description,
            } => {
                write!(
                    f,
                    "{action}: the server answered {}",
                    codes::describe(*code)
                )?;
                if !description.is_empty() {
                    write!(f, ": {description}")?;
                }
                Ok(())
            }
        }
    }
}

/// Builds an HTTP client for a profile (keeping its cookie).
pub fn client_for(p: &Profile, extra_headers: &[(String, String)]) -> Result<HttpClient, CliError> {
    let mut cfg = ClientConfig::new(p.server.clone(), p.csp_version(), p.csp_encoding())
        .with_client_id(p.client_id.clone());
    for (n, v) in extra_headers {
        cfg = cfg.with_header(n.clone(), v.clone());
    }
    let transport = HttpTransport::new(&cfg).map_err(|e| CliError::from_client("connecting", e))?;
    let cookie = if p.cookie.is_empty() {
        None
    } else {
        Some(p.cookie.clone())
    };
    let client = match cookie {
        Some(c) => Client::with_transport_and_cookie(transport, cfg, c),
        None => Client::with_transport(transport, cfg),
    };
    client.set_session_id(p.session_id.clone());
    client.set_next_transaction_id(p.next_transaction_id.max(1));
    Ok(client)
}

/// A logged-in profile and its client.
pub struct Ctx {
    pub path: PathBuf,
    pub profile: Profile,
    pub client: HttpClient,
}

impl Ctx {
    /// Opens the saved session; fails with "not logged in" when there is
    /// none.
    pub fn open(path: PathBuf) -> Result<Ctx, CliError> {
        let profile = profile::load(&path)
            .map_err(CliError::Local)?
            .filter(|p| p.session_id.is_some())
            .ok_or_else(|| {
                CliError::Session(format!(
                    "not logged in (no session in {}); run imps login first",
                    path.display()
                ))
            })?;
        let client = client_for(&profile, &[])?;
        Ok(Ctx {
            path,
            profile,
            client,
        })
    }

    /// Our own UserID on the wire.
    pub fn me(&self) -> String {
        crate::cli::ids::wire_user(&self.profile.user)
    }

    pub fn version(&self) -> crate::Version {
        self.profile.csp_version()
    }

    /// Sends a request; 200 and 201 (partly done) are success, anything
    /// else is an error named after `action`. A gone session is also
    /// forgotten in the profile so the next command says so at once.
    pub async fn call(&mut self, action: &str, body: Element) -> Result<Element, CliError> {
        let answer = self.client.request(body).await;
        self.save_counter();
        let answer = answer.map_err(|e| CliError::from_client(action, e))?;
        match crate::status_of(&answer) {
            Some((200 | 201, _)) | None => Ok(answer),
            Some((code, description)) => {
                if codes::is_session_gone(code) {
                    self.profile.session_id = None;
                    self.save()?;
                }
                Err(status_error(action, code, description))
            }
        }
    }

    /// Answers a server request (Response mode, its TransactionID).
    pub async fn answer(&self, tid: &str, body: Element) -> Result<(), CliError> {
        self.client
            .answer(tid, body)
            .await
            .map(|_| ())
            .map_err(|e| CliError::from_client("answering the server", e))
    }

    fn save_counter(&mut self) {
        self.profile.next_transaction_id = self.client.peek_transaction_id();
        // Losing the counter only risks a reused TransactionID; the
        // command's own result matters more than this write.
        let _ = profile::save(&self.path, &self.profile);
    }

    pub fn save(&mut self) -> Result<(), CliError> {
        self.profile.next_transaction_id = self.client.peek_transaction_id();
        profile::save(&self.path, &self.profile).map_err(CliError::Local)
    }
}
