//! The end-to-end tests of impsd, one test binary.
//!
//! Each file under tests/ used to be its own test binary; every one of them
//! compiled and linked the whole async stack again (tokio, axum, the client,
//! the test kit), which made most of the CI time. Here they are modules of
//! one binary (`autotests = false` in Cargo.toml), each file where it was,
//! so a test is still `tests/<file>.rs::<name>`. Run one file with
//! `cargo test --release -p impsd --test e2e <file>::`.

// Shared helpers (directories with a mod.rs).
mod common;
mod groups_common;
mod im_common;
mod lists_common;
mod presence_common;

// One module per test file.
mod admin_effect;
mod body_limit;
mod cli_users;
mod conn_limits;
mod digest_default;
mod groups;
mod groups_admin;
mod groups_privacy;
mod groups_restart;
mod groups_segments;
mod hostile;
mod im;
mod im_durability;
mod im_imr;
mod im_limits;
mod im_offline;
mod im_policy;
mod im_restart;
mod im_sessions;
mod im_storm;
mod inv;
mod limits;
mod lists;
mod lists_adc;
mod lists_block;
mod lists_restart;
mod lists_segments;
mod login_throttle;
mod msisdn;
mod observability;
mod pgc;
mod pgc_rules;
mod pgc_uc;
mod presence;
mod presence_auth;
mod presence_block;
mod presence_fanout;
mod presence_lists;
mod presence_map;
mod presence_restart;
mod presence_split;
mod push;
mod restart;
mod session;
mod session_id_logs;
mod sessions;
mod testkit_real;
mod transport;
