//! The container's view of its cgroups (a `cgroup` mount in config.json), as runc gives it:
//! on v2, a cgroup2 mount (the container's cgroup namespace makes it its own subtree); on v1
//! and hybrid hosts, a tmpfs holding a bind mount of the container's directory in each v1
//! hierarchy. The container's cgroup comes in the mount plan: inside a new cgroup namespace
//! /proc/self/cgroup would not show the real paths.

use super::mounts::{Res, bind_at, finish, io_err, mount_fs_at, remount_bind, reopen_new_mount};
use super::options::MountOptions;
use super::resolve::{Kind, RootDir};
use crate::cgroups::{Cgroup, HierarchyKey, Layout};
use crate::syscall::fd_path;
use nix::mount::{MsFlags, mount};
use std::path::Path;

pub fn mount_cgroupfs(root: &RootDir, dest: &Path, opts: &MountOptions, cg: &Cgroup) -> Res<()> {
    let flags = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if cg.layout == Some(Layout::V2) {
        return mount_cgroup2(root, dest, opts, flags, cg);
    }
    let tmpfs_flags = flags - MsFlags::MS_RDONLY;
    let target = mount_fs_at(root, dest, "tmpfs", "tmpfs", tmpfs_flags, "mode=755")?;
    for (key, host_dir) in &cg.paths {
        // runc does not show the unified hierarchy of a hybrid host inside the container.
        let HierarchyKey::V1(key) = key else {
            continue;
        };
        let name = key.strip_prefix("name=").unwrap_or(key);
        bind_at(root, &dest.join(name), host_dir, flags)?;
    }
    // The tmpfs was mounted writable to make the hierarchy directories; "ro" then holds for
    // it too, so the container cannot add entries beside its hierarchies (runc 1.1 leaves
    // the tmpfs writable).
    if flags.contains(MsFlags::MS_RDONLY) {
        remount_bind(&target, opts)?;
    }
    finish(&target, opts)
}

fn mount_cgroup2(
    root: &RootDir,
    dest: &Path,
    opts: &MountOptions,
    flags: MsFlags,
    cg: &Cgroup,
) -> Res<()> {
    let target = root
        .ensure(dest, Kind::Dir)
        .map_err(|e| io_err("create target", e))?;
    match mount(
        Some("cgroup2"),
        fd_path(&target).as_str(),
        Some("cgroup2"),
        flags,
        None::<&str>,
    ) {
        Ok(()) => finish(&reopen_new_mount(root, dest, &target)?, opts),
        // A user namespace without its own cgroup namespace may not mount cgroup2 (EPERM, or
        // EBUSY when the kernel sees the host's cgroup2 already mounted); runc binds instead:
        // the container's own cgroup directory, or, rootless without one, the host's
        // hierarchy (read-only in runc's rootless config, and no more than the user sees).
        Err(e @ (nix::errno::Errno::EPERM | nix::errno::Errno::EBUSY)) => {
            let dir = cg
                .unified_dir()
                .or_else(|| cg.rootless.then_some(cg.unified_mount.as_deref()).flatten())
                .ok_or_else(|| io_err("mount cgroup2 (and no cgroup directory to bind)", e))?;
            bind_at(root, dest, dir, flags)
        }
        Err(e) => Err(io_err("mount cgroup2", e)),
    }
}
