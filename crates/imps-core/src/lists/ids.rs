//! Contact list IDs and the member entries of list requests.
//!
//! A list ID is `wv:<owner>/<listname>@<domain>`: the resource part is
//! required (Android throws without it), and IDs compare case-insensitively
//! (Android lower-cases them). Members arrive in two shapes, both accepted
//! everywhere: `NickName{Name, UserID}` (Android's ListManage) and
//! `NickName{Name, User{UserID}}` (Android's CreateList), or a bare
//! `UserID`.

use imps_wire::Element;

use super::ListsConfig;
use crate::CoreError;
use crate::users::validate_user_part;

/// A parsed contact list ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListId {
    /// Canonical local ID of the owner.
    pub owner: String,
    /// Lower-case list name: the key in the store.
    pub name: String,
    /// As the client wrote it (trimmed).
    pub wire: String,
}

impl ListId {
    pub(crate) fn parse(wire: &str, domain: &str, cfg: &ListsConfig) -> Result<ListId, CoreError> {
        let wire = wire.trim();
        let s =
            if wire.len() >= 3 && wire.is_char_boundary(3) && wire[..3].eq_ignore_ascii_case("wv:")
            {
                &wire[3..]
            } else {
                wire
            };
        let Some(slash) = s.find('/') else {
            return Err(CoreError::BadParameter(format!(
                "contact list ID {wire:?} has no list name (wv:user/list@domain)"
            )));
        };
        let (user, rest) = (&s[..slash], &s[slash + 1..]);
        let (name, dom) = match rest.rfind('@') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if let Some(d) = dom.filter(|d| !d.eq_ignore_ascii_case(domain)) {
            return Err(CoreError::DomainNotSupported(d.to_string()));
        }
        let owner = user.to_ascii_lowercase();
        validate_user_part(&owner)?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > cfg.max_name_chars
            || name.chars().any(char::is_control)
        {
            return Err(CoreError::BadParameter(format!(
                "invalid contact list name in {wire:?}"
            )));
        }
        Ok(ListId {
            owner,
            name: name.to_lowercase(),
            wire: wire.to_string(),
        })
    }

    /// The list name as the client wrote it, the default DisplayName.
    pub(crate) fn written_name(&self) -> String {
        let s = self.wire.split_once('/').map_or("", |(_, r)| r);
        let s = s.rsplit_once('@').map_or(s, |(n, _)| n);
        s.trim().to_string()
    }
}

/// One member named in a request, before we know whether it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NickInput {
    /// The UserID as sent.
    pub wire: String,
    /// `None` when absent or empty: ADC-1 picks one.
    pub nickname: Option<String>,
}

/// The UserID of `NickName{UserID}`, `NickName{User{UserID}}`, `User{UserID}`
/// or a bare `UserID`.
fn user_id_of(e: &Element) -> Option<&str> {
    if e.name == "UserID" {
        return Some(e.text.trim());
    }
    e.child_text("UserID")
        .or_else(|| e.path(&["User", "UserID"]).map(|u| u.text.trim()))
}

/// The members of an `AddNickList` or `NickList`, in order.
pub(crate) fn nick_entries(list: &Element, cfg: &ListsConfig) -> Result<Vec<NickInput>, CoreError> {
    let mut out = Vec::new();
    for c in &list.children {
        if !matches!(c.name.as_str(), "NickName" | "UserID" | "User") {
            continue; // vendor extensions
        }
        let wire = user_id_of(c)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| CoreError::BadParameter(format!("{} without a UserID", c.name)))?;
        let nickname = c
            .child_text("Name")
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if nickname
            .as_ref()
            .is_some_and(|n| n.chars().count() > cfg.max_name_chars)
        {
            return Err(CoreError::BadParameter(format!(
                "nickname for {wire} too long"
            )));
        }
        out.push(NickInput {
            wire: wire.to_string(),
            nickname,
        });
    }
    Ok(out)
}

/// The UserIDs of a `RemoveNickList`, `AddList`, `RemoveList` or
/// `EntityList` (bare `UserID`s, or wrapped like nick entries).
pub(crate) fn user_ids(list: &Element) -> Vec<String> {
    list.children
        .iter()
        .filter(|c| matches!(c.name.as_str(), "UserID" | "NickName" | "User"))
        .filter_map(user_id_of)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg() -> ListsConfig {
        ListsConfig::default()
    }

    #[test]
    fn list_ids_need_a_resource_and_compare_case_insensitively() {
        let a = ListId::parse("wv:Alice/Friends@LOCALHOST", "localhost", &cfg()).unwrap();
        assert_eq!((a.owner.as_str(), a.name.as_str()), ("alice", "friends"));
        assert_eq!(a.written_name(), "Friends");
        let b = ListId::parse("WV:alice/friends", "localhost", &cfg()).unwrap();
        assert_eq!(a.name, b.name);
        assert!(matches!(
            ListId::parse("wv:alice@localhost", "localhost", &cfg()),
            Err(CoreError::BadParameter(_))
        ));
        assert!(matches!(
            ListId::parse("wv:alice/x@other.org", "localhost", &cfg()),
            Err(CoreError::DomainNotSupported(_))
        ));
        assert!(ListId::parse("wv:alice/@localhost", "localhost", &cfg()).is_err());
    }

    #[test]
    fn both_nickname_shapes_are_read() {
        let list = Element::new("NickList")
            .with(
                Element::new("NickName")
                    .with_text("Name", "Bobby")
                    .with_text("UserID", "wv:bob@localhost"),
            )
            .with(
                Element::new("NickName")
                    .with_text("Name", "")
                    .with(Element::new("User").with_text("UserID", "wv:carol")),
            )
            .with_text("UserID", "dave");
        let got = nick_entries(&list, &cfg()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].nickname.as_deref(), Some("Bobby"));
        assert_eq!(got[1].wire, "wv:carol");
        assert_eq!(got[1].nickname, None);
        assert_eq!(got[2].wire, "dave");
        let bad = Element::new("AddNickList").with(Element::new("NickName").with_text("Name", "x"));
        assert!(nick_entries(&bad, &cfg()).is_err());
    }
}
