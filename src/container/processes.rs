//! The processes of a container that has no cgroup (rootless, nothing delegated): found by
//! their pid namespace, which a container with its own is the only holder of. A container
//! that shares the host's pid namespace can only be known by its init.

use super::state::ProcessId;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::unix::fs::MetadataExt;

/// Host pids of the container's processes, init first.
pub(crate) fn without_cgroup(spec: &Spec, init: &ProcessId) -> Vec<i32> {
    if init.signal(0).is_err() {
        return Vec::new();
    }
    if !has_own_pid_namespace(spec) {
        return vec![init.pid];
    }
    let Some(ns) = pid_namespace(init.pid) else {
        return vec![init.pid];
    };
    let mut pids = vec![init.pid];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid != init.pid && pid_namespace(pid) == Some(ns) {
            pids.push(pid);
        }
    }
    pids
}

fn has_own_pid_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
        })
}

/// The pid namespace a process lives in (device and inode of /proc/PID/ns/pid); None for a
/// process we may not inspect or that has gone.
fn pid_namespace(pid: i32) -> Option<(u64, u64)> {
    let m = std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok()?;
    Some((m.dev(), m.ino()))
}
