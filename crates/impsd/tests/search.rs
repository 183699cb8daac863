//! Issue 16: the Search transaction over users and groups (BASE-SRCH,
//! SRC-*), public profiles (PPR-*) and that private groups are never found
//! (PGC-15), over the real protocol, in every version and encoding that
//! has each feature.
#![allow(clippy::unwrap_used)]

use crate::{common, groups_common, im_common};

use common::{TestServer, code_of};
use groups_common::{create_req, expect_code, gid, prop, store};
use im_common::{add_user, expect, expect_none, online};
use imps_client::{Element, Encoding, HttpClient, Version};
use imps_core::FakeClock;
use imps_core::store::ContactDetails;

const BOTH: [Encoding; 2] = [Encoding::Xml, Encoding::Wbxml];

/// No search rate: these tests search more often than a person would.
/// The rate itself is proven in `base_srch_searches_per_user_are_rate_limited`.
fn unlimited(c: &mut impsd::Config) {
    c.search.rate_per_sec = 0;
}

fn all_combos() -> Vec<(Version, Encoding)> {
    [Version::V1_1, Version::V1_2, Version::V1_3]
        .into_iter()
        .flat_map(|v| BOTH.map(|e| (v, e)))
        .collect()
}

/// A first Search-Request in the layout of version `v`: one
/// SearchPairList per pair before 1.3; one list of SearchPair with
/// PairIDs 1, 2, ... in 1.3.
fn search(
    v: Version,
    pairs: &[(&str, &str)],
    limit: Option<u64>,
    advanced: Option<&str>,
) -> Element {
    let mut r = Element::new("Search-Request");
    if v >= Version::V1_3 {
        let mut list = Element::new("SearchPairList");
        for (i, (e, s)) in pairs.iter().enumerate() {
            list = list.with(
                Element::new("SearchPair")
                    .with_text("SearchElement", *e)
                    .with_text("SearchString", *s)
                    .with_text("PairID", (i + 1).to_string()),
            );
        }
        r = r.with(list);
        if let Some(a) = advanced {
            r = r.with_text("AdvancedCriteria", a);
        }
    } else {
        for (e, s) in pairs {
            r = r.with(
                Element::new("SearchPairList")
                    .with_text("SearchElement", *e)
                    .with_text("SearchString", *s),
            );
        }
    }
    if let Some(l) = limit {
        r = r.with_text("SearchLimit", l.to_string());
    }
    r
}

fn next_page(id: &str, index: Option<u64>) -> Element {
    let mut r = Element::new("Search-Request").with_text("SearchID", id);
    if let Some(i) = index {
        r = r.with_text("SearchIndex", i.to_string());
    }
    r
}

async fn ask(c: &HttpClient, req: Element, w: &str) -> Element {
    let r = c.request(req).await.unwrap();
    assert_eq!(r.name, "Search-Response", "{w}: {r:?}");
    r
}

/// (UserID, FriendlyName) of each user found, in order.
fn found_users(r: &Element) -> Vec<(String, Option<String>)> {
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

fn found_ids(r: &Element) -> Vec<String> {
    found_users(r).into_iter().map(|(u, _)| u).collect()
}

fn found_groups(r: &Element) -> Vec<String> {
    r.path(&["SearchResult", "GroupList"])
        .map(|l| {
            l.children_named("GroupID")
                .map(|g| g.text.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn uid(u: &str) -> String {
    format!("wv:{u}@localhost")
}

async fn code(c: &HttpClient, req: Element) -> Option<u16> {
    code_of(&c.request(req).await.unwrap())
}

#[tokio::test]
async fn base_srch_user_search_pages_forward_and_back_and_stops_in_every_version() {
    let srv = TestServer::start_with(unlimited).await;
    add_user(&srv, "seeker", None, None).await;
    for i in 1..=5 {
        add_user(&srv, &format!("kim{i}"), Some("Kim"), None).await;
    }
    add_user(&srv, "kimberly", Some("Kimberly"), None).await;
    for (v, e) in all_combos() {
        let w = format!("{v} {e:?}");
        let c = online(&srv, v, e, "seeker", "p").await;
        let first = ask(&c, search(v, &[("USER_ALIAS", "kim")], Some(2), None), &w).await;
        let id = first.child_text("SearchID").unwrap().to_string();
        assert_eq!(
            first.child_text("SearchFindings"),
            Some("5"),
            "{w}: {first:?}"
        );
        assert_eq!(first.child_text("CompletionFlag"), Some("F"), "{w}");
        assert_eq!(first.child_text("SearchIndex"), Some("2"), "{w}");
        assert_eq!(found_ids(&first), [uid("kim1"), uid("kim2")], "{w}");
        // Later pages by index, and without one (where the last ended).
        let second = ask(&c, next_page(&id, Some(2)), &w).await;
        assert_eq!(found_ids(&second), [uid("kim3"), uid("kim4")], "{w}");
        let last = ask(&c, next_page(&id, None), &w).await;
        assert_eq!(found_ids(&last), [uid("kim5")], "{w}");
        assert_eq!(last.child_text("CompletionFlag"), Some("T"), "{w}");
        assert_eq!(last.child_text("SearchIndex"), None, "{w}");
        // Earlier pages again (SRC-UC: browse both ways).
        let again = ask(&c, next_page(&id, Some(0)), &w).await;
        assert_eq!(found_ids(&again), [uid("kim1"), uid("kim2")], "{w}");
        assert_eq!(code(&c, next_page(&id, Some(5))).await, Some(425), "{w}");
        // Another session cannot read this search.
        let other = online(&srv, v, e, "kim1", "q").await;
        assert_eq!(
            code(&other, next_page(&id, Some(0))).await,
            Some(424),
            "{w}"
        );
        let stop = Element::new("StopSearch-Request").with_text("SearchID", &id);
        assert_eq!(code(&c, stop.clone()).await, Some(200), "{w}");
        assert_eq!(code(&c, next_page(&id, Some(0))).await, Some(424), "{w}");
        assert_eq!(code(&c, stop).await, Some(424), "{w}");
        // Nothing found is an answer, not an error.
        let none = ask(&c, search(v, &[("USER_ALIAS", "nobody")], None, None), &w).await;
        assert_eq!(none.child_text("SearchFindings"), Some("0"), "{w}");
        assert_eq!(none.child_text("CompletionFlag"), Some("T"), "{w}");
        assert!(found_ids(&none).is_empty(), "{w}");
        c.logout().await.unwrap();
        other.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_srch_open_searches_expire_and_end_with_the_session() {
    let clock = FakeClock::new(1_800_000_000_000);
    let srv = TestServer::builder()
        .config(|c| {
            unlimited(c);
            c.search.ttl_secs = 60;
        })
        .fake_clock(clock.clone())
        .start()
        .await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "kim", Some("Kim"), None).await;
    add_user(&srv, "kim2", Some("Kim"), None).await;
    let v = Version::V1_2;
    let c = online(&srv, v, Encoding::Xml, "seeker", "p").await;
    let r = ask(&c, search(v, &[("USER_ALIAS", "Kim")], Some(1), None), "").await;
    let id = r.child_text("SearchID").unwrap().to_string();
    clock.advance_ms(30_000);
    ask(&c, next_page(&id, Some(1)), "used within the ttl").await;
    clock.advance_ms(61_000);
    assert_eq!(code(&c, next_page(&id, Some(0))).await, Some(424));
    // Too many findings: refine (PPR-UC).
    let srv2 = TestServer::start_with(|c| {
        unlimited(c);
        c.search.max_findings = 1;
    })
    .await;
    add_user(&srv2, "seeker", None, None).await;
    add_user(&srv2, "kim", Some("Kim"), None).await;
    add_user(&srv2, "kim2", Some("Kim"), None).await;
    let c2 = online(&srv2, v, Encoding::Wbxml, "seeker", "p").await;
    assert_eq!(
        code(&c2, search(v, &[("USER_ALIAS", "Kim")], None, None)).await,
        Some(536)
    );
    assert_eq!(
        code(&c2, search(v, &[("USER_ID", "kim")], None, None)).await,
        None,
        "one finding is fine"
    );
}

#[tokio::test]
async fn src_1_src_2_advanced_criteria_nest_and_or_not_while_flat_searches_keep_working() {
    let srv = TestServer::start_with(unlimited).await;
    add_user(&srv, "seeker", None, None).await;
    let people = [
        ("ann", "Ann", "Helsinki", "Smith"),
        ("bea", "Bea", "Oulu", "Smith"),
        ("cid", "Cid", "Oulu", "Jones"),
        ("dan", "Dan", "Turku", "Smith"),
    ];
    for (id, friendly, _, _) in people {
        add_user(&srv, id, Some(friendly), None).await;
    }
    let st = store(&srv);
    for (id, _, city, last) in people {
        st.set_contact_details(
            id,
            ContactDetails {
                last_name: Some(last.into()),
                first_name: None,
                email: Some(format!("{id}@mail.example")),
            },
        )
        .await
        .unwrap();
        let mut p = st.profile(id).await.unwrap().unwrap();
        p.city = Some(city.into());
        st.put_profile(id, p).await.unwrap();
    }
    for e in BOTH {
        let w = format!("{e:?}");
        let v = Version::V1_3;
        let c = online(&srv, v, e, "seeker", "p").await;
        // Smith AND NOT (ann OR dan): bea only.
        let r = ask(
            &c,
            search(
                v,
                &[
                    ("USER_LAST_NAME", "smith"),
                    ("USER_FRIENDLY_NAME", "Ann"),
                    ("USER_ALIAS", "DAN"),
                ],
                None,
                Some("1 AND NOT (2 OR 3)"),
            ),
            &w,
        )
        .await;
        assert_eq!(found_ids(&r), [uid("bea")], "{w}: {r:?}");
        // (ann OR cid) OR (dan AND smith), deeper nesting.
        let r = ask(
            &c,
            search(
                v,
                &[
                    ("USER_FRIENDLY_NAME", "ann"),
                    ("USER_FRIENDLY_NAME", "cid"),
                    ("USER_FRIENDLY_NAME", "dan"),
                    ("USER_LAST_NAME", "Smith"),
                ],
                None,
                Some("((1 or 2) or (3 and (4)))"),
            ),
            &w,
        )
        .await;
        assert_eq!(
            found_ids(&r),
            [uid("ann"), uid("cid"), uid("dan")],
            "{w}: {r:?}"
        );
        // Several pairs without AdvancedCriteria: all must match.
        let r = ask(
            &c,
            search(
                v,
                &[("USER_LAST_NAME", "smith"), ("USER_ALIAS", "ann")],
                None,
                None,
            ),
            &w,
        )
        .await;
        assert_eq!(found_ids(&r), [uid("ann")], "{w}");
        // Limits: too deep, malformed, and matching everyone.
        let deep = "(((((((((1)))))))))";
        assert_eq!(
            code(&c, search(v, &[("USER_ALIAS", "ann")], None, Some(deep))).await,
            Some(402),
            "{w}"
        );
        assert_eq!(
            code(&c, search(v, &[("USER_ALIAS", "ann")], None, Some("1 AND"))).await,
            Some(402),
            "{w}"
        );
        assert_eq!(
            code(&c, search(v, &[("USER_ALIAS", "ann")], None, Some("NOT 1"))).await,
            Some(537),
            "{w}"
        );
        c.logout().await.unwrap();
    }
    // SRC-2: 1.1 and 1.2 clients send flat SearchPairLists; AND holds.
    for v in [Version::V1_1, Version::V1_2] {
        for e in BOTH {
            let w = format!("{v} {e:?}");
            let c = online(&srv, v, e, "seeker", "p").await;
            let r = ask(
                &c,
                search(
                    v,
                    &[
                        ("USER_LAST_NAME", "Smith"),
                        ("USER_EMAIL_ADDRESS", "DAN@mail.example"),
                    ],
                    None,
                    None,
                ),
                &w,
            )
            .await;
            assert_eq!(found_ids(&r), [uid("dan")], "{w}");
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn src_3_src_4_ppr_12_friendly_name_search_returns_the_id_and_friendly_name_only() {
    let srv = TestServer::start_with(unlimited).await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "zoe", Some("Zoë Quinn"), Some("+358401234567")).await;
    store(&srv)
        .set_contact_details(
            "zoe",
            ContactDetails {
                first_name: Some("Zoe".into()),
                last_name: Some("Quinn".into()),
                email: Some("zoe@mail.example".into()),
            },
        )
        .await
        .unwrap();
    for (v, e) in all_combos() {
        let w = format!("{v} {e:?}");
        let c = online(&srv, v, e, "seeker", "p").await;
        let element = if v >= Version::V1_3 {
            "USER_FRIENDLY_NAME"
        } else {
            "USER_ALIAS"
        };
        // Case and Unicode width fold; the whole name must match.
        let r = ask(&c, search(v, &[(element, "ZOË  QUINN")], None, None), &w).await;
        let users = found_users(&r);
        let friendly = (v >= Version::V1_3).then(|| "Zoë Quinn".to_string());
        assert_eq!(users, [(uid("zoe"), friendly)], "{w}: {r:?}");
        // Nothing but the ID and the friendly name (SRC-UC: no contact
        // details).
        let user = r.path(&["SearchResult", "UserList", "User"]).unwrap();
        let names: Vec<&str> = user.children.iter().map(|c| c.name.as_str()).collect();
        let expected: &[&str] = if v >= Version::V1_3 {
            &["UserID", "FriendlyName"]
        } else {
            &["UserID"]
        };
        assert_eq!(names, expected, "{w}");
        let text = format!("{:?}", r.child("SearchResult"));
        for leak in ["mail.example", "+358", "Zoe"] {
            assert!(!text.contains(leak), "{w}: {text}");
        }
        // PPR-13, SRC-UC: part of a name finds nothing.
        let r = ask(&c, search(v, &[(element, "Zoë")], None, None), &w).await;
        assert!(found_ids(&r).is_empty(), "{w}: {r:?}");
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn src_uc_msisdn_and_names_whole_strings_no_wildcards_unless_prefixes_are_allowed() {
    let srv = TestServer::start_with(|c| {
        unlimited(c);
        c.search.default_region = "FI".into();
    })
    .await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "mia", Some("Mia"), Some("+358401234567")).await;
    store(&srv)
        .set_contact_details(
            "mia",
            ContactDetails {
                first_name: Some("Maria".into()),
                last_name: Some("Virtanen".into()),
                email: None,
            },
        )
        .await
        .unwrap();
    for (v, e) in all_combos() {
        let w = format!("{v} {e:?}");
        let c = online(&srv, v, e, "seeker", "p").await;
        for number in ["+358 40 123 4567", "040-123 4567", "+358401234567"] {
            let r = ask(
                &c,
                search(v, &[("USER_MOBILE_NUMBER", number)], None, None),
                &w,
            )
            .await;
            assert_eq!(found_ids(&r), [uid("mia")], "{w} {number}");
        }
        assert_eq!(
            code(
                &c,
                search(v, &[("USER_MOBILE_NUMBER", "call me")], None, None)
            )
            .await,
            Some(402),
            "{w}"
        );
        let r = ask(
            &c,
            search(
                v,
                &[("USER_FIRST_NAME", "maria"), ("USER_LAST_NAME", "VIRTANEN")],
                None,
                None,
            ),
            &w,
        )
        .await;
        assert_eq!(found_ids(&r), [uid("mia")], "{w}");
        for wild in ["Mar*", "M%", "*"] {
            assert_eq!(
                code(&c, search(v, &[("USER_FIRST_NAME", wild)], None, None)).await,
                Some(537),
                "{w} {wild}"
            );
        }
        let r = ask(
            &c,
            search(v, &[("USER_FIRST_NAME", "Mari")], None, None),
            &w,
        )
        .await;
        assert!(found_ids(&r).is_empty(), "{w}: a part of a name");
        c.logout().await.unwrap();
    }
    // The operator may allow name prefixes.
    let srv = TestServer::start_with(|c| {
        unlimited(c);
        c.search.prefix_names = true;
    })
    .await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "mia", Some("Mia"), None).await;
    let c = online(&srv, Version::V1_2, Encoding::Xml, "seeker", "p").await;
    let r = ask(
        &c,
        search(Version::V1_2, &[("USER_ALIAS", "Mi*")], None, None),
        "prefix",
    )
    .await;
    assert_eq!(found_ids(&r), [uid("mia")]);
    assert_eq!(
        code(
            &c,
            search(Version::V1_2, &[("USER_ALIAS", "M*")], None, None)
        )
        .await,
        Some(537)
    );
}

#[tokio::test]
async fn base_srch_group_search_by_id_name_topic_owner_and_joined_user() {
    let srv = TestServer::start_with(unlimited).await;
    for u in ["alice", "bob", "seeker"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in all_combos() {
        let w = format!("{v} {e:?}");
        let tag = format!(
            "{}{}",
            v.as_str().replace('.', ""),
            if e == Encoding::Xml { "x" } else { "w" }
        );
        let alice = online(&srv, v, e, "alice", "a").await;
        let seeker = online(&srv, v, e, "seeker", "s").await;
        let open = gid("alice", &format!("chess{tag}"));
        let hidden = gid("alice", &format!("secret{tag}"));
        let name = format!("Chess Club {tag}");
        expect_code(
            &alice,
            create_req(
                &open,
                &[("Name", &name), ("Topic", "Openings"), ("Searchable", "T")],
                Some("Al"),
            ),
            200,
            &w,
        )
        .await;
        expect_code(
            &alice,
            create_req(&hidden, &[("Name", &name), ("Searchable", "F")], None),
            200,
            &w,
        )
        .await;
        let by = |el: &str, s: &str| search(v, &[(el, s)], Some(50), None);
        let r = ask(&seeker, by("GROUP_NAME", &name.to_uppercase()), &w).await;
        assert_eq!(found_groups(&r), std::slice::from_ref(&open), "{w}: {r:?}");
        let r = ask(&seeker, by("GROUP_ID", &open), &w).await;
        assert_eq!(found_groups(&r), std::slice::from_ref(&open), "{w}");
        let r = ask(&seeker, by("GROUP_ID", &hidden), &w).await;
        assert!(found_groups(&r).is_empty(), "{w}: not searchable");
        let r = ask(&seeker, by("GROUP_USER_ID_JOINED", &uid("alice")), &w).await;
        assert!(found_groups(&r).contains(&open), "{w}: {r:?}");
        let r = ask(
            &seeker,
            search(
                v,
                &[
                    ("GROUP_USER_ID_OWNER", &uid("alice")),
                    ("GROUP_TOPIC", "openings"),
                ],
                Some(50),
                None,
            ),
            &w,
        )
        .await;
        assert!(found_groups(&r).contains(&open), "{w}");
        assert!(!found_groups(&r).contains(&hidden), "{w}");
        // Users and groups are not searched together.
        assert_eq!(
            code(
                &seeker,
                search(v, &[("GROUP_NAME", "x"), ("USER_ALIAS", "y")], None, None)
            )
            .await,
            Some(402),
            "{w}"
        );
        alice.logout().await.unwrap();
        seeker.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_15_a_private_group_is_never_found_by_group_search() {
    let srv = TestServer::start_with(unlimited).await;
    for u in ["alice", "seeker"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in all_combos() {
        let w = format!("{v} {e:?}");
        let alice = online(&srv, v, e, "alice", "a").await;
        let seeker = online(&srv, v, e, "seeker", "s").await;
        let name = format!("Private talk {v} {e:?}");
        let req = Element::new("CreateGroup-Request")
            .with(
                Element::new("GroupProperties")
                    .with(prop("Type", "Private"))
                    .with(prop("Name", &name))
                    .with(prop("Searchable", "T")),
            )
            .with_text("JoinGroup", "T");
        let resp = expect_code(&alice, req, 200, &w).await;
        let g = resp
            .path(&["Result", "DetailedResult", "GroupID"])
            .unwrap()
            .text
            .clone();
        for (el, s) in [
            ("GROUP_ID", g.as_str()),
            ("GROUP_NAME", name.as_str()),
            ("GROUP_USER_ID_JOINED", "wv:alice@localhost"),
            ("GROUP_USER_ID_OWNER", "wv:alice@localhost"),
        ] {
            for searcher in [&seeker, &alice] {
                let r = ask(searcher, search(v, &[(el, s)], Some(50), None), &w).await;
                assert!(!found_groups(&r).contains(&g), "{w} {el}: {r:?}");
            }
        }
        alice.logout().await.unwrap();
        seeker.logout().await.unwrap();
    }
}

// ---- public profiles (1.3) ----

fn update(props: &[(&str, &str)], clear: bool) -> Element {
    let mut r = Element::new("UpdatePublicProfile-Request");
    if clear {
        r = r.with_text("ClearPublicProfile", "T");
    }
    if !props.is_empty() {
        let mut p = Element::new("PublicProfile");
        for (n, v) in props {
            p = p.with(prop(n, v));
        }
        r = r.with(p);
    }
    r
}

fn get(users: &[&str]) -> Element {
    let mut r = Element::new("GetPublicProfile-Request");
    for u in users {
        r = r.with_text("UserID", uid(u));
    }
    r
}

/// The properties of the one profile in a GetPublicProfile-Response.
fn props_of(r: &Element) -> Vec<(String, String)> {
    assert_eq!(r.name, "GetPublicProfile-Response", "{r:?}");
    let p = r.child("PublicProfile").unwrap();
    p.children_named("Property")
        .map(|x| {
            (
                x.child_text("Name").unwrap().to_string(),
                x.child_text("Value").unwrap().to_string(),
            )
        })
        .collect()
}

fn has(props: &[(String, String)], name: &str, value: &str) -> bool {
    props.iter().any(|(n, v)| n == name && v == value)
}

const FULL: [(&str, &str); 7] = [
    ("PP_FRIENDLY_NAME", "Sunny"),
    ("PP_AGE", "1990-04"),
    ("PP_GENDER", "F"),
    ("PP_INTENTION", "chat"),
    ("PP_CITY", "Oulu"),
    ("PP_COUNTRY", "fi"),
    ("PP_FREE_TEXT", "Likes long walks"),
];

#[tokio::test]
async fn ppr_1_ppr_2_ppr_3_a_profile_is_updated_read_and_cleared_keeping_the_friendly_name() {
    let srv =
        TestServer::start_with(|c| c.search.profile_consent = imps_core::ProfileConsent::Implicit)
            .await;
    add_user(&srv, "sun", None, Some("+46701234567")).await;
    add_user(&srv, "other", None, None).await;
    for e in BOTH {
        let w = format!("{e:?}");
        let c = online(&srv, Version::V1_3, e, "sun", "p").await;
        let o = online(&srv, Version::V1_3, e, "other", "q").await;
        assert_eq!(code(&c, update(&FULL, false)).await, Some(200), "{w}");
        let own = props_of(&c.request(get(&[])).await.unwrap());
        for (n, v) in [
            ("PP_FRIENDLY_NAME", "Sunny"),
            ("PP_AGE", "1990-04"),
            ("PP_CITY", "Oulu"),
            ("PP_COUNTRY", "FI"),
            ("PP_FREE_TEXT", "Likes long walks"),
        ] {
            assert!(has(&own, n, v), "{w}: {n} in {own:?}");
        }
        // Others see the age, not the birth month.
        let seen = props_of(&o.request(get(&["sun"])).await.unwrap());
        assert!(has(&seen, "PP_FRIENDLY_NAME", "Sunny"), "{w}: {seen:?}");
        assert!(
            seen.iter().any(|(n, v)| n == "PP_AGE" && !v.contains('-')),
            "{w}: {seen:?}"
        );
        // Bad values are refused, nothing applied.
        for bad in [
            ("PP_AGE", "13/1990"),
            ("PP_COUNTRY", "Finland"),
            ("PP_FRIENDLY_NAME", ""),
            ("PP_SHOE_SIZE", "44"),
        ] {
            assert_eq!(
                code(&c, update(&[bad, ("PP_CITY", "Turku")], false)).await,
                Some(402),
                "{w} {bad:?}"
            );
        }
        let own = props_of(&c.request(get(&[])).await.unwrap());
        assert!(has(&own, "PP_CITY", "Oulu"), "{w}");
        // PPR-3: clearing keeps the friendly name only; the country comes
        // back from the MSISDN (+46: Sweden).
        assert_eq!(code(&c, update(&[], true)).await, Some(200), "{w}");
        let own = props_of(&c.request(get(&[])).await.unwrap());
        assert!(has(&own, "PP_FRIENDLY_NAME", "Sunny"), "{w}: {own:?}");
        assert!(has(&own, "PP_COUNTRY", "SE"), "{w}: {own:?}");
        assert!(
            !own.iter().any(|(n, _)| n == "PP_CITY" || n == "PP_AGE"),
            "{w}: {own:?}"
        );
        // An unknown user: 531.
        assert_eq!(code(&o, get(&["nobody"])).await, Some(531), "{w}");
        c.logout().await.unwrap();
        o.logout().await.unwrap();
    }
    // Before 1.3 there are no public profiles.
    let c = online(&srv, Version::V1_2, Encoding::Xml, "sun", "p").await;
    assert_eq!(code(&c, update(&FULL, false)).await, Some(501));
}

/// Puts a complete profile for `user` through the store, agreed to.
async fn listed(
    srv: &TestServer,
    user: &str,
    friendly: &str,
    birth: (u16, u8),
    city: &str,
    consent: bool,
) {
    let st = store(srv);
    let mut p = st.profile(user).await.unwrap().unwrap();
    p.friendly_name = Some(friendly.into());
    p.birth = Some(imps_core::store::Birth {
        year: birth.0,
        month: birth.1,
    });
    p.country = Some("FI".into());
    p.city = Some(city.into());
    p.gender = Some("F".into());
    p.consent = consent;
    assert!(st.put_profile(user, p).await.unwrap());
}

#[tokio::test]
async fn ppr_4_ppr_5_ppr_6_ppr_7_ppr_8_ppr_11_ppr_13_profile_search_rules() {
    let srv = TestServer::start_with(|c| {
        unlimited(c);
        c.search.min_profile_age = 16;
    })
    .await;
    for u in ["seeker", "adult", "minor", "hidden", "partial", "elder"] {
        add_user(&srv, u, None, None).await;
    }
    listed(&srv, "adult", "Ada", (1995, 6), "Oulu", true).await;
    listed(&srv, "elder", "Eve", (1950, 1), "Oulu", true).await;
    // PPR-11: under the minimum age (the clock is real: born last year).
    listed(&srv, "minor", "Mini", (2025, 1), "Oulu", true).await;
    // PPR-UC: complete but never agreed.
    listed(&srv, "hidden", "Hid", (1990, 1), "Oulu", false).await;
    // PPR-8: mandatory fields missing (no age).
    let st = store(&srv);
    let mut p = st.profile("partial").await.unwrap().unwrap();
    p.friendly_name = Some("Par".into());
    p.city = Some("Oulu".into());
    p.country = Some("FI".into());
    p.consent = true;
    st.put_profile("partial", p).await.unwrap();
    for e in BOTH {
        let w = format!("{e:?}");
        let v = Version::V1_3;
        st.put_profile("seeker", Default::default()).await.unwrap();
        let c = online(&srv, v, e, "seeker", "p").await;
        // PPR-6: the searcher's own profile is incomplete.
        assert_eq!(
            code(&c, search(v, &[("USER_CITY", "Oulu")], None, None)).await,
            Some(403),
            "{w}"
        );
        // PPR-7: told why, once per session, as a system message.
        let (tid, req) = expect(&c, "SystemMessage-Request").await;
        c.answer_status(&tid).await.unwrap();
        let told = req
            .path(&["SystemMessageList", "SystemMessage", "SystemMessageText"])
            .unwrap()
            .text
            .clone();
        assert!(
            told.contains("friendly name, age and country"),
            "{w}: {told}"
        );
        assert_eq!(
            code(&c, search(v, &[("USER_GENDER", "F")], None, None)).await,
            Some(403),
            "{w}"
        );
        im_common::expect_none(&c, "SystemMessage-Request").await;
        // A contact-details search needs no profile.
        let r = ask(
            &c,
            search(v, &[("USER_FRIENDLY_NAME", "Ada")], None, None),
            &w,
        )
        .await;
        assert_eq!(found_ids(&r), [uid("adult")], "{w}");
        let mine = update(
            &[
                ("PP_FRIENDLY_NAME", "Seek"),
                ("PP_AGE", "1980-01"),
                ("PP_COUNTRY", "FI"),
            ],
            false,
        );
        assert_eq!(code(&c, mine).await, Some(200), "{w}");
        // PPR-4, PPR-5, PPR-8, PPR-11: only complete, agreed, adult.
        let r = ask(&c, search(v, &[("USER_CITY", "OULU")], None, None), &w).await;
        assert_eq!(
            found_users(&r),
            [
                (uid("adult"), Some("Ada".into())),
                (uid("elder"), Some("Eve".into()))
            ],
            "{w}: {r:?}"
        );
        // PPR-13: whole strings only.
        let r = ask(&c, search(v, &[("USER_CITY", "Oul")], None, None), &w).await;
        assert!(found_ids(&r).is_empty(), "{w}");
        // Age ranges.
        let r = ask(
            &c,
            search(
                v,
                &[
                    ("USER_AGE_MIN", "20"),
                    ("USER_AGE_MAX", "60"),
                    ("USER_COUNTRY", "fi"),
                ],
                None,
                None,
            ),
            &w,
        )
        .await;
        assert_eq!(found_ids(&r), [uid("adult")], "{w}: {r:?}");
        // A minor's profile is not shown to others either.
        let seen = props_of(&c.request(get(&["minor"])).await.unwrap());
        assert!(!seen.iter().any(|(n, _)| n == "PP_CITY"), "{w}: {seen:?}");
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn ppr_uc_ppr_7_a_complete_profile_is_found_only_after_agreeing_to_the_advice() {
    let srv = TestServer::start_with(unlimited).await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "new", None, None).await;
    listed(&srv, "seeker", "Seek", (1980, 1), "Turku", true).await;
    for e in BOTH {
        let w = format!("{e:?}");
        let v = Version::V1_3;
        let c = online(&srv, v, e, "new", "p").await;
        let s = online(&srv, v, e, "seeker", "q").await;
        let city = format!("Kemi{e:?}");
        let find = || search(v, &[("USER_CITY", city.as_str())], None, None);
        let mine = update(
            &[
                ("PP_FRIENDLY_NAME", "Newbie"),
                ("PP_AGE", "1999-09"),
                ("PP_COUNTRY", "FI"),
                ("PP_CITY", &city),
            ],
            false,
        );
        assert_eq!(code(&c, mine).await, Some(200), "{w}");
        let (tid, req) = expect(&c, "SystemMessage-Request").await;
        c.answer_status(&tid).await.unwrap();
        let m = req.path(&["SystemMessageList", "SystemMessage"]).unwrap();
        let id = m.child_text("SystemMessageID").unwrap().to_string();
        let options = m
            .child("AnswerOptions")
            .unwrap()
            .children_named("AnswerOption")
            .count();
        assert_eq!(options, 2, "{w}: {m:?}");
        // Not yet: no answer.
        assert!(found_ids(&ask(&s, find(), &w).await).is_empty(), "{w}");
        // "Keep me hidden".
        let answer = |opt: u64| {
            Element::new("SystemMessage-User").with(
                Element::new("SystemMessageResponseList").with(
                    Element::new("SystemMessageResponse")
                        .with_text("SystemMessageID", &id)
                        .with_text("ChosenOptionID", opt.to_string()),
                ),
            )
        };
        assert_eq!(code(&c, answer(2)).await, Some(200), "{w}");
        assert!(found_ids(&ask(&s, find(), &w).await).is_empty(), "{w}");
        // "Make me searchable".
        assert_eq!(code(&c, answer(1)).await, Some(200), "{w}");
        assert_eq!(found_ids(&ask(&s, find(), &w).await), [uid("new")], "{w}");
        // Clearing takes the consent back.
        assert_eq!(code(&c, update(&[], true)).await, Some(200), "{w}");
        assert!(found_ids(&ask(&s, find(), &w).await).is_empty(), "{w}");
        c.logout().await.unwrap();
        s.logout().await.unwrap();
    }
    // The advice was for "new" alone: another user's next session is not
    // sent it (it is stored once, as a server message for anyone).
    add_user(&srv, "other", None, None).await;
    let o = online(&srv, Version::V1_3, Encoding::Xml, "other", "r").await;
    expect_none(&o, "SystemMessage-Request").await;
}

#[tokio::test]
async fn src_uc_the_operator_sets_contact_details_that_are_found_but_never_shown() {
    use common::RealServer;
    let srv = RealServer::builder(common::IMPSD_BIN).start();
    srv.add_user("seeker", "pw");
    srv.add_user("bob", "pw");
    let out = srv.cli(&[
        "user",
        "details",
        "bob",
        "--first-name",
        "Robert",
        "--last-name",
        "Ödegaard",
        "--email",
        "bob@mail.example",
    ]);
    assert!(out.contains("first name: Robert"), "{out}");
    let c = imps_client::Client::new(
        imps_client::ClientConfig::new(srv.url(), Version::V1_3, Encoding::Wbxml)
            .with_client_id("p"),
    )
    .unwrap();
    im_common::online_with(&c, "seeker", im_common::caps("P")).await;
    let v = Version::V1_3;
    let r = ask(
        &c,
        search(
            v,
            &[
                ("USER_FIRST_NAME", "robert"),
                ("USER_LAST_NAME", "ÖDEGAARD"),
            ],
            None,
            None,
        ),
        "details",
    )
    .await;
    assert_eq!(found_users(&r), [(uid("bob"), None)], "{r:?}");
    let text = format!("{r:?}");
    assert!(
        !text.contains("Robert") && !text.contains("mail.example"),
        "{text}"
    );
    // An empty value removes a field; the others stay.
    srv.cli(&["user", "details", "bob", "--first-name", ""]);
    let r = ask(
        &c,
        search(v, &[("USER_FIRST_NAME", "Robert")], None, None),
        "removed",
    )
    .await;
    assert!(found_ids(&r).is_empty(), "{r:?}");
    let r = ask(
        &c,
        search(v, &[("USER_EMAIL_ADDRESS", "BOB@mail.example")], None, None),
        "kept",
    )
    .await;
    assert_eq!(found_ids(&r), [uid("bob")]);
    let out = srv.cli_output(&["user", "details", "nobody", "--email", "x@y"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user"));
}

#[tokio::test]
async fn base_srch_searches_per_user_are_rate_limited() {
    let clock = FakeClock::new(1_800_000_000_000);
    let srv = TestServer::builder()
        .config(|c| {
            c.search.rate_per_sec = 1;
            c.search.burst = 3;
        })
        .fake_clock(clock.clone())
        .start()
        .await;
    add_user(&srv, "seeker", None, None).await;
    add_user(&srv, "kim", Some("Kim"), None).await;
    add_user(&srv, "kim2", Some("Kim"), None).await;
    let v = Version::V1_3;
    let c = online(&srv, v, Encoding::Wbxml, "seeker", "p").await;
    let find = || search(v, &[("USER_ALIAS", "Kim")], Some(1), None);
    let mut id = String::new();
    for _ in 0..3 {
        id = ask(&c, find(), "within the burst")
            .await
            .child_text("SearchID")
            .unwrap()
            .to_string();
    }
    let r = c.request(find()).await.unwrap();
    assert_eq!(code_of(&r), Some(503), "{r:?}");
    assert_eq!(
        r.path(&["Result", "TryAgainTimeout"])
            .map(|t| t.text.as_str()),
        Some("1"),
        "{r:?}"
    );
    // Pages of an open search are not new searches.
    ask(&c, next_page(&id, Some(1)), "a page").await;
    clock.advance_ms(1_000);
    ask(&c, find(), "a second later").await;
}
