//! `[runtime] worker_threads`: `impsd serve` runs on as many runtime
//! threads as it is told, and says so on /metrics.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMPSD: &str = env!("CARGO_BIN_EXE_impsd");

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `impsd serve` with `workers` runtime threads in `dir` and
/// returns it with its HTTP address.
async fn serve(dir: &Path, workers: usize) -> (Server, String) {
    let cfg = dir.join("impsd.toml");
    let data = dir.join("data");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n\
         data_dir = {:?}\n\
         log = \"warn\"\n\
         [admin]\n\
         listen = \"127.0.0.1:0\"\n\
         [cir]\n\
         tcp_listen = \"\"\n\
         [runtime]\n\
         worker_threads = {workers}\n",
        data.display().to_string(),
    );
    std::fs::write(&cfg, text).expect("writing the config");
    let server = Server(
        Command::new(IMPSD)
            .arg("serve")
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawning impsd serve"),
    );
    let admin = data.join("admin.json");
    let t0 = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&admin)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(h) = v["http"].as_str()
        {
            return (server, h.to_string());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "impsd did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of one unlabelled metric on the server's /metrics page.
async fn metric(http: &str, name: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(http).await.ok()?;
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .ok()?;
    let mut page = String::new();
    s.read_to_string(&mut page).await.ok()?;
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
}

#[tokio::test]
async fn serve_runs_on_the_runtime_threads_its_settings_ask_for() {
    for workers in [1, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, http) = serve(dir.path(), workers).await;
        let seen = metric(&http, "impsd_runtime_workers").await;
        assert_eq!(seen.as_deref(), Some(workers.to_string().as_str()));
        drop(server);
    }
}

/// A thread count over the cap stops `serve` with the setting's name,
/// before any runtime thread is started.
#[test]
fn serve_refuses_a_thread_count_over_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("impsd.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n\
         data_dir = {:?}\n\
         [admin]\n\
         listen = \"127.0.0.1:0\"\n\
         [cir]\n\
         tcp_listen = \"\"\n\
         [runtime]\n\
         worker_threads = {}\n",
        dir.path().join("data").display().to_string(),
        impsd::config::MAX_WORKER_THREADS + 1,
    );
    std::fs::write(&cfg, text).expect("writing the config");
    let mut child = Server(
        Command::new(IMPSD)
            .arg("serve")
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning impsd serve"),
    );
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("waiting for impsd") {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "impsd serve kept running with too many threads"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut err).expect("stderr");
    }
    assert!(err.contains("runtime.worker_threads"), "{err}");
}
