//! The peer entries' part of the conformance suite (issue 17): what every
//! backend must do with the SSP peer entries an operator made at run
//! time (`impsd peer add|remove`). Test-support code: a failure panics
//! saying which promise the backend broke. The store must start with no
//! entry; the check leaves its entries behind.

use imps_core::Store;
use imps_core::store::StoredPeer;

fn peer(domain: &str, url: &str, sus: bool, removed: bool) -> StoredPeer {
    StoredPeer {
        domain: domain.into(),
        url: url.into(),
        sus,
        removed,
        require_client_cert: false,
    }
}

/// Runs every check against `store`.
pub async fn run_all(store: &dyn Store) {
    entries_are_kept_in_domain_order_and_replaced(store).await;
}

async fn all(store: &dyn Store) -> Vec<StoredPeer> {
    store.stored_peers().await.expect("stored_peers")
}

async fn entries_are_kept_in_domain_order_and_replaced(store: &dyn Store) {
    assert_eq!(all(store).await, vec![], "none at first");
    let b = peer("b.example", "http://b.example:8080/imps", false, false);
    let a = peer("a.example", "https://imps.a.example/imps", true, false);
    store.put_peer(b.clone()).await.expect("put b");
    store.put_peer(a.clone()).await.expect("put a");
    assert_eq!(
        all(store).await,
        vec![a.clone(), b.clone()],
        "domain order, every field kept"
    );
    // A removal replaces the entry of its domain, and back.
    let gone = peer("b.example", "", false, true);
    store.put_peer(gone.clone()).await.expect("remove b");
    assert_eq!(
        all(store).await,
        vec![a.clone(), gone],
        "removal kept as a row"
    );
    let back = peer("b.example", "http://10.0.0.2:80/imps", true, false);
    store.put_peer(back.clone()).await.expect("add b again");
    assert_eq!(
        all(store).await,
        vec![a.clone(), back.clone()],
        "replaced, not added"
    );
    // The client certificate requirement is kept, and replaced with the
    // entry (an entry put again without it no longer requires one).
    let strict = StoredPeer {
        require_client_cert: true,
        ..back.clone()
    };
    store
        .put_peer(strict.clone())
        .await
        .expect("b requires a cert");
    assert_eq!(
        all(store).await,
        vec![a.clone(), strict],
        "requirement kept"
    );
    store.put_peer(back.clone()).await.expect("b again without");
    assert_eq!(all(store).await, vec![a, back], "requirement replaced");
}
