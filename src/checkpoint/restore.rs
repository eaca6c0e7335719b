//! `restore`: a container made again from a checkpoint. The bundle's config gives the id's
//! cgroup, hooks and mounts as for `create`; CRIU, started inside that cgroup, rebuilds the
//! processes from the image onto a bind of the bundle's rootfs. The restored init is our
//! child; the state records it like a started container's. A failed restore leaves nothing:
//! no state dir, cgroup, mount or process.

use super::dump::{external_ns_key, namespace_name};
use super::mounts;
use super::swrk::{self, CriuStdio};
use super::{CriuOptions, DESCRIPTORS, Dirs, common_opts, with_log};
use crate::cgroups::systemd::UnitExtras;
use crate::cgroups::{Cgroup, Driver};
use crate::container::{
    Phase, ProcessId, Recovery, State, StateRoot, Status, lock_dir, validate_id,
};
use crate::error::{Context, Error, Result, at};
use crate::launch::{
    Cleanup, check_console_flags, check_mount_sources, make_state_dir, write_pid_file,
};
use crate::rootfs::resolve::{Kind, RootDir};
use crate::spec::{Bundle, load_bundle};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use rust_criu::rust_criu_protobuf::rpc::{
    Cgroup_root, Criu_notify, Criu_opts, Criu_req, Criu_req_type, Ext_mount_map, Inherit_fd,
    Join_namespace,
};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

const LOG_FILE: &str = "restore.log";

/// Where CRIU finds the container's root: a bind of the rootfs in the state dir (CRIU wants
/// a mount point whose parent is not overmounted), in our own mount namespace.
const CRIU_ROOT: &str = "criu-root";

#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Foreground restore of a terminal container without a console socket: we keep the
    /// pty master.
    pub own_console: bool,
    pub systemd_cgroup: bool,
    pub rootless: bool,
    pub criu: CriuOptions,
}

/// The restored container's init, and the pty master when we keep it.
pub struct Restored {
    pub init: ProcessId,
    pub console: Option<OwnedFd>,
}

pub fn restore(root: &StateRoot, o: &RestoreOptions) -> Result<Restored> {
    validate_id(&o.id)?;
    if o.rootless {
        return Err(Error::state(
            "restore of a rootless container is not supported (CRIU needs root)",
        ));
    }
    let bundle = load_bundle(&o.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    check_console_flags(terminal, o.console_socket.as_deref(), o.own_console)?;
    check_mount_sources(&bundle)?;
    check_lsm_flags(&o.criu)?;
    // First: CRIU mounts below its work dir, which must then be in this namespace.
    enter_private_mount_namespace()?;
    let dirs = Dirs::open(&o.criu, false)?;
    let descriptors = read_descriptors(&o.criu.image_path)?;
    let console = match &o.console_socket {
        Some(p) => Some(UnixStream::connect(p).ctx(|| at("connect to console socket", p))?),
        None => None,
    };
    let spec = &bundle.spec;
    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let driver = if o.systemd_cgroup {
        Driver::Systemd
    } else {
        Driver::Cgroupfs
    };
    let cgroup = Cgroup::for_container(&o.id, cgroups_path.as_deref(), driver, false)?;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
    let extras = match driver {
        Driver::Systemd => {
            UnitExtras::from_config(spec.annotations().as_ref(), resources.as_ref())?
        }
        Driver::Cgroupfs => UnitExtras::default(),
    };
    let ns_files = external_namespace_files(spec)?;

    let dir = make_state_dir(root, &o.id)?;
    let mut cleanup = Cleanup::for_state_dir(dir.clone());
    let _lock = lock_dir(&dir)?;
    cgroup.check_unused()?;
    let mut state = State::creating(&o.id, &bundle, cgroup.clone());
    Recovery::of(&state).save(&dir)?;
    state.save(&dir)?;
    cgroup.create()?;
    cleanup.cgroup = Some(cgroup.clone());

    make_mountpoints(&bundle)?;
    let criu_root = dir.join(CRIU_ROOT);
    bind_rootfs(&bundle.rootfs, &criu_root)?;

    let mut opts = common_opts(&o.criu, &dirs, LOG_FILE, spec.annotations().as_ref());
    opts.set_root(criu_root.display().to_string());
    opts.set_rst_sibling(true);
    opts.set_evasive_devices(true);
    if let Some(p) = &o.criu.lsm_profile {
        opts.set_lsm_profile(p.clone());
    }
    if let Some(c) = &o.criu.lsm_mount_context {
        opts.set_lsm_mount_context(c.clone());
    }
    join_namespaces(spec, &ns_files, &mut opts)?;
    external_mounts(&bundle, &cgroup, &mut opts);
    inherit_pipes(&descriptors, &mut opts);

    let extra: Vec<_> = ns_files.iter().map(|(_, f)| f.as_fd()).collect();
    let criu = swrk::start(&o.criu.criu, &extra, CriuStdio::Inherit)?;
    cgroup.enter(criu.pid(), &o.id, &extras)?;
    cgroup.apply(resources.as_ref())?;
    if let Some(r) = &resources {
        cgroup.apply_pids_limit(r)?;
    }
    cgroup_roots(criu.pid(), &mut opts)?;

    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::RESTORE);
    req.opts = protobuf::MessageField::some(opts);
    let mut kept_master = None;
    let mut on_notify = |n: &Criu_notify, fd: Option<OwnedFd>| -> Result<()> {
        match n.script() {
            "setup-namespaces" => {
                if new_network_namespace(spec) {
                    loopback_up_in(n.pid())?;
                }
                run_create_hooks(&state, n.pid())
            }
            "post-restore" => {
                let pid = n.pid();
                cleanup.init_pid = Some(pid);
                if read_only_root(spec) {
                    remount_root_readonly(pid)?;
                }
                record_restored(&mut state, &dir, pid)
            }
            "orphan-pts-master" => {
                let master = fd.ok_or_else(|| Error::other("criu sent no pty master"))?;
                match &console {
                    Some(sock) => crate::tty::send_master_to(sock, &master),
                    None => {
                        kept_master = Some(master);
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    };
    let result = criu.call(&req, "restore", &mut on_notify);
    let _ = umount2(&criu_root, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&criu_root);
    result.map_err(|e| with_log(e, &dirs, LOG_FILE))?;
    if state.phase != Phase::Created {
        return Err(Error::other(
            "criu restored nothing (no post-restore notification)",
        ));
    }
    if let Some(path) = &o.pid_file {
        write_pid_file(path, state.init.pid)?;
    }
    cleanup.disarm();
    Ok(Restored {
        init: state.init,
        console: kept_master,
    })
}

/// CRIU before 3.16 cannot set another LSM profile or mount context (runc's check): a
/// restore must not silently come back under the dumped one.
fn check_lsm_flags(o: &CriuOptions) -> Result<()> {
    const MIN: u32 = 31600;
    let flag = match (&o.lsm_profile, &o.lsm_mount_context) {
        (Some(_), _) => "--lsm-profile",
        (None, Some(_)) => "--lsm-mount-context",
        (None, None) => return Ok(()),
    };
    let found = swrk::version(&o.criu)?;
    if found < MIN {
        return Err(Error::config(
            flag,
            format!(
                "requires at least CRIU {} (this CRIU is {})",
                swrk::version_text(MIN),
                swrk::version_text(found)
            ),
        ));
    }
    Ok(())
}

/// descriptors.json of the dump: the init's fds 0, 1 and 2 as /proc link texts.
fn read_descriptors(images: &Path) -> Result<Vec<String>> {
    let path = images.join(DESCRIPTORS);
    let text = std::fs::read(&path).map_err(|e| {
        Error::config(
            "--image-path",
            format!(
                "{}: {} (not a checkpoint image?)",
                path.display(),
                crate::error::io_text(&e)
            ),
        )
    })?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::config(path.display().to_string(), format!("invalid: {e}")))
}

/// Our mounts for CRIU (the root bind, temporary mountpoints) stay out of the caller's mount
/// namespace: this process gets its own, a slave of the caller's.
fn enter_private_mount_namespace() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).ctx(|| "unshare mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .ctx(|| "make / a slave mount")
}

fn bind_rootfs(rootfs: &Path, at_dir: &Path) -> Result<()> {
    std::fs::create_dir(at_dir).ctx(|| at("create", at_dir))?;
    mount(
        Some(rootfs),
        at_dir,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| at("bind the rootfs at", at_dir))
}

/// Every mountpoint the config needs, made in the rootfs as `create` makes them (a rootfs
/// copied to another host may lack them), resolved inside the rootfs. Not those on a tmpfs
/// (CRIU restores a tmpfs with its content) nor cgroup ones (part of /sys). Each bind is
/// mounted once its mountpoint exists, as `create` mounts it, so that the mountpoints of the
/// mounts nested in it are made in its source, where CRIU looks for them (runc issue 2748);
/// those binds are in this process's own mount namespace and undone before CRIU runs.
fn make_mountpoints(bundle: &Bundle) -> Result<()> {
    let root = RootDir::open(&bundle.rootfs).ctx(|| at("open rootfs", &bundle.rootfs))?;
    let all = bundle.spec.mounts().clone().unwrap_or_default();
    let tmpfs: Vec<&Path> = all
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let mut bound = Vec::new();
    let made = (|| {
        for m in &all {
            let dest = m.destination();
            if m.typ().as_deref() == Some("cgroup")
                || tmpfs.iter().any(|t| dest != *t && dest.starts_with(t))
            {
                continue;
            }
            let bind_source = m
                .source()
                .as_ref()
                .filter(|_| mounts::is_bind(m))
                .map(|s| bundle.dir.join(s));
            let kind = match &bind_source {
                Some(src) if !src.is_dir() => Kind::File,
                _ => Kind::Dir,
            };
            let at_fd = root
                .ensure(dest, kind)
                .ctx(|| format!("create the mountpoint {} in the rootfs", dest.display()))?;
            if let Some(src) = bind_source {
                mount(
                    Some(&src),
                    crate::syscall::fd_path(&at_fd).as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .ctx(|| {
                    format!(
                        "bind {} at {} to make the mountpoints in it",
                        src.display(),
                        dest.display()
                    )
                })?;
                bound.push(dest.clone());
            }
        }
        Ok(())
    })();
    // Every bind is undone even after a failure; one left would be copied into CRIU's root.
    let mut undone = Ok(());
    for dest in bound.iter().rev() {
        let unmounted = root.resolve(dest).and_then(|fd| {
            umount2(crate::syscall::fd_path(&fd).as_str(), MntFlags::MNT_DETACH)
                .map_err(std::io::Error::from)
        });
        if let Err(e) = unmounted
            && undone.is_ok()
        {
            undone = Err(e).ctx(|| format!("unmount the bind made at {}", dest.display()));
        }
    }
    made.and(undone)
}

/// A network or pid namespace the config names by path (dumped as external), opened: CRIU
/// gets each as an inherited fd, from 4 on.
fn external_namespace_files(spec: &Spec) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for ns in namespaces(spec) {
        let (LinuxNamespaceType::Network | LinuxNamespaceType::Pid) = ns.typ() else {
            continue;
        };
        let Some(path) = ns.path() else { continue };
        let f = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| {
            Error::config(
                "linux.namespaces",
                format!("{}: {}", path.display(), e.desc().to_lowercase()),
            )
        })?;
        out.push((ns.typ(), f));
    }
    Ok(out)
}

fn namespaces(spec: &Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

/// The namespaces the config joins by path: net and pid as inherited fds under runc's keys,
/// the others joined by CRIU (a cgroup namespace by path it cannot join).
fn join_namespaces(
    spec: &Spec,
    files: &[(LinuxNamespaceType, OwnedFd)],
    opts: &mut Criu_opts,
) -> Result<()> {
    for (i, (kind, _)) in files.iter().enumerate() {
        let mut inherit = Inherit_fd::new();
        inherit.set_key(external_ns_key(*kind));
        inherit.set_fd(4 + i as i32);
        opts.inherit_fd.push(inherit);
    }
    for ns in namespaces(spec) {
        let Some(path) = ns.path() else { continue };
        match ns.typ() {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {}
            LinuxNamespaceType::Cgroup => {
                return Err(Error::config(
                    "linux.namespaces",
                    "restore cannot join a cgroup namespace by path (CRIU cannot)",
                ));
            }
            kind => {
                let mut j = Join_namespace::new();
                j.set_ns(namespace_name(kind).to_string());
                j.set_ns_file(path.display().to_string());
                opts.join_ns.push(j);
            }
        }
    }
    Ok(())
}

fn external_mounts(bundle: &Bundle, cg: &Cgroup, opts: &mut Criu_opts) {
    let root = RootDir::open(&bundle.rootfs).ok();
    let resolve = |p: &Path| -> PathBuf {
        root.as_ref()
            .and_then(|r| r.resolve(p).ok().and_then(|fd| r.path_in_root(&fd).ok()))
            .unwrap_or_else(|| p.to_path_buf())
    };
    for e in mounts::for_restore(&bundle.spec, &bundle.dir, cg, &resolve) {
        let mut m = Ext_mount_map::new();
        m.set_key(e.key);
        m.set_val(e.val);
        opts.ext_mnt.push(m);
    }
}

/// A pipe among the dumped stdio becomes the same fd of ours (CRIU's stdio is ours).
fn inherit_pipes(descriptors: &[String], opts: &mut Criu_opts) {
    for (fd, what) in descriptors.iter().enumerate() {
        if what.contains("pipe:") {
            let mut inherit = Inherit_fd::new();
            inherit.set_key(what.clone());
            inherit.set_fd(fd as i32);
            opts.inherit_fd.push(inherit);
        }
    }
}

/// Where CRIU is now in each hierarchy (the container's cgroup): the restored processes'
/// cgroups are rebuilt below it (runc sends the same).
fn cgroup_roots(criu_pid: i32, opts: &mut Criu_opts) -> Result<()> {
    let path = format!("/proc/{criu_pid}/cgroup");
    let text = std::fs::read_to_string(&path).ctx(|| format!("read {path}"))?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(dir)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for ctrl in ctrls.split(',') {
            let mut r = Cgroup_root::new();
            r.set_ctrl(ctrl.to_string());
            r.set_path(dir.to_string());
            opts.cg_root.push(r);
        }
    }
    Ok(())
}

fn new_network_namespace(spec: &Spec) -> bool {
    namespaces(spec)
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none())
}

/// CRIU makes the restored network namespace empty (the engine above configures the
/// network, as runc has it), so `lo` is down; `create` brings it up, and connections on
/// 127.0.0.1 restored with --tcp-established need it. runc leaves it down (and such a
/// restore fails under runc: "Network is unreachable").
fn loopback_up_in(pid: i32) -> Result<()> {
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .ctx(|| format!("open /proc/{pid}/ns/net"))?;
    // A thread of its own joins the namespace (a thread's network namespace is its own)
    // and ends there; this process stays where it was.
    std::thread::spawn(move || -> std::io::Result<()> {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)?;
        crate::syscall::loopback_up()
    })
    .join()
    .map_err(|_| Error::other("bring up lo in the restored network namespace: thread panicked"))?
    .ctx(|| "bring up lo in the restored network namespace")
}

fn read_only_root(spec: &Spec) -> bool {
    spec.root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
}

/// CRIU brings a `root.readonly` container back with a writable root (an open CRIU bug,
/// which runc inherits). The root is remounted read-only in the container's mount
/// namespace at CRIU's post-restore notification, before the restored processes run again.
fn remount_root_readonly(pid: i32) -> Result<()> {
    let mntns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .ctx(|| format!("open /proc/{pid}/ns/mnt"))?;
    // A thread of its own, with its own root and cwd (CLONE_FS undone), may join the mount
    // namespace; "/" is then the container's root.
    std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS).ctx(|| "unshare CLONE_FS")?;
        nix::sched::setns(&mntns, nix::sched::CloneFlags::CLONE_NEWNS)
            .ctx(|| "join the restored mount namespace")?;
        crate::rootfs::make_root_readonly()
    })
    .join()
    .map_err(|_| Error::other("root.readonly after restore: thread panicked"))?
}

/// prestart and createRuntime hooks, once CRIU has made the namespaces (runc's timing).
fn run_create_hooks(state: &State, pid: i32) -> Result<()> {
    let mut hook_state = state.oci_state(Status::Creating);
    hook_state.pid = pid;
    crate::hooks::run(&state.spec, crate::hooks::Kind::Prestart, &hook_state)?;
    crate::hooks::run(&state.spec, crate::hooks::Kind::CreateRuntime, &hook_state)
}

/// The restored init, recorded like a started container's (no exec fifo: it runs). CRIU
/// restores into a new time namespace where the kernel has them, so `exec` must join it.
fn record_restored(state: &mut State, dir: &Path, pid: i32) -> Result<()> {
    state.init = ProcessId::of(pid).ok_or_else(|| Error::other("the restored init is gone"))?;
    state.phase = Phase::Created;
    state.created = crate::container::state::now_rfc3339_nano();
    add_time_namespace(&mut state.spec, pid);
    Recovery::of(state).save(dir)?;
    state.save(dir)
}

fn add_time_namespace(spec: &mut Spec, pid: i32) {
    let ours = std::fs::read_link("/proc/self/ns/time");
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/time"));
    let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
        return;
    };
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    if ours == theirs || ns.iter().any(|n| n.typ() == LinuxNamespaceType::Time) {
        return;
    }
    if let Ok(time) = LinuxNamespaceBuilder::default()
        .typ(LinuxNamespaceType::Time)
        .build()
    {
        ns.push(time);
        linux.set_namespaces(Some(ns));
        spec.set_linux(Some(linux));
    }
}
