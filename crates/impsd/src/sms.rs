//! Short messages through the operator's SMSC over SMPP 3.4 (issue 20):
//! SMS CIR wake-ups (SSMS, WAPSMS) and offline-message notifications
//! (IMR-10, SYM-18, `im.offline_notify = "sms"`).
//!
//! Nothing here blocks a request: a wake-up or notice is put in the
//! store's bounded SMS queue (`SmsStore`) by a background task, and one
//! dispatcher task hands what is due to the SMPP client, at most its
//! window at once. While the SMSC is away the jobs wait in the queue (on
//! disk: a restart keeps them); when it is back they go out, each once.
//! A submit the SMSC refuses for good is dropped (and logged); one it
//! refuses for now (throttled, busy) or that the link lost is tried again
//! after `sms.retry_ms`.
//!
//! Formats (docs/protocol.md, "CIR by SMS"):
//! * SSMS: the WVCI line as text in the SMSC's default alphabet, port
//!   addressed to `sms.cir_port` (a UDH `06 05 04 <port> <port>`), or
//!   plain when the port is 0;
//! * WAPSMS: the WSP push of WAPUDP as 8-bit data, UDH `06 05 04 0B84 23F0`;
//! * notification, bearer SMS: `sms.notice_text` with `{n}` the number of
//!   waiting messages, plain text; bearer WAPPUSH: the same text in a WSP
//!   push (content type text/plain, application ID wv.ua) to port 2948.
//!   Neither names the sender, the recipient or the content (SYM-18).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imps_core::config::NotifyBearer;
use imps_core::store::{NewSms, SmsJob, SmsPut};
use imps_core::{OfflineNotice, OfflineNotifier, Store};
use imps_smpp::pdu::SubmitSm;
use imps_smpp::udh;
use imps_smpp::{ClientConfig, Receipt, SmppClient, SubmitError};
use imps_wire::cir::{CirLine, WAP_PUSH_PORT, WSP_SOURCE_PORT, WapPush};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, watch};

use crate::metrics::Metrics;

/// The `[sms]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// Connect to the SMSC at all.
    pub enabled: bool,
    /// `host:port` of the SMSC's SMPP listener.
    pub smsc: String,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    /// Sender address of our messages, with its TON and NPI.
    pub source_addr: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    /// TON and NPI of the users' numbers (international, E.164).
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    /// Ask the SMSC for delivery receipts (registered_delivery 1) and
    /// read them: the bind is then a transceiver, since receipts come
    /// back as deliver_sm, which a transmitter never receives.
    pub delivery_receipts: bool,
    /// Most submits waiting for the SMSC's answer at once.
    pub window: usize,
    pub enquire_link_secs: u64,
    pub response_timeout_ms: u64,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Pause after the SMSC says ESME_RTHROTTLED.
    pub throttle_pause_ms: u64,
    /// Wait before trying a failed submit again; doubles with each
    /// failure of the same message, up to `retry_max_ms`.
    pub retry_ms: u64,
    pub retry_max_ms: u64,
    /// A message that failed this many times is dropped (logged).
    pub max_attempts: u32,
    /// A notification older than this is dropped instead of sent: news
    /// of a day ago helps no one, and an outage must not end in a flood.
    pub max_age_secs: u64,
    /// The same for a CIR wake-up: past its session's life it wakes no
    /// one.
    pub cir_max_age_secs: u64,
    /// Most short messages waiting in the store; more are dropped (logged).
    pub queue_max: u64,
    /// How long a job this node took from the queue stays out of other
    /// nodes' reach while it is sent; a node that dies with jobs in hand
    /// leaves them to the others after it.
    pub claim_lease_ms: u64,
    /// Offer SSMS CIR.
    pub cir: bool,
    /// Offer WAPSMS CIR.
    pub cir_wap: bool,
    /// Destination (and source) port of SSMS; 0 sends plain text SMS.
    pub cir_port: u16,
    /// Least time between two SMS wake-ups of one session.
    pub cir_min_interval_secs: u64,
    /// Text of an offline-message notification; `{n}` is the count.
    pub notice_text: String,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            enabled: false,
            smsc: "127.0.0.1:2775".into(),
            system_id: "impsd".into(),
            password: String::new(),
            system_type: String::new(),
            source_addr: "IMPS".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            delivery_receipts: false,
            window: 10,
            enquire_link_secs: 30,
            response_timeout_ms: 10_000,
            reconnect_min_ms: 500,
            reconnect_max_ms: 60_000,
            throttle_pause_ms: 1_000,
            retry_ms: 5_000,
            retry_max_ms: 300_000,
            max_attempts: 10,
            max_age_secs: 86_400,
            cir_max_age_secs: 1_800,
            queue_max: 100_000,
            claim_lease_ms: 60_000,
            cir: true,
            cir_wap: true,
            cir_port: 3716,
            cir_min_interval_secs: 60,
            notice_text: "You have {n} new message(s) waiting. Log in to read them.".into(),
        }
    }
}

/// Longest offline notice: what a WAP Push leaves of 140 octets after
/// the port UDH and a WSP header, rounded down.
const NOTICE_MAX_OCTETS: usize = 120;

impl SmsSettings {
    /// What serde cannot check.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.smsc.trim().is_empty() {
            anyhow::bail!("sms.smsc must be host:port");
        }
        for (name, v, max) in [
            ("sms.system_id", &self.system_id, 15),
            ("sms.password", &self.password, 8),
            ("sms.system_type", &self.system_type, 12),
            ("sms.source_addr", &self.source_addr, 20),
        ] {
            if v.len() > max {
                anyhow::bail!("{name} is longer than SMPP allows ({max} characters)");
            }
        }
        if self.window == 0 || self.queue_max == 0 || self.max_attempts == 0 {
            anyhow::bail!("sms.window, sms.queue_max and sms.max_attempts must be at least 1");
        }
        if self.max_age_secs == 0 || self.cir_max_age_secs == 0 {
            anyhow::bail!("sms.max_age_secs and sms.cir_max_age_secs must be at least 1");
        }
        // A job's send (its submit and the SMSC's answer, or the time-out)
        // must end inside its lease, or another node may send it too.
        if self.claim_lease_ms < self.response_timeout_ms.saturating_mul(2) {
            anyhow::bail!(
                "sms.claim_lease_ms ({}) must be at least twice sms.response_timeout_ms ({})",
                self.claim_lease_ms,
                self.response_timeout_ms
            );
        }
        // The notice goes with data_coding 0 (the SMSC's default
        // alphabet) in one short message, or in a WAP Push beside a UDH
        // and a WSP header in 140 octets: an SMSC refuses a longer one
        // and mangles what is not plain ASCII, and a refused notice is
        // dropped. {n} stands for up to 20 digits.
        let longest = self.notice_text.replace("{n}", &u64::MAX.to_string());
        if longest.len() > NOTICE_MAX_OCTETS {
            anyhow::bail!(
                "sms.notice_text is {} octets with {{n}} filled in; at most {NOTICE_MAX_OCTETS} fit in one short message",
                longest.len()
            );
        }
        if !longest.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            anyhow::bail!(
                "sms.notice_text must be plain ASCII (letters, digits, punctuation, spaces)"
            );
        }
        Ok(())
    }

    fn client_config(&self, receipts: Option<mpsc::Sender<Receipt>>) -> ClientConfig {
        ClientConfig {
            addr: self.smsc.trim().to_string(),
            system_id: self.system_id.clone(),
            password: self.password.clone(),
            system_type: self.system_type.clone(),
            window: self.window.max(1),
            enquire_link: Duration::from_secs(self.enquire_link_secs.max(1)),
            response_timeout: Duration::from_millis(self.response_timeout_ms.max(1)),
            reconnect_min: Duration::from_millis(self.reconnect_min_ms.max(1)),
            reconnect_max: Duration::from_millis(self.reconnect_max_ms.max(1)),
            throttle_pause: Duration::from_millis(self.throttle_pause_ms),
            receipts,
        }
    }
}

/// Notices waiting for the task that looks up numbers; more are dropped.
const NOTICE_QUEUE: usize = 1024;
/// Delivery receipts waiting to be counted; more are dropped.
const RECEIPT_QUEUE: usize = 256;
/// WSP well-known content type `text/plain`.
const CONTENT_TYPE_TEXT_PLAIN: u8 = 0x03;
/// data_coding: the SMSC's default alphabet, and 8-bit binary.
const DCS_DEFAULT: u8 = 0x00;
const DCS_8BIT: u8 = 0x04;

/// The SMS side of impsd: the SMPP client, the queue's dispatcher, and
/// the entry points for wake-ups and notices.
pub struct SmsGateway {
    cfg: SmsSettings,
    store: Arc<dyn Store>,
    client: SmppClient,
    /// Wakes the dispatcher when a job was queued.
    kick: Arc<Notify>,
    notices: mpsc::Sender<OfflineNotice>,
    bearer: NotifyBearer,
    metrics: Arc<Metrics>,
    /// WSP transaction ID of the last push: a counter is enough (the phone
    /// only tells pushes apart with it).
    tid: std::sync::atomic::AtomicU8,
}

impl SmsGateway {
    /// Starts the SMPP client, the dispatcher and the notice task. Needs a
    /// Tokio runtime.
    pub fn start(
        cfg: SmsSettings,
        bearer: NotifyBearer,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<SmsGateway> {
        let (receipts, receipt_rx) = if cfg.delivery_receipts {
            let (tx, rx) = mpsc::channel(RECEIPT_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let client = SmppClient::start(cfg.client_config(receipts), shutdown.clone());
        let (notices, notice_rx) = mpsc::channel(NOTICE_QUEUE);
        let gw = Arc::new(SmsGateway {
            cfg,
            store,
            client,
            kick: Arc::new(Notify::new()),
            notices,
            bearer,
            metrics,
            tid: std::sync::atomic::AtomicU8::new(0),
        });
        tokio::spawn(dispatch(gw.clone(), shutdown.clone()));
        if let Some(rx) = receipt_rx {
            tokio::spawn(read_receipts(gw.metrics.clone(), rx, shutdown.clone()));
        }
        tokio::spawn(take_notices(gw.clone(), notice_rx, shutdown));
        gw
    }

    fn next_tid(&self) -> u8 {
        self.tid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// Whether the client is bound to the SMSC now.
    pub fn is_bound(&self) -> bool {
        self.client.is_bound()
    }

    /// Least time between two SMS wake-ups of one session.
    pub fn cir_interval(&self) -> Duration {
        Duration::from_secs(self.cfg.cir_min_interval_secs)
    }

    /// Queues a wake-up for the session with this ID and cookie; one
    /// waits per session at most (the store coalesces by key).
    pub async fn queue_cir(&self, session_id: &str, line: &CirLine, to: &str, wap: bool) {
        let payload = if wap {
            let mut p = udh::ports(WAP_PUSH_PORT, WSP_SOURCE_PORT).to_vec();
            p.extend_from_slice(&WapPush::cir(self.next_tid(), line).encode());
            p
        } else if self.cfg.cir_port != 0 {
            let mut p = udh::ports(self.cfg.cir_port, self.cfg.cir_port).to_vec();
            p.extend_from_slice(line.to_text().as_bytes());
            p
        } else {
            line.to_text().into_bytes()
        };
        let sms = NewSms {
            key: Some(format!("cir:{session_id}")),
            destination: to.to_string(),
            udh: wap || self.cfg.cir_port != 0,
            binary: wap,
            payload,
            created_ms: now_ms(),
        };
        self.put(sms).await;
    }

    async fn put(&self, sms: NewSms) {
        match self.store.put_sms(sms, self.cfg.queue_max).await {
            Ok(SmsPut::Queued(_)) => {
                Metrics::inc(&self.metrics.sms_queued);
                self.kick.notify_one();
            }
            Ok(SmsPut::Coalesced) => Metrics::inc(&self.metrics.sms_coalesced),
            Ok(SmsPut::Full) => {
                Metrics::inc(&self.metrics.sms_dropped);
                tracing::warn!(
                    max = self.cfg.queue_max,
                    "SMS queue full; short message dropped"
                );
            }
            Err(e) => {
                Metrics::inc(&self.metrics.sms_dropped);
                tracing::warn!(error = %e, "SMS not queued");
            }
        }
    }

    /// The notification for a user with `waiting` messages: no sender, no
    /// content, no name (SYM-18).
    fn notice_sms(&self, to: String, waiting: u64) -> NewSms {
        let text = self
            .cfg
            .notice_text
            .replace("{n}", &waiting.max(1).to_string());
        let (udh, binary, payload) = match self.bearer {
            NotifyBearer::Sms => (false, false, text.into_bytes()),
            NotifyBearer::WapPush => {
                let mut p = udh::ports(WAP_PUSH_PORT, WSP_SOURCE_PORT).to_vec();
                let push = WapPush {
                    transaction_id: self.next_tid(),
                    content_type: Some(CONTENT_TYPE_TEXT_PLAIN),
                    application_id: Some(imps_wire::cir::APP_ID_WV_UA),
                    body: text.into_bytes(),
                };
                p.extend_from_slice(&push.encode());
                (true, true, p)
            }
        };
        NewSms {
            key: None,
            destination: to,
            udh,
            binary,
            payload,
            created_ms: now_ms(),
        }
    }

    fn submit_sm(&self, job: &SmsJob) -> SubmitSm {
        SubmitSm {
            source_addr_ton: self.cfg.source_addr_ton,
            source_addr_npi: self.cfg.source_addr_npi,
            source_addr: self.cfg.source_addr.clone(),
            dest_addr_ton: self.cfg.dest_addr_ton,
            dest_addr_npi: self.cfg.dest_addr_npi,
            destination_addr: job.sms.destination.trim_start_matches('+').to_string(),
            esm_class: if job.sms.udh { udh::ESM_CLASS_UDHI } else { 0 },
            registered_delivery: u8::from(self.cfg.delivery_receipts),
            data_coding: if job.sms.binary {
                DCS_8BIT
            } else {
                DCS_DEFAULT
            },
            short_message: job.sms.payload.clone(),
            ..SubmitSm::default()
        }
    }
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("smsc", &self.cfg.smsc)
            .field("bound", &self.client.is_bound())
            .finish()
    }
}

impl OfflineNotifier for SmsGateway {
    fn notify(&self, notice: OfflineNotice) {
        if self.notices.try_send(notice).is_err() {
            Metrics::inc(&self.metrics.sms_dropped);
            tracing::warn!("offline notification queue full; notice dropped");
        }
    }
}

/// Counts and logs what the SMSC's delivery receipts say. A message is
/// known by the SMSC's message_id, which the debug line "SMS accepted by
/// the SMSC" also names; no number or content is logged.
async fn read_receipts(
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Receipt>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let r = tokio::select! {
            r = rx.recv() => match r { Some(r) => r, None => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if r.state.is_delivered() {
            Metrics::inc(&metrics.sms_receipts_delivered);
            tracing::debug!(message_id = %r.message_id, "SMS delivered to the phone");
        } else if r.state.is_final_failure() {
            Metrics::inc(&metrics.sms_receipts_failed);
            tracing::info!(
                message_id = %r.message_id,
                state = r.state.as_word(),
                error = r.error.as_deref().unwrap_or("-"),
                "SMS not delivered: the SMSC gave up"
            );
        } else {
            tracing::debug!(message_id = %r.message_id, state = r.state.as_word(), "SMS receipt");
        }
    }
}

/// Turns notices into queued SMS: reads the user's registered number
/// (a user without one gets none).
async fn take_notices(
    gw: Arc<SmsGateway>,
    mut rx: mpsc::Receiver<OfflineNotice>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let n = tokio::select! {
            n = rx.recv() => match n { Some(n) => n, None => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let to = match gw.store.user(&n.user).await {
            Ok(Some(u)) => u.msisdn.filter(|m| !m.is_empty()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "offline notification: cannot read the number");
                None
            }
        };
        let Some(to) = to else {
            tracing::debug!(recipient_ref = %n.recipient_ref, "offline notification: no number registered");
            continue;
        };
        let sms = gw.notice_sms(to, n.waiting);
        gw.put(sms).await;
    }
}

/// What to do with a due job before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Send,
    /// Waited longer than its kind may.
    TooOld,
    /// Failed `max_attempts` times.
    TooManyAttempts,
}

impl SmsSettings {
    fn verdict(&self, job: &SmsJob, now_ms: u64) -> Verdict {
        let wake_up = job
            .sms
            .key
            .as_deref()
            .is_some_and(|k| k.starts_with("cir:"));
        let max_age = if wake_up {
            self.cir_max_age_secs
        } else {
            self.max_age_secs
        };
        if now_ms.saturating_sub(job.sms.created_ms) > max_age.saturating_mul(1000) {
            Verdict::TooOld
        } else if job.attempts >= self.max_attempts {
            Verdict::TooManyAttempts
        } else {
            Verdict::Send
        }
    }

    /// When a job that failed `attempts` times so far (this one
    /// included) is tried next: `retry_ms` doubled per earlier failure,
    /// at most `retry_max_ms`.
    fn retry_delay_ms(&self, attempts: u32) -> u64 {
        let base = self.retry_ms.max(1);
        let doubled = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        doubled.min(self.retry_max_ms.max(base))
    }
}

/// Hands due jobs to the SMPP client while it is bound; the rest wait in
/// the store.
async fn dispatch(gw: Arc<SmsGateway>, mut shutdown: watch::Receiver<bool>) {
    let retry = Duration::from_millis(gw.cfg.retry_ms.max(1));
    let mut bound = gw.client.bound_watch();
    // Jobs that went out (or were dropped) but whose removal from the
    // store failed: never sent again, and their removal is tried again
    // each round. Without this a store that refused one delete would make
    // the same SMS go out over and over.
    let mut unrecorded: std::collections::HashSet<u64> = std::collections::HashSet::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !*bound.borrow_and_update() {
            tokio::select! {
                r = bound.changed() => if r.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        let mut still = std::collections::HashSet::new();
        for id in unrecorded.drain() {
            if gw.store.sms_sent(id).await.is_err() {
                still.insert(id);
            }
        }
        unrecorded = still;
        let now = now_ms();
        // Claimed, not only read: nodes sharing the queue (a cluster on
        // one PostgreSQL) never send one job twice while it is in hand.
        let until = now.saturating_add(gw.cfg.claim_lease_ms);
        let jobs = match gw.store.claim_sms(now, gw.cfg.window.max(1), until).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the SMS queue");
                Vec::new()
            }
        };
        let jobs: Vec<SmsJob> = jobs
            .into_iter()
            .filter(|j| !unrecorded.contains(&j.id))
            .collect();
        // Expired and worn-out jobs leave without being sent.
        let mut send = Vec::with_capacity(jobs.len());
        for job in jobs {
            let verdict = gw.cfg.verdict(&job, now);
            if verdict == Verdict::Send {
                send.push(job);
                continue;
            }
            Metrics::inc(&gw.metrics.sms_expired);
            tracing::warn!(
                attempts = job.attempts,
                age_secs = now.saturating_sub(job.sms.created_ms) / 1000,
                why = ?verdict,
                "short message dropped unsent"
            );
            if gw.store.sms_sent(job.id).await.is_err() {
                unrecorded.insert(job.id);
            }
        }
        let jobs = send;
        if jobs.is_empty() {
            // Until something is queued, a retry falls due, or the link
            // changes.
            tokio::select! {
                _ = gw.kick.notified() => {}
                _ = tokio::time::sleep(retry) => {}
                _ = bound.changed() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        // The window's worth at once; the client keeps to its window.
        let sends = jobs.into_iter().map(|job| {
            let gw = gw.clone();
            async move {
                let r = gw.client.submit(gw.submit_sm(&job)).await;
                (job, r)
            }
        });
        for (job, r) in futures_util::future::join_all(sends).await {
            let id = job.id;
            let mut gone = true;
            let done = match r {
                Ok(message_id) => {
                    Metrics::inc(&gw.metrics.sms_sent);
                    tracing::debug!(%message_id, "SMS accepted by the SMSC");
                    gw.store.sms_sent(job.id).await
                }
                Err(SubmitError::Rejected(status)) => {
                    Metrics::inc(&gw.metrics.sms_dropped);
                    tracing::warn!(
                        status = format!("{status:#010x}"),
                        "SMSC refused a short message; dropped"
                    );
                    gw.store.sms_sent(job.id).await
                }
                Err(e) => {
                    gone = false;
                    let attempts = job.attempts + 1;
                    let wait = gw.cfg.retry_delay_ms(attempts);
                    tracing::debug!(error = %e, attempts, wait_ms = wait, "short message to try again");
                    gw.store.sms_retry(job.id, now_ms() + wait).await
                }
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "SMS queue not updated");
                if gone {
                    unrecorded.insert(id);
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is a failed test
mod tests {
    use super::{SmsSettings, Verdict};
    use imps_core::store::{NewSms, SmsJob};

    fn job(key: Option<&str>, created_ms: u64, attempts: u32) -> SmsJob {
        SmsJob {
            id: 1,
            sms: NewSms {
                key: key.map(str::to_string),
                destination: "+1".into(),
                udh: false,
                binary: false,
                payload: Vec::new(),
                created_ms,
            },
            attempts,
            next_ms: created_ms,
        }
    }

    #[test]
    fn old_and_worn_out_messages_are_not_sent() {
        let s = SmsSettings {
            max_age_secs: 100,
            cir_max_age_secs: 10,
            max_attempts: 3,
            ..SmsSettings::default()
        };
        let t0 = 1_000_000;
        assert_eq!(s.verdict(&job(None, t0, 0), t0 + 100_000), Verdict::Send);
        assert_eq!(s.verdict(&job(None, t0, 0), t0 + 100_001), Verdict::TooOld);
        // A wake-up ages faster.
        let cir = Some("cir:abc");
        assert_eq!(s.verdict(&job(cir, t0, 0), t0 + 10_000), Verdict::Send);
        assert_eq!(s.verdict(&job(cir, t0, 0), t0 + 10_001), Verdict::TooOld);
        assert_eq!(s.verdict(&job(None, t0, 2), t0), Verdict::Send);
        assert_eq!(s.verdict(&job(None, t0, 3), t0), Verdict::TooManyAttempts);
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        let s = SmsSettings {
            retry_ms: 100,
            retry_max_ms: 1_000,
            ..SmsSettings::default()
        };
        let waits: Vec<u64> = (1..=6).map(|a| s.retry_delay_ms(a)).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(s.retry_delay_ms(u32::MAX), 1_000);
    }

    fn on(text: &str) -> SmsSettings {
        SmsSettings {
            enabled: true,
            smsc: "127.0.0.1:2775".into(),
            notice_text: text.into(),
            ..SmsSettings::default()
        }
    }

    #[test]
    fn notice_text_must_fit_one_short_message_in_plain_ascii() {
        assert!(on(&SmsSettings::default().notice_text).validate().is_ok());
        let e = on(&"x".repeat(121)).validate().unwrap_err().to_string();
        assert!(e.contains("octets"), "{e}");
        // {n} counts at its longest: 100 + 20 digits fits, 101 + 20 does not.
        assert!(on(&format!("{}{{n}}", "x".repeat(100))).validate().is_ok());
        assert!(on(&format!("{}{{n}}", "x".repeat(101))).validate().is_err());
        let e = on("Nachrichten für dich")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ASCII"), "{e}");
        assert!(on("line\nbreak").validate().is_err());
        for zero in [
            SmsSettings {
                max_attempts: 0,
                ..on("x")
            },
            SmsSettings {
                max_age_secs: 0,
                ..on("x")
            },
            SmsSettings {
                cir_max_age_secs: 0,
                ..on("x")
            },
        ] {
            assert!(zero.validate().is_err());
        }
        // Off: nothing is checked.
        let mut off = on(&"x".repeat(500));
        off.enabled = false;
        assert!(off.validate().is_ok());
    }
}
