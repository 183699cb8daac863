//! A logged-in user: a client whose session is ready (messages flow), that
//! sends messages and waits for what the server pushes to it.

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use imps_client::{
    Client, ClientConfig, Element, Encoding, HttpClient, HttpTransport, LoginInfo, Message,
    Transaction, Transport, Version, WsClient, WsTransport,
};
use imps_wire::csp;

use crate::wait::{Backoff, DEFAULT_TIMEOUT};

/// The password [`Login`] uses unless told another.
pub const DEFAULT_PASSWORD: &str = "pw";

/// A user's ID as it travels: `wv:<user>@localhost`.
pub fn uid(user: &str) -> String {
    format!("wv:{user}@localhost")
}

/// How to log a user in; `.await` it for an HTTP session, or call
/// [`Login::ws`] for a WebSocket one. By default: CSP 1.3 in XML,
/// password [`DEFAULT_PASSWORD`], ClientID `<user>-phone`, and the session
/// made ready the way a phone does it (ClientCapability asking for pushed
/// messages, then Service-Request), so messages are delivered from then on.
#[must_use = "nothing happens until it is awaited"]
pub struct Login {
    http_addr: SocketAddr,
    user: String,
    password: String,
    version: Version,
    encoding: Encoding,
    client_id: Option<String>,
    delivery: Option<String>,
    timeout: Duration,
}

impl Login {
    /// A login to the server whose HTTP binding is at `http_addr`.
    pub fn new(http_addr: SocketAddr, user: &str) -> Login {
        Login {
            http_addr,
            user: user.into(),
            password: DEFAULT_PASSWORD.into(),
            version: Version::V1_3,
            encoding: Encoding::Xml,
            client_id: None,
            delivery: Some("P".into()),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = password.into();
        self
    }

    pub fn version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }

    pub fn encoding(mut self, e: Encoding) -> Self {
        self.encoding = e;
        self
    }

    /// Both at once, as [`crate::combos`] yields them.
    pub fn combo(self, (v, e): (Version, Encoding)) -> Self {
        self.version(v).encoding(e)
    }

    pub fn client_id(mut self, id: &str) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The InitialDeliveryMethod to ask for: `P` (pushed, the default) or
    /// `N` (notify, then get).
    pub fn delivery(mut self, method: &str) -> Self {
        self.delivery = Some(method.into());
        self
    }

    /// Log in only: no ClientCapability or Service negotiation, so the
    /// session is not ready.
    pub fn not_ready(mut self) -> Self {
        self.delivery = None;
        self
    }

    /// How long the user's waits last before the test fails
    /// ([`DEFAULT_TIMEOUT`] by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn config(&self, url: String) -> ClientConfig {
        let id = self
            .client_id
            .clone()
            .unwrap_or_else(|| format!("{}-phone", self.user));
        ClientConfig::new(url, self.version, self.encoding).with_client_id(id)
    }

    /// Logs in over the HTTP binding; the user polls for what waits.
    pub async fn http(self) -> TestUser<HttpTransport> {
        let url = format!("http://{}/imps", self.http_addr);
        let client = Client::new(self.config(url)).expect("client config is valid");
        self.finish(client).await
    }

    /// Logs in over the HTTP binding served over TLS, trusting the CAs
    /// of `ca_file` (the server's certificate must name 127.0.0.1); the
    /// user polls for what waits.
    pub async fn https(self, ca_file: &std::path::Path) -> TestUser<crate::HttpsTransport> {
        let url = format!("https://{}/imps", self.http_addr);
        let transport = crate::HttpsTransport::new(&url, ca_file, self.version, self.encoding);
        let client = Client::with_transport(transport, self.config(url));
        self.finish(client).await
    }

    /// Logs in over WebSocket; the server pushes what waits.
    pub async fn ws(self) -> TestUser<WsTransport> {
        let url = format!("ws://{}/imps/ws", self.http_addr);
        let client = WsClient::connect_with(self.config(url))
            .await
            .expect("WebSocket connects");
        self.finish(client).await
    }

    async fn finish<T: Inbox>(self, client: Client<T>) -> TestUser<T> {
        let info = client
            .login_password(&self.user, &self.password)
            .await
            .unwrap_or_else(|e| panic!("{} logs in: {e}", self.user));
        if let Some(method) = &self.delivery {
            let v = self.version;
            let caps = Element::new("CapabilityList")
                .with_text("ClientType", "MOBILE_PHONE")
                .with_text("InitialDeliveryMethod", method)
                .with_text("MultiTrans", "1")
                .with_text("SupportedBearer", "HTTP");
            let req = csp::ClientCapabilityRequest {
                // Only 1.1 has it here; the typed message writes it there only.
                client_id: Some(csp::ClientId::url(client.config().client_id.clone())),
                capability_list: caps,
                other: Vec::new(),
            };
            let agreed = client
                .request(req.to_element(v))
                .await
                .expect("ClientCapability answered");
            assert_eq!(agreed.name, "ClientCapability-Response", "{agreed:?}");
            client
                .service_request_all()
                .await
                .unwrap_or_else(|e| panic!("{}: Service-Request: {e}", self.user));
        }
        TestUser {
            client,
            user: self.user,
            info,
            timeout: self.timeout,
            pending: Mutex::new(VecDeque::new()),
        }
    }
}

impl IntoFuture for Login {
    type Output = TestUser<HttpTransport>;
    type IntoFuture = Pin<Box<dyn Future<Output = TestUser<HttpTransport>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.http())
    }
}

/// Where server-originated transactions come from: polling over HTTP,
/// pushes over WebSocket.
pub trait Inbox: Transport + Sized {
    /// What waits now, without waiting.
    fn try_next(client: &Client<Self>) -> impl Future<Output = Option<Message>> + Send;

    /// The next server message, waiting until `deadline`.
    fn next_until(
        client: &Client<Self>,
        deadline: Instant,
    ) -> impl Future<Output = Option<Message>> + Send;
}

impl Inbox for HttpTransport {
    async fn try_next(client: &HttpClient) -> Option<Message> {
        client.poll().await.expect("Polling-Request answered")
    }

    /// Polls, pausing with a [`Backoff`] while nothing waits.
    async fn next_until(client: &HttpClient, deadline: Instant) -> Option<Message> {
        let mut backoff = Backoff::until(deadline);
        loop {
            if let Some(m) = Self::try_next(client).await {
                return Some(m);
            }
            if !backoff.wait().await {
                return Self::try_next(client).await;
            }
        }
    }
}

impl Inbox for WsTransport {
    async fn try_next(client: &WsClient) -> Option<Message> {
        client.next_push(Duration::ZERO).await
    }

    async fn next_until(client: &WsClient, deadline: Instant) -> Option<Message> {
        client
            .next_push(deadline.saturating_duration_since(Instant::now()))
            .await
    }
}

/// A logged-in user. Derefs to its [`Client`] for anything the helpers do
/// not cover (`request`, `answer`, `keep_alive`, ...).
pub struct TestUser<T: Transport = HttpTransport> {
    pub client: Client<T>,
    /// The user's ID as logged in (`alice`).
    pub user: String,
    /// What the Login-Response said (SessionID, KeepAliveTime).
    pub info: LoginInfo,
    timeout: Duration,
    /// Transactions received but not yet handed out (a message may carry
    /// several). The lock is never held across an await.
    pending: Mutex<VecDeque<Transaction>>,
}

impl<T: Transport> Deref for TestUser<T> {
    type Target = Client<T>;

    fn deref(&self) -> &Client<T> {
        &self.client
    }
}

impl<T: Inbox> TestUser<T> {
    pub fn version(&self) -> Version {
        self.client.config().version
    }

    /// The user's ID as it travels (`wv:alice@localhost`).
    pub fn wire_id(&self) -> String {
        uid(&self.user)
    }

    /// A SendMessage-Request from this user to `to` (IDs as logged in),
    /// text/plain, no delivery report; change fields before [`Self::send`].
    pub fn text_message(&self, to: &[&str], text: &str) -> csp::SendMessageRequest {
        csp::SendMessageRequest {
            delivery_report: Some(false),
            message_info: csp::MessageInfo {
                content_type: Some("text/plain".into()),
                content_size: Some(text.len() as u64),
                recipient: Some(csp::Recipient {
                    users: to.iter().map(|u| csp::User::new(uid(u))).collect(),
                    ..Default::default()
                }),
                sender: Some(csp::Sender::user(self.wire_id())),
                ..Default::default()
            },
            content_data: Some(text.to_string()),
            other: Vec::new(),
        }
    }

    /// Sends a SendMessage-Request; the response, whatever its code.
    pub async fn send(&self, req: &csp::SendMessageRequest) -> csp::SendMessageResponse {
        let v = self.version();
        let resp = self
            .client
            .request(req.to_element(v))
            .await
            .expect("SendMessage answered");
        csp::SendMessageResponse::from_element(&resp, v)
            .unwrap_or_else(|e| panic!("not a SendMessage-Response ({e}): {resp:?}"))
    }

    /// Sends `text` to one user and expects 200; the server's MessageID.
    pub async fn send_text(&self, to: &str, text: &str) -> String {
        let resp = self.send(&self.text_message(&[to], text)).await;
        assert_eq!(resp.result.code, 200, "{resp:?}");
        resp.message_id.expect("a MessageID")
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Transaction>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next server-originated transaction (its TransactionID and
    /// body), waiting up to `timeout`; `None` if nothing came.
    pub async fn next_request_within(&self, timeout: Duration) -> Option<(String, Element)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = self.queue().pop_front() {
                return Some((t.id.expect("server requests carry an ID"), t.body));
            }
            let m = T::next_until(&self.client, deadline).await?;
            self.queue().extend(m.transactions);
        }
    }

    /// Waits for a primitive named `name`; anything else that comes first
    /// (presence notices, say) is answered with Status 200 and skipped.
    /// Fails the test after the user's timeout.
    pub async fn expect(&self, name: &str) -> (String, Element) {
        let deadline = Instant::now() + self.timeout;
        while let Some((tid, body)) = self
            .next_request_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            if body.name == name {
                return (tid, body);
            }
            self.client
                .answer_status(&tid)
                .await
                .expect("Status answer sent");
        }
        panic!("{}: no {name} within {:?}", self.user, self.timeout);
    }

    /// Waits for a NewMessage, acknowledges it (MessageDelivered under its
    /// TransactionID, as Android does) and returns it.
    pub async fn receive(&self) -> csp::NewMessage {
        let (tid, body) = self.expect("NewMessage").await;
        let m = csp::NewMessage::from_element(&body, self.version())
            .unwrap_or_else(|e| panic!("not a NewMessage ({e}): {body:?}"));
        let id = m
            .message_info
            .message_id
            .clone()
            .expect("a NewMessage has a MessageID");
        self.ack(&tid, &id).await;
        m
    }

    /// Receives one message and returns its text.
    pub async fn receive_text(&self) -> String {
        self.receive().await.content_data.unwrap_or_default()
    }

    /// Acknowledges message `id` in answer to transaction `tid`.
    pub async fn ack(&self, tid: &str, id: &str) {
        let delivered = csp::MessageDelivered {
            message_id: id.to_string(),
            other: Vec::new(),
        };
        self.client
            .answer(tid, delivered.to_element(self.version()))
            .await
            .expect("MessageDelivered sent");
    }

    /// Everything the server has for this user right now, without
    /// waiting (polls until nothing is left over HTTP; the pushes already
    /// in over WebSocket), each answered with Status 200 as a phone does.
    pub async fn drain(&self) -> Vec<Element> {
        let mut out = Vec::new();
        loop {
            let next = self.queue().pop_front();
            let t = match next {
                Some(t) => t,
                None => match T::try_next(&self.client).await {
                    Some(m) if !m.transactions.is_empty() => {
                        self.queue().extend(m.transactions);
                        continue;
                    }
                    _ => return out,
                },
            };
            if let Some(id) = &t.id {
                self.client
                    .answer_status(id)
                    .await
                    .expect("Status answer sent");
            }
            out.push(t.body);
        }
    }

    /// Logout-Request, expecting success.
    pub async fn logout(&self) {
        self.client.logout().await.expect("logout succeeds");
    }
}
