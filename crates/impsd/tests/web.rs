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
    alice
        .wait_text("#contacts li[data-user=carol] .unread", "1")
        .await;
    alice.click("#contacts li[data-user=carol]").await;
    alice
        .wait_text("#messages .msg.in", "hello from the terminal")
        .await;
    alice.type_into("#compose", "hello from the browser").await;
    alice.click("#send").await;
    assert_eq!(carol.receive_text().await, "hello from the browser");
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
