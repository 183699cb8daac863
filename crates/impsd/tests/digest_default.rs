//! Issue 13: digest login works on a fresh install. A client engine whose
//! default is the 4-way login (MD5 and SHA offered) gets in without the
//! operator having configured a key: impsd makes one in its data dir at
//! first start, readable by its owner only, and keeps it across restarts.

use crate::common;

use common::{RealServer, impsd_bin};
use imps_client::{Client, ClientConfig, Encoding, Version};

#[tokio::test]
async fn quirk_digest_login_works_on_a_fresh_install() {
    let mut srv = RealServer::builder(impsd_bin!())
        .config(|c| c.login = impsd::config::LoginConfig::default())
        .start();
    let key_file = srv.data_dir().join("secret.key");
    let key = std::fs::read_to_string(&key_file).expect("a key was made at first start");
    assert_eq!(key.trim().len(), 64, "32 bytes as hex");
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner only: {mode:o}");
    }
    let log = std::fs::read_to_string(srv.log_path()).unwrap_or_default();
    assert!(!log.contains(key.trim()), "the key is never logged");

    // The admin command seals the new user's digest secret with that key.
    srv.add_user("dora", "explorer");
    let login_all = |label: &'static str, url: String| async move {
        for (v, e) in [
            (Version::V1_1, Encoding::Xml),
            (Version::V1_2, Encoding::Wbxml),
            (Version::V1_3, Encoding::Xml),
        ] {
            for schemas in [&["MD5", "SHA"][..], &["SHA"][..], &["MD5"][..]] {
                let id = format!("phone-{label}-{v}-{e:?}-{}", schemas.join(""));
                let c = Client::new(ClientConfig::new(&url, v, e).with_client_id(&id)).unwrap();
                c.login_digest("dora", "explorer", schemas)
                    .await
                    .unwrap_or_else(|err| panic!("{label} {v} {e:?} {schemas:?}: {err}"));
                c.logout().await.unwrap();
            }
        }
    };
    login_all("first", srv.url()).await;

    // The same key after a restart: secrets sealed before still open.
    srv.restart();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    login_all("restarted", srv.url()).await;
}
