//! A generated population for load tests: user number `n` of a seed has
//! the same names, birth month, gender, intention, city and country every
//! time, with realistic skew (one dominant country, Zipf-distributed
//! cities, one rare intention), and group number `n` the same owner and
//! listing. `impsd user add-many --profiles` and `impsd group add-many`
//! store it; `imps-bench search` draws its search values from the same
//! rules, so both read them here.
//!
//! No dependencies: the load tool must not link the server's crates.

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
/// The rare intention.
pub const RARE_INTENTION: &str = "business";
/// How many cities there are.
pub const CITIES: usize = 200;

/// City number `k` (0 is the largest).
pub fn city_name(k: usize) -> String {
    format!("City{k:03}")
}

/// A first name: the `i`-th of the `first_names()` combinations.
pub fn first_name(i: usize) -> String {
    let n = FIRST_B.len();
    format!("{}{}", FIRST_A[(i / n) % FIRST_A.len()], FIRST_B[i % n])
}

/// How many first names there are.
pub fn first_names() -> usize {
    FIRST_A.len() * FIRST_B.len()
}

/// A last name: the `i`-th of the `last_names()` combinations.
pub fn last_name(i: usize) -> String {
    let (b, c) = (LAST_B.len(), LAST_C.len());
    format!(
        "{}{}{}",
        LAST_A[(i / (b * c)) % LAST_A.len()],
        LAST_B[(i / c) % b],
        LAST_C[i % c]
    )
}

/// How many last names there are.
pub fn last_names() -> usize {
    LAST_A.len() * LAST_B.len() * LAST_C.len()
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

fn below(h: u64, n: usize) -> usize {
    (h % n as u64) as usize
}

/// User number `n` of the population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    /// The first name and the number: unique.
    pub friendly_name: String,
    pub birth_year: u16,
    /// 1-12.
    pub birth_month: u8,
    /// `M` or `F`.
    pub gender: &'static str,
    pub intention: &'static str,
    pub city: String,
    pub country: &'static str,
}

/// Who user number `n` of `seed` is.
pub fn person(seed: u64, n: u64) -> Person {
    let h = |salt| hash(seed, n, salt);
    let first_name = format!(
        "{}{}",
        FIRST_A[below(h(1), FIRST_A.len())],
        FIRST_B[below(h(2), FIRST_B.len())]
    );
    let last_name = format!(
        "{}{}{}",
        LAST_A[below(h(3), LAST_A.len())],
        LAST_B[below(h(4), LAST_B.len())],
        LAST_C[below(h(5), LAST_C.len())]
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
    Person {
        friendly_name: format!("{first_name}{n}"),
        first_name,
        last_name,
        birth_year: 1950 + (h(9) % 63) as u16,
        birth_month: 1 + (h(10) % 12) as u8,
        gender: if h(11) % 2 == 0 { "M" } else { "F" },
        intention,
        city: city_name(zipf(h(12), CITIES)),
        country,
    }
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
        let a = person(7, 12);
        assert_eq!(a, person(7, 12));
        assert_ne!(a, person(8, 12));
        let n = 20_000;
        let people: Vec<_> = (0..n).map(|i| person(1, i)).collect();
        let share =
            |f: &dyn Fn(&Person) -> bool| people.iter().filter(|p| f(p)).count() as f64 / n as f64;
        let de = share(&|p| p.country == "DE");
        assert!((0.37..0.43).contains(&de), "{de}");
        let rare = share(&|p| p.intention == RARE_INTENTION);
        assert!(rare < 0.004, "{rare}");
        let big = share(&|p| p.city == "City000");
        let small = share(&|p| p.city == "City199");
        assert!(big > 0.1 && small < 0.003, "{big} {small}");
    }

    #[test]
    fn every_name_drawn_is_one_of_the_listed_ones() {
        let firsts: Vec<String> = (0..first_names()).map(first_name).collect();
        let lasts: Vec<String> = (0..last_names()).map(last_name).collect();
        for n in 0..2_000 {
            let p = person(3, n);
            assert!(firsts.contains(&p.first_name), "{p:?}");
            assert!(lasts.contains(&p.last_name), "{p:?}");
        }
    }
}
