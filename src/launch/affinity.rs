//! `process.execCPUAffinity` (spec 1.2.1) for exec'd processes, as runc: the runtime runs
//! on `initial` while the new process is made (it inherits the mask until it enters the
//! container's cgroup), and the process gets `final` once it is in the cgroup. A process with
//! neither, and the container's init, get every CPU back, so none inherits the affinity of
//! whoever ran corral (a pinned shim); the cgroup's cpuset still bounds them.

use crate::error::{Error, Result};
use crate::spec::cpus::cpu_set;
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use oci_spec::runtime::ExecCPUAffinity;

/// Pins corral itself to `initial` before it spawns the exec'd process.
pub fn run_on_initial_cpus(affinity: Option<&ExecCPUAffinity>) -> Result<()> {
    let Some(list) = affinity.and_then(|a| a.initial().as_deref()) else {
        return Ok(());
    };
    let field = "process.execCPUAffinity.initial";
    if let Some(set) = cpu_set(field, list)? {
        sched_setaffinity(Pid::from_raw(0), &set)
            .map_err(|e| Error::config(field, format!("{list:?}: sched_setaffinity: {e}")))?;
    }
    Ok(())
}

/// The exec'd process `pid`, now in the container's cgroup: `final` if given; every CPU if
/// the process has no affinity at all; left as it is with `initial` only (runc's rule).
pub fn set_final_cpus(pid: i32, affinity: Option<&ExecCPUAffinity>) -> Result<()> {
    let initial = affinity.and_then(|a| a.initial().as_deref()).unwrap_or("");
    let last = affinity
        .and_then(|a| a.cpu_affinity_final().as_deref())
        .unwrap_or("");
    let field = "process.execCPUAffinity.final";
    match cpu_set(field, last)? {
        Some(set) => sched_setaffinity(Pid::from_raw(pid), &set)
            .map_err(|e| Error::config(field, format!("{last:?}: sched_setaffinity: {e}"))),
        None if cpu_set("", initial).ok().flatten().is_none() => {
            reset_cpus(pid);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Every CPU the kernel can name for `pid` (sched_setaffinity clamps the mask to the
/// cgroup's cpuset and the CPUs that exist, and keeps the rest for when they come back).
/// A failure leaves the inherited mask, with a warning, as runc.
pub fn reset_cpus(pid: i32) {
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        // In range by construction.
        let _ = all.set(cpu);
    }
    if let Err(e) = sched_setaffinity(Pid::from_raw(pid), &all) {
        crate::log::warn(format!(
            "resetting the CPU affinity of pid {pid} failed ({e}): the process keeps corral's"
        ));
    }
}
