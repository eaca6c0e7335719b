//! `checkpoint`: CRIU dumps the container's processes into the image directory (frozen
//! through the container's freezer while it works). Without `--leave-running` CRIU kills them
//! once the dump is complete; a failed dump leaves the container running as it was.

use super::mounts;
use super::swrk::{self, CriuStdio};
use super::{CriuOptions, DESCRIPTORS, Dirs, common_opts, with_log};
use crate::container::{Container, Status};
use crate::error::{Context, Error, Result, at};
use crate::rootfs::resolve::RootDir;
use oci_spec::runtime::LinuxNamespaceType;
use rust_criu::rust_criu_protobuf::rpc::{
    Criu_features, Criu_opts, Criu_page_server_info, Criu_req, Criu_req_type, Ext_mount_map,
};
use std::path::{Path, PathBuf};

const LOG_FILE: &str = "dump.log";

/// Checkpoints a running or paused container into `o.image_path`.
pub fn checkpoint(c: &Container, o: &CriuOptions) -> Result<()> {
    check_parent_path(o)?;
    let status = c.status();
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(Error::state(format!(
            "container cannot be checkpointed in {} state",
            status.as_str()
        )));
    }
    if c.state.cgroup.rootless {
        return Err(Error::state(
            "checkpoint of a rootless container is not supported (CRIU needs root)",
        ));
    }
    let dirs = Dirs::open(o, true)?;
    let kind = if o.pre_dump {
        Criu_req_type::PRE_DUMP
    } else {
        Criu_req_type::DUMP
    };
    if o.pre_dump {
        require_feature(
            o,
            "--pre-dump",
            |f| f.set_mem_track(true),
            |f| f.mem_track(),
        )?;
    }
    if o.lazy_pages {
        require_feature(
            o,
            "--lazy-pages",
            |f| f.set_lazy_pages(true),
            |f| f.lazy_pages(),
        )?;
    }
    let mut opts = common_opts(o, &dirs, LOG_FILE, c.state.spec.annotations().as_ref());
    opts.set_pid(c.state.init.pid);
    opts.set_root(c.state.rootfs.display().to_string());
    opts.set_leave_running(o.leave_running);
    opts.set_tcp_skip_in_flight(o.tcp_skip_in_flight);
    opts.set_link_remap(o.link_remap);
    if let Some(dir) = freezer_dir(c) {
        opts.set_freeze_cgroup(dir.display().to_string());
    }
    if let Some(parent) = &o.parent_path {
        opts.set_parent_img(parent.display().to_string());
        opts.set_track_mem(true);
    }
    if let Some((address, port)) = &o.page_server {
        let mut ps = Criu_page_server_info::new();
        ps.set_address(address.clone());
        ps.set_port(*port);
        opts.ps = protobuf::MessageField::some(ps);
    }
    let status_fd = checked_status_fd(o)?;
    external_namespaces(c, &mut opts)?;
    if !o.pre_dump {
        external_mounts(c, &mut opts);
        write_descriptors(c.state.init.pid, &o.image_path)?;
    }
    let mut req = Criu_req::new();
    req.set_type(kind);
    req.opts = protobuf::MessageField::some(opts);

    let criu = swrk::start(&o.criu, &[], CriuStdio::Null)?;
    let mut on_notify = |n: &rust_criu::rust_criu_protobuf::rpc::Criu_notify, _fd| {
        if n.script() == "status-ready"
            && let Some(fd) = status_fd
        {
            signal_lazy_pages_ready(fd);
        }
        Ok(())
    };
    criu.call(&req, "dump", &mut on_notify)
        .map(|_| ())
        .map_err(|e| with_log(e, &dirs, LOG_FILE))
}

/// runc's rule: `--parent-path` is relative to the image path and names a directory.
fn check_parent_path(o: &CriuOptions) -> Result<()> {
    let Some(parent) = &o.parent_path else {
        return Ok(());
    };
    if parent.is_absolute() {
        return Err(Error::config("--parent-path", "must be relative"));
    }
    // `..` in the parent path needs the image directory to exist (runc makes it first too).
    std::fs::create_dir_all(&o.image_path).ctx(|| at("create --image-path", &o.image_path))?;
    let real = o.image_path.join(parent);
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::config(
            "--parent-path",
            format!("{}: not a directory", real.display()),
        )),
        Err(e) => Err(Error::config(
            "--parent-path",
            format!("{}: {}", real.display(), crate::error::io_text(&e)),
        )),
    }
}

/// Asks CRIU whether it has a feature a flag needs.
fn require_feature(
    o: &CriuOptions,
    flag: &str,
    ask: impl Fn(&mut Criu_features),
    has: impl Fn(&Criu_features) -> bool,
) -> Result<()> {
    let mut features = Criu_features::new();
    ask(&mut features);
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::FEATURE_CHECK);
    req.features = protobuf::MessageField::some(features);
    let resp =
        swrk::start(&o.criu, &[], CriuStdio::Null)?
            .call(&req, "feature check", &mut |_, _| Ok(()))?;
    if resp.features.as_ref().is_some_and(has) {
        Ok(())
    } else {
        Err(Error::config(
            flag,
            "this CRIU or kernel cannot do it (criu feature check)",
        ))
    }
}

/// `--status-fd` must be an open, writable fd of ours (runc checks the same).
fn checked_status_fd(o: &CriuOptions) -> Result<Option<i32>> {
    let Some(fd) = o.status_fd.filter(|fd| *fd >= 0) else {
        return Ok(None);
    };
    // SAFETY: F_GETFL only reads the fd's flags; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(Error::config(
            "--status-fd",
            format!("{fd} is not an open fd"),
        ));
    }
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Error::config(
            "--status-fd",
            format!("{fd} is not writable"),
        ));
    }
    Ok(Some(fd))
}

/// CRIU's lazy-pages server is ready: one NUL byte to `--status-fd`, which is then closed.
fn signal_lazy_pages_ready(fd: i32) {
    // SAFETY: write and close take a valid buffer and the fd the caller handed us.
    unsafe {
        let _ = libc::write(fd, [0u8].as_ptr().cast(), 1);
        libc::close(fd);
    }
}

/// The directory CRIU freezes the container through: the v1 freezer's, or the cgroup v2
/// directory (cgroup.freeze).
fn freezer_dir(c: &Container) -> Option<PathBuf> {
    let cg = &c.state.cgroup;
    cg.v1_dir("freezer")
        .or_else(|| cg.unified_dir())
        .map(Path::to_path_buf)
}

/// A network or pid namespace the config names by path is not the container's to save:
/// CRIU records it as external (`net[INODE]:extRootNetNS`) and a restore must be given it.
fn external_namespaces(c: &Container, opts: &mut Criu_opts) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let namespaces = c
        .state
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        let (LinuxNamespaceType::Network | LinuxNamespaceType::Pid) = ns.typ() else {
            continue;
        };
        let Some(path) = ns.path() else { continue };
        let ino = std::fs::metadata(path)
            .ctx(|| at("stat namespace", path))?
            .ino();
        let name = namespace_name(ns.typ());
        opts.external
            .push(format!("{name}[{ino}]:{}", external_ns_key(ns.typ())));
    }
    Ok(())
}

pub(super) fn namespace_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// runc's key for an external namespace: `extRootNetNS`, `extRootPidNS`.
pub(super) fn external_ns_key(t: LinuxNamespaceType) -> String {
    rust_criu::criu_ns_to_key(namespace_name(t))
}

fn external_mounts(c: &Container, opts: &mut Criu_opts) {
    let pid = c.state.init.pid;
    let root = RootDir::open(Path::new(&format!("/proc/{pid}/root"))).ok();
    let resolve = |p: &Path| -> PathBuf {
        root.as_ref()
            .and_then(|r| r.resolve(p).ok().and_then(|fd| r.path_in_root(&fd).ok()))
            .unwrap_or_else(|| p.to_path_buf())
    };
    let masked_file = |p: &Path| -> bool {
        root.as_ref()
            .and_then(|r| r.resolve(p).ok())
            .and_then(|fd| nix::sys::stat::fstat(&fd).ok())
            .is_some_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR)
    };
    for e in mounts::for_dump(&c.state.spec, &c.state.cgroup, &resolve, &masked_file) {
        let mut m = Ext_mount_map::new();
        m.set_key(e.key);
        m.set_val(e.val);
        opts.ext_mnt.push(m);
    }
}

/// What the init's stdio was at the dump, so the restore can hand the pipes among them to
/// the restored process (runc's descriptors.json).
fn write_descriptors(pid: i32, image_path: &Path) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    let path = image_path.join(DESCRIPTORS);
    let text =
        serde_json::to_vec(&fds).map_err(|e| Error::other(format!("encode {DESCRIPTORS}: {e}")))?;
    std::fs::write(&path, text).ctx(|| at("write", &path))
}
