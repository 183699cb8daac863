//! What an operator sees of a running server: per-primitive counts and
//! latencies on /metrics, and the log filter read and changed while it
//! runs (issue 12, observability), against the real binary.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use common::{RealServer, get_text, impsd_bin};
use imps_client::{Client, ClientConfig, Encoding, Version};

#[tokio::test]
async fn metrics_count_and_time_each_primitive_and_the_log_filter_changes_at_run_time() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    let url = srv.url();

    let c =
        Client::new(ClientConfig::new(&url, Version::V1_3, Encoding::Xml).with_client_id("phone"))
            .unwrap();
    c.login_password("alice", "pw").await.unwrap();
    for _ in 0..3 {
        c.keep_alive(None).await.unwrap();
    }
    // A wrong password: counted as a failed Login-Request.
    let other =
        Client::new(ClientConfig::new(&url, Version::V1_3, Encoding::Xml).with_client_id("laptop"))
            .unwrap();
    assert!(other.login_password("alice", "wrong").await.is_err());

    let (status, metrics) = get_text(&srv.metrics_url()).await;
    assert_eq!(status, 200);
    for line in [
        r#"impsd_csp_primitive_seconds_count{primitive="Login-Request"} 2"#,
        r#"impsd_csp_primitive_failed_total{primitive="Login-Request"} 1"#,
        r#"impsd_csp_primitive_seconds_count{primitive="KeepAlive-Request"} 3"#,
        r#"impsd_csp_primitive_failed_total{primitive="KeepAlive-Request"} 0"#,
        r#"impsd_csp_primitive_seconds_bucket{primitive="KeepAlive-Request",le="+Inf"} 3"#,
    ] {
        assert!(metrics.contains(line), "missing {line}:\n{metrics}");
    }

    // The config says "warn"; the operator turns on debug for IM.
    assert_eq!(srv.cli(&["log"]).trim(), "warn");
    let set = srv.cli(&["log", "warn,imps_core::im=debug"]);
    assert!(set.contains("imps_core::im=debug"), "{set}");
    assert!(srv.cli(&["log"]).contains("imps_core::im=debug"));
    // A filter that does not parse is refused and changes nothing.
    let bad = srv.cli_output(&["log", "imps_core=notalevel"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("filter refused"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(srv.cli(&["log"]).contains("imps_core::im=debug"));
}
