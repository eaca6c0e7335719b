//! Intel RDT (`linux.intelRdt`): cache and memory-bandwidth allocation through the kernel's
//! resctrl filesystem, as runc does it. A container gets the resctrl group `closID` (or one
//! named after it), its schemata lines written there, its processes in the group's `tasks`,
//! and with `enableMonitoring` a monitoring group of its own. A group corral made is
//! removed on delete; a named `closID` is left, as it may be shared.
//!
//! Every function takes the resctrl mount point, so the writes are tested against a
//! directory laid out like resctrl: no host of ours has RDT hardware.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxIntelRdt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// statfs magic of resctrl (RDTGROUP_SUPER_MAGIC).
const RESCTRL_MAGIC: i64 = 0x0765_5821;
/// Where the kernel makes the mount point when it supports resctrl.
const DEFAULT_MOUNT: &str = "/sys/fs/resctrl";

/// A mounted resctrl filesystem.
#[derive(Debug, Clone)]
pub struct Resctrl {
    root: PathBuf,
}

/// The group a container's processes are in, recorded in its state to be found on exec,
/// update and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdtGroup {
    pub path: PathBuf,
    /// corral made the group (no `closID`, or one that did not exist): delete removes it.
    pub created: bool,
    /// The container's monitoring group (`enableMonitoring`), below the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<PathBuf>,
}

impl Resctrl {
    /// The resctrl filesystem at `root` (tests use a directory laid out like one).
    pub fn at(root: impl Into<PathBuf>) -> Resctrl {
        Resctrl { root: root.into() }
    }

    /// The resctrl filesystem a recorded group belongs to (a group is a directory of the
    /// root).
    pub fn for_group(group: &RdtGroup) -> Resctrl {
        Resctrl::at(group.path.parent().unwrap_or(Path::new(DEFAULT_MOUNT)))
    }

    /// The host's resctrl mount: /sys/fs/resctrl, or wherever mountinfo says one is.
    pub fn find() -> Option<Resctrl> {
        if nix::sys::statfs::statfs(DEFAULT_MOUNT)
            .is_ok_and(|s| s.filesystem_type().0 == RESCTRL_MAGIC)
        {
            return Some(Resctrl::at(DEFAULT_MOUNT));
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        info.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            if right.split(' ').next() != Some("resctrl") {
                return None;
            }
            left.split(' ').nth(4).map(Resctrl::at)
        })
    }

    fn has_cat(&self) -> bool {
        self.root.join("info/L3").is_dir()
    }

    fn has_mba(&self) -> bool {
        self.root.join("info/MB").is_dir()
    }

    /// runc's checks, before anything exists: CAT for an L3 schema, MBA for a bandwidth
    /// schema, and a `closID` that names a directory of the root.
    pub fn validate(&self, rdt: &LinuxIntelRdt) -> Result<()> {
        if let Some(clos) = rdt.clos_id().as_deref()
            && (clos == "." || clos == ".." || clos.is_empty() || clos.contains('/'))
        {
            return Err(Error::config(
                "linux.intelRdt.closID",
                format!("{clos:?} is not a valid resctrl group name"),
            ));
        }
        if rdt
            .l3_cache_schema()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && !self.has_cat()
        {
            return Err(Error::config(
                "linux.intelRdt.l3CacheSchema",
                "Intel RDT/CAT is not enabled on this host (no info/L3 in resctrl)",
            ));
        }
        if rdt
            .mem_bw_schema()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && !self.has_mba()
        {
            return Err(Error::config(
                "linux.intelRdt.memBwSchema",
                "Intel RDT/MBA is not enabled on this host (no info/MB in resctrl)",
            ));
        }
        Ok(())
    }

    /// The schemata lines of `rdt`: the L3 and MB schemas, then `schemata` as given.
    fn schemata(rdt: &LinuxIntelRdt) -> String {
        let mut lines: Vec<&str> = vec![
            rdt.l3_cache_schema().as_deref().unwrap_or(""),
            rdt.mem_bw_schema().as_deref().unwrap_or(""),
        ];
        lines.extend(rdt.schemata().iter().flatten().map(String::as_str));
        lines
            .into_iter()
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Makes (or joins) the container's group, writes its schemata and puts `pid` in it.
    /// A `closID` with no schemata must exist already (the spec: it was configured for
    /// us). On failure, a group made here is removed again.
    pub fn apply(&self, id: &str, rdt: &LinuxIntelRdt, pid: i32) -> Result<RdtGroup> {
        let clos = rdt.clos_id().as_deref().unwrap_or(id);
        let path = self.root.join(clos);
        let schemata = Self::schemata(rdt);
        if rdt.clos_id().is_some() && schemata.is_empty() && !path.is_dir() {
            return Err(Error::config(
                "linux.intelRdt.closID",
                format!(
                    "{}: the group must exist when no schemata are given",
                    path.display()
                ),
            ));
        }
        let created = match std::fs::create_dir(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(self.error(format!("make {}", path.display()), e)),
        };
        let mut group = RdtGroup {
            path,
            created,
            monitoring: None,
        };
        let made = self.fill(&mut group, id, rdt, &schemata, pid);
        if made.is_err() {
            self.destroy(&group);
        }
        made.map(|()| group)
    }

    fn fill(
        &self,
        group: &mut RdtGroup,
        id: &str,
        rdt: &LinuxIntelRdt,
        schemata: &str,
        pid: i32,
    ) -> Result<()> {
        if !schemata.is_empty() {
            self.write(&group.path.join("schemata"), schemata)?;
        }
        self.join(group, pid)?;
        if *rdt.enable_monitoring() == Some(true) {
            let mon = group.path.join("mon_groups").join(id);
            match std::fs::create_dir(&mon) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(self.error(format!("make {}", mon.display()), e)),
            }
            group.monitoring = Some(mon);
            self.join(group, pid)?;
        }
        Ok(())
    }

    /// Puts `pid` (an exec'd process too) in the group and its monitoring group.
    pub fn join(&self, group: &RdtGroup, pid: i32) -> Result<()> {
        self.write(&group.path.join("tasks"), &pid.to_string())?;
        if let Some(mon) = &group.monitoring {
            self.write(&mon.join("tasks"), &pid.to_string())?;
        }
        Ok(())
    }

    /// `update --l3-cache-schema/--mem-bw-schema`: the group's schemata rewritten.
    pub fn update(&self, group: &RdtGroup, rdt: &LinuxIntelRdt) -> Result<()> {
        let schemata = Self::schemata(rdt);
        if schemata.is_empty() {
            return Ok(());
        }
        self.write(&group.path.join("schemata"), &schemata)
    }

    /// Removes what the container made: the group if corral made it, else its monitoring
    /// group. The kernel moves the group's remaining tasks back to the root group.
    pub fn destroy(&self, group: &RdtGroup) {
        let target = if group.created {
            Some(&group.path)
        } else {
            group.monitoring.as_ref()
        };
        if let Some(dir) = target
            && let Err(e) = std::fs::remove_dir(dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            crate::log::warn(format!("remove resctrl group {}: {e}", dir.display()));
        }
    }

    fn write(&self, file: &Path, text: &str) -> Result<()> {
        std::fs::write(file, text).map_err(|e| self.error(format!("write {}", file.display()), e))
    }

    /// An error with the kernel's own explanation (`info/last_cmd_status`), as runc gives.
    fn error(&self, what: String, e: std::io::Error) -> Error {
        let status = std::fs::read_to_string(self.root.join("info/last_cmd_status"))
            .map(|s| format!(", last_cmd_status: {}", s.trim()))
            .unwrap_or_default();
        Error::other(format!("linux.intelRdt: {what}: {e}{status}"))
    }
}

/// The resctrl filesystem for a config that asks for Intel RDT: an error naming the field
/// where the host has none.
pub fn for_config(rdt: &LinuxIntelRdt) -> Result<Resctrl> {
    let r = Resctrl::find().ok_or_else(|| {
        Error::config(
            "linux.intelRdt",
            "Intel RDT is not enabled on this host (no resctrl filesystem is mounted)",
        )
    })?;
    r.validate(rdt)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory laid out like resctrl with CAT and MBA.
    fn fake() -> (tempfile::TempDir, Resctrl) {
        let d = tempfile::tempdir().unwrap();
        for sub in ["info/L3", "info/MB", "mon_groups"] {
            std::fs::create_dir_all(d.path().join(sub)).unwrap();
        }
        let r = Resctrl::at(d.path());
        (d, r)
    }

    /// A group dir as the kernel would make it (the fake has no kernel to do it).
    fn rdt(json: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_group_per_container_with_its_schemata_and_tasks() {
        let (d, r) = fake();
        let cfg = rdt(
            serde_json::json!({"l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:0=70",
                                          "schemata": ["L2:0=f"], "enableMonitoring": true}),
        );
        // The kernel makes mon_groups in a new group; the fake needs it made first.
        std::fs::create_dir_all(d.path().join("ctr/mon_groups")).unwrap();
        let g = r.apply("ctr", &cfg, 4242).unwrap();
        assert_eq!(g.path, d.path().join("ctr"));
        assert!(!g.created, "the fake group existed already");
        let read = |p: &str| std::fs::read_to_string(d.path().join(p)).unwrap();
        assert_eq!(read("ctr/schemata"), "L3:0=ff\nMB:0=70\nL2:0=f\n");
        assert_eq!(read("ctr/tasks"), "4242");
        assert_eq!(read("ctr/mon_groups/ctr/tasks"), "4242");
        r.join(&g, 77).unwrap();
        assert_eq!(read("ctr/tasks"), "77");
        r.update(&g, &rdt(serde_json::json!({"l3CacheSchema": "L3:0=f"})))
            .unwrap();
        assert_eq!(read("ctr/schemata"), "L3:0=f\n");
        // resctrl's rmdir takes a group with its files; a plain directory needs them gone.
        std::fs::remove_file(d.path().join("ctr/mon_groups/ctr/tasks")).unwrap();
        r.destroy(&g);
        assert!(!d.path().join("ctr/mon_groups/ctr").exists());
    }

    #[test]
    fn a_group_corral_makes_is_removed_and_a_named_clos_is_kept() {
        let (d, r) = fake();
        let g = r
            .apply(
                "mine",
                &rdt(serde_json::json!({"l3CacheSchema": "L3:0=f"})),
                1,
            )
            .unwrap();
        assert!(g.created);
        std::fs::remove_file(g.path.join("schemata")).unwrap();
        std::fs::remove_file(g.path.join("tasks")).unwrap();
        r.destroy(&g);
        assert!(!d.path().join("mine").exists());

        std::fs::create_dir(d.path().join("shared")).unwrap();
        let g = r
            .apply("other", &rdt(serde_json::json!({"closID": "shared"})), 2)
            .unwrap();
        assert!(!g.created);
        r.destroy(&g);
        assert!(d.path().join("shared").exists());
    }

    #[test]
    fn refusals_name_the_field() {
        let (d, r) = fake();
        let err = |cfg: serde_json::Value| r.validate(&rdt(cfg)).unwrap_err().to_string();
        assert!(err(serde_json::json!({"closID": "../x"})).contains("linux.intelRdt.closID"));
        std::fs::remove_dir(d.path().join("info/MB")).unwrap();
        assert!(err(serde_json::json!({"memBwSchema": "MB:0=5"})).contains("memBwSchema"));
        // A named closID without schemata must exist; nothing is made.
        let e = r
            .apply("c", &rdt(serde_json::json!({"closID": "absent"})), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must exist"), "{e}");
        assert!(!d.path().join("absent").exists());
    }
}
