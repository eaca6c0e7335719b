//! Linux security modules.
//!
//! AppArmor: `process.apparmorProfile` (and `exec --apparmor`) becomes the profile of the
//! process at its execve, set by writing `exec <profile>` to the task's own attr file.
//!
//! SELinux, when enabled: `process.selinuxLabel` (and `exec --process-label`) is written to the
//! task's attr/exec (the context at execve) and attr/keycreate (the session keyring's label);
//! `linux.mountLabel` becomes the `context=` option of the container's filesystem mounts and
//! the label of /dev/mqueue, as runc does. When SELinux is off, labels are ignored (runc).
//!
//! Attr files are opened through a private procfs instance (fsopen/fsmount), never through a
//! /proc the container could have mounted over (CVE-2025-52881), and checked to be procfs.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

/// As runc (go-selinux): selinuxfs is mounted and a policy is loaded (until one is, every
/// task's context reads "kernel"). Decided once per process: the init asks before it leaves
/// the host's mount namespace, where /sys/fs/selinux is.
pub fn selinux_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        nix::sys::statfs::statfs("/sys/fs/selinux")
            .is_ok_and(|s| s.filesystem_type().0 == SELINUX_MAGIC)
            && std::fs::read_to_string("/proc/self/attr/current")
                .is_ok_and(|c| c.trim_end_matches(['\0', '\n']) != "kernel")
    })
}

/// Makes `label` the SELinux context this task gets at its next execve.
pub fn set_selinux_exec_label(label: &str) -> io::Result<()> {
    write_attr(&["thread-self/attr/exec"], label.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("set SELinux exec label {label:?}: {e}")))
}

/// Makes `label` (or, empty, the default again) the SELinux label of keys this task creates.
pub fn set_selinux_key_label(label: &str) -> io::Result<()> {
    write_attr(&["thread-self/attr/keycreate"], label.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("set SELinux key label {label:?}: {e}")))
}

/// Mount data with the SELinux `context=` option for `label` (runc's FormatMountLabel).
pub fn with_mount_label(data: &str, label: &str) -> String {
    match data {
        "" => format!("context=\"{label}\""),
        _ => format!("{data},context=\"{label}\""),
    }
}

/// As runc: the module is loaded and enabled, and its securityfs is there.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").exists()
}

/// Makes `profile` the AppArmor profile this task gets at its next execve.
pub fn set_exec_profile(profile: &str) -> io::Result<()> {
    write_attr(
        &["thread-self/attr/apparmor/exec", "thread-self/attr/exec"],
        format!("exec {profile}").as_bytes(),
    )
    .map_err(|e| io::Error::new(e.kind(), format!("apply AppArmor profile {profile:?}: {e}")))
}

/// Writes `value` to the first of `paths` (relative to a procfs root) that opens.
fn write_attr(paths: &[&str], value: &[u8]) -> io::Result<()> {
    let mut f = std::fs::File::from(open_attr(paths)?);
    f.write_all(value)
}

fn open_attr(paths: &[&str]) -> io::Result<OwnedFd> {
    let proc = match crate::syscall::detached_procfs() {
        Ok(fd) => fd,
        // No new procfs instance allowed (e.g. a user namespace that does not own the pid
        // namespace): the host's /proc of our mount namespace, checked below.
        Err(_) => nix::fcntl::open(
            "/proc",
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )?,
    };
    let resolve = crate::syscall::RESOLVE_NO_XDEV | crate::syscall::RESOLVE_NO_MAGICLINKS;
    let attr = paths
        .iter()
        .find_map(|p| {
            crate::syscall::openat2(proc.as_fd(), Path::new(p), libc::O_WRONLY, 0, resolve).ok()
        })
        .ok_or_else(|| io::Error::other(format!("no {} in /proc", paths[0])))?;
    let fs = nix::sys::statfs::fstatfs(attr.as_fd())?;
    if fs.filesystem_type().0 as i64 != PROC_SUPER_MAGIC {
        return Err(io::Error::other(format!("{} is not on procfs", paths[0])));
    }
    Ok(attr)
}
