//! The init: the child side of `create`, re-executed from a sealed copy of corral.
//!
//! Stage 1 joins and creates namespaces (user first; the parent writes the id maps), then
//! forks stage 2 as a child of the parent so that it is pid 1 of a new pid namespace, and
//! exits. Stage 2 builds the root filesystem and the process's environment, reports ready,
//! blocks on the exec fifo until `start`, and execs the container process.
//! Nothing in this module runs in the parent.

mod namespaces;
mod process;
mod stage2;

use crate::error::{Error, Result};
use crate::sync::{Channel, FromInit, INIT_SOCK_ENV, InitConfig, PROTOCOL_VERSION, ToInit};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;

/// Entry point of `corral init`; never returns.
pub fn main() -> ! {
    // First of all, as runc's nsexec: a process of the container (an `exec` init is in its
    // pid namespace) must not ptrace us, steal the sync socket and forge messages
    // (CVE-2016-9962). Credentials changes keep it off; execve recomputes it for the
    // container process.
    if nix::sys::prctl::set_dumpable(false).is_err() {
        eprintln!("corral init: cannot make the init non-dumpable");
        std::process::exit(1);
    }
    let Some(mut chan) = channel_from_env() else {
        eprintln!("corral init: must be started by corral create/run ({INIT_SOCK_ENV} unset)");
        std::process::exit(1);
    };
    // Before any namespace change: the answer needs the host's /sys/fs/selinux.
    crate::lsm::selinux_enabled();
    let result = stage1(&mut chan);
    // Only errors come back here: stage 1 exits after forking, stage 2 execs.
    if let Err(e) = result {
        let _ = chan.send(&FromInit::Error(e.to_string()));
    }
    std::process::exit(1);
}

fn channel_from_env() -> Option<Channel> {
    let fd: i32 = std::env::var(INIT_SOCK_ENV).ok()?.parse().ok()?;
    let _ = crate::syscall::set_cloexec(fd, true);
    // SAFETY: the parent passed us this fd number for exactly this socket.
    Some(Channel::new(unsafe { UnixStream::from_raw_fd(fd) }))
}

fn recv(chan: &mut Channel) -> Result<ToInit> {
    chan.recv::<ToInit>()
        .map_err(|e| Error::other(format!("read from parent: {e}")))?
        .ok_or_else(|| Error::other("parent went away"))
}

fn send(chan: &mut Channel, msg: &FromInit) -> Result<()> {
    chan.send(msg)
        .map_err(|e| Error::other(format!("write to parent: {e}")))
}

fn stage1(chan: &mut Channel) -> Result<()> {
    let ToInit::Config(cfg) = recv(chan)? else {
        return Err(Error::other("expected the config as first message"));
    };
    if cfg.protocol != PROTOCOL_VERSION {
        return Err(Error::other(format!(
            "init protocol {} does not match parent {}",
            PROTOCOL_VERSION, cfg.protocol
        )));
    }
    set_oom_score_adj(&cfg)?;
    // Read from the host's /proc: before joining the container's mount namespace (exec), or
    // while the new one still shows the host's procfs (create).
    let mut bind_trees = Vec::new();
    let setgroups_allowed = match cfg.join_pid {
        Some(init) => {
            let allowed = process::setgroups_allowed(&init.pid.to_string());
            namespaces::join_container(init, &cfg)?;
            allowed
        }
        None => {
            bind_trees = clone_binds_as_host_root(&cfg)?;
            namespaces::enter(&cfg, chan)?;
            process::setgroups_allowed("self")
        }
    };
    let facts = process::HostFacts { setgroups_allowed };
    // SAFETY: the init is single-threaded (a fresh exec that started no threads).
    let pid = unsafe { crate::syscall::fork_to_parent() }
        .map_err(|e| Error::other(format!("fork container init: {e}")))?;
    if pid == 0 {
        stage2_main(chan, *cfg, facts, bind_trees);
    }
    send(chan, &FromInit::Pid(pid))?;
    std::process::exit(0);
}

fn stage2_main(
    chan: &mut Channel,
    cfg: InitConfig,
    facts: process::HostFacts,
    bind_trees: Vec<Option<std::os::fd::OwnedFd>>,
) -> ! {
    match stage2::run(chan, &cfg, facts, &bind_trees) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = chan.send(&FromInit::Error(e.to_string()));
            std::process::exit(1);
        }
    }
}

/// Bind sources cloned now, while the init is still the host's root (a rootless init has
/// none: it is not root)
/// ([`crate::rootfs::clone_bind_sources`]): every bind of a container with a user namespace,
/// and idmapped binds of any container.
fn clone_binds_as_host_root(cfg: &InitConfig) -> Result<Vec<Option<std::os::fd::OwnedFd>>> {
    let user_ns = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User)
        });
    if !user_ns && !crate::rootfs::has_idmapped_mounts(&cfg.spec) {
        return Ok(Vec::new());
    }
    // A rootless caller has no power over the host's mounts (cloning one needs
    // CAP_SYS_ADMIN where they live): its binds are made inside the user namespace, as
    // runc's are.
    if cfg.cgroup.rootless {
        return Ok(Vec::new());
    }
    crate::rootfs::clone_bind_sources(&cfg.spec, &cfg.bundle, user_ns)
}

/// Written here, while /proc is still the host's and before any namespace is joined, and
/// inherited by the container process: a container cannot redirect a write that happens
/// before we enter it (CVE-2025-52881 went through a container-controlled /proc).
fn set_oom_score_adj(cfg: &InitConfig) -> Result<()> {
    let Some(adj) = cfg.spec.process().as_ref().and_then(|p| p.oom_score_adj()) else {
        return Ok(());
    };
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
        Error::other(format!(
            "process.oomScoreAdj: write /proc/self/oom_score_adj: {e}"
        ))
    })
}
