//! The systemd cgroup driver (`--systemd-cgroup`): systemd owns the container's cgroup, as a
//! transient unit (a `.scope`, or a `.slice`) that corral asks for over D-Bus (`bus.rs`, `wire.rs`) with
//! the init's pid in it; the cgroupfs code then works on the unit's directories as on any
//! other (limits systemd cannot express, stats, freeze, kill). runc's rules throughout, since
//! containerd, CRI-O and podman hand us the same `cgroupsPath` they hand runc.

mod bus;
mod properties;
mod wire;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The unit a container lives in, and the slice it sits under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    /// `system.slice`, `kubepods-burstable-pod1.slice`, or `-.slice` for the root.
    pub slice: String,
    /// `corral-ID.scope`, or a name ending in `.slice` taken as is.
    pub name: String,
}

/// The slice when `cgroupsPath` names none, as runc's (root containers).
const DEFAULT_SLICE: &str = "system.slice";
/// The unit prefix when `cgroupsPath` is empty (runc uses `runc`).
const DEFAULT_PREFIX: &str = "corral";

impl SystemdUnit {
    /// runc's reading of `linux.cgroupsPath` under the systemd driver: `slice:prefix:name`
    /// (each part may be empty), or nothing at all for `:corral:ID`.
    pub fn from_cgroups_path(id: &str, path: Option<&str>) -> Result<SystemdUnit> {
        let (slice, prefix, name) = match path.filter(|p| !p.is_empty()) {
            None => ("", DEFAULT_PREFIX, id),
            Some(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                let [slice, prefix, name] = parts[..] else {
                    return Err(Error::config(
                        "linux.cgroupsPath",
                        format!(
                            "expected \"slice:prefix:name\" for the systemd cgroup driver, got {p:?}"
                        ),
                    ));
                };
                (slice, prefix, name)
            }
        };
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        expand_slice(slice)?;
        let name = if name.ends_with(".slice") {
            expand_slice(name)?;
            name.to_string()
        } else {
            format!("{prefix}-{name}.scope")
        };
        if name.contains('/') {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!("unit name {name:?} must not contain '/'"),
            ));
        }
        Ok(SystemdUnit {
            slice: slice.to_string(),
            name,
        })
    }

    /// The unit's cgroup inside each hierarchy: the slice's path, then the unit (a slice
    /// unit's own path already holds its parents).
    pub fn cgroup_path(&self) -> Result<PathBuf> {
        if self.name.ends_with(".slice") {
            return expand_slice(&self.name);
        }
        Ok(expand_slice(&self.slice)?.join(&self.name))
    }
}

/// Where systemd puts a slice: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`, `-.slice`
/// is the root. A name with a slash, an empty part or without the suffix is refused, as
/// systemd (and runc) refuse it.
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let invalid = || Error::config("linux.cgroupsPath", format!("invalid slice name {slice:?}"));
    let base = slice.strip_suffix(".slice").ok_or_else(invalid)?;
    if slice.contains('/') || base.is_empty() {
        return Err(invalid());
    }
    if base == "-" {
        return Ok(PathBuf::from("/"));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(invalid());
        }
        path.push(format!("{prefix}{part}.slice"));
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// Whether systemd runs this machine (its own test, as runc's).
pub fn systemd_is_init() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

pub use bus::{set_unit_properties, start_unit, stop_unit};
pub use properties::{PropValue, resource_properties};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_as_systemd_nests_them() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("/system.slice")
        );
        assert_eq!(
            expand_slice("kubepods-burstable-pod12.slice").unwrap(),
            PathBuf::from(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice"
            )
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::from("/"));
        for bad in [
            "system",
            "a/b.slice",
            "a--b.slice",
            "-a.slice",
            ".slice",
            "a-.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cgroups_path_reads_as_runc_reads_it() {
        let u = SystemdUnit::from_cgroups_path("abc", None).unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "corral-abc.scope")
        );
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from("/system.slice/corral-abc.scope")
        );

        let u = SystemdUnit::from_cgroups_path(
            "x",
            Some("kubepods-besteffort-pod1.slice:cri-containerd:0123"),
        )
        .unwrap();
        assert_eq!(u.name, "cri-containerd-0123.scope");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-0123.scope"
            )
        );

        let u = SystemdUnit::from_cgroups_path("x", Some("::y")).unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "-y.scope")
        );

        let u = SystemdUnit::from_cgroups_path("x", Some("-.slice:p:machine-test.slice")).unwrap();
        assert_eq!(u.name, "machine-test.slice");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from("/machine.slice/machine-test.slice")
        );

        for bad in ["/a/b", "a:b", "a:b:c:d", "nope:p:n", "a/b.slice:p:n"] {
            let e = SystemdUnit::from_cgroups_path("x", Some(bad))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{bad}: {e}");
        }
    }
}
