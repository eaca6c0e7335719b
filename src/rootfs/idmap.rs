//! Idmapped bind mounts (runtime-spec 1.2: the `idmap`/`ridmap` options and a mount's
//! `uidMappings`/`gidMappings`): the bind's detached mount gets MOUNT_ATTR_IDMAP with a user
//! namespace that holds the mount's mapping, so a file owned by id N on disk is seen as the
//! id the mapping gives N, and ids written through the mount land on disk mapped back.
//!
//! Done by the init while it is still the host's root (idmapping a mount needs
//! CAP_SYS_ADMIN over the mount's filesystem), before the mount is attached.

use super::error::{MountError, Res, io_err};
use super::options::{Idmap, MountOptions};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// Where a mount's idmapping comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mapping {
    /// The mount's own mappings, or the container's when the mount names none.
    Maps {
        uid: Vec<(u32, u32, u32)>,
        gid: Vec<(u32, u32, u32)>,
    },
    /// The user namespace the container joins by path, when the mount names no mappings.
    Joined(PathBuf),
}

/// The idmapping one mount asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountIdmap {
    recursive: bool,
    mapping: Mapping,
}

fn triples(maps: &[LinuxIdMapping]) -> Vec<(u32, u32, u32)> {
    maps.iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether the mount is idmapped at all: an `idmap`/`ridmap` option, or mappings of its own
/// (which runc takes as `idmap`; the spec only says the option SHOULD accompany them, and
/// engines pass the kubelet's volume mappings that way).
pub fn is_idmapped(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap.is_some() || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// The idmapping of mount `m`, or `None` for a mount that is not idmapped. Errors are the
/// spec's: both maps or neither, binds only, and a mount without maps needs the container's
/// user namespace to borrow from.
pub fn mount_idmap(spec: &Spec, m: &Mount, opts: &MountOptions) -> Res<Option<MountIdmap>> {
    if !is_idmapped(m, opts) {
        return Ok(None);
    }
    if !(opts.is_bind() || m.typ().as_deref() == Some("bind")) {
        return Err(MountError::Refused(
            "idmapped mounts are only supported for bind mounts".to_string(),
        ));
    }
    let recursive = opts.idmap == Some(Idmap::Recursive);
    let mapping = match (m.uid_mappings(), m.gid_mappings()) {
        (Some(uid), Some(gid)) if !uid.is_empty() && !gid.is_empty() => Mapping::Maps {
            uid: triples(uid),
            gid: triples(gid),
        },
        (None, None) => container_mapping(spec).ok_or_else(|| {
            MountError::Refused(
                "idmap needs uidMappings and gidMappings, or a container user namespace to take them from"
                    .to_string(),
            )
        })?,
        _ => {
            return Err(MountError::Refused(
                "uidMappings and gidMappings must both be given, and not empty".to_string(),
            ));
        }
    };
    Ok(Some(MountIdmap { recursive, mapping }))
}

/// The container's user namespace as a mount mapping: its maps when it makes one, its path
/// when it joins one; `None` without a user namespace.
fn container_mapping(spec: &Spec) -> Option<Mapping> {
    let linux = spec.linux().as_ref()?;
    let userns = linux
        .namespaces()
        .as_deref()?
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::User)?;
    if let Some(path) = userns.path() {
        return Some(Mapping::Joined(path.clone()));
    }
    Some(Mapping::Maps {
        uid: triples(linux.uid_mappings().as_deref().unwrap_or_default()),
        gid: triples(linux.gid_mappings().as_deref().unwrap_or_default()),
    })
}

/// User namespaces made for idmappings, one per distinct mapping (a pod's volumes share
/// one), closed with the set once every bind is cloned.
#[derive(Default)]
pub struct IdmapNamespaces {
    made: Vec<(Mapping, OwnedFd)>,
}

impl IdmapNamespaces {
    /// Idmaps the detached mount `tree` as `idmap` says.
    pub fn apply(&mut self, tree: BorrowedFd<'_>, idmap: &MountIdmap) -> Res<()> {
        let userns = self.namespace_for(&idmap.mapping)?;
        crate::syscall::mount_setattr_idmap(tree, userns, idmap.recursive).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EINVAL) => MountError::Refused(
                    "the source's filesystem cannot be idmapped by this kernel (mount_setattr: EINVAL)"
                        .to_string(),
                ),
                Some(libc::ENOSYS) => MountError::Refused(
                    "idmapped mounts need Linux 5.12 or later (mount_setattr is missing)"
                        .to_string(),
                ),
                _ => io_err("idmap the bind", e),
            }
        })
    }

    fn namespace_for(&mut self, mapping: &Mapping) -> Res<BorrowedFd<'_>> {
        let i = match self.made.iter().position(|(m, _)| m == mapping) {
            Some(i) => i,
            None => {
                let fd = match mapping {
                    Mapping::Maps { uid, gid } => {
                        crate::syscall::user_namespace_with_maps(&map_text(uid), &map_text(gid))
                            .map_err(|e| io_err("make a user namespace for the idmapping", e))?
                    }
                    Mapping::Joined(path) => open_namespace(path)?,
                };
                self.made.push((mapping.clone(), fd));
                self.made.len() - 1
            }
        };
        Ok(self.made[i].1.as_fd())
    }
}

/// Whether a bind of `dir` can be idmapped here (`corral check`): the kernel has
/// MOUNT_ATTR_IDMAP and `dir`'s filesystem takes it. Makes a detached clone that is never
/// attached, and a user namespace that is dropped with it. Needs the host's root.
pub fn idmap_works_on(dir: &std::path::Path) -> io::Result<()> {
    let src = std::fs::File::open(dir)?;
    let tree = crate::syscall::open_tree_clone(src.as_fd(), false)?;
    let userns = crate::syscall::user_namespace_with_maps("0 0 1\n", "0 0 1\n")?;
    crate::syscall::mount_setattr_idmap(tree.as_fd(), userns.as_fd(), false)
}

fn open_namespace(path: &std::path::Path) -> Res<OwnedFd> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| io_err(format!("open user namespace {}", path.display()), e))
}

fn map_text(maps: &[(u32, u32, u32)]) -> String {
    maps.iter()
        .map(|(inside, outside, len)| format!("{inside} {outside} {len}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn mount(json: serde_json::Value) -> Mount {
        serde_json::from_value(json).unwrap()
    }

    fn idmap_of(s: &Spec, m: &Mount) -> Res<Option<MountIdmap>> {
        let opts = super::super::options::parse(m.options().as_deref().unwrap_or_default());
        mount_idmap(s, m, &opts)
    }

    fn userns_spec() -> Spec {
        spec(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {
                "namespaces": [{"type": "user"}],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]
            }
        }))
    }

    #[test]
    fn mappings_without_an_option_are_a_plain_idmap_as_runc() {
        let m = mount(serde_json::json!({
            "destination": "/v", "source": "/src", "options": ["rbind"],
            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 10}],
            "gidMappings": [{"containerID": 0, "hostID": 2, "size": 10}]
        }));
        let got = idmap_of(&spec(serde_json::json!({"ociVersion": "1.2.0"})), &m)
            .unwrap()
            .unwrap();
        assert!(!got.recursive);
        assert_eq!(
            got.mapping,
            Mapping::Maps {
                uid: vec![(0, 1, 10)],
                gid: vec![(0, 2, 10)]
            }
        );
    }

    #[test]
    fn ridmap_without_mappings_takes_the_containers() {
        let m = mount(serde_json::json!({
            "destination": "/v", "source": "/src", "options": ["rbind", "ridmap"]
        }));
        let got = idmap_of(&userns_spec(), &m).unwrap().unwrap();
        assert!(got.recursive);
        assert_eq!(
            got.mapping,
            Mapping::Maps {
                uid: vec![(0, 100000, 65536)],
                gid: vec![(0, 200000, 65536)]
            }
        );
    }

    #[test]
    fn refusals() {
        let plain = spec(serde_json::json!({"ociVersion": "1.2.0"}));
        let no_maps = mount(serde_json::json!({
            "destination": "/v", "source": "/src", "options": ["bind", "idmap"]
        }));
        assert!(idmap_of(&plain, &no_maps).is_err());
        let half = mount(serde_json::json!({
            "destination": "/v", "source": "/src", "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 10}]
        }));
        assert!(idmap_of(&userns_spec(), &half).is_err());
        let tmpfs = mount(serde_json::json!({
            "destination": "/v", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]
        }));
        assert!(idmap_of(&userns_spec(), &tmpfs).is_err());
        let plain_bind = mount(serde_json::json!({
            "destination": "/v", "source": "/src", "options": ["bind"]
        }));
        assert_eq!(idmap_of(&userns_spec(), &plain_bind).unwrap(), None);
    }
}
