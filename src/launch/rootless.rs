//! What `create` does differently for an unprivileged caller (`--rootless`): the config must
//! give the container a user namespace the caller can build, and its id maps are written
//! as that user, through `newuidmap`/`newgidmap` (package uidmap) when they name more than
//! the caller's own ids.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::process::Command;

/// runc's rootless rules: a user namespace, mappings when it is a new one, and `uid=`/`gid=`
/// mount options that name mapped ids. Checked before anything exists.
pub(crate) fn check_config(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let Some(user) = namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::User)
    else {
        return Err(Error::config(
            "linux.namespaces",
            "a rootless container needs a user namespace (corral spec --rootless writes one)",
        ));
    };
    if crate::rootfs::has_idmapped_mounts(spec) {
        return Err(Error::config(
            "mounts",
            "idmapped mounts need root on the host (the kernel lets only the filesystem's \
             owner idmap it); a rootless container cannot have them",
        ));
    }
    if user.path().is_some() {
        return Ok(());
    }
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if uid.is_empty() {
        return Err(Error::config(
            "linux.uidMappings",
            "a rootless container needs at least one uid mapping",
        ));
    }
    if gid.is_empty() {
        return Err(Error::config(
            "linux.gidMappings",
            "a rootless container needs at least one gid mapping",
        ));
    }
    check_mount_ids(spec, &uid, &gid)
}

fn is_mapped(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// `uid=N`/`gid=N` of a mount is an id inside the container; one no mapping covers could
/// not be set from the user namespace (runc refuses it too).
fn check_mount_ids(spec: &Spec, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        for opt in m.options().as_deref().unwrap_or_default() {
            let (maps, which, value) = if let Some(v) = opt.strip_prefix("uid=") {
                (uid, "linux.uidMappings", v)
            } else if let Some(v) = opt.strip_prefix("gid=") {
                (gid, "linux.gidMappings", v)
            } else {
                continue;
            };
            // Other spellings are the filesystem's business, as in runc.
            let Ok(id) = value.parse::<u32>() else {
                continue;
            };
            if !is_mapped(maps, id) {
                return Err(Error::config(
                    format!("mounts[{i}].options"),
                    format!("{opt}: rootless, and {which} does not map it"),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the id maps of the init's new user namespace as an unprivileged user. The kernel
/// lets a user map its own uid and gid, one id each, once `setgroups` is denied for the gid
/// map; anything else goes through the setuid helpers, which check /etc/subuid and
/// /etc/subgid. As runc, `setgroups` is denied exactly when the gid map is the caller's own
/// gid as 0, and the plain write is tried first.
pub(crate) fn write_id_maps(
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<()> {
    let egid = nix::unistd::getegid().as_raw();
    if let [only] = gid
        && only.container_id() == 0
        && only.host_id() == egid
        && only.size() == 1
    {
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").ctx(|| format!("write {path}"))?;
    }
    write_map(pid, "uid_map", "newuidmap", uid, "linux.uidMappings")?;
    write_map(pid, "gid_map", "newgidmap", gid, "linux.gidMappings")
}

fn write_map(pid: i32, file: &str, tool: &str, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    if maps.is_empty() {
        return Ok(());
    }
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    match std::fs::write(&path, text) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => run_tool(pid, tool, maps, field),
        Err(e) => Err(e).ctx(|| format!("write {path} ({field})")),
    }
}

fn run_tool(pid: i32, tool: &str, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(
                field,
                format!(
                    "rootless: mapping more than your own id needs {tool}, which is not \
                     installed (package uidmap)"
                ),
            ));
        }
        Err(e) => return Err(e).ctx(|| format!("run {tool}")),
    };
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name);
    let db = if tool == "newuidmap" {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    Err(Error::config(
        field,
        format!(
            "{tool} refused the mapping ({}): {said}; {db} must give {user} these ranges",
            out.status
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn base(extra_mount_opt: &str) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                        "options": ["nosuid", extra_mount_opt]}],
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "mount"}],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                                {"containerID": 5, "hostID": 100005, "size": 1}]
            }
        })
    }

    #[test]
    fn needs_a_user_namespace_and_mappings() {
        let mut j = base("mode=0620");
        j["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        let e = check_config(&spec(j)).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces"), "{e}");
        let mut j = base("mode=0620");
        j["linux"]["uidMappings"] = serde_json::json!([]);
        let e = check_config(&spec(j)).unwrap_err().to_string();
        assert!(e.contains("linux.uidMappings"), "{e}");
        check_config(&spec(base("mode=0620"))).unwrap();
    }

    #[test]
    fn mount_ids_must_be_mapped() {
        check_config(&spec(base("gid=5"))).unwrap();
        let e = check_config(&spec(base("gid=6"))).unwrap_err().to_string();
        assert!(
            e.contains("mounts[0].options") && e.contains("gid=6"),
            "{e}"
        );
        let e = check_config(&spec(base("uid=1"))).unwrap_err().to_string();
        assert!(e.contains("uid=1"), "{e}");
    }
}
