//! maskedPaths and readonlyPaths.
//!
//! A masked file gets /dev/null bound over it, a masked directory an empty read-only tmpfs.
//! The /dev/null we bind is the host's, opened and checked to be the real 1:3 character device
//! (CVE-2025-31133: a swapped /dev/null would unmask what it was meant to hide).

use super::resolve::RootDir;
use crate::syscall::{MOUNT_ATTR_RDONLY, fd_path, mount_setattr_recursive};
use nix::mount::{MsFlags, mount};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

fn open_if_exists(root: &RootDir, path: &Path) -> io::Result<Option<OwnedFd>> {
    match root.resolve(path) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn mask(root: &RootDir, path: &Path) -> io::Result<()> {
    let Some(target) = open_if_exists(root, path)? else {
        return Ok(());
    };
    let st = nix::sys::stat::fstat(target.as_fd())?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        mount(
            Some("tmpfs"),
            fd_path(&target).as_str(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )?;
        return Ok(());
    }
    let null = verified_dev_null()?;
    mount(
        Some(fd_path(&null).as_str()),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    Ok(())
}

fn verified_dev_null() -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )?;
    let st = nix::sys::stat::fstat(fd.as_fd())?;
    let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == 1
        && nix::sys::stat::minor(st.st_rdev) == 3;
    if !is_null {
        return Err(io::Error::other(
            "/dev/null is not the 1:3 character device",
        ));
    }
    Ok(fd)
}

pub fn make_readonly(root: &RootDir, path: &Path) -> io::Result<()> {
    let Some(target) = open_if_exists(root, path)? else {
        return Ok(());
    };
    mount(
        Some(fd_path(&target).as_str()),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let mounted = root.resolve(path)?;
    mount_setattr_recursive(mounted.as_fd(), MOUNT_ATTR_RDONLY, 0)
}
