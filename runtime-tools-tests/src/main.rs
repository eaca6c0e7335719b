//! corral-conformance: the OCI runtime-spec conformance suite, run against any runc-compatible
//! runtime binary through its command line.
//!
//! `corral-conformance run --runtime PATH [--global-arg ARG]... [--filter NAME] [--json FILE]`
//! prints TAP and a `N passed, N failed, N skipped` line; `report` compares result files,
//! renders the README table and enforces the expected-failures list.

mod cases;
mod harness;
mod report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the cases against one runtime.
    Run(cases::RunArgs),
    /// List the cases with what each checks.
    List,
    /// Compare result files, write the markdown table, and gate on the expected failures.
    Report(report::ReportArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Run(args) => cases::run(args),
        Cmd::List => {
            for c in cases::all() {
                println!("{:32} {}", c.name, c.about);
            }
            Ok(0)
        }
        Cmd::Report(args) => report::report(args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("corral-conformance: {e}");
            std::process::exit(2);
        }
    }
}

/// The checker binary: `--checker`, else next to this binary's static build.
pub fn default_checker() -> PathBuf {
    PathBuf::from("target/x86_64-unknown-linux-gnu/release/oci-checker")
}
