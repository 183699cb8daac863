//! The server on the PostgreSQL store (`[store] kind = "postgres"`): it
//! starts, serves, and what it acknowledged is in the database, so a
//! restart finds it. Runs against `IMPSD_TEST_PG_URL` in a schema of its
//! own (dropped at the end); without the variable it says it skipped.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_client::{Encoding, Version};
use imps_core::NewUser;

use crate::common::{TestDb, TestServer};
use crate::im_common::{PW, ack, content, expect, msg_id, online, send_ok, text_to};

const URL_VAR: &str = "IMPSD_TEST_PG_URL";

#[tokio::test]
async fn server_on_postgres_keeps_a_message_across_a_restart() {
    let Ok(url) = std::env::var(URL_VAR) else {
        let line = format!(
            "SKIPPED server_on_postgres_keeps_a_message_across_a_restart: {URL_VAR} is not set, \
             so there is no PostgreSQL server to run impsd on\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        return;
    };
    let schema = TestDb::at(url);
    let mut srv = TestServer::builder()
        .config(|c| {
            schema.apply(c);
        })
        .start()
        .await;
    // The synchronous opener is SQLite's only; it says so.
    assert!(impsd::open_store(&srv.cfg).is_err());
    let store = impsd::connect_store(&srv.cfg).await.unwrap();
    let hash = imps_core::auth::hash_password(PW).unwrap();
    for id in ["alice", "bob"] {
        store
            .create_user(NewUser {
                id: id.into(),
                password_hash: Some(hash.clone()),
                digest_secret: None,
                msisdn: None,
                friendly_name: None,
                created_ms: 0,
            })
            .await
            .unwrap();
    }
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    let id = send_ok(&alice, text_to("alice", &["bob"], "kept in PostgreSQL ☺")).await;
    alice.logout().await.unwrap();

    srv.restart().await;
    let bob = online(&srv, v, e, "bob", "phone").await;
    let (tid, m) = expect(&bob, "NewMessage").await;
    assert_eq!(msg_id(&m), id);
    assert_eq!(content(&m), "kept in PostgreSQL ☺");
    ack(&bob, &tid, &id).await;
    bob.logout().await.unwrap();
    srv.stop().await;
    assert!(
        !srv.cfg.store_path().exists(),
        "nothing went to the SQLite file"
    );
}
