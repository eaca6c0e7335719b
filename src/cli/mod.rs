//! The command line, with runc's commands, global flags and per-command flags. One file per
//! command; each parses its flags and calls into the library. The only syscalls here are the
//! checks of what the caller passed (`--preserve-fds`) and `run`'s child subreaper.

mod check;
mod checkpoint;
mod completion;
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
mod restore;
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
    /// Root directory for storage of container state (tmpfs recommended) [default:
    /// /run/corral, or $XDG_RUNTIME_DIR/corral for an unprivileged user]
    #[arg(long)]
    pub root: Option<PathBuf>,
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
    /// Rootless mode: auto, true or false. auto (the default) is rootless when corral runs
    /// as an unprivileged user, or as root of a user namespace that is not the host's
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
    #[command(after_long_help = EXAMPLES_CREATE)]
    Create(create::Args),
    /// Execute the user process of a created container
    #[command(after_long_help = EXAMPLES_START)]
    Start(start::Args),
    /// Create and start a container
    #[command(after_long_help = EXAMPLES_RUN)]
    Run(run::Args),
    /// Run a new process inside a container
    #[command(after_long_help = EXAMPLES_EXEC)]
    Exec(Box<exec::Args>),
    /// Suspend all processes of a container
    #[command(after_long_help = EXAMPLES_PAUSE)]
    Pause(pause::Args),
    /// Resume all processes of a paused container
    #[command(after_long_help = EXAMPLES_RESUME)]
    Resume(pause::Args),
    /// List the processes of a container
    #[command(after_long_help = EXAMPLES_PS)]
    Ps(ps::Args),
    /// Update the resource limits of a container
    #[command(after_long_help = EXAMPLES_UPDATE)]
    Update(Box<update::Args>),
    /// Stream stats and OOM events of a container, or print its stats once
    #[command(after_long_help = EXAMPLES_EVENTS)]
    Events(events::Args),
    /// Output the state of a container
    #[command(after_long_help = EXAMPLES_STATE)]
    State(state::Args),
    /// Send a signal to the container's init process
    #[command(after_long_help = EXAMPLES_KILL)]
    Kill(kill::Args),
    /// Delete a container and everything it holds
    #[command(after_long_help = EXAMPLES_DELETE)]
    Delete(delete::Args),
    /// List containers started by corral with the given root
    #[command(after_long_help = EXAMPLES_LIST)]
    List(list::Args),
    /// Create a new specification file
    #[command(after_long_help = EXAMPLES_SPEC)]
    Spec(spec::Args),
    /// Show what this build of corral supports, as JSON
    #[command(after_long_help = EXAMPLES_FEATURES)]
    Features(features::Args),
    /// Checkpoint a running container with CRIU
    #[command(after_long_help = EXAMPLES_CHECKPOINT)]
    Checkpoint(Box<checkpoint::Args>),
    /// Restore a container from a checkpoint
    #[command(after_long_help = EXAMPLES_RESTORE)]
    Restore(Box<restore::Args>),
    /// Report what this host can run: namespaces, cgroups, seccomp, LSMs, system calls, CRIU
    #[command(after_long_help = EXAMPLES_CHECK)]
    Check(check::Args),
    /// Print the completion script for bash, zsh or fish
    #[command(after_long_help = EXAMPLES_COMPLETION)]
    Completion(completion::Args),
}

// The EXAMPLES of each command's man page and `--help` (tests/docs.rs renders the pages).
const EXAMPLES_CREATE: &str = "Examples:
  corral create --bundle /containers/web web1
  corral create --bundle . --console-socket /run/term.sock --pid-file /run/web1.pid web1
  corral start web1";
const EXAMPLES_START: &str = "Examples:
  corral create --bundle /containers/web web1 && corral start web1";
const EXAMPLES_RUN: &str = "Examples:
  corral run --bundle /containers/web web1          # in the foreground, exits with the container
  corral run --detach --bundle /containers/web web1";
const EXAMPLES_EXEC: &str = "Examples:
  corral exec web1 ps aux
  corral exec --tty --console-socket /run/term.sock web1 sh
  corral exec --process process.json --detach --pid-file /run/job.pid web1";
const EXAMPLES_PAUSE: &str = "Examples:
  corral pause web1 && corral state web1     # \"status\": \"paused\"";
const EXAMPLES_RESUME: &str = "Examples:
  corral resume web1";
const EXAMPLES_PS: &str = "Examples:
  corral ps web1
  corral ps --format json web1               # the pids, as a JSON array";
const EXAMPLES_UPDATE: &str = "Examples:
  corral update --memory 256M --cpu-quota 50000 --cpu-period 100000 web1
  corral update --resources resources.json web1   # linux.resources as JSON (\"-\": stdin)";
const EXAMPLES_EVENTS: &str = "Examples:
  corral events --stats web1                 # one JSON stats object
  corral events --interval 10s web1          # stats every 10 s, and OOM events, until stopped";
const EXAMPLES_STATE: &str = "Examples:
  corral state web1                          # OCI state JSON: id, status, pid, bundle";
const EXAMPLES_KILL: &str = "Examples:
  corral kill web1                           # SIGTERM to the container's init
  corral kill web1 KILL
  corral kill --all web1 9                   # every process of the container";
const EXAMPLES_DELETE: &str = "Examples:
  corral delete web1                         # a stopped (or created, never started) container
  corral delete --force web1                 # a running one: killed first";
const EXAMPLES_LIST: &str = "Examples:
  corral list
  corral --root /run/containerd/runc/k8s.io list --format json
  corral list --quiet                        # ids only";
const EXAMPLES_SPEC: &str = "Examples:
  mkdir -p bundle/rootfs && cd bundle && corral spec   # writes config.json for rootfs/";
const EXAMPLES_CHECK: &str = "Examples:\n  corral check                      # OK / MISSING / WARN per line; exit 1 if the default config cannot run\n  corral check --format json | jq '.checks[] | select(.verdict != \"OK\")'";
const EXAMPLES_COMPLETION: &str = "Examples:\n  source <(corral completion bash)\n  corral completion fish > ~/.config/fish/completions/corral.fish\n  corral completion zsh > \"${fpath[1]}/_corral\"";
const EXAMPLES_CHECKPOINT: &str = "Examples:
  corral checkpoint --image-path /var/lib/ckpt/web1 web1        # saved, then gone
  corral checkpoint --leave-running --image-path /tmp/snap web1   # saved, still running
  corral checkpoint --pre-dump --image-path /ck/1 web1 && \\
    corral checkpoint --image-path /ck/2 --parent-path ../1 web1";
const EXAMPLES_RESTORE: &str = "Examples:
  corral restore --detach --image-path /var/lib/ckpt/web1 --bundle /containers/web web1
  corral restore --image-path /tmp/snap --bundle . web2     # in the foreground, under a new id";
const EXAMPLES_FEATURES: &str = "Examples:
  corral features | jq .linux.namespaces";

pub fn version_text() -> String {
    format!(
        "corral version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CORRAL_COMMIT"),
        crate::spec::OCI_VERSION
    )
}

/// The state root when `--root` is not given: root's, or the user's runtime dir.
const DEFAULT_ROOT: &str = "/run/corral";

impl GlobalOptions {
    /// Flags that change how every command works are checked before any command runs.
    pub fn check(&self) -> Result<()> {
        match self.rootless.as_str() {
            "auto" | "true" | "false" => Ok(()),
            other => bail!("--rootless: invalid value {other:?} (want auto, true or false)"),
        }
    }

    /// Whether this is a rootless run (`--rootless`, runc's rule for auto): the caller is
    /// not root, or is root only inside a user namespace. Rootless mode uses the cgroups
    /// it can write and runs without the rest, and writes id maps as an unprivileged user.
    pub fn rootless(&self) -> Result<bool> {
        match self.rootless.as_str() {
            "auto" => Ok(!nix::unistd::geteuid().is_root() || in_user_namespace()),
            "true" => Ok(true),
            "false" => Ok(false),
            other => bail!("--rootless: invalid value {other:?} (want auto, true or false)"),
        }
    }

    /// `--root`, or the default: `$XDG_RUNTIME_DIR/corral` for an unprivileged user (and
    /// for root of a user namespace, unless `USER` says root), as runc does, made 0700 with
    /// the sticky bit so the session's cleaner leaves it alone.
    pub fn root_dir(&self) -> Result<PathBuf> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        let Some(xdg) = xdg.filter(|_| honors_xdg_runtime_dir()) else {
            return Ok(PathBuf::from(DEFAULT_ROOT));
        };
        let root = PathBuf::from(xdg).join("corral");
        make_user_root(&root)?;
        Ok(root)
    }

    pub fn state_root(&self) -> Result<StateRoot> {
        Ok(StateRoot::open(&self.root_dir()?)?)
    }
}

/// Whether we run in a user namespace other than the host's (its uid_map is not the
/// identity map of every id).
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

fn honors_xdg_runtime_dir() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    in_user_namespace() && std::env::var("USER").map_or(true, |u| u != "root")
}

fn make_user_root(root: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .with_context(|| {
            format!(
                "create {} (the directory in $XDG_RUNTIME_DIR must be writable by the user)",
                root.display()
            )
        })?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1700))
        .with_context(|| format!("chmod {}", root.display()))
}

/// Writes a command's output to stdout. A reader that has gone (`corral list | head -1`) ends
/// the output quietly, as runc's does; print! would panic, and the release profile aborts.
pub(crate) fn out(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
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
    if !matches!(
        command,
        Command::Spec(_) | Command::Features(_) | Command::Completion(_) | Command::Check(_)
    ) {
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
        Command::Completion(a) => completion::run(a),
        Command::Check(a) => check::run(g, a),
        Command::Checkpoint(a) => checkpoint::run(g, *a),
        Command::Restore(a) => restore::run(g, *a),
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
        assert_eq!(c.global.root, Some(PathBuf::from("/r")));
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
