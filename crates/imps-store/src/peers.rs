//! SQLite table of the SSP peer entries made at run time; see
//! `imps_core::store::PeerStore` and `sql/0017_peers.sql` (and `0019_peer_client_cert.sql`).

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{PeerStore, StoredPeer};

use crate::SqliteStore;
use crate::rows::backend;

#[async_trait]
impl PeerStore for SqliteStore {
    async fn put_peer(&self, p: StoredPeer) -> Result<(), StoreError> {
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "INSERT INTO federation_peers (domain, url, sus, removed, require_client_cert)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (domain)
                     DO UPDATE SET url = excluded.url, sus = excluded.sus,
                                   removed = excluded.removed,
                                   require_client_cert = excluded.require_client_cert",
                )
                .and_then(|mut s| {
                    s.execute((&p.domain, &p.url, p.sus, p.removed, p.require_client_cert))
                })
                .map_err(|e| backend("recording a peer entry", e))?;
                Ok(())
            })
            .await
    }

    async fn stored_peers(&self) -> Result<Vec<StoredPeer>, StoreError> {
        self.read_lane()
            .run(|c| {
                c.prepare_cached(
                    "SELECT domain, url, sus, removed, require_client_cert
                     FROM federation_peers ORDER BY domain",
                )
                .and_then(|mut st| {
                    st.query_map([], |r| {
                        Ok(StoredPeer {
                            domain: r.get(0)?,
                            url: r.get(1)?,
                            sus: r.get(2)?,
                            removed: r.get(3)?,
                            require_client_cert: r.get(4)?,
                        })
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                })
                .map_err(|e| backend("reading the peer entries", e))
            })
            .await
    }
}
