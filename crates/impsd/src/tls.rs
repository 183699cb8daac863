//! HTTPS for the HTTP binding, with rustls on the ring provider (one
//! provider only: two make rustls panic at start). HTTP/1.1 and HTTP/2 are
//! offered by ALPN. Connections are
//! accepted and served in `conn.rs`, the same way as plain ones. Also the
//! admin commands' client side for an admin listener on TLS, and what
//! federation needs (issue 17): the HTTPS connector of POSTs to peers,
//! the trust anchors for peers, and the check of the client certificate
//! a peer presents.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// Builds the TLS acceptor from PEM files. With `ask_for` (the trust
/// anchors for peers, when federation is on) it asks every client for a
/// certificate without requiring one: a peer server presents its own,
/// phones none (see [`Offered`]).
pub fn acceptor(
    cert: &Path,
    key: &Path,
    ask_for: Option<&RootCertStore>,
) -> anyhow::Result<TlsAcceptor> {
    let certs = load_chain(cert)?;
    let key = load_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match ask_for {
        Some(roots) => builder.with_client_cert_verifier(Arc::new(Offered {
            // The CAs' names help a client pick its certificate; a whole
            // system store would only swell every handshake.
            hints: if roots.len() <= 32 {
                roots.subjects()
            } else {
                Vec::new()
            },
            algorithms: provider.signature_verification_algorithms,
        })),
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// The admin commands' side of an admin listener that serves TLS
/// (`admin.tls`): they trust exactly the certificate of `tls.cert_file`,
/// the one the listener is configured to present, and check that the
/// listener proves it holds its key. No name is checked: the address comes
/// from DATA_DIR/admin.json and the certificate names the public host, not
/// the loopback address; pinning the certificate is the stronger check.
pub fn pinned_connector(cert: &Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let pinned = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading certificates from {}", cert.display()))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("no certificate in {}", cert.display()))?
        .with_context(|| format!("parsing certificates in {}", cert.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        cert: pinned,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// Accepts the one pinned certificate, and the handshake signatures made
/// with its key.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// ---- Federation: HTTPS to peers and client certificates (issue 17) ----

/// Reads a PEM certificate chain (leaf first).
pub fn load_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading certificates from {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificates in {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// The trust anchors for peers: every certificate of `ca_file`, or, with
/// none given, the system's store (read once, at start). `None` when the
/// system's store has nothing usable.
pub fn peer_roots(ca_file: Option<&Path>) -> anyhow::Result<Option<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in load_chain(path)? {
                roots.add(cert).with_context(|| {
                    format!("a certificate of {} is not a usable CA", path.display())
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "a system trust anchor not read");
            }
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            tracing::debug!(added, ignored, "system trust anchors for peers");
        }
    }
    Ok((!roots.is_empty()).then_some(roots))
}

/// What federation needs of TLS: the trust anchors for peers' certificates
/// (server ones when we POST to an https:// peer, client ones a peer
/// presents to us), and the client side of our POSTs (our `[tls]`
/// certificate presented when we have one).
#[derive(Clone, Default)]
pub struct PeerTls {
    pub roots: Option<Arc<RootCertStore>>,
    pub client: Option<Arc<rustls::ClientConfig>>,
    /// The CSP listener asks clients for a certificate: it serves TLS
    /// and there are anchors to check one against (`acceptor`'s
    /// `ask_for`). Every peer that may have to present one (config file,
    /// `peer add`, discovery) is served by that one setting, so an entry
    /// added while running needs no new listener.
    pub asks_client_certs: bool,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("client", &self.client.is_some())
            .field("asks_client_certs", &self.asks_client_certs)
            .finish()
    }
}

impl PeerTls {
    /// Loads the anchors and our client certificate; an https:// peer or
    /// a peer that must present a certificate with no anchors to check it
    /// against stops the start.
    pub fn load(
        fed: &crate::federation::FederationSettings,
        tls: &crate::config::TlsConfig,
    ) -> anyhow::Result<PeerTls> {
        let roots = peer_roots(fed.ca_file.as_deref())?.map(Arc::new);
        if roots.is_none() {
            if let Some(p) = fed.peers.iter().find(|p| p.url.starts_with("https://")) {
                anyhow::bail!(
                    "federation.peers: {} is an https:// peer but there are no trust anchors to check its certificate: set federation.ca_file (the system's store has none)",
                    p.domain
                );
            }
            if let Some(p) = fed.peers.iter().find(|p| p.require_client_cert) {
                anyhow::bail!(
                    "federation.peers: {} has require_client_cert but there are no trust anchors to check its certificate: set federation.ca_file (the system's store has none)",
                    p.domain
                );
            }
            if fed.discovery && fed.discovered_require_client_cert {
                anyhow::bail!(
                    "federation.discovered_require_client_cert: there are no trust anchors to check a discovered peer's certificate: set federation.ca_file (the system's store has none)"
                );
            }
        }
        let identity = match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => Some((load_chain(cert)?, load_key(key)?)),
            _ => None,
        };
        let asks_client_certs = roots.is_some() && identity.is_some();
        let client = match &roots {
            Some(r) => Some(Arc::new(client_config(r, identity)?)),
            None => None,
        };
        Ok(PeerTls {
            roots,
            client,
            asks_client_certs,
        })
    }
}

fn load_key(key: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading private key {}", key.display()))
}

/// The client side of POSTs to peers: their server certificate checked
/// against `roots` and the URL's host; `identity` presented when asked.
fn client_config(
    roots: &RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots.clone());
    let mut cfg = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .context("tls.cert_file and tls.key_file do not match")?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The certificate chain a client presented on a TLS connection, as a
/// request extension (the SSP handler checks it against the peer it
/// claims to be).
#[derive(Debug, Clone)]
pub struct PeerCerts(pub Arc<Vec<CertificateDer<'static>>>);

/// Checks a peer's client certificate chain: valid now under `roots` for
/// client authentication, and naming one of `names` (a DNS name or an IP
/// address). `Err` says why not, for the peer and the log.
pub fn check_peer_cert(
    chain: &[CertificateDer<'static>],
    roots: &RootCertStore,
    names: &[&str],
) -> Result<(), String> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| "no client certificate".to_string())?;
    let cert = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    cert.verify_for_usage(
        algs.all,
        &roots.roots,
        intermediates,
        rustls_pki_types::UnixTime::now(),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map_err(|e| format!("client certificate not valid under our trust anchors: {e}"))?;
    let named = names.iter().any(|n| {
        rustls_pki_types::ServerName::try_from(*n)
            .is_ok_and(|sn| cert.verify_is_valid_for_subject_name(&sn).is_ok())
    });
    if named {
        Ok(())
    } else {
        Err(format!(
            "client certificate names none of {}",
            names.join(", ")
        ))
    }
}

/// Asks a TLS client for a certificate without requiring one (phones
/// have none). A presented chain is not judged here: the handshake only
/// proves the client holds its key, and the SSP handler checks the chain
/// against the peer the request claims to come from, so a refusal comes
/// with an SSP status rather than a broken handshake.
#[derive(Debug)]
struct Offered {
    hints: Vec<rustls::DistinguishedName>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for Offered {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Connects to http:// and https:// URLs for the peer client: TCP, then
/// TLS with the peer's host as the name its certificate must carry.
#[derive(Clone)]
pub struct HttpsConnector {
    http: HttpConnector,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl HttpsConnector {
    /// `tls` `None`: https:// URLs fail (no trust anchors).
    pub fn new(connect_timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        http.enforce_http(false);
        HttpsConnector {
            http,
            tls: tls.map(tokio_rustls::TlsConnector::from),
        }
    }
}

impl HttpsConnector {
    /// A connector trusting only the CAs of `ca_file`, presenting no
    /// certificate (the end-to-end tests' clients of a server on TLS).
    pub fn trusting(ca_file: &Path, connect_timeout: Duration) -> anyhow::Result<Self> {
        let roots = peer_roots(Some(ca_file))?
            .ok_or_else(|| anyhow::anyhow!("no CA in {}", ca_file.display()))?;
        Ok(Self::new(
            connect_timeout,
            Some(Arc::new(client_config(&roots, None)?)),
        ))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<hyper::Uri> for HttpsConnector {
    type Response = MaybeTls;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeTls, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = self.tls.clone();
        let connecting = self.http.call(uri);
        Box::pin(async move {
            let tcp = connecting.await?.into_inner();
            if !https {
                return Ok(MaybeTls(TokioIo::new(Stream::Plain(tcp))));
            }
            let tls = tls.ok_or("no trust anchors for https:// peers")?;
            let name = rustls_pki_types::ServerName::try_from(host)?;
            let s = tls.connect(name, tcp).await?;
            Ok(MaybeTls(TokioIo::new(Stream::Tls(Box::new(s)))))
        })
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A connection to a peer, plain or TLS, as hyper's client wants it.
pub struct MaybeTls(TokioIo<Stream>);

impl hyper::rt::Read for MaybeTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        hyper::rt::Read::poll_read(Pin::new(&mut self.0), cx, buf)
    }
}

impl hyper::rt::Write for MaybeTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

impl Connection for MaybeTls {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
