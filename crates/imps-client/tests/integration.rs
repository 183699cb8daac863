//! The integration tests of the client library and the imps tool, one
//! test binary.
//!
//! Each file under tests/ used to be its own test binary, compiled and
//! linked on its own; most of the CI time went to that. Here they are
//! modules of one binary (`autotests = false` in Cargo.toml), each file
//! where it was. Run one file with
//! `cargo test --release -p imps-client --test integration <file>::`.

// Shared helpers (directories with a mod.rs).
mod cli_common;
mod common;

// One module per test file.
mod cli_chat;
mod cli_convert;
mod cli_directory;
mod cli_manage;
mod cli_sysmsg;
mod cli_try_it;
mod cli_tui;
mod http;
mod ws;
