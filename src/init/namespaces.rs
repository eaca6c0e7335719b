//! Stage 1: join the namespaces the config names by path, then create the new ones.
//! The user namespace goes first in both steps: it owns the others.

use super::{recv, send};
use crate::error::{Context, Error, Result, at};
use crate::sync::{Channel, FromInit, InitConfig, ToInit};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::fs::File;

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

pub fn enter(cfg: &InitConfig, chan: &mut Channel) -> Result<()> {
    let namespaces: Vec<LinuxNamespace> = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    join_existing(&namespaces)?;
    let creates = |t| {
        namespaces
            .iter()
            .any(|n| n.typ() == t && n.path().is_none())
    };
    if creates(LinuxNamespaceType::User) {
        create_user_namespace(cfg, chan)?;
    }
    let mut flags = CloneFlags::empty();
    for ns in namespaces.iter().filter(|n| n.path().is_none()) {
        if ns.typ() != LinuxNamespaceType::User {
            flags |= clone_flag(ns.typ());
        }
    }
    nix::sched::unshare(flags).ctx(|| format!("unshare namespaces ({flags:?})"))?;
    if creates(LinuxNamespaceType::Network) {
        // runc brings the loopback of a new network namespace up; programs expect
        // 127.0.0.1 to work (a server and its health check in one container).
        crate::syscall::loopback_up().ctx(|| "bring up lo in the new network namespace")?;
    }
    if creates(LinuxNamespaceType::Time) {
        write_time_offsets(cfg)?;
    }
    Ok(())
}

/// Opens every path first (they are host paths; after joining a mount namespace they might
/// not resolve any more), then joins the user namespace before the rest.
fn join_existing(namespaces: &[LinuxNamespace]) -> Result<()> {
    let mut opened: Vec<(LinuxNamespaceType, File)> = Vec::new();
    for ns in namespaces {
        if let Some(path) = ns.path() {
            let f = File::open(path).ctx(|| {
                at(
                    &format!("linux.namespaces: open {} namespace", ns.typ()),
                    path,
                )
            })?;
            opened.push((ns.typ(), f));
        }
    }
    opened.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
    for (t, f) in &opened {
        nix::sched::setns(f, clone_flag(*t))
            .ctx(|| format!("linux.namespaces: join {t} namespace"))?;
    }
    Ok(())
}

fn create_user_namespace(cfg: &InitConfig, chan: &mut Channel) -> Result<()> {
    let unprivileged = cfg.cgroup.rootless;
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(user_namespace_refused)?;
    // A non-dumpable process's /proc files belong to root: an unprivileged parent could not
    // open our uid_map. Dumpable only while it writes them, with nothing else in here yet.
    if unprivileged {
        nix::sys::prctl::set_dumpable(true).ctx(|| "prctl(PR_SET_DUMPABLE)")?;
    }
    send(chan, &FromInit::NeedIdMaps)?;
    match recv(chan)? {
        ToInit::IdMapsWritten => {}
        other => return Err(Error::other(format!("expected id maps, got {other:?}"))),
    }
    if unprivileged {
        nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)")?;
    }
    // Become root of the new namespace when root is mapped, as the rest of set-up expects.
    let linux = cfg.spec.linux().as_ref();
    let maps_zero = |maps: Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.unwrap_or_default()
            .iter()
            .any(|m| m.container_id() == 0)
    };
    if maps_zero(linux.and_then(|l| l.gid_mappings().clone())) {
        let g = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(g, g, g).ctx(|| "setresgid(0) in user namespace")?;
    }
    if maps_zero(linux.and_then(|l| l.uid_mappings().clone())) {
        let u = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresuid(u, u, u).ctx(|| "setresuid(0) in user namespace")?;
    }
    Ok(())
}

/// Why the kernel would not make a user namespace, with what to change.
fn user_namespace_refused(e: nix::errno::Errno) -> Error {
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    let hint = match e {
        nix::errno::Errno::ENOSPC if max.trim() == "0" => {
            ": user namespaces are disabled (user.max_user_namespaces = 0)"
        }
        nix::errno::Errno::ENOSPC => ": too many user namespaces (user.max_user_namespaces)",
        nix::errno::Errno::EPERM => {
            ": unprivileged user namespaces are not allowed here \
             (kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns, \
             or a seccomp filter of the caller)"
        }
        _ => "",
    };
    Error::other(format!("unshare user namespace: {e}{hint}"))
}

/// Offsets must be written before the first process enters the new time namespace, which
/// is stage 2 when we fork it.
fn write_time_offsets(cfg: &InitConfig) -> Result<()> {
    let Some(offsets) = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .ctx(|| "linux.timeOffsets: write /proc/self/timens_offsets")
}

/// /proc/PID/ns file names by namespace type.
fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// `exec`: join every namespace the container has, through its init's /proc/PID/ns files
/// (user first). Types the config does not list are shared with the host, as the init's are.
/// The files are opened first and the init's identity (pid and start time) checked after:
/// if its pid had been reused by another process in between, the namespaces opened could be
/// that process's (a host process's), and they are refused.
pub fn join_container(init: crate::container::ProcessId, cfg: &InitConfig) -> Result<()> {
    let init_pid = init.pid;
    let mut types: Vec<LinuxNamespaceType> = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .collect();
    types.sort_by_key(|t| *t != LinuxNamespaceType::User);
    let mut opened = Vec::new();
    for t in types {
        let path = format!("/proc/{init_pid}/ns/{}", proc_ns_name(t));
        let f = File::open(&path).ctx(|| format!("open {path} (is the container running?)"))?;
        opened.push((t, f));
    }
    if !init.is_alive() {
        return Err(Error::state(
            "the container's init exited (its pid now names another process)",
        ));
    }
    for (t, f) in &opened {
        // Joining the user namespace we are already in fails with EINVAL; skip it.
        if *t == LinuxNamespaceType::User && same_namespace(f, "/proc/self/ns/user") {
            continue;
        }
        nix::sched::setns(f, clone_flag(*t))
            .ctx(|| format!("join the container's {t} namespace"))?;
    }
    Ok(())
}

fn same_namespace(f: &File, ours: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(ours)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}
