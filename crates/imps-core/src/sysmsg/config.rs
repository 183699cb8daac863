//! The `[sysmsg]` settings; defaults in [`SYSMSG_DEFAULTS`].

use std::collections::BTreeMap;

/// System messages: limits, the terms asked before login, and which
/// clients are refused with a word of why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SysmsgConfig {
    /// Longest message or option text accepted, in characters (SYM-8 and
    /// SYM-9 ask for 128 always and 512 where possible).
    pub max_text_chars: usize,
    /// Most answer options in one message.
    pub max_options: usize,
    /// Most due messages a session is sent when it becomes ready; the rest
    /// follow at the next session.
    pub max_per_session: usize,
    /// Protocol versions refused at login (SYM-3), as `1.1`, `1.2`, `1.3`.
    pub refuse_versions: Vec<String>,
    /// Client releases refused at login (SYM-2): a login whose ClientID
    /// (URL or MSISDN) or ApplicationID contains one of these, ignoring
    /// case, is told why and refused.
    pub refuse_clients: Vec<String>,
    /// What a refused client is told; a built-in sentence when empty.
    pub refusal_text: String,
    /// Terms every user answers before a login completes; none when unset.
    pub terms: Option<TermsConfig>,
    /// Most logins waiting for an answer to the terms at once.
    pub max_pending_logins: usize,
    /// A welcome message at each user's first 1.3 session.
    pub welcome: bool,
    /// "X added you to their contact list", with an option to add X back
    /// that the server carries out (SYM-UC); users who opted out of ADC-3
    /// notices, block X or have X on a list already are not told.
    pub added_notice: bool,
    /// Privacy advice when a user lets everyone see some of their presence
    /// (an attribute list for DefaultList), and when a user publishes a
    /// location that users authorized earlier can see; each once per
    /// session (SYM-UC).
    pub privacy_advice: bool,
    /// Offline notifications (the IM area's notifier) carry a system
    /// message with options to log in or ignore (SYM-UC, 5.14.3).
    pub offline_prompt: bool,
    /// After this many refused requests in a row, a session is sent help
    /// (once per session) with an option not to be shown help again,
    /// which the user can take back by answering the `help` message with
    /// its first option; 0 = never.
    pub help_after_errors: u32,
    /// A user registered by their MSISDN (REG-UC) is asked, in a system
    /// message at their first 1.3 session, to choose a friendly name in
    /// their public profile.
    pub ask_friendly_name: bool,
    /// The language of server text when the client names none or one
    /// without texts; empty means `en`.
    pub default_language: String,
    /// Server text by language (`en`, `de`, ...): the client's
    /// `DefaultLanguage` picks one. Empty fields, and languages not here,
    /// use the built-in English.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, SysmsgTexts>,
}

/// Server text in one language. `{user}` stands for the other user's ID.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SysmsgTexts {
    pub welcome: String,
    pub added: String,
    pub add_back: String,
    pub ignore: String,
    pub help: String,
    pub help_ok: String,
    pub help_off: String,
    pub offline: String,
    pub offline_login: String,
    pub offline_ignore: String,
    pub privacy: String,
    pub privacy_ok: String,
    pub profile: String,
    pub profile_agree: String,
    pub profile_decline: String,
    pub register: String,
    pub register_ok: String,
    pub profile_needs: String,
    pub profile_needs_ok: String,
    pub privacy_location: String,
    pub help_is_on: String,
    pub help_is_off: String,
}

/// The built-in English texts.
pub const BUILTIN_TEXTS: [(&str, &str); 22] = [
    (
        "welcome",
        "Welcome! You can now chat, share your presence and join groups.",
    ),
    ("added", "{user} added you to their contact list."),
    ("add_back", "Add {user} to my contacts"),
    ("ignore", "No, thanks"),
    (
        "help",
        "Several requests were refused. Check the user IDs you type (wv:name@domain) and that your contacts accept you; your operator's help pages say more.",
    ),
    ("help_ok", "OK"),
    ("help_off", "Don't show help again"),
    ("offline", "New messages are waiting for you."),
    ("offline_login", "Log in"),
    ("offline_ignore", "Ignore"),
    (
        "privacy",
        "Everyone who knows your user ID can now see the presence you share with all. To share less, change who may see your presence.",
    ),
    ("privacy_ok", "OK"),
    (
        "profile",
        "Your public profile is complete. If you agree, other users can find you by it: they see your friendly name, age, gender, intention, interests, marital status, city, country and free text, never your name, number or e-mail.",
    ),
    ("profile_agree", "Make me searchable"),
    ("profile_decline", "Keep me hidden"),
    (
        "register",
        "Welcome! Your user ID is {user}, and others see it as your name until you choose a friendly name in your public profile.",
    ),
    ("register_ok", "OK"),
    (
        "profile_needs",
        "To search public profiles, first fill in your own friendly name, age and country. Once you agree to it, others can find you by your profile too: they see your friendly name and profile, never your name, number or e-mail.",
    ),
    ("profile_needs_ok", "OK"),
    (
        "privacy_location",
        "Your location is now visible to the people you allowed to see it earlier. To share it with fewer people, change who may see your presence.",
    ),
    (
        "help_is_on",
        "Help is on: it is offered after several refused requests.",
    ),
    (
        "help_is_off",
        "Help is off: you chose not to be shown it. Choose the first option to turn it on again.",
    ),
];

/// The defaults.
pub const SYSMSG_DEFAULTS: SysmsgConfig = SysmsgConfig {
    max_text_chars: 512,
    max_options: 8,
    max_per_session: 8,
    refuse_versions: Vec::new(),
    refuse_clients: Vec::new(),
    refusal_text: String::new(),
    terms: None,
    max_pending_logins: 10_000,
    welcome: false,
    added_notice: false,
    help_after_errors: 0,
    offline_prompt: false,
    privacy_advice: false,
    ask_friendly_name: true,
    default_language: String::new(),
    texts: BTreeMap::new(),
};

impl Default for SysmsgConfig {
    fn default() -> Self {
        SYSMSG_DEFAULTS
    }
}

/// The operator's terms (or advice of charge): asked in the Login-Response
/// of a user who has not agreed to this version, answered in the next
/// Login-Request (SYM-6, SYM-7, SYM-17).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TermsConfig {
    /// Changing it asks every user again.
    pub version: String,
    pub text: String,
    /// The answers; each decides a level of service (SYM-11).
    pub options: Vec<TermsOption>,
    /// Seconds a login waits for the answer; a later answer is refused
    /// (408) and the login starts over (SYM-14). 0 means 300.
    pub timeout_secs: u64,
    /// What a client before CSP 1.3 (which cannot show the terms) gets.
    pub older_clients: OlderClients,
}

/// One answer to the terms.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TermsOption {
    pub text: String,
    /// Functions this answer leaves out: features (`IMFeat`), function
    /// groups (`IMSendFunc`) or codes (`MDELIV`), as in `services.disabled`.
    pub withhold: Vec<String>,
    /// This answer declines: the login is refused (403).
    pub deny: bool,
}

/// How clients that cannot show system messages are treated when terms
/// are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OlderClients {
    /// Refused (403), with the reason in the Description: the terms cannot
    /// be agreed to without seeing them.
    #[default]
    Refuse,
    /// Let in with the level of the first option that does not deny.
    Admit,
}

impl TermsConfig {
    /// The seconds a login waits for the answer.
    pub fn timeout(&self) -> u64 {
        if self.timeout_secs == 0 {
            300
        } else {
            self.timeout_secs
        }
    }

    /// The option with this ID (options are numbered from 1).
    pub fn option(&self, id: u64) -> Option<&TermsOption> {
        let i = usize::try_from(id.checked_sub(1)?).ok()?;
        self.options.get(i)
    }

    /// The `SystemMessageID` the terms of this version travel under.
    pub fn message_id(&self) -> String {
        format!("terms-{}", self.version)
    }
}

impl SysmsgTexts {
    fn field(&self, key: &str) -> &str {
        match key {
            "welcome" => &self.welcome,
            "added" => &self.added,
            "add_back" => &self.add_back,
            "ignore" => &self.ignore,
            "help" => &self.help,
            "help_ok" => &self.help_ok,
            "help_off" => &self.help_off,
            "offline" => &self.offline,
            "offline_login" => &self.offline_login,
            "offline_ignore" => &self.offline_ignore,
            "privacy" => &self.privacy,
            "privacy_ok" => &self.privacy_ok,
            "profile" => &self.profile,
            "profile_agree" => &self.profile_agree,
            "profile_decline" => &self.profile_decline,
            "register" => &self.register,
            "register_ok" => &self.register_ok,
            "profile_needs" => &self.profile_needs,
            "profile_needs_ok" => &self.profile_needs_ok,
            "privacy_location" => &self.privacy_location,
            "help_is_on" => &self.help_is_on,
            "help_is_off" => &self.help_is_off,
            _ => "",
        }
    }
}

impl SysmsgConfig {
    /// The text `key` in `language` (else the default language, else
    /// built-in English), with `{user}` filled in.
    pub fn text(&self, key: &str, language: Option<&str>, user: &str) -> String {
        let default = if self.default_language.trim().is_empty() {
            "en"
        } else {
            self.default_language.trim()
        };
        let lookup = |lang: &str| {
            self.texts
                .get(lang)
                .map(|t| t.field(key))
                .filter(|t| !t.trim().is_empty())
        };
        let template = language
            .and_then(|l| lookup(l).or_else(|| lookup(l.split(['-', '_']).next().unwrap_or(l))))
            .or_else(|| lookup(default))
            .or_else(|| {
                BUILTIN_TEXTS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, t)| *t)
            })
            .unwrap_or_default();
        template.replace("{user}", user)
    }

    /// Whether these settings make sense; the reason when not.
    pub fn validate(&self) -> Result<(), String> {
        for (lang, t) in &self.texts {
            for (key, _) in BUILTIN_TEXTS {
                if t.field(key).chars().count() > self.max_text_chars {
                    return Err(format!(
                        "sysmsg.texts.{lang}.{key} is longer than max_text_chars"
                    ));
                }
            }
        }
        if self.max_text_chars < 128 {
            return Err("sysmsg.max_text_chars below 128 (SYM-8)".into());
        }
        for v in &self.refuse_versions {
            if imps_wire::Version::parse(v).is_none() {
                return Err(format!("sysmsg.refuse_versions: unknown version {v:?}"));
            }
        }
        if self.refuse_clients.iter().any(|c| c.trim().is_empty()) {
            return Err("sysmsg.refuse_clients holds an empty pattern".into());
        }
        let Some(t) = &self.terms else {
            return Ok(());
        };
        if t.version.trim().is_empty() || t.text.trim().is_empty() {
            return Err("sysmsg.terms needs a version and a text".into());
        }
        if t.text.chars().count() > self.max_text_chars {
            return Err("sysmsg.terms.text is longer than sysmsg.max_text_chars".into());
        }
        if t.timeout_secs > 86_400 {
            return Err("sysmsg.terms.timeout_secs above a day".into());
        }
        if t.options.is_empty() || t.options.len() > self.max_options {
            return Err(format!(
                "sysmsg.terms needs 1 to {} options",
                self.max_options
            ));
        }
        if !t.options.iter().any(|o| !o.deny) {
            return Err("sysmsg.terms: every option denies access".into());
        }
        for o in &t.options {
            if o.text.trim().is_empty() || o.text.chars().count() > self.max_text_chars {
                return Err(
                    "sysmsg.terms: an option without text, or longer than max_text_chars".into(),
                );
            }
            if let Some(n) = o
                .withhold
                .iter()
                .find(|n| !crate::session::is_function_name(n))
            {
                return Err(format!(
                    "sysmsg.terms: {n:?} is not a feature, function group or function code"
                ));
            }
        }
        Ok(())
    }
}
