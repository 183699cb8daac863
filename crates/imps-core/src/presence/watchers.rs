//! GetWatcherList: who watches the requester's presence. 1.1 answers
//! `User*{UserID}`, 1.2 `Watcher*{User{UserID}}`, 1.3
//! `Watcher*{UserID, FriendlyName?, WatcherStatus}` with `WatcherCount`,
//! and also lists former subscribers and users who read the presence
//! without subscribing (since the server started). MaxWatcherList caps the
//! entries returned; WatcherCount stays the total. HistoryPeriod is not
//! acted on: former subscribers are kept until they subscribe again.

use super::PresenceService;
use std::sync::Arc;

use imps_wire::{Element, Version};

use crate::CoreError;
use crate::session::Session;
use crate::users::wire_user;

const CURRENT: &str = "CURRENT_SUBSCRIBER";
const FORMER: &str = "FORMER_SUBSCRIBER";
const ACCESS: &str = "PRESENCE_ACCESS";

impl PresenceService {
    pub(crate) async fn get_watcher_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let cell = self.owner_cell(&s.user).await?;
        let mut entries: Vec<(String, &'static str)> = {
            let st = cell.lock().await;
            let mut v: Vec<(String, &'static str)> = st
                .watchers
                .iter()
                .filter(|(w, _)| **w != s.user)
                .map(|(w, sub)| (w.clone(), if sub.active { CURRENT } else { FORMER }))
                .collect();
            if s.version >= Version::V1_3 {
                for a in &st.rare.accessed {
                    if !st.watchers.contains_key(a) {
                        v.push((a.clone(), ACCESS));
                    }
                }
            } else {
                v.retain(|(_, status)| *status == CURRENT);
            }
            v
        };
        entries.sort();
        let total = entries.len();
        if let Some(max) = body
            .child_u64("MaxWatcherList")
            .and_then(|m| usize::try_from(m).ok())
        {
            entries.truncate(max);
        }
        let mut resp = Element::new("GetWatcherList-Response");
        match s.version {
            Version::V1_1 => {
                for (w, _) in &entries {
                    resp = resp.with(
                        Element::new("User")
                            .with_text("UserID", wire_user(w, &self.base.cfg.domain)),
                    );
                }
            }
            Version::V1_2 => {
                for (w, _) in &entries {
                    resp = resp.with(
                        Element::new("Watcher").with(
                            Element::new("User")
                                .with_text("UserID", wire_user(w, &self.base.cfg.domain)),
                        ),
                    );
                }
            }
            _ => {
                resp = resp.with_text("WatcherCount", total.to_string());
                for (w, status) in &entries {
                    let mut e = Element::new("Watcher")
                        .with_text("UserID", wire_user(w, &self.base.cfg.domain));
                    if let Some(name) = self.base.friendly_name(w).await? {
                        e = e.with_text("FriendlyName", name);
                    }
                    resp = resp.with(e.with_text("WatcherStatus", *status));
                }
            }
        }
        // GEN-1 (watcher list): in parts for a small 1.3 client.
        self.lists.segment_reply(s, resp, &[&["Watcher"]])
    }
}
