//! What CRIU must be told about the container's mounts. A mount whose source lies outside
//! the container (a bind from the host, a masked file's /dev/null, a device bound in a user
//! namespace, a v1 cgroup directory) cannot be saved in the image: the dump names it by its
//! mountpoint (an "external" mount, key = value = the mountpoint), and the restore says
//! which host path each key becomes. runc's rules, so images carry the same keys.

use crate::cgroups::{Cgroup, HierarchyKey, Layout};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use std::path::{Path, PathBuf};

/// One external mount: CRIU's key and the path it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct External {
    pub(crate) key: String,
    pub(crate) val: String,
}

fn external(key: &Path, val: &Path) -> External {
    External {
        key: key.display().to_string(),
        val: val.display().to_string(),
    }
}

pub(crate) fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

fn has_namespace(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == kind))
}

/// The binds of a `cgroup` mount on a v1 or hybrid host without a cgroup namespace: one per
/// hierarchy, as `rootfs/cgroupfs.rs` makes them (mountpoint, host directory).
fn cgroup_v1_binds(spec: &Spec, m: &Mount, cg: &Cgroup) -> Vec<(PathBuf, PathBuf)> {
    if m.typ().as_deref() != Some("cgroup")
        || cg.layout == Some(Layout::V2)
        || has_namespace(spec, LinuxNamespaceType::Cgroup)
    {
        return Vec::new();
    }
    cg.paths
        .iter()
        .filter_map(|(key, dir)| match key {
            HierarchyKey::V1(name) => {
                let name = name.strip_prefix("name=").unwrap_or(name);
                Some((m.destination().join(name), dir.clone()))
            }
            HierarchyKey::Unified => None,
        })
        .collect()
}

fn default_devices_are_binds(spec: &Spec) -> bool {
    has_namespace(spec, LinuxNamespaceType::User)
        && crate::rootfs::devices::needs_default_devices(spec)
}

fn device_paths(spec: &Spec) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
        .iter()
        .map(|d| d.path().clone())
        .collect();
    if default_devices_are_binds(spec) {
        paths.extend(
            crate::rootfs::devices::DEFAULT_DEVICES
                .iter()
                .map(|(p, _, _)| PathBuf::from(p)),
        );
    }
    paths
}

/// The dump's externals. `resolve` turns a mountpoint into where it really is in the
/// container (a destination reached through a symlink is mounted at the link's target);
/// `masked_file` says whether a masked path is a file there (a masked directory is a tmpfs,
/// which CRIU saves).
pub(crate) fn for_dump(
    spec: &Spec,
    cg: &Cgroup,
    resolve: &dyn Fn(&Path) -> PathBuf,
    masked_file: &dyn Fn(&Path) -> bool,
) -> Vec<External> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if is_bind(m) {
            let at = resolve(m.destination());
            out.push(external(&at, &at));
        }
        for (at, _) in cgroup_v1_binds(spec, m, cg) {
            out.push(external(&at, &at));
        }
    }
    for path in masked_paths(spec) {
        if masked_file(&path) {
            out.push(external(&path, Path::new("/dev/null")));
        }
    }
    for path in device_paths(spec) {
        out.push(external(&path, &path));
    }
    dedup(out)
}

/// The restore's externals: each key of the dump and the host path it becomes now (bind
/// sources relative to the bundle, the new container's cgroup directories).
pub(crate) fn for_restore(
    spec: &Spec,
    bundle: &Path,
    cg: &Cgroup,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Vec<External> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if is_bind(m)
            && let Some(src) = m.source()
        {
            out.push(external(&resolve(m.destination()), &bundle.join(src)));
        }
        for (at, dir) in cgroup_v1_binds(spec, m, cg) {
            out.push(external(&at, &dir));
        }
    }
    if !masked_paths(spec).is_empty() {
        out.push(external(Path::new("/dev/null"), Path::new("/dev/null")));
    }
    for path in device_paths(spec) {
        out.push(external(&path, &path));
    }
    dedup(out)
}

fn masked_paths(spec: &Spec) -> Vec<PathBuf> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect()
}

fn dedup(list: Vec<External>) -> Vec<External> {
    let mut out: Vec<External> = Vec::with_capacity(list.len());
    for e in list {
        if !out.iter().any(|o| o.key == e.key) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn v1_cgroup() -> Cgroup {
        let mut paths = BTreeMap::new();
        paths.insert(
            HierarchyKey::V1("memory".into()),
            PathBuf::from("/sys/fs/cgroup/memory/t/c1"),
        );
        paths.insert(
            HierarchyKey::V1("name=systemd".into()),
            PathBuf::from("/sys/fs/cgroup/systemd/t/c1"),
        );
        paths.insert(
            HierarchyKey::Unified,
            PathBuf::from("/sys/fs/cgroup/unified/t/c1"),
        );
        Cgroup {
            paths,
            layout: Some(Layout::Hybrid),
            ..Default::default()
        }
    }

    fn config() -> Spec {
        spec(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "vol", "options": ["rbind"]},
                {"destination": "/etc/hosts", "source": "/etc/hosts", "options": ["bind", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
            ],
            "linux": {
                "maskedPaths": ["/proc/kcore", "/proc/acpi"],
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                "namespaces": [{"type": "mount"}, {"type": "pid"}]
            }
        }))
    }

    #[test]
    fn a_dump_names_every_mount_whose_source_is_outside_the_container() {
        let ext = for_dump(&config(), &v1_cgroup(), &|p| p.to_path_buf(), &|p| {
            p == Path::new("/proc/kcore")
        });
        let pairs: Vec<(&str, &str)> = ext.iter().map(|e| (&*e.key, &*e.val)).collect();
        assert_eq!(
            pairs,
            [
                ("/data", "/data"),
                ("/etc/hosts", "/etc/hosts"),
                ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory"),
                ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd"),
                ("/proc/kcore", "/dev/null"),
                ("/dev/fuse", "/dev/fuse"),
            ]
        );
    }

    #[test]
    fn a_restore_maps_each_key_to_todays_host_path() {
        let ext = for_restore(&config(), Path::new("/b"), &v1_cgroup(), &|p| {
            p.to_path_buf()
        });
        let pairs: Vec<(&str, &str)> = ext.iter().map(|e| (&*e.key, &*e.val)).collect();
        assert_eq!(
            pairs,
            [
                ("/data", "/b/vol"),
                ("/etc/hosts", "/etc/hosts"),
                ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/t/c1"),
                ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/t/c1"),
                ("/dev/null", "/dev/null"),
                ("/dev/fuse", "/dev/fuse"),
            ]
        );
    }

    #[test]
    fn cgroup2_and_a_cgroup_namespace_are_real_mounts_not_externals() {
        let mut cg = v1_cgroup();
        cg.layout = Some(Layout::V2);
        let ext = for_dump(&config(), &cg, &|p| p.to_path_buf(), &|_| false);
        assert!(
            ext.iter().all(|e| !e.key.starts_with("/sys/fs/cgroup")),
            "{ext:?}"
        );
        let mut with_ns = config();
        let mut linux = with_ns.linux().clone().unwrap();
        let mut ns = linux.namespaces().clone().unwrap();
        ns.push(serde_json::from_value(serde_json::json!({"type": "cgroup"})).unwrap());
        linux.set_namespaces(Some(ns));
        with_ns.set_linux(Some(linux));
        let ext = for_dump(&with_ns, &v1_cgroup(), &|p| p.to_path_buf(), &|_| false);
        assert!(
            ext.iter().all(|e| !e.key.starts_with("/sys/fs/cgroup")),
            "{ext:?}"
        );
    }

    #[test]
    fn in_a_user_namespace_the_default_devices_are_binds_too() {
        let mut s = config();
        let mut linux = s.linux().clone().unwrap();
        let mut ns = linux.namespaces().clone().unwrap();
        ns.push(serde_json::from_value(serde_json::json!({"type": "user"})).unwrap());
        linux.set_namespaces(Some(ns));
        s.set_linux(Some(linux));
        let ext = for_dump(&s, &v1_cgroup(), &|p| p.to_path_buf(), &|_| false);
        for dev in ["/dev/null", "/dev/zero", "/dev/tty", "/dev/urandom"] {
            assert!(
                ext.iter().any(|e| e.key == dev && e.val == dev),
                "{dev}: {ext:?}"
            );
        }
    }
}
