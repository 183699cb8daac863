//! User addresses: `wv:user@domain` on the wire, the bare lower-case user
//! part inside the server.

use imps_wire::Element;

use crate::CoreError;

/// Turns a wire UserID into the canonical local ID. Accepts `wv:`/`WV:`
/// or no scheme, and our own domain or none; another domain is refused.
pub fn canonical_user(wire: &str, domain: &str) -> Result<String, CoreError> {
    let s = wire.trim();
    let s = strip_scheme(s).unwrap_or(s);
    let (user, dom) = match s.rfind('@') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(d) = dom
        && !d.eq_ignore_ascii_case(domain)
    {
        return Err(CoreError::DomainNotSupported(d.to_string()));
    }
    let user = user.to_ascii_lowercase();
    validate_user_part(&user)?;
    Ok(user)
}

/// What follows a `wv:`/`WV:` scheme, when `s` starts with one. `get`:
/// byte 3 may fall inside a character (`wvÞ...`), which a plain slice
/// would panic on (found by the fuzz campaign).
pub(crate) fn strip_scheme(s: &str) -> Option<&str> {
    match s.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("wv:") => Some(&s[3..]),
        _ => None,
    }
}

/// The user part rules: printable ASCII without `/`, `@`, and `+` except
/// as the first character of an MSISDN-style ID.
pub fn validate_user_part(user: &str) -> Result<(), CoreError> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user.bytes().enumerate().all(|(i, b)| {
            (0x21..=0x7e).contains(&b) && b != b'/' && b != b'@' && (b != b'+' || i == 0)
        });
    if ok {
        Ok(())
    } else {
        Err(CoreError::BadParameter(format!("invalid user ID {user:?}")))
    }
}

/// The wire form areas build: fully qualified. A session that writes
/// addresses without a domain gets them shortened on the way out
/// ([`localize_ids`]). A user of another domain (federation, issue 17)
/// is held as `user@domain`: a local ID never holds `@`.
pub fn wire_user(id: &str, domain: &str) -> String {
    if id.contains('@') {
        format!("wv:{id}")
    } else {
        format!("wv:{id}@{domain}")
    }
}

/// Whether a Login-Request's UserID is an address without a domain
/// (`wv:alice`, `WV:alice`): such a client builds every address that way
/// and compares them as strings (issue 13). A plain login name (`alice`)
/// is not an address and says nothing about how the client writes them.
pub fn is_bare_address(wire: &str) -> bool {
    strip_scheme(wire.trim()).is_some_and(|rest| !rest.contains('@'))
}

/// Elements whose text is an IMPS address (user, group or contact list).
const ADDRESS_ELEMENTS: [&str; 6] = [
    "UserID",
    "GroupID",
    "ContactList",
    "DefaultContactList",
    "ValidUserID",
    "UnrecognizedUserID",
];

/// Drops `@domain` from every address of our own domain in `el`, for a
/// session that writes addresses without a domain. Addresses of other
/// domains keep theirs. Only address elements are touched: message text
/// that happens to hold an address is the sender's and stays as sent.
pub fn localize_ids(el: &mut Element, domain: &str) {
    if ADDRESS_ELEMENTS.contains(&el.name.as_str()) {
        let t = el.text.trim_end();
        if let Some(at) = t.rfind('@')
            && t[at + 1..].eq_ignore_ascii_case(domain)
        {
            el.text.truncate(at);
        }
        return;
    }
    for c in &mut el.children {
        localize_ids(c, domain);
    }
}

/// Normalises an E.164 number: `+` and 6..15 digits, spaces and dashes
/// removed. `None` when it is not one.
pub fn normalize_msisdn(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let rest = digits.strip_prefix('+').unwrap_or(&digits);
    if (6..=15).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("+{rest}"))
    } else {
        None
    }
}

/// Questions about accounts that every area asks.
impl crate::base::Base {
    /// A user's friendly name when they have one (IMR-8, ADC-1).
    pub(crate) async fn friendly_name(&self, user: &str) -> Result<Option<String>, CoreError> {
        Ok(self
            .store
            .user(user)
            .await?
            .and_then(|u| u.friendly_name)
            .filter(|n| !n.is_empty()))
    }

    /// Whether a user ID is registered here.
    pub(crate) async fn user_exists(&self, user: &str) -> Result<bool, CoreError> {
        Ok(self.store.user(user).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_scheme_without_a_domain_is_a_bare_address() {
        assert!(is_bare_address("wv:alice"));
        assert!(is_bare_address(" WV:Alice "));
        assert!(!is_bare_address("wv:alice@localhost"));
        assert!(!is_bare_address("alice"));
        assert!(!is_bare_address("alice@localhost"));
        assert!(!is_bare_address("wvÞlice"));
    }

    #[test]
    fn localize_drops_only_our_domain_and_only_in_addresses() {
        let mut e = Element::new("NewMessage")
            .with(
                Element::new("MessageInfo")
                    .with(
                        Element::new("Sender")
                            .with(Element::new("User").with_text("UserID", "wv:bob@LocalHost")),
                    )
                    .with(Element::new("Recipient").with(
                        Element::new("Group").with_text("GroupID", "wv:alice/room@localhost"),
                    ))
                    .with_text("ContactList", "wv:alice/friends@localhost")
                    .with_text("UserID", "wv:carol@elsewhere.example"),
            )
            .with_text("ContentData", "mail wv:bob@localhost");
        localize_ids(&mut e, "localhost");
        let info = e.child("MessageInfo").unwrap();
        assert_eq!(
            info.path(&["Sender", "User", "UserID"]).unwrap().text,
            "wv:bob"
        );
        assert_eq!(
            info.path(&["Recipient", "Group", "GroupID"]).unwrap().text,
            "wv:alice/room"
        );
        assert_eq!(info.child_text("ContactList"), Some("wv:alice/friends"));
        assert_eq!(
            info.child_text("UserID"),
            Some("wv:carol@elsewhere.example")
        );
        assert_eq!(e.child_text("ContentData"), Some("mail wv:bob@localhost"));
    }

    /// A multi-byte character across byte 3 is an invalid ID, not a panic
    /// (fuzz regression: `wvÞlice`).
    #[test]
    fn canonical_user_survives_a_character_across_the_scheme() {
        for id in ["wvÞlice", "wvÞlice@examcom", "wÞ", "Þ", "wv:Þ", "ÞÞÞÞ@x"] {
            assert!(canonical_user(id, "localhost").is_err(), "{id}");
        }
        assert_eq!(canonical_user("WV:Bob", "localhost").unwrap(), "bob");
        assert_eq!(canonical_user("bob@LOCALHOST", "localhost").unwrap(), "bob");
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_user("wv:Alice@localhost", "localhost").unwrap(),
            "alice"
        );
        assert_eq!(canonical_user("WV:bob", "localhost").unwrap(), "bob");
        assert_eq!(canonical_user("carol", "LOCALHOST").unwrap(), "carol");
        assert!(canonical_user("wv:x@other.org", "localhost").is_err());
        assert!(canonical_user("wv:a/b", "localhost").is_err());
        assert!(canonical_user("", "localhost").is_err());
        assert_eq!(
            canonical_user("+358401234567", "localhost").unwrap(),
            "+358401234567"
        );
    }

    #[test]
    fn msisdn_forms() {
        assert_eq!(
            normalize_msisdn("+358 40 123-4567").as_deref(),
            Some("+358401234567")
        );
        assert_eq!(
            normalize_msisdn("358401234567").as_deref(),
            Some("+358401234567")
        );
        assert_eq!(normalize_msisdn("abc"), None);
        assert_eq!(normalize_msisdn("+12"), None);
    }
}
