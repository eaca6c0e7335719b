//! The command line, with runc's commands, global flags and per-command flags. One file per
//! command; each parses its flags and calls into the library. The only syscalls here are the
//! checks of what the caller passed (`--preserve-fds`) and `run`'s child subreaper.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod foreground;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::container::StateRoot;
use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "corral",
    about = "corral is a runc-compatible OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOptions {
    /// Root directory for storage of container state (tmpfs recommended)
    #[arg(long, default_value = "/run/corral")]
    pub root: PathBuf,
    /// Write log lines to this file instead of stderr
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Use the systemd cgroup driver: the container's cgroup is a transient systemd unit, and
    /// linux.cgroupsPath reads "slice:prefix:name"
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: auto, true or false
    #[arg(long, default_value = "auto")]
    pub rootless: String,
    /// Path to the criu binary, for checkpoint and restore
    #[arg(long, default_value = "criu")]
    pub criu: PathBuf,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container
    Create(create::Args),
    /// Execute the user process of a created container
    Start(start::Args),
    /// Create and start a container
    Run(run::Args),
    /// Run a new process inside a container
    Exec(Box<exec::Args>),
    /// Suspend all processes of a container
    Pause(pause::Args),
    /// Resume all processes of a paused container
    Resume(pause::Args),
    /// List the processes of a container
    Ps(ps::Args),
    /// Update the resource limits of a container
    Update(Box<update::Args>),
    /// Stream stats and OOM events of a container, or print its stats once
    Events(events::Args),
    /// Output the state of a container
    State(state::Args),
    /// Send a signal to the container's init process
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// List containers started by corral with the given root
    List(list::Args),
    /// Create a new specification file
    Spec(spec::Args),
    /// Show what this build of corral supports, as JSON
    Features(features::Args),
}

pub fn version_text() -> String {
    format!(
        "corral version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CORRAL_COMMIT"),
        crate::spec::OCI_VERSION
    )
}

impl GlobalOptions {
    /// Flags that change how every command works are checked before any command runs.
    pub fn check(&self) -> Result<()> {
        match self.rootless.as_str() {
            "auto" | "false" => {}
            "true" => bail!("--rootless=true: rootless containers are not supported yet"),
            other => bail!("--rootless: invalid value {other:?} (want auto, true or false)"),
        }
        if nix::unistd::geteuid().as_raw() != 0 {
            bail!("corral must run as root (rootless mode is not supported yet)");
        }
        Ok(())
    }

    pub fn state_root(&self) -> Result<StateRoot> {
        Ok(StateRoot::open(&self.root)?)
    }
}

/// An error that carries its own exit code (runc's `exec` exits 255 when it fails).
#[derive(Debug)]
pub struct Failed {
    pub code: i32,
    msg: String,
}

impl Failed {
    pub fn new(code: i32, msg: String) -> Failed {
        Failed { code, msg }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Failed {}

/// `--preserve-fds N` names fds 3..3+N of the caller, and systemd socket activation
/// (LISTEN_FDS) the same range; each must be open, and the count within the open-file limit
/// (a huge count used to wrap around). Called before corral opens any file of its own, so
/// none of ours can be mistaken for one of them.
pub fn check_preserved_fds(cli: &Cli) -> crate::error::Result<()> {
    let n = match &cli.command {
        Some(Command::Create(a)) => a.common.preserve_fds,
        Some(Command::Run(a)) => a.common.preserve_fds,
        Some(Command::Exec(a)) => a.preserve_fds,
        _ => return Ok(()),
    };
    let (listen, _) = crate::launch::socket_activation();
    let what = if listen > 0 {
        format!("--preserve-fds {n} with LISTEN_FDS={listen}")
    } else {
        format!("--preserve-fds {n}")
    };
    let total = i64::from(n.max(0)) + i64::from(listen);
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    if 3 + total as u64 > limit {
        return Err(crate::error::Error::config(
            what,
            format!("more fds than the open-file limit ({limit}) allows"),
        ));
    }
    if let Some(fd) = (3..3 + total as i32).find(|fd| !crate::syscall::fd_is_open(*fd)) {
        return Err(crate::error::Error::config(
            what,
            format!("fd {fd} is not open"),
        ));
    }
    Ok(())
}

/// Runs the command; returns the process exit code. Each command's `run` is
/// `#[inline(never)]`: inlined, they made this one 77 KiB function that every command runs a
/// little of, which the link order (hack/perf/corral.order) cannot pack with the code each
/// command runs.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let g = &cli.global;
    let Some(command) = cli.command else {
        bail!("no command given; see corral --help");
    };
    if !matches!(command, Command::Spec(_) | Command::Features(_)) {
        g.check()?;
    }
    match command {
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::Exec(a) => exec::run(g, *a),
        Command::Pause(a) => pause::pause(g, a),
        Command::Resume(a) => pause::resume(g, a),
        Command::Ps(a) => ps::run(g, a),
        Command::Events(a) => events::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Update(a) => update::run(g, *a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::List(a) => list::run(g, a),
        Command::Spec(a) => spec::run(g, a),
        Command::Features(a) => features::run(g, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn global_flags_before_command_like_go_runc() {
        let c = parse(&[
            "corral",
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "state",
            "x",
        ]);
        assert_eq!(c.global.root, PathBuf::from("/r"));
        assert_eq!(c.global.log_format, LogFormat::Json);
        assert!(matches!(c.command, Some(Command::State(_))));
    }

    #[test]
    fn create_flags() {
        let c = parse(&[
            "corral",
            "create",
            "--bundle",
            "/b",
            "--pid-file=/p",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "id1",
        ]);
        let Some(Command::Create(a)) = c.command else {
            panic!()
        };
        assert_eq!(a.common.bundle, PathBuf::from("/b"));
        assert_eq!(a.common.preserve_fds, 2);
        assert!(a.common.no_pivot && a.common.no_new_keyring);
        assert_eq!(a.id, "id1");
    }

    #[test]
    fn kill_and_delete_flags() {
        let c = parse(&["corral", "kill", "--all", "id", "KILL"]);
        let Some(Command::Kill(a)) = c.command else {
            panic!()
        };
        assert!(a.all);
        assert_eq!(a.signal.as_deref(), Some("KILL"));
        let c = parse(&["corral", "delete", "-f", "id"]);
        let Some(Command::Delete(a)) = c.command else {
            panic!()
        };
        assert!(a.force);
    }

    #[test]
    fn bad_log_format_is_refused() {
        assert!(Cli::try_parse_from(["corral", "--log-format", "xml", "list"]).is_err());
    }
}
