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
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

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

/// Which protection creates on this host get: the overlay view (no copy) or the sealed
/// memfd copy of the whole binary (`corral check` reports it).
pub fn overlay_view_works() -> bool {
    overlay_view().is_ok()
}

fn overlay_view() -> Result<OwnedFd> {
    let exe = self_exe()?;
    let dir = exe.parent().ctx_none("binary has no parent directory")?;
    let name = exe.file_name().ctx_none("binary has no file name")?;
    let mnt = match detached_readonly_overlay(dir, None) {
        Ok(mnt) => mnt,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let empty = empty_layer_dir(dir)?;
            detached_readonly_overlay(dir, Some(&empty))
                .ctx(|| format!("overlay view of {}", dir.display()))?
        }
        Err(e) => return Err(e).ctx(|| format!("overlay view of {}", dir.display())),
    };
    openat_path(&mnt, std::path::Path::new(name)).ctx(|| "open binary in overlay view")
}

/// Where overlayfs cannot take the detached tmpfs (older kernels, 6.1, refuse a layer
/// reached through a magic link with EINVAL), an empty directory of our own that neither
/// contains nor lies inside the binary's directory, and never in the state root (which holds
/// only containers).
fn empty_layer_dir(bin_dir: &Path) -> Result<PathBuf> {
    let candidate = empty_layer_candidate(bin_dir)
        .ctx_none("no empty overlay layer outside the binary's directory")?;
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
        Ok(()) => Ok(candidate),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(candidate),
        Err(e) => Err(e).ctx(|| format!("create {}", candidate.display())),
    }
}

/// The first fixed empty-layer directory that does not overlap `bin_dir` (overlayfs refuses
/// overlapping layers with ELOOP).
fn empty_layer_candidate(bin_dir: &Path) -> Option<PathBuf> {
    [
        PathBuf::from("/run/corral-empty-layer"),
        PathBuf::from("/var/tmp/corral-empty-layer"),
    ]
    .into_iter()
    .find(|c| !c.starts_with(bin_dir) && !bin_dir.starts_with(c))
}

pub fn sealed_memfd_copy() -> Result<OwnedFd> {
    use nix::fcntl::{FcntlArg, SealFlag};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(
        c"corral",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .ctx(|| "memfd_create")?;
    let mut memfd = File::from(fd);
    let mut exe = File::open("/proc/self/exe").ctx(|| "open /proc/self/exe")?;
    std::io::copy(&mut exe, &mut memfd).ctx(|| "copy corral into memfd")?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals)).ctx(|| "seal memfd")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_layer_never_overlaps_the_binary_directory() {
        let pick = |dir: &str| empty_layer_candidate(Path::new(dir));
        assert_eq!(
            pick("/usr/bin"),
            Some(PathBuf::from("/run/corral-empty-layer"))
        );
        assert_eq!(
            pick("/run"),
            Some(PathBuf::from("/var/tmp/corral-empty-layer"))
        );
        assert_eq!(pick("/"), None);
    }
}
