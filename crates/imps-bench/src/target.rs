//! What a load benchmark talks to: a server given by `--url`, whose users
//! were created beforehand, or the impsd binary started as a child process
//! for the run, the way an operator runs it: a generated TOML config in a
//! temporary dir, listeners on ports the OS picks, users made with
//! `impsd user add-many`. The bench links no server code; it sees the
//! server only through its command line, its files and the wire.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use imps_client::{ClientConfig, Encoding, HttpTransport, Version};

/// The digest-secret key of a server started for the run. Fixed because
/// its data dir is thrown away afterwards; a real server has its own.
const BENCH_SECRET_KEY: &str = "6262626262626262626262626262626262626262626262626262626262626262";

/// How long the child may take to start, and to stop after SIGTERM.
const START_LIMIT: Duration = Duration::from_secs(20);
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Users are `PREFIX0000`, `PREFIX0001`, ... (as `impsd user add-many`
/// names them).
pub fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

/// Settings of a server started for the run, written into its TOML
/// config: section -> `key = value` lines (values already in TOML
/// syntax). The empty section is the top level.
#[derive(Clone, Default)]
pub struct Settings(BTreeMap<Cow<'static, str>, Vec<(Cow<'static, str>, String)>>);

impl Settings {
    /// What every started server gets: loopback, every listener on a port
    /// the OS picks, digest login with a fixed key, no TCP CIR listener
    /// (no client here uses it), warnings only in the log, no per-sender
    /// rate limit (a load test's users send far faster than people do) and
    /// no cap per client address (every simulated client comes from
    /// loopback).
    pub fn base(data_dir: &Path) -> Settings {
        Settings::default()
            .set("im", "send_rate_per_sec", "0".into())
            .set("", "listen", toml_str("127.0.0.1:0"))
            .set("", "data_dir", toml_str(&data_dir.display().to_string()))
            .set("", "log", toml_str("warn"))
            .set("admin", "listen", toml_str("127.0.0.1:0"))
            .set("cir", "tcp_listen", toml_str(""))
            .set("login", "digest", "true".into())
            .set("login", "secret_key", toml_str(BENCH_SECRET_KEY))
            .set("limits", "max_connections_per_address", "0".into())
    }

    /// Sets `section.key` to `value` (TOML syntax), replacing an earlier
    /// value.
    pub fn set(
        mut self,
        section: impl Into<Cow<'static, str>>,
        key: impl Into<Cow<'static, str>>,
        value: String,
    ) -> Settings {
        let key = key.into();
        let lines = self.0.entry(section.into()).or_default();
        lines.retain(|(k, _)| *k != key);
        lines.push((key, value));
        self
    }

    /// Settings given on a command line as `SECTION.KEY=VALUE` (VALUE in
    /// TOML syntax; a top-level key has no section), on top of these.
    pub fn with_args(mut self, args: &[String]) -> anyhow::Result<Settings> {
        for arg in args {
            let (path, value) = arg
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--set {arg}: expected SECTION.KEY=VALUE"))?;
            let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
            if key.is_empty() || value.is_empty() {
                anyhow::bail!("--set {arg}: expected SECTION.KEY=VALUE");
            }
            self = self.set(section.to_string(), key.to_string(), value.to_string());
        }
        Ok(self)
    }

    /// Every setting of `other` on top of these.
    fn with(mut self, other: &Settings) -> Settings {
        for (section, lines) in &other.0 {
            for (key, value) in lines {
                self = self.set(section.clone(), key.clone(), value.clone());
            }
        }
        self
    }

    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(top) = self.0.get("") {
            for (k, v) in top {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        for (section, lines) in self.0.iter().filter(|(s, _)| !s.is_empty()) {
            out.push_str(&format!("\n[{section}]\n"));
            for (k, v) in lines {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    }
}

/// `s` as a TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The impsd binary to start: the one given, else `impsd` beside this
/// executable (both are built into the same target dir).
pub fn impsd_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe().context("finding this executable")?;
    let beside = me.with_file_name("impsd");
    anyhow::ensure!(
        beside.is_file(),
        "no impsd beside {} (build it with `cargo build --release -p impsd`, or give --impsd PATH)",
        me.display()
    );
    Ok(beside)
}

/// A started impsd process, its temp dir and the addresses it bound.
struct ChildServer {
    bin: PathBuf,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    /// Its /proc/PID/stat and /proc/PID/status, opened at the start and
    /// read again in place: under load the bench may hold every file
    /// descriptor its limit allows (one socket per user), and an open
    /// then fails with EMFILE, so the readings were lost exactly when
    /// they mattered (the 100,000-user model printed "not measured").
    proc_files: Option<(std::fs::File, std::fs::File)>,
}

impl ChildServer {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then wait (bounded) for a clean exit; SIGKILL after that.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let t0 = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(st)) => {
                        if !st.success() {
                            eprintln!("{} exited with {st} on SIGTERM", self.bin.display());
                        }
                        break;
                    }
                    Ok(None) if t0.elapsed() < STOP_LIMIT => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        eprintln!(
                            "{} did not stop within {STOP_LIMIT:?}; killed",
                            self.bin.display()
                        );
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        drop(self.dir.take());
    }
}

impl Drop for ChildServer {
    /// On an error path (or a panic) the server must not outlive the run.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a started server's data dir gets before the server starts.
#[derive(Clone, Default)]
pub struct Prepare {
    /// Keep the data here (made once, reused while the same commands
    /// made it) instead of a temporary dir.
    pub data_dir: Option<PathBuf>,
    /// More arguments for `impsd user add-many` of the bench users.
    pub user_args: Vec<String>,
    /// impsd commands (arguments after `impsd`), run in order with the
    /// config; `true`: with `--password-stdin` and the password.
    pub commands: Vec<(Vec<String>, bool)>,
    /// The users exist already (another node of a cluster made them in
    /// the shared database): no `add-many`.
    pub users_exist: bool,
}

/// Where the benchmark sends its requests, and the users it may log in as.
pub struct Target {
    pub url: String,
    pub users: Arc<Vec<String>>,
    pub password: String,
    /// A server started as a child process for this run.
    child: Option<ChildServer>,
}

impl Target {
    /// Uses a running server. Its users must exist already, named as
    /// [`user_name`] makes them, all with `password` (e.g. made with
    /// `impsd user add-many`).
    pub fn external(url: String, prefix: &str, count: usize, password: String) -> Target {
        let users = (0..count).map(|i| user_name(prefix, i)).collect();
        Target {
            url,
            users: Arc::new(users),
            password,
            child: None,
        }
    }

    /// Starts the impsd binary `bin` as a child process with a config made
    /// of [`Settings::base`] and `extra`, after creating `count` users
    /// with `impsd user add-many` in its data dir.
    pub async fn spawn(
        bin: &Path,
        prefix: &str,
        count: usize,
        password: String,
        extra: &Settings,
    ) -> anyhow::Result<Target> {
        Target::spawn_prepared(bin, prefix, count, password, extra, &Prepare::default()).await
    }

    /// Like [`Target::spawn`], with `prep`: a kept data dir, more
    /// arguments for the users' `add-many`, and impsd commands run before
    /// the server starts (a population to search).
    pub async fn spawn_prepared(
        bin: &Path,
        prefix: &str,
        count: usize,
        password: String,
        extra: &Settings,
        prep: &Prepare,
    ) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir().context("creating a temp dir for impsd")?;
        let data = match &prep.data_dir {
            Some(d) => d.clone(),
            None => dir.path().join("data"),
        };
        let cfg_path = dir.path().join("impsd.toml");
        let settings = Settings::base(&data).with(extra);
        std::fs::write(&cfg_path, settings.to_toml()).context("writing impsd's config")?;

        // A kept data dir made with the same commands is used as it is.
        let marker = data.join("imps-bench-prepared");
        let recipe = format!(
            "{prefix} {count} {:?} {:?}\n",
            prep.user_args, prep.commands
        );
        if prep.data_dir.is_some()
            && std::fs::read_to_string(&marker).ok().as_deref() == Some(&recipe)
        {
            eprintln!("reusing the prepared data dir {}", data.display());
        } else {
            if prep.data_dir.is_some() && data.exists() {
                anyhow::ensure!(
                    !data.join("impsd.sqlite").exists() || marker.exists(),
                    "{} holds data imps-bench did not make; give an empty or new dir",
                    data.display()
                );
                std::fs::remove_dir_all(&data)
                    .with_context(|| format!("clearing {}", data.display()))?;
            }
            for (args, with_password) in &prep.commands {
                let t0 = Instant::now();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = if *with_password {
                    run_impsd(bin, &cfg_path, &args, &password)?
                } else {
                    Command::new(bin)
                        .args(&args)
                        .arg("--config")
                        .arg(&cfg_path)
                        .stdin(Stdio::null())
                        .output()
                        .with_context(|| format!("starting {} {}", bin.display(), args.join(" ")))?
                };
                anyhow::ensure!(
                    out.status.success(),
                    "impsd {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                eprintln!(
                    "impsd {}: {} ({:.1} s)",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout).trim(),
                    t0.elapsed().as_secs_f64()
                );
            }
            if !prep.users_exist {
                add_users(bin, &cfg_path, prefix, count, &password, &prep.user_args)?;
            }
            if prep.data_dir.is_some() {
                std::fs::write(&marker, &recipe).context("marking the data dir prepared")?;
            }
        }
        let users = (0..count).map(|i| user_name(prefix, i)).collect();
        // A kept data dir still has the last run's addresses.
        let _ = std::fs::remove_file(data.join("admin.json"));

        // The server's log goes nowhere unless IMPS_BENCH_SERVER_LOG names
        // a file for it (to see why a server gave up under load).
        let log = match std::env::var_os("IMPS_BENCH_SERVER_LOG") {
            Some(path) => Stdio::from(
                std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", Path::new(&path).display()))?,
            ),
            None => Stdio::null(),
        };
        let child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let proc_files = std::fs::File::open(format!("/proc/{pid}/stat"))
            .and_then(|st| Ok((st, std::fs::File::open(format!("/proc/{pid}/status"))?)))
            .ok();
        let mut server = ChildServer {
            bin: bin.to_path_buf(),
            child: Some(child),
            dir: Some(dir),
            proc_files,
        };
        let http = wait_for_addresses(&mut server, &data).await?;
        let url = format!("http://{http}/imps");
        eprintln!(
            "impsd pid {} serving {url} ({})",
            server.pid().unwrap_or(0),
            bin.display()
        );
        Ok(Target {
            url,
            users: Arc::new(users),
            password,
            child: Some(server),
        })
    }

    /// The WebSocket endpoint beside the HTTP binding (`ws_path` of the
    /// default config, on the same host and port).
    pub fn ws_url(&self) -> String {
        let base = self
            .url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{}/ws", base.trim_end_matches('/'))
    }

    /// "child-process" or "external", for the report.
    pub fn kind(&self) -> &'static str {
        if self.child.is_some() {
            "child-process"
        } else {
            "external"
        }
    }

    /// The started server's process ID; `None` for an external server.
    pub fn server_pid(&self) -> Option<u32> {
        self.child.as_ref()?.pid()
    }

    /// CPU time (user + system) the started server has used so far;
    /// `None` for an external server.
    pub fn server_cpu(&self) -> Option<Duration> {
        let (stat, _) = self.child.as_ref()?.proc_files.as_ref()?;
        parse_stat_cpu(&read_again(stat)?, clock_ticks()?)
    }

    /// The started server's resident memory in bytes (VmRSS); `None` for
    /// an external server.
    pub fn server_rss(&self) -> Option<u64> {
        let (_, status) = self.child.as_ref()?.proc_files.as_ref()?;
        parse_status_rss(&read_again(status)?)
    }

    /// The started server's anonymous resident memory in bytes (RssAnon:
    /// heap and stacks, without the pages of the binary, which differ
    /// between two builds by as much as 2 MB at start for no change in
    /// the heap); `None` for an external server.
    pub fn server_rss_anon(&self) -> Option<u64> {
        let (_, status) = self.child.as_ref()?.proc_files.as_ref()?;
        parse_status_kb(&read_again(status)?, "RssAnon:")
    }

    /// Server CPU time used since `start` (a [`Target::server_cpu`]
    /// reading).
    pub fn server_cpu_since(&self, start: Option<Duration>) -> Option<Duration> {
        Some(self.server_cpu()?.saturating_sub(start?))
    }

    /// A client config for this target; `client_id` is set per session.
    pub fn client_config(&self, v: Version, e: Encoding) -> ClientConfig {
        ClientConfig::new(self.url.clone(), v, e)
    }

    /// One HTTP connection pool, to be shared by the sessions of one
    /// worker: a phone keeps its connection, so the benchmark measures the
    /// server's work, not TCP handshakes.
    pub fn transport(&self, v: Version, e: Encoding) -> anyhow::Result<HttpTransport> {
        Ok(HttpTransport::new(&self.client_config(v, e))?)
    }

    /// Stops the started server, if any (SIGTERM, then waits), and
    /// removes its data.
    pub async fn close(self) {
        if let Some(mut server) = self.child {
            let _ = tokio::task::spawn_blocking(move || server.stop()).await;
        }
    }
}

/// Makes the users with `impsd user add-many`, or, with an impsd built
/// before that command existed (an old build in an A/B comparison), with
/// one `impsd user add` per user, a few at a time.
fn add_users(
    bin: &Path,
    cfg: &Path,
    prefix: &str,
    count: usize,
    password: &str,
    more: &[String],
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let count_s = count.to_string();
    let mut args = vec!["user", "add-many", "--prefix", prefix, "--count", &count_s];
    args.extend(more.iter().map(String::as_str));
    let out = run_impsd(bin, cfg, &args, password)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        anyhow::ensure!(
            err.contains("unrecognized subcommand"),
            "{} user add-many failed ({}): {}",
            bin.display(),
            out.status,
            err.trim()
        );
        eprintln!(
            "{} has no `user add-many`; adding {count} users one by one",
            bin.display()
        );
        add_users_one_by_one(bin, cfg, prefix, count, password)?;
    }
    eprintln!(
        "created {count} users in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn add_users_one_by_one(
    bin: &Path,
    cfg: &Path,
    prefix: &str,
    count: usize,
    password: &str,
) -> anyhow::Result<()> {
    let lanes = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..lanes)
            .map(|lane| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for i in (lane..count).step_by(lanes) {
                        let user = user_name(prefix, i);
                        let out = run_impsd(bin, cfg, &["user", "add", &user], password)?;
                        anyhow::ensure!(
                            out.status.success(),
                            "{} user add {user} failed: {}",
                            bin.display(),
                            String::from_utf8_lossy(&out.stderr).trim()
                        );
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("a user-adding thread panicked"))?
        })
    })
}

/// Runs `impsd ARGS --password-stdin --config CFG`, the password on
/// standard input.
fn run_impsd(
    bin: &Path,
    cfg: &Path,
    args: &[&str],
    password: &str,
) -> anyhow::Result<std::process::Output> {
    let mut proc = Command::new(bin)
        .args(args)
        .arg("--password-stdin")
        .arg("--config")
        .arg(cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} {}", bin.display(), args.join(" ")))?;
    if let Some(mut stdin) = proc.stdin.take() {
        // An impsd that refuses the arguments may exit before reading.
        let _ = writeln!(stdin, "{password}");
    }
    Ok(proc.wait_with_output()?)
}

/// Waits until the child has written DATA/admin.json, which holds the
/// address its HTTP binding got; gives up if it exits or takes too long.
async fn wait_for_addresses(server: &mut ChildServer, data: &Path) -> anyhow::Result<String> {
    let admin = data.join("admin.json");
    let t0 = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&admin)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(http) = v.get("http").and_then(|h| h.as_str())
            && !http.is_empty()
        {
            return Ok(http.to_string());
        }
        if let Some(child) = server.child.as_mut()
            && let Some(st) = child.try_wait()?
        {
            anyhow::bail!("{} exited at start: {st}", server.bin.display());
        }
        anyhow::ensure!(
            t0.elapsed() < START_LIMIT,
            "{} did not write {} within {START_LIMIT:?}",
            server.bin.display(),
            admin.display()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// utime + stime of process `pid`, from /proc/PID/stat.
pub fn proc_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&stat, clock_ticks()?)
}

/// The whole of a /proc file opened before, read from its start again
/// (each read from offset 0 gives the current figures).
fn read_again(f: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        if n == 0 {
            break;
        }
        len += n;
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// VmRSS of a /proc/PID/status text, in bytes.
pub fn parse_status_rss(status: &str) -> Option<u64> {
    parse_status_kb(status, "VmRSS:")
}

/// A `kB` field (`VmRSS:`, `RssAnon:`) of a /proc/PID/status text, in
/// bytes.
pub fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Fields 14 and 15 (utime, stime, in clock ticks) of a /proc/PID/stat
/// line. The command name (field 2) is in parentheses and may hold
/// spaces, so fields are counted from its closing parenthesis.
fn parse_stat_cpu(stat: &str, ticks_per_sec: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state): utime is field 14, index 11 here.
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_secs_f64(ticks as f64 / ticks_per_sec as f64))
}

fn clock_ticks() -> Option<u64> {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => Some(t as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_render_sections_and_later_values_win() {
        let s = Settings::base(Path::new("/tmp/x \"y\""))
            .with(&Settings::default().set("im", "offline_notify", toml_str("off")))
            .set("", "log", toml_str("error"));
        let text = s.to_toml();
        assert!(text.starts_with("listen = \"127.0.0.1:0\"\n"), "{text}");
        assert!(text.contains("data_dir = \"/tmp/x \\\"y\\\"\"\n"), "{text}");
        assert!(text.contains("log = \"error\"\n"), "{text}");
        assert!(!text.contains("\"warn\""), "{text}");
        assert!(
            text.contains("\n[im]\nsend_rate_per_sec = 0\noffline_notify = \"off\"\n"),
            "{text}"
        );
        assert!(text.contains("\n[cir]\ntcp_listen = \"\"\n"), "{text}");
    }

    #[test]
    fn command_line_settings_land_in_their_sections_and_bad_ones_are_refused() {
        let args = [
            "im.ack_window_ms=50".to_string(),
            "log=\"info\"".to_string(),
        ];
        let text = Settings::default()
            .set("im", "ack_window_ms", "20".into())
            .with_args(&args)
            .unwrap()
            .to_toml();
        assert!(text.starts_with("log = \"info\"\n"), "{text}");
        assert!(text.contains("\n[im]\nack_window_ms = 50\n"), "{text}");
        for bad in ["im.ack_window_ms", "im.=3", "=3", "im.x="] {
            assert!(
                Settings::default().with_args(&[bad.to_string()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_cpu_from_a_stat_line_with_spaces_in_the_name() {
        let line = "42 (im pd) S 1 42 42 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat_cpu(line, 100), Some(Duration::from_millis(3800)));
        assert_eq!(parse_stat_cpu("garbage", 100), None);
    }

    #[test]
    fn reads_resident_memory_fields_of_a_status_text() {
        let status =
            "Name:\timpsd\nVmRSS:\t   23664 kB\nRssAnon:\t    4176 kB\nRssFile:\t   19488 kB\n";
        assert_eq!(parse_status_rss(status), Some(23664 * 1024));
        assert_eq!(parse_status_kb(status, "RssAnon:"), Some(4176 * 1024));
        assert_eq!(parse_status_kb(status, "RssShmem:"), None);
    }

    #[test]
    fn reads_its_own_cpu() {
        assert!(proc_cpu(std::process::id()).is_some());
    }
}
