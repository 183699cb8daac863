//! A generated population for load tests (`impsd user add-many
//! --profiles SEED`, `impsd group add-many`): every value is a pure
//! function of the seed and the user's or group's number, so a load tool
//! can tell what to search for without reading the store, and two runs
//! with the same seed make the same data.
//!
//! The shape is meant to look like a real directory to the search index:
//! about 225 first and 800 last names, 200 cities with a skewed (Zipf)
//! distribution, 30 countries with one holding 40 % of the users, five
//! intentions of which one is rare (0.1 %), births from 1950 to 2012.
//! The load tool (`imps-bench search`) repeats the few rules it needs
//! (city and group names, the countries, the rare intention).

use imps_core::store::{Birth, ContactDetails, PublicProfile};

const FIRST_A: [&str; 15] = [
    "An", "Be", "Ca", "Da", "El", "Fa", "Gi", "Ha", "Il", "Jo", "Ka", "Li", "Ma", "No", "Ol",
];
const FIRST_B: [&str; 15] = [
    "na", "ra", "ton", "lia", "mir", "vin", "ssa", "rek", "ko", "dan", "ny", "sha", "lo", "tte",
    "ric",
];
const LAST_A: [&str; 10] = [
    "Ber", "Cal", "Dor", "Fen", "Gar", "Hol", "Kes", "Mor", "Pel", "Ros",
];
const LAST_B: [&str; 10] = ["a", "e", "i", "o", "u", "an", "el", "in", "or", "un"];
const LAST_C: [&str; 8] = ["berg", "sen", "ton", "wick", "ley", "mann", "ford", "dal"];

/// Countries, the first holding 40 % of the users, the rest a Zipf share
/// of the other 60 %.
pub const COUNTRIES: [&str; 30] = [
    "DE", "FR", "IT", "ES", "GB", "NL", "BE", "AT", "CH", "PL", "SE", "NO", "DK", "FI", "PT", "IE",
    "CZ", "HU", "RO", "GR", "BG", "HR", "SK", "SI", "LT", "LV", "EE", "LU", "MT", "IS",
];
/// Intentions with their share in per mille; the last is rare.
pub const INTENTIONS: [(&str, u64); 5] = [
    ("friendship", 400),
    ("dating", 300),
    ("chat", 200),
    ("networking", 99),
    ("business", 1),
];
pub const CITIES: usize = 200;

/// City number `k` (0 is the largest).
pub fn city_name(k: usize) -> String {
    format!("City{k:03}")
}

/// splitmix64 of the seed, the number and a salt per field.
fn hash(seed: u64, n: u64, salt: u64) -> u64 {
    let mut z =
        seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `0..n` with weight 1/(k+1) for `k` (Zipf, s = 1).
fn zipf(h: u64, n: usize) -> usize {
    let total: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
    let mut x = (h >> 11) as f64 / (1u64 << 53) as f64 * total;
    for k in 0..n {
        x -= 1.0 / (k + 1) as f64;
        if x < 0.0 {
            return k;
        }
    }
    n - 1
}

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

/// The complete, consented public profile and the contact details of
/// user number `n` (ID `id`).
pub fn user(seed: u64, n: u64, id: &str) -> (PublicProfile, ContactDetails) {
    let h = |salt| hash(seed, n, salt);
    let first = format!("{}{}", pick(&FIRST_A, h(1)), pick(&FIRST_B, h(2)));
    let last = format!(
        "{}{}{}",
        pick(&LAST_A, h(3)),
        pick(&LAST_B, h(4)),
        pick(&LAST_C, h(5))
    );
    let country = if h(6) % 100 < 40 {
        COUNTRIES[0]
    } else {
        COUNTRIES[1 + zipf(h(7), COUNTRIES.len() - 1)]
    };
    let mut roll = h(8) % 1000;
    let mut intention = INTENTIONS[0].0;
    for (name, share) in INTENTIONS {
        if roll < share {
            intention = name;
            break;
        }
        roll -= share;
    }
    let profile = PublicProfile {
        friendly_name: Some(format!("{first}{n}")),
        birth: Some(Birth {
            year: 1950 + (h(9) % 63) as u16,
            month: 1 + (h(10) % 12) as u8,
        }),
        gender: Some(if h(11) % 2 == 0 { "M" } else { "F" }.into()),
        intention: Some(intention.into()),
        city: Some(city_name(zipf(h(12), CITIES))),
        country: Some(country.into()),
        consent: true,
        ..PublicProfile::default()
    };
    let details = ContactDetails {
        first_name: Some(first),
        last_name: Some(last),
        email: Some(format!("{id}@example.org")),
    };
    (profile, details)
}

/// Whether group number `n` is listed (Searchable), for `percent` of
/// them.
pub fn group_listed(seed: u64, n: u64, percent: u8) -> bool {
    hash(seed, n, 20) % 100 < u64::from(percent)
}

/// The owner of group number `n`, among `owners` users.
pub fn group_owner(seed: u64, n: u64, owners: u64) -> u64 {
    hash(seed, n, 21) % owners.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_people_and_shape() {
        let a = user(7, 12, "u0012");
        assert_eq!(a, user(7, 12, "u0012"));
        assert_ne!(a.0, user(8, 12, "u0012").0);
        assert!(a.0.listed());
        let n = 20_000;
        let people: Vec<_> = (0..n).map(|i| user(1, i, "x").0).collect();
        let share = |f: &dyn Fn(&PublicProfile) -> bool| {
            people.iter().filter(|p| f(p)).count() as f64 / n as f64
        };
        let de = share(&|p| p.country.as_deref() == Some("DE"));
        assert!((0.37..0.43).contains(&de), "{de}");
        let rare = share(&|p| p.intention.as_deref() == Some("business"));
        assert!(rare < 0.004, "{rare}");
        let big = share(&|p| p.city.as_deref() == Some("City000"));
        let small = share(&|p| p.city.as_deref() == Some("City199"));
        assert!(big > 0.1 && small < 0.003, "{big} {small}");
    }
}
