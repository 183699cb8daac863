//! Group addresses and the user lists of group primitives on the wire.

use imps_wire::Element;

use crate::CoreError;
use crate::users::{canonical_user, validate_user_part};

/// Turns a wire GroupID into the canonical `wv:owner/name@domain`, lower
/// case (IMPS addresses are case-insensitive). The name part is required
/// (Android throws without one); another domain gets 516.
pub(crate) fn canonical_group(
    wire: &str,
    domain: &str,
    max_name: usize,
) -> Result<String, CoreError> {
    let s = wire.trim();
    let s = crate::users::strip_scheme(s).unwrap_or(s);
    // Resource = between the first `/` and the last `@` (Android's order).
    let (rest, dom) = match s.rfind('@') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(d) = dom
        && !d.eq_ignore_ascii_case(domain)
    {
        return Err(CoreError::DomainNotSupported(d.to_string()));
    }
    let Some((user, name)) = rest.split_once('/') else {
        return Err(CoreError::BadParameter(format!(
            "GroupID {wire:?} has no group name"
        )));
    };
    let user = user.to_lowercase();
    validate_user_part(&user)?;
    let name = name.to_lowercase();
    let name_ok = !name.is_empty()
        && name.chars().count() <= max_name
        && name
            .chars()
            .all(|c| !c.is_control() && c != '@' && c != '/');
    if !name_ok {
        return Err(CoreError::BadParameter(format!(
            "invalid group name in {wire:?}"
        )));
    }
    Ok(format!("wv:{user}/{name}@{}", domain.to_lowercase()))
}

/// The owner part of a canonical GroupID.
pub(crate) fn group_owner_part(id: &str) -> &str {
    let s = id.strip_prefix("wv:").unwrap_or(id);
    s.split('/').next().unwrap_or(s)
}

/// The UserIDs of a user list in any of its wire forms: `UserList{User{UserID}}`
/// (1.1, 1.2), `UserIDList{UserID}` (1.3), or bare `User`/`UserID`
/// children of `parent`. Accepted in every version. Duplicates removed.
pub(crate) fn user_ids(parent: &Element) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |t: &str| {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    };
    for c in &parent.children {
        match c.name.as_str() {
            "UserList" | "UserIDList" => {
                for u in &c.children {
                    match u.name.as_str() {
                        "User" => {
                            if let Some(t) = u.child_text("UserID") {
                                add(t);
                            }
                        }
                        "UserID" => add(&u.text),
                        _ => {}
                    }
                }
            }
            "User" => {
                if let Some(t) = c.child_text("UserID") {
                    add(t);
                }
            }
            "UserID" => add(&c.text),
            _ => {}
        }
    }
    out
}

/// Canonical IDs of wire user IDs; the ones that do not parse come back
/// as they were, in the second list.
pub(crate) fn canonical_users(wire: &[String], domain: &str) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for w in wire {
        match canonical_user(w, domain) {
            Ok(u) if !ok.contains(&u) => ok.push(u),
            Ok(_) => {}
            Err(_) => bad.push(w.clone()),
        }
    }
    (ok, bad)
}

/// `User{UserID}`.
pub(crate) fn user_elem(id: &str, domain: &str) -> Element {
    Element::new("User").with_text("UserID", crate::users::wire_user(id, domain))
}

/// `ScreenName{SName, GroupID}`.
pub(crate) fn screen_name(sname: &str, group: &str) -> Element {
    Element::new("ScreenName")
        .with_text("SName", sname)
        .with_text("GroupID", group)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn group_ids() {
        let c = |s| canonical_group(s, "localhost", 64);
        assert_eq!(
            c("wv:Alice/Chat@localhost").unwrap(),
            "wv:alice/chat@localhost"
        );
        assert_eq!(c("WV:alice/chat").unwrap(), "wv:alice/chat@localhost");
        assert_eq!(c("alice/chat").unwrap(), "wv:alice/chat@localhost");
        assert_eq!(c("wv:alice/chat@other").unwrap_err().status_code(), 516);
        assert!(c("wv:alice@localhost").is_err(), "a name part is required");
        assert!(c("wv:alice/@localhost").is_err());
        assert!(c("wv:/chat@localhost").is_err());
        assert_eq!(group_owner_part("wv:alice/chat@localhost"), "alice");
    }

    #[test]
    fn user_lists_in_every_form() {
        let v12 = Element::new("X").with(
            Element::new("UserList")
                .with(Element::new("User").with_text("UserID", "wv:bob"))
                .with(Element::new("User").with_text("UserID", "wv:carol")),
        );
        let v13 = Element::new("X").with(
            Element::new("UserIDList")
                .with_text("UserID", "wv:bob")
                .with_text("UserID", "wv:carol"),
        );
        assert_eq!(user_ids(&v12), vec!["wv:bob", "wv:carol"]);
        assert_eq!(user_ids(&v13), vec!["wv:bob", "wv:carol"]);
    }
}
