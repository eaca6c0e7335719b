//! Starting `corral init` already inside the cgroups it belongs to.

use super::cleanup::{Cleanup, Stage1};
use crate::cgroups::HierarchyKey;
use crate::error::{Context, Error, Result, at};
use crate::sync::INIT_SOCK_ENV;
use crate::syscall::{SpawnError, SpawnStep, set_cloexec};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cgroup directories a new process joins, split by how it joins them: the cgroup v2
/// one and one per v1 hierarchy.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    unified: Option<PathBuf>,
    v1: Vec<PathBuf>,
}

impl Placement {
    pub(crate) fn new<'a>(
        dirs: impl IntoIterator<Item = (&'a HierarchyKey, &'a Path)>,
    ) -> Placement {
        let mut p = Placement::default();
        for (key, dir) in dirs {
            match key {
                HierarchyKey::Unified => p.unified = Some(dir.to_path_buf()),
                HierarchyKey::V1(_) => p.v1.push(dir.to_path_buf()),
            }
        }
        p
    }

    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.unified.iter().chain(&self.v1)
    }
}

/// Starts `corral init` from the sealed binary, already inside the container's cgroups.
///
/// The child is placed before it execs, without the kernel's threadgroup lock (see
/// [`crate::syscall::spawn_placed`]): forked into the cgroup v2 directory, and moving itself
/// into each v1 one. Where clone3 is missing (before 5.3, or CLONE_INTO_CGROUP before 5.7) the
/// child is started first and then written into every `cgroup.procs`, as
/// `CORRAL_CLONE_INTO_CGROUP=0` asks, to measure the difference.
pub(crate) fn spawn_init(
    exe: &OwnedFd,
    inherit: &[RawFd],
    sock_fd: RawFd,
    placement: &Placement,
    cleanup: &mut Cleanup,
) -> Result<i32> {
    if std::env::var_os("CORRAL_CLONE_INTO_CGROUP").is_none_or(|v| v != "0") {
        match spawn_init_placed(exe, inherit, sock_fd, placement) {
            Ok(pid) => {
                cleanup.stage1 = Some(Stage1 { pid });
                return Ok(pid);
            }
            Err(e) if e.step == SpawnStep::Clone && clone3_unsupported(&e.err) => {}
            Err(e) => return Err(placed_spawn_error(e, placement)),
        }
    }
    let pid = spawn_init_then_move(exe, inherit, sock_fd)?;
    cleanup.stage1 = Some(Stage1 { pid });
    for dir in placement.all() {
        crate::cgroups::write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(pid)
}

fn clone3_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL)
    )
}

fn placed_spawn_error(e: SpawnError, placement: &Placement) -> Error {
    let context = match (e.step, &placement.unified) {
        (SpawnStep::Clone, Some(dir)) => at("start container init in cgroup", dir),
        (SpawnStep::Clone, None) => "start container init".to_string(),
        (SpawnStep::JoinCgroup(i), _) => at("join cgroup", &placement.v1[i]),
        (SpawnStep::Exec, _) => "exec container init".to_string(),
    };
    Error::Io {
        context,
        err: e.err,
    }
}

fn init_argv_envp(sock_fd: RawFd) -> (Vec<CString>, Vec<CString>) {
    let argv = vec![c"corral".to_owned(), c"init".to_owned()];
    let env = CString::new(format!("{INIT_SOCK_ENV}={sock_fd}")).expect("no NUL");
    (argv, vec![env])
}

fn spawn_init_placed(
    exe: &OwnedFd,
    inherit: &[RawFd],
    sock_fd: RawFd,
    placement: &Placement,
) -> std::result::Result<i32, SpawnError> {
    let open_err = |step, err: nix::errno::Errno| SpawnError {
        step,
        err: err.into(),
    };
    let cgroup = placement
        .unified
        .as_ref()
        .map(|dir| {
            nix::fcntl::open(
                dir,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| open_err(SpawnStep::Clone, e))
        })
        .transpose()?;
    let tasks = placement
        .v1
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            nix::fcntl::open(
                &dir.join("tasks"),
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| open_err(SpawnStep::JoinCgroup(i), e))
        })
        .collect::<std::result::Result<Vec<OwnedFd>, _>>()?;
    let tasks: Vec<RawFd> = tasks.iter().map(|f| f.as_raw_fd()).collect();
    let path = CString::new(crate::syscall::fd_path(exe)).expect("no NUL");
    let (argv, envp) = init_argv_envp(sock_fd);
    crate::syscall::spawn_placed(
        &path,
        &argv,
        &envp,
        inherit,
        cgroup.as_ref().map(|f| f.as_fd()),
        &tasks,
    )
}

fn spawn_init_then_move(exe: &OwnedFd, inherit: &[RawFd], sock_fd: RawFd) -> Result<i32> {
    let mut cmd = Command::new(crate::syscall::fd_path(exe));
    cmd.arg0("corral")
        .arg("init")
        .env_clear()
        .env(INIT_SOCK_ENV, sock_fd.to_string());
    let keep = inherit.to_vec();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (fcntl, prctl).
    unsafe {
        cmd.pre_exec(move || {
            for fd in &keep {
                set_cloexec(*fd, false)?;
            }
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            Ok(())
        });
    }
    // The Child handle is dropped: Stage1 waits for the pid itself.
    let child = cmd.spawn().ctx(|| "start container init")?;
    Ok(child.id() as i32)
}
