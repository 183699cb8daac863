//! impsd's settings: a TOML file, then environment variables and flags on
//! top. Every limit is here with a safe default; `impsd config
//! print-default` prints this file's defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP binding (also serves HTTP CIR, WebSocket,
    /// /healthz and /metrics).
    pub listen: SocketAddr,
    /// Where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// The domain served: users are `wv:user@domain`.
    pub domain: String,
    /// Path of the CSP HTTP binding.
    pub path: String,
    /// Path of the WebSocket endpoint carrying CSP both ways.
    pub ws_path: String,
    /// Log filter (tracing syntax), e.g. "info" or "impsd=debug".
    pub log: String,
    pub limits: LimitsConfig,
    pub session: SessionConfig,
    pub login: LoginConfig,
    pub msisdn: MsisdnSettings,
    pub cir: CirSettings,
    pub admin: AdminConfig,
    pub tls: TlsConfig,
    pub sp_info: SpInfoConfig,
    pub services: ServicesConfig,
    pub im: ImSettings,
    pub lists: ListsSettings,
    pub groups: GroupsSettings,
    pub map: MapSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Deepest element nesting accepted in a CSP document.
    pub max_depth: usize,
    /// Most elements in one CSP document.
    pub max_elements: usize,
    /// Longest text value, in bytes.
    pub max_text_bytes: usize,
    /// Largest message we send unless the client negotiates less.
    pub max_message_bytes: u64,
    /// Seconds a WebSocket write may wait for a client that does not read;
    /// past it the connection is closed (its session stays, and what it
    /// had not acknowledged is offered again).
    pub ws_write_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub keepalive_min_secs: u64,
    pub keepalive_max_secs: u64,
    pub keepalive_default_secs: u64,
    /// Most concurrent sessions per user; 0 = no limit.
    pub max_per_user: usize,
    /// Most server-originated transactions queued for one session; the
    /// oldest is dropped beyond it.
    pub max_outbox: usize,
    /// Minimum seconds between client polls (ServerPollMin).
    pub server_poll_min_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Offer 4-way digest login. Needs `secret_key`: digest needs the
    /// password itself, which is kept encrypted with that key.
    pub digest: bool,
    /// 64 hex digits (32 bytes) that encrypt digest secrets at rest.
    pub secret_key: Option<String>,
    /// Seconds a digest challenge stays valid.
    pub nonce_ttl_secs: u64,
    /// Most password (argon2) checks at once; 0 = one per core.
    pub max_password_checks: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MsisdnSettings {
    /// HTTP header in which an operator gateway asserts the caller's
    /// number.
    pub header: String,
    /// Addresses whose header is believed. Empty: never believed.
    pub trusted_proxies: Vec<IpAddr>,
    pub auto_login: bool,
    pub auto_register: bool,
    /// Ignore asserted numbers: every login needs a password (GEN-20).
    pub force_manual_login: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CirSettings {
    /// Standalone TCP CIR listener; empty string to turn it off.
    pub tcp_listen: String,
    /// Host clients are told to connect to for TCP CIR; defaults to the
    /// listener's IP.
    pub tcp_advertise_host: Option<String>,
    /// Seconds a TCP CIR client has to send HELO.
    pub helo_timeout_secs: u64,
    /// Serve HTTP CIR (GET /cir/TOKEN).
    pub http: bool,
    /// Base URL clients use for HTTP CIR; defaults to http://LISTEN/cir.
    pub http_base_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Loopback address of the admin endpoint (session list/kick).
    pub listen: SocketAddr,
    /// Bearer token; when empty a random one is made at start. Either way
    /// it is written with the address to DATA_DIR/admin.json (mode 0600)
    /// for the admin commands.
    pub token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key_file`, the HTTP binding is HTTPS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpInfoConfig {
    pub name: String,
    pub description: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesConfig {
    /// Function codes, function groups or features switched off by policy
    /// (e.g. ["GroupFeat", "SRCH"]).
    pub disabled: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./impsd-data"),
            domain: "localhost".into(),
            path: "/imps".into(),
            ws_path: "/imps/ws".into(),
            log: "info".into(),
            limits: LimitsConfig::default(),
            session: SessionConfig::default(),
            login: LoginConfig::default(),
            msisdn: MsisdnSettings::default(),
            cir: CirSettings::default(),
            admin: AdminConfig::default(),
            tls: TlsConfig::default(),
            sp_info: SpInfoConfig::default(),
            services: ServicesConfig::default(),
            im: ImSettings::default(),
            lists: ListsSettings::default(),
            groups: GroupsSettings::default(),
            map: MapSettings::default(),
        }
    }
}

/// Instant messaging: policies (GEN-5..10), offline storage (IMR-9) and
/// offline notification (IMR-10, IMR-11, SYM-18).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImSettings {
    /// Keep messages for logged-out users; off: such messages get 533.
    pub offline_storage: bool,
    /// Largest text/plain message in bytes (0 = no limit).
    pub max_text_bytes: u64,
    /// Largest message of other content types in bytes (0 = no limit).
    pub max_rich_bytes: u64,
    /// Over the limit: "none", "reject" or "charge".
    pub oversize_policy: String,
    /// With "charge": the largest message delivered at all (0 = no limit).
    pub charge_limit_bytes: u64,
    /// Content types accepted (`image/*` allowed); empty = any.
    pub content_types: Vec<String>,
    /// Most recipient users per message, contact lists expanded.
    pub max_recipients: usize,
    /// Most unacknowledged messages offered to one session at a time.
    pub push_window: usize,
    /// Offer an unacknowledged message again after this many seconds.
    pub redeliver_secs: u64,
    /// Waiting messages of one online user kept in memory.
    pub memory_per_user: usize,
    /// Most entries in one GetMessageList-Response.
    pub max_list_batch: usize,
    /// How long a client's own MessageID is remembered to spot a retry.
    pub dedupe_window_secs: u64,
    /// Longest message Validity honoured, in seconds (0 = as asked).
    pub max_validity_secs: u64,
    /// Offline-message notifications: "off", "log" or "webhook".
    pub offline_notify: String,
    /// Notification type for the gateway: "SMS" or "WAPPUSH".
    pub offline_notify_bearer: String,
    /// At most one notification per user per this many seconds.
    pub offline_notify_interval_secs: u64,
    /// Where the webhook notifier POSTs (http:// only).
    pub webhook_url: Option<String>,
    pub webhook_timeout_ms: u64,
    /// Notices waiting for the webhook; more are dropped.
    pub webhook_queue: usize,
    /// 64 hex digits keying the opaque recipient reference; defaults to
    /// login.secret_key, else a random key per start.
    pub notify_ref_key: Option<String>,
}

impl Default for ImSettings {
    fn default() -> Self {
        let c = imps_core::config::ImConfig::default();
        ImSettings {
            offline_storage: c.offline_storage,
            max_text_bytes: c.max_text_bytes,
            max_rich_bytes: c.max_rich_bytes,
            oversize_policy: "reject".into(),
            charge_limit_bytes: c.charge_limit_bytes,
            content_types: c.content_types,
            max_recipients: c.max_recipients,
            push_window: c.push_window,
            redeliver_secs: c.redeliver_secs,
            memory_per_user: c.memory_per_user,
            max_list_batch: c.max_list_batch,
            dedupe_window_secs: c.dedupe_window_secs,
            max_validity_secs: c.max_validity_secs,
            offline_notify: "log".into(),
            offline_notify_bearer: c.offline_notify_bearer,
            offline_notify_interval_secs: c.offline_notify_interval_secs,
            webhook_url: None,
            webhook_timeout_ms: 5_000,
            webhook_queue: 1024,
            notify_ref_key: None,
        }
    }
}

/// Contact, block and grant lists, and lists in parts (GEN-1..4, SEC-1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListsSettings {
    /// Most contact lists one user may have (753 beyond it).
    pub max_lists_per_user: usize,
    /// Most members in one contact list (754 beyond it).
    pub max_contacts_per_list: usize,
    /// Most entries in a block list, and in a grant list.
    pub max_access_entries: usize,
    /// Longest list name, display name or nickname, in characters.
    pub max_name_chars: usize,
    /// How long the parts of a split reply or upload are kept.
    pub segment_ttl_secs: u64,
    /// Most split replies and uploads held for one session at once.
    pub max_segment_sets_per_session: usize,
    /// Bytes all sessions' parts may take together.
    pub max_segment_bytes_total: usize,
    /// Most parts one upload may announce.
    pub max_upload_parts: u64,
    /// Bytes one upload in parts may buffer.
    pub max_upload_bytes: usize,
}

impl Default for ListsSettings {
    fn default() -> Self {
        ListsSettings::from(imps_core::LISTS_DEFAULTS)
    }
}

impl From<imps_core::ListsConfig> for ListsSettings {
    fn from(c: imps_core::ListsConfig) -> Self {
        ListsSettings {
            max_lists_per_user: c.max_lists_per_user,
            max_contacts_per_list: c.max_contacts_per_list,
            max_access_entries: c.max_access_entries,
            max_name_chars: c.max_name_chars,
            segment_ttl_secs: c.segment_ttl_secs,
            max_segment_sets_per_session: c.max_segment_sets_per_session,
            max_segment_bytes_total: c.max_segment_bytes_total,
            max_upload_parts: c.max_upload_parts,
            max_upload_bytes: c.max_upload_bytes,
        }
    }
}

impl From<&ListsSettings> for imps_core::ListsConfig {
    fn from(s: &ListsSettings) -> Self {
        imps_core::ListsConfig {
            max_lists_per_user: s.max_lists_per_user,
            max_contacts_per_list: s.max_contacts_per_list,
            max_access_entries: s.max_access_entries,
            max_name_chars: s.max_name_chars,
            segment_ttl_secs: s.segment_ttl_secs,
            max_segment_sets_per_session: s.max_segment_sets_per_session,
            max_segment_bytes_total: s.max_segment_bytes_total,
            max_upload_parts: s.max_upload_parts,
            max_upload_bytes: s.max_upload_bytes,
        }
    }
}

/// Groups, invitations and private group conversations (PGC-16/18).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsSettings {
    /// How long a user who dropped out of a private group may rejoin
    /// without a new invitation.
    pub rejoin_timeout_secs: u64,
    /// Most users joined to one group, whatever its MaxActiveUsers says.
    pub max_joined_per_group: u64,
    /// Longest screen name, in characters.
    pub max_screen_name_chars: usize,
    /// Most users named in one request (members, rejects, invitees).
    pub max_users_per_request: usize,
    /// How long an invitation without Validity waits for its answer.
    pub invite_validity_secs: u64,
    /// Longest group name part of a GroupID, in characters.
    pub max_group_name_chars: usize,
    /// Most groups one user may own, private conversations included (814).
    pub max_groups_per_user: u64,
    /// Most groups on the server (815).
    pub max_groups_total: u64,
}

impl Default for GroupsSettings {
    fn default() -> Self {
        let c = imps_core::GROUPS_DEFAULTS;
        GroupsSettings {
            rejoin_timeout_secs: c.rejoin_timeout_secs,
            max_joined_per_group: c.max_joined_per_group,
            max_screen_name_chars: c.max_screen_name_chars,
            max_users_per_request: c.max_users_per_request,
            invite_validity_secs: c.invite_validity_secs,
            max_group_name_chars: c.max_group_name_chars,
            max_groups_per_user: c.max_groups_per_user,
            max_groups_total: c.max_groups_total,
        }
    }
}

impl From<&GroupsSettings> for imps_core::GroupsConfig {
    fn from(s: &GroupsSettings) -> Self {
        imps_core::GroupsConfig {
            rejoin_timeout_secs: s.rejoin_timeout_secs,
            max_joined_per_group: s.max_joined_per_group,
            max_screen_name_chars: s.max_screen_name_chars,
            max_users_per_request: s.max_users_per_request,
            invite_validity_secs: s.invite_validity_secs,
            max_group_name_chars: s.max_group_name_chars,
            max_groups_per_user: s.max_groups_per_user,
            max_groups_total: s.max_groups_total,
        }
    }
}

/// GetMap (PRR-2..4): where location maps come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapSettings {
    /// "builtin" (a PNG drawn by the server, no network), "url" (a link
    /// built from `url_template`) or "off" (GETMAP not offered).
    pub provider: String,
    /// Image size in pixels (16..=1024); also `{width}`/`{height}`.
    pub width: u32,
    pub height: u32,
    /// Zoom level (0..=20, slippy-map scale) for an exact position; lower
    /// when an accuracy circle must fit.
    pub zoom: u8,
    /// With provider = "url", e.g.
    /// "https://maps.example/static?lat={lat}&lon={lon}&zoom={zoom}".
    /// Placeholders: {lat} {lon} {zoom} {width} {height} {accuracy}.
    pub url_template: String,
}

impl Default for MapSettings {
    fn default() -> Self {
        let c = imps_core::MAP_DEFAULTS;
        MapSettings {
            provider: "builtin".into(),
            width: c.width,
            height: c.height,
            zoom: c.zoom,
            url_template: c.url_template,
        }
    }
}

impl TryFrom<&MapSettings> for imps_core::MapConfig {
    type Error = anyhow::Error;

    fn try_from(s: &MapSettings) -> anyhow::Result<Self> {
        let mode = match s.provider.trim().to_ascii_lowercase().as_str() {
            "builtin" => imps_core::MapMode::Builtin,
            "url" => imps_core::MapMode::Url,
            "off" => imps_core::MapMode::Off,
            other => anyhow::bail!("map.provider {other:?}: use \"builtin\", \"url\" or \"off\""),
        };
        let c = imps_core::MapConfig {
            mode,
            width: s.width,
            height: s.height,
            zoom: s.zoom,
            url_template: s.url_template.trim().to_string(),
        };
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c)
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let w = imps_wire::Limits::default();
        LimitsConfig {
            max_body_bytes: w.max_size,
            max_depth: w.max_depth,
            max_elements: w.max_elements,
            max_text_bytes: w.max_text,
            max_message_bytes: 1024 * 1024,
            ws_write_timeout_secs: 30,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let c = imps_core::CoreConfig::default();
        SessionConfig {
            keepalive_min_secs: c.keepalive_min_secs,
            keepalive_max_secs: c.keepalive_max_secs,
            keepalive_default_secs: c.keepalive_default_secs,
            max_per_user: c.max_sessions_per_user,
            max_outbox: c.max_outbox,
            server_poll_min_secs: c.server_poll_min_secs,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            digest: false,
            secret_key: None,
            nonce_ttl_secs: 120,
            max_password_checks: 0,
        }
    }
}

impl Default for MsisdnSettings {
    fn default() -> Self {
        MsisdnSettings {
            header: "X-MSISDN".into(),
            trusted_proxies: Vec::new(),
            auto_login: true,
            auto_register: true,
            force_manual_login: false,
        }
    }
}

impl Default for CirSettings {
    fn default() -> Self {
        CirSettings {
            tcp_listen: "127.0.0.1:3171".into(),
            tcp_advertise_host: None,
            helo_timeout_secs: 300,
            http: true,
            http_base_url: None,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            token: String::new(),
        }
    }
}

impl Default for SpInfoConfig {
    fn default() -> Self {
        let s = imps_core::config::SpInfo::default();
        SpInfoConfig {
            name: s.name,
            description: s.description,
            url: s.url,
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are an error, so typos are caught.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("bad config {}: {e}", path.display()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks what serde cannot, so a bad config stops the start with a
    /// message instead of failing later.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.login.digest && self.secret_key()?.is_none() {
            anyhow::bail!("login.digest = true needs login.secret_key (64 hex digits)");
        }
        if !self.path.starts_with('/') || !self.ws_path.starts_with('/') {
            anyhow::bail!("path and ws_path must start with '/'");
        }
        if self.session.keepalive_min_secs > self.session.keepalive_max_secs {
            anyhow::bail!("session.keepalive_min_secs is above keepalive_max_secs");
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            anyhow::bail!("tls.cert_file and tls.key_file go together");
        }
        imps_core::MapConfig::try_from(&self.map)?;
        Ok(())
    }

    pub fn secret_key(&self) -> anyhow::Result<Option<[u8; 32]>> {
        let Some(hexkey) = self.login.secret_key.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let raw = hex::decode(hexkey.trim())
            .map_err(|_| anyhow::anyhow!("login.secret_key is not hex"))?;
        let key: [u8; 32] = raw
            .try_into()
            .map_err(|_| anyhow::anyhow!("login.secret_key must be 32 bytes (64 hex digits)"))?;
        Ok(Some(key))
    }

    pub fn wire_limits(&self) -> imps_wire::Limits {
        imps_wire::Limits {
            max_size: self.limits.max_body_bytes,
            max_depth: self.limits.max_depth,
            max_elements: self.limits.max_elements,
            max_text: self.limits.max_text_bytes,
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("impsd.sqlite")
    }
}
