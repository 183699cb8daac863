//! The local profile: what one `imps login` leaves for the commands after
//! it (server, version, encoding, session, cookie, TransactionID counter)
//! plus what the CLI must remember between runs because CSP has no
//! primitive to ask for it again (groups joined, invitations and system
//! messages waiting for an answer).
//!
//! The file holds a live SessionID, which is as good as the password
//! until it expires, so it is written with mode 0600 and replaced
//! atomically (write a temporary file, then rename).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Encoding, Version};

/// An invitation we were sent and have not answered yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvite {
    pub invite_id: String,
    /// Who invited us (as the server wrote it).
    pub from: String,
    /// `GR`, `IM`, `PR` or `SC`.
    pub invite_type: String,
    pub group: Option<String>,
    pub note: Option<String>,
}

/// A system message received and not answered yet (CSP 1.3): one with
/// options waits for a choice, one without for an acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSystemMessage {
    pub id: String,
    pub text: String,
    /// (option id, option text)
    pub options: Vec<(String, String)>,
    /// The server keeps asking until it is answered (RequiresResponse T).
    #[serde(default)]
    pub requires_response: bool,
}

impl PendingSystemMessage {
    /// The option with this ID, if the message offers it.
    pub fn offers(&self, option: u64) -> bool {
        self.options
            .iter()
            .any(|(id, _)| id.trim().parse::<u64>() == Ok(option))
    }

    /// The options as a person reads them: `[1] Agree  [2] Decline`.
    pub fn options_line(&self) -> String {
        self.options
            .iter()
            .map(|(id, t)| format!("[{id}] {t}"))
            .collect::<Vec<_>>()
            .join("  ")
    }
}

/// One saved session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub user: String,
    /// "1.1", "1.2" or "1.3".
    pub version: String,
    /// "xml" or "wbxml".
    pub encoding: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub cookie: String,
    pub next_transaction_id: u16,
    pub keepalive_secs: u64,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub invites: Vec<PendingInvite>,
    #[serde(default)]
    pub system_messages: Vec<PendingSystemMessage>,
    /// Users who asked to see our presence and wait for our answer.
    #[serde(default)]
    pub auth_requests: Vec<String>,
}

impl Profile {
    pub fn csp_version(&self) -> Version {
        Version::parse(&self.version).unwrap_or(Version::V1_2)
    }

    pub fn csp_encoding(&self) -> Encoding {
        parse_encoding(&self.encoding).unwrap_or(Encoding::Xml)
    }

    /// Keeps a received system message until it is answered; one sent
    /// again (the server repeats those that need an answer) replaces the
    /// copy kept.
    pub fn remember_system_message(&mut self, m: &PendingSystemMessage) {
        if m.id.is_empty() {
            return;
        }
        match self.system_messages.iter_mut().find(|x| x.id == m.id) {
            Some(kept) => *kept = m.clone(),
            None => self.system_messages.push(m.clone()),
        }
    }

    /// Remembers a group (joined or created) for `imps chat`.
    pub fn remember_group(&mut self, group: &str) {
        let key = crate::cli::ids::group_key(group);
        if !self
            .groups
            .iter()
            .any(|g| crate::cli::ids::group_key(g) == key)
        {
            self.groups.push(group.to_string());
        }
    }

    pub fn forget_group(&mut self, group: &str) {
        let key = crate::cli::ids::group_key(group);
        self.groups.retain(|g| crate::cli::ids::group_key(g) != key);
    }
}

pub fn parse_encoding(s: &str) -> Option<Encoding> {
    match s.to_ascii_lowercase().as_str() {
        "xml" => Some(Encoding::Xml),
        "wbxml" => Some(Encoding::Wbxml),
        _ => None,
    }
}

pub fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Xml => "xml",
        Encoding::Wbxml => "wbxml",
    }
}

/// Where the profile lives: `--profile` (a path, or a bare name meaning
/// `<config dir>/imps/<name>.json`), else `$IMPS_PROFILE`, else
/// `<config dir>/imps/profile.json`.
pub fn resolve_path(flag: Option<&str>) -> Result<PathBuf, String> {
    let given = flag
        .map(str::to_string)
        .or_else(|| std::env::var("IMPS_PROFILE").ok().filter(|s| !s.is_empty()));
    match given {
        Some(p) if p.contains('/') || p.contains('.') => Ok(PathBuf::from(p)),
        Some(name) => Ok(config_dir()?.join(format!("{name}.json"))),
        None => Ok(config_dir()?.join("profile.json")),
    }
}

fn config_dir() -> Result<PathBuf, String> {
    dirs::config_dir()
        .map(|d| d.join("imps"))
        .ok_or_else(|| "no config directory for this user; use --profile FILE".to_string())
}

/// Reads a profile; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Profile>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("profile {} is damaged: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading profile {}: {e}", path.display())),
    }
}

/// Writes a profile readable only by its owner.
pub fn save(path: &Path, profile: &Profile) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(profile).map_err(|e| format!("encoding profile: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    write_private(&tmp, &json).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("writing {}: {e}", path.display())
    })
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // The mode above applies only to a new file; make sure of it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/p.json");
        let mut p = Profile {
            server: "http://h/imps".into(),
            user: "alice".into(),
            version: "1.3".into(),
            encoding: "wbxml".into(),
            session_id: Some("S1".into()),
            next_transaction_id: 7,
            ..Profile::default()
        };
        p.remember_group("wv:alice/room");
        p.remember_group("WV:alice/Room");
        assert_eq!(p.groups.len(), 1);
        save(&path, &p).unwrap();
        assert_eq!(load(&path).unwrap(), Some(p.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(p.csp_version(), Version::V1_3);
        assert_eq!(p.csp_encoding(), Encoding::Wbxml);
        assert_eq!(load(&dir.path().join("none.json")).unwrap(), None);
    }
}
