//! Every conformance suite of imps-store (the same functions the SQLite
//! backend and the reference MemStore pass), on PostgreSQL.

use imps_store::{
    conformance, conformance_directory, conformance_groups, conformance_lists, conformance_peers,
    conformance_presence, conformance_remote_joins, conformance_sms, conformance_ssp,
    conformance_sysmsg,
};

use crate::common::with_store;

#[tokio::test]
async fn pg_store_passes_conformance() {
    with_store("pg_store_passes_conformance", |s, _| async move {
        conformance::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_list_conformance() {
    with_store("pg_store_passes_list_conformance", |s, _| async move {
        conformance_lists::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_presence_conformance() {
    with_store("pg_store_passes_presence_conformance", |s, _| async move {
        conformance_presence::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_groups_conformance() {
    with_store("pg_store_passes_groups_conformance", |s, _| async move {
        conformance_groups::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_sysmsg_conformance() {
    with_store("pg_store_passes_sysmsg_conformance", |s, _| async move {
        conformance_sysmsg::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_directory_conformance() {
    with_store("pg_store_passes_directory_conformance", |s, _| async move {
        conformance_directory::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_sms_conformance() {
    with_store("pg_store_passes_sms_conformance", |s, _| async move {
        conformance_sms::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_remote_joins_conformance() {
    with_store(
        "pg_store_passes_remote_joins_conformance",
        |s, _| async move {
            conformance_remote_joins::run_all(&*s).await;
        },
    )
    .await;
}

#[tokio::test]
async fn pg_store_passes_peers_conformance() {
    with_store("pg_store_passes_peers_conformance", |s, _| async move {
        conformance_peers::run_all(&*s).await;
    })
    .await;
}

#[tokio::test]
async fn pg_store_passes_ssp_conformance() {
    with_store("pg_store_passes_ssp_conformance", |s, _| async move {
        conformance_ssp::run_all(&*s).await;
        conformance_ssp::a_failing_inbound_batch_writes_nothing(&*s).await;
    })
    .await;
}

/// Every suite on one store, one after the other: the suites use their
/// own IDs, and must not see each other's rows as theirs.
#[tokio::test]
async fn pg_store_passes_every_suite_on_one_store() {
    with_store("pg_store_every_suite", |s, _| async move {
        conformance::run_all(&*s).await;
        conformance_lists::run_all(&*s).await;
        conformance_presence::run_all(&*s).await;
        conformance_groups::run_all(&*s).await;
        conformance_sysmsg::run_all(&*s).await;
    })
    .await;
}
