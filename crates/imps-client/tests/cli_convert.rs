//! The operators' converters: `imps xml2wbxml` and `imps wbxml2xml` round
//! trip a CSP document, by file and by pipe, and refuse garbage cleanly.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_imps");

const LOGIN_12: &str = r#"<WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>1</TransactionID></TransactionDescriptor><TransactionContent xmlns="http://www.openmobilealliance.org/DTD/WV-TRC1.2"><Login-Request><UserID>wv:alice</UserID><ClientID><URL>phone</URL></ClientID><Password>secret</Password><TimeToLive>600</TimeToLive><SessionCookie>c1</SessionCookie></Login-Request></TransactionContent></Transaction></Session></WV-CSP-Message>"#;

#[test]
fn xml2wbxml_and_back_by_file_and_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("login.xml");
    let wbxml = dir.path().join("login.wbxml");
    std::fs::write(&xml, LOGIN_12).unwrap();
    let st = Command::new(BIN)
        .arg("xml2wbxml")
        .arg(&xml)
        .arg("-o")
        .arg(&wbxml)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&wbxml).unwrap();
    assert_eq!(bytes[0], 0x03, "WBXML 1.3");
    assert_eq!(bytes[1], 0x11, "CSP 1.2 public id, from the namespace");
    assert!(
        bytes.len() < LOGIN_12.len() / 2,
        "WBXML is compact: {} bytes",
        bytes.len()
    );

    // Back through a pipe.
    let mut child = Command::new(BIN)
        .arg("wbxml2xml")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), LOGIN_12);

    // An explicit version wins over the namespace.
    let out = Command::new(BIN)
        .args(["xml2wbxml", "--version", "1.3"])
        .arg(&xml)
        .output()
        .unwrap();
    assert_eq!(out.stdout[1], 0x12);
}

#[test]
fn converters_refuse_garbage_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"\x03\x11\x6a\x00\xff\xff\xff").unwrap();
    let out = Command::new(BIN)
        .arg("wbxml2xml")
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("decoding WBXML"));
    let out = Command::new(BIN)
        .arg("xml2wbxml")
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args(["xml2wbxml", "--version", "9.9"])
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
