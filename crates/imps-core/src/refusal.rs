//! Overload refusals made from a template (issue 19).
//!
//! Past its peak the server refuses most of what comes in, and a refusal
//! cost nearly what an answer does: an error Status built as an element
//! tree, then the whole message encoded. Under an open-loop overload of
//! one and a half times the peak, encoding refusals took about a tenth of
//! the server's CPU, which it then lacked for the messages it took. The
//! refusal's primitive is the same for every refused request of a version
//! (503, TryAgainTimeout `im.overload_retry_secs`), so it is made once and
//! spliced into each answer's envelope as a push is
//! ([`imps_wire::SharedBody::encode_answer_for`]). What was past its bound
//! is logged, not told to the client.

use std::sync::{Arc, OnceLock};

use imps_wire::{Encoding, Message, SharedBody, Version, WireError};

use crate::CoreError;

/// An answer for a transport to write as it is.
#[derive(Debug)]
pub enum Answer {
    /// Any message.
    Whole(Message),
    /// The version's overload refusal, as the answer to transaction `tid`
    /// of session `session_id`.
    Refusal {
        body: Arc<SharedBody>,
        version: Version,
        session_id: String,
        tid: String,
        poll: bool,
    },
}

impl Answer {
    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, WireError> {
        match self {
            Answer::Whole(m) => imps_wire::encode(m, encoding),
            Answer::Refusal {
                body,
                version,
                session_id,
                tid,
                poll,
            } => body.encode_answer_for(*version, session_id, tid, *poll, encoding),
        }
    }
}

/// The refusal primitive of each version, made at first need.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    bodies: [OnceLock<Arc<SharedBody>>; 3],
}

impl Refusals {
    pub(crate) fn body(&self, version: Version, retry_after_secs: u64) -> Arc<SharedBody> {
        let i = match version {
            Version::V1_1 => 0,
            Version::V1_2 => 1,
            Version::V1_3 => 2,
        };
        let cell = &self.bodies[i];
        Arc::clone(cell.get_or_init(|| {
            let err = CoreError::Overloaded {
                what: "the server is past its bounds".into(),
                retry_after_secs,
            };
            Arc::new(SharedBody::new(crate::reply::error_status_for(
                &err, version,
            )))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal built whole, as `imps_wire::encode` would write it.
    fn whole(a: &Answer) -> Message {
        let Answer::Refusal {
            body,
            version,
            session_id,
            tid,
            poll,
        } = a
        else {
            panic!("not a refusal");
        };
        let mut m = Message::single(
            *version,
            Some(session_id.clone()),
            imps_wire::Transaction::response(Some(tid.clone()), body.body().clone()),
        );
        m.poll = Some(*poll);
        m
    }

    /// The template's bytes decode to the refusal a client is told: 503,
    /// and from 1.3 on when to try again.
    #[test]
    fn a_refusal_decodes_to_503_with_try_again() {
        let r = Refusals::default();
        for v in Version::ALL {
            for e in [Encoding::Xml, Encoding::Wbxml] {
                let a = Answer::Refusal {
                    body: r.body(v, 7),
                    version: v,
                    session_id: "sess1".into(),
                    tid: "42x".into(),
                    poll: true,
                };
                let bytes = a.encode(e).expect("encodes");
                assert_eq!(bytes, imps_wire::encode(&whole(&a), e).expect("whole"));
                let m =
                    imps_wire::decode(&bytes, e, &imps_wire::Limits::default()).expect("decodes");
                let tx = &m.transactions[0];
                assert_eq!(tx.id.as_deref(), Some("42x"));
                assert_eq!(m.session_id.as_deref(), Some("sess1"));
                let result = tx.body.child("Result").expect("Result");
                assert_eq!(result.child_text("Code"), Some("503"));
                assert_eq!(
                    result.child_text("TryAgainTimeout"),
                    (v >= Version::V1_3).then_some("7"),
                    "{v}"
                );
            }
        }
    }
}
