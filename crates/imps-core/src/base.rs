//! What every area holds: the settings, the store, the clock, the table
//! of live sessions and the router. Built once by `Service::new` and
//! shared by the area services (`lists::ListsService`,
//! `presence::PresenceService`, ...); none of them owns these.

use std::sync::Arc;

use crate::router::Router;
use crate::session::SessionRegistry;
use crate::{Clock, CoreConfig, Store};

pub(crate) struct Base {
    /// The settings in effect (GETMAP is listed as disabled when maps are
    /// off, see `Service::new`).
    pub(crate) cfg: CoreConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Live sessions; areas read them, only the router queues into them.
    pub(crate) sessions: Arc<SessionRegistry>,
    /// The only way to reach another session (see `router`).
    pub(crate) router: Arc<dyn Router>,
}

impl Base {
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}
