//! Search in other domains (SRC-UC, issue 17), end to end with real
//! `impsd` processes on loopback: a user search on a.test is also run by
//! b.test, under b.test's own rules, and the merged findings page as one
//! search; a peer that does not answer in time is left out; the setting
//! switches it off both ways.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::common;
use crate::fed::free_port;
use crate::groups_common::prop;

use common::{Inbox, RealServer, TestUser, code_of, impsd_bin};
use imps_client::Element;
use impsd::federation::PeerSettings;

/// A server for `domain` on `port` with `peers` (domain, port) in its
/// table; `f` adjusts the rest.
fn server(
    domain: &str,
    port: u16,
    peers: &[(&str, u16)],
    f: impl FnOnce(&mut impsd::Config),
) -> RealServer {
    let domain = domain.to_string();
    let peers: Vec<PeerSettings> = peers
        .iter()
        .map(|(d, p)| PeerSettings {
            domain: (*d).to_string(),
            url: format!("http://127.0.0.1:{p}/imps"),
            sus: false,
            require_client_cert: false,
        })
        .collect();
    RealServer::builder(impsd_bin!())
        .config(move |c| {
            c.domain = domain;
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.log = "info".into();
            c.federation.enabled = true;
            c.federation.retry_min_ms = 100;
            c.federation.retry_max_ms = 10_000;
            c.federation.handshake_timeout_ms = 5_000;
            c.federation.request_timeout_ms = 500;
            c.federation.peers = peers;
            c.search.rate_per_sec = 0;
            c.search.remote_timeout_ms = 3_000;
            f(c);
        })
        .start()
}

/// A 1.3 Search-Request with PairIDs 1, 2, ...
fn search(pairs: &[(&str, &str)], limit: Option<u64>) -> Element {
    let mut list = Element::new("SearchPairList");
    for (i, (e, s)) in pairs.iter().enumerate() {
        list = list.with(
            Element::new("SearchPair")
                .with_text("SearchElement", *e)
                .with_text("SearchString", *s)
                .with_text("PairID", (i + 1).to_string()),
        );
    }
    let mut r = Element::new("Search-Request").with(list);
    if let Some(l) = limit {
        r = r.with_text("SearchLimit", l.to_string());
    }
    r
}

fn page(id: &str, index: Option<u64>) -> Element {
    let mut r = Element::new("Search-Request").with_text("SearchID", id);
    if let Some(i) = index {
        r = r.with_text("SearchIndex", i.to_string());
    }
    r
}

async fn ask<T: Inbox>(u: &TestUser<T>, req: Element) -> Element {
    let r = u.request(req).await.unwrap();
    assert_eq!(r.name.as_str(), "Search-Response", "{r:?}");
    assert!(code_of(&r).is_none_or(|c| c < 300), "{r:?}");
    r
}

/// (UserID, FriendlyName) of each user found, in order.
fn found(r: &Element) -> Vec<(String, Option<String>)> {
    r.path(&["SearchResult", "UserList"])
        .map(|l| {
            l.children_named("User")
                .map(|u| {
                    (
                        u.child_text("UserID").unwrap().to_string(),
                        u.child_text("FriendlyName").map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ids(r: &Element) -> Vec<String> {
    found(r).into_iter().map(|(u, _)| u).collect()
}

fn num(r: &Element, name: &str) -> Option<u64> {
    r.child_text(name).and_then(|t| t.trim().parse().ok())
}

fn add(srv: &RealServer, user: &str, friendly: &str, msisdn: Option<&str>) {
    let mut args = vec![
        "user",
        "add",
        user,
        "--password",
        "pw",
        "--friendly-name",
        friendly,
    ];
    if let Some(m) = msisdn {
        args.extend(["--msisdn", m]);
    }
    srv.cli(&args);
}

/// Sets a complete public profile (friendly name, birth month, country,
/// city) for the logged-in user.
async fn profile<T: Inbox>(u: &TestUser<T>, name: &str, born: &str, city: &str) {
    let p = Element::new("PublicProfile")
        .with(prop("PP_FRIENDLY_NAME", name))
        .with(prop("PP_AGE", born))
        .with(prop("PP_COUNTRY", "CH"))
        .with(prop("PP_CITY", city));
    let r = u
        .request(Element::new("UpdatePublicProfile-Request").with(p))
        .await
        .unwrap();
    assert!(code_of(&r).is_none_or(|c| c < 300), "{r:?}");
}

#[tokio::test]
async fn src_uc_search_in_other_domains_merges_pages_and_keeps_each_domains_rules() {
    // c.test is in a.test's table but never answers: it accepts the
    // connection and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pc = silent.local_addr().unwrap().port();
    let (pa, pb) = (free_port(), free_port());
    let a = server("a.test", pa, &[("b.test", pb), ("c.test", pc)], |_| {});
    // b.test's own rule: profiles of users under 21 are never found.
    let b = server("b.test", pb, &[("a.test", pa)], |c| {
        c.search.min_profile_age = 21;
        c.search.profile_consent = imps_core::ProfileConsent::Implicit;
    });
    add(&a, "alice", "Alice", None);
    add(&a, "bobby", "Bob", None);
    add(&b, "bob", "Bob", Some("+41790000001"));
    add(&b, "bert", "Bob", None);
    add(&b, "carol", "Carol", None);
    add(&b, "dave", "Dave", None);
    let alice = a.login("alice").ws().await;

    // The friendly name: bobby here, bert and bob there; a.test's first,
    // then b.test's in ID order. c.test is waited for, then left out.
    let started = Instant::now();
    let r = ask(&alice, search(&[("USER_FRIENDLY_NAME", "Bob")], Some(2))).await;
    assert!(
        started.elapsed() >= Duration::from_millis(2_900),
        "c.test waited for"
    );
    assert_eq!(num(&r, "SearchFindings"), Some(3), "{r:?}");
    assert_eq!(
        found(&r),
        vec![
            ("wv:bobby@a.test".to_string(), Some("Bob".to_string())),
            ("wv:bert@b.test".to_string(), Some("Bob".to_string())),
        ],
        "{r:?}"
    );
    assert_eq!(num(&r, "SearchIndex"), Some(2), "{r:?}");
    let id = r.child_text("SearchID").unwrap().to_string();
    let r = ask(&alice, page(&id, None)).await;
    assert_eq!(
        found(&r),
        vec![("wv:bob@b.test".to_string(), Some("Bob".to_string()))]
    );
    assert_eq!(r.child_text("CompletionFlag"), Some("T"), "{r:?}");
    // Back to the first page.
    let r = ask(&alice, page(&id, Some(0))).await;
    assert_eq!(ids(&r), vec!["wv:bobby@a.test", "wv:bert@b.test"]);
    let r = alice
        .request(Element::new("StopSearch-Request").with_text("SearchID", &id))
        .await
        .unwrap();
    assert!(code_of(&r).is_none_or(|c| c == 200), "{r:?}");
    let r = alice.request(page(&id, Some(0))).await.unwrap();
    assert_eq!(code_of(&r), Some(424), "{r:?}");

    // By MSISDN and by User ID: only b.test has them.
    let r = ask(
        &alice,
        search(&[("USER_MOBILE_NUMBER", "+41790000001")], None),
    )
    .await;
    assert_eq!(ids(&r), vec!["wv:bob@b.test"], "{r:?}");
    let r = ask(&alice, search(&[("USER_ID", "wv:bob@b.test")], None)).await;
    assert_eq!(
        found(&r),
        vec![("wv:bob@b.test".to_string(), Some("Bob".to_string()))],
        "{r:?}"
    );
    // A user b.test does not have: nothing, not an error.
    let r = ask(&alice, search(&[("USER_ID", "wv:nobody@b.test")], None)).await;
    assert_eq!(num(&r, "SearchFindings"), Some(0), "{r:?}");

    // A profile search: b.test finds only complete profiles of users of
    // at least 21 (its rule); a.test's own minimum (16) would let dave,
    // 18, through.
    profile(&alice, "Alice", "1990-05", "Basel").await;
    let carol = b.login("carol").ws().await;
    let dave = b.login("dave").ws().await;
    profile(&carol, "Carol", "1996-01", "Zurich").await;
    profile(&dave, "Dave", "2008-01", "Zurich").await;
    let r = ask(&alice, search(&[("USER_CITY", "Zurich")], None)).await;
    assert_eq!(ids(&r), vec!["wv:carol@b.test"], "{r:?}");
}

#[tokio::test]
async fn src_uc_search_in_other_domains_switched_off_stays_home_both_ways() {
    let (px, py) = (free_port(), free_port());
    // x.test neither asks nor answers; y.test asks.
    let x = server("x.test", px, &[("y.test", py)], |c| c.search.remote = false);
    let y = server("y.test", py, &[("x.test", px)], |_| {});
    add(&x, "xavier", "Sam", None);
    add(&y, "yvonne", "Sam", None);
    let xavier = x.login("xavier").ws().await;
    let yvonne = y.login("yvonne").ws().await;
    let r = ask(&xavier, search(&[("USER_FRIENDLY_NAME", "Sam")], None)).await;
    assert_eq!(ids(&r), vec!["wv:xavier@x.test"], "{r:?}");
    let r = ask(&yvonne, search(&[("USER_FRIENDLY_NAME", "Sam")], None)).await;
    assert_eq!(ids(&r), vec!["wv:yvonne@y.test"], "{r:?}");
    let r = ask(&yvonne, search(&[("USER_ID", "wv:xavier@x.test")], None)).await;
    assert_eq!(num(&r, "SearchFindings"), Some(0), "{r:?}");
}
