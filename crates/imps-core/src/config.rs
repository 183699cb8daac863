//! Settings of the IMPS service. Plain data: the binary fills it from its
//! config file, environment and flags; the core never reads those itself.

/// How the server reaches a session's client besides the HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CirConfig {
    /// Standalone TCP CIR address advertised to clients (`TCPAddress`) and
    /// its port (`TCPPort`). `None` when the TCP CIR listener is off.
    pub tcp: Option<(String, u16)>,
    /// Base URL of the HTTP CIR endpoint (`http://host:port/cir`); the
    /// session's token is appended. `None` when off.
    pub http_base: Option<String>,
}

/// MSISDN auto-login and auto-registration (GEN-17..20, REG-UC, ALG-UC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsisdnConfig {
    /// A known network-asserted MSISDN logs in without a password.
    pub auto_login: bool,
    /// An unknown network-asserted MSISDN gets a new account.
    pub auto_register: bool,
    /// GEN-20: ignore the asserted MSISDN; every login needs a password.
    pub force_manual_login: bool,
}

impl Default for MsisdnConfig {
    fn default() -> Self {
        MsisdnConfig {
            auto_login: true,
            auto_register: true,
            force_manual_login: false,
        }
    }
}

/// Service provider information returned by GetSPInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpInfo {
    pub name: String,
    pub description: String,
    pub url: String,
}

impl Default for SpInfo {
    fn default() -> Self {
        SpInfo {
            name: "impsd".into(),
            description: "IMPS instant messaging and presence".into(),
            url: "http://localhost/".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The domain this server serves (`wv:user@domain`).
    pub domain: String,
    /// Bounds on the keep-alive time granted to a session, in seconds.
    pub keepalive_min_secs: u64,
    pub keepalive_max_secs: u64,
    /// Granted when the client asks for none.
    pub keepalive_default_secs: u64,
    /// GEN-16: most concurrent sessions per user (0 = unlimited).
    pub max_sessions_per_user: usize,
    /// Most server-originated transactions waiting for one session; when
    /// full the oldest waiting notification is dropped (and logged).
    pub max_outbox: usize,
    /// Offer 4-way digest login (needs `secret_key`).
    pub digest_login: bool,
    /// 32-byte key that encrypts digest secrets at rest.
    pub secret_key: Option<[u8; 32]>,
    /// How long a digest challenge stays valid, in seconds.
    pub nonce_ttl_secs: u64,
    pub msisdn: MsisdnConfig,
    pub cir: CirConfig,
    /// Minimum seconds between polls we ask of clients (ServerPollMin).
    pub server_poll_min_secs: u64,
    /// Largest message we send, unless the client negotiates less (CFG-1).
    pub max_message_size: u64,
    /// Function codes (or whole features/groups) switched off by policy.
    pub disabled_functions: Vec<String>,
    pub sp_info: SpInfo,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            domain: "localhost".into(),
            keepalive_min_secs: 30,
            keepalive_max_secs: 3600,
            keepalive_default_secs: 600,
            max_sessions_per_user: 8,
            max_outbox: 1024,
            digest_login: false,
            secret_key: None,
            nonce_ttl_secs: 120,
            msisdn: MsisdnConfig::default(),
            cir: CirConfig::default(),
            server_poll_min_secs: 30,
            max_message_size: 1024 * 1024,
            disabled_functions: Vec::new(),
            sp_info: SpInfo::default(),
        }
    }
}
