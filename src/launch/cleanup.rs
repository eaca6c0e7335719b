//! What a half-made container or process owns until it is committed, and how it is undone.

use crate::cgroups::Cgroup;
use crate::log;
use nix::sys::wait::WaitStatus;
use std::path::PathBuf;

/// Undoes a half-made container if `create` (or a half-started process if `exec`) fails part
/// way. The release build aborts on a panic, so no cleanup runs then: input must never panic.
#[derive(Default)]
pub(crate) struct Cleanup {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) stage1: Option<Stage1>,
    pub(crate) init_pid: Option<i32>,
    pub(crate) rdt: Option<crate::rdt::RdtGroup>,
}

impl Cleanup {
    /// The state dir of a container being created: removed if creation fails.
    pub(crate) fn for_state_dir(dir: PathBuf) -> Cleanup {
        let mut cleanup = Cleanup::default();
        cleanup.dir = Some(dir);
        cleanup
    }

    /// Everything is committed: nothing is undone any more.
    pub(crate) fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.stage1 = None;
        self.init_pid = None;
        self.rdt = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.init_pid.take() {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(child) = self.stage1.take() {
            child.kill();
            let _ = child.wait();
        }
        if let Some(cg) = self.cgroup.take()
            && let Err(e) = cg.destroy()
        {
            log::warn(format!("cleanup: {e}"));
        }
        if let Some(group) = self.rdt.take() {
            crate::rdt::Resctrl::for_group(&group).destroy(&group);
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The first stage of `corral init`, a child of this process until it reports the
/// container's pid and exits.
pub(crate) struct Stage1 {
    pub(crate) pid: i32,
}

impl Stage1 {
    pub(crate) fn kill(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    pub(crate) fn wait(&self) -> nix::Result<WaitStatus> {
        loop {
            match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => return other,
            }
        }
    }
}
