//! The HTTP binding itself: content types, keep-alive, HTTP/2, TLS.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::sync::Arc;

use common::{TestServer, post_raw};
use http_body_util::{BodyExt, Full};
use imps_client::{Element, Encoding, Message, Transaction, Version};

fn get_sp_info(v: Version, e: Encoding) -> Vec<u8> {
    let body =
        Element::new("GetSPInfo-Request").with(Element::new("ClientID").with_text("URL", "t"));
    imps_wire::encode(
        &Message::single(v, None, Transaction::request("7", body)),
        e,
    )
    .unwrap()
}

#[tokio::test]
async fn base_ses_any_csp_content_type_for_any_version_and_the_reply_echoes_it() {
    let srv = TestServer::start().await;
    let types = [
        ("application/vnd.wv.csp.xml", Encoding::Xml),
        ("application/vnd.wv.csp+xml", Encoding::Xml),
        ("application/vnd.wv.csp.wbxml", Encoding::Wbxml),
        ("application/vnd.wv.csp+wbxml", Encoding::Wbxml),
    ];
    for v in Version::ALL {
        for (ct, e) in types {
            let (st, reply_ct, body) = post_raw(&srv.url(), ct, get_sp_info(v, e)).await;
            assert_eq!(st, 200);
            assert_eq!(reply_ct.as_deref(), Some(ct), "{v} {ct}");
            let m = imps_wire::decode(&body, e, &imps_wire::Limits::default()).unwrap();
            assert_eq!(m.version, v, "the reply is in the request's version");
            assert_eq!(m.transactions[0].id.as_deref(), Some("7"));
            assert_eq!(m.transactions[0].body.name, "GetSPInfo-Response");
        }
    }
}

#[tokio::test]
async fn base_ses_http2_cleartext_prior_knowledge() {
    let srv = TestServer::start().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(srv.url())
        .header("content-type", "application/vnd.wv.csp+xml")
        .body(Full::new(bytes::Bytes::from(get_sp_info(
            Version::V1_3,
            Encoding::Xml,
        ))))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("GetSPInfo-Response"));
}

#[tokio::test]
async fn base_ses_https_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(|c| {
        c.tls.cert_file = Some(cert_path.clone());
        c.tls.key_file = Some(key_path.clone());
    })
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(srv.http_addr())
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/imps")
        .header("host", "localhost")
        .header("content-type", "application/vnd.wv.csp.wbxml")
        .body(Full::new(bytes::Bytes::from(get_sp_info(
            Version::V1_2,
            Encoding::Wbxml,
        ))))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let m = imps_wire::decode(&body, Encoding::Wbxml, &imps_wire::Limits::default()).unwrap();
    assert_eq!(m.transactions[0].body.name, "GetSPInfo-Response");
}

#[tokio::test]
async fn base_ses_health_and_metrics() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "pw").await;
    let c = srv.client(Version::V1_2, Encoding::Xml, "p");
    c.login_password("alice", "pw").await.unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let get = |path: &str| {
        hyper::Request::get(format!("http://{}{path}", srv.http_addr()))
            .body(http_body_util::Empty::new())
            .unwrap()
    };
    let r = client.request(get("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client.request(get("/metrics")).await.unwrap();
    let text =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("impsd_sessions 1"), "{text}");
    assert!(text.contains("impsd_http_requests_total 1"), "{text}");
}
