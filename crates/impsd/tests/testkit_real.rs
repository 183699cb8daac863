//! The test kit's handle on the real binary: started on ports the OS
//! picks, users made with the admin command, a message delivered, and a
//! SIGKILL and restart on the same data.

use crate::common;

use common::{RealServer, impsd_bin};

#[tokio::test]
async fn real_binary_delivers_and_keeps_its_users_across_a_sigkill() {
    let mut srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    srv.add_user("bob", "pw");
    let alice = srv.login("alice").await;
    let bob = srv.login("bob").ws().await;
    alice.send_text("bob", "over the wire").await;
    assert_eq!(bob.receive_text().await, "over the wire");

    srv.restart();
    assert!(srv.is_running());
    // Sessions survive the restart too, so this is a second client.
    let again = srv
        .login("alice")
        .client_id("alice-tablet")
        .not_ready()
        .await;
    again.logout().await;
}
