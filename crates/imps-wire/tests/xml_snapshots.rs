//! Snapshot tests: every example of `imps_wire::examples`, in every version
//! that has it, encoded to XML and compared with the committed file
//! `tests/snapshots/xml/<version>/<name>.xml` (indented by the test's
//! `pretty` helper; the encoder itself writes no whitespace).
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --release -p imps-wire --test integration xml_snapshots::`
//! rewrites the files and removes stale ones.

use crate::xml_common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use imps_wire::{Limits, Version, examples, xml};
use xml_common::pretty;

fn snapshot_dir(v: Version) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/xml")
        .join(v.as_str())
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1")
}

#[test]
fn xml_snapshots_match() {
    let mut failures = Vec::new();
    for v in Version::ALL {
        let dir = snapshot_dir(v);
        let mut names = BTreeSet::new();
        for (name, msg) in examples::all(v) {
            assert!(names.insert(name), "duplicate example name {name} in {v}");
            let compact = xml::encode(&msg.to_element());
            let text = pretty(&compact);
            // The indented form must decode to the same tree, or the
            // snapshot would not be a faithful picture of the encoding.
            let a = xml::decode(&compact, &Limits::default());
            let b = xml::decode(text.as_bytes(), &Limits::default());
            assert_eq!(a, b, "{v}/{name}: indented snapshot decodes differently");
            let path = dir.join(format!("{name}.xml"));
            if updating() {
                fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                continue;
            }
            match fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(expected) => failures.push(format!(
                    "{v}/{name}: differs\n--- expected\n{expected}--- actual\n{text}"
                )),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        // A snapshot without an example is stale: remove it on update,
        // report it otherwise.
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let stem = file.strip_suffix(".xml").unwrap_or(&file);
                if !names.contains(stem) {
                    if updating() {
                        let _ = fs::remove_file(entry.path());
                    } else {
                        failures.push(format!("{v}/{file}: no example produces it"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} snapshot(s) failed (rerun with UPDATE_SNAPSHOTS=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The primitives the brief lists all have an example, in every version
/// that defines them.
#[test]
fn examples_cover_the_primitives_the_server_uses() {
    let wanted = [
        "Login-Request",
        "Login-Response",
        "Logout-Request",
        "Disconnect",
        "KeepAlive-Request",
        "KeepAlive-Response",
        "GetSPInfo-Request",
        "GetSPInfo-Response",
        "ClientCapability-Request",
        "ClientCapability-Response",
        "Service-Request",
        "Service-Response",
        "Polling-Request",
        "Status",
        "GetPresence-Request",
        "GetPresence-Response",
        "UpdatePresence-Request",
        "SubscribePresence-Request",
        "PresenceNotification-Request",
        "GetList-Request",
        "GetList-Response",
        "CreateList-Request",
        "ListManage-Request",
        "ListManage-Response",
        "GetBlockedList-Response",
        "BlockEntity-Request",
        "SendMessage-Request",
        "SendMessage-Response",
        "NewMessage",
        "MessageDelivered",
        "GetMessageList-Response",
        "DeliveryReport-Request",
        "CreateGroup-Request",
        "JoinGroup-Request",
        "JoinGroup-Response",
        "GroupChangeNotice",
        "Invite-Request",
        "InviteUser-Request",
        "Search-Request",
        "Search-Response",
        "SystemMessage-Request",
        "SystemMessage-User",
        "GetPublicProfile-Response",
        "GetSegment-Request",
        "GetSegment-Response",
        "ExtendConversation-Request",
    ];
    for v in Version::ALL {
        let all = examples::all(v);
        for name in wanted {
            let kind = imps_wire::PrimitiveKind::from_name(name)
                .unwrap_or_else(|| panic!("{name} is not a primitive"));
            let present = all
                .iter()
                .any(|(_, m)| m.transactions.iter().any(|t| t.body.name == name));
            assert_eq!(present, kind.since() <= v, "{name} in {v}");
        }
    }
}
