//! An SSP POST on the CSP listener: a setup step of a server association,
//! or a Session of transactions inside one. The HTTP answer carries no
//! SSP content when all is well (results go back as new POSTs, through
//! the queue); a refused setup step gets HTTP 403 with a LoginResponse
//! whose Status says why, a Session we do not know (or from a domain
//! not in the table) a bare 403, an undecodable body 400, and a
//! transaction we could not take (the store failed) 503, so the peer
//! sends it again.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imps_core::federation::SspOutcome;
use imps_wire::Limits;
use imps_wire::ssp::{Mode, SSP_CONTENT_TYPE, SetupStep, SetupTransaction, SspMessage, SspStatus};

use super::Federation;
use crate::http::{empty_ok, plain};

/// Whether a request's content type is SSP's.
pub fn is_ssp(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim()
            .get(..SSP_CONTENT_TYPE.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(SSP_CONTENT_TYPE))
    })
}

/// Handles one SSP document (already read within the body limits).
pub async fn handle(fed: &Arc<Federation>, body: &[u8], limits: &Limits) -> Response {
    let msg = match SspMessage::decode(body, limits) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(error = %e, "undecodable SSP body");
            return plain(StatusCode::BAD_REQUEST, "not an SSP document\n");
        }
    };
    match msg {
        SspMessage::Setup(st) => {
            let tid = st.transaction_id.clone();
            match fed.on_setup_step(st).await {
                Ok(()) => empty_ok(),
                Err(r) => {
                    let answer = SspMessage::Setup(SetupTransaction {
                        mode: Mode::Response,
                        transaction_id: tid,
                        step: SetupStep::LoginResponse {
                            session_id: String::new(),
                            time_to_live: None,
                            status: SspStatus {
                                code: r.code,
                                description: Some(r.why),
                            },
                        },
                    });
                    let mut resp = (StatusCode::FORBIDDEN, answer.encode()).into_response();
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(SSP_CONTENT_TYPE),
                    );
                    resp
                }
            }
        }
        SspMessage::Session(s) => {
            let peer = s
                .session_id
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            // A discovered peer whose record's TTL ran out is looked up
            // again, so that the core knows its users' domain.
            fed.resolve(&peer).await;
            if !fed.peers.contains_key(&peer) || !fed.accepts(&peer, &s.session_id) {
                tracing::warn!(peer = %peer, "SSP Session not of a live association; refused");
                return plain(StatusCode::FORBIDDEN, "unknown SSP session\n");
            }
            // A user session relayed through the peer (SUS): answered in
            // the HTTP body.
            if super::sus::is_sus_session(&s) {
                return super::sus::serve(fed, &peer, s).await;
            }
            let Some(service) = fed.service() else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n");
            };
            // Run to the end even if the peer hangs up: a message stored
            // but never offered to its recipient's session would wait
            // for the next redelivery pass (as CSP's handle_to_end).
            let fed2 = Arc::clone(fed);
            let taken = tokio::spawn(async move {
                let stats = fed2.stats(&peer);
                for tx in &s.transactions {
                    match service.ssp_inbound(&peer, tx).await {
                        Ok(SspOutcome::Done) => {
                            if let Some(st) = &stats {
                                st.received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(SspOutcome::Refused(code)) => {
                            tracing::info!(peer = %peer, code, "SSP transaction refused");
                            if let Some(st) = &stats {
                                st.refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(peer = %peer, error = %e, "SSP transaction not taken; the peer will retry");
                            return false;
                        }
                    }
                }
                true
            })
            .await;
            match taken {
                Ok(true) => empty_ok(),
                Ok(false) => plain(StatusCode::SERVICE_UNAVAILABLE, "try again\n"),
                Err(e) => {
                    tracing::error!(error = %e, "an SSP handler panicked");
                    plain(StatusCode::INTERNAL_SERVER_ERROR, "failed\n")
                }
            }
        }
    }
}
