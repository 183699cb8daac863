//! `imps-core` is the IMPS service itself: sessions and login, service and
//! capability negotiation, and (as they land) presence, lists, IM and
//! groups. It takes typed CSP messages from `imps-wire` and answers them.
//!
//! It must never name HTTP, sockets, SQL or NATS: durable state goes
//! through the [`Store`] trait, time through the [`Clock`] trait, and the
//! transports in `impsd` deliver what it queues for each session.

pub mod auth;
mod base;
pub mod cir;
pub mod clock;
pub mod cluster;
pub mod config;
mod directory;
pub mod error;
pub mod federation;
mod groups;
pub mod ids;
mod im;
mod keyed;
mod lists;
pub mod map;
mod presence;
mod rate;
pub mod refusal;
pub mod reply;
pub mod router;
pub mod service;
pub mod session;
pub mod stats;
pub mod store;
mod sysmsg;
pub mod txlog;
pub mod users;
pub mod workers;

pub use clock::{Clock, FakeClock, SystemClock};
pub use config::CoreConfig;
pub use directory::{ProfileConsent, SEARCH_DEFAULTS, SearchConfig};
pub use error::CoreError;
pub use groups::{GROUPS_DEFAULTS, GroupsConfig, MemberListPolicy};
pub use im::{ImFigures, LogNotifier, OfflineNotice, OfflineNotifier, OfflinePrompt, SendOrder};
pub use lists::{LISTS_DEFAULTS, ListsConfig};
pub use map::{MAP_DEFAULTS, MapConfig, MapMode, MapProvider};
pub use presence::{PRESENCE_DEFAULTS, PresenceConfig};
pub use refusal::Answer;
pub use router::{LocalRouter, Recipient, Router};
pub use service::{RequestCtx, Service};
pub use session::{LOGIN_THROTTLE_DEFAULTS, LoginThrottleConfig, Session, SessionRegistry};
pub use session::{PASSWORD_DEFAULTS, PasswordConfig};
pub use store::{
    AccountStore, DirectoryStore, GroupStore, ListStore, MemStore, MessageStore, NewUser,
    PresenceStore, SessionRecord, Store, StoreError, SysmsgStore, UserRecord,
};
pub use sysmsg::{
    Audience, NewSystemMessage, OlderClients, SYSMSG_DEFAULTS, SentSystemMessage, SysmsgConfig,
    SysmsgTexts, SystemMessageSummary, TermsConfig, TermsOption,
};
