//! The binary the init stage runs from: a sealed memfd copy of ourselves.
//!
//! CVE-2019-5736: a container process that reaches the init through /proc/PID/exe could
//! open corral's binary for writing and replace it on the host. A sealed memfd is a
//! private, immutable copy: writes to it fail (F_SEAL_WRITE) and the host file is never
//! exposed. (A cheaper read-only overlayfs view is the planned fast path; see issue 8.)

use crate::error::{Context, Result};
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};

pub fn sealed_self_copy() -> Result<OwnedFd> {
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
