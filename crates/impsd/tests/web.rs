//! The browser chat client (issue 21), served under `/web/` and driven in
//! headless Chromium: two browser users log in (digest, SHA-1 computed by
//! the page), authorize each other's presence, see it change, chat both
//! ways, create and join a group and talk in it; a browser user and an
//! `imps`-library user chat. Also, without a browser: what the server
//! sends for the page (policy, types) and the WebSocket's origin check.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::web_common::{self, Browser};

use common::TestServer;
use http_body_util::{BodyExt, Full};

const PW: &str = "secret-pw";
const ADMIN_TOKEN: &str = "operator-token-for-tests";

fn page(srv: &TestServer) -> String {
    format!("http://{}/web/", srv.http_addr())
}

/// GET with extra headers: status, headers, body.
async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, hyper::HeaderMap, Vec<u8>) {
    request("GET", url, headers, "").await
}

/// Any request with extra headers and a body: status, headers, body.
async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = Full::new(bytes::Bytes::from(body.to_string()));
    let resp = client.request(req.body(body).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, h, body)
}

#[tokio::test]
async fn web_files_are_served_with_a_strict_policy() {
    let srv = TestServer::start().await;
    let (status, h, body) = get(&page(&srv), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let policy = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(part), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains(r#"content="/imps/ws""#),
        "the page learns the WebSocket path"
    );
    assert!(!html.contains("<script>"), "no inline script");
    for (file, ty) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("csp.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let (status, h, _) = get(&format!("{}{file}", page(&srv)), &[]).await;
        assert_eq!(status, 200, "{file}");
        assert_eq!(h["content-type"], ty, "{file}");
        assert!(h.contains_key("content-security-policy"), "{file}");
    }
    let (status, _, _) = get(&format!("{}nothing.js", page(&srv)), &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn web_socket_from_another_origin_is_refused() {
    let srv = TestServer::start().await;
    let ws = format!("http://{}/imps/ws", srv.http_addr());
    let upgrade = [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let mut other = upgrade.to_vec();
    other.push(("origin", "http://evil.example"));
    assert_eq!(get(&ws, &other).await.0, 403);
    let own = format!("http://{}", srv.http_addr());
    let mut same = upgrade.to_vec();
    same.push(("origin", own.as_str()));
    assert_eq!(get(&ws, &same).await.0, 101);
    // Clients that are not browsers send no Origin.
    assert_eq!(get(&ws, &upgrade).await.0, 101);
}

/// `who` adds `whom` as a contact; `whom`'s browser asks and allows.
async fn befriend(who: &Browser, whom: &Browser, whom_name: &str, who_name: &str) {
    who.type_into("#add-contact", whom_name).await;
    who.click("#add-contact-button").await;
    who.wait_visible(&format!("#contacts li[data-user={whom_name}]"))
        .await;
    whom.wait_text("#prompts .prompt.auth", who_name).await;
    whom.click("#prompts .prompt.auth button.accept").await;
}

#[tokio::test]
async fn web_two_browser_users_see_presence_chat_and_talk_in_a_group() {
    let Some(driver) = web_common::driver("web_two_browser_users").await else {
        return;
    };
    let srv = TestServer::builder()
        .user("alice", PW)
        .user("bob", PW)
        .start()
        .await;
    let alice = driver.browser(&page(&srv)).await;
    let bob = driver.browser(&page(&srv)).await;
    alice.screenshot("login").await;
    alice.login("alice", PW).await;
    bob.login("bob", PW).await;
    alice.wait_text("#me", "alice").await;

    // Presence: each lets the other see it, then sees the other change.
    alice.type_into("#add-contact", "bob").await;
    alice.click("#add-contact-button").await;
    bob.wait_text("#prompts .prompt.auth", "alice").await;
    bob.screenshot("presence-request").await;
    bob.click("#prompts .prompt.auth button.accept").await;
    befriend(&bob, &alice, "alice", "bob").await;
    let bob_dot = "#contacts li[data-user=bob] .dot";
    alice.wait_attr(bob_dot, "data-state", "available").await;
    bob.select("#my-availability", "NOT_AVAILABLE").await;
    bob.type_into("#my-status", "at lunch").await;
    bob.click("#status-set").await;
    alice.wait_attr(bob_dot, "data-state", "away").await;
    alice
        .wait_text("#contacts li[data-user=bob] .status-text", "at lunch")
        .await;
    alice.screenshot("presence").await;
    bob.select("#my-availability", "AVAILABLE").await;
    alice.wait_attr(bob_dot, "data-state", "available").await;

    // 1:1 chat, both ways.
    alice.click("#contacts li[data-user=bob]").await;
    alice.type_into("#compose", "hi bob").await;
    alice.click("#send").await;
    alice.wait_text("#messages .msg.out", "hi bob").await;
    bob.wait_text("#contacts li[data-user=alice] .unread", "1")
        .await;
    bob.click("#contacts li[data-user=alice]").await;
    bob.wait_text("#messages .msg.in", "hi bob").await;
    bob.type_into("#compose", "hello alice").await;
    bob.click("#send").await;
    alice.wait_text("#messages .msg.in", "hello alice").await;
    alice.screenshot("chat").await;

    // A group: alice creates it, bob joins, both talk.
    alice.type_into("#group-id", "room").await;
    alice.click("#group-create").await;
    alice.wait_text("#chat-title", "alice/room").await;
    bob.type_into("#group-id", "alice/room").await;
    bob.click("#group-join").await;
    bob.wait_text("#chat-members", "alice").await;
    bob.wait_text("#chat-members", "bob").await;
    alice.wait_text("#chat-members", "bob").await;
    alice.type_into("#compose", "welcome to the room").await;
    alice.click("#send").await;
    bob.wait_text("#messages .msg.in", "welcome to the room")
        .await;
    bob.type_into("#compose", "glad to be here").await;
    bob.click("#send").await;
    alice
        .wait_text("#messages .msg.in", "glad to be here")
        .await;
    alice.screenshot("group").await;

    alice.close().await;
    bob.close().await;
}

/// A browser user sees one unread message from `peer`, opens the chat,
/// reads `got` and answers `reply`.
async fn reads_and_answers(b: &Browser, peer: &str, got: &str, reply: &str) {
    let contact = format!("#contacts li[data-user={peer}]");
    b.wait_text(&format!("{contact} .unread"), "1").await;
    b.click(&contact).await;
    b.wait_text("#messages .msg.in", got).await;
    b.type_into("#compose", reply).await;
    b.click("#send").await;
}

#[tokio::test]
async fn web_browser_user_and_library_user_chat() {
    let Some(driver) = web_common::driver("web_browser_user_and_library_user_chat").await else {
        return;
    };
    let srv = TestServer::builder()
        .user("alice", PW)
        .user("carol", PW)
        .start()
        .await;
    let alice = driver.browser(&page(&srv)).await;
    alice.login("alice", PW).await;
    // carol uses the imps client library over the WebSocket binding.
    let carol = srv.login("carol").password(PW).ws().await;
    carol.send_text("alice", "hello from the terminal").await;
    reads_and_answers(
        &alice,
        "carol",
        "hello from the terminal",
        "hello from the browser",
    )
    .await;
    assert_eq!(carol.receive_text().await, "hello from the browser");
    alice.close().await;
}

/// The `imps` terminal client, built beside `impsd` by a workspace build
/// (the README's test command); `None` when only this package was built.
fn imps_terminal_binary() -> Option<std::path::PathBuf> {
    let impsd = std::path::Path::new(env!("CARGO_BIN_EXE_impsd"));
    let imps = impsd.parent()?.join("imps");
    imps.exists().then_some(imps)
}

/// Runs one `imps` command in `home` (its profiles live there) without
/// blocking the runtime the in-process server shares with the test.
async fn imps_cli(
    imps: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(imps)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("IMPS_PROFILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("imps answers within 30 s")
        .unwrap();
    assert!(
        out.status.success(),
        "imps {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn web_imps_terminal_user_and_browser_user_chat() {
    let test = "web_imps_terminal_user_and_browser_user_chat";
    let Some(imps) = imps_terminal_binary() else {
        common::skipped(
            test,
            "no `imps` binary beside impsd: run `cargo test --workspace`",
        );
        return;
    };
    let Some(driver) = web_common::driver(test).await else {
        return;
    };
    let srv = TestServer::builder()
        .user("alice", PW)
        .user("carol", PW)
        .start()
        .await;
    let home = tempfile::tempdir().unwrap();
    let server = format!("http://{}/imps", srv.http_addr());
    let alice = driver.browser(&page(&srv)).await;
    alice.login("alice", PW).await;
    // carol is a person at a terminal: the `imps` binary, one command at a time.
    let cli = |args: Vec<String>, stdin: &'static str| {
        let imps = imps.clone();
        let home = home.path().to_path_buf();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            imps_cli(&imps, &home, &args, stdin).await
        }
    };
    let carol = |rest: &[&str]| {
        let mut v = vec!["--profile".to_string(), "carol".to_string()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let pw_line: &'static str = "secret-pw\n";
    cli(
        carol(&[
            "login",
            "--server",
            &server,
            "--user",
            "carol",
            "--password-stdin",
        ]),
        pw_line,
    )
    .await;
    cli(carol(&["send", "alice", "hello from the terminal"]), "").await;
    reads_and_answers(
        &alice,
        "carol",
        "hello from the terminal",
        "hello from the browser",
    )
    .await;
    // `inbox` shows what arrived since the last one, so keep every answer.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    common::wait_until(
        "carol's inbox shows the browser's message",
        std::time::Duration::from_secs(15),
        || {
            let out = cli(carol(&["inbox"]), "");
            let seen = seen.clone();
            async move {
                let out = out.await;
                let mut seen = seen.lock().unwrap();
                seen.push_str(&out);
                seen.contains("alice: hello from the browser")
            }
        },
    )
    .await;
    alice.close().await;
}

fn admin_page(srv: &TestServer) -> String {
    format!("http://{}/admin/page/", srv.running().admin_addr)
}

#[tokio::test]
async fn web_operator_page_wants_its_sign_in_and_csrf_token() {
    let srv = TestServer::builder()
        .config(|c| c.admin.token = ADMIN_TOKEN.into())
        .user("alice", PW)
        .start()
        .await;
    let base = admin_page(&srv);
    let json = [("content-type", "application/json")];
    let (status, h, _) = get(&base, &[]).await;
    assert_eq!(status, 200);
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let kick_body = r#"{"id":"nobody"}"#;
    assert_eq!(
        request("POST", &format!("{base}kick"), &json, kick_body)
            .await
            .0,
        401
    );
    assert_eq!(get(&format!("{base}sessions"), &[]).await.0, 401);
    let wrong = request(
        "POST",
        &format!("{base}login"),
        &json,
        r#"{"token":"guess"}"#,
    )
    .await;
    assert_eq!(wrong.0, 401);

    let body = format!(r#"{{"token":"{ADMIN_TOKEN}"}}"#);
    let (status, h, answer) = request("POST", &format!("{base}login"), &json, &body).await;
    assert_eq!(status, 200);
    let set = h["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let csrf = answer["csrf"].as_str().unwrap().to_string();

    let alice = srv.login("alice").password(PW).await;
    let (status, _, rows) = get(&format!("{base}sessions"), &[("cookie", &cookie)]).await;
    assert_eq!(status, 200);
    let rows: serde_json::Value = serde_json::from_slice(&rows).unwrap();
    let id = rows[0]["id"].as_str().unwrap().to_string();
    let kick = format!(r#"{{"id":"{id}"}}"#);
    let url = format!("{base}kick");
    let with_cookie = [("content-type", "application/json"), ("cookie", &cookie)];
    assert_eq!(
        request("POST", &url, &with_cookie, &kick).await.0,
        403,
        "no CSRF token"
    );
    let bad_csrf = [
        ("content-type", "application/json"),
        ("cookie", &cookie),
        ("x-csrf-token", "0000"),
    ];
    assert_eq!(
        request("POST", &url, &bad_csrf, &kick).await.0,
        403,
        "a wrong one"
    );
    let other_site = [
        ("content-type", "application/json"),
        ("cookie", &cookie),
        ("x-csrf-token", &csrf),
        ("origin", "http://evil.example"),
    ];
    assert_eq!(
        request("POST", &url, &other_site, &kick).await.0,
        403,
        "another origin"
    );
    assert!(srv.service().sessions().get(&id).is_some(), "still there");
    let good = [
        ("content-type", "application/json"),
        ("cookie", &cookie),
        ("x-csrf-token", &csrf),
    ];
    assert_eq!(request("POST", &url, &good, &kick).await.0, 204);
    assert!(srv.service().sessions().get(&id).is_none(), "kicked");
    drop(alice);
}

#[tokio::test]
async fn web_operator_kicks_a_browser_session_and_the_browser_shows_it() {
    let Some(driver) = web_common::driver("web_operator_kicks_a_browser_session").await else {
        return;
    };
    let srv = TestServer::builder()
        .config(|c| c.admin.token = ADMIN_TOKEN.into())
        .user("bob", PW)
        .start()
        .await;
    let bob = driver.browser(&page(&srv)).await;
    bob.login("bob", PW).await;
    let op = driver.browser(&admin_page(&srv)).await;
    op.type_into("#token", ADMIN_TOKEN).await;
    op.click("#signin").await;
    op.wait_visible("#sessions tbody tr").await;
    op.wait_text("#sessions tbody", "bob").await;
    op.screenshot("operator").await;
    op.click("#sessions tbody tr .kick").await;
    op.wait_text("#banner", "was ended").await;
    bob.wait_visible("#ended-screen").await;
    bob.wait_text("#ended-reason", "administrator").await;
    bob.screenshot("kicked").await;
    op.close().await;
    bob.close().await;
}

/// Signs the operator page in.
async fn operator_signs_in(op: &Browser) {
    op.type_into("#token", ADMIN_TOKEN).await;
    op.click("#signin").await;
    op.wait_visible("#ops-screen").await;
}

/// Whether `user` can log in with `pw` (a library client, 2-way login).
async fn can_log_in(srv: &TestServer, user: &str, pw: &str) -> bool {
    let c = srv.client(
        imps_wire::Version::V1_3,
        imps_wire::Encoding::Xml,
        "op-check",
    );
    c.login_password(user, pw).await.is_ok()
}

/// The operator page beyond sessions, in one browser session: users
/// (pages, add, disable, new password), groups with their members, a
/// system message sent to a browser user and the answer seen, the
/// federation peers with their queue, and the graphs of the last hour
/// drawn from samples.
#[tokio::test]
async fn web_operator_page_users_groups_sysmsgs_peers_and_graphs() {
    let Some(driver) = web_common::driver("web_operator_page_users_groups").await else {
        return;
    };
    let srv = TestServer::builder()
        .config(|c| {
            c.admin.token = ADMIN_TOKEN.into();
            c.admin.page_users = 2;
            c.admin.graph_sample_secs = 1;
            c.federation.enabled = true;
            c.federation.peers = vec![impsd::federation::PeerSettings {
                domain: "b.test".into(),
                url: "http://127.0.0.1:9/imps".into(),
                sus: false,
                require_client_cert: false,
            }];
        })
        .user("alice", PW)
        .user("bob", PW)
        .start()
        .await;
    srv.store()
        .create_group(imps_core::store::GroupRecord {
            id: "wv:alice/club@localhost".into(),
            owner: "alice".into(),
            private: false,
            props: vec![("Name".into(), "The club".into())],
            welcome: None,
            created_ms: 0,
        })
        .await
        .unwrap();
    let bob = driver.browser(&page(&srv)).await;
    bob.login("bob", PW).await;
    let op = driver.browser(&admin_page(&srv)).await;
    operator_signs_in(&op).await;

    // Users: two a page; add one, disable, enable with a new password.
    op.click(".tab[data-tab=users-tab]").await;
    op.wait_text("#user-count", "(2)").await;
    op.type_into("#new-user", "dave").await;
    op.type_into("#new-password", "dave-pw-1").await;
    op.click("#add-user").await;
    op.wait_text("#banner", "dave was added").await;
    op.wait_text("#user-count", "(3)").await;
    op.wait_text("#users-range", "1–2 of 3").await;
    op.click("#users-next").await;
    op.wait_text("#users tbody", "dave").await;
    assert!(can_log_in(&srv, "dave", "dave-pw-1").await);
    let dave = srv.login("dave").password("dave-pw-1").ws().await;
    op.click("#users tbody tr[data-user=dave] .disable").await;
    op.wait_text("#users tbody tr[data-user=dave] .state", "disabled")
        .await;
    assert!(!can_log_in(&srv, "dave", "dave-pw-1").await, "disabled");
    common::wait_until(
        "dave's session ended",
        web_common::BROWSER_TIMEOUT,
        || async { srv.service().sessions().of_user("dave").is_empty() },
    )
    .await;
    drop(dave);
    op.screenshot("operator-users").await;
    op.type_into("#users tbody tr[data-user=dave] .new-pw", "dave-pw-2")
        .await;
    op.click("#users tbody tr[data-user=dave] .set-pw").await;
    op.wait_text("#users tbody tr[data-user=dave] .state", "enabled")
        .await;
    assert!(can_log_in(&srv, "dave", "dave-pw-2").await, "enabled again");

    // Groups with their members.
    op.click(".tab[data-tab=groups-tab]").await;
    op.wait_text(
        "#groups tbody tr[data-group='wv:alice/club@localhost']",
        "The club",
    )
    .await;
    op.wait_text(
        "#groups tbody tr[data-group='wv:alice/club@localhost']",
        "alice (Admin)",
    )
    .await;

    // A system message to bob; his browser answers; the page shows it.
    op.click(".tab[data-tab=sysmsg-tab]").await;
    op.type_into("#sysmsg-to", "bob").await;
    op.type_into("#sysmsg-text", "Maintenance tonight: stay?")
        .await;
    op.type_into("#sysmsg-options", "Stay\nLeave").await;
    op.click("#sysmsg-send").await;
    op.wait_text("#banner", "was sent").await;
    bob.wait_text("#prompts .prompt.system", "Maintenance tonight")
        .await;
    bob.click("#prompts .prompt.system button:first-of-type")
        .await;
    let mut backoff = imps_testkit::Backoff::new(web_common::BROWSER_TIMEOUT);
    loop {
        op.click("#refresh").await;
        if op
            .text("#sysmsgs tbody .answers")
            .await
            .is_some_and(|t| t.contains("bob: Stay"))
        {
            break;
        }
        assert!(backoff.wait().await, "the answer never showed");
    }
    op.screenshot("operator-sysmsg").await;

    // Federation peers with state and queue depth.
    op.click(".tab[data-tab=peers-tab]").await;
    op.wait_text("#peers tbody tr[data-domain='b.test']", "b.test")
        .await;

    // Graphs: samples every second, drawn as SVG lines.
    op.click(".tab[data-tab=graphs-tab]").await;
    let mut backoff = imps_testkit::Backoff::new(web_common::BROWSER_TIMEOUT);
    loop {
        op.click("#refresh").await;
        let logins = op.text("#graph-logins figcaption").await;
        if op.text("#graphs svg polyline").await.is_some()
            && logins.is_some_and(|t| t.contains("highest") && !t.contains("highest 0"))
        {
            break;
        }
        assert!(backoff.wait().await, "the graphs never showed logins");
    }
    op.wait_text("#graph-memory figcaption", "MiB").await;
    op.screenshot("operator-graphs").await;
    op.close().await;
    bob.close().await;
}

/// The browser client's missing pieces: a login held by the operator's
/// terms (shown, answered, then the login completes); an invitation into
/// a group, cancelled, then sent again and accepted; and a network drop:
/// the server cuts bob's WebSocket, his page reconnects to the same
/// session and gets the message sent while it was away.
#[tokio::test]
async fn web_terms_invitations_and_reconnect() {
    let Some(driver) = web_common::driver("web_terms_invitations_and_reconnect").await else {
        return;
    };
    let srv = TestServer::builder()
        .config(|c| {
            c.admin.token = ADMIN_TOKEN.into();
            c.sysmsg.terms = Some(imps_core::TermsConfig {
                version: "v1".into(),
                text: "House rules: be kind. Agree?".into(),
                options: vec![
                    imps_core::TermsOption {
                        text: "Agree".into(),
                        ..Default::default()
                    },
                    imps_core::TermsOption {
                        text: "Decline".into(),
                        deny: true,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            });
        })
        .user("alice", PW)
        .user("bob", PW)
        .start()
        .await;
    let alice = driver.browser(&page(&srv)).await;
    let bob = driver.browser(&page(&srv)).await;
    for (b, name) in [(&alice, "alice"), (&bob, "bob")] {
        b.type_into("#login-user", name).await;
        b.type_into("#login-password", PW).await;
        b.click("#login-button").await;
        b.wait_text("#terms-text", "House rules").await;
        if name == "alice" {
            b.screenshot("login-terms").await;
        }
        b.click("#terms-options button:first-child").await;
        b.wait_visible("#main-screen").await;
    }

    // Invitations: alice invites bob into her group, cancels, invites again.
    alice.type_into("#group-id", "club").await;
    alice.click("#group-create").await;
    alice.wait_text("#chat-title", "alice/club").await;
    alice.type_into("#invite-user", "bob").await;
    alice.click("#invite-button").await;
    bob.wait_text("#prompts .prompt.invite", "alice/club").await;
    alice
        .click("#prompts .prompt.sent-invite .cancel-invite")
        .await;
    bob.wait_text("#banner", "withdrew the invitation").await;
    assert!(bob.text("#prompts .prompt.invite").await.is_none());
    alice.type_into("#invite-user", "bob").await;
    alice.click("#invite-button").await;
    bob.wait_text("#prompts .prompt.invite", "alice/club").await;
    bob.click("#prompts .prompt.invite button.accept").await;
    alice
        .wait_text("#banner", "bob accepted the invitation")
        .await;
    bob.wait_text("#chat-members", "alice").await;
    alice.wait_text("#chat-members", "bob").await;

    // A network drop: the server cuts bob's WebSocket, the session stays.
    let before = srv.service().sessions().of_user("bob");
    assert_eq!(before.len(), 1);
    let sid = before[0].id.clone();
    let cut = request(
        "POST",
        &format!(
            "http://{}/admin/sessions/{sid}/cut-transport",
            srv.running().admin_addr
        ),
        &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        "",
    )
    .await;
    assert_eq!(cut.0, 200);
    bob.wait_attr("#connection", "data-state", "reconnecting")
        .await;
    alice
        .type_into("#compose", "sent while you were away")
        .await;
    alice.click("#send").await;
    bob.wait_attr("#connection", "data-state", "connected")
        .await;
    bob.wait_text("#banner", "same session").await;
    bob.wait_text("#messages .msg.in", "sent while you were away")
        .await;
    let after = srv.service().sessions().of_user("bob");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, sid, "the same session goes on");
    bob.screenshot("reconnected").await;
    alice.close().await;
    bob.close().await;
}
