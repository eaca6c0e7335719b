use super::GlobalOptions;
use super::checkpoint::Common;
use super::foreground::{attach_and_wait, block_signals};
use crate::checkpoint::{self, RestoreOptions};
use crate::launch::Launched;
use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not make corral a child subreaper while it waits
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc's command line: CRIU makes the restored root itself, as under runc
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// An LSM profile for the restored processes, TYPE:NAME
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// An LSM mount context for the restored mounts
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let mut criu = a.common.options(g)?;
    criu.lsm_profile = a.lsm_profile.filter(|p| !p.is_empty());
    criu.lsm_mount_context = a.lsm_mount_context.filter(|c| !c.is_empty());
    let opts = RestoreOptions {
        id: a.id.clone(),
        bundle: a.bundle,
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file,
        own_console: !a.detach && a.console_socket.is_none(),
        systemd_cgroup: g.systemd_cgroup,
        rootless: g.rootless()?,
        criu,
    };
    let root = g.state_root()?;
    if !a.detach && !a.no_subreaper {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let forwarded = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let restored = checkpoint::restore(&root, &opts)?;
    let Some(signals) = forwarded else {
        return Ok(0);
    };
    // As runc: in the foreground, restore waits for the container, exits with its status
    // and deletes it.
    let launched = Launched {
        init: restored.init,
        console: restored.console,
    };
    let code = attach_and_wait(launched, signals)?;
    if let Err(e) = root.load_locked(&a.id).and_then(|c| c.delete(true)) {
        crate::log::warn(format!("delete {}: {e}", a.id));
    }
    Ok(code)
}
