//! The integration tests of the store backends, one test binary.
//!
//! Each file under tests/ used to be its own test binary, compiled and
//! linked on its own; most of the CI time went to that. Here they are
//! modules of one binary (`autotests = false` in Cargo.toml), each file
//! where it was. Run one file with
//! `cargo test --release -p imps-store --test integration <file>::`.

// One module per test file.
mod conformance;
mod conformance_directory;
mod conformance_groups;
mod conformance_lists;
mod conformance_peers;
mod conformance_presence;
mod conformance_remote_joins;
mod conformance_sms;
mod conformance_ssp;
mod conformance_sysmsg;
mod durability;
mod lifecycle;
mod search_differential;
