//! Facts about the host that decide what a test expects or whether it can run.

use std::path::{Path, PathBuf};

/// Mount points of every cgroup hierarchy in the caller's mount namespace.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount_point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect()
}

/// True on a pure cgroup v2 host (the VM lane), false on v1 and hybrid hosts.
pub fn cgroup_v2_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_this_hosts_cgroup_mounts() {
        let mounts = super::cgroup_mounts();
        assert!(!mounts.is_empty());
        assert!(
            mounts.iter().all(|m| m.starts_with("/sys/fs/cgroup")),
            "{mounts:?}"
        );
    }
}
