//! Device nodes and /dev symlinks inside the container.

use super::resolve::{Kind, RootDir};
use crate::error::{Context, Result};
use crate::syscall::fd_path;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// The devices every container gets, as in runc: null, zero, full, random, urandom, tty.
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Default devices are made unless /dev is bind-mounted from the host (runc's rule).
pub fn needs_default_devices(spec: &Spec) -> bool {
    !spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| {
            m.destination() == Path::new("/dev")
                && (m.typ().as_deref() == Some("bind")
                    || m.options()
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|o| o == "bind" || o == "rbind"))
        })
}

pub fn create_default_devices(root: &RootDir, in_userns: bool) -> Result<()> {
    for (path, major, minor) in DEFAULT_DEVICES {
        make_node(
            root,
            Path::new(path),
            SFlag::S_IFCHR,
            *major,
            *minor,
            0o666,
            0,
            0,
            in_userns,
        )
        .ctx(|| format!("create {path}"))?;
    }
    Ok(())
}

pub fn create_device(root: &RootDir, d: &LinuxDevice, in_userns: bool) -> io::Result<()> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "type 'a' is not a device node",
            ));
        }
    };
    make_node(
        root,
        d.path(),
        kind,
        d.major() as u64,
        d.minor() as u64,
        d.file_mode().unwrap_or(0o666),
        d.uid().unwrap_or(0),
        d.gid().unwrap_or(0),
        in_userns,
    )
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    root: &RootDir,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    in_userns: bool,
) -> io::Result<()> {
    if in_userns {
        // mknod is not allowed in a user namespace: bind the host's node instead, as runc does.
        return bind_host_device(root, path);
    }
    let (dir, name) = root.parent_of(path)?;
    let _ = nix::unistd::unlinkat(
        dir.as_fd(),
        name.as_path(),
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let dev = makedev(major, minor);
    mknodat(
        dir.as_fd(),
        name.as_path(),
        kind,
        Mode::from_bits_truncate(mode & 0o7777),
        dev,
    )?;
    #[cfg(test)]
    crate::race::hit("after-mknod");
    // Owner and mode go to the node we made, held by an fd, never to whatever the name leads
    // to by then (a symlink swapped in would send a chmod to its target on the host).
    let node = nix::fcntl::openat(
        dir.as_fd(),
        name.as_path(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = nix::sys::stat::fstat(node.as_fd())?;
    if st.st_mode & libc::S_IFMT != kind.bits() || st.st_rdev != dev {
        return Err(io::Error::other(
            "the device node was replaced while it was made",
        ));
    }
    nix::unistd::fchownat(
        node.as_fd(),
        "",
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )?;
    // mknod applies the umask; chmod gives the exact mode the config asked for. An O_PATH fd
    // takes no fchmod: the magic link reaches the very inode.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        fd_path(&node).as_str(),
        Mode::from_bits_truncate(mode & 0o7777),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    Ok(())
}

fn bind_host_device(root: &RootDir, path: &Path) -> io::Result<()> {
    let host = Path::new("/").join(super::resolve::relative(path));
    let target = root.ensure(path, Kind::File)?;
    mount(
        Some(host.as_path()),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (-> pts/ptmx) and /dev/core when the host has it.
pub fn create_dev_symlinks(root: &RootDir) -> Result<()> {
    let mut links: Vec<(&str, &str)> = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let (dir, name) = root
            .parent_of(Path::new(link))
            .ctx(|| format!("resolve {link}"))?;
        if link == "/dev/ptmx" {
            let _ = nix::unistd::unlinkat(
                dir.as_fd(),
                name.as_path(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        match nix::unistd::symlinkat(target, dir.as_fd(), name.as_path()) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).ctx(|| format!("symlink {link}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A node swapped for a symlink between mknod and chmod: the chmod must not reach the
    /// symlink's target (a host file), and the set-up fails.
    #[test]
    fn a_node_swapped_for_a_symlink_is_never_chmodded_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("dev")).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "host file").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let node = rootfs.join("dev/null");
        let target = victim.clone();
        crate::race::set("after-mknod", move || {
            std::fs::remove_file(&node).unwrap();
            std::os::unix::fs::symlink(&target, &node).unwrap();
        });
        let r = make_node(
            &root,
            Path::new("/dev/null"),
            SFlag::S_IFCHR,
            1,
            3,
            0o666,
            0,
            0,
            false,
        );
        assert!(r.is_err(), "the swap must be noticed");
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the host file keeps its mode");
    }
}
