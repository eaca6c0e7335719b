//! corral's entry point: parse, set up logging, dispatch, and turn an error into one log
//! line and exit code 1 (a container's own exit code comes back from `run`).

use clap::Parser;
use corral::cli::{self, Cli, LogFormat};
use corral::log;

fn main() {
    // The init stage skips argument parsing and logging set-up: it is on the create path.
    if std::env::args_os().nth(1).is_some_and(|a| a == "init") {
        corral::init::main();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if cli.global.version {
        // A reader that has gone is no error (print! would panic).
        let _ = std::io::Write::write_all(&mut std::io::stdout(), cli::version_text().as_bytes());
        return;
    }
    // Before we open anything ourselves: an fd we open could otherwise land in the range the
    // caller asked to preserve and leak into the container.
    let preflight = cli::check_preserved_fds(&cli);
    let format = match cli.global.log_format {
        LogFormat::Text => log::Format::Text,
        LogFormat::Json => log::Format::Json,
    };
    if let Err(e) = log::init(cli.global.log.as_deref(), format, cli.global.debug) {
        eprintln!("corral: open log file: {e}");
        std::process::exit(1);
    }
    if let Err(e) = preflight {
        let e = e.to_string();
        log::error(&e);
        if log::logs_to_file() {
            eprintln!("{e}");
        }
        std::process::exit(1);
    }
    match cli::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = format!("{e:#}");
            log::error(&msg);
            if log::logs_to_file() {
                eprintln!("{msg}");
            }
            let code = e.downcast_ref::<cli::Failed>().map_or(1, |f| f.code);
            std::process::exit(code);
        }
    }
}
