//! The container's view of its cgroups (a `cgroup` mount in config.json), as runc gives it:
//! on v2, a cgroup2 mount (the container's cgroup namespace makes it its own subtree); on v1
//! and hybrid hosts, a tmpfs holding a bind mount of the container's directory in each v1
//! hierarchy.

use crate::rootfs::options::MountOptions;
use crate::rootfs::resolve::RootDir;
use nix::mount::MsFlags;
use oci_spec::runtime::Spec;
use std::path::Path;

type Res<T> = std::result::Result<T, String>;

/// The container's cgroup, handed to the init by the parent (a new cgroup namespace hides
/// the real paths from /proc/self/cgroup).
static CONTAINER_CGROUP: std::sync::OnceLock<super::Cgroup> = std::sync::OnceLock::new();

pub fn set_container_cgroup(cg: super::Cgroup) {
    let _ = CONTAINER_CGROUP.set(cg);
}

pub fn mount_cgroupfs(root: &RootDir, dest: &Path, opts: &MountOptions, _spec: &Spec) -> Res<()> {
    let cg = CONTAINER_CGROUP.get().cloned().unwrap_or_default();
    let flags = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if cg.layout == Some(super::Layout::V2) {
        match crate::rootfs::mounts::mount_fs_at(root, dest, "cgroup2", "cgroup2", flags, "") {
            Ok(target) => return crate::rootfs::mounts::finish_mount(&target, opts),
            // A user namespace without its own cgroup namespace may not mount cgroup2; runc
            // then binds the container's own cgroup directory, and so do we.
            Err(e) if e.contains("EPERM") => {
                let dir = cg
                    .paths
                    .get("")
                    .ok_or_else(|| format!("{e} (and no cgroup directory to bind)"))?;
                return crate::rootfs::mounts::bind_at(root, dest, dir, flags);
            }
            Err(e) => return Err(e),
        }
    }
    let tmpfs_flags = flags - MsFlags::MS_RDONLY;
    let target =
        crate::rootfs::mounts::mount_fs_at(root, dest, "tmpfs", "tmpfs", tmpfs_flags, "mode=755")?;
    for (key, host_dir) in &cg.paths {
        if key.is_empty() {
            // runc does not show the unified hierarchy of a hybrid host inside the container.
            continue;
        }
        let name = key.strip_prefix("name=").unwrap_or(key);
        crate::rootfs::mounts::bind_at(root, &dest.join(name), host_dir, flags)?;
    }
    // The tmpfs was mounted writable to make the hierarchy directories; "ro" then holds for
    // it too, so the container cannot add entries beside its hierarchies (runc 1.1 leaves
    // the tmpfs writable).
    if flags.contains(MsFlags::MS_RDONLY) {
        crate::rootfs::mounts::remount_bind(&target, opts)?;
    }
    crate::rootfs::mounts::finish_mount(&target, opts)
}
