//! `imps-bench codec-mix`: reads what `cargo bench -p imps-wire --bench
//! codec` left in `target/criterion` and states it as throughput on the
//! realistic mix, one of each corpus document, the way a server sees
//! them: MB/s and messages/s for XML and WBXML, decode and encode.
//!
//! The mix's time is the sum of the documents' mean times, so a big
//! document weighs by its real cost rather than by an average of rates.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::must_be_dir;

#[derive(Args)]
pub struct MixArgs {
    /// Criterion's output directory.
    #[arg(long, default_value = "target/criterion")]
    pub criterion: PathBuf,
    /// The corpus as `write_bench_corpus` wrote it (for document sizes).
    #[arg(long)]
    pub corpus: PathBuf,
    /// The documents of the mix.
    #[arg(long, value_delimiter = ',', default_values_t = ["login".to_string(), "presence-50".into(), "message-1k".into(), "list-500".into()])]
    pub names: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

struct Line {
    codec: &'static str,
    op: &'static str,
    /// (document, bytes, mean ns)
    docs: Vec<(String, u64, f64)>,
}

impl Line {
    fn total_ns(&self) -> f64 {
        self.docs.iter().map(|d| d.2).sum()
    }
    fn total_bytes(&self) -> u64 {
        self.docs.iter().map(|d| d.1).sum()
    }
    fn mb_per_s(&self) -> f64 {
        // bytes per ns * 1e9 / 1e6
        self.total_bytes() as f64 / self.total_ns() * 1e3
    }
    fn msgs_per_s(&self) -> f64 {
        self.docs.len() as f64 / self.total_ns() * 1e9
    }
}

pub fn run(args: &MixArgs) -> anyhow::Result<()> {
    must_be_dir(&args.criterion)?;
    must_be_dir(&args.corpus)?;
    let mut lines = Vec::new();
    for (codec, ext) in [("xml", "xml"), ("wbxml", "wbxml")] {
        for op in ["decode", "encode"] {
            let mut docs = Vec::new();
            for name in &args.names {
                let file = args.corpus.join(format!("{name}.{ext}"));
                let bytes = std::fs::metadata(&file)
                    .with_context(|| format!("size of {}", file.display()))?
                    .len();
                let ns = mean_ns(&args.criterion.join(codec).join(op).join(name))?;
                docs.push((name.clone(), bytes, ns));
            }
            lines.push(Line { codec, op, docs });
        }
    }
    if args.json {
        let out: Vec<Value> = lines
            .iter()
            .map(|l| {
                json!({
                    "codec": l.codec, "op": l.op,
                    "mix_bytes": l.total_bytes(), "mix_ns": l.total_ns(),
                    "mb_per_s": l.mb_per_s(), "msgs_per_s": l.msgs_per_s(),
                    "docs": l.docs.iter().map(|(n, b, ns)| json!({"name": n, "bytes": b, "mean_ns": ns})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", Value::Array(out));
        return Ok(());
    }
    let names: Vec<String> = args.names.iter().map(|n| format!("{n} µs")).collect();
    println!("mean time per document (criterion), and the mix of one of each");
    println!(
        "| codec | op | {} | mix MB/s | mix messages/s |",
        names.join(" | ")
    );
    println!("|---|---|{}---:|---:|", "---:|".repeat(args.names.len()));
    for l in &lines {
        let per_doc: Vec<String> = l.docs.iter().map(|d| format!("{:.2}", d.2 / 1e3)).collect();
        println!(
            "| {} | {} | {} | {:.0} | {:.0} |",
            l.codec,
            l.op,
            per_doc.join(" | "),
            l.mb_per_s(),
            l.msgs_per_s()
        );
    }
    Ok(())
}

/// The mean of a criterion benchmark's latest run, in nanoseconds.
fn mean_ns(bench_dir: &Path) -> anyhow::Result<f64> {
    let path = bench_dir.join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run the criterion bench first)", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    v.pointer("/mean/point_estimate")
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow::anyhow!("{} has no mean/point_estimate", path.display()))
}
