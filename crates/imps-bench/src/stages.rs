//! The four codec stages timed inside a process, ours and libwbxml's, so
//! the comparison is not drowned by process start-up on small documents:
//! XML decode, WBXML encode, WBXML decode, XML encode.
//!
//! Ours are timed here; libwbxml's by `scripts/libwbxml-stages.c`, which
//! calls the library's tree API (wbxml_tree_from_xml, _to_wbxml,
//! _from_wbxml, _to_xml) and prints medians. Both read the same files.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use imps_wire::{Limits, Version, wbxml, xml};
use serde_json::{Value, json};

/// A stage stops repeating after this much time, like the C helper's
/// budget, so a slow document cannot hold the run.
const STAGE_BUDGET: Duration = Duration::from_secs(5);

/// Untimed repetitions before measuring, as long as the C helper's.
const WARMUP: Duration = Duration::from_millis(200);

/// Medians in microseconds.
#[derive(Clone, Copy, Default)]
pub struct StageTimes {
    pub xml_decode: f64,
    pub wbxml_encode: f64,
    pub wbxml_decode: f64,
    pub xml_encode: f64,
}

impl StageTimes {
    fn get(&self, stage: &str) -> f64 {
        match stage {
            "xml_decode" => self.xml_decode,
            "wbxml_encode" => self.wbxml_encode,
            "wbxml_decode" => self.wbxml_decode,
            _ => self.xml_encode,
        }
    }
}

/// The stages and the speed-up goal set for each (ours vs libwbxml).
pub const STAGES: [(&str, f64); 4] = [
    ("xml_decode", 3.0),
    ("wbxml_encode", 5.0),
    ("wbxml_decode", 5.0),
    ("xml_encode", 3.0),
];

/// Generous limits: the documents are big on purpose.
pub fn tool_limits() -> Limits {
    Limits {
        max_size: 64 << 20,
        max_depth: 256,
        max_elements: 10_000_000,
        max_text: 64 << 20,
    }
}

/// Times our codec on `plain` (XML as our encoder writes it) and `bin`
/// (its WBXML), the way the C helper times libwbxml: decode then encode,
/// each stage timed on its own, after the same warm-up.
pub fn ours(runs: usize, plain: &[u8], bin: &[u8]) -> anyhow::Result<StageTimes> {
    let limits = tool_limits();
    let (xml_decode, wbxml_encode) = timed_pairs(runs, || {
        let t0 = Instant::now();
        let root = xml::decode(plain, &limits)?;
        let t1 = Instant::now();
        let v = root
            .xmlns()
            .and_then(Version::from_namespace)
            .unwrap_or(Version::V1_2);
        let out = wbxml::encode(&root, v)?;
        let t2 = Instant::now();
        std::hint::black_box((root, out));
        Ok((t1 - t0, t2 - t1))
    })?;
    let (wbxml_decode, xml_encode) = timed_pairs(runs, || {
        let t0 = Instant::now();
        let doc = wbxml::decode(bin, &limits)?;
        let t1 = Instant::now();
        let out = xml::encode(&doc.root);
        let t2 = Instant::now();
        std::hint::black_box((doc, out));
        Ok((t1 - t0, t2 - t1))
    })?;
    Ok(StageTimes {
        xml_decode,
        wbxml_encode,
        wbxml_decode,
        xml_encode,
    })
}

/// Runs `pair` untimed for [`WARMUP`] (allocator, caches and clock settle:
/// the first few decodes of a big document are far slower than the
/// rest), then up to `runs` times within [`STAGE_BUDGET`]; returns the
/// medians of both stages in microseconds.
fn timed_pairs(
    runs: usize,
    mut pair: impl FnMut() -> anyhow::Result<(Duration, Duration)>,
) -> anyhow::Result<(f64, f64)> {
    let warm = Instant::now();
    while warm.elapsed() < WARMUP {
        pair()?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while a.len() < runs.max(1) && (a.is_empty() || start.elapsed() < STAGE_BUDGET) {
        let (x, y) = pair()?;
        a.push(us(x));
        b.push(us(y));
    }
    Ok((median(a), median(b)))
}

/// Runs the C helper on the DOCTYPE variant (libwbxml needs it to know
/// the language) and our WBXML, and reads its medians.
pub fn libwbxml(
    helper: &Path,
    runs: usize,
    lang: &str,
    doctype: &Path,
    bin: &Path,
) -> anyhow::Result<StageTimes> {
    let out = Command::new(helper)
        .arg(runs.max(1).to_string())
        .arg(lang)
        .arg(doctype)
        .arg(bin)
        .output()
        .with_context(|| format!("running {}", helper.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            helper.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> anyhow::Result<f64> {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name}= in helper output {text:?}"))
    };
    Ok(StageTimes {
        xml_decode: field("xml_decode")?,
        wbxml_encode: field("wbxml_encode")?,
        wbxml_decode: field("wbxml_decode")?,
        xml_encode: field("xml_encode")?,
    })
}

/// One document's stage times, ours and libwbxml's.
pub struct StageRow {
    pub name: String,
    pub xml_bytes: u64,
    pub ours: StageTimes,
    pub lib: StageTimes,
}

pub fn to_json(rows: &[StageRow]) -> Value {
    let mut out = Vec::new();
    for r in rows {
        for (stage, goal) in STAGES {
            let (o, l) = (r.ours.get(stage), r.lib.get(stage));
            out.push(json!({
                "file": r.name, "xml_bytes": r.xml_bytes, "stage": stage,
                "ours_us": o, "libwbxml_us": l, "ratio": l / o, "goal": goal, "met": l / o >= goal,
            }));
        }
    }
    Value::Array(out)
}

pub fn print_table(rows: &[StageRow]) {
    println!();
    println!(
        "in-process stages (medians after a 200 ms warm-up, µs); ratio = libwbxml / ours; \
         goal: WBXML ≥5x, XML ≥3x"
    );
    println!("| file | XML B | stage | ours µs | libwbxml µs | ratio | goal met |");
    println!("|---|---:|---|---:|---:|---:|---|");
    for r in rows {
        for (stage, goal) in STAGES {
            let (o, l) = (r.ours.get(stage), r.lib.get(stage));
            let met = if l / o >= goal { "yes" } else { "NO" };
            println!(
                "| {} | {} | {stage} | {o:.1} | {l:.1} | {:.1}x | {met} (≥{goal}x) |",
                r.name,
                r.xml_bytes,
                l / o
            );
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
