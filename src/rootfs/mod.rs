//! The container's root filesystem: mounts, devices, masked and read-only paths, and the
//! switch into it (pivot_root, or MS_MOVE + chroot for `--no-pivot`).
//!
//! Runs in the init, inside the container's mount namespace, before the process is exec'd.
//! Every target is resolved through [`resolve::RootDir`] and mounted onto by fd.

mod cgroupfs;
mod copyup;
pub(crate) mod devices;
mod error;
mod idmap;
pub(crate) mod mounts;
pub mod options;
mod paths;
pub mod resolve;

pub use idmap::idmap_works_on;
pub use options::propagation_flag;

use crate::error::{Context, Error, Result, at};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::Spec;
use resolve::RootDir;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What the init needs to know to build the root filesystem.
pub struct Plan<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// The container runs in a user namespace: device nodes are bind-mounted, not created.
    pub in_userns: bool,
    /// The container has a mount namespace of its own; without one we only chroot.
    pub own_mount_ns: bool,
    /// The container's cgroup, for a `cgroup` mount (a new cgroup namespace hides the real
    /// paths from /proc/self/cgroup).
    pub cgroup: &'a crate::cgroups::Cgroup,
    /// Bind mounts cloned on the host side before the user namespace was entered
    /// ([`clone_bind_sources`]), by index in `mounts`.
    pub bind_trees: &'a [Option<std::os::fd::OwnedFd>],
}

/// Bind mounts cloned as detached mounts (open_tree) with their flags already set, while the
/// init is still the host's root, by index in `mounts`. With `all_binds` (a container with a
/// user namespace) every bind: in the user namespace a source under a directory only the
/// host's root may enter (the kubelet's pod directories) could not even be opened; runc ≥ 1.2
/// does the same, and kernels without open_tree get none, the sources then being opened by
/// path as before. Idmapped binds are always made here: idmapping needs the host's root.
pub fn clone_bind_sources(
    spec: &Spec,
    bundle: &Path,
    all_binds: bool,
) -> Result<Vec<Option<std::os::fd::OwnedFd>>> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let mut namespaces = idmap::IdmapNamespaces::default();
    let mut out = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let tree = mounts::clone_bind_source(spec, m, bundle, all_binds, &mut namespaces)
            .map_err(|e| e.at_entry(mount_entry_name(i, m)))?;
        out.push(tree);
    }
    Ok(out)
}

/// Whether any mount of the config is idmapped (and so cloned before the namespaces).
pub fn has_idmapped_mounts(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| {
            idmap::is_idmapped(
                m,
                &options::parse(m.options().as_deref().unwrap_or_default()),
            )
        })
}

/// Checks every mount's idmapping against the spec's rules (binds only, both maps or a user
/// namespace to borrow them from), before anything exists.
pub fn validate_idmapped_mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let opts = options::parse(m.options().as_deref().unwrap_or_default());
        idmap::mount_idmap(spec, m, &opts).map_err(|e| e.at_entry(mount_entry_name(i, m)))?;
    }
    Ok(())
}

/// How an error names the config's mount: `mounts[3] (/proc)`.
fn mount_entry_name(i: usize, m: &oci_spec::runtime::Mount) -> String {
    format!("mounts[{i}] ({})", m.destination().display())
}

/// Sets propagation, makes the rootfs a mount point, performs every mount of the config and
/// creates devices. Returns the rootfs handle for the later steps.
pub fn mount_all(plan: &Plan) -> Result<RootDir> {
    if plan.own_mount_ns {
        set_root_propagation(plan.spec)?;
        make_parent_mount_private(plan.rootfs)?;
        bind_rootfs_onto_itself(plan.rootfs)?;
    }
    // Opened after the self-bind: mounts must land on the new mount, not the one below it.
    let root = RootDir::open(plan.rootfs).ctx(|| at("open rootfs", plan.rootfs))?;
    let mounts = plan.spec.mounts().as_deref().unwrap_or_default();
    for (i, m) in mounts.iter().enumerate() {
        let tree = plan.bind_trees.get(i).and_then(Option::as_ref);
        let mounted = match mounts::cgroup_mount_options(m) {
            Some(opts) if tree.is_none() => {
                cgroupfs::mount_cgroupfs(&root, m.destination(), &opts, plan.cgroup)
            }
            _ => mounts::mount_entry(&root, plan, m, tree),
        };
        mounted.map_err(|e| e.at_entry(mount_entry_name(i, m)))?;
    }
    if devices::needs_default_devices(plan.spec) {
        devices::create_default_devices(&root, plan.in_userns)?;
        devices::create_dev_symlinks(&root)?;
    }
    let linux_devices = plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (i, d) in linux_devices.iter().enumerate() {
        devices::create_device(&root, d, plan.in_userns).map_err(|e| {
            Error::other(format!("linux.devices[{i}] ({}): {e}", d.path().display()))
        })?;
    }
    ensure_cwd(&root, plan.spec)?;
    Ok(root)
}

/// runc creates a missing `process.cwd` inside the rootfs; clients rely on it.
fn ensure_cwd(root: &RootDir, spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        let cwd = p.cwd();
        if root.resolve(cwd).is_err() {
            root.mkdir_all(cwd).ctx(|| at("create process.cwd", cwd))?;
        }
    }
    Ok(())
}

/// maskedPaths and readonlyPaths, applied inside the rootfs before switching into it; then a
/// read-only /dev, which had to stay writable for the devices and the console.
pub fn apply_path_rules(root: &RootDir, spec: &Spec) -> Result<()> {
    mounts::remount_dev_readonly(root, spec.mounts().as_deref().unwrap_or_default())
        .map_err(|e| e.at_entry("mounts (/dev)".to_string()))?;
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for p in linux.masked_paths().as_deref().unwrap_or_default() {
        paths::mask(root, Path::new(p)).ctx(|| format!("linux.maskedPaths: mask {p}"))?;
    }
    for p in linux.readonly_paths().as_deref().unwrap_or_default() {
        paths::make_readonly(root, Path::new(p))
            .ctx(|| format!("linux.readonlyPaths: make {p} read-only"))?;
    }
    Ok(())
}

/// Before the rootfs is bound onto itself. `unbindable` cannot be applied yet (the bind would
/// fail with EINVAL, as it does with runc 1.1): an unbindable mount is private too, so
/// / is made private here and unbindable once it is the container's root ([`enter`]).
fn set_root_propagation(spec: &Spec) -> Result<()> {
    let mut flag = configured_propagation(spec).unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    if flag.contains(MsFlags::MS_UNBINDABLE) {
        flag = (flag - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE;
    }
    mount(None::<&str>, "/", None::<&str>, flag, None::<&str>).ctx(|| "set propagation of /")
}

fn configured_propagation(spec: &Spec) -> Option<MsFlags> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
}

/// pivot_root refuses a new root whose parent mount is shared, so a shared parent is made
/// private in our (new) mount namespace only. A slave parent stays a slave: that is what
/// `rootfsPropagation: slave` asks for, and pivot_root accepts it (runc does the same).
fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo")?;
    let target = std::fs::canonicalize(rootfs).ctx(|| at("canonicalize", rootfs))?;
    let (parent, shared) = mount_point_of(&mountinfo, &target);
    if !shared {
        return Ok(());
    }
    mount(
        None::<&str>,
        &parent,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .ctx(|| at("make private", &parent))
}

/// The parent mount id and the mount point of mount `id`, from mountinfo text (fields 1,
/// 2 and 5).
pub(crate) fn mount_parent_and_point(mountinfo: &str, id: u64) -> Option<(u64, PathBuf)> {
    mountinfo.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let this: u64 = f.first()?.parse().ok()?;
        let parent: u64 = f.get(1)?.parse().ok()?;
        let point = PathBuf::from(unescape_mountinfo(f.get(4)?));
        (this == id).then_some((parent, point))
    })
}

/// The mount point with the longest path that contains `path` (the last one mounted there
/// when several are stacked), and whether it is shared.
fn mount_point_of(mountinfo: &str, path: &Path) -> (PathBuf, bool) {
    let mut best: Option<(PathBuf, bool)> = None;
    for line in mountinfo.lines() {
        let Some((left, _)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let Some(mp) = fields.get(4).map(|f| PathBuf::from(unescape_mountinfo(f))) else {
            continue;
        };
        let shared = fields.iter().skip(6).any(|f| f.starts_with("shared:"));
        let longer = best
            .as_ref()
            .is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len());
        if path.starts_with(&mp) && longer {
            best = Some((mp, shared));
        }
    }
    best.unwrap_or_else(|| (PathBuf::from("/"), false))
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn bind_rootfs_onto_itself(rootfs: &Path) -> Result<()> {
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| at("bind mount rootfs", rootfs))
}

/// Switches into the rootfs: pivot_root, MS_MOVE + chroot (`--no-pivot`), or a plain chroot
/// when the container shares the caller's mount namespace.
pub fn enter(root: RootDir, spec: &Spec, no_pivot: bool, own_mount_ns: bool) -> Result<()> {
    nix::unistd::fchdir(root.fd()).ctx(|| "chdir into rootfs")?;
    if !own_mount_ns {
        nix::unistd::chroot(".").ctx(|| "chroot into rootfs")?;
    } else if no_pivot {
        let rootfs =
            std::fs::read_link(crate::syscall::fd_path(&root.fd())).ctx(|| "locate rootfs")?;
        move_root(&rootfs)?;
    } else {
        pivot_root()?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir /")?;
    // shared and unbindable apply to the container's root itself, so only now; private and
    // slave were set on the whole tree before the rootfs was bound (as runc does).
    if let Some(flag) = configured_propagation(spec)
        && flag.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE)
    {
        mount(None::<&str>, "/", None::<&str>, flag, None::<&str>)
            .ctx(|| "set rootfsPropagation on /")?;
    }
    Ok(())
}

/// pivot_root(".", ".") stacks the old root on top of the new one; detaching it then leaves
/// only the container's tree. The slave remount keeps the unmount from reaching the host.
fn pivot_root() -> Result<()> {
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open old root")?;
    nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root")?;
    nix::unistd::fchdir(old.as_fd()).ctx(|| "chdir to old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make old root slave")?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach old root")?;
    Ok(())
}

/// `--no-pivot`: for roots where pivot_root cannot work (e.g. a ramdisk root).
fn move_root(rootfs: &Path) -> Result<()> {
    detach_full_procfs_and_sysfs(rootfs)?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .ctx(|| "move rootfs to /")?;
    nix::unistd::chroot(".").ctx(|| "chroot into rootfs")?;
    Ok(())
}

/// Without pivot_root the old root stays in the container's mount namespace, hidden under the
/// new one but there: the kernel lets a user namespace mount a fresh procfs or sysfs when a
/// full, unmasked one is mounted in the namespace, and the host's would qualify (runc's
/// `--no-pivot` test: `unshare -mrpf` then `mount -t proc`, and /proc/sysrq-trigger is
/// writable). So every full procfs and sysfs outside the rootfs is detached first (made a
/// slave so the host never sees it go), or covered with a tmpfs where it cannot be, as runc
/// does. This is the container's own mount namespace, never the host's.
fn detach_full_procfs_and_sysfs(rootfs: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo")?;
    for point in full_procfs_and_sysfs_outside(&mountinfo, rootfs) {
        match mount(
            None::<&str>,
            &point,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => {}
            // Gone with a parent detached before it.
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => continue,
            Err(e) => return Err(e).ctx(|| at("make slave", &point)),
        }
        match umount2(&point, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => {
                mount(
                    Some("tmpfs"),
                    &point,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    None::<&str>,
                )
                .ctx(|| at("cover", &point))?;
            }
            Err(e) => return Err(e).ctx(|| at("detach", &point)),
        }
    }
    Ok(())
}

/// Mount points of procfs and sysfs mounts of a whole filesystem (root `/`) that lie outside
/// `rootfs`, from mountinfo text.
fn full_procfs_and_sysfs_outside(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            let point = PathBuf::from(unescape_mountinfo(fields.get(4)?));
            let full = *fields.get(3)? == "/";
            (full && matches!(fstype, "proc" | "sysfs") && !point.starts_with(rootfs))
                .then_some(point)
        })
        .collect()
}

/// `root.readonly`: remount / read-only, keeping the flags the kernel has locked on it.
pub fn make_root_readonly() -> Result<()> {
    let st = nix::sys::statvfs::statvfs("/").ctx(|| "statvfs /")?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(&st);
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).ctx(|| "remount / read-only")
}

/// Flags of an existing mount that a bind remount must repeat or the kernel refuses it
/// (they are locked when the mount came from a more privileged namespace).
pub(crate) fn locked_flags(st: &nix::sys::statvfs::Statvfs) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_full_procfs_and_sysfs_outside_the_rootfs() {
        let info = "\
22 1 0:21 / /proc rw - proc proc rw
23 1 0:22 / /sys rw - sysfs sysfs rw
24 22 0:21 /sys /proc/sys ro - proc proc rw
60 50 0:40 / /b/rootfs/proc rw - proc proc rw
61 1 0:41 / /dev rw - tmpfs tmpfs rw
62 1 0:42 / /mnt/with\\040space rw - proc proc rw";
        assert_eq!(
            full_procfs_and_sysfs_outside(info, Path::new("/b/rootfs")),
            vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/mnt/with space")
            ]
        );
    }

    use super::*;

    #[test]
    fn finds_longest_mount_point_and_whether_it_is_shared() {
        let mi = "22 1 0:1 / / rw shared:1 - ext4 x rw\n23 22 0:2 / /run rw master:4 - tmpfs x rw\n\
                  24 23 0:3 / /run/a\\040b rw shared:7 - tmpfs x rw\n";
        assert_eq!(
            mount_point_of(mi, Path::new("/run/x/rootfs")),
            (PathBuf::from("/run"), false)
        );
        assert_eq!(
            mount_point_of(mi, Path::new("/run/a b/r")),
            (PathBuf::from("/run/a b"), true)
        );
        assert_eq!(
            mount_point_of(mi, Path::new("/srv")),
            (PathBuf::from("/"), true)
        );
    }
}
