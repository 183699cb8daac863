//! Runs one codec stage on one file N times, for instruction counting
//! under callgrind (scripts/codec-callgrind.sh): the cost of one run is
//! (count at N runs - count at 1 run) / (N - 1), which leaves out process
//! start-up and reading the file.
//!
//!   stage_loop xml_decode|wbxml_decode|xml_encode|wbxml_encode FILE N
//!
//! For the encode stages FILE is the input of the matching decode (XML for
//! wbxml_encode, WBXML for xml_encode); it is decoded once, untimed.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_wire::{Limits, Version, wbxml, xml};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: stage_loop STAGE FILE N");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[2]).expect("read input");
    let n: usize = args[3].parse().expect("N");
    // Generous limits, as imps-bench's: the documents are big on purpose.
    let limits = Limits {
        max_size: 64 << 20,
        max_depth: 256,
        max_elements: 10_000_000,
        max_text: 64 << 20,
    };
    match args[1].as_str() {
        "xml_decode" => {
            for _ in 0..n {
                std::hint::black_box(xml::decode(std::hint::black_box(&bytes), &limits).unwrap());
            }
        }
        "wbxml_decode" => {
            for _ in 0..n {
                std::hint::black_box(wbxml::decode(std::hint::black_box(&bytes), &limits).unwrap());
            }
        }
        "wbxml_encode" => {
            let root = xml::decode(&bytes, &limits).unwrap();
            let v = root
                .xmlns()
                .and_then(Version::from_namespace)
                .unwrap_or(Version::V1_2);
            for _ in 0..n {
                std::hint::black_box(wbxml::encode(std::hint::black_box(&root), v).unwrap());
            }
        }
        "xml_encode" => {
            let doc = wbxml::decode(&bytes, &limits).unwrap();
            for _ in 0..n {
                std::hint::black_box(xml::encode(std::hint::black_box(&doc.root)));
            }
        }
        other => {
            eprintln!("unknown stage {other}");
            std::process::exit(2);
        }
    }
}
