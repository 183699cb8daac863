//! What an operator sees of a running server: per-primitive counts and
//! latencies on /metrics, and the log filter read and changed while it
//! runs (issue 12, observability), against the real binary.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use common::{IMPSD_BIN, impsd_cli, real_config, spawn_real};
use imps_client::{Client, ClientConfig, Encoding, Version};

async fn get_text(url: &str) -> String {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let r = client.get(url.parse().unwrap()).await.unwrap();
    assert_eq!(r.status(), 200);
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn metrics_count_and_time_each_primitive_and_the_log_filter_changes_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = real_config(dir.path());
    let data = dir.path().join("data");
    let (mut child, url) = spawn_real(&cfg, &data);
    impsd_cli(&cfg, &["user", "add", "alice", "--password", "pw"]);

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

    let metrics = get_text(&url.replace("/imps", "/metrics")).await;
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
    assert_eq!(impsd_cli(&cfg, &["log"]).trim(), "warn");
    let set = impsd_cli(&cfg, &["log", "warn,imps_core::im=debug"]);
    assert!(set.contains("imps_core::im=debug"), "{set}");
    assert!(impsd_cli(&cfg, &["log"]).contains("imps_core::im=debug"));
    // A filter that does not parse is refused and changes nothing.
    let bad = std::process::Command::new(IMPSD_BIN)
        .args(["log", "imps_core=notalevel", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("filter refused"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(impsd_cli(&cfg, &["log"]).contains("imps_core::im=debug"));

    child.kill().unwrap();
    child.wait().unwrap();
}
