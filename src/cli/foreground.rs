//! Waiting in the foreground for a container process (`run`, `exec` without `--detach`):
//! signals forwarded to it, orphans reaped, a pty proxied when we hold its master, and the
//! exit code as runc reports it (128+N for death by signal N).

use crate::launch::Launched;
use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;

/// Proxies the pty if we hold it, waits for the process, and returns its exit code.
pub fn attach_and_wait(launched: Launched, signals: SigSet) -> Result<i32> {
    let _raw = launched
        .console
        .as_ref()
        .map(|_| crate::tty::RawMode::enter());
    let master_fd = launched.console.as_ref().map(|m| m.as_raw_fd());
    let output = match launched.console {
        Some(m) => Some(crate::tty::proxy(m)?),
        None => None,
    };
    let code = wait_forwarding(launched.init.pid, signals, master_fd)?;
    if let Some(t) = output {
        finish_output(t);
    }
    Ok(code)
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

pub fn block_signals() -> Result<SigSet> {
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

pub fn exit_code_if_dead(init: i32) -> Option<i32> {
    match waitpid(Pid::from_raw(init), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
        _ => None,
    }
}

/// [`exit_code_if_dead`], waiting up to `limit` for a dying init: a SIGKILL is delivered
/// asynchronously, and until the init is a zombie its `state` can look like anything.
pub fn exit_code_once_dead(init: i32, limit: std::time::Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    loop {
        if let Some(code) = exit_code_if_dead(init) {
            return Some(code);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
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
