//! Shared pieces of the end-to-end tests: the test kit (`imps-testkit`),
//! plus what needs this package's binary, whose path only its own tests
//! know (`CARGO_BIN_EXE_impsd`).
#![allow(dead_code)]

use std::path::Path;

pub use imps_testkit::*;

/// The real impsd binary, for tests that SIGKILL and restart it.
pub const IMPSD_BIN: &str = impsd_bin!();

/// Starts the real binary and waits for admin.json, which it writes once
/// bound; returns the child and the CSP URL. The caller kills the child.
pub fn spawn_real(cfg: &Path, data: &Path) -> (std::process::Child, String) {
    real::spawn_real(Path::new(IMPSD_BIN), cfg, data)
}

/// Runs an impsd command (`user add ...`, `session kick ...`) against the
/// config, asserting success; returns its standard output.
pub fn impsd_cli(cfg: &Path, args: &[&str]) -> String {
    real::impsd_cli(Path::new(IMPSD_BIN), cfg, args)
}
