//! HTTPS for the HTTP binding, with rustls on the ring provider (one
//! provider only: two make rustls panic at start). HTTP/1.1 and HTTP/2 are
//! offered by ALPN. Connections are
//! accepted and served in `conn.rs`, the same way as plain ones. Also the
//! admin commands' client side for an admin listener on TLS, and what
//! federation needs (issue 17): the HTTPS connector of POSTs to peers,
//! the trust anchors for peers, and the check of the client certificate
//! a peer presents.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
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
    /// The revocation lists of `federation.crl_files` (none: no peer
    /// certificate is checked for revocation).
    pub crls: Option<Arc<PeerCrls>>,
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
            .field(
                "crls",
                &self.crls.as_ref().map(|c| c.current().parsed.len()),
            )
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
        let crls = if fed.crl_files.is_empty() {
            None
        } else {
            if roots.is_none() {
                anyhow::bail!(
                    "federation.crl_files: there are no trust anchors for peers whose certificates they would revoke: set federation.ca_file (the system's store has none)"
                );
            }
            Some(Arc::new(PeerCrls::load(
                fed.crl_files.clone(),
                fed.crl_enforce_next_update,
            )?))
        };
        let client = match &roots {
            Some(r) => Some(Arc::new(client_config(r, identity, crls.clone())?)),
            None => None,
        };
        Ok(PeerTls {
            roots,
            client,
            crls,
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
    crls: Option<Arc<PeerCrls>>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match crls {
        None => builder.with_root_certificates(roots.clone()),
        Some(crls) => {
            let verifier = Revocable::new(Arc::new(roots.clone()), crls, provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
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
    crls: Option<&PeerCrls>,
    names: &[&str],
) -> Result<(), String> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| "no client certificate".to_string())?;
    let cert = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let lists = crls.map(PeerCrls::current);
    let refs: Vec<&webpki::CertRevocationList<'static>> =
        lists.iter().flat_map(|l| l.parsed.iter()).collect();
    let revocation = crls.and_then(|c| c.options(&refs));
    cert.verify_for_usage(
        algs.all,
        &roots.roots,
        intermediates,
        rustls_pki_types::UnixTime::now(),
        webpki::KeyUsage::client_auth(),
        revocation,
        None,
    )
    .map_err(|e| match e {
        webpki::Error::CertRevoked => {
            "client certificate revoked (federation.crl_files)".to_string()
        }
        e => format!("client certificate not valid under our trust anchors: {e}"),
    })?;
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

/// Revocation lists for peers' certificates (`federation.crl_files`,
/// PEM or DER): read at start (an unreadable one stops it) and again by
/// [`PeerCrls::reload`]; a list that cannot be read then leaves the
/// previous ones in force. A certificate whose issuer has no list here is
/// not checked (its status is unknown, not revoked); the whole chain is
/// checked, intermediates too.
pub struct PeerCrls {
    files: Vec<PathBuf>,
    enforce_next_update: bool,
    lists: Mutex<Arc<CrlSet>>,
    /// Bumped by every reload that read the files, so the verifier of
    /// our POSTs knows to rebuild.
    generation: AtomicU64,
}

/// One reading of the CRL files: as DER (rustls's verifier of our
/// POSTs takes those) and parsed (the check of a client certificate).
pub struct CrlSet {
    ders: Vec<CertificateRevocationListDer<'static>>,
    parsed: Vec<webpki::CertRevocationList<'static>>,
}

impl PeerCrls {
    pub fn load(files: Vec<PathBuf>, enforce_next_update: bool) -> anyhow::Result<PeerCrls> {
        let set = read_crls(&files)?;
        tracing::info!(
            files = files.len(),
            lists = set.parsed.len(),
            "revocation lists for peers read"
        );
        Ok(PeerCrls {
            files,
            enforce_next_update,
            lists: Mutex::new(Arc::new(set)),
            generation: AtomicU64::new(0),
        })
    }

    /// Reads the files again (off the runtime's threads). On an error the
    /// lists in force stay and the error is returned for the log.
    pub async fn reload(&self) -> anyhow::Result<usize> {
        let files = self.files.clone();
        let set = tokio::task::spawn_blocking(move || read_crls(&files))
            .await
            .context("reading the revocation lists")??;
        let n = set.parsed.len();
        *self.lists.lock() = Arc::new(set);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(n)
    }

    pub fn current(&self) -> Arc<CrlSet> {
        self.lists.lock().clone()
    }

    /// The revocation check over `refs` (this set's lists); `None` when
    /// there are none.
    fn options<'a>(
        &self,
        refs: &'a [&'a webpki::CertRevocationList<'a>],
    ) -> Option<webpki::RevocationOptions<'a>> {
        let builder = webpki::RevocationOptionsBuilder::new(refs).ok()?;
        Some(
            builder
                .with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .with_expiration_policy(if self.enforce_next_update {
                    webpki::ExpirationPolicy::Enforce
                } else {
                    webpki::ExpirationPolicy::Ignore
                })
                .build(),
        )
    }
}

/// Reads every CRL of `files`: PEM (one or more `X509 CRL` blocks) or a
/// single DER list.
fn read_crls(files: &[PathBuf]) -> anyhow::Result<CrlSet> {
    let mut ders = Vec::new();
    for path in files {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading revocation list {}", path.display()))?;
        let found: Vec<CertificateRevocationListDer<'static>> =
            if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
                CertificateRevocationListDer::pem_slice_iter(&bytes)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("parsing revocation lists in {}", path.display()))?
            } else {
                vec![CertificateRevocationListDer::from(bytes)]
            };
        if found.is_empty() {
            anyhow::bail!("no revocation list in {}", path.display());
        }
        ders.extend(found);
    }
    let parsed = ders
        .iter()
        .map(|d| {
            webpki::OwnedCertRevocationList::from_der(d.as_ref())
                .map(webpki::CertRevocationList::from)
                .map_err(|e| anyhow::anyhow!("a revocation list is not valid: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CrlSet { ders, parsed })
}

/// The check of a peer's server certificate on our POSTs when there are
/// revocation lists: rustls's own verifier, built again after each
/// reload of the lists (connections made before a reload keep the
/// verdict of their handshake).
#[derive(Debug)]
struct Revocable {
    roots: Arc<RootCertStore>,
    crls: Arc<PeerCrls>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    built: Mutex<(u64, Arc<rustls::client::WebPkiServerVerifier>)>,
}

impl std::fmt::Debug for PeerCrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCrls")
            .field("files", &self.files)
            .field("lists", &self.current().parsed.len())
            .finish()
    }
}

impl Revocable {
    fn new(
        roots: Arc<RootCertStore>,
        crls: Arc<PeerCrls>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> anyhow::Result<Revocable> {
        let generation = crls.generation.load(Ordering::Acquire);
        let built = Self::build(&roots, &crls, &provider)?;
        Ok(Revocable {
            roots,
            crls,
            provider,
            built: Mutex::new((generation, built)),
        })
    }

    fn build(
        roots: &Arc<RootCertStore>,
        crls: &PeerCrls,
        provider: &Arc<rustls::crypto::CryptoProvider>,
    ) -> anyhow::Result<Arc<rustls::client::WebPkiServerVerifier>> {
        let mut b = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .with_crls(crls.current().ders.iter().cloned())
        .allow_unknown_revocation_status();
        if crls.enforce_next_update {
            b = b.enforce_revocation_expiration();
        }
        b.build()
            .map_err(|e| anyhow::anyhow!("the verifier of peers' certificates: {e}"))
    }

    /// The verifier for the lists in force now.
    fn current(&self) -> Result<Arc<rustls::client::WebPkiServerVerifier>, rustls::Error> {
        let generation = self.crls.generation.load(Ordering::Acquire);
        let mut built = self.built.lock();
        if built.0 != generation {
            let v = Self::build(&self.roots, &self.crls, &self.provider)
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            *built = (generation, v);
        }
        Ok(built.1.clone())
    }
}

impl rustls::client::danger::ServerCertVerifier for Revocable {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.current()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
            Some(Arc::new(client_config(&roots, None, None)?)),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
        IsCa, KeyIdMethod, KeyPair, SerialNumber, date_time_ymd,
    };

    fn list_of_a_new_ca() -> rcgen::CertificateRevocationList {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        CertificateRevocationListParams {
            this_update: date_time_ymd(2025, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(7u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&*ca)
        .unwrap()
    }

    #[test]
    fn revocation_lists_are_read_as_pem_or_der_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, der, bad) = (
            dir.path().join("a.crl.pem"),
            dir.path().join("b.crl"),
            dir.path().join("c.crl"),
        );
        let one = list_of_a_new_ca();
        let two = list_of_a_new_ca();
        std::fs::write(
            &pem,
            format!("{}{}", one.pem().unwrap(), two.pem().unwrap()),
        )
        .unwrap();
        std::fs::write(&der, two.der().as_ref()).unwrap();
        std::fs::write(&bad, [0x30u8, 0x82, 0x01, 0x00, 0xff, 0xff]).unwrap();
        let set = read_crls(&[pem.clone(), der.clone()]).unwrap();
        assert_eq!(set.parsed.len(), 3);
        assert!(read_crls(std::slice::from_ref(&bad)).is_err());
        assert!(read_crls(&[dir.path().join("missing.crl")]).is_err());
        let empty_pem = dir.path().join("empty.pem");
        std::fs::write(&empty_pem, "no list here\n").unwrap();
        assert!(read_crls(&[empty_pem]).is_err());
    }

    #[tokio::test]
    async fn a_list_that_cannot_be_read_again_leaves_the_previous_ones_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.crl");
        std::fs::write(&path, list_of_a_new_ca().pem().unwrap()).unwrap();
        let crls = PeerCrls::load(vec![path.clone()], true).unwrap();
        assert_eq!(crls.reload().await.unwrap(), 1);
        let generation = crls.generation.load(Ordering::Acquire);
        std::fs::write(&path, "broken").unwrap();
        assert!(crls.reload().await.is_err());
        assert_eq!(crls.current().parsed.len(), 1);
        assert_eq!(crls.generation.load(Ordering::Acquire), generation);
    }
}
