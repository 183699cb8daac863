#![allow(clippy::unwrap_used)]
//! Search answers of SQLite against the reference MemStore, on random
//! profiles and random terms (issue 16): the SQLite compiler picks
//! drivers, merges unions, checks conditions on the key rows and adds
//! first + last name pairs, and none of that may change an answer, its
//! order or where the cap cuts it. Profiles change between rounds, so
//! the values the key rows repeat must follow every write.

use imps_core::store::{
    Birth, ContactDetails, DirectoryStore, PublicProfile, Term, UserField, UserLeaf, search_key,
};
use imps_core::{MemStore, NewUser, Store};
use imps_store::{SqliteOptions, SqliteStore};

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }

    /// One of `v`, or nothing 1 time in `none_in`.
    fn maybe(&mut self, v: &[&str], none_in: usize) -> Option<String> {
        (self.below(none_in) != 0).then(|| self.pick(v).to_string())
    }
}

const CITIES: [&str; 5] = ["Ci Zero", "CI ONE", "ci two", "Ci Three", "Ci Four"];
const COUNTRIES: [&str; 2] = ["AA", "BB"];
const GENDERS: [&str; 2] = ["M", "F"];
const INTENTIONS: [&str; 3] = ["Chat", "Dating", "Rare"];
const FIRST: [&str; 4] = ["Ann", "Bo", "Ann Bo", "Cy"];
const LAST: [&str; 4] = ["Lee", "Bo Lee", "Kim", "Lee Kim"];
const NAMES: [&str; 3] = ["Fr One", "Fr Two", "Fr Three"];

fn month(year: u16, month: u8) -> u32 {
    Birth { year, month }.month_index()
}

fn profile(r: &mut Rng) -> PublicProfile {
    if r.chance(8) {
        return PublicProfile::default();
    }
    PublicProfile {
        friendly_name: r.maybe(&NAMES, 6),
        birth: (r.below(8) != 0).then(|| Birth {
            year: 1990 + r.below(4) as u16,
            month: 1 + r.below(12) as u8,
        }),
        gender: r.maybe(&GENDERS, 5),
        intention: r.maybe(&INTENTIONS, 5),
        interests: None,
        marital_status: r.maybe(&["S", "M"], 2),
        city: r.maybe(&CITIES, 6),
        country: r.maybe(&COUNTRIES, 8),
        free_text: None,
        consent: r.chance(80),
    }
}

fn details(r: &mut Rng) -> ContactDetails {
    ContactDetails {
        first_name: r.maybe(&FIRST, 5),
        last_name: r.maybe(&LAST, 5),
        email: None,
    }
}

fn is(f: UserField, v: &str) -> Term<UserLeaf> {
    Term::Leaf(UserLeaf::Is(f, search_key(v)))
}

fn leaf(r: &mut Rng) -> Term<UserLeaf> {
    match r.below(11) {
        0 | 1 => is(UserField::City, r.pick(&CITIES)),
        2 => is(UserField::Country, r.pick(&COUNTRIES)),
        3 => is(UserField::Gender, r.pick(&GENDERS)),
        4 => is(UserField::Intention, r.pick(&INTENTIONS)),
        5 => is(UserField::FirstName, r.pick(&FIRST)),
        6 => is(UserField::LastName, r.pick(&LAST)),
        7 => is(UserField::FriendlyName, r.pick(&NAMES)),
        8 => Term::Leaf(UserLeaf::Listed),
        9 => Term::Leaf(UserLeaf::BornBy(month(
            1989 + r.below(6) as u16,
            1 + r.below(12) as u8,
        ))),
        _ => Term::Leaf(UserLeaf::BornAfter(month(
            1989 + r.below(6) as u16,
            1 + r.below(12) as u8,
        ))),
    }
}

fn term(r: &mut Rng, depth: u32) -> Term<UserLeaf> {
    if depth == 0 || r.chance(35) {
        return leaf(r);
    }
    let n = 1 + r.below(4);
    match r.below(10) {
        0..=3 => {
            let mut v: Vec<_> = (0..n).map(|_| term(r, depth - 1)).collect();
            if r.chance(30) {
                // The pair the SQLite compiler turns into one key.
                v.push(is(UserField::FirstName, r.pick(&FIRST)));
                v.push(is(UserField::LastName, r.pick(&LAST)));
            }
            Term::All(v)
        }
        4..=7 => Term::Any((0..n).map(|_| term(r, depth - 1)).collect()),
        _ => Term::Not(Box::new(term(r, depth - 1))),
    }
}

/// A term shaped like the core's profile searches: the client's term,
/// listed, a minimum age.
fn profile_term(r: &mut Rng) -> Term<UserLeaf> {
    let mut v = vec![term(r, 3), Term::Leaf(UserLeaf::Listed)];
    if r.chance(70) {
        v.push(Term::Leaf(UserLeaf::BornBy(month(1993, 6))));
    }
    if r.chance(30) {
        // An age window, as USER_AGE_MIN and USER_AGE_MAX give.
        let from = 1990 + r.below(3) as u16;
        v.push(Term::All(vec![
            Term::Leaf(UserLeaf::BornBy(month(from + 1, 1 + r.below(12) as u8))),
            Term::Leaf(UserLeaf::BornAfter(month(from, 1 + r.below(12) as u8))),
        ]));
    }
    Term::All(v)
}

#[tokio::test]
async fn sqlite_search_answers_as_the_reference_does() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default()).unwrap();
    let mem = MemStore::default();
    let stores: [&dyn Store; 2] = [&mem, &sqlite];
    let mut r = Rng(16);
    let n_users = 300;
    let ids: Vec<String> = (0..n_users).map(|i| format!("dx-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let p = profile(&mut r);
        let d = details(&mut r);
        for s in stores {
            s.create_user(NewUser {
                id: id.clone(),
                password_hash: None,
                digest_secret: None,
                msisdn: (i % 3 == 0).then(|| format!("+4179100{i:04}")),
                friendly_name: None,
                created_ms: 1,
            })
            .await
            .unwrap();
            if i % 10 != 0 {
                s.put_profile(id, p.clone()).await.unwrap();
                s.set_contact_details(id, d.clone()).await.unwrap();
            }
        }
    }
    let mut asked = 0;
    let mut found = 0;
    for round in 0..12 {
        for _ in 0..80 {
            let t = if r.chance(50) {
                profile_term(&mut r)
            } else {
                term(&mut r, 4)
            };
            let cap = [1, 3, 20, 1_000][r.below(4)];
            let want = mem.search_users(&t, cap).await.unwrap();
            let got = sqlite.search_users(&t, cap).await.unwrap();
            assert_eq!(got, want, "round {round}, cap {cap}, term {t:?}");
            asked += 1;
            found += usize::from(!want.is_empty());
        }
        // Change some users between rounds, in both stores alike.
        for _ in 0..40 {
            let id = &ids[r.below(ids.len())];
            let what = r.below(4);
            let p = profile(&mut r);
            let d = details(&mut r);
            for s in stores {
                match what {
                    0 | 1 => assert!(s.put_profile(id, p.clone()).await.unwrap()),
                    2 => assert!(s.set_contact_details(id, d.clone()).await.unwrap()),
                    _ => {
                        let old = s.profile(id).await.unwrap().unwrap();
                        assert!(s.put_profile(id, old.cleared()).await.unwrap());
                    }
                }
            }
        }
    }
    assert!(
        found > asked / 3,
        "the terms should find something often: {found} of {asked}"
    );
    sqlite.close().await.unwrap();
}
