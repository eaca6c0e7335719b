//! Stage 2: pid 1 of the container. Builds the root filesystem, sets up the process, tells
//! the parent it is ready, waits for `start` on the exec fifo, and execs.

use super::{recv, send};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::rootfs;
use crate::sync::{Channel, FromInit, InitConfig, ToInit};
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxNamespaceType;
use std::convert::Infallible;
use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};

pub fn run(
    chan: &mut Channel,
    cfg: &InitConfig,
    facts: super::process::HostFacts,
    bind_trees: &[Option<std::os::fd::OwnedFd>],
) -> Result<Infallible> {
    set_parent_death_signal(Some(Signal::SIGKILL))?;
    let hook_state = match recv(chan)? {
        ToInit::Go(state) => state,
        other => return Err(Error::other(format!("expected go, got {other:?}"))),
    };
    nix::unistd::setsid().ctx(|| "setsid")?;
    // `create` may go without a process (the spec needs one only at `start`, which refuses
    // to start such a container); `exec` always has one.
    let process = cfg.spec.process().as_ref();
    if cfg.join_pid.is_some() {
        let process = process.ok_or_else(|| Error::other("process is missing"))?;
        // exec: the container's rootfs is our root since we joined its mount namespace.
        if process.terminal().unwrap_or(false) {
            let root =
                rootfs::resolve::RootDir::open(std::path::Path::new("/")).ctx(|| "open /")?;
            setup_terminal(cfg, process, &root, false)?;
        }
    } else {
        build_container(cfg, process, chan, hook_state.as_deref(), bind_trees)?;
    }
    let exec = match process {
        Some(process) => Some(super::process::prepare(cfg, process, facts, &mut |fd| {
            send(chan, &FromInit::SeccompListener)?;
            crate::syscall::send_fd(chan.stream(), std::os::fd::AsRawFd::as_raw_fd(&fd))
                .ctx(|| "send the seccomp notify fd to the parent")
        })?),
        None => None,
    };

    // Our own fds (sync socket, fifo, ...) must not reach the container process.
    crate::syscall::cloexec_from(3 + cfg.preserve_fds).ctx(|| "mark fds close-on-exec")?;
    crate::syscall::reset_signals();
    // Changing credentials cleared the parent-death signal; the parent still holds us.
    set_parent_death_signal(Some(Signal::SIGKILL))?;
    send(chan, &FromInit::Ready)?;
    match recv(chan)? {
        ToInit::Commit => {}
        other => return Err(Error::other(format!("expected commit, got {other:?}"))),
    }
    set_parent_death_signal(None)?;
    send(chan, &FromInit::Committed)?;

    if let Some(fifo) = cfg.fifo_fd {
        wait_for_start(fifo);
        if let Some(state) = &hook_state {
            let mut state = state.as_ref().clone();
            state.status = "created".to_string();
            if let Err(e) = hooks::run(&cfg.spec, hooks::Kind::StartContainer, &state) {
                eprintln!("corral: {e}");
                std::process::exit(1);
            }
        }
    }
    // CVE-2024-21626: closed, not only close-on-exec: execve resolves its path before it
    // closes those, so a leaked fd (a host directory) would still serve as
    // `/proc/self/fd/N/...`.
    close_fds_from(3 + cfg.preserve_fds);
    let Some(exec) = exec else {
        eprintln!("corral: the container has no process to start");
        std::process::exit(1);
    };
    let err = exec.exec();
    // The parent is gone; the container's stderr is the only place left to say why.
    eprintln!("corral: exec {:?} failed: {err}", exec.path);
    std::process::exit(127);
}

/// `create`: the root filesystem, console, sysctls, masked paths, the switch into the rootfs
/// and the hostnames.
fn build_container(
    cfg: &InitConfig,
    process: Option<&oci_spec::runtime::Process>,
    chan: &mut Channel,
    hook_state: Option<&crate::oci_state::OciState>,
    bind_trees: &[Option<std::os::fd::OwnedFd>],
) -> Result<()> {
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    if !cfg.no_new_keyring {
        // The keyring carries the process's label, as with runc; later keys get the default.
        let label = process.and_then(super::process::selinux_label);
        if let Some(label) = label {
            crate::lsm::set_selinux_key_label(label).ctx(|| "process.selinuxLabel")?;
        }
        join_keyring(&cfg.id)?;
        if label.is_some() {
            crate::lsm::set_selinux_key_label("").ctx(|| "process.selinuxLabel")?;
        }
    }
    let spec = &cfg.spec;
    let has_ns = |t: LinuxNamespaceType| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
    };
    let plan = rootfs::Plan {
        spec,
        rootfs: &cfg.rootfs,
        bundle: &cfg.bundle,
        in_userns: has_ns(LinuxNamespaceType::User),
        own_mount_ns: has_ns(LinuxNamespaceType::Mount),
        cgroup: &cfg.cgroup,
        bind_trees,
    };
    let root = rootfs::mount_all(&plan)?;
    run_creation_hooks(cfg, chan, hook_state)?;
    if let Some(process) = process.filter(|p| p.terminal().unwrap_or(false)) {
        setup_terminal(cfg, process, &root, true)?;
    }
    write_sysctls(spec)?;
    rootfs::apply_path_rules(&root, spec)?;
    rootfs::enter(root, spec, cfg.no_pivot, plan.own_mount_ns)?;
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::make_root_readonly()?;
    }
    set_hostnames(spec, has_ns(LinuxNamespaceType::Uts))
}

/// prestart and createRuntime (run by the parent, which we wait for), then createContainer
/// (run here, in the container's namespaces, before pivot_root).
fn run_creation_hooks(
    cfg: &InitConfig,
    chan: &mut Channel,
    state: Option<&crate::oci_state::OciState>,
) -> Result<()> {
    let spec = &cfg.spec;
    if !hooks::hooks_of(spec, hooks::Kind::Prestart).is_empty()
        || !hooks::hooks_of(spec, hooks::Kind::CreateRuntime).is_empty()
    {
        send(chan, &FromInit::RunHooks)?;
        match recv(chan)? {
            ToInit::HooksDone => {}
            other => return Err(Error::other(format!("expected hooks done, got {other:?}"))),
        }
    }
    if let Some(state) = state {
        hooks::run_in(spec, hooks::Kind::CreateContainer, state, Some(&cfg.rootfs))?;
    }
    Ok(())
}

fn setup_terminal(
    cfg: &InitConfig,
    process: &oci_spec::runtime::Process,
    root: &rootfs::resolve::RootDir,
    dev_console: bool,
) -> Result<()> {
    let console = cfg
        .console_fd
        .ok_or_else(|| Error::other("terminal requested without a console socket"))?;
    let size = process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    crate::tty::setup_console(root, console, size, dev_console)
}

fn set_parent_death_signal(sig: Option<Signal>) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(sig).ctx(|| "prctl(PR_SET_PDEATHSIG)")
}

fn join_keyring(id: &str) -> Result<()> {
    match crate::syscall::join_session_keyring(&format!("_ses.{id}")) {
        Ok(()) => Ok(()),
        // Kernels without keyrings, or a user namespace that may not create one.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOSYS) | Some(libc::EDQUOT) | Some(libc::EACCES)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e).ctx(|| "join session keyring"),
    }
}

/// Sysctls go through the host's /proc (not the container's, which an image could shadow);
/// the kernel applies them to the namespaces we are in.
fn write_sysctls(spec: &oci_spec::runtime::Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    for (key, value) in sysctl {
        let path = crate::spec::sysctl::proc_path(&crate::spec::sysctl::dotted(&key));
        std::fs::write(&path, &value).ctx(|| format!("linux.sysctl.{key}: write {path}"))?;
    }
    Ok(())
}

fn set_hostnames(spec: &oci_spec::runtime::Spec, has_uts: bool) -> Result<()> {
    let hostname = spec.hostname().as_deref().filter(|h| !h.is_empty());
    let domainname = spec.domainname().as_deref().filter(|h| !h.is_empty());
    if (hostname.is_some() || domainname.is_some()) && !has_uts {
        return Err(Error::config(
            "hostname",
            "setting a hostname needs a uts namespace",
        ));
    }
    if let Some(h) = hostname {
        nix::unistd::sethostname(h).ctx(|| "hostname: sethostname")?;
    }
    if let Some(d) = domainname {
        crate::syscall::set_domainname(d).ctx(|| "domainname: setdomainname")?;
    }
    Ok(())
}

/// Closes every fd from `first` up: with close_range, or one by one from /proc/self/fd where
/// it is missing or a seccomp filter refuses it (those fds are close-on-exec already).
fn close_fds_from(first: RawFd) {
    if crate::syscall::close_from(first) {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // Nothing of ours uses these fds any more; the process execs next.
        let _ = nix::unistd::close(fd);
    }
}

/// Blocks until `start` writes a byte into the exec fifo.
fn wait_for_start(fifo_fd: RawFd) {
    // SAFETY: the parent passed us this fd for the fifo; nothing else owns it.
    let mut fifo = unsafe { std::fs::File::from_raw_fd(fifo_fd) };
    let mut byte = [0u8; 1];
    loop {
        match fifo.read(&mut byte) {
            Ok(1) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("corral: read exec fifo: {e}");
                std::process::exit(1);
            }
        }
    }
}
