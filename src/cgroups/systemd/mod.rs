//! The systemd cgroup driver (`--systemd-cgroup`): systemd owns the container's cgroup, as a
//! transient unit (a `.scope`, or a `.slice`) that corral asks for over D-Bus (`bus.rs`, `wire.rs`) with
//! the init's pid in it; the cgroupfs code then works on the unit's directories as on any
//! other (limits systemd cannot express, stats, freeze, kill). runc's rules throughout, since
//! containerd, CRI-O and podman hand us the same `cgroupsPath` they hand runc.

mod annotations;
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
    /// The unit belongs to the user's own systemd instance (rootless), reached on the
    /// user's session bus; its slices sit below that instance's cgroup.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

/// The slice when `cgroupsPath` names none, as runc's: root containers go to the system
/// manager's `system.slice`, rootless ones to the user manager's `user.slice`.
const DEFAULT_SLICE: &str = "system.slice";
const DEFAULT_USER_SLICE: &str = "user.slice";
/// The unit prefix when `cgroupsPath` is empty (runc uses `runc`).
const DEFAULT_PREFIX: &str = "corral";

impl SystemdUnit {
    /// runc's reading of `linux.cgroupsPath` under the systemd driver: `slice:prefix:name`
    /// (each part may be empty), or nothing at all for `:corral:ID`.
    pub fn from_cgroups_path(id: &str, path: Option<&str>, user: bool) -> Result<SystemdUnit> {
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
        let slice = match (slice.is_empty(), user) {
            (false, _) => slice,
            (true, false) => DEFAULT_SLICE,
            (true, true) => DEFAULT_USER_SLICE,
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
            user,
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

pub use bus::{set_unit_properties, start_unit, stop_unit, user_manager_cgroup};
pub use properties::{PropValue, Property, resource_properties};

/// What a config adds to its unit at creation, beyond the limits: properties from
/// `org.systemd.property.*` annotations, and the OOM policy that `memory.oom.group` in
/// `linux.resources.unified` asks for (systemd refuses to change OOMPolicy on a running
/// scope, so runc sets it at start, on systemd 253 and later).
#[derive(Debug, Default)]
pub struct UnitExtras {
    pub properties: Vec<Property>,
    /// `memory.oom.group`: true kills the whole unit on an OOM kill (OOMPolicy=kill), false
    /// keeps it running (continue).
    pub oom_group: Option<bool>,
}

impl UnitExtras {
    pub fn from_config(
        annotations: Option<&std::collections::HashMap<String, String>>,
        resources: Option<&oci_spec::runtime::LinuxResources>,
    ) -> Result<UnitExtras> {
        let oom_group = resources
            .and_then(|r| r.unified().as_ref())
            .and_then(|u| u.get("memory.oom.group"))
            .and_then(|v| match v.trim() {
                "0" => Some(false),
                "1" => Some(true),
                // Other values are not runc's to convert; the cgroupfs write reports them.
                _ => None,
            });
        Ok(UnitExtras {
            properties: annotations::annotation_properties(annotations)?,
            oom_group,
        })
    }

    /// The OOMPolicy property for systemd `version` (None: unknown), if any.
    pub fn oom_policy(&self, version: Option<u32>) -> Option<Property> {
        let group = self.oom_group?;
        if version? < OOM_POLICY_SINCE {
            return None;
        }
        let policy = if group { "kill" } else { "continue" };
        Some(("OOMPolicy".into(), PropValue::Str(policy.into())))
    }
}

/// The first systemd that lets a transient scope have an OOMPolicy (runc's constant).
const OOM_POLICY_SINCE: u32 = 253;

/// `252.36-1~deb12u1` → 252.
fn major_version(text: &str) -> Option<u32> {
    let digits: String = text
        .trim()
        .trim_start_matches('v')
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn oom_policy_follows_memory_oom_group_from_systemd_253() {
        let res: oci_spec::runtime::LinuxResources =
            serde_json::from_str(r#"{"unified": {"memory.oom.group": "1"}}"#).unwrap();
        let extras = UnitExtras::from_config(None, Some(&res)).unwrap();
        assert_eq!(
            extras.oom_policy(Some(253)),
            Some(("OOMPolicy".into(), PropValue::Str("kill".into())))
        );
        assert_eq!(extras.oom_policy(Some(252)), None);
        assert_eq!(extras.oom_policy(None), None);
        let res: oci_spec::runtime::LinuxResources =
            serde_json::from_str(r#"{"unified": {"memory.oom.group": "0"}}"#).unwrap();
        let extras = UnitExtras::from_config(None, Some(&res)).unwrap();
        assert_eq!(
            extras.oom_policy(Some(255)).unwrap().1,
            PropValue::Str("continue".into())
        );
        assert_eq!(UnitExtras::default().oom_policy(Some(255)), None);
    }

    #[test]
    fn systemd_versions_parse_to_their_major_number() {
        assert_eq!(major_version("252.36-1~deb12u1"), Some(252));
        assert_eq!(major_version("v257"), Some(257));
        assert_eq!(major_version("unknown"), None);
    }
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
        let u = SystemdUnit::from_cgroups_path("abc", None, false).unwrap();
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
            false,
        )
        .unwrap();
        assert_eq!(u.name, "cri-containerd-0123.scope");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-0123.scope"
            )
        );

        let u = SystemdUnit::from_cgroups_path("x", Some("::y"), false).unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "-y.scope")
        );

        let u = SystemdUnit::from_cgroups_path("x", Some("-.slice:p:machine-test.slice"), false)
            .unwrap();
        assert_eq!(u.name, "machine-test.slice");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from("/machine.slice/machine-test.slice")
        );

        // Rootless, the user manager's user.slice, as runc's.
        let u = SystemdUnit::from_cgroups_path("abc", None, true).unwrap();
        assert_eq!(u.slice, "user.slice");
        assert!(u.user);

        for bad in ["/a/b", "a:b", "a:b:c:d", "nope:p:n", "a/b.slice:p:n"] {
            let e = SystemdUnit::from_cgroups_path("x", Some(bad), false)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{bad}: {e}");
        }
    }
}
