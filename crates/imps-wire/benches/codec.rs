//! Codec throughput on a realistic mix (`imps_wire::examples::bench_corpus`,
//! CSP 1.2): a Login-Request, a PresenceNotification-Request with 50
//! contacts, a SendMessage-Request with 1 KB of text, and a
//! ListManage-Response with 500 contacts. Each is decoded and encoded in
//! XML and in WBXML; throughput is in bytes of the encoded document.
//!
//! cargo bench -p imps-wire --bench codec

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imps_wire::{Element, Limits, Version, examples, wbxml, xml};

const VERSION: Version = Version::V1_2;

fn corpus() -> Vec<(&'static str, Element)> {
    examples::bench_corpus(VERSION)
        .into_iter()
        .map(|(name, msg)| (name, msg.to_element()))
        .collect()
}

fn xml_codec(c: &mut Criterion) {
    let limits = Limits::default();
    let docs = corpus();
    let mut group = c.benchmark_group("xml");
    for (name, root) in &docs {
        let bytes = xml::encode(root);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode", name), &bytes, |b, bytes| {
            b.iter(|| xml::decode(black_box(bytes), &limits))
        });
        group.bench_with_input(BenchmarkId::new("encode", name), root, |b, root| {
            b.iter(|| xml::encode(black_box(root)))
        });
    }
    group.finish();
}

fn wbxml_codec(c: &mut Criterion) {
    let limits = Limits::default();
    let docs = corpus();
    let mut group = c.benchmark_group("wbxml");
    for (name, root) in &docs {
        // The WBXML codec may still be unfinished; measure what works.
        let bytes = match wbxml::encode(root, VERSION) {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => {
                eprintln!("wbxml/{name}: encoder wrote nothing, skipped");
                continue;
            }
            Err(e) => {
                eprintln!("wbxml/{name}: cannot encode ({e}), skipped");
                continue;
            }
        };
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", name), root, |b, root| {
            b.iter(|| wbxml::encode(black_box(root), VERSION))
        });
        match wbxml::decode(&bytes, &limits) {
            Ok(_) => {
                group.bench_with_input(BenchmarkId::new("decode", name), &bytes, |b, bytes| {
                    b.iter(|| wbxml::decode(black_box(bytes), &limits))
                });
            }
            Err(e) => eprintln!("wbxml/{name}: cannot decode own output ({e}), skipped"),
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the corpus is small and steady; the full suite stays
    // under a minute.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = xml_codec, wbxml_codec
}
criterion_main!(benches);
