//! The PostgreSQL backend's tests, one test binary. Each runs against the
//! server named by `IMPSD_TEST_PG_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`), in a schema of its own that
//! it drops at the end; without the variable each test says that it
//! skipped and passes. Run one file with
//! `cargo test --release -p imps-store-pg --test pg <file>::`.
#![allow(clippy::unwrap_used)]

mod batch;
mod common;
mod conflict;
mod conformance;
mod im;
mod import;
mod migrations;
