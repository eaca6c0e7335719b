//! Checks a parsed config against what the runtime-spec requires and what corral supports.
//! Everything that can be rejected before a process or a directory exists is rejected here.

use crate::error::{Error, Result};
use oci_spec::runtime::{Linux, LinuxNamespace, LinuxNamespaceType, Spec};
use std::collections::HashSet;

pub fn validate(spec: &Spec) -> Result<()> {
    validate_version(spec.version())?;
    validate_root(spec)?;
    validate_process(spec)?;
    validate_mounts(spec)?;
    validate_linux(spec)?;
    crate::hooks::validate(spec)?;
    validate_unsupported(spec)?;
    Ok(())
}

/// Accepts any 1.x version (runc does the same); the major version is the compatibility line.
fn validate_version(v: &str) -> Result<()> {
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("");
    if major != "1" || minor.parse::<u32>().is_err() {
        return Err(Error::config(
            "ociVersion",
            format!("unsupported version {v:?} (corral supports 1.x)"),
        ));
    }
    Ok(())
}

fn validate_root(spec: &Spec) -> Result<()> {
    match spec.root() {
        Some(root) if !root.path().as_os_str().is_empty() => Ok(()),
        _ => Err(Error::config("root.path", "is required")),
    }
}

/// `process` is optional at create (the spec requires it only at start, and `start` checks
/// it); when present it must be complete.
fn validate_process(spec: &Spec) -> Result<()> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::config("process.args", "must not be empty"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::config(
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    for (i, e) in process
        .env()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if !e.contains('=') {
            return Err(Error::config(
                format!("process.env[{i}]"),
                format!("{e:?} is not of the form KEY=VALUE"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, r) in process
        .rlimits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(Error::config(
                format!("process.rlimits[{i}]"),
                format!("duplicate rlimit type {:?}", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::config(
                format!("process.rlimits[{i}]"),
                "soft limit is greater than hard limit",
            ));
        }
    }
    Ok(())
}

fn validate_mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if m.destination().as_os_str().is_empty() {
            return Err(Error::config(
                format!("mounts[{i}].destination"),
                "is required",
            ));
        }
        for opt in m.options().as_deref().unwrap_or_default() {
            if opt.contains('\0') {
                return Err(Error::config(
                    format!("mounts[{i}].options"),
                    "contains a NUL byte",
                ));
            }
        }
    }
    crate::rootfs::validate_idmapped_mounts(spec)
}

fn validate_linux(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    validate_namespaces(namespaces)?;
    validate_id_mappings(linux, namespaces)?;
    validate_time_offsets(linux, namespaces)?;
    if let Some(prop) = linux.rootfs_propagation() {
        crate::rootfs::propagation_flag(prop).ok_or_else(|| {
            Error::config("linux.rootfsPropagation", format!("unknown value {prop:?}"))
        })?;
    }
    if let Some(sysctl) = linux.sysctl() {
        super::sysctl::validate(sysctl.keys(), namespaces)?;
    }
    validate_device_rules(linux)?;
    if let Some(cg) = linux.cgroups_path()
        && cg
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("{} must not contain '..'", cg.display()),
        ));
    }
    Ok(())
}

/// Whether the config makes a namespace of this type (rather than joining one by path).
fn creates(namespaces: &[LinuxNamespace], typ: LinuxNamespaceType) -> bool {
    namespaces
        .iter()
        .any(|n| n.typ() == typ && n.path().is_none())
}

/// Each type once, and joined only by absolute path.
fn validate_namespaces(namespaces: &[LinuxNamespace]) -> Result<()> {
    let mut seen = HashSet::new();
    for (i, ns) in namespaces.iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(Error::config(
                format!("linux.namespaces[{i}]"),
                format!("duplicate namespace type {}", ns.typ()),
            ));
        }
        if let Some(p) = ns.path()
            && !p.is_absolute()
        {
            return Err(Error::config(
                format!("linux.namespaces[{i}].path"),
                format!("{} is not an absolute path", p.display()),
            ));
        }
    }
    Ok(())
}

/// A new user namespace needs both maps, and maps need a new user namespace.
fn validate_id_mappings(linux: &Linux, namespaces: &[LinuxNamespace]) -> Result<()> {
    let new_userns = creates(namespaces, LinuxNamespaceType::User);
    let uid = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let gid = linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new_userns && !(uid && gid) {
        return Err(Error::config(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    if !new_userns && (uid || gid) {
        return Err(Error::config(
            "linux.uidMappings",
            "id mappings given without a new user namespace",
        ));
    }
    Ok(())
}

/// Offsets need a new time namespace, and only these two clocks have them.
fn validate_time_offsets(linux: &Linux, namespaces: &[LinuxNamespace]) -> Result<()> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(());
    };
    if !creates(namespaces, LinuxNamespaceType::Time) {
        return Err(Error::config(
            "linux.timeOffsets",
            "time offsets need a new time namespace",
        ));
    }
    for clock in offsets.keys() {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::config(
                format!("linux.timeOffsets.{clock}"),
                "only monotonic and boottime can be offset",
            ));
        }
    }
    Ok(())
}

/// Device cgroup rules: `access` is a non-empty combination of r, w and m (runc refuses an
/// empty one too: it would be a rule that says nothing).
fn validate_device_rules(linux: &Linux) -> Result<()> {
    let rules = linux
        .resources()
        .as_ref()
        .and_then(|r| r.devices().as_deref())
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let Some(access) = rule.access() else {
            continue;
        };
        if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(Error::config(
                format!("linux.resources.devices[{i}].access"),
                format!("{access:?} is not a non-empty combination of r, w and m"),
            ));
        }
    }
    Ok(())
}

/// Parts of the spec whose support lands in later work. We refuse them loudly rather than
/// run a container that silently lacks a limit or a filter the caller asked for.
fn validate_unsupported(spec: &Spec) -> Result<()> {
    check_selinux_labels(spec)?;
    if let Some(linux) = spec.linux() {
        if let Some(s) = linux.seccomp() {
            // Building the filter here reports a bad profile before anything exists.
            crate::seccomp::build(s)?;
        }
        if let Some(rdt) = linux.intel_rdt() {
            crate::rdt::for_config(rdt)?;
        }
        super::mempolicy::from_config(linux)?;
        validate_net_devices(linux)?;
    }
    if let Some(p) = spec.process() {
        super::cpus::validate_affinity("process", p)?;
        if p.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty())
            && !crate::lsm::apparmor_enabled()
        {
            // As runc: a profile the host cannot apply is an error, not a silent no-op.
            return Err(Error::config(
                "process.apparmorProfile",
                "apparmor profile specified but apparmor is not enabled on this system",
            ));
        }
    }
    Ok(())
}

/// runc's rules: a network namespace of the container's own to move into, and names the
/// kernel takes (at most 15 bytes, no '/', ':' or white space, not `.` or `..`).
fn validate_net_devices(linux: &Linux) -> Result<()> {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    let net_ns = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network);
    if !net_ns {
        return Err(Error::config(
            "linux.netDevices",
            "moving network devices needs a network namespace of the container's own",
        ));
    }
    let valid = |n: &str| {
        !n.is_empty()
            && n.len() < 16
            && n != "."
            && n != ".."
            && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
    };
    for (name, dev) in devices {
        if !valid(name) {
            return Err(Error::config(
                format!("linux.netDevices.{name}"),
                "is not a valid interface name",
            ));
        }
        if let Some(new) = dev.name().as_deref().filter(|n| !valid(n)) {
            return Err(Error::config(
                format!("linux.netDevices.{name}.name"),
                format!("{new:?} is not a valid interface name"),
            ));
        }
    }
    Ok(())
}

/// SELinux labels: applied when SELinux is on (`crate::lsm`); runc ignores them when it is
/// off, and clients (podman on Debian) send them anyway, so they are only logged then.
fn check_selinux_labels(spec: &Spec) -> Result<()> {
    if crate::lsm::selinux_enabled() {
        return Ok(());
    }
    let process_label = spec
        .process()
        .as_ref()
        .and_then(|p| p.selinux_label().clone());
    let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().clone());
    for (field, label) in [
        ("process.selinuxLabel", process_label),
        ("linux.mountLabel", mount_label),
    ] {
        let Some(label) = label.filter(|l| !l.is_empty()) else {
            continue;
        };
        crate::log::debug(format!(
            "{field} {label:?} ignored: SELinux is not enabled on this host"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(validate_version("1.0.2-dev").is_ok());
        assert!(validate_version("1.2.0").is_ok());
        assert!(validate_version("1.0.0").is_ok());
        assert!(validate_version("2.0.0").is_err());
        assert!(validate_version("").is_err());
        assert!(validate_version("one").is_err());
    }

    fn spec(json: &str) -> Spec {
        crate::spec::parse_config(json.as_bytes()).unwrap()
    }

    #[test]
    fn relative_cwd_is_rejected() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"tmp","args":["sh"],"user":{"uid":0,"gid":0}}}"#,
        );
        let e = validate(&s).unwrap_err().to_string();
        assert!(e.starts_with("process.cwd:"), "{e}");
    }

    #[test]
    fn empty_args_are_rejected() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":[],"user":{"uid":0,"gid":0}}}"#,
        );
        let e = validate(&s).unwrap_err().to_string();
        assert!(e.starts_with("process.args:"), "{e}");
    }

    #[test]
    fn duplicate_namespaces_are_rejected() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}"#,
        );
        let e = validate(&s).unwrap_err().to_string();
        assert!(e.starts_with("linux.namespaces[1]:"), "{e}");
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"user"}]}}"#,
        );
        assert!(validate(&s).is_err());
    }

    #[test]
    fn a_config_without_process_is_valid_until_start() {
        validate(&spec(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#)).unwrap();
    }

    #[test]
    fn minimal_config_is_valid() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#,
        );
        validate(&s).unwrap();
    }
}
