//! `imps search`, `imps profile` and `imps register` against a real
//! impsd: users found with their friendly names, paging both ways and
//! stopping, criteria combined with --match (1.3), public profiles set,
//! shown and cleared, a profile search after consent, and refusals
//! printed cleanly with their code and meaning.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::cli_common;

use cli_common::{Person, Run, Server};
use serde_json::Value;

fn uid(u: &str) -> String {
    format!("wv:{u}@localhost")
}

/// The user IDs a `--json search` found, in order.
fn ids(j: &Value) -> Vec<String> {
    j["users"]
        .as_array()
        .unwrap_or_else(|| panic!("no users: {j}"))
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_string())
        .collect()
}

/// A refusal printed cleanly: the exit code, the status code and its
/// meaning in the JSON and on stderr, no panic.
fn refused(r: &Run, exit: i32, code: u64) {
    assert_eq!(r.code, exit, "{r:?}");
    let j = r.json();
    assert_eq!(j["code"], code, "{r:?}");
    assert!(j["meaning"].is_string(), "{r:?}");
    assert!(r.stderr.contains(&code.to_string()), "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
}

/// `imps --json ARGS`, whatever the outcome.
async fn json_run(p: &Person, args: &[&str]) -> Run {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    p.imps(&a, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_search_finds_users_by_friendly_name_and_pages_forward_back_and_stops() {
    let srv = Server::start().await;
    srv.add_user("seeker", "pw").await;
    srv.add_user_named("zoe", "pw", Some("Zoë Quinn")).await;
    for i in 1..=4 {
        srv.add_user_named(&format!("kim{i}"), "pw", Some("Kim"))
            .await;
    }
    for combo in cli_common::combos() {
        let w = format!("{combo:?}");
        let v13 = combo.contains(&"1.3");
        let seeker = srv.person("seeker");
        seeker.login("pw", &combo).await;

        // Whole names, case and width folded; the friendly name comes
        // first (1.3 only: before, a found user is an ID).
        let r = seeker
            .imps(&["search", "--by", "friendly-name", "ZOË  QUINN"], None)
            .await
            .ok();
        let line = if v13 {
            format!("Zoë Quinn ({})", uid("zoe"))
        } else {
            uid("zoe")
        };
        assert!(r.stdout.lines().any(|l| l == line), "{w}: {r:?}");
        assert!(r.stdout.contains("1 of 1"), "{w}: {r:?}");
        let j = seeker.json(&["search", "--by", "user-id", "zoe"]).await;
        assert_eq!(ids(&j), [uid("zoe")], "{w}: {j}");
        assert_eq!(j["complete"], true, "{w}: {j}");

        // First page of four.
        let first = seeker
            .json(&["search", "--by", "friendly-name", "Kim", "--limit", "2"])
            .await;
        assert_eq!(first["findings"], 4, "{w}: {first}");
        assert_eq!(first["complete"], false, "{w}: {first}");
        assert_eq!(first["next_index"], 2, "{w}: {first}");
        assert_eq!(ids(&first), [uid("kim1"), uid("kim2")], "{w}: {first}");
        let friendly = if v13 { Value::from("Kim") } else { Value::Null };
        assert_eq!(first["users"][0]["friendly_name"], friendly, "{w}");
        let id = first["search_id"].as_str().unwrap().to_string();

        // The next page, then back to the first, then one from index 1
        // with another page size; the text says where we are.
        let r = seeker.imps(&["search", "--next", &id], None).await.ok();
        assert!(r.stdout.contains("2 of 4 (results 3-4)"), "{w}: {r:?}");
        assert!(!r.stdout.contains("next page"), "{w}: the last page: {r:?}");
        let again = seeker
            .json(&["search", "--next", &id, "--index", "0"])
            .await;
        assert_eq!(ids(&again), [uid("kim1"), uid("kim2")], "{w}: {again}");
        let r = seeker
            .imps(&["search", "--next", &id, "--index", "0"], None)
            .await
            .ok();
        assert!(
            r.stdout
                .contains(&format!("next page: imps search --next {id} --index 2")),
            "{w}: {r:?}"
        );
        let mid = seeker
            .json(&["search", "--next", &id, "--index", "1", "--limit", "3"])
            .await;
        assert_eq!(
            ids(&mid),
            [uid("kim2"), uid("kim3"), uid("kim4")],
            "{w}: {mid}"
        );
        assert_eq!(mid["complete"], true, "{w}: {mid}");
        // Past the end: 425.
        let r = json_run(&seeker, &["search", "--next", &id, "--index", "9"]).await;
        refused(&r, 4, 425);

        // Stopped, the search is gone: 424, cleanly.
        let r = seeker.json(&["search", "--stop", &id]).await;
        assert_eq!(r["stopped"], true, "{w}: {r}");
        let r = json_run(&seeker, &["search", "--next", &id]).await;
        refused(&r, 4, 424);
        assert!(r.stderr.contains("no such search"), "{w}: {r:?}");

        // Nothing found is an answer; a bad field is refused here.
        let r = seeker
            .imps(&["search", "--by", "friendly-name", "Nobody"], None)
            .await
            .ok();
        assert_eq!(r.stdout.trim(), "nothing found", "{w}: {r:?}");
        let bad = seeker
            .imps(&["search", "--by", "shoe-size", "42"], None)
            .await;
        assert_eq!(bad.code, 1, "{w}: {bad:?}");
        let bad = seeker.imps(&["search"], None).await;
        assert_eq!(bad.code, 1, "{w}: {bad:?}");
        seeker.imps(&["logout"], None).await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_search_match_combines_criteria_in_1_3_and_is_refused_before() {
    let srv = Server::start().await;
    srv.add_user("seeker", "pw").await;
    for (id, name) in [("ann", "Ann"), ("bea", "Bea"), ("dan", "Dan")] {
        srv.add_user_named(id, "pw", Some(name)).await;
    }
    let seeker = srv.person("seeker");
    seeker.login("pw", &["--csp", "1.3", "--wbxml"]).await;
    // (Ann OR Bea) AND NOT user bea: ann.
    let j = seeker
        .json(&[
            "search",
            "--where",
            "friendly-name=Ann",
            "--where",
            "friendly-name=bea",
            "--where",
            "user-id=bea",
            "--match",
            "(1 OR 2) AND NOT 3",
        ])
        .await;
    assert_eq!(ids(&j), [uid("ann")], "{j}");
    // TEXT is criterion 1, the --where ones follow.
    let j = seeker
        .json(&[
            "search",
            "--by",
            "user-id",
            "dan",
            "--where",
            "friendly-name=Bea",
            "--match",
            "1 or 2",
        ])
        .await;
    assert_eq!(ids(&j), [uid("bea"), uid("dan")], "{j}");
    // Without --match all must match.
    let j = seeker
        .json(&[
            "search",
            "--where",
            "friendly-name=Bea",
            "--where",
            "user-id=dan",
        ])
        .await;
    assert!(ids(&j).is_empty(), "{j}");
    // Criteria everyone could match: 537 from the server.
    let r = json_run(
        &seeker,
        &["search", "--where", "friendly-name=Ann", "--match", "NOT 1"],
    )
    .await;
    refused(&r, 4, 537);
    // A number that names no criterion is caught before sending.
    let r = seeker
        .imps(
            &[
                "search",
                "--where",
                "friendly-name=Ann",
                "--match",
                "1 OR 2",
            ],
            None,
        )
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("criterion 2"), "{r:?}");

    // Before 1.3 there is no --match, and no profile fields.
    let old = srv.person("seeker");
    old.login("pw", &["--csp", "1.2"]).await;
    let r = old
        .imps(
            &[
                "search",
                "--where",
                "friendly-name=Ann",
                "--where",
                "friendly-name=Bea",
                "--match",
                "1 OR 2",
            ],
            None,
        )
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--match needs CSP 1.3"), "{r:?}");
    let r = old.imps(&["search", "--where", "city=Oulu"], None).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("needs CSP 1.3"), "{r:?}");
    // Several criteria still combine with AND in 1.2.
    let j = old
        .json(&[
            "search",
            "--where",
            "friendly-name=Ann",
            "--where",
            "user-id=ann",
        ])
        .await;
    assert_eq!(ids(&j), [uid("ann")], "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_public_profile_set_show_clear_round_trip() {
    let srv = Server::start().await;
    srv.add_user("alice", "pw").await;
    srv.add_user("bob", "pw").await;
    let alice = srv.person("alice");
    alice.login("pw", &["--csp", "1.3", "--wbxml"]).await;
    let r = alice
        .json(&[
            "profile",
            "set",
            "friendly-name=Alice",
            "age=1990-04",
            "country=fi",
            "city=Helsinki",
            "free-text=Likes chess",
        ])
        .await;
    assert_eq!(r["properties"]["PP_AGE"], "1990-04", "{r}");
    // The owner sees the birth month; names are shown short.
    let r = alice.imps(&["profile", "show"], None).await.ok();
    for line in [
        "Alice (wv:alice@localhost):",
        "  age: 1990-04",
        "  city: Helsinki",
        "  country: FI",
        "  free-text: Likes chess",
    ] {
        assert!(r.stdout.lines().any(|l| l == line), "{line}: {r:?}");
    }
    // `get` is the old name of `show`.
    let j = alice.json(&["profile", "get"]).await;
    let p = &j["profiles"][0]["properties"];
    assert_eq!(p["PP_AGE"], "1990-04", "{j}");
    assert_eq!(p["PP_CITY"], "Helsinki", "{j}");
    // Bad values are refused by the server with a hint; unknown fields
    // here.
    let r = json_run(&alice, &["profile", "set", "age=13/1990"]).await;
    refused(&r, 4, 402);
    assert!(r.stderr.contains("YYYY-MM"), "{r:?}");
    let r = alice.imps(&["profile", "set", "shoe-size=44"], None).await;
    assert_eq!(r.code, 1, "{r:?}");
    // An unknown user: 531.
    let r = json_run(&alice, &["profile", "show", "nobody"]).await;
    refused(&r, 4, 531);

    // Clearing keeps the friendly name only.
    alice.json(&["profile", "clear"]).await;
    let j = alice.json(&["profile", "show"]).await;
    let p = &j["profiles"][0]["properties"];
    assert_eq!(p["PP_FRIENDLY_NAME"], "Alice", "{j}");
    assert!(p.get("PP_CITY").is_none(), "{j}");
    assert!(p.get("PP_AGE").is_none(), "{j}");

    // The public profile is a 1.3 service; a 1.2 session is told so.
    let bob = srv.person("bob");
    bob.login("pw", &["--csp", "1.2"]).await;
    let r = bob.imps(&["profile", "show"], None).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("needs CSP 1.3"), "{r:?}");
}

/// The system message a complete profile brings (profile_consent =
/// "advice"): its ID, fetched with `imps sysmsg list`.
async fn profile_advice(p: &Person) -> String {
    let listed = p.json(&["sysmsg", "list"]).await;
    let m = listed["system_messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"].as_str().unwrap_or("").contains("public profile"))
        .unwrap_or_else(|| panic!("no profile advice: {listed}"));
    assert_eq!(m["options"].as_array().unwrap().len(), 2, "{m}");
    m["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_profile_search_finds_a_complete_profile_after_its_owner_agrees() {
    let srv = Server::start().await;
    srv.add_user("seeker", "pw").await;
    srv.add_user("sunny", "pw").await;
    let seeker = srv.person("seeker");
    let sunny = srv.person("sunny");
    seeker.login("pw", &["--csp", "1.3"]).await;
    sunny.login("pw", &["--csp", "1.3", "--wbxml"]).await;
    // The searcher needs a profile of their own first (PPR-6).
    let r = json_run(&seeker, &["search", "--where", "city=Oulu"]).await;
    refused(&r, 4, 403);
    assert!(r.stderr.contains("imps profile set"), "{r:?}");
    seeker
        .json(&[
            "profile",
            "set",
            "friendly-name=Seek",
            "age=1980-01",
            "country=FI",
        ])
        .await;

    sunny
        .json(&[
            "profile",
            "set",
            "friendly-name=Sunny",
            "age=1995-06",
            "country=FI",
            "city=Oulu",
            "gender=F",
        ])
        .await;
    // Not agreed yet: not found, and others see only the friendly name.
    let j = seeker.json(&["search", "--where", "city=Oulu"]).await;
    assert!(ids(&j).is_empty(), "{j}");
    let r = seeker.imps(&["profile", "show", "sunny"], None).await.ok();
    assert!(r.stdout.contains("Sunny (wv:sunny@localhost):"), "{r:?}");
    assert!(!r.stdout.contains("Oulu"), "{r:?}");

    // "Make me searchable".
    let id = profile_advice(&sunny).await;
    sunny.json(&["sysmsg", "answer", &id, "1"]).await;
    let r = seeker
        .imps(&["search", "--where", "city=oulu"], None)
        .await
        .ok();
    assert!(
        r.stdout.lines().any(|l| l == "Sunny (wv:sunny@localhost)"),
        "{r:?}"
    );
    let j = seeker
        .json(&[
            "search",
            "--where",
            "city=Oulu",
            "--where",
            "age-min=20",
            "--where",
            "country=fi",
            "--where",
            "gender=F",
        ])
        .await;
    assert_eq!(ids(&j), [uid("sunny")], "{j}");
    assert_eq!(j["users"][0]["friendly_name"], "Sunny", "{j}");
    let j = seeker
        .json(&["search", "--where", "city=Oulu", "--where", "age-max=20"])
        .await;
    assert!(ids(&j).is_empty(), "{j}");
    // Others see the age in years, never the birth month.
    let j = seeker.json(&["profile", "show", "sunny"]).await;
    let p = &j["profiles"][0]["properties"];
    assert_eq!(p["PP_CITY"], "Oulu", "{j}");
    let age = p["PP_AGE"].as_str().unwrap_or_else(|| panic!("{j}"));
    assert!(!age.contains('-') && age.parse::<u32>().is_ok(), "{j}");

    // Clearing withdraws the consent.
    sunny.json(&["profile", "clear"]).await;
    let j = seeker.json(&["search", "--where", "city=Oulu"]).await;
    assert!(ids(&j).is_empty(), "{j}");
    // Still found by friendly name, which the clear keeps.
    let j = seeker
        .json(&["search", "--by", "friendly-name", "Sunny"])
        .await;
    assert_eq!(ids(&j), [uid("sunny")], "{j}");
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
