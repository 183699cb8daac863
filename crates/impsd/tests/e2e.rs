//! The end-to-end tests of impsd, one test binary.
//!
//! Each file under tests/ used to be its own test binary; every one of them
//! compiled and linked the whole async stack again (tokio, axum, the client,
//! the test kit), which made most of the CI time. Here they are modules of
//! one binary (`autotests = false` in Cargo.toml), each file where it was,
//! so a test is still `tests/<file>.rs::<name>`. Run one file with
//! `cargo test --workspace --profile ci --test e2e <file>::`.

// Shared helpers (directories with a mod.rs).
mod android_common;
mod common;
mod groups_common;
mod im_common;
mod lists_common;
mod presence_common;
mod smsc_common;
mod web_common;

// One module per test file.
mod admin_effect;
mod admin_tls;
mod android_replay;
mod body_limit;
mod cir_udp;
mod cli_users;
mod cluster;
mod conn_limits;
mod digest_default;
mod fed;
mod fed_batch;
mod fed_cluster;
mod fed_group_invite;
mod fed_groups;
mod fed_groups_admin;
mod fed_groups_restart;
mod fed_peers;
mod fed_presence;
mod fed_search;
mod fed_sus;
mod fed_tls;
mod groups;
mod groups_admin;
mod groups_fanout;
mod groups_privacy;
mod groups_restart;
mod groups_segments;
mod healthz;
mod hostile;
mod id_forms;
mod im;
mod im_durability;
mod im_early;
mod im_imr;
mod im_limits;
mod im_offline;
mod im_overload;
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
mod login_storm;
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
mod push_answers;
mod push_shared;
mod restart;
mod search;
mod serve_runtime;
mod session;
mod session_id_logs;
mod sessions;
mod sms;
mod store_postgres;
mod sysmsg;
mod sysmsg_cli;
mod testkit_real;
mod transport;
mod web;
mod ws_frames;

/// A test file nobody declared above would never run (`autotests = false`
/// finds nothing by itself): every `tests/*.rs` and every helper directory
/// must have its `mod` line here.
#[test]
fn every_test_file_is_declared() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let me = include_str!("e2e.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests dir") {
        let path = entry.expect("dir entry").path();
        let name = if path.is_dir() && path.join("mod.rs").exists() {
            path.file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem()
                .and_then(|n| n.to_str())
                .map(str::to_string)
        } else {
            None
        };
        if let Some(n) = name.filter(|n| n != "e2e")
            && !me.lines().any(|l| l.trim() == format!("mod {n};"))
        {
            missing.push(n);
        }
    }
    assert!(
        missing.is_empty(),
        "not declared in tests/e2e.rs: {missing:?}"
    );
}
