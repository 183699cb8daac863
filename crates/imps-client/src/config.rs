//! What a client needs to know before it says anything.

use std::time::Duration;

use imps_wire::{Encoding, Limits, Version};

/// Settings shared by the HTTP and WebSocket clients.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port/imps` for HTTP, `ws://host:port/imps/ws` for
    /// WebSocket.
    pub url: String,
    pub version: Version,
    pub encoding: Encoding,
    /// Sent as `ClientID/URL` in Login, ClientCapability, Service and
    /// GetSPInfo requests.
    pub client_id: String,
    /// Bounds on what we accept from the server (body size, depth, ...).
    pub limits: Limits,
    /// Added to every HTTP request and to the WebSocket handshake (tests
    /// use it for `X-MSISDN`).
    pub extra_headers: Vec<(String, String)>,
    /// Time allowed for one exchange, from sending to the whole answer.
    pub timeout: Duration,
    /// Depth of the WebSocket push queue; when full, new pushes are
    /// dropped and counted (see `WsClient::dropped_pushes`).
    pub push_queue: usize,
}

/// Android's HTTP timeout; long enough for a loaded server, short enough
/// that a hung test fails instead of hanging.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);

/// Default WebSocket push queue depth.
pub const DEFAULT_PUSH_QUEUE: usize = 256;

impl ClientConfig {
    /// A config with defaults for everything but where and how to talk.
    pub fn new(url: impl Into<String>, version: Version, encoding: Encoding) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            version,
            encoding,
            client_id: "WV:imps-client@impsd".to_string(),
            limits: Limits::default(),
            extra_headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            push_queue: DEFAULT_PUSH_QUEUE,
        }
    }

    /// Builder: sets the ClientID URL.
    pub fn with_client_id(mut self, id: impl Into<String>) -> ClientConfig {
        self.client_id = id.into();
        self
    }

    /// Builder: adds an HTTP header to every request.
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ClientConfig {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Builder: sets the per-exchange timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.timeout = timeout;
        self
    }
}

/// The HTTP Content-Type for a version and encoding. 1.3 switched from
/// `.xml` to the `+xml` structured suffix; clients send what their version
/// says, so we do too.
pub fn content_type(version: Version, encoding: Encoding) -> &'static str {
    imps_wire::csp::content_type::content_type(encoding, version)
}

/// Which encoding a Content-Type names, if any. "wbxml" is checked first
/// because it contains "xml".
pub fn encoding_of_content_type(ct: &str) -> Option<Encoding> {
    imps_wire::csp::content_type::encoding_for(ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_version_and_encoding() {
        assert_eq!(
            content_type(Version::V1_1, Encoding::Xml),
            "application/vnd.wv.csp.xml"
        );
        assert_eq!(
            content_type(Version::V1_2, Encoding::Wbxml),
            "application/vnd.wv.csp.wbxml"
        );
        assert_eq!(
            content_type(Version::V1_3, Encoding::Xml),
            "application/vnd.wv.csp+xml"
        );
        assert_eq!(
            content_type(Version::V1_3, Encoding::Wbxml),
            "application/vnd.wv.csp+wbxml"
        );
        assert_eq!(
            encoding_of_content_type("application/vnd.wv.csp+wbxml"),
            Some(Encoding::Wbxml)
        );
        assert_eq!(
            encoding_of_content_type("application/vnd.wv.csp.xml; charset=utf-8"),
            Some(Encoding::Xml)
        );
        assert_eq!(encoding_of_content_type("text/plain"), None);
    }
}
