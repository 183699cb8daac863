//! `imps-store` holds the durable-storage backends behind `imps_core::Store`:
//! embedded SQLite now (the default, one file next to the server), PostgreSQL
//! later, plus the [`conformance`] suite every backend must pass so that the
//! core behaves the same whichever one the server is configured with.
//!
//! It must never decide protocol behaviour: it stores and returns what the
//! core asks for, and reports conflicts and failures in `StoreError` terms
//! for the core to map to IMPS status codes. It must never hold a lock
//! across an `.await` nor block the async runtime on disk I/O: all SQLite
//! work runs on dedicated threads fed through bounded queues.

pub mod conformance;
pub mod conformance_directory;
pub mod conformance_groups;
pub mod conformance_im;
pub mod conformance_lists;
pub mod conformance_peers;
pub mod conformance_presence;
pub mod conformance_remote_joins;
pub mod conformance_sms;
pub mod conformance_ssp;
pub mod conformance_sysmsg;
mod directory;
mod groups;
mod im;
mod lists;
mod migrations;
mod peers;
mod presence;
mod queries;
mod remote_joins;
mod rows;
mod sms;
mod sqlite;
mod ssp;
mod sysmsg;
mod worker;

pub use migrations::latest_schema_version;
pub use sqlite::{SqliteOptions, SqliteStore};
