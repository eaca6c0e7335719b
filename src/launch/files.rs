//! The files `create` and `exec` write on the host: the state dir, the exec fifo, the pid
//! file and a user namespace's id maps.

use crate::container::StateRoot;
use crate::error::{Context, Error, Result, at};
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub(crate) fn make_state_dir(root: &StateRoot, id: &str) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = root.dir_of(id);
    match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::Exists(id.to_string()))
        }
        Err(e) => Err(e).ctx(|| at("create state dir", &dir)),
    }
}

/// The exec fifo, opened read-write: the init inherits it and blocks reading one byte;
/// `start` writes that byte. Holding both ends means the init never blocks in open(), and
/// `start` learns from ENXIO that the init is gone.
pub(crate) fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    use nix::sys::stat::Mode;
    let path = dir.join(crate::container::state::EXEC_FIFO);
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622)).ctx(|| at("mkfifo", &path))?;
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &path,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| at("chmod", &path))?;
    nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| at("open", &path))
}

/// The id maps of the init's new user namespace; rootless, as an unprivileged user can.
pub(crate) fn write_id_maps(pid: i32, spec: &Spec, rootless: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if rootless {
        return super::rootless::write_id_maps(pid, &uid, &gid);
    }
    write_map(&format!("/proc/{pid}/uid_map"), &uid)?;
    write_map(&format!("/proc/{pid}/gid_map"), &gid)
}

fn write_map(path: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    std::fs::write(path, text).ctx(|| format!("write {path} (linux.uidMappings/gidMappings)"))
}

/// Written atomically (tmp + rename) so a reader never sees an empty pid file. The temp file
/// is created exclusively and never through a symlink: a `.NAME.tmp` planted as a link to
/// /etc/shadow must not make root truncate that (runc opens it with O_EXCL too).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let abs = std::path::absolute(path).ctx(|| at("resolve pid file", path))?;
    let tmp = abs.with_file_name(format!(
        ".{}.tmp",
        abs.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    // A leftover of a crashed run (or a planted link: unlink removes the link, not its target).
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx(|| at("remove stale pid file", &tmp)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .ctx(|| at("write pid file", &tmp))?;
    f.write_all(pid.to_string().as_bytes())
        .ctx(|| at("write pid file", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, &abs).ctx(|| at("rename pid file", &abs))
}
