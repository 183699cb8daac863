//! The generated population of `impsd user add-many --profiles` and
//! `impsd group add-many`, as the store keeps it: the people themselves
//! come from `imps_population`, which the load tool reads too.

use imps_core::store::{Birth, ContactDetails, PublicProfile};

pub use imps_population::{group_listed, group_owner};

/// The complete, consented public profile and the contact details of
/// user number `n` (ID `id`).
pub fn user(seed: u64, n: u64, id: &str) -> (PublicProfile, ContactDetails) {
    let p = imps_population::person(seed, n);
    let profile = PublicProfile {
        friendly_name: Some(p.friendly_name),
        birth: Some(Birth {
            year: p.birth_year,
            month: p.birth_month,
        }),
        gender: Some(p.gender.into()),
        intention: Some(p.intention.into()),
        city: Some(p.city),
        country: Some(p.country.into()),
        consent: true,
        ..PublicProfile::default()
    };
    let details = ContactDetails {
        first_name: Some(p.first_name),
        last_name: Some(p.last_name),
        email: Some(format!("{id}@example.org")),
    };
    (profile, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_profile_is_complete_and_listed() {
        let (p, d) = user(7, 12, "u0012");
        assert!(p.listed());
        assert_eq!(d.email.as_deref(), Some("u0012@example.org"));
        assert_eq!((p, d), user(7, 12, "u0012"));
    }
}
