use super::GlobalOptions;
use super::create::CommonCreate;
use crate::container::StateRoot;
use crate::launch;
use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;

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

pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    if a.detach && a.keep {
        anyhow::bail!("--detach and --keep cannot be used together");
    }
    let root = g.state_root()?;
    let mut opts = a.common.options(&a.id, g.debug)?;
    opts.own_console = !a.detach && a.common.console_socket.is_none();
    // runc's `run` writes the pid file once the process runs, not when it is created.
    let pid_file = opts.pid_file.take();
    if !a.detach && !a.no_subreaper {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    }
    // Blocked before the container starts, so a fast exit's SIGCHLD is queued, not lost.
    let forwarded = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let launched = launch::create(&root, &opts)?;
    if let Err(e) = root.load_locked(&a.id).and_then(|c| c.start()) {
        // The init may have been killed between create and start; like runc, `run` then
        // reports how it died rather than the failed start.
        let died = exit_code_if_dead(launched.init.pid);
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
    let _raw = launched
        .console
        .as_ref()
        .map(|_| crate::tty::RawMode::enter());
    let master_fd = launched.console.as_ref().map(|m| m.as_raw_fd());
    let output = match launched.console {
        Some(m) => Some(crate::tty::proxy(m)?),
        None => None,
    };
    let code = wait_forwarding(
        launched.init.pid,
        forwarded.expect("blocked above"),
        master_fd,
    )?;
    if let Some(t) = output {
        finish_output(t);
    }
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

/// Lets the copy thread drain what the container printed last, without hanging forever on
/// a pty some escaped process still holds.
fn finish_output(t: std::thread::JoinHandle<()>) {
    for _ in 0..100 {
        if t.is_finished() {
            let _ = t.join();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn forwardable() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        set.remove(s);
    }
    set
}

fn block_signals() -> Result<SigSet> {
    let set = forwardable();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("block signals")?;
    Ok(set)
}

/// Waits for the container's init, forwarding every signal we get to it and reaping
/// orphans (we are their subreaper). Returns the exit code `run` must exit with.
fn wait_forwarding(init: i32, set: SigSet, master: Option<std::os::fd::RawFd>) -> Result<i32> {
    loop {
        if let Some(code) = reap(init)? {
            return Ok(code);
        }
        let sig = set.wait().context("wait for signals")?;
        match sig {
            Signal::SIGCHLD => {}
            Signal::SIGWINCH => {
                if let Some(m) = master {
                    crate::tty::copy_window_size(m);
                }
            }
            other => {
                let _ = nix::sys::signal::kill(Pid::from_raw(init), other);
            }
        }
    }
}

fn exit_code_if_dead(init: i32) -> Option<i32> {
    match waitpid(Pid::from_raw(init), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
        _ => None,
    }
}

fn reap(init: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                return Ok(Some(128 + sig as i32));
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => return Ok(Some(exit_code_unknown())),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}

/// ECHILD: someone else reaped the init; runc reports failure the same way.
fn exit_code_unknown() -> i32 {
    255
}
