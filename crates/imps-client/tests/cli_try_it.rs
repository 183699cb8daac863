//! docs/try-it.md promises a newcomer a chat in a handful of commands.
//! This runs exactly the first `sh` block of that page, line by line,
//! with the real `impsd` and `imps` binaries, so the page and the
//! program cannot drift apart. The only change is the address: the
//! page's 127.0.0.1:8080 becomes a free port here (by replacing the text
//! and by IMPSD_LISTEN, which `impsd serve` reads).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMPS: &str = env!("CARGO_BIN_EXE_imps");

/// The commands of the first ```sh block under "## Try it".
fn doc_commands() -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/try-it.md"))
            .expect("docs/try-it.md exists");
    let start = doc.find("## Try it").expect("a Try it section");
    let block = doc[start..].split("```sh\n").nth(1).expect("an sh block");
    let block = block.split("```").next().unwrap_or("");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `impsd` from the same target dir as `imps`: the one a workspace build made,
/// else built now by
/// cargo in the same profile: a test can only name its own package's
/// binaries, and a stale server would test the wrong thing.
fn impsd_binary() -> PathBuf {
    let imps = Path::new(IMPS);
    let dir = imps.parent().expect("bin dir");
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    // In a workspace test run (`cargo test --workspace`, as CI does) cargo
    // has just built impsd into the same directory. Building it again from
    // inside a test would wait for the build lock the outer cargo holds.
    let built = dir.join("impsd");
    if built.exists() {
        return built;
    }
    let target = dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-q",
        "-p",
        "impsd",
        "--bin",
        "impsd",
        "--target-dir",
    ])
    .arg(target)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile == "release" {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("cargo runs");
    assert!(st.success(), "building impsd failed");
    dir.join("impsd")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cli_try_it_runs_exactly_as_documented() {
    let commands = doc_commands();
    assert!(
        commands.len() >= 5,
        "the block has the walkthrough: {commands:?}"
    );
    let impsd = impsd_binary();
    let bin_dir = tempfile::tempdir().unwrap();
    // Put both binaries on PATH under their plain names.
    std::os::unix::fs::symlink(IMPS, bin_dir.path().join("imps")).unwrap();
    std::os::unix::fs::symlink(&impsd, bin_dir.path().join("impsd")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |line: &str| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(line.replace("127.0.0.1:8080", &addr))
            .current_dir(work.path())
            .env("PATH", &path)
            .env("HOME", work.path())
            .env("XDG_CONFIG_HOME", work.path().join(".config"))
            .env("IMPSD_LISTEN", &addr)
            .env("IMPSD_ADMIN_LISTEN", "127.0.0.1:0")
            .env("IMPSD_CIR_TCP_LISTEN", "127.0.0.1:0")
            .env("IMPSD_LOG", "warn")
            .env_remove("IMPS_PROFILE")
            .env_remove("IMPSD_CONFIG");
        c
    };
    let mut server = None;
    let mut last = String::new();
    for line in &commands {
        if let Some(bg) = line.strip_suffix('&') {
            // `exec` so killing the child stops the server itself.
            let child = sh(&format!("exec {}", bg.trim()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            server = Some(KillOnDrop(child));
            wait_for(&addr);
            continue;
        }
        let out = sh(line).output().unwrap();
        assert!(
            out.status.success(),
            "`{line}` failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        last = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    assert!(server.is_some(), "the block starts a server");
    assert!(
        last.contains("alice: Hello Bob!"),
        "the last command shows alice's message, as the page says: {last:?}"
    );
    let profile = work.path().join(".config/imps/alice.json");
    assert!(profile.exists(), "--profile alice lives in the config dir");
}

/// Waits until the server accepts connections (it logs `impsd ready`
/// just before).
fn wait_for(addr: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("impsd did not start listening on {addr}");
}
