//! `imps-bench gen-corpus DIR`: large CSP documents for timing converters
//! as processes. The criterion corpus tops out at 44 KB, where process
//! start-up hides the codec; a contact list of thousands of entries or a
//! presence notification for thousands of contacts makes the codec the
//! larger part of the time.
//!
//! Each document is written three ways, like the criterion corpus of
//! `write_bench_corpus`: `NAME.xml` (our encoder's output, no
//! declaration), `NAME.doctype.xml` (the same with a declaration and the
//! DOCTYPE naming the version's FPI, which libwbxml needs to recognise
//! CSP) and `NAME.wbxml` (our WBXML encoder's output).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use imps_wire::examples::{request, response, result};
use imps_wire::{Element, Message, Version, wbxml, xml};

#[derive(Args)]
pub struct GenArgs {
    /// Output directory (created if missing).
    pub dir: PathBuf,
    /// CSP version of the documents.
    #[arg(long, default_value = "1.2")]
    pub csp: String,
    /// ListManage-Response sizes: one document per number of NickName
    /// entries.
    #[arg(long, value_delimiter = ',', default_values_t = [5_000usize])]
    pub nicks: Vec<usize>,
    /// PresenceNotification-Request sizes, in contacts. A size of 0 is
    /// skipped, so `--contacts 0` writes no presence document.
    #[arg(long, value_delimiter = ',', default_values_t = [2_000usize])]
    pub contacts: Vec<usize>,
}

pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let v = Version::parse(&args.csp)
        .ok_or_else(|| anyhow::anyhow!("unknown CSP version {:?}", args.csp))?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    for &n in args.nicks.iter().filter(|&&n| n > 0) {
        write_doc(&args.dir, &format!("list-{n}"), &contact_list(v, n), v)?;
    }
    for &n in args.contacts.iter().filter(|&&n| n > 0) {
        write_doc(
            &args.dir,
            &format!("presence-{n}"),
            &presence_notification(v, n),
            v,
        )?;
    }
    Ok(())
}

/// A ListManage-Response carrying a contact list of `n` nicknames, the
/// largest answer a phone usually gets.
pub fn contact_list(v: Version, n: usize) -> Message {
    let nicks = (0..n).fold(Element::new("NickList"), |l, i| {
        l.with(
            Element::new("NickName")
                .with_text("Name", format!("Contact {i}"))
                .with_text("UserID", format!("wv:contact{i:05}@example.com")),
        )
    });
    let props = Element::new("ContactListProperties").with(
        Element::new("Property")
            .with_text("Name", "DisplayName")
            .with_text("Value", "Friends"),
    );
    let body = Element::new("ListManage-Response")
        .with(result(200, None))
        .with(nicks)
        .with(props);
    response(v, "102", body)
}

/// A PresenceNotification-Request for `n` contacts, as sent when a user
/// with a big list comes online.
pub fn presence_notification(v: Version, n: usize) -> Message {
    let availability = ["AVAILABLE", "NOT_AVAILABLE", "DISCREET"];
    let body = (0..n).fold(Element::new("PresenceNotification-Request"), |b, i| {
        let sub = Element::new("PresenceSubList")
            .with(attribute(
                "OnlineStatus",
                if i % 3 != 0 { "T" } else { "F" },
            ))
            .with(attribute("UserAvailability", availability[i % 3]))
            .with(attribute(
                "StatusText",
                &format!("Status text of contact {i}: busy & <away>"),
            ));
        b.with(
            Element::new("Presence")
                .with_text("UserID", format!("wv:contact{i:05}@example.com"))
                .with(sub),
        )
    });
    request(v, "s100", body)
}

fn attribute(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

/// The prologue libwbxml's xml2wbxml needs to pick the CSP tables; the
/// same text `write_bench_corpus --doctype` writes.
pub fn doctype_prologue(v: Version) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE WV-CSP-Message PUBLIC \"{}\" \
         \"http://www.openmobilealliance.org/DTD/WV-CSP.DTD\">\n",
        v.fpi()
    )
}

fn write_doc(dir: &Path, name: &str, msg: &Message, v: Version) -> anyhow::Result<()> {
    let root = msg.to_element();
    let text = xml::encode(&root);
    let mut with_doctype = doctype_prologue(v).into_bytes();
    with_doctype.extend_from_slice(&text);
    let bin = wbxml::encode(&root, v).with_context(|| format!("{name}: WBXML encoding"))?;
    for (file, bytes) in [
        (format!("{name}.xml"), &text),
        (format!("{name}.doctype.xml"), &with_doctype),
        (format!("{name}.wbxml"), &bin),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_documents_round_trip_through_both_codecs() {
        let v = Version::V1_2;
        let limits = imps_wire::Limits {
            max_elements: 1_000_000,
            ..imps_wire::Limits::default()
        };
        for msg in [contact_list(v, 300), presence_notification(v, 100)] {
            let root = msg.to_element();
            let text = xml::encode(&root);
            let back = xml::decode(&text, &limits).expect("xml decodes");
            assert_eq!(xml::encode(&back), text);
            let bin = wbxml::encode(&root, v).expect("wbxml encodes");
            let back = wbxml::decode(&bin, &limits).expect("wbxml decodes").root;
            assert_eq!(xml::encode(&back), text);
        }
    }
}
