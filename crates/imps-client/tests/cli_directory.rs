//! `imps search`, `imps profile` and `imps register`: they speak the
//! protocol whether or not the server implements the feature, and a
//! refusal (501 while a feature is missing) is printed cleanly with its
//! code and meaning.

use crate::cli_common;

use cli_common::Server;

/// Either a success carrying `key`, or a clean refusal naming its code.
fn success_or_clean_refusal(r: &cli_common::Run, key: &str) {
    let j = r.json();
    if r.code == 0 {
        assert!(j.get(key).is_some(), "{r:?}");
    } else {
        let code = j["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no code: {r:?}"));
        assert!(r.stderr.contains(&code.to_string()), "{r:?}");
        assert!(j["meaning"].is_string(), "{r:?}");
        let expected_exit = if (500..=510).contains(&code) { 5 } else { 4 };
        assert_eq!(r.code, expected_exit, "{r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_search_prints_results_or_the_status_cleanly() {
    let srv = Server::start().await;
    srv.add_user("alice", "pw").await;
    srv.add_user("bob", "pw").await;
    let alice = srv.person("alice");
    alice.login("pw", &["--csp", "1.3"]).await;
    let r = alice
        .imps(&["--json", "search", "--by", "user-id", "bob"], None)
        .await;
    success_or_clean_refusal(&r, "users");
    if r.code == 0 {
        assert!(r.json()["users"].to_string().contains("bob"), "{r:?}");
    }
    let bad = alice
        .imps(&["search", "--by", "shoe-size", "42"], None)
        .await;
    assert_eq!(bad.code, 1, "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_public_profile_set_get_clear_or_the_status_cleanly() {
    let srv = Server::start().await;
    srv.add_user("alice", "pw").await;
    let alice = srv.person("alice");
    alice.login("pw", &["--csp", "1.3", "--wbxml"]).await;
    let r = alice
        .imps(
            &[
                "--json",
                "profile",
                "set",
                "city=Helsinki",
                "friendly-name=Alice",
            ],
            None,
        )
        .await;
    success_or_clean_refusal(&r, "properties");
    let r = alice.imps(&["--json", "profile", "get"], None).await;
    success_or_clean_refusal(&r, "profiles");
    if r.code == 0 {
        assert!(
            r.json()["profiles"].to_string().contains("Helsinki"),
            "{r:?}"
        );
    }
    // The public profile is a 1.3 service; a 1.2 session is told so.
    let bob = srv.person("alice");
    bob.login("pw", &["--csp", "1.2"]).await;
    let r = bob.imps(&["profile", "get"], None).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("needs CSP 1.3"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_register_by_msisdn_through_a_trusted_gateway() {
    let srv =
        Server::start_with(|c| c.msisdn.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let phone = srv.person("phone");
    let r = phone
        .imps(
            &[
                "--json",
                "register",
                "--server",
                &srv.url(),
                "--msisdn",
                "+358401234567",
            ],
            None,
        )
        .await
        .ok();
    let j = r.json();
    let user = j["assigned_user"].as_str().unwrap().to_string();
    assert!(user.starts_with('u'), "the server assigned an ID: {j}");
    // The session works for the next command.
    phone.json(&["inbox"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_register_explains_when_the_server_does_not_trust_us() {
    let srv = Server::start().await;
    let phone = srv.person("phone");
    let r = phone
        .imps(
            &[
                "--json",
                "register",
                "--server",
                &srv.url(),
                "--msisdn",
                "+358401234567",
            ],
            None,
        )
        .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("trusted_proxies"), "{r:?}");
    assert!(r.stderr.contains("impsd user add"), "{r:?}");
}
