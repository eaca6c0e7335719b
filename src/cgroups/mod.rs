//! The container's cgroups on v1, hybrid and v2 hosts.
//!
//! A [`Cgroup`] is the set of directories, one per mounted hierarchy, that a container lives
//! in, plus the host layout. It is computed once by `create` (runc's cgroupfs rules for
//! `cgroupsPath`), stored in the state file, and used by every command after: resources
//! (`resources.rs`), device rules (`devices.rs`: v1 files or a v2 eBPF filter), stats
//! (`stats.rs`), freeze, kill-all and removal.
//!
//! One type whose methods branch on the layout, rather than three drivers behind a trait: the
//! three layouts share placement, removal, kill and most of the resource code, and a hybrid
//! host is literally a v1 host with one cgroup2 directory more. Why not cgroups-rs: it
//! decides the hierarchy layout for the whole host (v1 *or* v2), so the hybrid layout, where
//! a container must sit in the v1 hierarchies and the unified one at once, does not fit it,
//! and its placement rules are not runc's.

mod devices;
mod resources;
pub mod stats;
pub mod systemd;

pub use systemd::SystemdUnit;

use crate::error::{Context, Error, Result, at};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the host mounts its cgroup hierarchies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Only v1 controllers.
    V1,
    /// v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
    /// A single cgroup2 hierarchy at /sys/fs/cgroup.
    V2,
}

/// One mounted hierarchy: its mount point and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// Root of the mount inside the hierarchy (usually `/`).
    pub mount_root: PathBuf,
    /// v1 controllers (`cpu`, `name=systemd`, ...); empty for cgroup2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

impl Hierarchy {
    /// The hierarchy's key, as /proc/self/cgroup names it.
    fn key(&self) -> HierarchyKey {
        if self.v2 {
            HierarchyKey::Unified
        } else {
            HierarchyKey::V1(self.controllers.join(","))
        }
    }
}

/// Which hierarchy a directory of [`Cgroup::paths`] is in. Written to state.json (and read
/// from /proc/PID/cgroup) as the kernel names it: the v1 controller list (`cpu,cpuacct`,
/// `name=systemd`), or the empty string for cgroup v2. The unified one sorts first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum HierarchyKey {
    Unified,
    V1(String),
}

impl HierarchyKey {
    /// Whether this v1 hierarchy holds `controller` (`cpu`, or `systemd` for `name=systemd`).
    pub fn has_controller(&self, controller: &str) -> bool {
        match self {
            HierarchyKey::Unified => false,
            HierarchyKey::V1(list) => list
                .split(',')
                .any(|k| k == controller || k.strip_prefix("name=") == Some(controller)),
        }
    }
}

impl From<String> for HierarchyKey {
    fn from(s: String) -> Self {
        if s.is_empty() {
            HierarchyKey::Unified
        } else {
            HierarchyKey::V1(s)
        }
    }
}

impl From<HierarchyKey> for String {
    fn from(k: HierarchyKey) -> Self {
        match k {
            HierarchyKey::Unified => String::new(),
            HierarchyKey::V1(s) => s,
        }
    }
}

/// Reads the cgroup mounts from mountinfo text.
pub fn hierarchies_from(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (fstype, super_opts) = (post[0], post[2]);
        let v2 = fstype == "cgroup2";
        if fstype != "cgroup" && !v2 {
            continue;
        }
        let controllers = if v2 {
            Vec::new()
        } else {
            super_opts
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro")
                        && !o.starts_with("release_agent")
                        && *o != "clone_children"
                        && *o != "noprefix"
                        && *o != "xattr"
                })
                .map(str::to_string)
                .collect()
        };
        out.push(Hierarchy {
            mount_point: PathBuf::from(pre[4]),
            mount_root: PathBuf::from(pre[3]),
            controllers,
            v2,
        });
    }
    out
}

pub fn host_hierarchies() -> Result<Vec<Hierarchy>> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read /proc/self/mountinfo")?;
    Ok(hierarchies_from(&text))
}

pub fn layout_of(hs: &[Hierarchy]) -> Layout {
    let v1 = hs.iter().any(|h| !h.v2);
    let v2 = hs.iter().any(|h| h.v2);
    match (v1, v2) {
        (true, true) => Layout::Hybrid,
        (true, false) => Layout::V1,
        _ => Layout::V2,
    }
}

/// A container's cgroup: one directory per hierarchy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// Each hierarchy's directory for the container (absolute).
    pub paths: BTreeMap<HierarchyKey, PathBuf>,
    /// The path inside each hierarchy (what /proc/PID/cgroup shows).
    pub inner: PathBuf,
    pub layout: Option<Layout>,
    /// Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or .../unified on hybrid).
    #[serde(default)]
    pub unified_mount: Option<PathBuf>,
    /// The systemd unit that owns the cgroup (`--systemd-cgroup`); None under cgroupfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdUnit>,
    /// A rootless container (`--rootless`): `paths` holds only the hierarchies delegated
    /// to the user (possibly none), and device rules are not applied. The init reads it,
    /// too: a rootless init has no say over the host's mounts or its own /proc files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootless: bool,
}

/// Who makes and removes a container's cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// corral itself, in cgroupfs (runc's default).
    Cgroupfs,
    /// systemd, as a transient unit (`--systemd-cgroup`).
    Systemd,
}

/// Parses /proc/PID/cgroup into hierarchy key -> path.
fn own_cgroups(text: &str) -> BTreeMap<HierarchyKey, PathBuf> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let key = parts.next()?;
            let path = parts.next()?;
            Some((HierarchyKey::from(key.to_string()), PathBuf::from(path)))
        })
        .collect()
}

impl Cgroup {
    /// The container's cgroup v2 directory (v2 and hybrid hosts).
    pub fn unified_dir(&self) -> Option<&Path> {
        self.paths.get(&HierarchyKey::Unified).map(PathBuf::as_path)
    }

    /// The container's directory in the v1 hierarchy that holds `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.paths
            .iter()
            .find(|(k, _)| k.has_controller(controller))
            .map(|(_, v)| v.as_path())
    }

    /// The v2 directory when the host is pure cgroup v2 (a hybrid host's unified hierarchy
    /// holds no controllers).
    fn v2_only_dir(&self) -> Option<&Path> {
        if self.layout == Some(Layout::V2) {
            self.unified_dir()
        } else {
            None
        }
    }

    /// Where a container goes, with runc's rules for `linux.cgroupsPath`. cgroupfs: absolute
    /// paths are taken from each hierarchy's root, relative ones (and the default `<id>`)
    /// from the caller's own cgroup. systemd: `slice:prefix:name`, the unit's place under
    /// each hierarchy's root ([`SystemdUnit`]).
    ///
    /// Rootless under systemd, the unit is the user's instance's, below that instance's own
    /// cgroup, and only cgroup v2 can be delegated to it (runc refuses v1 too).
    pub fn for_container(
        id: &str,
        cgroups_path: Option<&Path>,
        driver: Driver,
        rootless: bool,
    ) -> Result<Cgroup> {
        match driver {
            Driver::Cgroupfs => Cgroup::at(id, cgroups_path, None),
            Driver::Systemd => {
                let path = cgroups_path
                    .map(|p| {
                        p.to_str()
                            .ok_or_else(|| Error::config("linux.cgroupsPath", "is not valid UTF-8"))
                    })
                    .transpose()?;
                let unit = SystemdUnit::from_cgroups_path(id, path, rootless)?;
                if !rootless {
                    let inner = unit.cgroup_path()?;
                    return Cgroup::at(id, Some(&inner), Some(unit));
                }
                if layout_of(&host_hierarchies()?) != Layout::V2 {
                    return Err(Error::config(
                        "--systemd-cgroup",
                        "rootless containers under systemd need a pure cgroup v2 host (only \
                         v2 can be delegated to the user's systemd instance)",
                    ));
                }
                let base = systemd::user_manager_cgroup()?;
                let inner = base.join(
                    unit.cgroup_path()?
                        .strip_prefix("/")
                        .unwrap_or(Path::new("")),
                );
                let mut cg = Cgroup::at(id, Some(&inner), Some(unit))?;
                cg.rootless = true;
                Ok(cg)
            }
        }
    }

    /// Rootless mode: keeps the hierarchies the caller may place a process in, as a user
    /// whose systemd session delegates a cgroup v2 subtree can, and drops the rest; what is
    /// left may be nothing. The kernel lets an unprivileged process move a process into a
    /// cgroup when it can write that cgroup's `cgroup.procs` (or create it) and the
    /// `cgroup.procs` of the closest ancestor it shares with the caller's own cgroup. Nothing
    /// is created here. A `linux.cgroupsPath` the user asked for must be usable somewhere.
    pub fn keep_delegated(&mut self, explicit_path: bool) -> Result<()> {
        self.rootless = true;
        let hs = host_hierarchies()?;
        let own = own_cgroups(
            &std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup")?,
        );
        let wanted = std::mem::take(&mut self.paths);
        for (key, dir) in wanted {
            let Some(h) = hs.iter().find(|h| h.key() == key) else {
                continue;
            };
            let caller = own.get(&key).map(|p| {
                let rel = p.strip_prefix(&h.mount_root).unwrap_or(p);
                h.mount_point.join(rel.strip_prefix("/").unwrap_or(rel))
            });
            if delegated(&dir, caller.as_deref()) {
                self.paths.insert(key, dir);
            }
        }
        if self.paths.is_empty() && explicit_path {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!(
                    "{}: rootless, and no cgroup hierarchy there is delegated to this user \
                     (a cgroup v2 subtree the user owns, holding the caller's own cgroup)",
                    self.inner.display()
                ),
            ));
        }
        Ok(())
    }

    /// No hierarchy at all: a rootless container without delegation.
    pub fn is_none(&self) -> bool {
        self.paths.is_empty() && self.systemd.is_none()
    }

    fn at(id: &str, cgroups_path: Option<&Path>, systemd: Option<SystemdUnit>) -> Result<Cgroup> {
        let hs = host_hierarchies()?;
        let own = own_cgroups(
            &std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup")?,
        );
        let mut cg = Cgroup {
            layout: Some(layout_of(&hs)),
            systemd,
            ..Default::default()
        };
        let requested = cgroups_path
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(id));
        for h in &hs {
            let key = h.key();
            if cg.paths.contains_key(&key) {
                continue;
            }
            let inner = if requested.is_absolute() {
                requested.clone()
            } else {
                own.get(&key)
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("/"))
                    .join(&requested)
            };
            let rel = inner.strip_prefix(&h.mount_root).unwrap_or(&inner);
            // Relative to the mount point (cgroupsPath was checked to hold no `..`).
            let rel: PathBuf = rel
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            let dir = h.mount_point.join(rel);
            cg.inner = inner;
            if h.v2 {
                cg.unified_mount = Some(h.mount_point.clone());
            }
            cg.paths.insert(key, dir);
        }
        Ok(cg)
    }

    /// Creates every directory (cpuset ones get the parent's cpus and mems, or the kernel
    /// refuses tasks in them). Under systemd nothing is made yet: the unit needs its first
    /// process ([`Cgroup::place_in_unit`]).
    pub fn create(&self) -> Result<()> {
        if self.systemd.is_some() {
            return Ok(());
        }
        self.make_dirs()
    }

    fn make_dirs(&self) -> Result<()> {
        for (key, dir) in &self.paths {
            std::fs::create_dir_all(dir).ctx(|| at("create cgroup", dir))?;
            if key.has_controller("cpuset") {
                init_cpuset(dir)?;
            }
        }
        if self.layout == Some(Layout::V2) {
            self.enable_unified_controllers()?;
        }
        Ok(())
    }

    /// Puts a running process into the container's cgroup: into the unit (systemd), or into
    /// every hierarchy's `cgroup.procs` (`restore` places CRIU there before it forks the
    /// restored processes, which then start inside).
    pub fn enter(&self, pid: i32, id: &str, extras: &systemd::UnitExtras) -> Result<()> {
        if self.systemd.is_some() {
            return self.place_in_unit(pid, id, extras);
        }
        for dir in self.paths.values() {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// `--systemd-cgroup`: asks systemd for the container's unit with `pid` (the init) in it,
    /// then puts the pid into the hierarchies systemd leaves alone (v1 controllers it does not
    /// manage), as runc joins every path after starting the unit.
    pub fn place_in_unit(&self, pid: i32, id: &str, extras: &systemd::UnitExtras) -> Result<()> {
        let Some(unit) = &self.systemd else {
            return Ok(());
        };
        let unified = self.layout == Some(Layout::V2);
        systemd::start_unit(
            unit,
            pid as u32,
            &format!("corral container {id}"),
            unified,
            extras,
        )?;
        self.make_dirs()?;
        let own = own_cgroups(
            &std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .ctx(|| format!("read /proc/{pid}/cgroup"))?,
        );
        for (key, dir) in &self.paths {
            // Already there (systemd placed it) costs nothing; a move takes the kernel's
            // threadgroup lock.
            if own.get(key).is_some_and(|p| *p == self.inner) {
                continue;
            }
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// On cgroup v2 a controller works in a cgroup only if every ancestor lists it in
    /// cgroup.subtree_control; enable what each level offers, from the top down.
    pub(crate) fn enable_unified_controllers(&self) -> Result<()> {
        let Some(dir) = self.unified_dir() else {
            return Ok(());
        };
        let mount = self
            .unified_mount
            .clone()
            .unwrap_or_else(|| PathBuf::from(CGROUP_ROOT));
        let Ok(rel) = dir.strip_prefix(&mount) else {
            return Ok(());
        };
        let mut level = mount.clone();
        for comp in rel.components() {
            let available =
                std::fs::read_to_string(level.join("cgroup.controllers")).unwrap_or_default();
            let enable: Vec<String> = available
                .split_whitespace()
                .map(|c| format!("+{c}"))
                .collect();
            if !enable.is_empty() {
                let written = write_file(&level.join("cgroup.subtree_control"), &enable.join(" "));
                // Rootless: the levels above the delegated subtree are root's, and enable
                // what they enable; a limit that needs more names itself when written.
                if !self.rootless {
                    written?;
                }
            }
            level.push(comp);
        }
        Ok(())
    }

    /// Applies `linux.resources`: device rules (v1 files, or an eBPF filter on v2) and every
    /// limit the host's layout supports. Device access starts from deny-all whatever the
    /// config says, as with runc: a config without device rules still gets only runc's
    /// default allow-list, never every device of the host.
    pub fn apply(&self, resources: Option<&LinuxResources>) -> Result<()> {
        let rules = resources
            .and_then(|r| r.devices().as_deref())
            .unwrap_or_default();
        if let Some(unit) = self.systemd.as_ref().filter(|_| !self.rootless) {
            // systemd keeps its own device rules for the unit and re-applies them on
            // daemon-reload: without these it would open or close devices behind ours.
            let allow = devices::systemd_device_allow(rules);
            systemd::set_unit_properties(
                unit,
                &[
                    (
                        "DevicePolicy".into(),
                        systemd::PropValue::Str("strict".into()),
                    ),
                    ("DeviceAllow".into(), systemd::PropValue::Pairs(allow)),
                ],
            )?;
        }
        if self.rootless {
            // A user namespace cannot make device nodes, and its bind-mounted host nodes
            // keep the host's permissions; the device controller is root's (runc ignores
            // it rootless, too).
        } else if let Some(dir) = self.v1_dir("devices") {
            devices::apply_v1(dir, rules)?;
        } else if let Some(dir) = self.v2_only_dir() {
            devices::apply_v2(dir, rules)?;
        }
        match resources {
            Some(r) if r.pids().is_some() => {
                let mut rest = r.clone();
                rest.set_pids(None);
                self.apply_resources(&rest)
            }
            Some(r) => self.apply_resources(r),
            None => Ok(()),
        }
    }

    /// The pids limit of `resources`, which [`Cgroup::apply`] leaves out: set once the init
    /// has done its forks, as runc sets limits when its init is ready, so that a limit of 1
    /// (spec 1.3's 0) leaves room for the container's process and nothing more.
    pub fn apply_pids_limit(&self, resources: &LinuxResources) -> Result<()> {
        let Some(pids) = resources.pids() else {
            return Ok(());
        };
        let mut only = LinuxResources::default();
        only.set_pids(Some(*pids));
        self.apply_resources(&only)
    }

    /// The limit files `update` may change, with their current values, so a failed update
    /// can put them back.
    pub fn snapshot_limits(&self) -> Vec<(PathBuf, String)> {
        const FILES: &[&str] = &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.kmem.tcp.limit_in_bytes",
            "memory.swappiness",
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.idle",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "blkio.weight",
            "blkio.bfq.weight",
            "io.weight",
            "io.bfq.weight",
        ];
        let mut out = Vec::new();
        for dir in self.paths.values() {
            for f in FILES {
                let p = dir.join(f);
                if let Ok(v) = std::fs::read_to_string(&p) {
                    out.push((p, v.trim().to_string()));
                }
            }
        }
        out
    }

    /// Writes back a snapshot, memsw after memory and in two passes, since v1 refuses a
    /// memory limit above memsw and a memsw below the memory limit.
    pub fn restore_limits(&self, saved: &[(PathBuf, String)]) {
        for _ in 0..2 {
            for (p, v) in saved {
                let _ = write_file(p, v);
            }
        }
    }

    /// Pids in the container's cgroup (from the first hierarchy that lists them).
    pub fn pids(&self) -> Vec<i32> {
        let dir = self
            .v1_dir("pids")
            .or_else(|| self.unified_dir())
            .or_else(|| self.paths.values().next().map(PathBuf::as_path));
        let Some(dir) = dir else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Whether the cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.freeze 1).
    pub fn is_frozen(&self) -> bool {
        if let Some(dir) = self.v1_dir("freezer") {
            return read_small(&dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN");
        }
        if let Some(dir) = self.v2_only_dir() {
            return read_small(&dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1");
        }
        false
    }

    /// A container gets a cgroup of its own: one that already holds processes, or is frozen,
    /// is refused before anything is created (runc ≥ 1.2: "container's cgroup is not empty").
    /// Checked before `create`, so that a failing create never removes a cgroup it did not
    /// make.
    pub fn check_unused(&self) -> Result<()> {
        for dir in self.paths.values() {
            let procs = match read_small(&dir.join("cgroup.procs")) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx(|| at("read", dir.join("cgroup.procs"))),
            };
            let n = procs.lines().filter(|l| !l.trim().is_empty()).count();
            if n > 0 {
                return Err(Error::config(
                    "linux.cgroupsPath",
                    format!(
                        "container's cgroup is not empty: {n} process(es) found in {}",
                        dir.display()
                    ),
                ));
            }
        }
        if self.is_frozen() {
            return Err(Error::config(
                "linux.cgroupsPath",
                "container's cgroup unexpectedly frozen",
            ));
        }
        Ok(())
    }

    /// Whether this host can freeze the container (v1 freezer or v2 cgroup.freeze).
    pub fn can_freeze(&self) -> bool {
        self.v1_dir("freezer").is_some() || self.v2_only_dir().is_some()
    }

    /// Freezes (true) or thaws the cgroup, and waits until the kernel reports it done: a
    /// v1 freezer passes through FREEZING, a v2 cgroup reports `frozen 1` in cgroup.events.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        if let Some(dir) = self.v1_dir("freezer") {
            let want = if frozen { "FROZEN" } else { "THAWED" };
            let file = dir.join("freezer.state");
            return wait_for(|| {
                write_file(&file, want)?;
                crate::fault::point(if frozen {
                    "freeze:written"
                } else {
                    "thaw:written"
                });
                Ok(std::fs::read_to_string(&file)
                    .ctx(|| at("read", &file))?
                    .trim()
                    == want)
            });
        }
        if let Some(dir) = self.v2_only_dir() {
            write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
            crate::fault::point(if frozen {
                "freeze:written"
            } else {
                "thaw:written"
            });
            let events = dir.join("cgroup.events");
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            return wait_for(|| {
                let text = std::fs::read_to_string(&events).ctx(|| at("read", &events))?;
                Ok(text.lines().any(|l| l == want))
            });
        }
        Ok(())
    }

    /// Sends `sig` to every process in the cgroup. The cgroup is frozen meanwhile, so a
    /// process cannot fork a child we would miss; SIGKILL uses cgroup.kill where v2 has it.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL
            && let Some(dir) = self.v2_only_dir()
            && dir.join("cgroup.kill").exists()
        {
            return write_file(&dir.join("cgroup.kill"), "1");
        }
        self.set_frozen(true)?;
        crate::fault::point("kill-all:frozen");
        let result = (|| {
            // The cgroup is frozen: its processes can neither exit nor fork, so their pids
            // cannot be reused while we signal them.
            for pid in self.pids() {
                match crate::syscall::kill_raw(pid, sig) {
                    Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                        return Err(e).ctx(|| format!("signal pid {pid}"));
                    }
                    _ => {}
                }
            }
            Ok(())
        })();
        crate::fault::point("kill-all:signalled");
        let thawed = self.set_frozen(false);
        result.and(thawed)
    }

    /// Removes the container's directories, retrying while the kernel drains exiting tasks;
    /// under systemd, stops the unit first (systemd removes what it made).
    pub fn destroy(&self) -> Result<()> {
        let mut last = None;
        if let Some(unit) = &self.systemd
            && let Err(e) = systemd::stop_unit(unit)
        {
            last = Some(e);
        }
        for dir in self.paths.values() {
            if let Err(e) = remove_dir_retrying(dir) {
                last = Some(e);
            }
        }
        match last {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Whether an unprivileged caller whose own cgroup is `caller` can put a process into `dir`
/// (see [`Cgroup::keep_delegated`]).
fn delegated(dir: &Path, caller: Option<&Path>) -> bool {
    let writable = |p: &Path| {
        nix::unistd::faccessat(
            nix::fcntl::AT_FDCWD,
            p,
            nix::unistd::AccessFlags::W_OK,
            nix::fcntl::AtFlags::AT_EACCESS,
        )
        .is_ok()
    };
    let target_ok = if dir.exists() {
        writable(&dir.join("cgroup.procs"))
    } else {
        // Made by us, so ours: the nearest existing ancestor must let us mkdir.
        dir.ancestors()
            .skip(1)
            .find(|a| a.exists())
            .is_some_and(writable)
    };
    let Some(caller) = caller else {
        return false;
    };
    let common: PathBuf = dir
        .components()
        .zip(caller.components())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    target_ok && writable(&common.join("cgroup.procs"))
}

/// Removes `dir` and any cgroups made below it (by `exec --cgroup` or by the container
/// itself), deepest first.
fn remove_dir_retrying(dir: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dir_retrying(&e.path())?;
            }
        }
    }
    remove_leaf_retrying(dir)
}

fn remove_leaf_retrying(dir: &Path) -> Result<()> {
    let mut delay = std::time::Duration::from_millis(1);
    for _ in 0..12 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(200));
            }
            Err(e) => return Err(e).ctx(|| at("remove cgroup", dir)),
        }
    }
    std::fs::remove_dir(dir).ctx(|| at("remove cgroup (still busy)", dir))
}

/// Polls `done` until it holds, for at most 10 s.
fn wait_for(mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = std::time::Instant::now();
    while !done()? {
        if start.elapsed() > std::time::Duration::from_secs(10) {
            return Err(Error::state(
                "the cgroup did not reach its freezer state within 10s",
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}

fn init_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !current.trim().is_empty() {
            continue;
        }
        let Some(parent) = dir.parent() else { continue };
        if parent.as_os_str().len() > CGROUP_ROOT.len() {
            init_cpuset(parent)?;
        }
        let value =
            std::fs::read_to_string(parent.join(file)).ctx(|| at("read", parent.join(file)))?;
        write_file(&dir.join(file), value.trim())?;
    }
    Ok(())
}

/// Reads a small kernel-generated file (procfs, cgroupfs) with one read. These report size 0,
/// so `fs::read_to_string` stats the file and then grows its buffer over six reads; `state`
/// and `list` read several such files per container.
pub(crate) fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = [0u8; 2048];
    let n = file.read(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf[..n]).into_owned();
    if n == buf.len() {
        file.read_to_string(&mut text)?;
    }
    Ok(text)
}

pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .ctx(|| at("open", path))?;
    f.write_all(value.as_bytes())
        .ctx(|| format!("write {value:?} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn parses_hybrid_hierarchies() {
        let hs = hierarchies_from(HYBRID);
        assert_eq!(hs.len(), 3);
        assert!(hs[0].v2);
        assert_eq!(hs[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(hs[0].key(), HierarchyKey::Unified);
        assert_eq!(hs[1].key(), HierarchyKey::V1("cpu,cpuacct".into()));
        assert!(hs[1].key().has_controller("cpuacct"));
        assert!(hs[2].key().has_controller("systemd"));
        assert!(!hs[0].key().has_controller("cpu"));
        assert_eq!(layout_of(&hs), Layout::Hybrid);
    }

    #[test]
    fn layouts() {
        let v2 = "31 30 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(layout_of(&hierarchies_from(v2)), Layout::V2);
        let v1 = "32 30 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        assert_eq!(layout_of(&hierarchies_from(v1)), Layout::V1);
    }

    #[test]
    fn parses_proc_cgroup() {
        let m = own_cgroups("4:memory:/a/b\n0::/x\n");
        assert_eq!(m[&HierarchyKey::V1("memory".into())], PathBuf::from("/a/b"));
        assert_eq!(m[&HierarchyKey::Unified], PathBuf::from("/x"));
    }

    #[test]
    fn hierarchy_keys_keep_the_state_file_format() {
        let mut cg = Cgroup::default();
        cg.paths
            .insert(HierarchyKey::V1("cpu,cpuacct".into()), "/c".into());
        cg.paths.insert(HierarchyKey::Unified, "/u".into());
        let json = serde_json::to_value(&cg).unwrap();
        assert_eq!(json["paths"][""], "/u");
        assert_eq!(json["paths"]["cpu,cpuacct"], "/c");
        let back: Cgroup = serde_json::from_value(json).unwrap();
        assert_eq!(back, cg);
        assert_eq!(back.paths.keys().next(), Some(&HierarchyKey::Unified));
    }
}
