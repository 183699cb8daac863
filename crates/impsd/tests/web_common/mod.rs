//! Headless Chromium for the browser tests, through chromedriver and the
//! WebDriver client `fantoccini`. Without `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` (Debian's `chromium`, `chromium-driver`; `.ci/run`
//! installs them) a test prints `SKIPPED:` and passes.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use imps_testkit::Backoff;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a browser step may take to show its effect: a browser on a
/// loaded two-core CI machine is slow, and a passing step never waits it
/// out.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(30);

/// One browser test at a time in this process: each starts Chromium
/// instances, which a small machine runs poorly side by side.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running chromedriver; ended when dropped.
pub struct Driver {
    url: String,
    _child: tokio::process::Child,
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

/// Starts chromedriver, or says why the test is skipped (`None`).
pub async fn driver(test: &str) -> Option<Driver> {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(bin).exists() {
            println!(
                "SKIPPED: {test}: {bin} is not installed (Debian packages chromium, chromium-driver)"
            );
            return None;
        }
    }
    let guard = ONE_AT_A_TIME.lock().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    // Ready once it answers on its port.
    let mut backoff = Backoff::new(BROWSER_TIMEOUT);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            backoff.wait().await,
            "chromedriver did not listen on {port}"
        );
    }
    Some(Driver {
        url,
        _child: child,
        _guard: guard,
    })
}

impl Driver {
    /// A new headless browser window on `page`.
    pub async fn browser(&self, page: &str) -> Browser {
        self.browser_with(page, false).await
    }

    /// A browser on `page` that accepts any certificate (WebDriver's
    /// `acceptInsecureCerts`): for a listener with a self-signed one.
    pub async fn browser_accepting_any_certificate(&self, page: &str) -> Browser {
        self.browser_with(page, true).await
    }

    async fn browser_with(&self, page: &str, insecure_certs: bool) -> Browser {
        let mut caps = serde_json::Map::new();
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1000,640",
            "--hide-scrollbars",
        ];
        if insecure_certs {
            caps.insert("acceptInsecureCerts".into(), json!(true));
            args.push("--ignore-certificate-errors");
        }
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session");
        c.goto(page).await.expect("the page loads");
        Browser { c }
    }
}

/// One browser window.
pub struct Browser {
    pub c: Client,
}

impl Browser {
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.select_by_value(value).await.unwrap();
    }

    /// What `js` (an expression over `arguments[0]`) gives for `arg`.
    async fn eval(&self, js: &str, arg: &str) -> serde_json::Value {
        self.c
            .execute(&format!("return ({js});"), vec![json!(arg)])
            .await
            .unwrap()
    }

    /// The texts of the elements matching `css`, one a line (`None` if
    /// none matches).
    pub async fn text(&self, css: &str) -> Option<String> {
        let v = self
            .eval(
                "(l => l.length ? l.map(e => e.textContent).join('\\n') : null)\
                 (Array.from(document.querySelectorAll(arguments[0])))",
                css,
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Waits until an element matching `css` exists and is shown.
    pub async fn wait_visible(&self, css: &str) {
        let js = "(e => !!e && !e.closest('[hidden]'))(document.querySelector(arguments[0]))";
        let mut backoff = Backoff::new(BROWSER_TIMEOUT);
        while self.eval(js, css).await != json!(true) {
            assert!(backoff.wait().await, "{css} never showed");
        }
    }

    /// Waits until the text of `css` contains `want`.
    pub async fn wait_text(&self, css: &str, want: &str) {
        let mut backoff = Backoff::new(BROWSER_TIMEOUT);
        loop {
            let now = self.text(css).await;
            if now.as_deref().is_some_and(|t| t.contains(want)) {
                return;
            }
            assert!(
                backoff.wait().await,
                "{css}: wanted {want:?}, shows {now:?}"
            );
        }
    }

    /// Waits until `css` has attribute `name` equal to `want`.
    pub async fn wait_attr(&self, css: &str, name: &str, want: &str) {
        let js = format!(
            "(e => e ? e.getAttribute('{name}') : null)(document.querySelector(arguments[0]))"
        );
        let mut backoff = Backoff::new(BROWSER_TIMEOUT);
        loop {
            let now = self.eval(&js, css).await;
            if now == json!(want) {
                return;
            }
            assert!(
                backoff.wait().await,
                "{css}[{name}]: wanted {want:?}, is {now}"
            );
        }
    }

    /// Logs in through the login screen and waits for the main screen.
    pub async fn login(&self, user: &str, password: &str) {
        self.type_into("#login-user", user).await;
        self.type_into("#login-password", password).await;
        self.click("#login-button").await;
        self.wait_visible("#main-screen").await;
    }

    /// Writes a screenshot to `$IMPSD_WEB_SCREENSHOTS/<name>.png` when
    /// that is set (the committed ones in docs/screenshots are made so).
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("IMPSD_WEB_SCREENSHOTS") else {
            return;
        };
        let png = self.c.screenshot().await.unwrap();
        let path = PathBuf::from(dir).join(format!("{name}.png"));
        tokio::fs::write(&path, png).await.unwrap();
    }

    pub async fn close(self) {
        let _ = self.c.close().await;
    }
}
