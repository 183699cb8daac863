//! Fuzzes the server's request path in-process: the HTTP binding (the
//! axum router impsd serves, with its body limit, Content-Type choice,
//! decoding, CSP dispatch and reply encoding) and the WebSocket message
//! path (a frame decoded as XML or WBXML and handed to the service for a
//! socket bound to a live session).
//!
//! One `Service` over a SQLite store in a temporary directory is built
//! once per process, with a tokio runtime. Per input:
//!
//! 1. POST /imps with the bytes as an XML body
//!    (`application/vnd.wv.csp.xml`), then as a WBXML body
//!    (`application/vnd.wv.csp+wbxml`), then with no Content-Type (the
//!    server sniffs), each through `Router::oneshot`, the whole reply read;
//! 2. what decodes as XML (a text frame) and as WBXML (a binary frame) is
//!    sent inside a logged-in session, the way the WebSocket path does
//!    it: `handle_to_end` then the reply encoded in the frame's encoding.
//!    The message's SessionID is replaced with the live one, so the
//!    handlers behind the session check are reached. When an input ends
//!    that session (Logout, Disconnect), the next input logs in again.
//!
//! The WebSocket upgrade and framing (tungstenite) are not fuzzed here:
//! a frame's payload goes straight to the same decode and service calls
//! `ws.rs` makes. The property is the libFuzzer one: no panic (a panic
//! inside a handler task is caught by `handle_to_end` and counts too), no
//! hang (`-timeout`), bounded memory (`-rss_limit_mb`).
//!
//! Known bugs outside this crate, once found, are fixed rather than
//! skipped; the first one (`canonical_user` slicing inside a multi-byte
//! character) has a regression seed,
//! `seeds/regression-canonical-user-char-boundary.{xml,wbxml}`.
//!
//! RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none http_request corpus/http_request seeds

#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use imps_core::config::MsisdnConfig;
use imps_core::{CoreConfig, RequestCtx, Service, SystemClock};
use imps_store::{SqliteOptions, SqliteStore};
use imps_wire::{Encoding, Limits, Message, SessionType, Version, examples};
use impsd::http::{AppState, handle_to_end};
use impsd::metrics::Metrics;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PATH: &str = "/imps";
const MAX_BODY: usize = 256 * 1024;
/// The gateway-asserted number the session user logs in with (auto
/// registration, no password: cheap enough to log in again any time).
const MSISDN: &str = "+15550100";

struct Harness {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    service: Arc<Service>,
    limits: Limits,
    peer: SocketAddr,
    /// The live session's ID, None when an input ended it.
    session: Mutex<Option<String>>,
    _dir: PathBuf,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("impsd-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = SqliteStore::open(
            &dir.join("impsd.sqlite"),
            SqliteOptions {
                // No fsync per commit: the store is thrown away.
                synchronous_full: false,
                ..SqliteOptions::default()
            },
        )
        .expect("store opens");
        let core = CoreConfig {
            domain: "localhost".into(),
            msisdn: MsisdnConfig {
                auto_login: true,
                auto_register: true,
                force_manual_login: false,
            },
            ..CoreConfig::default()
        };
        let store: Arc<dyn imps_core::Store> = Arc::new(store);
        let service = Arc::new(Service::new(core, store.clone(), Arc::new(SystemClock)));
        let limits = Limits {
            max_size: MAX_BODY,
            ..Limits::default()
        };
        let state = Arc::new(AppState {
            service: service.clone(),
            limits: limits.clone(),
            metrics: Arc::new(Metrics::default()),
            msisdn_header: "x-msisdn".into(),
            trusted_proxies: Vec::new(),
            ws_write_timeout: Duration::from_secs(5),
            body_time: impsd::http::BodyTime::from_limits(&impsd::config::LimitsConfig::default()),
            idle_timeout: Duration::from_secs(120),
            federation: None,
            cluster: None,
            ws_cuts: Arc::default(),
            store: store.clone(),
            health_timeout: Duration::from_secs(2),
        });
        let app = impsd::http::router(state, PATH, "/imps/ws", MAX_BODY);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Harness {
            rt,
            app,
            service,
            limits,
            peer: "127.0.0.1:40000".parse().expect("addr"),
            session: Mutex::new(None),
            _dir: dir,
        }
    })
}

impl Harness {
    async fn post(&self, data: &[u8], content_type: Option<&str>) {
        let mut req = Request::builder().method("POST").uri(PATH);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req
            .extension(ConnectInfo(self.peer))
            .body(Body::from(data.to_vec()))
            .expect("request builds");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("reply body reads");
        // A handler that panicked is caught and answered 500: that is a
        // bug all the same.
        assert!(
            status != StatusCode::INTERNAL_SERVER_ERROR,
            "HTTP 500: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// The live session, logging in (and making the session ready the way
    /// a phone does) when there is none.
    async fn session(&self) -> String {
        if let Some(id) = self.session.lock().expect("lock").clone()
            && self
                .service
                .sessions()
                .get(&id)
                .is_some_and(|s| !s.is_ended())
        {
            return id;
        }
        let ctx = RequestCtx {
            peer: Some(self.peer),
            msisdn: Some(MSISDN.into()),
        };
        let v = Version::V1_3;
        let all = examples::all(v);
        let pick = |name: &str| {
            all.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, m)| m.clone())
                .unwrap_or_else(|| panic!("no example {name}"))
        };
        let mut login = pick("Login-Request");
        login.session_id = None;
        login.session_type = SessionType::Outband;
        let reply = handle_to_end(&self.service, &ctx, login)
            .await
            .expect("login handled")
            .expect("login answered");
        let body = &reply.transactions[0].body;
        let id = body
            .child_text("SessionID")
            .unwrap_or_else(|| panic!("login failed: {body:?}"))
            .to_string();
        for name in ["ClientCapability-Request", "Service-Request"] {
            let mut m = pick(name);
            m.session_id = Some(id.clone());
            let _ = handle_to_end(&self.service, &ctx, m).await;
        }
        *self.session.lock().expect("lock") = Some(id.clone());
        id
    }

    /// The WebSocket path: a frame's payload decoded in the frame's
    /// encoding, handled inside the live session, the reply encoded.
    async fn in_session(&self, data: &[u8], enc: Encoding) {
        let Ok(mut msg) = imps_wire::decode(data, enc, &self.limits) else {
            return;
        };
        msg.session_id = Some(self.session().await);
        msg.session_type = SessionType::Inband;
        let ctx = RequestCtx {
            peer: Some(self.peer),
            msisdn: None,
        };
        let reply: Option<Message> = handle_to_end(&self.service, &ctx, msg)
            .await
            .expect("a CSP handler panicked (see the log above)");
        if let Some(r) = reply {
            let _ = imps_wire::encode(&r, enc);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    h.rt.block_on(async {
        h.post(data, Some("application/vnd.wv.csp.xml")).await;
        h.post(data, Some("application/vnd.wv.csp+wbxml")).await;
        h.post(data, None).await;
        h.in_session(data, Encoding::Xml).await;
        h.in_session(data, Encoding::Wbxml).await;
    });
});
