//! AppArmor: `process.apparmorProfile` (and `exec --apparmor`) becomes the profile of the
//! process at its execve, set by writing `exec <profile>` to the task's own attr file.
//!
//! The attr file is opened through a private procfs instance (fsopen/fsmount), never through a
//! /proc the container could have mounted over (CVE-2025-52881), and checked to be procfs.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// As runc: the module is loaded and enabled, and its securityfs is there.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").exists()
}

/// Makes `profile` the AppArmor profile this task gets at its next execve.
pub fn set_exec_profile(profile: &str) -> io::Result<()> {
    let attr = open_exec_attr()?;
    let mut f = std::fs::File::from(attr);
    f.write_all(format!("exec {profile}").as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("apply AppArmor profile {profile:?}: {e}")))
}

fn open_exec_attr() -> io::Result<OwnedFd> {
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
    let attr = ["thread-self/attr/apparmor/exec", "thread-self/attr/exec"]
        .iter()
        .find_map(|p| {
            crate::syscall::openat2(proc.as_fd(), Path::new(p), libc::O_WRONLY, 0, resolve).ok()
        })
        .ok_or_else(|| io::Error::other("no AppArmor exec attribute in /proc"))?;
    let fs = nix::sys::statfs::fstatfs(attr.as_fd())?;
    if fs.filesystem_type().0 as i64 != PROC_SUPER_MAGIC {
        return Err(io::Error::other("the AppArmor attribute is not on procfs"));
    }
    Ok(attr)
}
