//! `imps`: the command-line client. For now it carries the codec
//! converters operators use to read captured traffic; the chat commands
//! come with the client issue.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use imps_wire::{Limits, Version};

#[derive(Parser)]
#[command(
    name = "imps",
    version,
    about = "IMPS (Wireless Village) client and codec tools"
)]
struct Cli {
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
}

fn main() {
    if let Err(e) = run() {
        eprintln!("imps: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().cmd {
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
