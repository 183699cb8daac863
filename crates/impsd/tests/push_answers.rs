#![allow(clippy::unwrap_used)]
//! Issue 19: a client's Status answers to what the server pushes on its
//! WebSocket (every watcher answers every presence notification) are
//! taken on the spot, without the path of a request. What they do must
//! not change: the answer keeps its session alive (its last activity is
//! the answer's time) and counts as a Status transaction; an answer
//! naming another session touches neither; a kicked session's answer is
//! still refused; and what comes next on the socket still comes.

use crate::common;

use std::time::Duration;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Message, Transaction, Version, WsClient};
use imps_core::FakeClock;
use imps_wire::PrimitiveKind;

const WAIT: Duration = Duration::from_secs(10);

fn notice(n: u32) -> Element {
    Element::new("SystemMessage-Request").with(
        Element::new("SystemMessageList").with(
            Element::new("SystemMessage")
                .with_text("SystemMessageID", n.to_string())
                .with_text("SystemMessageText", format!("hello {n}")),
        ),
    )
}

fn status_count(srv: &TestServer) -> u64 {
    srv.service()
        .transaction_stats()
        .snapshot()
        .iter()
        .find(|f| f.kind == PrimitiveKind::Status)
        .map_or(0, |f| f.count)
}

fn last_seen(srv: &TestServer, sid: &str) -> u64 {
    srv.service()
        .sessions()
        .get(sid)
        .unwrap()
        .with_state(|st| st.last_seen_ms)
}

/// Pushes a notice to `user` and returns the TransactionID `ws` got it
/// under.
async fn pushed_tid(srv: &TestServer, ws: &WsClient, user: &str, n: u32) -> String {
    assert_eq!(srv.service().push_to_user(user, notice(n)), 1);
    let m = ws.next_push(WAIT).await.expect("pushed");
    assert_eq!(m.transactions[0].body.name, "SystemMessage-Request");
    m.transactions[0].id.clone().unwrap()
}

/// A request on the same socket that names no session: answered after
/// every frame sent before it was taken, and touching no session.
async fn settle(ws: &WsClient, v: Version) {
    let body =
        Element::new("GetSPInfo-Request").with(Element::new("ClientID").with_text("URL", "t"));
    let m = Message::single(v, None, Transaction::request("sync-1", body));
    let r = ws.send_raw(&m).await.unwrap().expect("an answer");
    assert_eq!(r.transactions[0].body.name, "GetSPInfo-Response");
}

#[tokio::test]
async fn a_status_answer_on_a_websocket_touches_its_session_and_counts() {
    let clock = FakeClock::new(1_000_000);
    let srv = TestServer::builder()
        .fake_clock(clock.clone())
        .start()
        .await;
    srv.add_user("alice", "pw").await;
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
        (Version::V1_1, Encoding::Wbxml),
    ] {
        let ws = WsClient::connect(&srv.ws_url(), v, e).await.unwrap();
        ws.login_password("alice", "pw").await.unwrap();
        ws.keep_alive(None).await.unwrap();
        let sid = ws.session_id().unwrap();

        // Answered under its own session: touched at the answer's time,
        // counted once.
        let tid = pushed_tid(&srv, &ws, "alice", 1).await;
        clock.advance_ms(7_000);
        let (count, seen) = (status_count(&srv), last_seen(&srv, &sid));
        ws.answer_status(&tid).await.unwrap();
        settle(&ws, v).await;
        assert_eq!(status_count(&srv), count + 1, "{v} {e:?}");
        assert_eq!(last_seen(&srv, &sid), seen + 7_000, "{v} {e:?}");

        // Two answers in one message: both counted.
        let t1 = pushed_tid(&srv, &ws, "alice", 2).await;
        let t2 = pushed_tid(&srv, &ws, "alice", 3).await;
        let status =
            || Element::new("Status").with(Element::new("Result").with_text("Code", "200"));
        let mut two = ws.message(Transaction::response(Some(t1), status()));
        two.transactions
            .push(Transaction::response(Some(t2), status()));
        ws.send_raw(&two).await.unwrap();
        settle(&ws, v).await;
        assert_eq!(status_count(&srv), count + 3, "{v} {e:?}");

        // Naming a session that is not there: counted as before, and the
        // socket's own session is not touched.
        let tid = pushed_tid(&srv, &ws, "alice", 4).await;
        clock.advance_ms(3_000);
        let seen = last_seen(&srv, &sid);
        let mut stale = ws.message(Transaction::response(Some(tid), status()));
        stale.session_id = Some("no-such-session".into());
        ws.send_raw(&stale).await.unwrap();
        settle(&ws, v).await;
        assert_eq!(status_count(&srv), count + 4, "{v} {e:?}");
        assert_eq!(last_seen(&srv, &sid), seen, "{v} {e:?}");

        // The socket goes on carrying pushes and requests.
        let tid = pushed_tid(&srv, &ws, "alice", 5).await;
        ws.answer_status(&tid).await.unwrap();
        ws.logout().await.unwrap();
    }
}

/// A kicked session's answer goes the way it always went: refused with
/// the forced-logout error, while its Disconnect is still delivered.
#[tokio::test]
async fn a_kicked_sessions_status_answer_is_still_refused() {
    let srv = TestServer::start().await;
    srv.add_user("erin", "pw").await;
    let ws = WsClient::connect(&srv.ws_url(), Version::V1_3, Encoding::Wbxml)
        .await
        .unwrap();
    ws.login_password("erin", "pw").await.unwrap();
    ws.keep_alive(None).await.unwrap();
    let sid = ws.session_id().unwrap();
    let tid = pushed_tid(&srv, &ws, "erin", 1).await;
    srv.service()
        .sessions()
        .get(&sid)
        .unwrap()
        .with_state(|st| {
            st.closing = true;
        });
    let count = status_count(&srv);
    ws.answer_status(&tid).await.unwrap();
    // The refusal comes back as a frame of its own, a Response under the
    // answer's TransactionID.
    let m = ws.next_push(WAIT).await.expect("the refusal");
    let t = &m.transactions[0];
    assert_eq!(t.id.as_deref(), Some(tid.as_str()), "{m:?}");
    assert_eq!(code_of(&t.body), Some(error_code()), "{m:?}");
    assert_eq!(status_count(&srv), count + 1);
}

/// The code a kicked session's requests are refused with.
fn error_code() -> u16 {
    imps_core::CoreError::ForcedLogout.status_code()
}
