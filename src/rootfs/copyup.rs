//! Copying a directory tree from the image into a fresh tmpfs (`tmpcopyup`), by fd only: the
//! image is hostile input, so no symlink in it is ever followed, and nothing outside the two
//! given directories is touched.

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmodat, fstatat, mkdirat, mknodat};
use nix::unistd::{Gid, Uid, fchownat};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A readable directory fd for an O_PATH handle (reopened through /proc/self/fd).
pub fn open_dir(handle: &OwnedFd) -> io::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}", handle.as_raw_fd());
    Ok(nix::fcntl::open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Copies every entry of `from` into `to`, recursively, keeping modes, owners, symlinks,
/// fifos and device nodes as they are; the root of `to` takes the mode and owner of `from`.
pub fn copy_tree(from: &OwnedFd, to: &OwnedFd) -> io::Result<()> {
    copy_entries(from, to, 0)?;
    copy_owner_and_mode(from, to)
}

/// How deep a tree copy-up follows: each level is a stack frame and two open fds, and an
/// image's tree (hostile or not) must end in an error, never in a stack overflow.
const MAX_DEPTH: usize = 512;

fn copy_entries(from: &OwnedFd, to: &OwnedFd, depth: usize) -> io::Result<()> {
    if depth >= MAX_DEPTH {
        return Err(io::Error::other(format!(
            "the directory tree is more than {MAX_DEPTH} levels deep"
        )));
    }
    let dup = nix::unistd::dup(from)?;
    let mut dir = Dir::from_fd(dup)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        copy_entry(from, to, &name, depth)?;
    }
    Ok(())
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &std::ffi::CStr, depth: usize) -> io::Result<()> {
    let st = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
    let perms = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(to, name, perms)?;
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let sub_from = openat(from, name, flags, Mode::empty())?;
            let sub_to = openat(to, name, flags, Mode::empty())?;
            copy_entries(&sub_from, &sub_to, depth + 1)?;
            copy_owner_and_mode(&sub_from, &sub_to)?;
            return Ok(());
        }
        SFlag::S_IFREG => copy_file(from, to, name, perms)?,
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(from, name)?;
            nix::unistd::symlinkat(target.as_os_str(), to, name)?;
        }
        _ => mknodat(to, name, kind, perms, st.st_rdev)?,
    }
    fchownat(
        to,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if kind != SFlag::S_IFLNK {
        // chown clears setuid/setgid bits: put the mode back afterwards.
        fchmodat(to, name, perms, FchmodatFlags::FollowSymlink)?;
    }
    Ok(())
}

fn copy_file(from: &OwnedFd, to: &OwnedFd, name: &std::ffi::CStr, perms: Mode) -> io::Result<()> {
    let src = openat(
        from,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let dst = openat(
        to,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        perms,
    )?;
    let mut src = std::fs::File::from(src);
    let mut dst = std::fs::File::from(dst);
    io::copy(&mut src, &mut dst)?;
    Ok(())
}

fn copy_owner_and_mode(from: &OwnedFd, to: &OwnedFd) -> io::Result<()> {
    let st = nix::sys::stat::fstat(from)?;
    nix::unistd::fchown(
        to,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    nix::sys::stat::fchmod(to, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    Ok(())
}
