//! A replay of the Android IMPS engine (Esmertec, in AOSP
//! `packages/apps/IM`, `src/com/android/im/imps`) on the wire: the XML its
//! serializer writes, byte for byte in shape, and the way it reads what
//! comes back. Used by `android_replay.rs` (issue 13).
//!
//! What the engine does and this module copies:
//! * XML without a declaration, `<X/>` for an empty element, text escaped
//!   as `&lt; &gt; &amp; &quot; &apos;`, children in the order the engine
//!   appends them (not DTD order);
//! * the envelope of `Primitive.createMessage`: `SessionType` Outband
//!   without a SessionID, Inband with one; `TransactionMode` and a
//!   `TransactionID` "1", "2", ... (none in a Polling-Request; both legs
//!   of the 4-way login share one);
//! * WBXML: the same document, turned into WBXML by imps-wire's codec for
//!   the version (decode the XML, encode the tree), so the tree, its order
//!   and its quirks are the same;
//! * Content-Type per version (`vnd.wv.csp.xml` for 1.1/1.2,
//!   `vnd.wv.csp+xml` for 1.3; `wbxml` alike);
//! * reading: a response is a success when it has no `Result` or its
//!   `Result/Code` is exactly `200`; server requests without a
//!   TransactionID are dropped; every server request but NewMessage is
//!   answered `Status{Result{Code 200}}`, NewMessage with
//!   `MessageDelivered` in Response mode under its TransactionID.
//!
//! Two client configurations: "domain-less" (no default domain; it logs
//! in as `wv:alice` and writes `wv:<user>`, `wv:<user>/<name>`) and "with
//! domain" (`wv:alice@<domain>`, `wv:<user>/<name>@<domain>`).
//!
//! Every flow runs for each version, encoding and configuration at once,
//! each in its own task with its own users; [`replay`] reports every
//! combination that failed, and why. Checks of the ID contract (an ID
//! string-equal to the form the client uses) and of the joined-user list
//! shapes are recorded and the flow goes on ([`Ctx::same_id`],
//! [`Ctx::fail`]); anything that would stop the Android engine itself (a
//! non-200 code, a missing element it dereferences) panics at once.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use imps_testkit::{Backoff, TestServer};
use imps_wire::{Element, Encoding, Limits, Message, TransactionMode, Version};

/// Every test user's password.
pub const PASSWORD: &str = "s3cret";

/// Android's default `imps.client-id`.
pub const CLIENT_ID: &str = "JiMMY";

/// How long a flow waits for something the server should send.
pub const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Combinations

/// Whether the client has a default domain configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// Logs in as `wv:alice`, writes `wv:<user>` and `wv:<user>/<name>`.
    DomainLess,
    /// Logs in as `wv:alice@<domain>`, writes every ID with `@<domain>`.
    WithDomain,
}

/// One version, encoding and client configuration.
#[derive(Debug, Clone, Copy)]
pub struct Combo {
    pub version: Version,
    pub encoding: Encoding,
    pub addressing: Addressing,
}

impl Combo {
    /// The 12 combinations, in a stable order.
    pub fn all() -> Vec<Combo> {
        let mut out = Vec::new();
        for version in [Version::V1_1, Version::V1_2, Version::V1_3] {
            for encoding in [Encoding::Xml, Encoding::Wbxml] {
                for addressing in [Addressing::DomainLess, Addressing::WithDomain] {
                    out.push(Combo {
                        version,
                        encoding,
                        addressing,
                    });
                }
            }
        }
        out
    }

    /// `1.2 WBXML domain-less`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {}",
            self.version,
            match self.encoding {
                Encoding::Xml => "XML",
                Encoding::Wbxml => "WBXML",
            },
            match self.addressing {
                Addressing::DomainLess => "domain-less",
                Addressing::WithDomain => "with-domain",
            }
        )
    }

    /// A short suffix for this combination's user names: `12wn`.
    pub fn tag(&self) -> String {
        format!(
            "{}{}{}",
            self.version.as_str().replace('.', ""),
            match self.encoding {
                Encoding::Xml => 'x',
                Encoding::Wbxml => 'w',
            },
            match self.addressing {
                Addressing::DomainLess => 'n',
                Addressing::WithDomain => 'd',
            }
        )
    }

    /// The Content-Type Android sets (`ImpsConnectionConfig`).
    pub fn content_type(&self) -> &'static str {
        match (self.version, self.encoding) {
            (Version::V1_3, Encoding::Xml) => "application/vnd.wv.csp+xml",
            (Version::V1_3, Encoding::Wbxml) => "application/vnd.wv.csp+wbxml",
            (_, Encoding::Xml) => "application/vnd.wv.csp.xml",
            (_, Encoding::Wbxml) => "application/vnd.wv.csp.wbxml",
        }
    }
}

// ---------------------------------------------------------------------------
// One combination's context

/// What a flow gets: its combination, the server, and where the
/// recorded failures go.
#[derive(Clone)]
pub struct Ctx {
    pub combo: Combo,
    pub url: String,
    pub domain: String,
    failures: Arc<Mutex<Vec<String>>>,
}

impl Ctx {
    pub fn label(&self) -> String {
        self.combo.label()
    }

    pub fn version(&self) -> Version {
        self.combo.version
    }

    /// This combination's name for a test user (`alice` → `alice12wn`).
    pub fn user(&self, base: &str) -> String {
        format!("{base}{}", self.combo.tag())
    }

    /// How this client configuration writes a user's address (`user` is
    /// the full user part, as from [`Ctx::user`]).
    pub fn addr(&self, user: &str) -> String {
        match self.combo.addressing {
            Addressing::DomainLess => format!("wv:{user}"),
            Addressing::WithDomain => format!("wv:{user}@{}", self.domain),
        }
    }

    /// How it writes a list or group address: `wv:<user>/<name>[@domain]`,
    /// the name lower-cased as `ImpsAddress` does.
    pub fn res_addr(&self, user: &str, name: &str) -> String {
        let name = name.to_lowercase();
        match self.combo.addressing {
            Addressing::DomainLess => format!("wv:{user}/{name}"),
            Addressing::WithDomain => format!("wv:{user}/{name}@{}", self.domain),
        }
    }

    /// Android's `normalizeAddress`: lower case, `wv:` prefix, and the
    /// default domain when the client has one and the ID has no `@`.
    pub fn normalize(&self, id: &str) -> String {
        let mut s = id.to_lowercase();
        if !s.starts_with("wv:") {
            s = format!("wv:{s}");
        }
        if self.combo.addressing == Addressing::WithDomain && !s.contains('@') {
            s = format!("{s}@{}", self.domain);
        }
        s
    }

    /// An Android client for test user `base` (see [`Ctx::user`]).
    pub fn android(&self, base: &str) -> Android {
        Android::new(self.clone(), &self.user(base))
    }

    /// Records a failure; the flow goes on.
    pub fn fail(&self, what: String) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }

    /// Records a failure unless the ID the server sent is string-equal to
    /// the one this client uses for that entity.
    pub fn same_id(&self, what: &str, got: Option<&str>, want: &str) {
        if got != Some(want) {
            self.fail(format!(
                "{what}: the server wrote {got:?}, the client knows it as {want:?}"
            ));
        }
    }

    fn take_failures(&self) -> Vec<String> {
        std::mem::take(&mut *self.failures.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Runs `flow` for every [`Combo`] at once, each in its own task with
/// users `<base><tag>` for each of `users` (password [`PASSWORD`]), then
/// fails the test with one line per failed combination: what panicked
/// and what was recorded. A passing combination is listed too.
pub async fn replay<F, Fut>(srv: &TestServer, test: &str, users: &[&str], flow: F)
where
    F: Fn(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let combos = Combo::all();
    let names: Vec<String> = combos
        .iter()
        .flat_map(|c| users.iter().map(move |u| format!("{u}{}", c.tag())))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    srv.add_users(&refs, PASSWORD).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for combo in combos {
        let ctx = Ctx {
            combo,
            url: srv.url(),
            domain: srv.cfg.domain.clone(),
            failures: Arc::new(Mutex::new(Vec::new())),
        };
        let task = tokio::spawn(flow(ctx.clone()));
        tasks.push((ctx, task));
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for (ctx, task) in tasks {
        let mut problems = Vec::new();
        if let Err(e) = task.await {
            let text = if e.is_panic() {
                let p = e.into_panic();
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_else(|| "a panic without a message".into())
            } else {
                format!("task cancelled: {e}")
            };
            problems.push(format!("STOPPED: {text}"));
        }
        problems.extend(ctx.take_failures());
        if problems.is_empty() {
            lines.push(format!("  pass  {}", ctx.label()));
        } else {
            failed += 1;
            lines.push(format!("  FAIL  {}", ctx.label()));
            for p in problems {
                lines.push(format!("          - {p}"));
            }
        }
    }
    let summary = format!(
        "{test}: {failed} of 12 combinations failed ({:.1?})\n{}",
        started.elapsed(),
        lines.join("\n")
    );
    eprintln!("{summary}");
    assert!(failed == 0, "{summary}");
}

// ---------------------------------------------------------------------------
// XML as Android's XmlPrimitiveSerializer writes it

/// Text escaped as `XmlPrimitiveSerializer.writeEncoded` does.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>text</name>` (also for empty text: the engine writes contents
/// whenever they are set).
pub fn t(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

/// `<name>children</name>`, or `<name/>` without children.
pub fn e(name: &str, children: &[String]) -> String {
    e_ns(name, None, children)
}

/// [`e`] with an `xmlns` attribute.
pub fn e_ns(name: &str, ns: Option<&str>, children: &[String]) -> String {
    let attr = ns
        .map(|n| format!(" xmlns=\"{}\"", esc(n)))
        .unwrap_or_default();
    if children.is_empty() {
        format!("<{name}{attr}/>")
    } else {
        format!("<{name}{attr}>{}</{name}>", children.concat())
    }
}

/// `Property{Name, Value}` (`PrimitiveElement.addPropertyChild`).
pub fn property(name: &str, value: &str) -> String {
    e("Property", &[t("Name", name), t("Value", value)])
}

/// `User{UserID}` (`ImpsUserAddress.toPrimitiveElement`).
pub fn user(id: &str) -> String {
    e("User", &[t("UserID", id)])
}

/// An attribute as Android writes it in UpdatePresence:
/// `<Attr><Qualifier>T</Qualifier><PresenceValue>v</PresenceValue></Attr>`.
pub fn attr(name: &str, value: &str) -> String {
    e(name, &[t("Qualifier", "T"), t("PresenceValue", value)])
}

// ---------------------------------------------------------------------------
// The 4-way login digest, written out here so the test does not borrow the
// server's own code: Base64(H(nonce ‖ password)), ISO-8859-1 bytes
// (`StandardPasswordDigest`).

/// DigestBytes for the schema the server chose (`MD5` or `SHA`).
pub fn digest_bytes(schema: &str, nonce: &str, password: &str) -> String {
    let input: Vec<u8> = nonce
        .chars()
        .chain(password.chars())
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let raw = match schema {
        "MD5" => md5(&input).to_vec(),
        "SHA" => sha1(&input).to_vec(),
        other => panic!("Android computes MD5 and SHA only, the server chose {other:?}"),
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Pads a message for MD5 (`le` length) or SHA-1 (big-endian length).
fn pad(msg: &[u8], le: bool) -> Vec<u8> {
    let bits = (msg.len() as u64).wrapping_mul(8);
    let mut data = msg.to_vec();
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&if le {
        bits.to_le_bytes()
    } else {
        bits.to_be_bytes()
    });
    data
}

/// RFC 1321.
pub fn md5(msg: &[u8]) -> [u8; 16] {
    const S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    let k: Vec<u32> = (0..64)
        .map(|i| (f64::from(i + 1).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in pad(msg, true).chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[(i / 16) * 4 + i % 4]));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// FIPS 180-1.
pub fn sha1(msg: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    for chunk in pad(msg, false).chunks(64) {
        let mut w = [0u32; 80];
        for (i, b) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A82_7999),
                1 => (b ^ c ^ d, 0x6ED9_EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let tmp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = tmp;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (o, w) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

// ---------------------------------------------------------------------------
// Reading answers the way the engine does

/// An element as compact XML, for failure messages.
pub fn x(el: &Element) -> String {
    String::from_utf8_lossy(&imps_wire::xml::encode(el)).into_owned()
}

/// `Result/Code` of a primitive (directly or in a Status), as text.
pub fn code_text(body: &Element) -> Option<&str> {
    body.child("Result")
        .map(|r| r.child_text("Code").unwrap_or(""))
}

/// Text of the first descendant named `name`, depth first.
pub fn find_text<'a>(el: &'a Element, name: &str) -> Option<&'a str> {
    if el.name == name && el.children.is_empty() {
        return Some(el.text.trim());
    }
    el.children.iter().find_map(|c| find_text(c, name))
}

/// Every text in a subtree, for "is this user mentioned at all".
pub fn mentions(el: &Element, needle: &str) -> bool {
    el.text.contains(needle) || el.children.iter().any(|c| mentions(c, needle))
}

/// `ImpsUtils.isQualifiedPresence`: the attribute is there with
/// Qualifier T.
pub fn qualified(list: &Element, attr: &str) -> bool {
    list.child(attr)
        .and_then(|a| a.child_text("Qualifier"))
        .is_some_and(|q| q.eq_ignore_ascii_case("T"))
}

/// The PresenceValue of a qualified attribute.
pub fn presence_value<'a>(list: &'a Element, attr: &str) -> Option<&'a str> {
    if !qualified(list, attr) {
        return None;
    }
    list.child(attr).and_then(|a| a.child_text("PresenceValue"))
}

/// Android's "online": OnlineStatus qualified and T.
pub fn is_online(list: &Element) -> bool {
    presence_value(list, "OnlineStatus").is_some_and(|v| v.eq_ignore_ascii_case("T"))
}

/// What `ImpsChatGroupManager.extractUserMapList` makes of a list: every
/// child is taken as a `Mapping{SName, UserID?}`. Returns the
/// (SName, UserID) pairs, or what the engine would trip over: a child
/// that is not a Mapping (it reads null SName and UserID from a
/// `UserMapping` wrapper, and `new ImpsUserAddress(null)` throws), or a
/// Mapping without SName and UserID.
pub fn android_mappings(list: &Element) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for c in &list.children {
        if c.name != "Mapping" {
            return Err(format!(
                "{} holds a <{}> where the engine reads a Mapping (it throws on it): {}",
                list.name,
                c.name,
                x(list)
            ));
        }
        let sname = c.child_text("SName").filter(|s| !s.is_empty());
        let id = c.child_text("UserID").filter(|s| !s.is_empty());
        match sname {
            Some(s) => out.push((s.to_string(), id.map(str::to_string))),
            None => {
                return Err(format!("a Mapping without SName: {}", x(c)));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The client

/// What the login sequence saw.
#[derive(Debug, Clone)]
pub struct LoginReport {
    /// The first Login-Response (the digest challenge).
    pub challenge: Element,
    /// The second one (the session).
    pub login: Element,
    pub capability: Element,
    pub service: Element,
    /// The GetPresence-Response for the user's own presence.
    pub own_presence: Element,
    /// Whether the engine updated its ClientInfo after reading it.
    pub updated_client_info: bool,
}

/// One Android engine (one `ImpsConnection`) over HTTP.
pub struct Android {
    pub ctx: Ctx,
    /// The user part (`alice12wn`).
    pub user: String,
    /// The login name as typed, which is also its own address
    /// (`wv:alice12wn` or `wv:alice12wn@localhost`).
    pub address: String,
    session: Option<String>,
    cookie_counter: u32,
    tid: u32,
    /// Server requests that came in a response and wait to be handled.
    inbox: VecDeque<(String, Element)>,
}

impl Android {
    pub fn new(ctx: Ctx, user: &str) -> Android {
        let address = ctx.addr(user);
        Android {
            ctx,
            user: user.to_string(),
            address,
            session: None,
            cookie_counter: 0,
            tid: 0,
            inbox: VecDeque::new(),
        }
    }

    fn who(&self) -> String {
        format!("[{}] {}", self.ctx.label(), self.user)
    }

    pub fn version(&self) -> Version {
        self.ctx.combo.version
    }

    /// The PA namespace (`mConfig.getPresenceNs()`).
    pub fn pa_ns(&self) -> &'static str {
        self.version().pa_ns()
    }

    /// The next TransactionID: "1".."999", then "1" again.
    pub fn next_tid(&mut self) -> String {
        self.tid = self.tid % 999 + 1;
        self.tid.to_string()
    }

    /// The whole message, as `Primitive.createMessage` builds it.
    pub fn envelope(&self, mode: &str, tid: Option<&str>, content: &str) -> String {
        let v = self.version();
        let mut sd = vec![t(
            "SessionType",
            if self.session.is_some() {
                "Inband"
            } else {
                "Outband"
            },
        )];
        if let Some(s) = &self.session {
            sd.push(t("SessionID", s));
        }
        let mut td = vec![t("TransactionMode", mode)];
        if let Some(id) = tid {
            td.push(t("TransactionID", id));
        }
        e_ns(
            "WV-CSP-Message",
            Some(v.csp_ns()),
            &[e(
                "Session",
                &[
                    e("SessionDescriptor", &sd),
                    e(
                        "Transaction",
                        &[
                            e("TransactionDescriptor", &td),
                            format!(
                                "<TransactionContent xmlns=\"{}\">{content}</TransactionContent>",
                                v.trc_ns()
                            ),
                        ],
                    ),
                ],
            )],
        )
    }

    /// The bytes on the wire: the XML, or the same tree in WBXML.
    pub fn wire_bytes(&self, xml: &str) -> Vec<u8> {
        match self.ctx.combo.encoding {
            Encoding::Xml => xml.as_bytes().to_vec(),
            Encoding::Wbxml => {
                let root = imps_wire::xml::decode(xml.as_bytes(), &Limits::default())
                    .unwrap_or_else(|e| {
                        panic!("{}: our XML does not parse ({e}): {xml}", self.who())
                    });
                imps_wire::wbxml::encode(&root, self.version())
                    .unwrap_or_else(|e| panic!("{}: no WBXML for ({e}): {xml}", self.who()))
            }
        }
    }

    /// POSTs one message; the decoded answer, `None` for an empty body.
    pub async fn post(&self, xml: &str) -> Option<Message> {
        let c = self.ctx.combo;
        let (status, ct, body) =
            imps_testkit::post_raw(&self.ctx.url, c.content_type(), self.wire_bytes(xml)).await;
        assert_eq!(
            status,
            200,
            "{}: HTTP {status} for {xml}\nanswer: {}",
            self.who(),
            String::from_utf8_lossy(&body)
        );
        if body.is_empty() {
            return None;
        }
        let ct = ct.unwrap_or_default();
        let is_wbxml = ct.contains("wbxml");
        assert!(
            ct.contains("vnd.wv.csp") && is_wbxml == (c.encoding == Encoding::Wbxml),
            "{}: answer Content-Type {ct:?} to a {} request",
            self.who(),
            c.content_type()
        );
        let msg = imps_wire::decode(&body, c.encoding, &Limits::default()).unwrap_or_else(|e| {
            panic!(
                "{}: the answer does not decode ({e}): {}",
                self.who(),
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(
            msg.version,
            self.version(),
            "{}: answered in another version: {msg:?}",
            self.who()
        );
        Some(msg)
    }

    /// Sends a client request under `tid`; the response primitive. The
    /// engine keeps only the last transaction of a message and matches it
    /// by TransactionID, so the answer must be one Response transaction
    /// with that ID.
    pub async fn request_tid(&mut self, tid: &str, content: &str) -> Element {
        let xml = self.envelope("Request", Some(tid), content);
        let Some(msg) = self.post(&xml).await else {
            panic!(
                "{}: an empty body answers a request (Android: illegal server response): {xml}",
                self.who()
            );
        };
        assert_eq!(
            msg.transactions.len(),
            1,
            "{}: MultiTrans is 1, the answer holds {} transactions: {msg:?}",
            self.who(),
            msg.transactions.len()
        );
        let tx = &msg.transactions[0];
        assert!(
            tx.mode == TransactionMode::Response && tx.id.as_deref() == Some(tid),
            "{}: the answer to transaction {tid} is {:?} {:?}: {}\nrequest: {xml}",
            self.who(),
            tx.mode,
            tx.id,
            x(&tx.body)
        );
        tx.body.clone()
    }

    /// Sends a client request under the next TransactionID.
    pub async fn request(&mut self, content: &str) -> Element {
        let tid = self.next_tid();
        self.request_tid(&tid, content).await
    }

    /// Fails the flow unless `resp` is `name` and a success for the
    /// engine: no Result, or Result/Code exactly "200".
    pub fn expect_ok(&self, what: &str, resp: &Element, name: &str) {
        assert_eq!(
            resp.name,
            name,
            "{}: {what}: expected {name}, got {}",
            self.who(),
            x(resp)
        );
        if let Some(code) = code_text(resp) {
            assert_eq!(
                code,
                "200",
                "{}: {what}: Result/Code must be exactly 200 for Android: {}",
                self.who(),
                x(resp)
            );
        }
    }

    /// A request answered by `Status` 200.
    pub async fn request_status(&mut self, what: &str, content: &str) {
        let resp = self.request(content).await;
        self.expect_ok(what, &resp, "Status");
        assert!(
            resp.child("Result").is_some(),
            "{}: {what}: Status without Result (the engine crashes): {resp:?}",
            self.who()
        );
    }

    /// Sends a Response-mode primitive under the server's TransactionID.
    /// Android accepts an empty body or more server requests.
    pub async fn respond(&mut self, tid: &str, content: &str) {
        let xml = self.envelope("Response", Some(tid), content);
        if let Some(msg) = self.post(&xml).await {
            self.take_requests(msg, &xml);
        }
    }

    /// Status 200 for a server request (`ServerTransaction.sendStatusResponse`).
    pub async fn answer_status(&mut self, tid: &str) {
        self.respond(tid, &e("Status", &[e("Result", &[t("Code", "200")])]))
            .await;
    }

    /// What a server message carries for the engine: requests with a
    /// TransactionID (the engine drops the others as "VersionDiscovery").
    fn take_requests(&mut self, msg: Message, sent: &str) {
        for tx in msg.transactions {
            assert!(
                tx.mode == TransactionMode::Request,
                "{}: a server Response where none was asked for: {:?}\nafter: {sent}",
                self.who(),
                tx.body
            );
            let Some(id) = tx.id else {
                panic!(
                    "{}: a server request without TransactionID (Android drops it): {:?}",
                    self.who(),
                    tx.body
                );
            };
            self.inbox.push_back((id, tx.body));
        }
    }

    /// One Polling-Request (no TransactionID); the server request it
    /// brought, if any.
    pub async fn poll(&mut self) -> Option<(String, Element)> {
        if let Some(r) = self.inbox.pop_front() {
            return Some(r);
        }
        let xml = self.envelope("Request", None, &e("Polling-Request", &[]));
        if let Some(msg) = self.post(&xml).await {
            self.take_requests(msg, &xml);
        }
        self.inbox.pop_front()
    }

    /// Answers a server request the way the engine does: NewMessage with
    /// MessageDelivered, everything else with Status 200.
    pub async fn answer(&mut self, tid: &str, body: &Element) {
        if body.name == "NewMessage" {
            let id = body
                .path(&["MessageInfo", "MessageID"])
                .map(|m| m.text.trim().to_string())
                .unwrap_or_else(|| {
                    panic!("{}: NewMessage without MessageID: {body:?}", self.who())
                });
            self.respond(tid, &e("MessageDelivered", &[t("MessageID", &id)]))
                .await;
        } else {
            self.answer_status(tid).await;
        }
    }

    /// Polls until a server request for which `want` holds arrives (within
    /// [`WAIT`]); the others are answered as the engine does. The matching
    /// one is returned unanswered.
    pub async fn wait_for(
        &mut self,
        what: &str,
        want: impl Fn(&Element) -> bool,
    ) -> (String, Element) {
        let mut backoff = Backoff::new(WAIT);
        let mut seen = Vec::new();
        loop {
            while let Some((tid, body)) = self.poll().await {
                if want(&body) {
                    return (tid, body);
                }
                self.answer(&tid, &body).await;
                seen.push(body);
            }
            if !backoff.wait().await {
                panic!(
                    "{}: no {what} within {WAIT:?}; came instead: [{}]",
                    self.who(),
                    seen.iter().map(x).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }

    /// Polls until nothing waits, answering everything.
    pub async fn drain(&mut self) -> Vec<Element> {
        let mut out = Vec::new();
        while let Some((tid, body)) = self.poll().await {
            self.answer(&tid, &body).await;
            out.push(body);
        }
        out
    }

    /// `LoginTransaction`, capability and service negotiation and the
    /// own-presence read, as a new Android session does them, with every
    /// check the engine itself makes.
    pub async fn login(&mut self) -> LoginReport {
        self.session = None;
        self.inbox.clear();
        // ImpsUtils.genSessionCookie: millis + random int + counter.
        self.cookie_counter += 1;
        let cookie = format!("1262304000000{}{}", 1_804_289_383, self.cookie_counter);
        // buildBasicLoginReq: UserID as typed, ClientID{URL}, TimeToLive =
        // default keep-alive + 5, SessionCookie; the rest appended after.
        let address = self.address.clone();
        let basic = |tail: Vec<String>| -> String {
            let mut c = vec![
                t("UserID", &address),
                e("ClientID", &[t("URL", CLIENT_ID)]),
                t("TimeToLive", "7205"),
                t("SessionCookie", &cookie),
            ];
            c.extend(tail);
            e("Login-Request", &c)
        };
        let first = basic(vec![t("DigestSchema", "MD5"), t("DigestSchema", "SHA")]);
        let tid = self.next_tid();
        let challenge = self.request_tid(&tid, &first).await;
        assert_eq!(
            challenge.name,
            "Login-Response",
            "{}: {challenge:?}",
            self.who()
        );
        assert!(
            challenge.child("SessionID").is_none(),
            "{}: the first leg must be a challenge (no SessionID): {challenge:?}",
            self.who()
        );
        // 401 (Esmertec vector P8) or 200 (Baraza) lead to the second
        // Login; anything else ends the login in the engine.
        let code = code_text(&challenge);
        assert!(
            matches!(code, Some("401") | Some("200") | None),
            "{}: challenge code {code:?}: {challenge:?}",
            self.who()
        );
        let nonce = challenge
            .child_text("Nonce")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| panic!("{}: challenge without Nonce: {challenge:?}", self.who()))
            .to_string();
        let schema = challenge.child_text("DigestSchema").unwrap_or("");
        assert!(
            schema == "MD5" || schema == "SHA",
            "{}: the challenge must choose one of the offered schemas: {challenge:?}",
            self.who()
        );
        let digest = digest_bytes(schema, &nonce, PASSWORD);
        let second = basic(vec![t("DigestBytes", &digest)]);
        let login = self.request_tid(&tid, &second).await;
        self.expect_ok("second Login", &login, "Login-Response");
        assert_eq!(code_text(&login), Some("200"), "{}: {login:?}", self.who());
        let sid = login
            .child_text("SessionID")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "{}: Login-Response without SessionID: {login:?}",
                    self.who()
                )
            })
            .to_string();
        self.session = Some(sid);

        // negotiateCapabilityAsync: on every new session.
        let caps = e(
            "ClientCapability-Request",
            &[e(
                "CapabilityList",
                &[
                    t("ClientType", "MOBILE_PHONE"),
                    t("AcceptedContentLength", "262144"),
                    t("ParserSize", "262144"),
                    t("MultiTrans", "1"),
                    t("InitialDeliveryMethod", "P"),
                    t("ServerPollMin", "30"),
                    t("SupportedBearer", "HTTP"),
                    t("SupportedCIRMethod", "STCP"),
                    t("SupportedCIRMethod", "SSMS"),
                    t("SupportedCIRMethod", "SHTTP"),
                ],
            )],
        );
        let capability = self.request(&caps).await;
        self.expect_ok("ClientCapability", &capability, "ClientCapability-Response");
        // extractCapability reads the first child as the list.
        let first_child = capability.children.first().map(|c| c.name.as_str());
        assert!(
            matches!(
                first_child,
                Some("CapabilityList") | Some("AgreedCapabilityList")
            ),
            "{}: the engine reads the first child as the agreed list: {capability:?}",
            self.who()
        );

        // negotiateServiceAsync.
        let svc = e(
            "Service-Request",
            &[
                e(
                    "Functions",
                    &[e(
                        "WVCSPFeat",
                        &[
                            e("FundamentalFeat", &[]),
                            e("PresenceFeat", &[]),
                            e("IMFeat", &[]),
                            e("GroupFeat", &[]),
                        ],
                    )],
                ),
                t("AllFunctionsRequest", "T"),
            ],
        );
        let service = self.request(&svc).await;
        self.expect_ok("Service", &service, "Service-Response");
        let tree = service
            .child("AllFunctions")
            .and_then(|a| a.children.first())
            .unwrap_or_else(|| {
                panic!(
                    "{}: Service-Response without AllFunctions/* (the engine crashes): {service:?}",
                    self.who()
                )
            });
        assert_eq!(
            tree.name,
            "WVCSPFeat",
            "{}: the engine keeps AllFunctions' first child as the service tree: {service:?}",
            self.who()
        );

        // retrieveUserPresenceAsync: GetPresence for itself.
        let get = e("GetPresence-Request", &[user(&self.address)]);
        let own_presence = self.request(&get).await;
        self.expect_ok("own GetPresence", &own_presence, "GetPresence-Response");
        let list = own_presence
            .path(&["Presence", "PresenceSubList"])
            .unwrap_or_else(|| {
                panic!(
                    "{}: Presence/PresenceSubList is dereferenced unchecked: {own_presence:?}",
                    self.who()
                )
            });
        // compareAndUpdateClientInfo.
        let same = qualified(list, "ClientInfo")
            && ["ClientType", "ClientProducer", "ClientVersion"]
                .iter()
                .zip(["MOBILE_PHONE", "MOKIA", "0.1"])
                .all(|(n, v)| list.path(&["ClientInfo", n]).map(|x| x.text.trim()) == Some(v));
        if !same {
            // ClientInfo children in HashMap order: ClientType,
            // ClientVersion, ClientProducer.
            let upd = e(
                "UpdatePresence-Request",
                &[e_ns(
                    "PresenceSubList",
                    Some(self.pa_ns()),
                    &[e(
                        "ClientInfo",
                        &[
                            t("Qualifier", "T"),
                            t("ClientType", "MOBILE_PHONE"),
                            t("ClientVersion", "0.1"),
                            t("ClientProducer", "MOKIA"),
                        ],
                    )],
                )],
            );
            self.request_status("ClientInfo update", &upd).await;
        }
        LoginReport {
            challenge,
            login,
            capability,
            service,
            own_presence,
            updated_client_info: !same,
        }
    }

    /// Logout-Request; the engine ignores what comes back (Status, or
    /// Disconnect from some servers).
    pub async fn logout(&mut self) {
        let resp = self.request(&e("Logout-Request", &[])).await;
        assert!(
            resp.name == "Status" || resp.name == "Disconnect",
            "{}: Logout answered with {resp:?}",
            self.who()
        );
        self.session = None;
        self.inbox.clear();
    }

    /// The Android status update (`buildUpdatePresenceElems`): always
    /// OnlineStatus and UserAvailability, StatusText when it changed.
    pub fn update_presence(&self, status_text: Option<&str>) -> String {
        let mut attrs = vec![
            e(
                "OnlineStatus",
                &[t("Qualifier", "T"), t("PresenceValue", "T")],
            ),
            attr("UserAvailability", "AVAILABLE"),
        ];
        if let Some(s) = status_text {
            attrs.push(attr("StatusText", s));
        }
        e(
            "UpdatePresence-Request",
            &[e_ns("PresenceSubList", Some(self.pa_ns()), &attrs)],
        )
    }

    /// `createSendMessagePrimitive`: DeliveryReport F, MessageInfo{Recipient,
    /// Sender, ContentType text/plain, ContentSize as a char count},
    /// ContentData.
    pub fn send_message(&self, recipient: &str, text: &str) -> String {
        e(
            "SendMessage-Request",
            &[
                t("DeliveryReport", "F"),
                e(
                    "MessageInfo",
                    &[
                        e("Recipient", &[recipient.to_string()]),
                        e("Sender", &[user(&self.address)]),
                        t("ContentType", "text/plain"),
                        t("ContentSize", &text.encode_utf16().count().to_string()),
                    ],
                ),
                t("ContentData", text),
            ],
        )
    }

    /// Sends a message; the server's MessageID (SendMessage-Response 200).
    pub async fn send(&mut self, recipient: &str, text: &str) -> String {
        let req = self.send_message(recipient, text);
        let resp = self.request(&req).await;
        self.expect_ok("SendMessage", &resp, "SendMessage-Response");
        resp.child_text("MessageID").unwrap_or_default().to_string()
    }
}

#[test]
fn md5_and_sha1_known_answers() {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        hex(&md5(
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        )),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(
        hex(&sha1(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex(&sha1(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    );
    // The nonce and password as ISO-8859-1: é is one byte, ☺ becomes '?'.
    assert_eq!(
        digest_bytes("MD5", "n\u{e9}", "\u{263a}"),
        base64::engine::general_purpose::STANDARD.encode(md5(b"n\xe9?"))
    );
}

#[test]
fn the_envelope_is_what_the_engine_writes() {
    let ctx = Ctx {
        combo: Combo {
            version: Version::V1_2,
            encoding: Encoding::Xml,
            addressing: Addressing::DomainLess,
        },
        url: String::new(),
        domain: "localhost".into(),
        failures: Arc::new(Mutex::new(Vec::new())),
    };
    let mut a = ctx.android("alice");
    assert_eq!(a.address, "wv:alice12xn");
    let tid = a.next_tid();
    assert_eq!(
        a.envelope(
            "Request",
            Some(&tid),
            &e("Login-Request", &[t("UserID", "wv:a'b")])
        ),
        "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\">\
         <Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
         <TransactionID>1</TransactionID></TransactionDescriptor>\
         <TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">\
         <Login-Request><UserID>wv:a&apos;b</UserID></Login-Request>\
         </TransactionContent></Transaction></Session></WV-CSP-Message>"
    );
    a.session = Some("s1".into());
    assert_eq!(
        a.envelope("Request", None, &e("Polling-Request", &[])),
        "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\">\
         <Session><SessionDescriptor><SessionType>Inband</SessionType>\
         <SessionID>s1</SessionID></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
         </TransactionDescriptor>\
         <TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">\
         <Polling-Request/></TransactionContent></Transaction></Session></WV-CSP-Message>"
    );
    // TransactionIDs go 1..999 and wrap.
    a.tid = 998;
    assert_eq!(
        (a.next_tid(), a.next_tid()),
        ("999".to_string(), "1".to_string())
    );
    // The WBXML is the same tree.
    let xml = a.envelope("Request", Some("7"), &e("GetList-Request", &[]));
    let wb = Android::new(
        Ctx {
            combo: Combo {
                encoding: Encoding::Wbxml,
                ..ctx.combo
            },
            ..ctx.clone()
        },
        "alice12xn",
    )
    .wire_bytes(&xml);
    let back = imps_wire::wbxml::decode(&wb, &Limits::default()).expect("WBXML decodes");
    let tree = imps_wire::xml::decode(xml.as_bytes(), &Limits::default()).expect("XML decodes");
    assert_eq!(back.root, tree);
}
