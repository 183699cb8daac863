//! The admin listener over HTTPS (`admin.tls = true`, issue 21): with the
//! `[tls]` certificate (self-signed, made here with rcgen) the admin API
//! answers the token over TLS and nothing over plain HTTP, the operator
//! page's sign-in cookie is Secure (and HttpOnly, SameSite=Strict), a
//! sign-in over HTTP/2 from the page's origin is let in, its CSRF rules
//! hold as over HTTP, headless Chromium signs in and kicks a
//! session, and the `impsd session|user passwd|sysmsg|log` commands reach
//! the listener over HTTPS, trusting only the configured certificate.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{IMPSD_BIN, RealServer, TestServer};
use crate::web_common;
use http_body_util::{BodyExt, Full};
use imps_client::{Client, ClientConfig, ClientError, Encoding, Message, Transport, Version};
use rustls_pki_types::CertificateDer;

const PW: &str = "secret-pw";
const TOKEN: &str = "operator-token-for-tls-tests";

/// A self-signed certificate for "localhost" written to `dir`: the cert
/// and key files, and the certificate to trust.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key, c.cert.der().clone())
}

/// An HTTPS client that trusts one certificate, for host "localhost".
#[derive(Clone)]
struct Https {
    addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    trusted: CertificateDer<'static>,
}

fn tls_client(trusted: &CertificateDer<'static>, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

impl Https {
    fn new(addr: SocketAddr, trusted: &CertificateDer<'static>) -> Https {
        Https {
            addr,
            connector: tls_client(trusted, &[]),
            trusted: trusted.clone(),
        }
    }

    /// A request over HTTP/2 (ALPN h2, as browsers speak over TLS):
    /// the host travels as `:authority`, with no Host header.
    async fn request_h2(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, hyper::HeaderMap, Vec<u8>) {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tls_client(&self.trusted, &[b"h2"])
            .connect(name, tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, h, body.to_vec())
    }

    /// One request on a new TLS connection: status, headers, body; or
    /// why it got none.
    async fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, hyper::HeaderMap, Vec<u8>), String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(bytes::Bytes::from(body))).unwrap();
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Ok((status, h, body.to_vec()))
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, hyper::HeaderMap, Vec<u8>) {
        self.try_request(method, path, headers, body.as_bytes().to_vec())
            .await
            .unwrap()
    }
}

/// The HTTP binding over HTTPS as an `imps` library transport, so a
/// client logs in to a server whose binding serves TLS.
struct HttpsTransport {
    https: Https,
    version: Version,
}

impl Transport for HttpsTransport {
    async fn send(&self, msg: &Message) -> imps_client::Result<Option<Message>> {
        let body = imps_wire::encode(msg, Encoding::Xml)?;
        let ct = imps_client::content_type(self.version, Encoding::Xml);
        let (status, _, reply) = self
            .https
            .try_request("POST", "/imps", &[("content-type", ct)], body)
            .await
            .map_err(ClientError::Transport)?;
        if status != 200 {
            return Err(ClientError::Transport(format!("HTTP {status}")));
        }
        if reply.is_empty() {
            return Ok(None);
        }
        Ok(Some(imps_wire::decode(
            &reply,
            Encoding::Xml,
            &imps_wire::Limits::default(),
        )?))
    }
}

/// `user` logged in over HTTPS to the binding at `http`: the client and
/// its SessionID.
async fn login_over_tls(
    http: SocketAddr,
    trusted: &CertificateDer<'static>,
    user: &str,
) -> (Client<HttpsTransport>, String) {
    let transport = HttpsTransport {
        https: Https::new(http, trusted),
        version: Version::V1_3,
    };
    let cfg = ClientConfig::new(format!("https://{http}/imps"), Version::V1_3, Encoding::Xml)
        .with_client_id("tls-phone");
    let c = Client::with_transport(transport, cfg);
    let info = c.login_password(user, PW).await.unwrap();
    (c, info.session_id)
}

/// A plain-HTTP request to `addr` gets no HTTP answer (bounded in time).
async fn plain_http_is_not_served(addr: SocketAddr) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::get(format!("http://{addr}/admin/sessions"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), client.request(req))
        .await
        .expect("the listener answers or closes in time");
    assert!(
        got.is_err(),
        "plain HTTP got an answer: {:?}",
        got.map(|r| r.status())
    );
}

/// An in-process server whose HTTP binding and admin listener serve TLS
/// with a self-signed certificate, alice a user.
async fn tls_server(dir: &Path) -> (TestServer, CertificateDer<'static>) {
    let (cert, key, der) = self_signed(dir, "server");
    let srv = TestServer::builder()
        .config(move |c| {
            c.admin.token = TOKEN.into();
            c.tls.cert_file = Some(cert);
            c.tls.key_file = Some(key);
            c.admin.tls = true;
        })
        .user("alice", PW)
        .start()
        .await;
    (srv, der)
}

#[tokio::test]
async fn web_admin_tls_api_page_cookie_and_csrf_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, der) = tls_server(dir.path()).await;
    let admin = Https::new(srv.running().admin_addr, &der);
    let bearer = format!("Bearer {TOKEN}");

    // The admin API over HTTPS: the token opens it, nothing else does.
    let (_, alice_session) = login_over_tls(srv.http_addr(), &der, "alice").await;
    let (status, _, rows) = admin
        .request("GET", "/admin/sessions", &[("authorization", &bearer)], "")
        .await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&rows).contains(&alice_session),
        "alice's session listed"
    );
    assert_eq!(
        admin.request("GET", "/admin/sessions", &[], "").await.0,
        401
    );
    // Plain HTTP to the same port is not served.
    plain_http_is_not_served(srv.running().admin_addr).await;

    // The operator page's sign-in: its cookie is Secure over TLS.
    let (status, h, _) = admin.request("GET", "/admin/page/", &[], "").await;
    assert_eq!(status, 200);
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let json = [("content-type", "application/json")];
    let token = format!(r#"{{"token":"{TOKEN}"}}"#);
    let (status, h, answer) = admin
        .request("POST", "/admin/page/login", &json, &token)
        .await;
    assert_eq!(status, 200);
    let set = h["set-cookie"].to_str().unwrap().to_string();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    for want in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/admin/page/"] {
        assert!(attrs.contains(&want), "{want} missing: {set}");
    }
    let cookie = attrs[0].to_string();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let csrf = answer["csrf"].as_str().unwrap().to_string();
    let origin = format!("https://{}", srv.running().admin_addr);
    // A browser signs in over HTTP/2 from the page's own origin: allowed;
    // from another origin: refused.
    let page_origin = [json[0], ("origin", origin.as_str())];
    let h2 = admin
        .request_h2("POST", "/admin/page/login", &page_origin, &token)
        .await;
    assert_eq!(h2.0, 200, "{}", String::from_utf8_lossy(&h2.2));
    assert!(h2.1["set-cookie"].to_str().unwrap().contains("; Secure"));
    let evil = [json[0], ("origin", "https://evil.example")];
    let h2 = admin
        .request_h2("POST", "/admin/page/login", &evil, &token)
        .await;
    assert_eq!(h2.0, 403);

    // CSRF rules over TLS: no token, a wrong one, another origin: 403.
    let kick = format!(r#"{{"id":"{alice_session}"}}"#);
    let ct = ("content-type", "application/json");
    let with_cookie = ("cookie", cookie.as_str());
    let refused: [(&str, Vec<(&str, &str)>); 3] = [
        ("no CSRF token", vec![ct, with_cookie]),
        (
            "a wrong one",
            vec![ct, with_cookie, ("x-csrf-token", "0000")],
        ),
        (
            "another origin",
            vec![
                ct,
                with_cookie,
                ("x-csrf-token", &csrf),
                ("origin", "https://evil.example"),
            ],
        ),
    ];
    for (why, headers) in &refused {
        let status = admin
            .request("POST", "/admin/page/kick", headers, &kick)
            .await
            .0;
        assert_eq!(status, 403, "{why}");
    }
    assert!(srv.service().sessions().get(&alice_session).is_some());
    let good = [
        ct,
        with_cookie,
        ("x-csrf-token", csrf.as_str()),
        ("origin", origin.as_str()),
    ];
    let status = admin
        .request("POST", "/admin/page/kick", &good, &kick)
        .await
        .0;
    assert_eq!(status, 204);
    assert!(srv.service().sessions().get(&alice_session).is_none());
}

#[tokio::test]
async fn web_admin_tls_operator_signs_in_and_kicks_in_chromium() {
    let Some(driver) =
        web_common::driver("web_admin_tls_operator_signs_in_and_kicks_in_chromium").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (srv, der) = tls_server(dir.path()).await;
    let (_alice, session) = login_over_tls(srv.http_addr(), &der, "alice").await;
    let page = format!("https://{}/admin/page/", srv.running().admin_addr);
    // The certificate is self-signed: the browser is told to accept it.
    let op = driver.browser_accepting_any_certificate(&page).await;
    op.type_into("#token", TOKEN).await;
    op.click("#signin").await;
    // Over TLS the browser speaks HTTP/2: this failed (403, no Host
    // header) until the admin router took the host from :authority.
    op.wait_visible("#ops-screen").await;
    op.wait_text("#sessions tbody", "alice").await;
    let cookies = op.c.get_all_cookies().await.unwrap();
    let c = cookies
        .iter()
        .find(|c| c.name() == "impsd_admin")
        .expect("the sign-in cookie");
    assert_eq!(c.secure(), Some(true), "Secure: {c}");
    assert_eq!(c.http_only(), Some(true), "HttpOnly: {c}");
    assert!(c.same_site().is_some_and(|s| s.is_strict()), "{c}");
    op.click("#sessions tbody tr .kick").await;
    op.wait_text("#banner", "was ended").await;
    assert!(srv.service().sessions().get(&session).is_none(), "kicked");
    op.close().await;
}

/// The running server's config file with another certificate to trust.
fn config_trusting(srv: &RealServer, cert: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(srv.config_path()).unwrap();
    let own = srv.cfg().tls.cert_file.clone().unwrap();
    let own = toml::Value::String(own.display().to_string()).to_string();
    let other = toml::Value::String(cert.display().to_string()).to_string();
    assert!(text.contains(&own), "{text}");
    let path = dir.join("other.toml");
    std::fs::write(&path, text.replace(&own, &other)).unwrap();
    path
}

#[tokio::test]
async fn cli_admin_commands_speak_https_to_an_admin_listener_on_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    let srv = RealServer::builder(IMPSD_BIN)
        .config(|c| {
            c.tls.cert_file = Some(cert);
            c.tls.key_file = Some(key);
            c.admin.tls = true;
        })
        .start();
    let said = srv.cli(&["user", "add", "alice", "--password", PW]);
    assert!(said.contains("alice"), "{said}");

    let (_alice, session) = login_over_tls(srv.http_addr(), &der, "alice").await;
    let list = srv.cli(&["session", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("{session}\t")) && l.contains("alice")),
        "{list}"
    );
    let said = srv.cli(&["session", "kick", &session]);
    assert_eq!(said.trim(), format!("kicked {session}"));
    assert!(!srv.cli(&["session", "list"]).contains(&session));

    // user passwd asks the running server to end the user's sessions.
    let (_again, _) = login_over_tls(srv.http_addr(), &der, "alice").await;
    let said = srv.cli(&["user", "passwd", "alice", "--password", "new-pw"]);
    assert!(said.contains("1 sessions ended"), "{said}");
    assert!(srv.cli(&["sysmsg", "list"]).contains("no system messages"));
    assert!(!srv.cli(&["log"]).trim().is_empty());

    // A listener that shows another certificate than the config's is not
    // trusted.
    let (other, _, _) = self_signed(dir.path(), "other");
    let other_cfg = config_trusting(&srv, &other, dir.path());
    let out = std::process::Command::new(IMPSD_BIN)
        .args(["session", "list", "--config"])
        .arg(&other_cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS with the admin endpoint"), "{err}");
}
