//! `imps-store-pg` is the PostgreSQL backend behind `imps_core::Store`, for
//! several impsd nodes sharing one database (issue 18). It implements every
//! store trait with the promises of the SQLite backend in `imps-store`
//! (the same logical schema, the same transactions, `Conflict` exactly
//! where SQLite gives one) and passes the same conformance suites.
//!
//! It must never decide protocol behaviour: it stores and returns what the
//! core asks for. Every call is async on the caller's runtime (the driver,
//! tokio-postgres, does its I/O there); connections come from a
//! deadpool-postgres pool, and each connection caches its prepared
//! statements. Driver and pool failures come back as
//! `StoreError::Backend` with what was being done, never as a panic.
//!
//! Where SQLite's single writer serializes a check and the write that
//! depends on it (a list limit, a group's size, a recipient's quota and
//! queue order), this backend takes a transaction-scoped advisory lock on
//! the thing checked (`rows::LockArea`), so concurrent transactions, from
//! this process or another node, keep the same promises.

mod accounts;
mod batch;
mod directory;
mod groups;
mod im;
mod lists;
mod migrations;
mod peers;
mod presence;
mod remote_joins;
mod rows;
mod sms;
mod ssp;
mod store;
mod sysmsg;

pub use migrations::latest_schema_version;
pub use store::{PgOptions, PgStore};
