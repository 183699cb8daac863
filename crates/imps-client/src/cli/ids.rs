//! Addresses as people type them and as the wire wants them.
//!
//! People type `bob`, `bob@example.org` or `wv:bob@example.org`; the wire
//! gets `wv:` in front (the server adds its own domain when there is
//! none). Servers answer with `wv:bob@localhost`, so comparisons use a key:
//! lower case, no scheme, no domain (impsd serves one domain; another
//! domain is refused with 516, so the local part identifies a user).

/// `bob` -> `wv:bob`; an existing `wv:`/`WV:` scheme is kept as `wv:`.
pub fn wire_user(typed: &str) -> String {
    let t = typed.trim();
    match strip_scheme(t) {
        Some(rest) => format!("wv:{rest}"),
        None => format!("wv:{t}"),
    }
}

/// A group as typed (`alice/room`) -> `wv:alice/room`.
pub fn wire_group(typed: &str) -> String {
    wire_user(typed)
}

fn strip_scheme(s: &str) -> Option<&str> {
    if s.len() >= 3 && s[..3].eq_ignore_ascii_case("wv:") {
        Some(&s[3..])
    } else {
        None
    }
}

/// The comparison key of a user: `WV:Bob@localhost` -> `bob`.
pub fn user_key(id: &str) -> String {
    let t = id.trim();
    let t = strip_scheme(t).unwrap_or(t);
    let local = match t.rfind('@') {
        Some(i) => &t[..i],
        None => t,
    };
    local.to_lowercase()
}

/// The comparison key of a group: `wv:alice/Room@localhost` -> `alice/room`.
pub fn group_key(id: &str) -> String {
    user_key(id)
}

/// What a person reads: the key as written (case kept), without scheme
/// and domain.
pub fn display(id: &str) -> String {
    let t = id.trim();
    let t = strip_scheme(t).unwrap_or(t);
    match t.rfind('@') {
        Some(i) if i > 0 => t[..i].to_string(),
        _ => t.to_string(),
    }
}

/// The domain part of an address, if it has one.
pub fn domain_of(id: &str) -> Option<&str> {
    id.rfind('@')
        .map(|i| &id[i + 1..])
        .filter(|d| !d.is_empty())
}

/// A new group ID under our own name: `wv:alice/<name>[@domain]`.
pub fn new_group_id(me: &str, name: &str) -> String {
    let local = user_key(me);
    let room: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '/' || c == '@' {
                '-'
            } else {
                c
            }
        })
        .collect();
    match domain_of(strip_scheme(me).unwrap_or(me)) {
        Some(d) => format!("wv:{local}/{room}@{d}"),
        None => format!("wv:{local}/{room}"),
    }
}

/// Our default contact list when the server has none yet.
pub fn default_list_id(me: &str) -> String {
    new_group_id(me, "friends")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_normalise() {
        assert_eq!(wire_user("bob"), "wv:bob");
        assert_eq!(wire_user("WV:bob@x.org"), "wv:bob@x.org");
        assert_eq!(user_key("WV:Bob@localhost"), "bob");
        assert_eq!(user_key("bob"), "bob");
        assert_eq!(group_key("wv:alice/Room@localhost"), "alice/room");
        assert_eq!(display("wv:bob@localhost"), "bob");
        assert_eq!(new_group_id("alice", "my room"), "wv:alice/my-room");
        assert_eq!(new_group_id("alice@x.org", "r"), "wv:alice/r@x.org");
        assert_eq!(default_list_id("wv:alice"), "wv:alice/friends");
    }
}
