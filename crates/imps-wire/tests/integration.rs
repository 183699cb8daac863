//! The integration tests of the codec, one test binary.
//!
//! Each file under tests/ used to be its own test binary, compiled and
//! linked on its own; most of the CI time went to that. Here they are
//! modules of one binary (`autotests = false` in Cargo.toml), each file
//! where it was. Run one file with
//! `cargo test --release -p imps-wire --test integration <file>::`.

// Shared helpers (directories with a mod.rs).
mod wbxml_common;
mod xml_common;

// One module per test file.
mod cir_prop;
mod csp_roundtrip;
mod push_splice;
mod ssp_envelope;
mod wbxml_envelope;
mod wbxml_hostile;
mod wbxml_interop;
mod wbxml_prop;
mod wbxml_roundtrip;
mod wbxml_vectors;
mod xml_decode;
mod xml_hostile;
mod xml_roundtrip;
mod xml_snapshots;
