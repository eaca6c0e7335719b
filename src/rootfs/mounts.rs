//! One entry of `mounts`: create the target safely inside the rootfs and mount onto its fd.

use super::Plan;
use super::options::{self, MountOptions};
use super::resolve::{Kind, RootDir};
use crate::syscall::{fd_path, mount_setattr_recursive};
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Mount;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub(super) use super::error::{MountError, Res, io_err};

pub fn mount_entry(root: &RootDir, plan: &Plan, m: &Mount, tree: Option<&OwnedFd>) -> Res<()> {
    let mut opts = options::parse(m.options().as_deref().unwrap_or_default());
    if is_dev(m) {
        // A read-only /dev still receives /dev/pts, /dev/shm, device nodes and the console:
        // it is made read-only last ([`remount_dev_readonly`]), as runc does.
        opts.flags -= MsFlags::MS_RDONLY;
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if matches!(typ, "proc" | "sysfs")
        && root
            .is_non_directory(dest)
            .map_err(|e| io_err("inspect target", e))?
    {
        // As runc: never through a symlink or onto a file the image placed there (the
        // CVE-2019-19921 class: procfs mounted where the image points it).
        return Err(MountError::Refused(format!(
            "filesystem {typ:?} must be mounted on an ordinary directory"
        )));
    }
    if let Some(tree) = tree {
        attach_premade_bind(root, m, tree, &opts)
    } else if opts.is_bind() || typ == "bind" {
        bind_mount(root, plan, m, &opts)
    } else {
        fs_mount(root, m, typ, &opts, mount_label(plan))
    }
}

/// The config's mount at /dev.
fn is_dev(m: &Mount) -> bool {
    m.destination()
        .components()
        .eq(Path::new("/dev").components())
}

/// A `/dev` mount whose options say `ro` becomes read-only here, once everything that goes
/// into /dev is in place.
pub fn remount_dev_readonly(root: &RootDir, mounts: &[Mount]) -> Res<()> {
    for m in mounts.iter().filter(|m| is_dev(m)) {
        let opts = options::parse(m.options().as_deref().unwrap_or_default());
        if !opts.flags.contains(MsFlags::MS_RDONLY) {
            continue;
        }
        let dev = root
            .resolve(m.destination())
            .map_err(|e| io_err("reopen /dev", e))?;
        remount_bind(&dev, &opts).map_err(|e| e.within("make /dev read-only"))?;
    }
    Ok(())
}

/// The files under /proc that lxcfs emulates: the only mounts runc allows inside /proc.
const PROC_MOUNTS_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// runc's rule for mounts at or inside /proc, judged on where the target resolved to: on
/// /proc itself only a procfs (`is_procfs`: a proc mount, or a bind of one), inside it only
/// lxcfs's files. Anything else could stand in for the files the runtime and the kernel's
/// protections rely on (`/proc/sys/kernel/cap_last_cap`, `/proc/self/attr`, the CVE-2019-16884
/// class).
fn check_proc_destination(
    root: &RootDir,
    target: &OwnedFd,
    is_procfs: impl FnOnce() -> bool,
) -> Res<()> {
    let at = root
        .path_in_root(target)
        .map_err(|e| io_err("locate target", e))?;
    let Ok(inside) = at.strip_prefix("/proc") else {
        return Ok(());
    };
    if inside.as_os_str().is_empty() {
        if is_procfs() {
            return Ok(());
        }
        return Err(MountError::Refused(format!(
            "{} cannot be mounted because it is not of type proc",
            at.display()
        )));
    }
    if PROC_MOUNTS_ALLOWED.iter().any(|p| Path::new(p) == at) {
        return Ok(());
    }
    Err(MountError::Refused(format!(
        "{} cannot be mounted because it is inside /proc",
        at.display()
    )))
}

/// The options of a `cgroup` or `cgroup2` mount that is not a bind: the container's view of
/// its cgroups (`cgroupfs.rs`); `None` for every other mount.
pub fn cgroup_mount_options(m: &Mount) -> Option<MountOptions> {
    if !matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
        return None;
    }
    Some(options::parse(m.options().as_deref().unwrap_or_default())).filter(|o| !o.is_bind())
}

/// `linux.mountLabel` when SELinux is on (ignored otherwise, as runc).
fn mount_label<'a>(plan: &Plan<'a>) -> Option<&'a str> {
    plan.spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty() && crate::lsm::selinux_enabled())
}

fn bind_source_in(bundle: &Path, m: &Mount) -> Res<PathBuf> {
    let src = m
        .source()
        .clone()
        .ok_or_else(|| MountError::Refused("bind mount without a source".to_string()))?;
    Ok(if src.is_absolute() {
        src
    } else {
        bundle.join(src)
    })
}

/// A bind mount's source, opened (O_PATH) by its host path.
fn open_bind_source(bundle: &Path, m: &Mount) -> Res<(PathBuf, OwnedFd)> {
    let path = bind_source_in(bundle, m)?;
    let fd = nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| io_err(format!("source {}", path.display()), io::Error::from(e)))?;
    Ok((path, fd))
}

/// What the target must be for this source: a directory for a directory, else a file.
fn target_kind(src: &OwnedFd) -> Res<Kind> {
    let st = nix::sys::stat::fstat(src.as_fd()).map_err(|e| io_err("stat source", e))?;
    Ok(if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    })
}

fn is_procfs(fd: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(fd.as_fd())
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// A detached copy of the source mount (of its subtree for `rbind`) with the bind's flags
/// already set: attributes go onto the mount's own fd before anything can see it, never to
/// whatever a second lookup of the destination finds (the CVE-2021-30465 class: a racing
/// rename on a shared volume could leave a bind writable). ENOSYS where the kernel lacks
/// open_tree (5.2) or mount_setattr (5.12).
fn clone_flagged(src: &OwnedFd, opts: &MountOptions) -> io::Result<OwnedFd> {
    let tree = crate::syscall::open_tree_clone(src.as_fd(), opts.flags.contains(MsFlags::MS_REC))?;
    let (set, clear) = opts.bind_attrs();
    if set != 0 || clear != 0 {
        crate::syscall::mount_setattr(tree.as_fd(), set, clear, 0)?;
    }
    Ok(tree)
}

/// A bind mount's source as a detached mount with its flags set (and its idmapping), made
/// while the init is still the host's root (see [`super::clone_bind_sources`]); `None` for
/// other mounts, for plain binds unless `all_binds`, or where the kernel lacks
/// open_tree/mount_setattr (an error for an idmapped bind, which has no other way).
pub fn clone_bind_source(
    spec: &oci_spec::runtime::Spec,
    m: &Mount,
    bundle: &Path,
    all_binds: bool,
    namespaces: &mut super::idmap::IdmapNamespaces,
) -> Res<Option<OwnedFd>> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    let idmap = super::idmap::mount_idmap(spec, m, &opts)?;
    if !(opts.is_bind() || m.typ().as_deref() == Some("bind")) || (idmap.is_none() && !all_binds) {
        return Ok(None);
    }
    let (src_path, src) = open_bind_source(bundle, m)?;
    let tree = match clone_flagged(&src, &opts) {
        Ok(tree) => tree,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) && idmap.is_none() => return Ok(None),
        Err(e) => return Err(io_err(format!("bind {}", src_path.display()), e)),
    };
    if let Some(idmap) = &idmap {
        namespaces
            .apply(tree.as_fd(), idmap)
            .map_err(|e| e.within(&format!("idmap {}", src_path.display())))?;
    }
    Ok(Some(tree))
}

/// Creates the target for `src` inside the root and checks it against runc's /proc rules.
fn bind_target(root: &RootDir, m: &Mount, src: &OwnedFd) -> Res<OwnedFd> {
    let target = root
        .ensure(m.destination(), target_kind(src)?)
        .map_err(|e| io_err("create target", e))?;
    check_proc_destination(root, &target, || is_procfs(src))?;
    Ok(target)
}

/// Moves a bind made by [`clone_bind_source`] onto its destination.
fn attach_premade_bind(root: &RootDir, m: &Mount, tree: &OwnedFd, opts: &MountOptions) -> Res<()> {
    let target = bind_target(root, m, tree)?;
    crate::syscall::move_mount_onto(tree.as_fd(), target.as_fd())
        .map_err(|e| io_err("attach bind", e))?;
    finish(tree, opts)
}

fn bind_mount(root: &RootDir, plan: &Plan, m: &Mount, opts: &MountOptions) -> Res<()> {
    let (src_path, src) = open_bind_source(plan.bundle, m)?;
    let target = bind_target(root, m, &src)?;
    let attached = clone_flagged(&src, opts).and_then(|tree| {
        crate::syscall::move_mount_onto(tree.as_fd(), target.as_fd()).map(|()| tree)
    });
    match attached {
        Ok(tree) => {
            #[cfg(test)]
            crate::race::hit("bind-attached");
            return finish(&tree, opts);
        }
        // Kernels before 5.2 (open_tree) or 5.12 (mount_setattr) take the older way below.
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
        Err(e) => return Err(io_err(format!("bind {}", src_path.display()), e)),
    }
    let mut flags = MsFlags::MS_BIND;
    if opts.flags.contains(MsFlags::MS_REC) {
        flags |= MsFlags::MS_REC;
    }
    mount(
        Some(fd_path(&src).as_str()),
        fd_path(&target).as_str(),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| io_err(format!("bind {}", src_path.display()), e))?;
    // The fd we hold points below the new mount; re-resolve to reach the mount itself.
    let mounted = root
        .resolve(m.destination())
        .map_err(|e| io_err("reopen target", e))?;
    if !opts.remount_flags().is_empty() {
        remount_bind(&mounted, opts)?;
    }
    finish(&mounted, opts)
}

/// A bind mount ignores all flags but MS_BIND|MS_REC; ro/nosuid/... need a remount, which
/// must repeat the flags the kernel locked on the source mount.
pub(super) fn remount_bind(target: &OwnedFd, opts: &MountOptions) -> Res<()> {
    let st = nix::sys::statvfs::fstatvfs(target.as_fd()).map_err(|e| io_err("statvfs", e))?;
    let keep = super::locked_flags(&st) - opts.cleared;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | opts.remount_flags() | keep;
    mount(
        None::<&str>,
        fd_path(target).as_str(),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| io_err("remount bind", e))
}

fn fs_mount(
    root: &RootDir,
    m: &Mount,
    typ: &str,
    opts: &MountOptions,
    label: Option<&str>,
) -> Res<()> {
    if typ.is_empty() {
        return Err(MountError::Refused(
            "mount type is empty and the options do not say bind".to_string(),
        ));
    }
    let target = root
        .ensure(m.destination(), Kind::Dir)
        .map_err(|e| io_err("create target", e))?;
    check_proc_destination(root, &target, || typ == "proc")?;
    let source = m
        .source()
        .as_ref()
        .map(|s| s.display().to_string())
        .unwrap_or_else(|| typ.to_string());
    let mut data = opts.data_string();
    // As runc: proc and sysfs keep their own labels; mqueue takes no context= and is
    // labelled as a file below.
    if let Some(label) = label.filter(|_| !matches!(typ, "proc" | "sysfs" | "mqueue")) {
        data = crate::lsm::with_mount_label(&data, label);
    }
    let mut flags = opts.flags - MsFlags::MS_REC;
    // mqueue and some others refuse MS_REMOUNT-less flags they do not know; the kernel
    // ignores the propagation flags here, which are applied below.
    flags -= MsFlags::MS_BIND;
    if opts.tmpcopyup {
        return tmpfs_copy_up(root, m, &target, &source, flags, &data, opts);
    }
    mount_fs_onto(&source, &target, typ, flags, &data)?;
    let mqueue_label = label.filter(|_| typ == "mqueue");
    if mqueue_label.is_none() && !opts.needs_finishing() {
        return Ok(());
    }
    let mounted = reopen_new_mount(root, m.destination(), &target)?;
    if let Some(label) = mqueue_label {
        crate::syscall::set_selinux_file_label(&mounted, label)
            .map_err(|e| io_err("label mqueue", e))?;
    }
    finish(&mounted, opts)
}

/// The mount just made on `target`, reached by a second lookup of `dest` (mount(2) leaves our
/// fd below it) and checked to be that mount: its parent is the mount that holds `target`, and
/// it is mounted where `target` is now. A rename racing us could otherwise make the lookup find another mount, which
/// would then get this mount's propagation and attributes (the CVE-2021-30465 class).
/// Kernels without STATX_MNT_ID (before 5.8) skip the check.
pub(super) fn reopen_new_mount(root: &RootDir, dest: &Path, target: &OwnedFd) -> Res<OwnedFd> {
    #[cfg(test)]
    crate::race::hit("fs-mounted");
    let mounted = root.resolve(dest).map_err(|e| io_err("reopen target", e))?;
    let ids = crate::syscall::mount_id(target.as_fd())
        .and_then(|below| Ok((below, crate::syscall::mount_id(mounted.as_fd())?)));
    let (below, new) = match ids {
        Ok(ids) => ids,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(mounted),
        Err(e) => return Err(io_err("statx", e)),
    };
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| io_err("read mountinfo", e))?;
    let at = std::fs::read_link(fd_path(target)).map_err(|e| io_err("locate target", e))?;
    if new == below || super::mount_parent_and_point(&mountinfo, new) != Some((below, at)) {
        return Err(MountError::Refused(format!(
            "{} no longer leads to the mount just made (a rename raced the runtime)",
            dest.display()
        )));
    }
    Ok(mounted)
}

/// `tmpcopyup`: the directory's content is opened before the tmpfs covers it, copied into
/// the tmpfs (mounted writable for that), and the tmpfs made read-only afterwards if asked.
fn tmpfs_copy_up(
    root: &RootDir,
    m: &Mount,
    target: &OwnedFd,
    source: &str,
    flags: MsFlags,
    data: &str,
    opts: &MountOptions,
) -> Res<()> {
    if m.typ().as_deref() != Some("tmpfs") {
        return Err(MountError::Refused(
            "mount option \"tmpcopyup\" needs type tmpfs".to_string(),
        ));
    }
    let below =
        super::copyup::open_dir(target).map_err(|e| io_err("open the covered directory", e))?;
    mount_fs_onto(source, target, "tmpfs", flags - MsFlags::MS_RDONLY, data)?;
    let mounted = reopen_new_mount(root, m.destination(), target)?;
    let top = super::copyup::open_dir(&mounted).map_err(|e| io_err("open the tmpfs", e))?;
    super::copyup::copy_tree(&below, &top).map_err(|e| io_err("tmpcopyup", e))?;
    if flags.contains(MsFlags::MS_RDONLY) {
        remount_bind(&mounted, opts)?;
    }
    finish(&mounted, opts)
}

fn mount_fs_onto(source: &str, target: &OwnedFd, typ: &str, flags: MsFlags, data: &str) -> Res<()> {
    let data_opt = (!data.is_empty()).then_some(data);
    mount(
        Some(source),
        fd_path(target).as_str(),
        Some(typ),
        flags,
        data_opt,
    )
    .map_err(|e| io_err(format!("mount {typ}"), e))
}

pub(super) fn finish(target: &OwnedFd, opts: &MountOptions) -> Res<()> {
    for p in &opts.propagation {
        mount(
            None::<&str>,
            fd_path(target).as_str(),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .map_err(|e| io_err("set propagation", e))?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        mount_setattr_recursive(target.as_fd(), opts.rec_set, opts.rec_clear)
            .map_err(|e| io_err("mount_setattr", e))?;
    }
    Ok(())
}

/// Mounts `source` of `typ` at `dest` inside the root (used by the cgroup mount).
pub(super) fn mount_fs_at(
    root: &RootDir,
    dest: &Path,
    source: &str,
    typ: &str,
    flags: MsFlags,
    data: &str,
) -> Res<OwnedFd> {
    let target = root
        .ensure(dest, Kind::Dir)
        .map_err(|e| io_err("create target", e))?;
    mount_fs_onto(source, &target, typ, flags, data)?;
    reopen_new_mount(root, dest, &target)
}

/// Bind mounts host `src` at `dest` inside the root (used by the cgroup mount).
pub(super) fn bind_at(root: &RootDir, dest: &Path, src: &Path, flags: MsFlags) -> Res<()> {
    let target = root
        .ensure(dest, Kind::Dir)
        .map_err(|e| io_err("create target", e))?;
    mount(
        Some(src),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| io_err(format!("bind {}", src.display()), e))?;
    if !flags.is_empty() {
        let mounted = root.resolve(dest).map_err(|e| io_err("reopen target", e))?;
        let st = nix::sys::statvfs::fstatvfs(mounted.as_fd()).map_err(|e| io_err("statvfs", e))?;
        mount(
            None::<&str>,
            fd_path(&mounted).as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | super::locked_flags(&st),
            None::<&str>,
        )
        .map_err(|e| io_err("remount bind", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const CHILD: &str = "CORRAL_TEST_PRIVATE_MOUNT_NS";

    /// Runs this test again in a private mount namespace (`unshare -m`): unit tests never
    /// mount in the host's. Returns true in the parent, which is done then.
    fn rerun_in_private_mount_ns(name: &str) -> bool {
        if std::env::var_os(CHILD).is_some() {
            return false;
        }
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .expect("unshare (util-linux)");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }

    /// A rootfs with /a/dest and /b/dest, an earlier (writable) mount of the config at
    /// /b/dest, and a race point that swaps /a and /b right after the mount under test: the
    /// path /a/dest then names that other mount.
    struct SwapFixture {
        tmp: tempfile::TempDir,
        rootfs: PathBuf,
        spec: oci_spec::runtime::Spec,
        cgroup: crate::cgroups::Cgroup,
    }

    impl SwapFixture {
        fn new(race_point: &'static str) -> SwapFixture {
            let tmp = tempfile::tempdir().unwrap();
            let rootfs = tmp.path().join("rootfs");
            for d in ["a/dest", "b/dest"] {
                std::fs::create_dir_all(rootfs.join(d)).unwrap();
            }
            let other = tmp.path().join("other");
            std::fs::create_dir_all(&other).unwrap();
            let flags = MsFlags::MS_BIND;
            nix::mount::mount(
                Some(&other),
                &rootfs.join("b/dest"),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .unwrap();
            let (a, b) = (rootfs.join("a"), rootfs.join("b"));
            crate::race::set(race_point, move || {
                let at = nix::fcntl::AT_FDCWD;
                let exchange = nix::fcntl::RenameFlags::RENAME_EXCHANGE;
                nix::fcntl::renameat2(at, &a, at, &b, exchange).unwrap();
            });
            let spec = serde_json::from_value(serde_json::json!({
                "ociVersion": "1.0.2", "root": {"path": "rootfs"}}))
            .unwrap();
            SwapFixture {
                tmp,
                rootfs,
                spec,
                cgroup: Default::default(),
            }
        }

        /// Mounts `mount` (JSON) with the race armed.
        fn mount(&self, mount: serde_json::Value) -> Res<()> {
            let plan = Plan {
                spec: &self.spec,
                rootfs: &self.rootfs,
                bundle: self.tmp.path(),
                in_userns: false,
                own_mount_ns: true,
                cgroup: &self.cgroup,
                bind_trees: &[],
            };
            let root = RootDir::open(&self.rootfs).unwrap();
            let m: Mount = serde_json::from_value(mount).unwrap();
            mount_entry(&root, &plan, &m, None)
        }
    }

    /// CVE-2021-30465 class: a bind's `ro` must land on that bind even when the destination's
    /// path leads elsewhere right after the mount (a sibling renamed the parent directories
    /// on a shared volume, so the path now names another mount of the same config).
    #[test]
    fn bind_flags_reach_the_bind_even_if_its_path_is_swapped() {
        if rerun_in_private_mount_ns(
            "rootfs::mounts::tests::bind_flags_reach_the_bind_even_if_its_path_is_swapped",
        ) {
            return;
        }
        let f = SwapFixture::new("bind-attached");
        let src = f.tmp.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let result = f.mount(serde_json::json!({
            "destination": "/a/dest", "type": "bind", "source": src, "options": ["bind", "ro"]}));
        // The bind of `src` now sits at /b/dest: it must be read-only, whatever /a/dest is.
        let ours = nix::sys::statvfs::statvfs(&f.rootfs.join("b/dest")).unwrap();
        let theirs = nix::sys::statvfs::statvfs(&f.rootfs.join("a/dest")).unwrap();
        let ro = nix::sys::statvfs::FsFlags::ST_RDONLY;
        assert!(
            result.is_err() || ours.flags().contains(ro),
            "the bind was left writable"
        );
        assert!(
            !theirs.flags().contains(ro),
            "another mount was made read-only"
        );
    }

    /// The same race for a filesystem mount with propagation to apply: the second lookup
    /// lands on another mount of the config, which must be noticed, not given the options.
    #[test]
    fn fs_mount_options_never_go_to_another_mount() {
        if rerun_in_private_mount_ns(
            "rootfs::mounts::tests::fs_mount_options_never_go_to_another_mount",
        ) {
            return;
        }
        let f = SwapFixture::new("fs-mounted");
        let result = f.mount(serde_json::json!({
            "destination": "/a/dest", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"]}));
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let other_line = mountinfo
            .lines()
            .find(|l| l.contains(&format!("{} ", f.rootfs.join("a/dest").display())))
            .unwrap_or_default()
            .to_string();
        assert!(result.is_err(), "the race must be noticed: {other_line}");
        assert!(
            !other_line.contains("unbindable"),
            "another mount got the options: {other_line}"
        );
    }
}
