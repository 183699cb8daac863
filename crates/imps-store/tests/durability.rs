//! House rule 7 for the SQLite backend: once `create_user` returned Ok the
//! user is in the file, even if the process dies the next instant. We prove
//! it by SIGKILLing a child process that writes in a loop.
//!
//! The child is this same test binary, re-run with `--exact` on an ignored
//! helper test and an environment variable naming the database, so the
//! test needs no extra binary. SIGKILL covers process crashes; surviving
//! power loss additionally relies on `synchronous=FULL`, which a unit test
//! in the crate checks is set.

use imps_core::AccountStore;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use imps_core::NewUser;
use imps_store::{SqliteOptions, SqliteStore};

const DB_ENV: &str = "IMPS_STORE_DURABILITY_DB";
const KILL_AFTER: usize = 200;
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

fn user(id: String) -> NewUser {
    NewUser {
        id,
        password_hash: Some("$argon2id$stub".into()),
        digest_secret: None,
        msisdn: None,
        friendly_name: None,
        created_ms: 1,
    }
}

/// The child's body; does nothing when run by hand without the variable.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "helper: run by sigkill_after_ack_loses_nothing in a child process"]
async fn durability_child() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::var_os(DB_ENV) else {
        return Ok(());
    };
    let store = SqliteStore::open(path.as_ref(), SqliteOptions::default())?;
    // Bounded so an orphaned child cannot fill the disk; the parent kills
    // us long before, and a closed stdout ends us through println!.
    for i in 0..100_000u32 {
        let id = format!("u{i:06}");
        store.create_user(user(id.clone())).await?;
        println!("created {id}");
    }
    Ok(())
}

/// The helper's name as libtest knows it, for `--exact`: its module path
/// without the crate (`durability::durability_child` now that this file is
/// a module of tests/integration.rs; just `durability_child` at a root).
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::durability_child"),
        None => "durability_child".to_owned(),
    }
}

#[tokio::test]
async fn sigkill_after_ack_loses_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("impsd.db");
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--ignored",
            "--exact",
            child_test_name().as_str(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("child has no stdout")?;

    // Read on a thread so the parent can give up on a stuck child.
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        // Not a prefix match: libtest prints "test <name> ... "
        // without a newline, so the first id shares its line.
        let lines = BufReader::new(stdout).lines().map_while(Result::ok);
        for id in lines.filter_map(|l| l.rsplit_once("created ").map(|(_, id)| id.to_owned())) {
            if tx.send(id).is_err() {
                break;
            }
        }
    });

    let mut acked = Vec::new();
    while acked.len() < KILL_AFTER {
        match rx.recv_timeout(CHILD_TIMEOUT) {
            Ok(id) => acked.push(id),
            Err(e) => {
                let _ = child.kill();
                return Err(format!("child stopped after {} users: {e}", acked.len()).into());
            }
        }
    }
    child.kill()?; // SIGKILL: no destructors, no flush, no WAL checkpoint
    child.wait()?;
    // Lines already in the pipe were printed after an Ok, so they count too.
    let _ = reader.join();
    acked.extend(rx.try_iter());

    let store = SqliteStore::open(&db, SqliteOptions::default())?;
    for id in &acked {
        assert!(
            store.user(id).await?.is_some(),
            "user {id} was acknowledged but is missing"
        );
    }
    // The child writes in order, so every id up to the last printed one
    // was acknowledged: a missed line here would be a bug in this test.
    let expected: Vec<String> = (0..acked.len()).map(|i| format!("u{i:06}")).collect();
    assert_eq!(
        acked, expected,
        "the parent must have read every acknowledgement"
    );
    let stored = store.list_users().await?.len();
    // At most one more: the write the child was in when it died may have
    // committed without being acknowledged.
    assert!(
        stored == acked.len() || stored == acked.len() + 1,
        "{stored} stored vs {} acknowledged",
        acked.len()
    );
    store.close().await?;
    Ok(())
}
