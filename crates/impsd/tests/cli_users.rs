//! `impsd user add-many`: numbered accounts made in one process, as the
//! load tool makes its users, and usable for both kinds of login.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use imps_client::{Client, ClientConfig, Encoding, Version};

const IMPSD: &str = env!("CARGO_BIN_EXE_impsd");

/// A config in `dir`: its own data dir, every listener on a port the OS
/// picks, digest login on, the run's store (`db`).
fn write_config(dir: &Path, db: Option<&crate::common::TestDb>) -> PathBuf {
    let cfg = dir.join("impsd.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n\
         data_dir = {:?}\n\
         log = \"warn\"\n\
         [login]\n\
         digest = true\n\
         secret_key = \"{}\"\n\
         [admin]\n\
         listen = \"127.0.0.1:0\"\n\
         [cir]\n\
         tcp_listen = \"\"\n{}",
        dir.join("data").display().to_string(),
        "5a".repeat(32),
        crate::common::store_toml(db),
    );
    std::fs::write(&cfg, text).expect("writing the config");
    cfg
}

fn impsd(cfg: &Path, args: &[&str]) -> Output {
    Command::new(IMPSD)
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .expect("running impsd")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "impsd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn add_many_makes_numbered_users_and_refuses_existing_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = crate::common::TestDb::from_env();
    let cfg = write_config(dir.path(), db.as_ref());
    let said = ok(&impsd(
        &cfg,
        &[
            "user",
            "add-many",
            "--prefix",
            "Load",
            "--count",
            "3",
            "--password",
            "pw",
        ],
    ));
    assert!(said.contains("added 3 users, up to load0002"), "{said}");
    let more = ok(&impsd(
        &cfg,
        &[
            "user",
            "add-many",
            "--prefix",
            "load",
            "--count",
            "2",
            "--start",
            "9999",
            "--password",
            "pw",
        ],
    ));
    assert!(more.contains("up to load10000"), "{more}");

    let listed = ok(&impsd(&cfg, &["user", "list"]));
    let mut ids: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["load0000", "load0001", "load0002", "load10000", "load9999"]
    );

    // An ID that exists already is an error that names it.
    let again = impsd(
        &cfg,
        &[
            "user",
            "add-many",
            "--prefix",
            "load",
            "--count",
            "1",
            "--start",
            "2",
            "--password",
            "pw",
        ],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("load0002"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn add_many_users_log_in_with_password_and_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = crate::common::TestDb::from_env();
    let cfg = write_config(dir.path(), db.as_ref());
    let mut child = Command::new(IMPSD);
    child.arg("user").arg("add-many").arg("--config").arg(&cfg);
    child.args(["--prefix", "u", "--count", "2", "--password-stdin"]);
    child.stdin(std::process::Stdio::piped());
    child.stdout(std::process::Stdio::piped());
    child.stderr(std::process::Stdio::piped());
    let mut proc = child.spawn().expect("spawning impsd user add-many");
    {
        use std::io::Write;
        let mut stdin = proc.stdin.take().expect("stdin");
        stdin.write_all(b"s3cret\n").expect("writing the password");
    }
    ok(&proc.wait_with_output().expect("add-many"));

    let server = Server(
        Command::new(IMPSD)
            .arg("serve")
            .arg("--config")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawning impsd serve"),
    );
    let admin = dir.path().join("data").join("admin.json");
    let t0 = Instant::now();
    let http = loop {
        if let Ok(text) = std::fs::read_to_string(&admin)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(h) = v["http"].as_str()
        {
            break h.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "impsd did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = format!("http://{http}/imps");
    let client = |id: &str| {
        Client::new(ClientConfig::new(url.clone(), Version::V1_2, Encoding::Xml).with_client_id(id))
            .expect("client")
    };

    let a = client("WV:cli-users-a");
    a.login_password("u0000", "s3cret")
        .await
        .expect("password login");
    a.logout().await.expect("logout");
    let b = client("WV:cli-users-b");
    b.login_digest("u0001", "s3cret", &["SHA"])
        .await
        .expect("digest login");
    b.logout().await.expect("logout");
    let c = client("WV:cli-users-c");
    assert!(c.login_password("u0001", "wrong").await.is_err());
    drop(server);
}

/// `--profiles` and `--msisdn-from` make a searchable population (issue
/// 16's benchmark), and `group add-many` public groups, a share listed.
#[tokio::test]
async fn add_many_with_profiles_and_group_add_many_make_a_searchable_population() {
    use imps_core::store::{GroupField, GroupLeaf, Term, UserField, UserLeaf, search_key};

    let dir = tempfile::tempdir().expect("tempdir");
    let db = crate::common::TestDb::from_env();
    let cfg = write_config(dir.path(), db.as_ref());
    let said = ok(&impsd(
        &cfg,
        &[
            "user",
            "add-many",
            "--prefix",
            "pop",
            "--count",
            "30",
            "--password",
            "pw",
            "--profiles",
            "7",
            "--msisdn-from",
            "+41790000000",
        ],
    ));
    assert!(said.contains("added 30 users, up to pop0029"), "{said}");
    let said = ok(&impsd(
        &cfg,
        &[
            "group",
            "add-many",
            "--count",
            "10",
            "--owner-prefix",
            "pop",
            "--owners",
            "30",
            "--listed-percent",
            "50",
        ],
    ));
    assert!(said.contains("added 10 groups"), "{said}");
    // A second run over the same numbers conflicts and adds nothing.
    let again = impsd(
        &cfg,
        &[
            "user",
            "add-many",
            "--prefix",
            "pop",
            "--count",
            "3",
            "--password",
            "pw",
            "--profiles",
            "7",
        ],
    );
    assert!(!again.status.success());

    let store = impsd::connect_store(&impsd::Config::from_file(&cfg).expect("the config reads"))
        .await
        .expect("opening the store");
    let u = store.user("pop0012").await.unwrap().expect("pop0012");
    assert_eq!(u.msisdn.as_deref(), Some("+41790000012"));
    let p = store.profile("pop0012").await.unwrap().expect("a profile");
    assert!(p.listed() && p.city.is_some() && p.gender.is_some() && p.intention.is_some());
    assert_eq!(p.friendly_name, u.friendly_name);
    let d = store
        .contact_details("pop0012")
        .await
        .unwrap()
        .expect("details");
    assert_eq!(d.email.as_deref(), Some("pop0012@example.org"));
    let by = |f, v: &str| Term::Leaf(UserLeaf::Is(f, search_key(v)));
    let found = store
        .search_users(
            &Term::All(vec![
                by(UserField::FirstName, d.first_name.as_deref().unwrap()),
                by(UserField::LastName, d.last_name.as_deref().unwrap()),
                by(UserField::City, p.city.as_deref().unwrap()),
                Term::Leaf(UserLeaf::Listed),
            ]),
            10,
        )
        .await
        .unwrap();
    assert!(found.contains(&"pop0012".to_string()), "{found:?}");
    // Every group is public, and only the Searchable ones are found.
    let mut listed = 0;
    for n in 0..10 {
        let t = Term::Leaf(GroupLeaf::Is(
            GroupField::Name,
            search_key(&format!("Group {n}")),
        ));
        listed += store.search_groups(&t, 5).await.unwrap().len();
    }
    assert!((1..10).contains(&listed), "{listed} of 10 groups listed");
    drop(store);
}
