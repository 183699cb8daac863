//! Federation over HTTPS with mutual TLS (issue 17), end to end: real
//! `impsd` processes on loopback whose CSP listeners serve TLS with
//! certificates made here (one test CA, rcgen), each trusting that CA for
//! its peers (`federation.ca_file`). alice and bob chat both ways with
//! delivery reports over https:// peer URLs, each side requiring the
//! other's client certificate; a third server that claims b.test's domain
//! with a certificate for another name is refused and nothing it sends
//! is delivered; a peer that requires a client certificate refuses a
//! server without one, also when its entry was added with `impsd peer
//! add --require-client-cert` (and takes one with); and a sender that
//! does not trust the peer's CA
//! keeps the message queued (counted as failures, no hang) until it does;
//! a peer whose certificate a revocation list names is refused both as
//! server and as client, until a new list without it is read.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{RealServer, impsd_bin, wait_until};
use crate::fed::{WAIT, free_port, metric, receive, report, send};
use imps_testkit::https_get_text;
use impsd::federation::PeerSettings;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams,
    SerialNumber, date_time_ymd,
};

/// A test CA: its certificate in `<name>-ca.pem` under `dir`.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: PathBuf,
}

fn ca(dir: &Path, name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let pem = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&pem, issuer.pem()).unwrap();
    Ca { issuer, pem }
}

/// A server certificate from `ca` naming `names` (DNS names or IP
/// addresses), good for TLS server and client authentication: the cert
/// and key files.
fn leaf(ca: &Ca, dir: &Path, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
    leaf_numbered(ca, dir, file, names, None)
}

/// `leaf` with the serial number `serial` (for a revocation list).
fn leaf_numbered(
    ca: &Ca,
    dir: &Path,
    file: &str,
    names: &[&str],
    serial: Option<u64>,
) -> (PathBuf, PathBuf) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.serial_number = serial.map(SerialNumber::from);
    params
        .distinguished_name
        .push(DnType::CommonName, file.to_string());
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &*ca.issuer).unwrap();
    let (c, k) = (
        dir.join(format!("{file}-cert.pem")),
        dir.join(format!("{file}-key.pem")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// Writes to `path` the revocation list number `number` of `ca`, naming
/// the certificates of `serials` revoked.
fn revocation_list(ca: &Ca, path: &Path, number: u64, serials: &[u64]) {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: date_time_ymd(2025, 6, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let list = params.signed_by(&*ca.issuer).unwrap();
    // Written whole, then moved in: the server never reads half a list.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, list.pem().unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A row of the peer table: `domain` at `port` on loopback.
fn peer(domain: &str, port: u16, https: bool, require_client_cert: bool) -> PeerSettings {
    let scheme = if https { "https" } else { "http" };
    PeerSettings {
        domain: domain.into(),
        url: format!("{scheme}://127.0.0.1:{port}/imps"),
        sus: false,
        require_client_cert,
    }
}

/// A server for `domain` on `port`: TLS on its CSP listener with `tls`
/// (cert, key), trusting the CAs of `ca_file` for its peers.
fn server(
    domain: &str,
    port: u16,
    tls: Option<&(PathBuf, PathBuf)>,
    ca_file: Option<&Path>,
    peers: Vec<PeerSettings>,
) -> RealServer {
    server_with(domain, port, tls, ca_file, peers, |_| {})
}

/// `server` with `more` applied to its config last.
fn server_with(
    domain: &str,
    port: u16,
    tls: Option<&(PathBuf, PathBuf)>,
    ca_file: Option<&Path>,
    peers: Vec<PeerSettings>,
    more: impl FnOnce(&mut impsd::config::Config),
) -> RealServer {
    let domain = domain.to_string();
    let tls = tls.cloned();
    let ca_file = ca_file.map(Path::to_path_buf);
    RealServer::builder(impsd_bin!())
        .config(move |c| {
            c.domain = domain;
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.log = "info".into();
            if let Some((cert, key)) = tls {
                c.tls.cert_file = Some(cert);
                c.tls.key_file = Some(key);
            }
            c.federation.enabled = true;
            c.federation.ca_file = ca_file;
            c.federation.retry_min_ms = 100;
            c.federation.retry_max_ms = 400;
            c.federation.handshake_timeout_ms = 5_000;
            c.federation.request_timeout_ms = 2_000;
            c.federation.peers = peers;
        })
        .config(more)
        .start()
}

/// `impsd peer list`'s row of `domain`: (state, queue depth, failures).
fn peer_row(srv: &RealServer, domain: &str) -> (String, u64, u64) {
    let out = srv.cli(&["peer", "list"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{domain}\t")))
        .unwrap_or_else(|| panic!("{domain} not listed: {out}"));
    let f: Vec<&str> = line.split('\t').collect();
    (
        f[1].to_string(),
        f[4].parse().unwrap(),
        f[6].parse().unwrap(),
    )
}

/// Waits until `srv` has failed to send to `domain` at least `n` times
/// with something still queued for it.
async fn failing(srv: &RealServer, domain: &str, n: u64) {
    wait_until("sends to the peer fail and are kept", WAIT, || async {
        let (_, depth, failures) = peer_row(srv, domain);
        depth >= 1 && failures >= n
    })
    .await;
}

/// Waits until the log of `srv` says `needle`.
async fn logged(srv: &RealServer, needle: &str) {
    wait_until(needle, WAIT, || async {
        std::fs::read_to_string(srv.log_path()).is_ok_and(|l| l.contains(needle))
    })
    .await;
}

#[tokio::test]
async fn tls_mutual_alice_and_bob_chat_over_https_with_delivery_reports() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), "peers");
    let a_id = leaf(&ca, dir.path(), "a", &["a.test", "127.0.0.1"]);
    let b_id = leaf(&ca, dir.path(), "b", &["b.test", "127.0.0.1"]);
    let (pa, pb) = (free_port(), free_port());
    // Each requires the other's client certificate: nothing passes
    // unless both present theirs and both check out.
    let a = server(
        "a.test",
        pa,
        Some(&a_id),
        Some(&ca.pem),
        vec![peer("b.test", pb, true, true)],
    );
    let b = server(
        "b.test",
        pb,
        Some(&b_id),
        Some(&ca.pem),
        vec![peer("a.test", pa, true, true)],
    );
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").https(&ca.pem).await;
    let bob = b.login("bob").https(&ca.pem).await;

    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "over TLS").await;
    receive(&bob, "wv:alice@a.test", &id, "over TLS").await;
    report(&alice, &id, "wv:bob@b.test").await;
    let back = send(&bob, "wv:bob@b.test", "wv:alice@a.test", "and back").await;
    receive(&alice, "wv:bob@b.test", &back, "and back").await;
    report(&bob, &back, "wv:alice@a.test").await;

    assert_eq!(peer_row(&a, "b.test").0, "live");
    // /metrics is on the TLS listener too.
    let (status, text) = https_get_text(&format!("https://127.0.0.1:{pa}/metrics"), &ca.pem).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("impsd_ssp_associations_total{peer=\"b.test\"} 1"),
        "{text}"
    );
    let (_, text) = https_get_text(&format!("https://127.0.0.1:{pb}/metrics"), &ca.pem).await;
    assert!(
        text.contains("impsd_ssp_received_total{peer=\"a.test\"} "),
        "{text}"
    );
}

#[tokio::test]
async fn tls_a_server_claiming_b_test_with_a_certificate_for_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), "peers");
    let a_id = leaf(&ca, dir.path(), "a", &["a.test", "127.0.0.1"]);
    // Issued by the CA a trusts, but for c.test (and the loopback
    // address its users connect to), not b.test nor the host of b.test's
    // URL in a's table, "localhost".
    let c_id = leaf(&ca, dir.path(), "c", &["c.test", "127.0.0.1"]);
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    // a does not even require a certificate of b.test: one presented is
    // checked all the same.
    let mut b_row = peer("b.test", pb, true, false);
    b_row.url = format!("https://localhost:{pb}/imps");
    let a = server("a.test", pa, Some(&a_id), Some(&ca.pem), vec![b_row]);
    let impostor = server(
        "b.test",
        pc,
        Some(&c_id),
        Some(&ca.pem),
        vec![peer("a.test", pa, true, false)],
    );
    a.add_user("alice", "pw");
    impostor.add_user("mallory", "pw");
    let alice = a.login("alice").https(&ca.pem).await;
    let mallory = impostor.login("mallory").https(&ca.pem).await;

    send(
        &mallory,
        "wv:mallory@b.test",
        "wv:alice@a.test",
        "trust me, I am b.test",
    )
    .await;
    // a refuses the association: the certificate names another host.
    logged(&a, "client certificate names none of b.test, localhost").await;
    failing(&impostor, "a.test", 2).await;
    assert_eq!(
        metric_tls(&a, &ca.pem, "impsd_ssp_associations_total", "b.test").await,
        0
    );
    assert_eq!(
        metric_tls(&a, &ca.pem, "impsd_ssp_received_total", "b.test").await,
        0
    );
    // Nothing reached alice, after several refused tries.
    assert!(
        alice
            .next_request_within(Duration::from_secs(1))
            .await
            .is_none(),
        "the impostor's message was delivered"
    );
    // The refusal said why, in its Status (the impostor logs it).
    logged(&impostor, "the peer refused our SSP setup step").await;
}

/// `metric` over the TLS listener.
async fn metric_tls(srv: &RealServer, ca: &Path, name: &str, peer: &str) -> u64 {
    let url = format!("https://127.0.0.1:{}/metrics", srv.http_addr().port());
    let (_, text) = https_get_text(&url, ca).await;
    let key = format!("{name}{{peer=\"{peer}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn tls_a_peer_that_requires_a_client_certificate_refuses_a_server_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), "peers");
    let b_id = leaf(&ca, dir.path(), "b", &["b.test", "127.0.0.1"]);
    let (pa, pb) = (free_port(), free_port());
    // a has no certificate of its own (plain HTTP listener) but trusts
    // b's CA, so it reaches b over https:// and presents nothing.
    let a = server(
        "a.test",
        pa,
        None,
        Some(&ca.pem),
        vec![peer("b.test", pb, true, false)],
    );
    let b = server(
        "b.test",
        pb,
        Some(&b_id),
        Some(&ca.pem),
        vec![peer("a.test", pa, false, true)],
    );
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").await;
    let bob = b.login("bob").https(&ca.pem).await;

    send(&alice, "wv:alice@a.test", "wv:bob@b.test", "no certificate").await;
    logged(&b, "a client certificate is required of a.test").await;
    failing(&a, "b.test", 2).await;
    assert_eq!(
        metric(&a, "impsd_ssp_associations_total", "b.test").await,
        0
    );
    assert!(
        bob.next_request_within(Duration::from_secs(1))
            .await
            .is_none(),
        "delivered without a client certificate"
    );
}

#[tokio::test]
async fn tls_a_wrong_ca_keeps_the_message_queued_until_the_right_one_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let good = ca(dir.path(), "good");
    let other = ca(dir.path(), "other");
    let b_id = leaf(&good, dir.path(), "b", &["b.test", "127.0.0.1"]);
    // a's anchors for peers: a CA that did not issue b's certificate.
    let a_anchors = dir.path().join("a-anchors.pem");
    std::fs::copy(&other.pem, &a_anchors).unwrap();
    let (pa, pb) = (free_port(), free_port());
    let mut a = server(
        "a.test",
        pa,
        None,
        Some(&a_anchors),
        vec![peer("b.test", pb, true, false)],
    );
    let b = server(
        "b.test",
        pb,
        Some(&b_id),
        Some(&good.pem),
        vec![peer("a.test", pa, false, false)],
    );
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").await;
    let bob = b.login("bob").https(&good.pem).await;

    let started = std::time::Instant::now();
    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "kept").await;
    assert!(started.elapsed() < Duration::from_secs(5), "the send hung");
    // The queue keeps it; every try fails on b's certificate, counted
    // in `peer list` and /metrics, and the admin command still answers.
    failing(&a, "b.test", 3).await;
    assert!(metric(&a, "impsd_ssp_send_failures_total", "b.test").await >= 3);
    assert!(metric(&a, "impsd_ssp_queue_depth", "b.test").await >= 1);
    assert_eq!(metric(&a, "impsd_ssp_sent_total", "b.test").await, 0);
    logged(&a, "UnknownIssuer").await;
    drop(alice);

    // The operator trusts the right CA and restarts a: the message that
    // waited is delivered, nothing lost.
    std::fs::copy(&good.pem, &a_anchors).unwrap();
    a.restart();
    receive(&bob, "wv:alice@a.test", &id, "kept").await;
    wait_until("a's queue emptied", WAIT, || async {
        peer_row(&a, "b.test").1 == 0
    })
    .await;
}

#[tokio::test]
async fn tls_a_peer_added_with_require_client_cert_refuses_a_server_without_one_and_takes_one_with()
{
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), "peers");
    let a_id = leaf(&ca, dir.path(), "a", &["a.test", "127.0.0.1"]);
    let b_id = leaf(&ca, dir.path(), "b", &["b.test", "127.0.0.1"]);
    let (pa, pa_cert, pb) = (free_port(), free_port(), free_port());
    // b has no entry for a.test in its config file: the operator adds
    // one, requiring a.test's client certificate, and b restarts (the
    // requirement comes back from the store).
    let mut b = server("b.test", pb, Some(&b_id), Some(&ca.pem), vec![]);
    let url = format!("http://127.0.0.1:{pa}/imps");
    b.cli(&["peer", "add", "a.test", &url, "--require-client-cert"]);
    b.restart();
    b.add_user("bob", "pw");
    let bob = b.login("bob").https(&ca.pem).await;

    // A server for a.test without a certificate of its own (plain HTTP
    // listener; it reaches b over https:// and presents nothing).
    let a = server(
        "a.test",
        pa,
        None,
        Some(&ca.pem),
        vec![peer("b.test", pb, true, false)],
    );
    // It cannot require a certificate of its own peers: its listener
    // asks for none.
    let out = a.cli_output(&[
        "peer",
        "add",
        "c.test",
        "http://127.0.0.1:9/imps",
        "--require-client-cert",
    ]);
    assert!(!out.status.success(), "a listener without TLS took it");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--require-client-cert needs"),
        "{out:?}"
    );
    a.add_user("alice", "pw");
    let alice = a.login("alice").await;
    send(&alice, "wv:alice@a.test", "wv:bob@b.test", "no certificate").await;
    logged(&b, "a client certificate is required of a.test").await;
    failing(&a, "b.test", 2).await;
    assert_eq!(
        metric(&a, "impsd_ssp_associations_total", "b.test").await,
        0
    );
    assert!(
        bob.next_request_within(Duration::from_secs(1))
            .await
            .is_none(),
        "delivered without a client certificate"
    );
    drop(alice);
    drop(a);

    // a.test moves to a server with its certificate: the operator points
    // the entry there while b runs, still requiring it, and it is taken.
    let url = format!("https://127.0.0.1:{pa_cert}/imps");
    b.cli(&["peer", "add", "a.test", &url, "--require-client-cert"]);
    let a = server(
        "a.test",
        pa_cert,
        Some(&a_id),
        Some(&ca.pem),
        vec![peer("b.test", pb, true, false)],
    );
    a.add_user("alice", "pw");
    let alice = a.login("alice").https(&ca.pem).await;
    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "certified").await;
    receive(&bob, "wv:alice@a.test", &id, "certified").await;
    report(&alice, &id, "wv:bob@b.test").await;
    assert!(metric_tls(&b, &ca.pem, "impsd_ssp_associations_total", "a.test").await >= 1);
}

#[tokio::test]
async fn tls_a_revoked_peer_certificate_is_refused_both_ways_until_a_new_list_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), "peers");
    let a_id = leaf_numbered(&ca, dir.path(), "a", &["a.test", "127.0.0.1"], Some(1001));
    let b_id = leaf_numbered(&ca, dir.path(), "b", &["b.test", "127.0.0.1"], Some(2002));
    // a's list revokes b's certificate; b has no list.
    let list = dir.path().join("a-peers.crl");
    revocation_list(&ca, &list, 1, &[2002]);
    let (pa, pb) = (free_port(), free_port());
    let crl = list.clone();
    let a = server_with(
        "a.test",
        pa,
        Some(&a_id),
        Some(&ca.pem),
        vec![peer("b.test", pb, true, false)],
        move |c| {
            c.federation.crl_files = vec![crl];
            c.federation.crl_reload_secs = 1;
        },
    );
    let b = server(
        "b.test",
        pb,
        Some(&b_id),
        Some(&ca.pem),
        vec![peer("a.test", pa, true, false)],
    );
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").https(&ca.pem).await;
    let bob = b.login("bob").https(&ca.pem).await;

    // As server: a does not POST to b (its certificate is revoked); the
    // message stays queued.
    let out = send(
        &alice,
        "wv:alice@a.test",
        "wv:bob@b.test",
        "to a revoked peer",
    )
    .await;
    failing(&a, "b.test", 2).await;
    logged(&a, "Revoked").await;
    // As client: b's POSTs to a are refused with its certificate.
    let back = send(
        &bob,
        "wv:bob@b.test",
        "wv:alice@a.test",
        "from a revoked peer",
    )
    .await;
    logged(&a, "client certificate revoked").await;
    failing(&b, "a.test", 2).await;
    assert_eq!(
        metric_tls(&a, &ca.pem, "impsd_ssp_received_total", "b.test").await,
        0
    );
    assert!(
        alice
            .next_request_within(Duration::from_millis(500))
            .await
            .is_none(),
        "a revoked peer's message was delivered"
    );
    assert!(
        bob.next_request_within(Duration::from_millis(500))
            .await
            .is_none(),
        "a message went to a revoked peer"
    );

    // The CA's next list no longer names b (say it was revoked by
    // mistake): a reads it within a second, without a restart, and both
    // messages that waited are delivered.
    revocation_list(&ca, &list, 2, &[]);
    receive(&bob, "wv:alice@a.test", &out, "to a revoked peer").await;
    receive(&alice, "wv:bob@b.test", &back, "from a revoked peer").await;
}
