//! The binary the init stage runs from, protected against CVE-2019-5736.
//!
//! A container process that reaches the init through /proc/PID/exe could open corral's
//! binary for writing and replace it on the host. Two protections, in order of preference
//! (the order runc's exeseal uses, for the same reason: cost):
//! 1. A read-only overlayfs view of the binary's directory over an empty, detached tmpfs
//!    (overlayfs needs two lower layers without an upper one), both made with the new mount
//!    API and never attached to any mount namespace, so nothing is left on disk (the state
//!    root holds only containers). Opening the binary through it for writing
//!    fails with EROFS, and overlayfs has no upper layer to copy it up into. It costs a few
//!    syscalls instead of a copy of the whole binary.
//! 2. A sealed memfd copy (F_SEAL_WRITE and friends), where overlayfs or the new mount API
//!    is not available. It copies the binary on every create and exec.
//!
//! `CORRAL_EXE_SEAL=memfd|overlay` forces one of them (for benchmarks and tests).

use crate::error::{Context, Result};
use crate::syscall::{detached_readonly_overlay, openat_path};
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

pub fn sealed_self_exe() -> Result<OwnedFd> {
    match std::env::var("CORRAL_EXE_SEAL").as_deref() {
        Ok("memfd") => return sealed_memfd_copy(),
        Ok("overlay") => return overlay_view(),
        _ => {}
    }
    match overlay_view() {
        Ok(fd) => Ok(fd),
        Err(e) => {
            crate::log::debug(format!(
                "overlay-sealed binary unavailable ({e}); using a memfd copy"
            ));
            sealed_memfd_copy()
        }
    }
}

fn self_exe() -> Result<PathBuf> {
    std::fs::read_link("/proc/self/exe").ctx(|| "readlink /proc/self/exe")
}

fn overlay_view() -> Result<OwnedFd> {
    let exe = self_exe()?;
    let dir = exe.parent().ctx_none("binary has no parent directory")?;
    let name = exe.file_name().ctx_none("binary has no file name")?;
    let mnt =
        detached_readonly_overlay(dir).ctx(|| format!("overlay view of {}", dir.display()))?;
    openat_path(&mnt, std::path::Path::new(name)).ctx(|| "open binary in overlay view")
}

pub fn sealed_memfd_copy() -> Result<OwnedFd> {
    // SAFETY: memfd_create with a static NUL-terminated name; returns a new fd or -1.
    let fd = unsafe {
        libc::memfd_create(
            c"corral".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "memfd_create");
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    let mut memfd = unsafe { File::from_raw_fd(fd) };
    let mut exe = File::open("/proc/self/exe").ctx(|| "open /proc/self/exe")?;
    std::io::copy(&mut exe, &mut memfd).ctx(|| "copy corral into memfd")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on an fd we own, integer argument.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "seal memfd");
    }
    Ok(OwnedFd::from(memfd))
}

trait OrError<T> {
    fn ctx_none(self, msg: &str) -> Result<T>;
}

impl<T> OrError<T> for Option<T> {
    fn ctx_none(self, msg: &str) -> Result<T> {
        self.ok_or_else(|| crate::error::Error::other(msg))
    }
}
