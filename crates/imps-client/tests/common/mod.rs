//! A canned HTTP/1.1 server on a raw TcpListener: just enough HTTP for the
//! client's tests (keep-alive, Content-Length bodies), no server crate.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use imps_client::{Encoding, Limits, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Decodes the body as CSP in the encoding its Content-Type names.
    pub fn csp(&self) -> Message {
        let enc = encoding_of(self.header("content-type").unwrap_or(""));
        imps_wire::decode(&self.body, enc, &Limits::default()).expect("fake server got bad CSP")
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Never answer (for timeout tests).
    pub hang: bool,
}

impl Canned {
    pub fn new(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Canned {
        Canned {
            status,
            content_type: content_type.map(str::to_string),
            body: body.into(),
            hang: false,
        }
    }

    /// A CSP answer in the same encoding and Content-Type as the request.
    pub fn csp(req: &Seen, msg: &Message) -> Canned {
        let ct = req.header("content-type").unwrap_or("").to_string();
        let body = imps_wire::encode(msg, encoding_of(&ct)).expect("fake server cannot encode");
        Canned::new(200, Some(&ct), body)
    }
}

pub fn encoding_of(ct: &str) -> Encoding {
    if ct.contains("wbxml") {
        Encoding::Wbxml
    } else {
        Encoding::Xml
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Canned + Send + Sync>;

/// A running fake server: its URL and every request it saw.
pub struct FakeHttp {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeHttp {
    pub async fn start(handler: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let log = Arc::clone(&seen);
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(serve(sock, Arc::clone(&handler), Arc::clone(&log)));
            }
        });
        FakeHttp {
            url: format!("http://{addr}/imps"),
            seen,
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn serve(mut sock: TcpStream, handler: Handler, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut sock, &mut buf).await {
        log.lock().expect("lock").push(req.clone());
        let canned = handler(&req);
        if canned.hang {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        let mut out = format!("HTTP/1.1 {} X\r\n", canned.status);
        if let Some(ct) = &canned.content_type {
            out.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", canned.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&canned.body);
        if sock.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let start = head_end + 4;
    while buf.len() < start + len {
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[start..start + len].to_vec();
    buf.drain(..start + len);
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}
