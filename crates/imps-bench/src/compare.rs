//! `imps-bench compare-codec DIR`: our `imps xml2wbxml` / `imps wbxml2xml`
//! against libwbxml's `xml2wbxml` / `wbxml2xml`, as processes, on the same
//! documents, in one run with the runs alternating (ours, libwbxml,
//! libwbxml, ours, ...) so that a noisy neighbour or a frequency change
//! hits both alike.
//!
//! A process-level comparison includes start-up (dynamic loading, libxml2
//! initialisation for libwbxml). To show what the codec itself costs, each
//! tool's median on the smallest document is also subtracted from its
//! medians ("net"), our codec is timed in this process on the same
//! bytes, and with `--lib-stages` (the helper built from
//! `scripts/libwbxml-stages.c`) each codec stage of both libraries is
//! timed in-process and set against the goals (see `stages.rs`).
//!
//! DIR holds `NAME.xml` (fed to us: our XML decoder refuses a DOCTYPE),
//! `NAME.doctype.xml` (fed to libwbxml, which needs the DOCTYPE to pick
//! the CSP tables) and `NAME.wbxml` (ours, fed to both decoders; libwbxml
//! is told the language with `-l`, as it does not know our numeric
//! public id).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::must_be_dir;
use crate::stages::{self, StageRow};

/// A converter still running after this is killed and the run fails: a
/// hang must not hold the benchmark open.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Args)]
pub struct CompareArgs {
    /// Directory with NAME.xml, NAME.doctype.xml and NAME.wbxml files.
    pub dir: PathBuf,
    /// Timed runs per tool, file and direction.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Untimed runs first, to warm the page cache.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Our converter [default: `imps` next to this binary].
    #[arg(long)]
    pub ours: Option<PathBuf>,
    #[arg(long, default_value = "xml2wbxml")]
    pub lib_xml2wbxml: PathBuf,
    #[arg(long, default_value = "wbxml2xml")]
    pub lib_wbxml2xml: PathBuf,
    /// libwbxml's language name for the documents (CSP11 or CSP12).
    #[arg(long, default_value = "CSP12")]
    pub lang: String,
    /// The libwbxml stage timer (built from scripts/libwbxml-stages.c);
    /// without it only whole processes are compared.
    #[arg(long)]
    pub lib_stages: Option<PathBuf>,
    /// Timed repetitions per in-process stage (each stage also stops
    /// after 5 s).
    #[arg(long, default_value_t = 200)]
    pub stage_runs: usize,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One file in one direction, both tools.
struct Row {
    name: String,
    xml_bytes: u64,
    wbxml_bytes: u64,
    direction: &'static str,
    ours: Stats,
    lib: Stats,
    inproc_ms: f64,
    ours_output_exact: bool,
}

#[derive(Clone, Copy)]
struct Stats {
    mean: f64,
    median: f64,
}

impl Stats {
    fn of(mut ms: Vec<f64>) -> Stats {
        ms.sort_by(f64::total_cmp);
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        let median = ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN);
        Stats { mean, median }
    }
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    must_be_dir(&args.dir)?;
    let ours = match &args.ours {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("imps"),
    };
    let out = tempfile::tempdir()?;
    let (ours_out, lib_out) = (out.path().join("ours.out"), out.path().join("lib.out"));
    let (mut rows, mut stage_rows) = (Vec::new(), Vec::new());
    for name in documents(&args.dir)? {
        let file = |ext: &str| args.dir.join(format!("{name}.{ext}"));
        let (plain, doctype, bin) = (file("xml"), file("doctype.xml"), file("wbxml"));
        let xml_bytes = std::fs::metadata(&plain)?.len();
        let wbxml_bytes = std::fs::metadata(&bin)?.len();
        eprintln!("timing {name} ({xml_bytes} B XML, {wbxml_bytes} B WBXML)");
        let ours_st = stages::ours(
            args.stage_runs,
            &std::fs::read(&plain)?,
            &std::fs::read(&bin)?,
        )?;
        if let Some(helper) = &args.lib_stages {
            let lib = stages::libwbxml(helper, args.stage_runs, &args.lang, &doctype, &bin)?;
            stage_rows.push(StageRow {
                name: name.clone(),
                xml_bytes,
                ours: ours_st,
                lib,
            });
        }

        let mut ours_cmd = Command::new(&ours);
        ours_cmd
            .arg("xml2wbxml")
            .arg(&plain)
            .arg("-o")
            .arg(&ours_out);
        let mut lib_cmd = Command::new(&args.lib_xml2wbxml);
        lib_cmd.arg("-o").arg(&lib_out).arg(&doctype);
        let (o, l) = alternate(args, &mut ours_cmd, &mut lib_cmd)
            .with_context(|| format!("{name} encode"))?;
        let exact = std::fs::read(&ours_out)? == std::fs::read(&bin)?;
        let inproc = (ours_st.xml_decode + ours_st.wbxml_encode) / 1000.0;
        rows.push(Row {
            name: name.clone(),
            xml_bytes,
            wbxml_bytes,
            direction: "encode",
            ours: o,
            lib: l,
            inproc_ms: inproc,
            ours_output_exact: exact,
        });

        let mut ours_cmd = Command::new(&ours);
        ours_cmd.arg("wbxml2xml").arg(&bin).arg("-o").arg(&ours_out);
        let mut lib_cmd = Command::new(&args.lib_wbxml2xml);
        lib_cmd
            .args(["-m", "0", "-l", &args.lang, "-o"])
            .arg(&lib_out)
            .arg(&bin);
        let (o, l) = alternate(args, &mut ours_cmd, &mut lib_cmd)
            .with_context(|| format!("{name} decode"))?;
        let exact = std::fs::read(&ours_out)? == std::fs::read(&plain)?;
        let inproc = (ours_st.wbxml_decode + ours_st.xml_encode) / 1000.0;
        rows.push(Row {
            name,
            xml_bytes,
            wbxml_bytes,
            direction: "decode",
            ours: o,
            lib: l,
            inproc_ms: inproc,
            ours_output_exact: exact,
        });
    }
    print(args, &rows, &stage_rows);
    Ok(())
}

/// Base names of the documents in `dir` that have all three files,
/// smallest first (the first is the start-up baseline).
fn documents(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let fname = entry?.file_name().to_string_lossy().into_owned();
        let Some(name) = fname.strip_suffix(".doctype.xml") else {
            continue;
        };
        let plain = dir.join(format!("{name}.xml"));
        if plain.is_file() && dir.join(format!("{name}.wbxml")).is_file() {
            found.push((std::fs::metadata(&plain)?.len(), name.to_string()));
        }
    }
    if found.is_empty() {
        anyhow::bail!(
            "no NAME.xml + NAME.doctype.xml + NAME.wbxml in {}",
            dir.display()
        );
    }
    found.sort();
    Ok(found.into_iter().map(|(_, n)| n).collect())
}

/// Runs both commands `warmup + runs` times, swapping which goes first
/// each round, and returns their wall-time statistics in milliseconds.
fn alternate(
    args: &CompareArgs,
    ours: &mut Command,
    lib: &mut Command,
) -> anyhow::Result<(Stats, Stats)> {
    let (mut o, mut l) = (Vec::with_capacity(args.runs), Vec::with_capacity(args.runs));
    for round in 0..args.warmup + args.runs.max(1) {
        let (a, b) = if round % 2 == 0 {
            (time(ours)?, time(lib)?)
        } else {
            let b = time(lib)?;
            (time(ours)?, b)
        };
        if round >= args.warmup {
            o.push(a);
            l.push(b);
        }
    }
    Ok((Stats::of(o), Stats::of(l)))
}

/// Wall time of one run of `cmd`, which must succeed.
fn time(cmd: &mut Command) -> anyhow::Result<f64> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    // A watchdog kills the child by its pid if it hangs; waiting in this
    // thread keeps the timing free of polling delays.
    let (done, wait) = mpsc::channel::<()>();
    let pid = child.id().to_string();
    let dog = std::thread::spawn(move || {
        if wait.recv_timeout(PROCESS_TIMEOUT) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let output = child.wait_with_output();
    let elapsed = t0.elapsed();
    let _ = done.send(());
    let _ = dog.join();
    let output = output?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            output.status,
            err.trim()
        );
    }
    Ok(elapsed.as_secs_f64() * 1000.0)
}

fn print(args: &CompareArgs, rows: &[Row], stage_rows: &[StageRow]) {
    // Net = median minus the same tool's median on the smallest document
    // in the same direction: roughly the codec's share of the time.
    let base = |dir: &str| {
        rows.iter()
            .find(|r| r.direction == dir)
            .map(|r| (r.ours.median, r.lib.median))
    };
    let net = |r: &Row| {
        let (bo, bl) = base(r.direction).unwrap_or((0.0, 0.0));
        ((r.ours.median - bo).max(0.0), (r.lib.median - bl).max(0.0))
    };
    if args.json {
        let out: Vec<_> = rows
            .iter()
            .map(|r| {
                let (no, nl) = net(r);
                json!({
                    "file": r.name, "xml_bytes": r.xml_bytes, "wbxml_bytes": r.wbxml_bytes,
                    "direction": r.direction,
                    "ours_ms": {"mean": r.ours.mean, "median": r.ours.median},
                    "libwbxml_ms": {"mean": r.lib.mean, "median": r.lib.median},
                    "ratio_lib_over_ours": r.lib.median / r.ours.median,
                    "ours_inprocess_ms": r.inproc_ms,
                    "net_ms": {"ours": no, "libwbxml": nl},
                    "net_ratio": if no > 0.0 { Some(nl / no) } else { None },
                    "ours_output_exact": r.ours_output_exact,
                })
            })
            .collect();
        let st = stages::to_json(stage_rows);
        println!(
            "{}",
            json!({ "runs": args.runs, "stage_runs": args.stage_runs, "processes": out, "stages": st })
        );
        return;
    }
    println!(
        "runs per cell: {} (alternating, after {} warm-up); times are medians (mean in brackets)",
        args.runs, args.warmup
    );
    println!(
        "| file | XML B | WBXML B | direction | ours ms | libwbxml ms | libwbxml/ours | ours in-process ms | net ours ms | net libwbxml ms | net ratio | ours output exact |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let (no, nl) = net(r);
        let net_ratio = if no > 0.05 {
            format!("{:.1}x", nl / no)
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {} | {} | {:.2} ({:.2}) | {:.2} ({:.2}) | {:.2}x | {:.3} | {:.2} | {:.2} | {} | {} |",
            r.name,
            r.xml_bytes,
            r.wbxml_bytes,
            r.direction,
            r.ours.median,
            r.ours.mean,
            r.lib.median,
            r.lib.mean,
            r.lib.median / r.ours.median,
            r.inproc_ms,
            no,
            nl,
            net_ratio,
            if r.ours_output_exact { "yes" } else { "NO" },
        );
    }
    if !stage_rows.is_empty() {
        stages::print_table(stage_rows);
    }
}
