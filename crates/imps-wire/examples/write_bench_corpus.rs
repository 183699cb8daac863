//! Writes the benchmark corpus (`imps_wire::examples::bench_corpus`) as
//! `<name>.xml` and `<name>.wbxml` files, so other tools (libwbxml's
//! `xml2wbxml` / `wbxml2xml`) can be timed on the same documents.
//!
//! cargo run --release -p imps-wire --example write_bench_corpus -- OUT_DIR [1.1|1.2|1.3]
//!
//! The `.xml` files are exactly what our encoder writes (no declaration, no
//! DOCTYPE). With `--doctype` a `<name>.doctype.xml` is written as well,
//! with the declaration and DOCTYPE naming the version's FPI, which is how
//! libwbxml's converter recognises the CSP language.

use std::path::PathBuf;
use std::process::ExitCode;

use imps_wire::{Version, examples, wbxml, xml};

fn main() -> ExitCode {
    let mut dir = None;
    let mut version = Version::V1_2;
    let mut doctype = false;
    for arg in std::env::args().skip(1) {
        if arg == "--doctype" {
            doctype = true;
        } else if let Some(v) = Version::parse(&arg) {
            version = v;
        } else if dir.is_none() {
            dir = Some(PathBuf::from(arg));
        } else {
            eprintln!("unexpected argument {arg}");
            return ExitCode::FAILURE;
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: write_bench_corpus OUT_DIR [1.1|1.2|1.3] [--doctype]");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut ok = true;
    for (name, msg) in examples::bench_corpus(version) {
        let root = msg.to_element();
        let text = xml::encode(&root);
        let mut files = vec![(format!("{name}.xml"), text.clone())];
        if doctype {
            let mut with = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE WV-CSP-Message PUBLIC \"{}\" \
                 \"http://www.openmobilealliance.org/DTD/WV-CSP.DTD\">\n",
                version.fpi()
            )
            .into_bytes();
            with.extend_from_slice(&text);
            files.push((format!("{name}.doctype.xml"), with));
        }
        match wbxml::encode(&root, version) {
            Ok(bytes) => files.push((format!("{name}.wbxml"), bytes)),
            Err(e) => {
                eprintln!("{name}: WBXML encoding failed: {e}");
                ok = false;
            }
        }
        for (file, bytes) in files {
            let path = dir.join(&file);
            match std::fs::write(&path, &bytes) {
                Ok(()) => println!("{} ({} bytes)", path.display(), bytes.len()),
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    ok = false;
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
