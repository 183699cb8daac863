//! GetPublicProfile-Request and UpdatePublicProfile-Request (1.3; PPR-1..3).
//!
//! Decisions (docs/protocol.md, "Search and public profiles"):
//!
//! * Properties are `PP_FRIENDLY_NAME`, `PP_AGE`, `PP_GENDER`,
//!   `PP_INTENTION`, `PP_INTERESTS`, `PP_MARITAL_STATUS`, `PP_CITY`,
//!   `PP_COUNTRY`, `PP_FREE_TEXT`. An update names only what changes; an
//!   empty Value clears an optional field. The friendly name cannot be
//!   cleared (it is mandatory).
//! * `PP_AGE` is written by its owner as the year and month of birth
//!   (`YYYY-MM` or `YYYYMM`) and read back that way by the owner; other
//!   users see the age in whole years.
//! * `PP_COUNTRY` is an ISO 3166 alpha-2 code; when the user never set
//!   one, the country of their MSISDN is used.
//! * `ClearPublicProfile` T empties everything but the friendly name
//!   (PPR-3) before the update's properties apply, and takes back the
//!   consent to be found.
//! * Others see a profile only when it is searchable (complete and agreed
//!   to) and its owner is not under the minimum age; otherwise they see
//!   the friendly name alone. No request without UserID: the requester's
//!   own profile.

use std::sync::Arc;

use imps_wire::csp::{
    DetailedResult, GetPublicProfileRequest, GetPublicProfileResponse, Property,
    PublicProfile as WireProfile, UpdatePublicProfileRequest,
};
use imps_wire::{Element, Version};

use super::{DirectoryService, ProfileConsent, criteria};
use crate::CoreError;
use crate::reply::{ok_status, status_with};
use crate::session::Session;
use crate::store::{Birth, PublicProfile};
use crate::users::{canonical_user, wire_user};

/// Most users one GetPublicProfile-Request may name.
const MAX_USERS: usize = 32;
/// Longest value of a profile field other than the free text.
const MAX_FIELD_CHARS: usize = 64;

impl DirectoryService {
    /// GetPublicProfile-Request.
    pub(super) async fn get_profiles(
        &self,
        s: &Session,
        body: &Element,
    ) -> Result<Element, CoreError> {
        need_13(s)?;
        let req = GetPublicProfileRequest::from_element(body, s.version)
            .map_err(|e| CoreError::BadParameter(e.to_string()))?;
        if req.user_ids.len() > MAX_USERS {
            return Err(CoreError::BadParameter(format!(
                "at most {MAX_USERS} users per request"
            )));
        }
        let wanted: Vec<String> = if req.user_ids.is_empty() {
            vec![wire_user(&s.user, &self.base.cfg.domain)]
        } else {
            req.user_ids.clone()
        };
        let mut profiles = Vec::new();
        let mut details: Vec<DetailedResult> = Vec::new();
        for wire in &wanted {
            let found = match canonical_user(wire, &self.base.cfg.domain) {
                Ok(u) => self.base.store.profile(&u).await?.map(|p| (u, p)),
                Err(e) => {
                    details.push(detail(e.status_code(), &e.description(), wire));
                    continue;
                }
            };
            match found {
                Some((u, p)) => profiles.push(self.render(s, &u, &p)),
                None => {
                    let e = CoreError::UnknownUser(wire.clone());
                    details.push(detail(e.status_code(), &e.description(), wire));
                }
            }
        }
        if profiles.is_empty()
            && let Some(d) = details.first()
        {
            let code = u16::try_from(d.code).unwrap_or(531);
            let mut r = crate::reply::csp_result(code, d.description.as_deref().unwrap_or(""));
            r.details = details;
            return Ok(status_with(r.to_element(s.version)));
        }
        let mut result = if details.is_empty() {
            crate::reply::csp_result(200, "Successful")
        } else {
            crate::reply::csp_result(201, "Some users were not found")
        };
        result.details = details;
        Ok(GetPublicProfileResponse {
            result: Some(result),
            profiles,
            ..GetPublicProfileResponse::default()
        }
        .to_element(s.version))
    }

    /// One profile as `s` may see it.
    fn render(&self, s: &Session, user: &str, p: &PublicProfile) -> WireProfile {
        let own = user == s.user;
        let mut props = Vec::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                props.push(Property {
                    name: name.into(),
                    value: v,
                });
            }
        };
        put("PP_FRIENDLY_NAME", p.friendly_name.clone());
        let shown = own || (p.listed() && self.old_enough(p));
        if shown {
            let age = p.birth.map(|b| {
                if own {
                    format!("{:04}-{:02}", b.year, b.month)
                } else {
                    crate::groups::age_years(b.year, b.month, self.base.now_ms()).to_string()
                }
            });
            put("PP_AGE", age);
            put("PP_GENDER", p.gender.clone());
            put("PP_INTENTION", p.intention.clone());
            put("PP_INTERESTS", p.interests.clone());
            put("PP_MARITAL_STATUS", p.marital_status.clone());
            put("PP_CITY", p.city.clone());
            put("PP_COUNTRY", p.country.clone());
            put("PP_FREE_TEXT", p.free_text.clone());
        }
        WireProfile {
            user_id: Some(wire_user(user, &self.base.cfg.domain)),
            properties: props,
            ..WireProfile::default()
        }
    }

    /// Not under the minimum age of profile search (PPR-11).
    fn old_enough(&self, p: &PublicProfile) -> bool {
        let min = self.cfg().min_profile_age;
        min == 0
            || p.birth.is_some_and(|b| {
                crate::groups::age_years(b.year, b.month, self.base.now_ms()) >= i64::from(min)
            })
    }

    /// UpdatePublicProfile-Request. Also says whether the profile is now
    /// complete but not yet agreed to be found, so the privacy advice is
    /// due (PPR-UC).
    pub(super) async fn update_profile(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<(Element, bool), CoreError> {
        need_13(s)?;
        let req = UpdatePublicProfileRequest::from_element(body, s.version)
            .map_err(|e| CoreError::BadParameter(e.to_string()))?;
        let user = self
            .base
            .store
            .user(&s.user)
            .await?
            .ok_or_else(|| CoreError::UnknownUser(s.user.clone()))?;
        let mut p = self
            .base
            .store
            .profile(&s.user)
            .await?
            .ok_or_else(|| CoreError::UnknownUser(s.user.clone()))?;
        if req.clear == Some(true) {
            p = p.cleared();
        }
        if let Some(wp) = &req.profile {
            if let Some(id) = wp.user_id.as_deref()
                && canonical_user(id, &self.base.cfg.domain)? != s.user
            {
                return Err(CoreError::Forbidden(
                    "a user updates only their own profile".into(),
                ));
            }
            for prop in &wp.properties {
                self.apply(&mut p, &prop.name, &prop.value)?;
            }
        }
        if req.clear != Some(true) && req.profile.is_none() {
            return Err(CoreError::BadParameter(
                "nothing to update: no PublicProfile and no ClearPublicProfile".into(),
            ));
        }
        if p.country.is_none()
            && let Some(m) = user.msisdn.as_deref()
        {
            p.country = criteria::country_of(m);
        }
        if self.cfg().profile_consent == ProfileConsent::Implicit {
            p.consent = p.complete();
        }
        let advise = p.complete() && !p.consent;
        self.base.store.put_profile(&s.user, p).await?;
        tracing::info!(user = %s.user, cleared = req.clear == Some(true), "public profile updated");
        Ok((ok_status(), advise))
    }

    /// Sets one property from the wire.
    fn apply(&self, p: &mut PublicProfile, name: &str, value: &str) -> Result<(), CoreError> {
        let value = value.trim();
        let bad = |why: &str| CoreError::BadParameter(format!("{name}: {why}"));
        let short = |v: &str| -> Result<Option<String>, CoreError> {
            if v.chars().count() > MAX_FIELD_CHARS {
                return Err(bad(&format!("longer than {MAX_FIELD_CHARS} characters")));
            }
            Ok((!v.is_empty()).then(|| v.to_string()))
        };
        match name.trim().to_ascii_uppercase().as_str() {
            "PP_FRIENDLY_NAME" => {
                if value.is_empty() {
                    return Err(bad("the friendly name cannot be empty"));
                }
                p.friendly_name = short(value)?;
            }
            "PP_AGE" => {
                p.birth = if value.is_empty() {
                    None
                } else {
                    Some(
                        self.birth(value)
                            .ok_or_else(|| bad("give the year and month of birth as YYYY-MM"))?,
                    )
                };
            }
            "PP_GENDER" => p.gender = short(value)?,
            "PP_INTENTION" => p.intention = short(value)?,
            "PP_INTERESTS" => p.interests = short(value)?,
            "PP_MARITAL_STATUS" => p.marital_status = short(value)?,
            "PP_CITY" => p.city = short(value)?,
            "PP_COUNTRY" => {
                p.country = if value.is_empty() {
                    None
                } else if value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic()) {
                    Some(value.to_ascii_uppercase())
                } else {
                    return Err(bad("an ISO 3166 alpha-2 country code"));
                };
            }
            "PP_FREE_TEXT" => {
                let max = self.cfg().max_free_text_chars;
                if value.chars().count() > max {
                    return Err(bad(&format!("longer than {max} characters")));
                }
                p.free_text = (!value.is_empty()).then(|| value.to_string());
            }
            other => return Err(bad(&format!("unknown profile property {other:?}"))),
        }
        Ok(())
    }

    /// `YYYY-MM` or `YYYYMM`, not in the future and not before 1900.
    fn birth(&self, v: &str) -> Option<Birth> {
        let digits: String = v.chars().filter(|c| *c != '-').collect();
        if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let year: u16 = digits[..4].parse().ok()?;
        let month: u8 = digits[4..].parse().ok()?;
        let b = Birth { year, month };
        let (ny, nm) = crate::groups::year_month(self.base.now_ms());
        let now = ny * 12 + nm - 1;
        ((1..=12).contains(&month) && year >= 1900 && b.month_index() <= now).then_some(b)
    }
}

fn need_13(s: &Session) -> Result<(), CoreError> {
    if s.version < Version::V1_3 {
        return Err(CoreError::NotImplemented(
            "public profiles need CSP 1.3".into(),
        ));
    }
    Ok(())
}

fn detail(code: u16, description: &str, user: &str) -> DetailedResult {
    DetailedResult {
        code: u64::from(code),
        description: Some(description.to_string()),
        user_ids: vec![user.to_string()],
        ..DetailedResult::default()
    }
}
