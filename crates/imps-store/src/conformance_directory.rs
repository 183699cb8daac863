//! The directory area's part of the conformance suite: public profiles,
//! contact details and search (issue 16). Run against `MemStore` (the
//! reference) and SQLite. Panics say which promise a backend broke.
//!
//! Every check uses its own user and group IDs, and its searches are
//! narrowed to them (an ID prefix, or values no other check uses), so the
//! checks can share one store in any order.

use imps_core::store::{
    Birth, ContactDetails, GroupField, GroupLeaf, GroupRecord, JoinedUser, PublicProfile,
    StoreError, Term, UserField, UserLeaf, search_key,
};
use imps_core::{NewUser, Store};

/// Runs every directory check against `store`, which should start empty.
pub async fn run_all(store: &dyn Store) {
    profile_get_put_clear(store).await;
    profile_birth(store).await;
    contact_details_round_trip(store).await;
    search_each_user_field(store).await;
    search_whole_values_folded(store).await;
    search_keys_follow_updates(store).await;
    search_prefix(store).await;
    search_birth_bounds(store).await;
    search_listed(store).await;
    search_nested_terms(store).await;
    search_cap_and_order(store).await;
    search_groups_only_listed(store).await;
    search_groups_fields_and_joined(store).await;
    import_users_all_or_none(store).await;
    search_profile_conditions_follow_writes(store).await;
    search_any_merges_in_order(store).await;
    search_age_window_across_years(store).await;
    search_first_and_last_name(store).await;
    friendly_names_of_a_page(store).await;
}

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

async fn user(store: &dyn Store, id: &str, msisdn: Option<&str>, name: Option<&str>) {
    ok(
        store
            .create_user(NewUser {
                id: id.into(),
                password_hash: None,
                digest_secret: None,
                msisdn: msisdn.map(str::to_string),
                friendly_name: name.map(str::to_string),
                created_ms: 1_700_000_000_000,
            })
            .await,
        "create_user",
    );
}

fn listed_profile(name: &str, year: u16, country: &str) -> PublicProfile {
    PublicProfile {
        friendly_name: Some(name.into()),
        birth: Some(Birth { year, month: 6 }),
        country: Some(country.into()),
        consent: true,
        ..PublicProfile::default()
    }
}

fn leaf(l: UserLeaf) -> Term<UserLeaf> {
    Term::Leaf(l)
}

fn is(f: UserField, v: &str) -> Term<UserLeaf> {
    Term::Leaf(UserLeaf::Is(f, search_key(v)))
}

/// Users whose ID starts with `prefix`: narrows a search to one check.
fn id_prefix(prefix: &str) -> Term<UserLeaf> {
    Term::Leaf(UserLeaf::Prefix(UserField::UserId, prefix.into()))
}

fn not<L>(t: Term<L>) -> Term<L> {
    Term::Not(Box::new(t))
}

async fn users(store: &dyn Store, t: Term<UserLeaf>) -> Vec<String> {
    ok(store.search_users(&t, 1_000).await, "search_users")
}

async fn groups(store: &dyn Store, t: Term<GroupLeaf>) -> Vec<String> {
    ok(store.search_groups(&t, 1_000).await, "search_groups")
}

fn month(year: u16, month: u8) -> u32 {
    Birth { year, month }.month_index()
}

pub async fn profile_get_put_clear(store: &dyn Store) {
    assert_eq!(ok(store.profile("dp-nobody").await, "profile"), None);
    assert!(
        !ok(
            store
                .put_profile("dp-nobody", PublicProfile::default())
                .await,
            "put_profile"
        ),
        "no profile for an unknown user"
    );
    assert_eq!(ok(store.profile("dp-nobody").await, "profile"), None);

    user(store, "dp-ann", None, Some("Ann")).await;
    assert_eq!(
        ok(store.profile("dp-ann").await, "profile"),
        Some(PublicProfile {
            friendly_name: Some("Ann".into()),
            ..PublicProfile::default()
        }),
        "a user without a profile has an empty one with the friendly name"
    );
    let full = PublicProfile {
        friendly_name: Some("Ann ☺ Lee".into()),
        birth: Some(Birth {
            year: 1985,
            month: 12,
        }),
        gender: Some("F".into()),
        intention: Some("Chat".into()),
        interests: Some("Chess".into()),
        marital_status: Some("S".into()),
        city: Some("Zürich".into()),
        country: Some("CH".into()),
        free_text: Some("Hello, I am Ann.\nSecond line".into()),
        consent: true,
    };
    assert!(ok(
        store.put_profile("dp-ann", full.clone()).await,
        "put_profile"
    ));
    assert_eq!(
        ok(store.profile("dp-ann").await, "profile"),
        Some(full.clone())
    );
    let u = ok(store.user("dp-ann").await, "user");
    assert_eq!(
        u.and_then(|u| u.friendly_name).as_deref(),
        Some("Ann ☺ Lee"),
        "the profile's friendly name is the user's"
    );
    let cleared = full.cleared();
    assert!(ok(
        store.put_profile("dp-ann", cleared.clone()).await,
        "put_profile"
    ));
    assert_eq!(
        ok(store.profile("dp-ann").await, "profile"),
        Some(PublicProfile {
            friendly_name: Some("Ann ☺ Lee".into()),
            ..PublicProfile::default()
        }),
        "clearing keeps only the friendly name"
    );
    let unnamed = PublicProfile {
        city: Some("Bern".into()),
        ..PublicProfile::default()
    };
    assert!(ok(
        store.put_profile("dp-ann", unnamed.clone()).await,
        "put_profile"
    ));
    assert_eq!(ok(store.profile("dp-ann").await, "profile"), Some(unnamed));
    assert_eq!(
        ok(store.user("dp-ann").await, "user").and_then(|u| u.friendly_name),
        None,
        "a profile without a friendly name removes it"
    );
}

/// Birth dates (minimum-age groups, PPR-9/10) are the profile's.
pub async fn profile_birth(store: &dyn Store) {
    user(store, "dp-zed", None, None).await;
    let b = Birth {
        year: 1990,
        month: 7,
    };
    let p = PublicProfile {
        birth: Some(b),
        ..PublicProfile::default()
    };
    assert!(ok(store.put_profile("dp-zed", p).await, "put_profile"));
    assert_eq!(
        ok(store.profile("dp-zed").await, "profile").and_then(|p| p.birth),
        Some(b)
    );
    assert!(ok(
        store.put_profile("dp-zed", PublicProfile::default()).await,
        "put_profile"
    ));
    assert_eq!(
        ok(store.profile("dp-zed").await, "profile").and_then(|p| p.birth),
        None
    );
}

pub async fn contact_details_round_trip(store: &dyn Store) {
    assert_eq!(
        ok(store.contact_details("dc-nobody").await, "contact_details"),
        None
    );
    assert!(!ok(
        store
            .set_contact_details("dc-nobody", ContactDetails::default())
            .await,
        "set_contact_details"
    ));
    user(store, "dc-bea", None, Some("Bea")).await;
    assert_eq!(
        ok(store.contact_details("dc-bea").await, "contact_details"),
        Some(ContactDetails::default())
    );
    let d = ContactDetails {
        first_name: Some("Béatrice".into()),
        last_name: Some("O'Neil".into()),
        email: Some("bea@example.org".into()),
    };
    assert!(ok(
        store.set_contact_details("dc-bea", d.clone()).await,
        "set_contact_details"
    ));
    assert_eq!(
        ok(store.contact_details("dc-bea").await, "contact_details"),
        Some(d)
    );
    let d2 = ContactDetails {
        email: Some("b@example.org".into()),
        ..ContactDetails::default()
    };
    assert!(ok(
        store.set_contact_details("dc-bea", d2.clone()).await,
        "set_contact_details"
    ));
    assert_eq!(
        ok(store.contact_details("dc-bea").await, "contact_details"),
        Some(d2),
        "contact details are replaced whole"
    );
    assert_eq!(
        ok(store.profile("dc-bea").await, "profile").and_then(|p| p.friendly_name),
        Some("Bea".into()),
        "contact details leave the profile alone"
    );
}

pub async fn search_each_user_field(store: &dyn Store) {
    user(store, "sf-one", Some("+41790000001"), Some("Field One")).await;
    user(store, "sf-two", Some("+41790000002"), Some("Field Two")).await;
    let p = |n: &str, city: &str, gender: &str| PublicProfile {
        friendly_name: Some(n.into()),
        city: Some(city.into()),
        country: Some(format!("Q{}", &city[..1])),
        gender: Some(gender.into()),
        intention: Some(format!("intent-{city}")),
        interests: Some(format!("interest-{city}")),
        marital_status: Some(format!("status-{city}")),
        ..PublicProfile::default()
    };
    ok(
        store
            .put_profile("sf-one", p("Field One", "Aville-sf", "sf-g1"))
            .await,
        "put_profile",
    );
    ok(
        store
            .put_profile("sf-two", p("Field Two", "Bville-sf", "sf-g2"))
            .await,
        "put_profile",
    );
    let d = |n: &str| ContactDetails {
        first_name: Some(format!("First{n}-sf")),
        last_name: Some(format!("Last{n}-sf")),
        email: Some(format!("{n}@sf.example")),
    };
    ok(store.set_contact_details("sf-one", d("1")).await, "details");
    ok(store.set_contact_details("sf-two", d("2")).await, "details");
    let one = vec!["sf-one".to_string()];
    let cases = [
        (UserField::UserId, "sf-one"),
        (UserField::Msisdn, "+41790000001"),
        (UserField::FriendlyName, "Field One"),
        (UserField::City, "Aville-sf"),
        (UserField::Gender, "sf-g1"),
        (UserField::Intention, "intent-Aville-sf"),
        (UserField::Interests, "interest-Aville-sf"),
        (UserField::MaritalStatus, "status-Aville-sf"),
        (UserField::FirstName, "First1-sf"),
        (UserField::LastName, "Last1-sf"),
        (UserField::Email, "1@sf.example"),
    ];
    for (f, v) in cases {
        assert_eq!(users(store, is(f, v)).await, one, "search by {f:?} = {v:?}");
    }
    // A field's key does not match another field.
    assert!(
        users(store, is(UserField::LastName, "First1-sf"))
            .await
            .is_empty()
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                id_prefix("sf-"),
                Term::Leaf(UserLeaf::Is(UserField::Country, "qa".into()))
            ])
        )
        .await,
        one,
        "country"
    );
}

pub async fn search_whole_values_folded(store: &dyn Store) {
    user(store, "sw-marie", None, Some("Ｍarie  CURIE sw")).await;
    user(store, "sw-ecole", None, Some("e\u{301}cole sw")).await;
    assert_eq!(
        users(store, is(UserField::FriendlyName, "marie curie sw")).await,
        vec!["sw-marie"],
        "case, width and blanks fold"
    );
    assert_eq!(
        users(store, is(UserField::FriendlyName, "ÉCOLE SW")).await,
        vec!["sw-ecole"],
        "NFKC composes accents"
    );
    for part in ["marie", "curie sw", "marie curie", "arie curie sw"] {
        assert!(
            users(store, is(UserField::FriendlyName, part))
                .await
                .is_empty(),
            "only whole values match, not {part:?}"
        );
    }
}

pub async fn search_keys_follow_updates(store: &dyn Store) {
    user(store, "su-kim", None, Some("Old Name su")).await;
    ok(
        store
            .set_contact_details(
                "su-kim",
                ContactDetails {
                    email: Some("old@su.example".into()),
                    ..ContactDetails::default()
                },
            )
            .await,
        "details",
    );
    let p = PublicProfile {
        friendly_name: Some("New Name su".into()),
        city: Some("Lyon su".into()),
        ..PublicProfile::default()
    };
    ok(store.put_profile("su-kim", p.clone()).await, "put_profile");
    let kim = vec!["su-kim".to_string()];
    assert!(
        users(store, is(UserField::FriendlyName, "Old Name su"))
            .await
            .is_empty()
    );
    assert_eq!(
        users(store, is(UserField::FriendlyName, "New Name su")).await,
        kim
    );
    assert_eq!(
        users(store, is(UserField::Email, "old@su.example")).await,
        kim,
        "a profile write keeps the contact keys"
    );
    ok(
        store
            .set_contact_details(
                "su-kim",
                ContactDetails {
                    email: Some("new@su.example".into()),
                    ..ContactDetails::default()
                },
            )
            .await,
        "details",
    );
    assert!(
        users(store, is(UserField::Email, "old@su.example"))
            .await
            .is_empty()
    );
    assert_eq!(
        users(store, is(UserField::Email, "new@su.example")).await,
        kim
    );
    assert_eq!(
        users(store, is(UserField::City, "Lyon su")).await,
        kim,
        "a contact write keeps the profile keys"
    );
    ok(store.put_profile("su-kim", p.cleared()).await, "clear");
    assert!(
        users(store, is(UserField::City, "Lyon su"))
            .await
            .is_empty()
    );
    assert_eq!(
        users(store, is(UserField::FriendlyName, "New Name su")).await,
        kim,
        "clearing keeps the friendly name"
    );
}

pub async fn search_prefix(store: &dyn Store) {
    for (id, name) in [
        ("sp-a", "Martin sp"),
        ("sp-b", "MARTINE sp"),
        ("sp-c", "Marc sp"),
    ] {
        user(store, id, None, Some(name)).await;
    }
    let pre = |k: &str| {
        Term::All(vec![
            id_prefix("sp-"),
            leaf(UserLeaf::Prefix(UserField::FriendlyName, search_key(k))),
        ])
    };
    assert_eq!(users(store, pre("Mart")).await, vec!["sp-a", "sp-b"]);
    assert_eq!(users(store, pre("martin")).await, vec!["sp-a", "sp-b"]);
    assert_eq!(users(store, pre("martine")).await, vec!["sp-b"]);
    assert_eq!(users(store, pre("mar")).await, vec!["sp-a", "sp-b", "sp-c"]);
    assert_eq!(users(store, pre("")).await, vec!["sp-a", "sp-b", "sp-c"]);
    assert!(users(store, pre("artin")).await.is_empty());
    assert!(users(store, pre("martin sp x")).await.is_empty());
    assert_eq!(
        users(store, id_prefix("sp-")).await,
        vec!["sp-a", "sp-b", "sp-c"]
    );
}

pub async fn search_birth_bounds(store: &dyn Store) {
    let born = |year| PublicProfile {
        birth: Some(Birth { year, month: 1 }),
        ..PublicProfile::default()
    };
    user(store, "sb-old", None, None).await;
    user(store, "sb-young", None, None).await;
    user(store, "sb-none", None, None).await;
    ok(store.put_profile("sb-old", born(1990)).await, "put_profile");
    ok(
        store.put_profile("sb-young", born(2005)).await,
        "put_profile",
    );
    let within = |l| Term::All(vec![id_prefix("sb-"), leaf(l)]);
    let cut = month(2000, 1);
    assert_eq!(
        users(store, within(UserLeaf::BornBy(cut))).await,
        vec!["sb-old"]
    );
    assert_eq!(
        users(store, within(UserLeaf::BornAfter(cut))).await,
        vec!["sb-young"]
    );
    assert_eq!(
        users(store, within(UserLeaf::BornBy(month(1990, 1)))).await,
        vec!["sb-old"],
        "BornBy includes its own month"
    );
    assert!(
        users(store, within(UserLeaf::BornAfter(month(2005, 1))))
            .await
            .is_empty(),
        "BornAfter excludes its own month"
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![id_prefix("sb-"), not(leaf(UserLeaf::BornBy(cut)))])
        )
        .await,
        vec!["sb-none", "sb-young"],
        "no birth date is not born by any month"
    );
}

pub async fn search_listed(store: &dyn Store) {
    for id in ["sl-yes", "sl-nocountry", "sl-noconsent", "sl-cleared"] {
        user(store, id, None, None).await;
    }
    ok(
        store
            .put_profile("sl-yes", listed_profile("Yes", 1980, "FR"))
            .await,
        "put",
    );
    let mut p = listed_profile("No country", 1980, "FR");
    p.country = None;
    ok(store.put_profile("sl-nocountry", p).await, "put");
    let mut p = listed_profile("No consent", 1980, "FR");
    p.consent = false;
    ok(store.put_profile("sl-noconsent", p).await, "put");
    let p = listed_profile("Cleared", 1980, "FR");
    ok(store.put_profile("sl-cleared", p.clone()).await, "put");
    ok(store.put_profile("sl-cleared", p.cleared()).await, "put");
    let listed = Term::All(vec![id_prefix("sl-"), leaf(UserLeaf::Listed)]);
    assert_eq!(users(store, listed).await, vec!["sl-yes"]);
    assert_eq!(
        users(
            store,
            Term::All(vec![id_prefix("sl-"), not(leaf(UserLeaf::Listed))])
        )
        .await,
        vec!["sl-cleared", "sl-noconsent", "sl-nocountry"]
    );
}

pub async fn search_nested_terms(store: &dyn Store) {
    let p = |city: &str, year| PublicProfile {
        friendly_name: Some("Nested".into()),
        birth: Some(Birth { year, month: 3 }),
        city: Some(city.into()),
        country: Some("DE".into()),
        consent: true,
        ..PublicProfile::default()
    };
    for (id, city, year) in [
        ("sn-1", "Berlin sn", 1970),
        ("sn-2", "Berlin sn", 2000),
        ("sn-3", "Bonn sn", 1970),
        ("sn-4", "Köln sn", 2000),
    ] {
        user(store, id, None, None).await;
        ok(store.put_profile(id, p(city, year)).await, "put_profile");
    }
    user(store, "sn-5", None, None).await;
    let berlin = || is(UserField::City, "berlin sn");
    let bonn = || is(UserField::City, "BONN SN");
    let old = || leaf(UserLeaf::BornBy(month(1980, 1)));
    let mine = || id_prefix("sn-");
    assert_eq!(
        users(store, Term::All(vec![berlin(), old()])).await,
        vec!["sn-1"]
    );
    assert_eq!(
        users(store, Term::Any(vec![berlin(), bonn()])).await,
        vec!["sn-1", "sn-2", "sn-3"]
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![Term::Any(vec![berlin(), bonn()]), not(old())])
        )
        .await,
        vec!["sn-2"]
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![mine(), not(Term::Any(vec![berlin(), bonn()]))])
        )
        .await,
        vec!["sn-4", "sn-5"]
    );
    assert_eq!(
        users(
            store,
            Term::Any(vec![
                Term::All(vec![berlin(), not(old())]),
                Term::All(vec![bonn(), old(), leaf(UserLeaf::Listed)]),
            ])
        )
        .await,
        vec!["sn-2", "sn-3"]
    );
    assert_eq!(
        users(store, Term::All(vec![mine(), not(not(berlin()))])).await,
        vec!["sn-1", "sn-2"],
        "double negation"
    );
    assert!(
        users(store, Term::All(vec![mine(), Term::Any(vec![])]))
            .await
            .is_empty(),
        "an empty Any matches nothing"
    );
    assert_eq!(
        users(store, Term::All(vec![mine(), Term::All(vec![])])).await,
        vec!["sn-1", "sn-2", "sn-3", "sn-4", "sn-5"],
        "an empty All matches everything"
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![mine(), not(berlin()), not(bonn()), not(old())])
        )
        .await,
        vec!["sn-4", "sn-5"]
    );
}

pub async fn search_cap_and_order(store: &dyn Store) {
    for id in ["so-e", "so-b", "so-d", "so-a", "so-c"] {
        user(store, id, None, Some("Same Name so")).await;
    }
    let t = is(UserField::FriendlyName, "same name so");
    assert_eq!(
        ok(store.search_users(&t, 3).await, "search_users"),
        vec!["so-a", "so-b", "so-c"],
        "the first IDs, in order"
    );
    assert!(ok(store.search_users(&t, 0).await, "search_users").is_empty());
    assert_eq!(
        ok(store.search_users(&t, 10).await, "search_users").len(),
        5
    );
    let all = ok(
        store.search_users(&Term::All(vec![]), 1_000_000).await,
        "search_users",
    );
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "in ID order");
    assert!(all.iter().any(|u| u == "so-c"), "every user matches All[]");
}

fn group(id: &str, owner: &str, private: bool, props: &[(&str, &str)]) -> GroupRecord {
    GroupRecord {
        id: id.into(),
        owner: owner.into(),
        private,
        props: props
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        welcome: None,
        created_ms: 1_700_000_000_000,
    }
}

fn gis(f: GroupField, k: &str) -> Term<GroupLeaf> {
    Term::Leaf(GroupLeaf::Is(f, k.into()))
}

fn gowner(owner: &str) -> Term<GroupLeaf> {
    gis(GroupField::Owner, owner)
}

pub async fn search_groups_only_listed(store: &dyn Store) {
    let listed = group(
        "wv:gl-own/open@localhost",
        "gl-own",
        false,
        &[("Name", "Open"), ("Searchable", "T")],
    );
    let hidden = group(
        "wv:gl-own/hidden@localhost",
        "gl-own",
        false,
        &[("Name", "Hidden"), ("Searchable", "F")],
    );
    let unset = group(
        "wv:gl-own/unset@localhost",
        "gl-own",
        false,
        &[("Name", "Unset")],
    );
    let private = group(
        "wv:gl-own/private@localhost",
        "gl-own",
        true,
        &[("Name", "Private"), ("Searchable", "T")],
    );
    for g in [&listed, &hidden, &unset, &private] {
        ok(store.create_group(g.clone()).await, "create_group");
    }
    assert_eq!(
        groups(store, gowner("gl-own")).await,
        vec![listed.id.clone()]
    );
    for name in ["hidden", "unset", "private"] {
        assert!(
            groups(store, gis(GroupField::Name, name)).await.is_empty(),
            "{name} must not be found"
        );
    }
    let everything = groups(store, Term::All(vec![])).await;
    assert!(everything.contains(&listed.id));
    for g in [&hidden, &unset, &private] {
        assert!(!everything.contains(&g.id), "{} found by All[]", g.id);
    }
    let negated = groups(store, Term::Not(Box::new(gis(GroupField::Name, "nothing")))).await;
    assert!(negated.contains(&listed.id));
    assert!(
        !negated.contains(&hidden.id) && !negated.contains(&private.id),
        "a negation never reaches unlisted groups"
    );

    // Flipping Searchable moves a group in and out of the search.
    let mut h = hidden.clone();
    h.props = vec![
        ("Name".into(), "Hidden".into()),
        ("Searchable".into(), "t".into()),
    ];
    assert!(ok(store.update_group(h.clone()).await, "update_group"));
    assert_eq!(
        groups(store, gis(GroupField::Name, "hidden")).await,
        vec![hidden.id.clone()]
    );
    h.props = vec![
        ("Name".into(), "Hidden".into()),
        ("Searchable".into(), "F".into()),
    ];
    assert!(ok(store.update_group(h.clone()).await, "update_group"));
    assert!(
        groups(store, gis(GroupField::Name, "hidden"))
            .await
            .is_empty()
    );
    // A private group stays unlisted whatever an update says.
    assert!(ok(
        store.update_group(private.clone()).await,
        "update_group"
    ));
    assert!(
        groups(store, gis(GroupField::Name, "private"))
            .await
            .is_empty()
    );

    assert!(ok(store.delete_group(&listed.id).await, "delete_group"));
    assert!(groups(store, gowner("gl-own")).await.is_empty());
    let mut again = listed.clone();
    again.props = vec![
        ("Name".into(), "Again".into()),
        ("Searchable".into(), "T".into()),
    ];
    ok(store.create_group(again.clone()).await, "create_group");
    assert_eq!(
        groups(store, gis(GroupField::Name, "open")).await,
        Vec::<String>::new(),
        "a deleted group's keys go with it"
    );
    assert_eq!(
        groups(store, gis(GroupField::Name, "again")).await,
        vec![again.id.clone()]
    );
}

pub async fn search_groups_fields_and_joined(store: &dyn Store) {
    let a = group(
        "wv:gf-own/Alpha@localhost",
        "gf-own",
        false,
        &[
            ("Name", "Ｃhess  Club gf"),
            ("Topic", "Openings and endgames"),
            ("Searchable", "T"),
        ],
    );
    let b = group(
        "wv:gf-own/beta@localhost",
        "gf-own",
        false,
        &[("Name", "Chess gf"), ("Searchable", "T")],
    );
    let c = group(
        "wv:gf-own/gamma@localhost",
        "gf-own",
        false,
        &[("Name", "Chess gf"), ("Searchable", "F")],
    );
    for g in [&a, &b, &c] {
        ok(store.create_group(g.clone()).await, "create_group");
    }
    assert_eq!(
        groups(store, gis(GroupField::GroupId, "wv:gf-own/alpha@localhost")).await,
        vec![a.id.clone()],
        "group IDs are searched in lower case"
    );
    assert_eq!(
        groups(store, gis(GroupField::Name, &search_key("chess club GF"))).await,
        vec![a.id.clone()]
    );
    assert!(
        groups(store, gis(GroupField::Name, "chess"))
            .await
            .is_empty()
    );
    assert_eq!(
        groups(
            store,
            gis(GroupField::Topic, &search_key("openings and endgames"))
        )
        .await,
        vec![a.id.clone()]
    );
    assert_eq!(
        groups(
            store,
            Term::All(vec![
                gowner("gf-own"),
                Term::Leaf(GroupLeaf::Prefix(GroupField::Name, "chess".into()))
            ])
        )
        .await,
        vec![a.id.clone(), b.id.clone()]
    );
    assert_eq!(
        groups(
            store,
            Term::All(vec![
                gowner("gf-own"),
                Term::Not(Box::new(gis(GroupField::Name, "chess gf")))
            ])
        )
        .await,
        vec![a.id.clone()]
    );

    let j = |user: &str, sname: &str| JoinedUser {
        user: user.into(),
        sname: sname.into(),
        session_id: format!("s-{user}"),
        subscribed: true,
        show_id: true,
        joined_ms: 1_700_000_000_000,
    };
    for g in [&a, &b, &c] {
        ok(store.join(&g.id, j("gf-kai", "Kai"), 10).await, "join");
    }
    ok(store.join(&b.id, j("gf-kaia", "Kaia"), 10).await, "join");
    ok(store.join(&b.id, j("gf-kaib", "Kaib"), 10).await, "join");
    assert_eq!(
        groups(store, gis(GroupField::Joined, "gf-kai")).await,
        vec![a.id.clone(), b.id.clone()],
        "joined, and only in listed groups"
    );
    assert_eq!(
        groups(
            store,
            Term::Leaf(GroupLeaf::Prefix(GroupField::Joined, "gf-kai".into()))
        )
        .await,
        vec![a.id.clone(), b.id.clone()],
        "a group once, however many of its users match"
    );
    assert_eq!(
        groups(store, gis(GroupField::Joined, "gf-kaia")).await,
        vec![b.id.clone()]
    );
    ok(store.leave(&a.id, "gf-kai").await, "leave");
    assert_eq!(
        groups(store, gis(GroupField::Joined, "gf-kai")).await,
        vec![b.id.clone()],
        "a user who left is not joined"
    );
    assert_eq!(
        ok(
            store.search_groups(&gowner("gf-own"), 1).await,
            "search_groups"
        ),
        vec![a.id.clone()],
        "the cap keeps the first IDs"
    );
}

/// A bulk import stores users, profiles, contact details and their keys
/// as the one-by-one calls would, and a conflict anywhere in the batch
/// leaves nothing behind.
pub async fn import_users_all_or_none(store: &dyn Store) {
    let new = |id: &str, msisdn: Option<&str>| NewUser {
        id: id.into(),
        password_hash: Some("h".into()),
        digest_secret: None,
        msisdn: msisdn.map(str::to_string),
        friendly_name: None,
        created_ms: 1_700_000_000_000,
    };
    let details = |first: &str, email: &str| ContactDetails {
        first_name: Some(first.into()),
        last_name: Some("Importer".into()),
        email: Some(email.into()),
    };
    let mut hidden = listed_profile("Imp Two", 1990, "IM");
    hidden.consent = false;
    hidden.city = Some("Impville".into());
    let mut shown = listed_profile("Imp One", 1980, "IM");
    shown.city = Some("Impville".into());
    ok(
        store
            .import_users(vec![
                (
                    new("imp-1", Some("+41790009001")),
                    shown.clone(),
                    details("Ann", "imp1@x.org"),
                ),
                (
                    new("imp-2", None),
                    hidden.clone(),
                    details("Bob", "imp2@x.org"),
                ),
            ])
            .await,
        "import_users",
    );
    let u = ok(store.user("imp-1").await, "user").expect("imp-1 imported");
    assert_eq!(u.friendly_name.as_deref(), Some("Imp One"));
    assert_eq!(u.msisdn.as_deref(), Some("+41790009001"));
    assert_eq!(u.password_hash.as_deref(), Some("h"));
    assert_eq!(ok(store.profile("imp-1").await, "profile"), Some(shown));
    assert_eq!(ok(store.profile("imp-2").await, "profile"), Some(hidden));
    assert_eq!(
        ok(store.contact_details("imp-2").await, "contact_details"),
        Some(details("Bob", "imp2@x.org"))
    );
    let scope = id_prefix("imp-");
    let find = |t: Term<UserLeaf>| Term::All(vec![scope.clone(), t]);
    assert_eq!(
        users(store, find(is(UserField::Email, "IMP2@x.org"))).await,
        ["imp-2"]
    );
    assert_eq!(
        users(store, find(is(UserField::Msisdn, "+41790009001"))).await,
        ["imp-1"]
    );
    assert_eq!(
        users(store, find(is(UserField::FriendlyName, "imp one"))).await,
        ["imp-1"]
    );
    assert_eq!(
        users(store, find(is(UserField::LastName, "importer"))).await,
        ["imp-1", "imp-2"]
    );
    assert_eq!(
        users(
            store,
            find(Term::All(vec![
                is(UserField::City, "impville"),
                leaf(UserLeaf::Listed)
            ]))
        )
        .await,
        ["imp-1"]
    );
    // An ID taken before, or twice in the batch: nothing is stored.
    for batch in [
        vec![new("imp-3", None), new("imp-1", None)],
        vec![new("imp-4", None), new("imp-4", None)],
        vec![new("imp-5", Some("+41790009001"))],
    ] {
        let batch = batch
            .into_iter()
            .map(|u| (u, PublicProfile::default(), ContactDetails::default()))
            .collect();
        match store.import_users(batch).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("a conflicting import gave {other:?}"),
        }
    }
    for id in ["imp-3", "imp-4", "imp-5"] {
        assert!(
            ok(store.user(id).await, "user").is_none(),
            "{id} left behind"
        );
    }
}

/// A profile search driven by one key checks the others (listed, age,
/// city, country, gender, intention) as they are now: after a profile
/// update, a clear and a contact-details write, never as they were.
pub async fn search_profile_conditions_follow_writes(store: &dyn Store) {
    let p = |city: &str, year: u16, gender: &str, intention: &str| PublicProfile {
        friendly_name: Some("Cond pc".into()),
        birth: Some(Birth { year, month: 5 }),
        gender: Some(gender.into()),
        intention: Some(intention.into()),
        city: Some(city.into()),
        country: Some("PC".into()),
        consent: true,
        ..PublicProfile::default()
    };
    for id in ["pc-1", "pc-2", "pc-3", "pc-4"] {
        user(store, id, None, None).await;
    }
    let put = |id: &'static str, p: PublicProfile| async move {
        ok(store.put_profile(id, p).await, "put_profile");
    };
    put("pc-1", p("Town pc", 1980, "M", "Chat")).await;
    put("pc-2", p("Town pc", 1990, "F", "Chat")).await;
    put("pc-3", p("Town pc", 2000, "F", "Dating")).await;
    put("pc-4", p("Other pc", 1990, "F", "Chat")).await;
    let town = || is(UserField::City, "town pc");
    let listed = || leaf(UserLeaf::Listed);
    let adult = || leaf(UserLeaf::BornBy(month(1995, 12)));
    let q = |extra: Vec<Term<UserLeaf>>| {
        let mut v = vec![town(), listed()];
        v.extend(extra);
        Term::All(v)
    };
    assert_eq!(users(store, q(vec![])).await, ["pc-1", "pc-2", "pc-3"]);
    assert_eq!(users(store, q(vec![adult()])).await, ["pc-1", "pc-2"]);
    assert_eq!(
        users(store, q(vec![not(is(UserField::Gender, "m"))])).await,
        ["pc-2", "pc-3"]
    );
    assert_eq!(
        users(
            store,
            q(vec![
                is(UserField::Intention, "chat"),
                is(UserField::Country, "pc"),
                not(adult())
            ])
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        users(
            store,
            q(vec![Term::Any(vec![
                is(UserField::Intention, "dating"),
                is(UserField::Gender, "m")
            ])])
        )
        .await,
        ["pc-1", "pc-3"]
    );
    // Moving, growing older, withdrawing consent, clearing.
    put("pc-3", p("Town pc", 1970, "F", "Dating")).await;
    assert_eq!(
        users(store, q(vec![adult()])).await,
        ["pc-1", "pc-2", "pc-3"],
        "a new birth date is searched"
    );
    let mut gone = p("Town pc", 1990, "F", "Chat");
    gone.consent = false;
    put("pc-2", gone).await;
    assert_eq!(
        users(store, q(vec![])).await,
        ["pc-1", "pc-3"],
        "no longer listed"
    );
    assert_eq!(
        users(store, Term::All(vec![town(), not(listed())])).await,
        ["pc-2"]
    );
    put("pc-1", p("Other pc", 1980, "M", "Chat")).await;
    assert_eq!(users(store, q(vec![])).await, ["pc-3"], "moved away");
    assert_eq!(
        users(
            store,
            Term::All(vec![
                is(UserField::City, "other pc"),
                listed(),
                is(UserField::Gender, "m")
            ])
        )
        .await,
        ["pc-1"]
    );
    // A contact-details write keeps what the profile says.
    ok(
        store
            .set_contact_details(
                "pc-3",
                ContactDetails {
                    first_name: Some("Pia pc".into()),
                    ..ContactDetails::default()
                },
            )
            .await,
        "details",
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                is(UserField::FirstName, "pia pc"),
                listed(),
                adult(),
                is(UserField::Intention, "dating")
            ])
        )
        .await,
        ["pc-3"]
    );
    put("pc-3", p("Town pc", 1970, "F", "Dating").cleared()).await;
    assert!(users(store, q(vec![])).await.is_empty(), "cleared");
    assert!(
        users(
            store,
            Term::All(vec![is(UserField::FirstName, "pia pc"), listed()])
        )
        .await
        .is_empty(),
        "a cleared profile is not listed, whatever key finds it"
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![is(UserField::FirstName, "pia pc"), not(adult())])
        )
        .await,
        ["pc-3"],
        "and has no birth date"
    );
}

/// An `Any` of keys finds the union in ID order, the first `cap` of
/// it, each ID once, whichever key finds it.
pub async fn search_any_merges_in_order(store: &dyn Store) {
    let p = |city: &str, intention: &str, year: u16| PublicProfile {
        friendly_name: Some("Merge".into()),
        birth: Some(Birth { year, month: 1 }),
        intention: Some(intention.into()),
        city: Some(city.into()),
        country: Some("MO".into()),
        consent: true,
        ..PublicProfile::default()
    };
    // Cities interleaved in ID order; mo-0 and mo-9 in a third.
    let mut want_ab = Vec::new();
    for i in 0..10u16 {
        let id = format!("mo-{i}");
        user(store, &id, None, None).await;
        let city = match i {
            0 | 9 => "C mo",
            i if i % 2 == 0 => "A mo",
            _ => "B mo",
        };
        let intention = if i % 3 == 0 { "net" } else { "chat" };
        ok(
            store
                .put_profile(&id, p(city, intention, 1960 + i * 5))
                .await,
            "put_profile",
        );
        if city != "C mo" {
            want_ab.push(id);
        }
    }
    let city = |c: &str| is(UserField::City, c);
    let ab = || Term::Any(vec![city("a mo"), city("b mo")]);
    assert_eq!(users(store, ab()).await, want_ab);
    for cap in [1, 3, 5, 8] {
        assert_eq!(
            ok(store.search_users(&ab(), cap).await, "search_users"),
            want_ab[..cap.min(want_ab.len())],
            "the first {cap} of the union"
        );
    }
    assert_eq!(
        users(
            store,
            Term::Any(vec![city("b mo"), city("a mo"), city("b mo")])
        )
        .await,
        want_ab,
        "a key twice: each ID once"
    );
    assert_eq!(
        users(
            store,
            Term::Any(vec![city("a mo"), is(UserField::Intention, "net")])
        )
        .await,
        ["mo-0", "mo-2", "mo-3", "mo-4", "mo-6", "mo-8", "mo-9"],
        "an ID both keys find, once"
    );
    let old = || leaf(UserLeaf::BornBy(month(1980, 1)));
    assert_eq!(
        users(
            store,
            Term::All(vec![
                ab(),
                leaf(UserLeaf::Listed),
                is(UserField::Intention, "chat"),
                not(old())
            ])
        )
        .await,
        ["mo-5", "mo-7", "mo-8"]
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                Term::Any(vec![
                    Term::All(vec![city("a mo"), old()]),
                    Term::All(vec![city("b mo"), not(old())]),
                ]),
                not(is(UserField::Intention, "net")),
            ])
        )
        .await,
        ["mo-2", "mo-4", "mo-5", "mo-7"],
        "each branch with its own conditions"
    );
    assert_eq!(
        users(
            store,
            Term::Any(vec![
                Term::All(vec![city("a mo"), city("b mo")]),
                city("c mo")
            ])
        )
        .await,
        ["mo-0", "mo-9"],
        "one city per user"
    );
}

/// Age bounds are month indexes: a window across a new year holds the
/// months on both sides, its ends included as the leaves say.
pub async fn search_age_window_across_years(store: &dyn Store) {
    let months = [
        (1999, 10),
        (1999, 11),
        (1999, 12),
        (2000, 1),
        (2000, 2),
        (2000, 3),
    ];
    for (i, (year, m)) in months.iter().enumerate() {
        let id = format!("aw-{i}");
        user(store, &id, None, None).await;
        let mut p = listed_profile("Window", *year, "AW");
        p.birth = Some(Birth {
            year: *year,
            month: *m,
        });
        p.city = Some("Window aw".into());
        ok(store.put_profile(&id, p).await, "put_profile");
    }
    user(store, "aw-none", None, None).await;
    ok(
        store
            .put_profile(
                "aw-none",
                PublicProfile {
                    city: Some("Window aw".into()),
                    ..PublicProfile::default()
                },
            )
            .await,
        "put_profile",
    );
    let window = |by: u32, after: u32| {
        Term::All(vec![
            is(UserField::City, "window aw"),
            leaf(UserLeaf::BornBy(by)),
            leaf(UserLeaf::BornAfter(after)),
        ])
    };
    assert_eq!(
        users(store, window(month(2000, 2), month(1999, 11))).await,
        ["aw-2", "aw-3", "aw-4"],
        "December to February"
    );
    assert_eq!(
        users(store, window(month(2000, 1), month(1999, 12))).await,
        ["aw-3"]
    );
    assert!(
        users(store, window(month(1999, 12), month(1999, 12)))
            .await
            .is_empty()
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                is(UserField::City, "window aw"),
                not(leaf(UserLeaf::BornAfter(month(1999, 11)))),
            ])
        )
        .await,
        ["aw-0", "aw-1", "aw-none"],
        "no birth date is born after nothing"
    );
}

/// First + last name: whole names only, the pair as it is now, and a
/// first name never taken for a last name.
pub async fn search_first_and_last_name(store: &dyn Store) {
    let names = [
        ("fl-1", Some("Ann fl"), Some("Lee fl")),
        ("fl-2", Some("Ann fl"), Some("Kim fl")),
        ("fl-3", Some("Bo fl"), Some("Lee fl")),
        ("fl-4", Some("Ann fl Lee"), Some("fl")),
        ("fl-5", Some("Ann"), Some("fl Lee fl")),
        ("fl-6", Some("Ann fl"), None),
        ("fl-7", Some("Lee fl"), Some("Ann fl")),
    ];
    for (id, first, last) in names {
        user(store, id, None, None).await;
        let d = ContactDetails {
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            email: None,
        };
        ok(store.set_contact_details(id, d).await, "details");
    }
    let name = |first: &str, last: &str| {
        Term::All(vec![
            is(UserField::FirstName, first),
            is(UserField::LastName, last),
        ])
    };
    assert_eq!(users(store, name("ANN FL", "lee fl")).await, ["fl-1"]);
    assert_eq!(users(store, name("ann fl lee", "fl")).await, ["fl-4"]);
    assert_eq!(users(store, name("lee fl", "ann fl")).await, ["fl-7"]);
    assert!(users(store, name("ann", "fl lee")).await.is_empty());
    assert_eq!(
        users(
            store,
            Term::Any(vec![name("ann fl", "kim fl"), name("bo fl", "lee fl")])
        )
        .await,
        ["fl-2", "fl-3"]
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                is(UserField::FirstName, "ann fl"),
                Term::All(vec![id_prefix("fl-"), is(UserField::LastName, "lee fl")]),
            ])
        )
        .await,
        ["fl-1"],
        "the names in nested Alls"
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![
                id_prefix("fl-"),
                is(UserField::FirstName, "ann fl"),
                not(name("ann fl", "lee fl")),
            ])
        )
        .await,
        ["fl-2", "fl-6"]
    );
    ok(
        store
            .set_contact_details(
                "fl-1",
                ContactDetails {
                    first_name: Some("Ann fl".into()),
                    last_name: Some("Kim fl".into()),
                    email: None,
                },
            )
            .await,
        "details",
    );
    assert!(users(store, name("ann fl", "lee fl")).await.is_empty());
    assert_eq!(
        users(store, name("ann fl", "kim fl")).await,
        ["fl-1", "fl-2"]
    );
    ok(
        store
            .set_contact_details("fl-2", ContactDetails::default())
            .await,
        "details",
    );
    assert_eq!(users(store, name("ann fl", "kim fl")).await, ["fl-1"]);
    // A profile write keeps the names.
    ok(
        store
            .put_profile("fl-1", listed_profile("Named fl", 1990, "FL"))
            .await,
        "put_profile",
    );
    assert_eq!(
        users(
            store,
            Term::All(vec![name("ann fl", "kim fl"), leaf(UserLeaf::Listed)])
        )
        .await,
        ["fl-1"]
    );
}

/// A page's friendly names in one call: in the order asked, `None` for
/// a user without one or no such user, as `profile` gives them.
pub async fn friendly_names_of_a_page(store: &dyn Store) {
    user(store, "fn-b", None, Some("Bé fn")).await;
    user(store, "fn-a", None, None).await;
    user(store, "fn-c", None, Some("Cé fn")).await;
    let ids: Vec<String> = ["fn-c", "fn-a", "fn-ghost", "fn-b", "fn-c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        ok(store.friendly_names(&ids).await, "friendly_names"),
        vec![
            Some("Cé fn".to_string()),
            None,
            None,
            Some("Bé fn".to_string()),
            Some("Cé fn".to_string())
        ]
    );
    ok(
        store
            .put_profile("fn-a", listed_profile("Aa fn", 1990, "FN"))
            .await,
        "put_profile",
    );
    assert_eq!(
        ok(store.friendly_names(&ids[1..2]).await, "friendly_names"),
        vec![Some("Aa fn".to_string())]
    );
    assert!(ok(store.friendly_names(&[]).await, "friendly_names").is_empty());
}
