//! Writes the example messages of `imps_wire::examples` as seeds: each
//! one in XML and in WBXML, in every version it exists in, into
//! `seeds/examples/` (`<name>-<version>.xml`, `.wbxml`). The older WBXML
//! seeds in `seeds/` cover ten messages of `tests/wbxml_common`; these
//! give the XML, typed CSP and HTTP targets every primitive the examples
//! have, in both encodings, to start from.
//!
//! cd fuzz && cargo run --example write_seeds

use std::path::Path;

use imps_wire::{Encoding, Version, encode, examples};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/examples");
    std::fs::create_dir_all(&dir)?;
    let mut n = 0;
    for v in Version::ALL {
        let tag = match v {
            Version::V1_1 => "11",
            Version::V1_2 => "12",
            Version::V1_3 => "13",
        };
        for (name, msg) in examples::all(v) {
            for (enc, ext) in [(Encoding::Xml, "xml"), (Encoding::Wbxml, "wbxml")] {
                let Ok(bytes) = encode(&msg, enc) else {
                    continue;
                };
                std::fs::write(dir.join(format!("{name}-{tag}.{ext}")), bytes)?;
                n += 1;
            }
        }
    }
    println!("{n} seeds in {}", dir.display());
    Ok(())
}
