//! An SSP POST on the CSP listener: a setup step of a server association,
//! or a Session of one or more transactions inside one, handled in order.
//! The HTTP answer carries no SSP content when all is well (results go
//! back as new POSTs, through the queue); a refused setup step gets HTTP
//! 403 with a LoginResponse whose Status says why, a Session we do not
//! know (or from a domain not in the table) a bare 403, an undecodable
//! body 400, and a transaction we could not take (the store failed) 503,
//! so the peer sends it again. Requests carried out are remembered
//! (peer, TransactionID) for `handled_keep_secs`: sent again, they are
//! answered 2xx without being redone. A POST whose requests' answers
//! would not fit in our queue to the peer is refused whole before
//! anything in it is done (503, Retry-After).
//!
//! Over TLS a peer may present a client certificate (its server's own);
//! when it does, the certificate must chain to our anchors for peers and
//! name the domain the POST claims (or the host of that domain's URL in
//! our table), and a peer whose entry has `require_client_cert` (the
//! config file's, `impsd peer add --require-client-cert`, or
//! `discovered_require_client_cert` for a discovered one) must present
//! one.
//! Otherwise a setup step is refused with Status 401 and a Session with
//! a bare 403, before anything in it is read further.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imps_core::federation::{InboundTx, SspOutcome};
use imps_wire::Limits;
use imps_wire::ssp::{Mode, SSP_CONTENT_TYPE, SetupStep, SetupTransaction, SspMessage, SspStatus};

use rustls_pki_types::CertificateDer;

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

/// Whether the client certificate of the POST (if any) may speak for
/// `peer`; `Err` says why not.
fn check_cert(
    fed: &Federation,
    peer: &str,
    certs: Option<&[CertificateDer<'static>]>,
) -> Result<(), String> {
    // The entry in force says: the config file's, an operator's added
    // one (kept in the store, possibly added while we run), or a
    // discovered one (`discovered_require_client_cert`).
    let required = fed.peers.requires_client_cert(peer);
    let Some(chain) = certs.filter(|c| !c.is_empty()) else {
        return if required {
            Err(format!("a client certificate is required of {peer}"))
        } else {
            Ok(())
        };
    };
    let Some(roots) = &fed.peer_roots else {
        return Err("no trust anchors to check a client certificate against".into());
    };
    let host = fed
        .peers
        .url(peer)
        .and_then(|u| u.parse::<hyper::Uri>().ok())
        .and_then(|u| {
            u.host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        });
    let mut names = vec![peer];
    if let Some(h) = host.as_deref()
        && !h.eq_ignore_ascii_case(peer)
    {
        names.push(h);
    }
    crate::tls::check_peer_cert(chain, roots, fed.peer_crls.as_deref(), &names)
}

/// Handles one SSP document (already read within the body limits);
/// `certs` is the client certificate chain of the TLS connection.
pub async fn handle(
    fed: &Arc<Federation>,
    body: &[u8],
    limits: &Limits,
    certs: Option<&[CertificateDer<'static>]>,
) -> Response {
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
            // A domain not in the table is looked up first (discovery).
            let claimed = super::assoc::claimed_peer(&st);
            if let Some(d) = &claimed {
                fed.resolve(d).await;
            }
            let checked = match claimed {
                Some(peer) if fed.peers.get(&peer).is_some() => {
                    check_cert(fed, &peer, certs).map_err(|why| {
                        tracing::warn!(peer = %peer, why = %why, "SSP setup step refused: client certificate");
                        super::assoc::SetupRefusal { code: 401, why }
                    })
                }
                // Refused by on_setup with its own Status.
                _ => Ok(()),
            };
            match checked.and_then(|()| fed.on_setup(st, false)) {
                Ok(()) => empty_ok(),
                // A step of another node's handshake (the peer's table
                // names one URL for all of us): that node carries on.
                Err(r) if r.code == 400 && fed.forward_setup(body) => empty_ok(),
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
                                details: Vec::new(),
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
            if let Err(why) = check_cert(fed, &peer, certs) {
                tracing::warn!(peer = %peer, why = %why, "SSP Session refused: client certificate");
                return plain(StatusCode::FORBIDDEN, &format!("{why}\n"));
            }
            // A user session relayed through the peer (SUS): answered in
            // the HTTP body.
            if super::sus::is_sus_session(&s) {
                return super::sus::serve(fed, &peer, s).await;
            }
            let (Some(service), Some(store)) = (fed.service(), fed.store()) else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n");
            };
            // Requests of this POST carried out already (a batch sent
            // again because its answer was lost): answered as before
            // (their answers were queued the first time), not redone.
            let keys: Vec<Option<String>> = s.transactions.iter().map(handled_key).collect();
            let tids: Vec<String> = keys.iter().flatten().cloned().collect();
            // The same POST again while its first copy is still carried
            // out (the peer's request timed out): not redone, and not
            // answered as done before it is; the peer sends it once more.
            let Some(running) = fed.begin_requests(&peer, &tids) else {
                tracing::info!(peer = %peer, "SSP POST sent again while its first copy runs; asked to retry");
                let mut resp = plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "these requests are being carried out; send again later\n",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return resp;
            };
            let seen = match store.ssp_handled(&peer, &tids).await {
                Ok(seen) => seen,
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "handled SSP transactions not read; the peer will retry");
                    return plain(StatusCode::SERVICE_UNAVAILABLE, "try again\n");
                }
            };
            // Room for the answers of the new requests, checked before
            // anything is done: past it the POST is refused whole, so
            // that no request is carried out whose answer could not be
            // queued (the peer would send it again and it would be done
            // twice).
            let new_requests = (tids.len() - seen.len()) as u64;
            match store.ssp_depth(&peer).await {
                Ok(depth) if depth.saturating_add(new_requests) > fed.answer_room() => {
                    tracing::warn!(peer = %peer, depth, "SSP answers to the peer wait; its POST refused until they drain");
                    let mut resp = plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "answers to your requests wait here; send again later\n",
                    );
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return resp;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "SSP queue depth not read; the peer will retry");
                    return plain(StatusCode::SERVICE_UNAVAILABLE, "try again\n");
                }
            }
            // Run to the end even if the peer hangs up: a message stored
            // but never offered to its recipient's session would wait
            // for the next redelivery pass (as CSP's handle_to_end).
            let fed2 = Arc::clone(fed);
            let taken = tokio::spawn(async move {
                let _held = fed2.hold_wakes();
                // Unmarked when the task ends, which it does even if the
                // peer hangs up.
                let _running = running;
                let stats = fed2.stats(&peer);
                // Each request once, even if a POST names it twice.
                let mut seen: std::collections::HashSet<String> = seen.into_iter().collect();
                let mut todo = Vec::with_capacity(s.transactions.len());
                for (tx, key) in s.transactions.iter().zip(keys) {
                    if let Some(k) = &key
                        && !seen.insert(k.clone())
                    {
                        if let Some(st) = &stats {
                            st.duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                    todo.push(InboundTx { tx, key });
                }
                // In order; the messages to our users with their answers
                // and keys in one store transaction, and what was carried
                // out remembered also when a later one failed: the peer
                // sends the whole POST again.
                let done = service.ssp_inbound_post(&peer, todo).await;
                if let Some(st) = &stats {
                    for o in &done.outcomes {
                        match o {
                            SspOutcome::Done => st.received.fetch_add(1, Ordering::Relaxed),
                            SspOutcome::Refused(_) => st.refused.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                }
                for o in &done.outcomes {
                    if let SspOutcome::Refused(code) = o {
                        tracing::info!(peer = %peer, code, "SSP transaction refused");
                    }
                }
                match done.failed {
                    None => true,
                    Some(e) => {
                        tracing::warn!(peer = %peer, error = %e, "SSP transaction not taken; the peer will retry");
                        false
                    }
                }
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

/// What a peer's request is remembered under once carried out: its
/// TransactionID and a digest of its primitive (a peer may use one
/// TransactionID for several requests; a resend carries the same bytes).
/// Answers are not remembered (`None`).
fn handled_key(tx: &imps_wire::ssp::SspTransaction) -> Option<String> {
    (tx.mode == Mode::Request).then(|| {
        let body = imps_wire::xml::encode(&tx.primitive);
        format!(
            "{} {}",
            tx.transaction_id,
            imps_wire::ssp::secret_digest(&String::from_utf8_lossy(&body))
        )
    })
}
