//! Safe path handling inside a container's root filesystem.
//!
//! Every lookup goes through openat2(RESOLVE_IN_ROOT): `..` and absolute symlinks in the image
//! are clamped to the rootfs, so `/etc -> /` or `../../../` can never make corral touch a host
//! path. What we then mount onto or write to is the fd we resolved, reached via
//! /proc/self/fd/N; the path is never resolved a second time.

use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

pub struct RootDir {
    fd: OwnedFd,
}

/// Kind of file to create at a mount target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

impl RootDir {
    pub fn open(path: &Path) -> io::Result<RootDir> {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(RootDir { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `path` (taken relative to the root whether or not it starts with `/`).
    pub fn open_path(&self, path: &Path, flags: i32) -> io::Result<OwnedFd> {
        openat2(
            self.fd.as_fd(),
            &relative(path),
            flags,
            0,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    }

    /// O_PATH handle to `path`, following symlinks inside the root.
    pub fn resolve(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_path(path, libc::O_PATH)
    }

    /// Creates every missing directory of `path` (mode 0755) and returns an O_PATH fd to it.
    pub fn mkdir_all(&self, path: &Path) -> io::Result<OwnedFd> {
        let rel = relative(path);
        let mut current = self.open_path(Path::new("."), libc::O_PATH | libc::O_DIRECTORY)?;
        let mut walked = PathBuf::new();
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                continue;
            };
            walked.push(name);
            match self.open_path(&walked, libc::O_PATH | libc::O_DIRECTORY) {
                Ok(fd) => current = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match nix::sys::stat::mkdirat(
                        current.as_fd(),
                        name,
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    current = self.open_path(&walked, libc::O_PATH | libc::O_DIRECTORY)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(current)
    }

    /// Makes sure `path` exists as `kind` and returns an O_PATH fd to it.
    pub fn ensure(&self, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
        if kind == Kind::Dir {
            return self.mkdir_all(path);
        }
        if let Ok(fd) = self.resolve(path) {
            return Ok(fd);
        }
        let (parent, name) = split(path)?;
        let dir = self.mkdir_all(&parent)?;
        match nix::fcntl::openat(
            dir.as_fd(),
            name.as_path(),
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        self.resolve(path)
    }

    /// Where `fd` (resolved inside this root) lies, as an absolute path of the container.
    pub fn path_in_root(&self, fd: &OwnedFd) -> io::Result<PathBuf> {
        let root = std::fs::read_link(crate::syscall::fd_path(&self.fd))?;
        let target = std::fs::read_link(crate::syscall::fd_path(fd))?;
        let rel = target.strip_prefix(&root).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "resolved path left the root")
        })?;
        Ok(Path::new("/").join(rel))
    }

    /// Whether `path` exists as something other than a directory, its last component not
    /// followed: a symlink or a file where a filesystem is to be mounted.
    pub fn is_non_directory(&self, path: &Path) -> io::Result<bool> {
        let (parent, name) = split(path)?;
        let dir = match self.open_path(&parent, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(dir) => dir,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        match nix::sys::stat::fstatat(
            dir.as_fd(),
            name.as_path(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(st.st_mode & libc::S_IFMT != libc::S_IFDIR),
            Err(nix::errno::Errno::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Parent directory fd (created if missing) and the final name, for *at() calls.
    pub fn parent_of(&self, path: &Path) -> io::Result<(OwnedFd, PathBuf)> {
        let (parent, name) = split(path)?;
        Ok((self.mkdir_all(&parent)?, name))
    }
}

/// `path` made relative to the root, with `.` components dropped; `..` is left for the kernel
/// to clamp under RESOLVE_IN_ROOT.
pub fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => out.push(".."),
            Component::Normal(n) => out.push(n),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn split(path: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let rel = relative(path);
    let name = rel
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((parent, PathBuf::from(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_strips_root_and_dots() {
        assert_eq!(relative(Path::new("/a/./b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/../x")), PathBuf::from("../x"));
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let tmp = std::env::temp_dir().join(format!("corral-resolve-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("etc/escape")).unwrap();
        std::os::unix::fs::symlink("../../../../", root.join("up")).unwrap();
        let r = RootDir::open(&root).unwrap();
        // "/etc/escape/made" must be created under root, not under the host's /.
        r.mkdir_all(Path::new("/etc/escape/made-by-test")).unwrap();
        assert!(root.join("made-by-test").is_dir());
        r.mkdir_all(Path::new("/up/also")).unwrap();
        assert!(root.join("also").is_dir());
        assert!(!Path::new("/made-by-test").exists());
        r.ensure(Path::new("/up/file"), Kind::File).unwrap();
        assert!(root.join("file").is_file());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
