use super::GlobalOptions;
use super::create::CommonCreate;
use super::foreground::{attach_and_wait, block_signals, exit_code_once_dead};
use crate::container::StateRoot;
use crate::launch;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonCreate,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Do not make corral a child subreaper while it waits
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    if a.detach && a.keep {
        anyhow::bail!("--detach and --keep cannot be used together");
    }
    let root = g.state_root()?;
    let mut opts = a.common.options(g, &a.id)?;
    opts.own_console = !a.detach && a.common.console_socket.is_none();
    // runc's `run` writes the pid file once the process runs, not when it is created.
    let pid_file = opts.pid_file.take();
    if !a.detach && !a.no_subreaper {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    // Blocked before the container starts, so a fast exit's SIGCHLD is queued, not lost.
    let forwarded = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let launched = launch::create(&root, &opts)?;
    crate::fault::point("run:created");
    if let Err(e) = root.load_locked(&a.id).and_then(|c| c.start()) {
        // The init may have been killed between create and start; like runc, `run` then
        // reports how it died rather than the failed start. A SIGKILL still in flight can
        // make the start fail oddly ("already running": the dying init has closed its fifo),
        // so a moment is given for it to end.
        let died = exit_code_once_dead(launched.init.pid, std::time::Duration::from_millis(500));
        if !a.keep || died.is_none() {
            delete_quietly(&root, &a.id);
        }
        return match died {
            Some(code) => Ok(code),
            None => Err(e.into()),
        };
    }
    if let Some(path) = &pid_file
        && let Err(e) = launch::write_pid_file(path, launched.init.pid)
    {
        delete_quietly(&root, &a.id);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    crate::fault::point("run:started");
    let code = attach_and_wait(launched, forwarded.expect("blocked above"))?;
    crate::fault::point("run:exited");
    if !a.keep {
        delete_quietly(&root, &a.id);
    }
    Ok(code)
}

fn delete_quietly(root: &StateRoot, id: &str) {
    if let Err(e) = root.load_locked(id).and_then(|c| c.delete(true)) {
        crate::log::warn(format!("delete {id}: {e}"));
    }
}
