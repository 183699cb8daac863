//! Settings of the IMPS service. Plain data: the binary fills it from its
//! config file, environment and flags; the core never reads those itself.
//!
//! The area settings ([`ImConfig`], [`SpInfo`], and `ListsConfig`,
//! `GroupsConfig`, `MapConfig` in their areas) are read straight from the
//! binary's TOML sections: each is `serde` data whose `Default` is the one
//! place its defaults are written. Choices are enums whose names in the
//! file are matched ignoring case and surrounding blanks.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serde for a unit enum read as one of a few names (ignoring case and
/// surrounding blanks) and written as its canonical name. The error names
/// the setting and the names allowed.
macro_rules! setting_enum {
    ($ty:ident, $key:literal, $case:ident, $hint:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name of this choice in the config file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                let name = text.trim();
                $(
                    if name.eq_ignore_ascii_case($name) {
                        return Ok($ty::$variant);
                    }
                )+
                Err(serde::de::Error::custom(format!(
                    concat!($key, " {:?}: use ", $hint),
                    name.$case()
                )))
            }
        }
    };
}
pub(crate) use setting_enum;

/// Reads a string setting without its surrounding blanks.
pub(crate) fn trimmed<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(String::deserialize(d)?.trim().to_string())
}

/// A 32-byte key given as 64 hex digits; empty or absent is `None`. The
/// message names the setting (`name`) at fault.
pub fn parse_key(name: &str, hexkey: Option<&str>) -> Result<Option<[u8; 32]>, String> {
    let Some(hexkey) = hexkey.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let raw = hex::decode(hexkey.trim()).map_err(|_| format!("{name} is not hex"))?;
    let key: [u8; 32] = raw
        .try_into()
        .map_err(|_| format!("{name} must be 32 bytes (64 hex digits)"))?;
    Ok(Some(key))
}

/// Serde for `ImConfig::notify_ref_key`: 64 hex digits in the file.
mod notify_ref_key {
    use super::*;

    pub fn serialize<S: Serializer>(key: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(k) => s.serialize_some(&hex::encode(k)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        parse_key("im.notify_ref_key", text.as_deref()).map_err(serde::de::Error::custom)
    }
}

/// How the server reaches a session's client besides the HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CirConfig {
    /// Standalone TCP CIR address advertised to clients (`TCPAddress`) and
    /// its port (`TCPPort`). `None` when the TCP CIR listener is off.
    pub tcp: Option<(String, u16)>,
    /// Base URL of the HTTP CIR endpoint (`http://host:port/cir`); the
    /// session's token is appended. `None` when off.
    pub http_base: Option<String>,
    /// Offer SUDP (the WVCI line in a datagram to the client's UDPPort).
    /// Needs `waker`.
    pub udp: bool,
    /// Offer WAPUDP (the line in a WSP push datagram). Needs `waker`.
    pub wap_udp: bool,
    /// Which address datagram CIR goes to.
    pub udp_address: crate::cir::UdpAddressPolicy,
    /// Offer SSMS (the WVCI line by SMS to the user's registered number).
    /// Needs `waker`.
    pub sms: bool,
    /// Offer WAPSMS (the line in a WAP push by SMS). Needs `waker`.
    pub wap_sms: bool,
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

/// Service provider information returned by GetSPInfo (the `[sp_info]`
/// section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpInfo {
    /// The service provider's name.
    pub name: String,
    /// A line describing the service.
    pub description: String,
    /// The service provider's web page.
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
    /// Offer 4-way digest login (usable for a user whose digest secret
    /// was sealed with `secret_key`).
    pub digest_login: bool,
    /// 32-byte key that encrypts digest secrets at rest.
    pub secret_key: Option<[u8; 32]>,
    /// How long a digest challenge stays valid, in seconds.
    pub nonce_ttl_secs: u64,
    /// Most argon2 password checks running at once. Each takes tens of
    /// megabytes and a core for a while; more logins wait their turn
    /// rather than all hashing at once (memory stays bounded).
    pub max_password_checks: usize,
    /// Most digest challenges outstanding at once; past it (after dropping
    /// expired ones) a login that asks for one gets 503.
    pub max_challenges: usize,
    /// Answer a login naming an unknown user exactly as a wrong password
    /// (409) instead of 531.
    pub hide_unknown_users: bool,
    /// Failed-login counting and lockouts.
    pub login_throttle: crate::session::LoginThrottleConfig,
    /// How many recently ended session IDs are remembered, so a client
    /// using one is told "expired" (600) rather than "unknown" (604).
    pub expired_memory: usize,
    pub msisdn: MsisdnConfig,
    pub cir: CirConfig,
    /// Sends datagram and SMS wake-ups (SUDP, WAPUDP, SSMS, WAPSMS); `None` = those methods are
    /// not offered whatever `cir` says. Not a setting: the binary puts its
    /// waker here.
    pub cir_waker: Option<std::sync::Arc<dyn crate::cir::CirWaker>>,
    /// Reaches other domains over SSP (issue 17); `None` = no federation:
    /// an address of another domain is refused (516). Not a setting: the
    /// binary puts its port here.
    pub federation: Option<std::sync::Arc<dyn crate::federation::Federation>>,
    /// Other nodes sharing the store (issue 18); `None` = this process
    /// alone. Not a setting: the binary puts its bus here.
    pub cluster: Option<std::sync::Arc<dyn crate::cluster::Cluster>>,
    /// Minimum seconds between polls we ask of clients (ServerPollMin).
    pub server_poll_min_secs: u64,
    /// Largest message we send, unless the client negotiates less (CFG-1).
    pub max_message_size: u64,
    /// Function codes (or whole features/groups) switched off by policy.
    pub disabled_functions: Vec<String>,
    pub sp_info: SpInfo,
    /// Instant messaging: policies, offline storage and notification.
    pub im: ImConfig,
    /// Contact, block and grant lists; lists in parts.
    pub lists: crate::lists::ListsConfig,
    /// Groups, invitations and private group conversations.
    pub groups: crate::groups::GroupsConfig,
    /// GetMap: built-in image, URL template, or off (PRR-2..4).
    pub map: crate::map::MapConfig,
    /// Presence: memory bounds.
    pub presence: crate::presence::PresenceConfig,
    /// System messages: limits, terms before login, refused clients.
    pub sysmsg: crate::sysmsg::SysmsgConfig,
    /// Search and public profiles: limits, privacy rules.
    pub search: crate::directory::SearchConfig,
    /// Issue 19: the cost of new password hashes, the verifier cache that
    /// spares a returning user Argon2, and how long a cold check may wait.
    pub password: crate::session::PasswordConfig,
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
            digest_login: true,
            secret_key: None,
            nonce_ttl_secs: 120,
            max_password_checks: default_password_checks(),
            max_challenges: 100_000,
            hide_unknown_users: false,
            login_throttle: crate::session::LoginThrottleConfig::default(),
            expired_memory: 10_000,
            msisdn: MsisdnConfig::default(),
            cir: CirConfig::default(),
            cir_waker: None,
            federation: None,
            cluster: None,
            server_poll_min_secs: 30,
            max_message_size: 1024 * 1024,
            disabled_functions: Vec::new(),
            sp_info: SpInfo::default(),
            im: ImConfig::default(),
            lists: crate::lists::ListsConfig::default(),
            groups: crate::groups::GroupsConfig::default(),
            map: crate::map::MapConfig::default(),
            presence: crate::presence::PresenceConfig::default(),
            sysmsg: crate::sysmsg::SysmsgConfig::default(),
            search: crate::directory::SearchConfig::default(),
            password: crate::session::PasswordConfig::default(),
        }
    }
}

/// What happens to a message over the size limit (GEN-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizePolicy {
    /// No policy is announced; the limits are plain caps.
    None,
    /// Refused (announced as ContentPolicy `R`).
    Reject,
    /// Delivered with an extra charge up to `charge_limit_bytes`
    /// (ContentPolicy `C`, ContentPolicyLimit); refused beyond it.
    Charge,
}

setting_enum! {
    OversizePolicy, "im.oversize_policy", to_ascii_lowercase, "none, reject or charge",
    { None => "none", Reject => "reject", Charge => "charge" }
}

/// Where offline-message notifications go (IMR-10, IMR-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineNotify {
    /// None are sent: the operator's switch (IMR-11).
    Off,
    /// To the log, by the [`crate::LogNotifier`].
    Log,
    /// POSTed to `webhook_url` by the binary's webhook notifier.
    Webhook,
    /// Sent as an SMS or WAP Push (`offline_notify_bearer`) to the user's
    /// registered number, through the SMSC of the binary's `[sms]`.
    Sms,
}

setting_enum! {
    OfflineNotify, "im.offline_notify", to_ascii_lowercase, "off, log, webhook or sms",
    { Off => "off", Log => "log", Webhook => "webhook", Sms => "sms" }
}

/// The notification type handed to the notifier (IMR-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyBearer {
    /// A text message.
    Sms,
    /// A WAP Push.
    WapPush,
}

setting_enum! {
    NotifyBearer, "im.offline_notify_bearer", to_ascii_uppercase, "SMS or WAPPUSH",
    { Sms => "SMS", WapPush => "WAPPUSH" }
}

/// Instant messaging settings (BASE-IM, IMR-*, GEN-5..10): the `[im]`
/// section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImConfig {
    /// IMR-9: keep messages for logged-out users. When off, a message to a
    /// user with no session is refused (533).
    pub offline_storage: bool,
    /// GEN-5: largest text/plain message, in bytes (0 = no limit).
    pub max_text_bytes: u64,
    /// GEN-5: largest message of any other type, in bytes of decoded
    /// content (0 = no limit).
    pub max_rich_bytes: u64,
    /// What happens to a message over the limits.
    pub oversize_policy: OversizePolicy,
    /// With `Charge`: the largest message delivered at all (0 = no limit).
    pub charge_limit_bytes: u64,
    /// GEN-8: content types accepted for delivery (`type/*` allowed);
    /// empty = any.
    pub content_types: Vec<String>,
    /// Most recipient users one SendMessage may reach (contact lists
    /// expanded).
    pub max_recipients: usize,
    /// Most NewMessages offered to one session and not yet acknowledged;
    /// the rest wait in the store. Keeps IM from filling the outbox.
    pub push_window: usize,
    /// An offered message not acknowledged for this long is offered again
    /// (it may have been dropped from a full outbox).
    pub redeliver_secs: u64,
    /// Most waiting messages of one online user kept in memory; the rest
    /// are read from the store as these are delivered.
    pub memory_per_user: usize,
    /// Most MessageInfo entries in one GetMessageList-Response.
    pub max_list_batch: usize,
    /// Users IM remembers in each of its memories (users with stored
    /// messages, recent friendly names, recent offline notices); past it
    /// that memory starts over.
    pub known_users_max: usize,
    /// Expired messages ended per sweep; the rest wait for the next one.
    pub expiry_batch: usize,
    /// A sweep for expired messages runs every this many background
    /// passes (one a second).
    pub expiry_sweep_passes: u64,
    /// How long a sender's own MessageID is remembered, to recognise a
    /// retried SendMessage.
    pub dedupe_window_secs: u64,
    /// Longest Validity honoured, in seconds (0 = as asked, or forever).
    pub max_validity_secs: u64,
    /// Issue 19, CPU per message: a one-to-one message for a recipient
    /// whose push sessions are all caught up is pushed before it is
    /// stored, and its sender waits up to this long (ms) for the
    /// recipient's MessageDelivered. Acknowledged in time, the message is
    /// never written; otherwise it is stored and only then answered. So
    /// an answer 200 still means delivered or on disk. 0 = always store
    /// first. Messages with a client MessageID, a delivery report, several
    /// recipients, aimed at one client, from another domain, for a user
    /// with a notify/get session, or in a cluster are always stored first
    /// (docs/protocol.md, "Delivered before stored").
    pub ack_window_ms: u64,
    /// Most messages waiting for one recipient (0 = no limit); a message
    /// past it is refused for that recipient with 507 and not stored.
    pub offline_quota_messages: u64,
    /// Most bytes of content waiting for one recipient (0 = no limit).
    pub offline_quota_bytes: u64,
    /// Messages a second one user may send on average, one-to-one and to
    /// groups together (0 = no limit); past it a send gets 503.
    pub send_rate_per_sec: u32,
    /// Messages one user may send at once after a quiet spell.
    pub send_burst: u32,
    /// Most senders whose rate is tracked at once (bounded memory).
    pub send_rate_senders_max: usize,
    /// Issue 19, overload: most SendMessage/ForwardMessage being checked
    /// and stored at once; past it a send gets 503 (0 = no limit).
    pub max_sends_in_flight: usize,
    /// Issue 19, overload: the runtime lag (ms) past which the bound on
    /// sends in flight is lowered, step by step, towards an eighth of
    /// `max_sends_in_flight`, and raised again while the lag is under
    /// half of it and the bound is in use (0 = the fixed bound only;
    /// `im/admit.rs`).
    pub overload_lag_ms: u64,
    /// Issue 19, overload: most messages waiting in memory for online
    /// recipients (recounted once a second, followed in between); past it a send gets 503 (0 =
    /// no limit).
    pub max_waiting_in_memory: usize,
    /// The TryAgainTimeout (1.3) of an overload refusal, in seconds.
    pub overload_retry_secs: u64,
    /// IMR-11: where offline-message notifications go; `Off` is the
    /// operator's switch. Anything but `Off` hands notices to `notifier`.
    pub offline_notify: OfflineNotify,
    /// IMR-10: the notification type handed to the notifier.
    pub offline_notify_bearer: NotifyBearer,
    /// At most one notification per user in this many seconds.
    pub offline_notify_interval_secs: u64,
    /// With `OfflineNotify::Webhook`: where the binary's notifier POSTs
    /// (http:// only). The core only carries it.
    pub webhook_url: Option<String>,
    /// How long the webhook notifier waits for the gateway, in ms.
    pub webhook_timeout_ms: u64,
    /// Notices waiting for the webhook; more are dropped.
    pub webhook_queue: usize,
    /// Key of the opaque recipient reference in notifications (SYM-18),
    /// 64 hex digits in the file; `None` uses `secret_key`, else a random
    /// key per start.
    #[serde(with = "notify_ref_key", skip_serializing_if = "Option::is_none")]
    pub notify_ref_key: Option<[u8; 32]>,
    /// Where offline notifications go unless `offline_notify` is `Off`;
    /// `None` = nowhere. Not a setting: the binary puts its notifier here.
    #[serde(skip)]
    pub notifier: Option<std::sync::Arc<dyn crate::OfflineNotifier>>,
}

impl Default for ImConfig {
    fn default() -> Self {
        ImConfig {
            offline_storage: true,
            max_text_bytes: 16 * 1024,
            max_rich_bytes: 512 * 1024,
            oversize_policy: OversizePolicy::Reject,
            charge_limit_bytes: 0,
            content_types: [
                "text/plain",
                "text/x-vcard",
                "text/x-vcalendar",
                "image/jpeg",
                "image/gif",
                "image/png",
                "image/vnd.wap.wbmp",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/midi",
                "video/3gpp",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            max_recipients: 100,
            push_window: 64,
            redeliver_secs: 30,
            memory_per_user: 512,
            max_list_batch: 100,
            known_users_max: 200_000,
            expiry_batch: 500,
            expiry_sweep_passes: 10,
            dedupe_window_secs: 24 * 3600,
            max_validity_secs: 0,
            ack_window_ms: 20,
            offline_quota_messages: 1_000,
            offline_quota_bytes: 16 * 1024 * 1024,
            send_rate_per_sec: 20,
            send_burst: 100,
            send_rate_senders_max: 100_000,
            max_sends_in_flight: 1_024,
            overload_lag_ms: 5,
            max_waiting_in_memory: 200_000,
            overload_retry_secs: 2,
            offline_notify: OfflineNotify::Log,
            offline_notify_bearer: NotifyBearer::Sms,
            offline_notify_interval_secs: 300,
            webhook_url: None,
            webhook_timeout_ms: 5_000,
            webhook_queue: 1024,
            notify_ref_key: None,
            notifier: Some(std::sync::Arc::new(crate::LogNotifier)),
        }
    }
}

/// One password check per core but one (at least one): more would only
/// queue inside the pool, and a storm of first logins that took every
/// core would starve message traffic (issue 19).
pub fn default_password_checks() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, StrDeserializer};

    fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
        T::deserialize(StrDeserializer::<Error>::new(text)).map_err(|e| e.to_string())
    }

    #[test]
    fn choices_ignore_case_and_blanks_and_name_the_setting() {
        assert_eq!(
            read::<OversizePolicy>(" Charge "),
            Ok(OversizePolicy::Charge)
        );
        assert_eq!(read::<OfflineNotify>("WEBHOOK"), Ok(OfflineNotify::Webhook));
        assert_eq!(read::<NotifyBearer>("wapPush"), Ok(NotifyBearer::WapPush));
        assert_eq!(
            read::<OversizePolicy>("Maybe"),
            Err("im.oversize_policy \"maybe\": use none, reject or charge".into())
        );
        assert_eq!(
            read::<NotifyBearer>("mms"),
            Err("im.offline_notify_bearer \"MMS\": use SMS or WAPPUSH".into())
        );
        assert_eq!(NotifyBearer::WapPush.to_string(), "WAPPUSH");
        assert_eq!(OfflineNotify::Log.as_str(), "log");
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert_eq!(parse_key("k", None), Ok(None));
        assert_eq!(parse_key("k", Some("")), Ok(None));
        assert_eq!(
            parse_key("k", Some("01")),
            Err("k must be 32 bytes (64 hex digits)".into())
        );
        assert_eq!(parse_key("k", Some("xy")), Err("k is not hex".into()));
        let hex = format!(" {} ", "ab".repeat(32));
        assert_eq!(parse_key("k", Some(&hex)), Ok(Some([0xab; 32])));
    }
}
