//! Test kit for the end-to-end tests: one way to start a server, make
//! users, log them in and wait for what the server sends them. A
//! dev-dependency only (never published).
//!
//! # A server
//!
//! In this process, every listener on a port the OS picks and a fresh
//! temporary data dir:
//!
//! ```no_run
//! # async fn example() {
//! use imps_testkit::TestServer;
//!
//! let clock = imps_core::FakeClock::new(1_000_000);
//! let srv = TestServer::builder()
//!     .config(|c| c.session.keepalive_max_secs = 30) // from test_config()
//!     .fake_clock(clock.clone())                     // optional
//!     .start()
//!     .await;
//! srv.service().expire_idle().await; // the core, for what tests trigger
//! # }
//! ```
//!
//! The real binary, for admin commands, `/metrics` as an operator sees it,
//! SIGKILL and restart. Only the `impsd` package's tests know the binary's
//! path, which [`impsd_bin!`] gives them:
//!
//! ```text
//! let mut srv = imps_testkit::RealServer::builder(imps_testkit::impsd_bin!())
//!     .config(|c| c.log = "info".into())
//!     .start(); // waits until it listens (admin.json written)
//! srv.add_user("alice", "pw"); // `impsd user add` against its config
//! srv.cli(&["session", "list"]);
//! srv.restart(); // SIGKILL, then start again on the same data
//! ```
//!
//! Both start from [`test_config`]: digest login on with [`TEST_KEY`],
//! log level `warn`.
//!
//! # Users
//!
//! ```no_run
//! # async fn example(srv: imps_testkit::TestServer) {
//! # use imps_client::{Encoding, Version};
//! srv.add_users(&["alice", "bob"], imps_testkit::DEFAULT_PASSWORD).await;
//! let alice = srv.login("alice").await;          // HTTP, 1.3 XML, ready
//! let bob = srv.login("bob").combo((Version::V1_2, Encoding::Wbxml)).ws().await;
//! let id = alice.send_text("bob", "hello").await; // asserts 200
//! let m = bob.receive().await;                    // waits, acknowledges
//! assert_eq!(m.content_data.as_deref(), Some("hello"));
//! # }
//! ```
//!
//! A [`TestUser`] derefs to its `imps_client::Client` for anything else.
//!
//! # Waiting
//!
//! Nothing here sleeps a fixed time. A wait ends on the event: a push over
//! WebSocket, or polling with a short growing pause ([`Backoff`]) until it
//! arrives, bounded by a timeout ([`DEFAULT_TIMEOUT`]) that fails the test.
//! Tests wait for their own conditions the same way with [`wait_until`]
//! and [`wait_for`].
//!
//! # In `crates/impsd/tests`
//!
//! `tests/common/mod.rs` (a test file says `use crate::common;`; the files
//! are modules of one test binary, `tests/e2e.rs`) re-exports the kit and
//! adds what needs the binary's path (`IMPSD_BIN`, and `spawn_real` /
//! `impsd_cli` without the path argument), so older tests read as before.

mod http;
pub mod https;
pub mod real;
mod server;
pub mod store;
mod user;
pub mod wait;

pub use http::{get_text, post_raw};
pub use https::{HttpsTransport, https_get_text};
pub use real::{RealServer, RealServerBuilder, real_config, real_config_db};
pub use server::{TEST_KEY, TestServer, TestServerBuilder, test_config};
pub use store::{TestDb, on_postgres, skipped, store_toml};
pub use user::{DEFAULT_PASSWORD, Inbox, Login, TestUser, uid};
pub use wait::{Backoff, DEFAULT_TIMEOUT, poll_for, wait_for, wait_until};

use imps_client::{Encoding, Version};

/// The version/encoding pairs the end-to-end tests run in.
pub fn combos() -> Vec<(Version, Encoding)> {
    vec![
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_1, Encoding::Xml),
    ]
}

/// The Result/Code of a response element (Result directly, or in Status).
pub fn code_of(e: &imps_client::Element) -> Option<u16> {
    imps_client::status_of(e).map(|(c, _)| c)
}
