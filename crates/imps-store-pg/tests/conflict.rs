//! A unique violation (SQLSTATE 23505) is `StoreError::Conflict` exactly
//! where the SQLite backend says Conflict, and what was taken is named;
//! driver failures are `Backend`, never a panic.

use imps_core::store::{
    ContactDetails, GroupRecord, MessageBody, NewStoredMessage, PublicProfile, SysMessageRecord,
};
use imps_core::{AccountStore, GroupStore, MessageStore, NewUser, StoreError, SysmsgStore};
use imps_store_pg::{PgOptions, PgStore};

use crate::common::with_store;

fn user(id: &str, msisdn: Option<&str>) -> NewUser {
    NewUser {
        id: id.into(),
        password_hash: None,
        digest_secret: None,
        msisdn: msisdn.map(str::to_string),
        friendly_name: None,
        created_ms: 1,
    }
}

#[tokio::test]
async fn pg_unique_violations_are_conflicts() {
    with_store("pg_unique_violations", |s, _| async move {
        s.create_user(user("ann", Some("+15550001"))).await.unwrap();
        match s.create_user(user("ann", None)).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("user ann"), "{m}"),
            other => panic!("duplicate id gave {other:?}"),
        }
        match s.create_user(user("bea", Some("+15550001"))).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("msisdn +15550001"), "{m}"),
            other => panic!("duplicate msisdn gave {other:?}"),
        }
        assert!(s.user("bea").await.unwrap().is_none(), "nothing half-made");
        let batch = vec![(
            user("cal", Some("+15550001")),
            PublicProfile::default(),
            ContactDetails::default(),
        )];
        match s.import_users(batch).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("msisdn"), "{m}"),
            other => panic!("import with a taken msisdn gave {other:?}"),
        }

        let g = GroupRecord {
            id: "wv:ann/g@localhost".into(),
            owner: "ann".into(),
            private: false,
            props: vec![],
            welcome: None,
            created_ms: 1,
        };
        s.create_group(g.clone()).await.unwrap();
        assert!(matches!(
            s.create_group(g).await,
            Err(StoreError::Conflict(_))
        ));

        let m = NewStoredMessage {
            id: "m1".into(),
            sender: "ann".into(),
            sender_name: None,
            delivery_report: false,
            created_ms: 1,
            expires_ms: None,
            body: MessageBody {
                content_type: "text/plain".into(),
                data: "x".into(),
                ..MessageBody::default()
            },
            recipients: vec![("bob".into(), None)],
            client_ref: None,
            quota: None,
            remote: Vec::new(),
            remote_max: 0,
        };
        s.put_message(m.clone(), 0).await.unwrap();
        let mut again = m;
        again.recipients = vec![("cat".into(), None)];
        assert!(matches!(
            s.put_message(again, 0).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.pending_count("cat").await, Ok(0), "rolled back whole");

        let sm = SysMessageRecord {
            id: "s1".into(),
            text: "hi".into(),
            options: vec![],
            requires_response: false,
            everyone: true,
            origin: "operator".into(),
            created_ms: 1,
        };
        s.put_sysmsg(sm.clone(), &[]).await.unwrap();
        assert!(matches!(
            s.put_sysmsg(sm, &["ann".to_string()]).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(s.sysmsg_deliveries("s1").await.unwrap().is_empty());
    })
    .await;
}

/// No server at the address: the open fails with a backend error that
/// says what failed. Needs no PostgreSQL, so it always runs.
#[tokio::test]
async fn unreachable_server_is_a_backend_error() {
    let opts = PgOptions {
        url: "postgres://postgres@127.0.0.1:1/test".into(),
        connect_timeout_ms: 2_000,
        wait_timeout_ms: 2_000,
        ..PgOptions::default()
    };
    match PgStore::open(opts).await {
        Err(StoreError::Backend(m)) => assert!(m.contains("postgres"), "{m}"),
        other => panic!("open without a server gave {other:?}"),
    }
    let bad = PgOptions {
        url: "not a url at all ::".into(),
        ..PgOptions::default()
    };
    assert!(matches!(
        PgStore::open(bad).await,
        Err(StoreError::Backend(_))
    ));
    let bad_schema = PgOptions {
        url: "postgres://postgres@127.0.0.1:1/test".into(),
        schema: Some("x; DROP TABLE users".into()),
        ..PgOptions::default()
    };
    assert!(matches!(
        PgStore::open(bad_schema).await,
        Err(StoreError::Backend(_))
    ));
}
