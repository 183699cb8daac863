//! The SSP peer entries made at run time (issue 17); see
//! `imps_core::store::PeerStore` and `sql/0013_peers.sql` (and `0015_peer_client_cert.sql`).

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{PeerStore, StoredPeer};

use crate::PgStore;
use crate::rows::{col, exec, query};

#[async_trait]
impl PeerStore for PgStore {
    async fn put_peer(&self, p: StoredPeer) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO federation_peers (domain, url, sus, removed, require_client_cert)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (domain)
             DO UPDATE SET url = EXCLUDED.url, sus = EXCLUDED.sus, removed = EXCLUDED.removed,
                           require_client_cert = EXCLUDED.require_client_cert",
            &[
                &p.domain,
                &p.url,
                &p.sus,
                &p.removed,
                &p.require_client_cert,
            ],
            "recording a peer entry",
        )
        .await?;
        Ok(())
    }

    async fn stored_peers(&self) -> Result<Vec<StoredPeer>, StoreError> {
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT domain, url, sus, removed, require_client_cert
             FROM federation_peers ORDER BY domain",
            &[],
            "reading the peer entries",
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredPeer {
                    domain: col(r, 0)?,
                    url: col(r, 1)?,
                    sus: col(r, 2)?,
                    removed: col(r, 3)?,
                    require_client_cert: col(r, 4)?,
                })
            })
            .collect()
    }
}
