//! `imps`: the command-line client. The codec converters operators use
//! to read captured traffic live here; the chat commands (login, send,
//! inbox, contacts, presence, groups, chat, ...) are `imps_client::cli`.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use imps_client::cli::codes::exit;
use imps_client::cli::{self, CliError};
use imps_wire::{Limits, Version};

#[derive(Parser)]
#[command(
    name = "imps",
    version,
    about = "IMPS (Wireless Village) client and codec tools",
    after_help = "Exit codes: 0 done, 1 local problem, 2 usage, 3 not logged in or session \
                  expired, 4 refused by the server, 5 server failure or not implemented, \
                  6 network, 7 unreadable answer."
)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Decode a WBXML CSP document to XML.
    Wbxml2xml {
        /// Input file; standard input when absent or "-".
        input: Option<PathBuf>,
        /// Output file; standard output when absent.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Encode an XML CSP document as WBXML.
    Xml2wbxml {
        input: Option<PathBuf>,
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// CSP version whose token tables to use (default: the document's
        /// namespace, else 1.2).
        #[arg(long)]
        version: Option<String>,
    },
    #[command(flatten)]
    Im(cli::Command),
}

fn main() {
    let parsed = Cli::parse();
    let code = match parsed.cmd {
        Cmd::Im(cmd) => run_im(&parsed.global, cmd),
        other => match convert(other) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("imps: {e:#}");
                exit::LOCAL
            }
        },
    };
    std::process::exit(code);
}

/// Runs a chat command and prints its report (or error) as text or JSON.
fn run_im(global: &cli::Global, cmd: cli::Command) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imps: starting the runtime: {e}");
            return exit::LOCAL;
        }
    };
    let result = rt.block_on(cli::run(global, cmd));
    // Background tasks (push pumps) must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(report) => {
            if global.json {
                if !report.json.is_null() {
                    println!("{}", report.json);
                }
            } else if !report.human.is_empty() {
                println!("{}", report.human);
            }
            exit::OK
        }
        Err(e) => report_error(global, &e),
    }
}

fn report_error(global: &cli::Global, e: &CliError) -> i32 {
    if global.json {
        println!("{}", e.to_json());
    }
    eprintln!("imps: {e}");
    e.exit_code()
}

fn convert(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Im(_) => Ok(()),
        Cmd::Wbxml2xml { input, output } => {
            let bytes = read_input(input.as_ref())?;
            let doc = imps_wire::wbxml::decode(&bytes, &tool_limits()).context("decoding WBXML")?;
            write_output(output.as_ref(), &imps_wire::xml::encode(&doc.root))
        }
        Cmd::Xml2wbxml {
            input,
            output,
            version,
        } => {
            let bytes = read_input(input.as_ref())?;
            let root = imps_wire::xml::decode(&bytes, &tool_limits()).context("decoding XML")?;
            let v = match version {
                Some(s) => Version::parse(&s)
                    .ok_or_else(|| anyhow::anyhow!("unknown version {s:?}; use 1.1, 1.2 or 1.3"))?,
                None => root
                    .xmlns()
                    .and_then(Version::from_namespace)
                    .unwrap_or(Version::V1_2),
            };
            let out = imps_wire::wbxml::encode(&root, v).context("encoding WBXML")?;
            write_output(output.as_ref(), &out)
        }
    }
}

/// Generous limits: these are files an operator chose to read.
fn tool_limits() -> Limits {
    Limits {
        max_size: 64 * 1024 * 1024,
        max_depth: 256,
        max_elements: 10_000_000,
        max_text: 64 * 1024 * 1024,
    }
}

fn read_input(path: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display())),
        None => {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            Ok(v)
        }
    }
}

fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}
