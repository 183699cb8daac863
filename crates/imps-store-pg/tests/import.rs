//! Bulk import (`impsd user add-many --profiles`) across the store's
//! chunks: every user, profile and key arrives, and a conflict anywhere
//! in the batch leaves nothing behind, also from earlier chunks.

use imps_core::store::{
    Birth, ContactDetails, DirectoryStore, PublicProfile, Term, UserField, UserLeaf, search_key,
};
use imps_core::{AccountStore, NewUser, StoreError};

use crate::common::with_store;

fn batch(from: usize, n: usize) -> Vec<(NewUser, PublicProfile, ContactDetails)> {
    (from..from + n)
        .map(|i| {
            let id = format!("bulk{i:05}");
            let u = NewUser {
                id: id.clone(),
                password_hash: Some("h".into()),
                digest_secret: (i % 2 == 0).then(|| vec![1, 2, 3]),
                msisdn: (i % 3 == 0).then(|| format!("+4179{i:07}")),
                friendly_name: None,
                created_ms: 5,
            };
            let p = PublicProfile {
                friendly_name: Some(format!("Bulk {i}")),
                birth: Some(Birth {
                    year: 1980 + (i % 20) as u16,
                    month: 1 + (i % 12) as u8,
                }),
                country: Some(if i % 2 == 0 { "CH" } else { "FI" }.into()),
                city: (i % 5 == 0).then(|| "Zürich".to_string()),
                consent: i % 4 != 0,
                ..PublicProfile::default()
            };
            let d = ContactDetails {
                first_name: Some("Bulk".into()),
                last_name: None,
                email: Some(format!("b{i}@x.org")),
            };
            (u, p, d)
        })
        .collect()
}

#[tokio::test]
async fn pg_import_across_chunks_is_all_or_none() {
    with_store("pg_import_across_chunks", |s, _| async move {
        let users = batch(0, 2_500);
        s.import_users(users.clone()).await.unwrap();
        assert_eq!(s.list_users().await.unwrap().len(), 2_500);
        let (u, p, d) = &users[2_400];
        let got = s.user(&u.id).await.unwrap().unwrap();
        assert_eq!(
            (got.msisdn.as_deref(), got.digest_secret.as_deref()),
            (u.msisdn.as_deref(), u.digest_secret.as_deref())
        );
        assert_eq!(s.profile(&u.id).await.unwrap().as_ref(), Some(p));
        assert_eq!(s.contact_details(&u.id).await.unwrap().as_ref(), Some(d));
        // Leaves hold keys as the core makes them.
        let is = |f, k: &str| Term::Leaf(UserLeaf::Is(f, search_key(k)));
        assert_eq!(
            s.search_users(&is(UserField::Email, "B2400@X.org"), 5)
                .await
                .unwrap(),
            ["bulk02400"]
        );
        let zurich_listed = Term::All(vec![
            is(UserField::City, "zürich"),
            Term::Leaf(UserLeaf::Listed),
        ]);
        let want: Vec<String> = (0..2_500)
            .filter(|i| i % 5 == 0 && i % 4 != 0)
            .map(|i| format!("bulk{i:05}"))
            .collect();
        assert_eq!(s.search_users(&zurich_listed, 10_000).await.unwrap(), want);

        // A taken ID in the third chunk: nothing of the batch stays.
        let mut again = batch(10_000, 2_500);
        again[2_200].0.id = "bulk00007".into();
        assert!(matches!(
            s.import_users(again).await,
            Err(StoreError::Conflict(_))
        ));
        // Twice in one batch, and a taken MSISDN.
        let mut twice = batch(20_000, 3);
        twice[2].0.id = twice[0].0.id.clone();
        assert!(matches!(
            s.import_users(twice).await,
            Err(StoreError::Conflict(_))
        ));
        let mut msisdn = batch(30_001, 1);
        msisdn[0].0.msisdn = Some("+41790000003".into());
        match s.import_users(msisdn).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("msisdn"), "{m}"),
            other => panic!("a taken msisdn gave {other:?}"),
        }
        assert_eq!(s.list_users().await.unwrap().len(), 2_500, "all or none");
    })
    .await;
}
