//! Reading who a presence request is about, in every form clients send:
//! `User{UserID}*` and `ContactList*` (1.1/1.2), `UserIDList{UserID*}` and
//! `ContactListIDList{ContactList*}` (1.3), bare `UserID*` (attribute
//! lists), and Android's malformed `User{Property{Name UserID, Value id}}`.
//! All forms are accepted in every version. Users that cannot be served
//! become DetailedResult entries of a 201 (or of the one failure code when
//! nothing could be served).

use super::PresenceService;
use imps_wire::Element;

use crate::CoreError;
use crate::reply::result;

/// The raw targets of a request, as sent.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    pub users: Vec<String>,
    pub lists: Vec<String>,
}

impl Targets {
    pub(crate) fn parse(body: &Element) -> Targets {
        let mut t = Targets::default();
        let mut user = |e: &Element| {
            let id = e
                .child_text("UserID")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .or_else(|| {
                    e.children_named("Property")
                        .find(|p| {
                            p.child_text("Name")
                                .is_some_and(|n| n.eq_ignore_ascii_case("UserID"))
                        })
                        .and_then(|p| p.child_text("Value"))
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                });
            if let Some(id) = id {
                t.users.push(id);
            }
        };
        for u in body.children_named("User") {
            user(u);
        }
        for l in body.children_named("UserIDList") {
            for id in l.children_named("UserID") {
                t.users.push(id.text.trim().to_string());
            }
        }
        for id in body.children_named("UserID") {
            t.users.push(id.text.trim().to_string());
        }
        for l in body.children_named("ContactList") {
            t.lists.push(l.text.trim().to_string());
        }
        for l in body.children_named("ContactListIDList") {
            for id in l.children_named("ContactList") {
                t.lists.push(id.text.trim().to_string());
            }
        }
        t.users.retain(|u| !u.is_empty());
        t.lists.retain(|l| !l.is_empty());
        t
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty() && self.lists.is_empty()
    }
}

/// One target that could not be served.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: u16,
    pub description: String,
    /// `UserID` or `ContactList`, and the value as sent.
    pub kind: &'static str,
    pub id: String,
}

/// Targets resolved to canonical user IDs, in request order, once each.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub users: Vec<String>,
    /// Users of peer domains (`user@domain`), for their home servers.
    pub remote: Vec<String>,
    pub failures: Vec<Failure>,
}

impl Resolved {
    fn add(&mut self, u: String) {
        let to = if u.contains('@') {
            &mut self.remote
        } else {
            &mut self.users
        };
        if !to.contains(&u) {
            to.push(u);
        }
    }
}

impl PresenceService {
    /// Canonical IDs of the users named and of the members of the
    /// requester's contact lists named. Unknown users are 531, unknown
    /// lists 700. With `expand_lists` false, lists are not looked at.
    pub(crate) async fn resolve_targets(
        &self,
        requester: &str,
        t: &Targets,
        expand_lists: bool,
    ) -> Result<Resolved, CoreError> {
        let mut r = Resolved::default();
        for raw in &t.users {
            match self.base.canonical_party(raw) {
                // A user of a peer domain: whether they exist is for
                // their home server to say.
                Ok(u) if u.contains('@') => r.add(u),
                Ok(u) if self.base.user_exists(&u).await? => r.add(u),
                Ok(_) => r.failures.push(Failure {
                    code: 531,
                    description: "Unknown user".into(),
                    kind: "UserID",
                    id: raw.clone(),
                }),
                Err(e) => r.failures.push(Failure {
                    code: e.status_code(),
                    description: e.description(),
                    kind: "UserID",
                    id: raw.clone(),
                }),
            }
        }
        if expand_lists {
            for list in &t.lists {
                match self.lists.list_members(requester, list).await? {
                    Some(members) => {
                        for m in members {
                            if let Ok(u) = self.base.canonical_party(&m) {
                                r.add(u);
                            }
                        }
                    }
                    None => r.failures.push(Failure {
                        code: 700,
                        description: "Contact list does not exist".into(),
                        kind: "ContactList",
                        id: list.clone(),
                    }),
                }
            }
        }
        Ok(r)
    }
}

/// The Result for a request some of whose targets failed: 200 when none
/// did, 201 with a DetailedResult per failure code when some succeeded,
/// else the (first) failure code itself with the details.
pub(crate) fn outcome_result(failures: &[Failure], any_ok: bool) -> Element {
    if failures.is_empty() {
        return result(200, "Successful");
    }
    let (code, desc) = if any_ok {
        (201, "Partially successful".to_string())
    } else {
        (failures[0].code, failures[0].description.clone())
    };
    let mut r = result(code, &desc);
    let mut codes: Vec<u16> = failures.iter().map(|f| f.code).collect();
    codes.dedup();
    codes.sort_unstable();
    codes.dedup();
    for c in codes {
        let mut d = Element::new("DetailedResult").with_text("Code", c.to_string());
        if let Some(f) = failures.iter().find(|f| f.code == c) {
            d = d.with_text("Description", f.description.clone());
        }
        for f in failures.iter().filter(|f| f.code == c) {
            d = d.with_text(f.kind, f.id.clone());
        }
        r = r.with(d);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_read() {
        let body = Element::new("UnsubscribePresence-Request")
            .with(Element::new("User").with_text("UserID", "wv:a@localhost"))
            .with(
                Element::new("User").with(
                    Element::new("Property")
                        .with_text("Name", "UserID")
                        .with_text("Value", "wv:b@localhost"),
                ),
            )
            .with(Element::new("UserIDList").with_text("UserID", "c"))
            .with_text("UserID", "d")
            .with_text("ContactList", "wv:me/friends@localhost")
            .with(
                Element::new("ContactListIDList").with_text("ContactList", "wv:me/work@localhost"),
            );
        let t = Targets::parse(&body);
        assert_eq!(t.users, ["wv:a@localhost", "wv:b@localhost", "c", "d"]);
        assert_eq!(t.lists, ["wv:me/friends@localhost", "wv:me/work@localhost"]);
    }
}
