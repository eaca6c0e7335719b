//! `linux.resources` written into the container's cgroup files, per host layout.
//!
//! v1 (and the v1 part of a hybrid host) writes each controller's own files; v2 writes the
//! unified files with runc's conversions (cpu shares -> cpu.weight, blkio weight ->
//! io.weight, memory+swap -> memory.swap.max). A field the host cannot apply is an error that
//! names the field; nothing is silently dropped except `memory.kernel`, which runc also
//! ignores (the kernel deprecated kmem limits).

#[cfg(test)]
use super::HierarchyKey;
use super::{Cgroup, Layout, write_file};
use crate::error::{Error, Result};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxPids, LinuxRdma,
    LinuxResources,
};
use std::path::Path;

/// Writes `value` to `dir/file`, naming the config field if it fails.
fn set(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    write_file(&dir.join(file), value)
        .map_err(|e| Error::config(format!("linux.resources.{field}"), e.to_string()))
}

/// A line of `rdma.max`: `mlx4_0 hca_handle=2 hca_object=2000`.
fn rdma_max_line(dev: &str, limit: &LinuxRdma) -> String {
    let mut value = dev.to_string();
    if let Some(h) = limit.hca_handles() {
        value.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = limit.hca_objects() {
        value.push_str(&format!(" hca_object={o}"));
    }
    value
}

impl Cgroup {
    /// A limit whose controller the container's cgroup lacks.
    fn missing(&self, field: &str, what: &str) -> Error {
        let why = if self.rootless {
            format!(
                "rootless, and no cgroup delegated to this user has the {what} (delegate a \
                 cgroup v2 subtree with it, or leave the limit out)"
            )
        } else {
            format!("this host has no {what}")
        };
        Error::config(format!("linux.resources.{field}"), why)
    }

    fn v1(&self, controller: &str) -> Option<&Path> {
        self.v1_dir(controller)
    }

    fn unified(&self) -> Option<&Path> {
        self.unified_dir()
    }

    /// The directory holding `controller`'s files: its v1 hierarchy, or the unified one.
    fn dir_for(&self, controller: &str) -> Option<&Path> {
        if self.is_v2() {
            self.unified()
        } else {
            self.v1(controller)
        }
    }

    fn is_v2(&self) -> bool {
        self.layout == Some(Layout::V2)
    }

    /// Applies every resource of the config but the device rules, which only `create`
    /// applies (`Cgroup::apply`); `update` leaves them as they are, as runc's update does.
    pub fn apply_resources(&self, r: &LinuxResources) -> Result<()> {
        let r = &zero_means_unset(r);
        if let Some(unit) = &self.systemd {
            // What systemd can hold goes on the unit first (it survives a daemon-reload);
            // the files below cover the rest, as runc's systemd driver does.
            let props = super::systemd::resource_properties(r, self.is_v2());
            super::systemd::set_unit_properties(unit, &props)?;
        }
        if let Some(m) = r.memory() {
            self.apply_memory(m)?;
            crate::fault::point("resources:memory-written");
        }
        if let Some(c) = r.cpu() {
            self.apply_cpu(c)?;
            crate::fault::point("resources:cpu-written");
        }
        if let Some(p) = r.pids() {
            self.apply_pids(p)?;
            crate::fault::point("resources:pids-written");
        }
        if let Some(b) = r.block_io() {
            self.apply_block_io(b)?;
        }
        for (i, h) in r
            .hugepage_limits()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            self.apply_hugepage_limit(h, &format!("hugepageLimits[{i}]"))?;
        }
        if let Some(n) = r.network() {
            self.apply_network(n)?;
        }
        for (dev, limit) in r.rdma().as_ref().into_iter().flatten() {
            self.apply_rdma(dev, limit)?;
        }
        for (key, value) in r.unified().as_ref().into_iter().flatten() {
            self.apply_unified(key, value)?;
        }
        Ok(())
    }

    fn apply_pids(&self, p: &LinuxPids) -> Result<()> {
        let value = pids_max(p.limit());
        let dir = self
            .dir_for("pids")
            .ok_or_else(|| self.missing("pids", "pids controller"))?;
        set(dir, "pids.max", &value, "pids.limit")
    }

    fn apply_hugepage_limit(&self, h: &LinuxHugepageLimit, field: &str) -> Result<()> {
        match (self.v1("hugetlb"), self.unified()) {
            (Some(dir), _) if !self.is_v2() => set(
                dir,
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                &h.limit().to_string(),
                field,
            ),
            (_, Some(dir)) => {
                // A hybrid host's unified hierarchy only lends hugetlb when asked.
                if !self.is_v2() {
                    self.enable_unified_controllers()?;
                }
                set(
                    dir,
                    &format!("hugetlb.{}.max", h.page_size()),
                    &h.limit().to_string(),
                    field,
                )
            }
            _ => Err(self.missing(field, "hugetlb controller")),
        }
    }

    /// net_cls and net_prio exist on v1 only (v2 leaves this to eBPF).
    fn apply_network(&self, n: &LinuxNetwork) -> Result<()> {
        if let Some(id) = n.class_id() {
            let dir = self
                .v1("net_cls")
                .ok_or_else(|| self.missing("network.classID", "net_cls controller"))?;
            set(dir, "net_cls.classid", &id.to_string(), "network.classID")?;
        }
        for p in n.priorities().as_deref().unwrap_or_default() {
            let dir = self
                .v1("net_prio")
                .ok_or_else(|| self.missing("network.priorities", "net_prio controller"))?;
            set(
                dir,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
                "network.priorities",
            )?;
        }
        Ok(())
    }

    fn apply_rdma(&self, dev: &str, limit: &LinuxRdma) -> Result<()> {
        let dir = self
            .dir_for("rdma")
            .ok_or_else(|| self.missing("rdma", "rdma controller"))?;
        set(
            dir,
            "rdma.max",
            &rdma_max_line(dev, limit),
            &format!("rdma.{dev}"),
        )
    }

    /// `unified`: file name -> value, written as is into the v2 directory (runc's rules: a
    /// plain file name, and cgroup v2 present).
    fn apply_unified(&self, key: &str, value: &str) -> Result<()> {
        let field = format!("unified.{key}");
        if key.contains('/') || key.starts_with('.') {
            return Err(Error::config(
                format!("linux.resources.{field}"),
                "not a cgroup file name",
            ));
        }
        let dir = self.unified().ok_or_else(|| {
            Error::config(
                format!("linux.resources.{field}"),
                "unified resources need cgroup v2 (this host is cgroup v1)",
            )
        })?;
        if !self.is_v2() {
            self.enable_unified_controllers()?;
        }
        set(dir, key, value, &field)
    }

    fn apply_memory(&self, m: &LinuxMemory) -> Result<()> {
        if m.kernel().is_some() {
            crate::log::warn(
                "linux.resources.memory.kernel is ignored: the kernel deprecated kmem limits (runc ignores it too)",
            );
        }
        if self.is_v2() {
            return self.apply_memory_v2(m);
        }
        let dir = self
            .v1("memory")
            .ok_or_else(|| self.missing("memory", "memory controller"))?;
        let limit = m.limit();
        match (limit, m.swap()) {
            (limit, Some(swap)) => {
                // memsw must stay >= limit at every step: raise memsw first when growing.
                let current = read_i64(&dir.join("memory.memsw.limit_in_bytes"));
                let swap_first = swap == -1 || current.is_some_and(|c| swap > c);
                if swap_first {
                    set(
                        dir,
                        "memory.memsw.limit_in_bytes",
                        &swap.to_string(),
                        "memory.swap",
                    )?;
                }
                if let Some(l) = limit {
                    set(dir, "memory.limit_in_bytes", &l.to_string(), "memory.limit")?;
                }
                if !swap_first {
                    set(
                        dir,
                        "memory.memsw.limit_in_bytes",
                        &swap.to_string(),
                        "memory.swap",
                    )?;
                }
            }
            (Some(l), None) => set(dir, "memory.limit_in_bytes", &l.to_string(), "memory.limit")?,
            (None, None) => {}
        }
        if let Some(r) = m.reservation() {
            set(
                dir,
                "memory.soft_limit_in_bytes",
                &r.to_string(),
                "memory.reservation",
            )?;
        }
        if let Some(t) = m.kernel_tcp() {
            set(
                dir,
                "memory.kmem.tcp.limit_in_bytes",
                &t.to_string(),
                "memory.kernelTCP",
            )?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::config(
                    "linux.resources.memory.swappiness",
                    format!("{s} is not in 0..=100"),
                ));
            }
            set(
                dir,
                "memory.swappiness",
                &s.to_string(),
                "memory.swappiness",
            )?;
        }
        if m.disable_oom_killer() == Some(true) {
            set(dir, "memory.oom_control", "1", "memory.disableOOMKiller")?;
        }
        Ok(())
    }

    fn apply_memory_v2(&self, m: &LinuxMemory) -> Result<()> {
        let dir = self
            .unified()
            .ok_or_else(|| self.missing("memory", "memory controller"))?;
        let max = |v: i64| {
            if v < 0 {
                "max".to_string()
            } else {
                v.to_string()
            }
        };
        if let Some(l) = m.limit() {
            set(dir, "memory.max", &max(l), "memory.limit")?;
        }
        if let Some(swap) = m.swap() {
            // OCI swap is memory+swap; v2's memory.swap.max is swap alone.
            let value = match (swap, m.limit()) {
                (-1, _) => "max".to_string(),
                (s, Some(l)) if l > 0 => s.saturating_sub(l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            set(dir, "memory.swap.max", &value, "memory.swap")?;
        }
        if let Some(r) = m.reservation() {
            set(dir, "memory.low", &max(r), "memory.reservation")?;
        }
        if m.swappiness().is_some() {
            return Err(Error::config(
                "linux.resources.memory.swappiness",
                "cgroup v2 has no per-cgroup swappiness",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::config(
                "linux.resources.memory.disableOOMKiller",
                "cgroup v2 cannot disable the OOM killer",
            ));
        }
        if m.kernel_tcp().is_some() {
            return Err(Error::config(
                "linux.resources.memory.kernelTCP",
                "cgroup v2 has no kernel TCP limit",
            ));
        }
        Ok(())
    }

    fn apply_cpu(&self, c: &LinuxCpu) -> Result<()> {
        let cpuset = self.dir_for("cpuset");
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            set(
                cpuset.ok_or_else(|| self.missing("cpu.cpus", "cpuset controller"))?,
                "cpuset.cpus",
                cpus,
                "cpu.cpus",
            )?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            set(
                cpuset.ok_or_else(|| self.missing("cpu.mems", "cpuset controller"))?,
                "cpuset.mems",
                mems,
                "cpu.mems",
            )?;
        }
        if self.is_v2() {
            return self.apply_cpu_v2(c);
        }
        let any = c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some();
        if !any {
            return Ok(());
        }
        let dir = self
            .v1("cpu")
            .ok_or_else(|| self.missing("cpu", "cpu controller"))?;
        if let Some(s) = c.shares() {
            set(dir, "cpu.shares", &s.to_string(), "cpu.shares")?;
        }
        self.apply_cfs_v1(dir, c.period(), c.quota())?;
        if let Some(b) = c.burst() {
            set(dir, "cpu.cfs_burst_us", &b.to_string(), "cpu.burst")?;
        }
        if let Some(p) = c.realtime_period() {
            set(
                dir,
                "cpu.rt_period_us",
                &p.to_string(),
                "cpu.realtimePeriod",
            )?;
        }
        if let Some(r) = c.realtime_runtime() {
            set(
                dir,
                "cpu.rt_runtime_us",
                &r.to_string(),
                "cpu.realtimeRuntime",
            )?;
        }
        if let Some(i) = c.idle() {
            set(dir, "cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        Ok(())
    }

    /// Period, then quota, as the kernel usually wants them; but a new period below the old
    /// one can make the old quota exceed a parent's limit (EINVAL), and then the period is
    /// written again after the quota, as runc does.
    fn apply_cfs_v1(&self, dir: &Path, period: Option<u64>, quota: Option<i64>) -> Result<()> {
        let mut period_pending = None;
        if let Some(p) = period {
            match write_file(&dir.join("cpu.cfs_period_us"), &p.to_string()) {
                Ok(()) => {}
                Err(Error::Io { err, .. })
                    if err.raw_os_error() == Some(libc::EINVAL) && quota.is_some() =>
                {
                    period_pending = Some(p);
                }
                Err(e) => {
                    return Err(Error::config("linux.resources.cpu.period", e.to_string()));
                }
            }
        }
        if let Some(q) = quota {
            set(dir, "cpu.cfs_quota_us", &q.to_string(), "cpu.quota")?;
        }
        if let Some(p) = period_pending {
            set(dir, "cpu.cfs_period_us", &p.to_string(), "cpu.period")?;
        }
        Ok(())
    }

    fn apply_cpu_v2(&self, c: &LinuxCpu) -> Result<()> {
        let Some(dir) = self.unified() else {
            return Ok(());
        };
        if let Some(s) = c.shares() {
            set(
                dir,
                "cpu.weight",
                &shares_to_weight(s).to_string(),
                "cpu.shares",
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = c.period().unwrap_or(100_000);
            set(dir, "cpu.max", &format!("{quota} {period}"), "cpu.quota")?;
        }
        if let Some(b) = c.burst() {
            set(dir, "cpu.max.burst", &b.to_string(), "cpu.burst")?;
        }
        if let Some(i) = c.idle() {
            set(dir, "cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            return Err(Error::config(
                "linux.resources.cpu.realtimeRuntime",
                "cgroup v2 has no realtime cpu limits",
            ));
        }
        Ok(())
    }

    fn apply_block_io(&self, b: &LinuxBlockIo) -> Result<()> {
        let dir = self.dir_for("blkio");
        let dir = dir.ok_or_else(|| self.missing("blockIO", "blkio/io controller"))?;
        if let Some(w) = b.weight() {
            self.set_io_weight(dir, w)?;
        }
        if let Some(lw) = b.leaf_weight() {
            if self.is_v2() {
                return Err(Error::config(
                    "linux.resources.blockIO.leafWeight",
                    "cgroup v2 has no leaf weight",
                ));
            }
            set(
                dir,
                "blkio.leaf_weight",
                &lw.to_string(),
                "blockIO.leafWeight",
            )?;
        }
        for (i, d) in b
            .weight_device()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(w) = d.weight() {
                let (file, w) = if self.is_v2() {
                    ("io.weight", blkio_to_io_weight(w))
                } else {
                    ("blkio.weight_device", w)
                };
                set(
                    dir,
                    file,
                    &format!("{}:{} {w}", d.major(), d.minor()),
                    &format!("blockIO.weightDevice[{i}]"),
                )?;
            }
        }
        let throttles = [
            (
                "throttleReadBpsDevice",
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "rbps",
            ),
            (
                "throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "wbps",
            ),
            (
                "throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "riops",
            ),
            (
                "throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "wiops",
            ),
        ];
        for (field, list, v1_file, v2_key) in throttles {
            for (i, d) in list.as_deref().unwrap_or_default().iter().enumerate() {
                let field = format!("blockIO.{field}[{i}]");
                if self.is_v2() {
                    set(
                        dir,
                        "io.max",
                        &format!("{}:{} {v2_key}={}", d.major(), d.minor(), d.rate()),
                        &field,
                    )?;
                } else {
                    set(
                        dir,
                        v1_file,
                        &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                        &field,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// blkio.weight, or the bfq scheduler's file where the kernel only has that one.
    fn set_io_weight(&self, dir: &Path, w: u16) -> Result<()> {
        let field = "blockIO.weight";
        if self.is_v2() {
            if dir.join("io.bfq.weight").exists() {
                return set(dir, "io.bfq.weight", &w.to_string(), field);
            }
            return set(
                dir,
                "io.weight",
                &format!("default {}", blkio_to_io_weight(w)),
                field,
            );
        }
        for file in ["blkio.weight", "blkio.bfq.weight"] {
            if dir.join(file).exists() {
                return set(dir, file, &w.to_string(), field);
            }
        }
        Err(self.missing(field, "blkio weight file (no CFQ or BFQ I/O scheduler)"))
    }
}

/// pids.max for a spec 1.3 `pids.limit`, as runc ≥ 1.4: a positive value as it is, 0 as 1
/// (systemd's TasksMax cannot be 0, and both drivers must agree; one task or none differ
/// only by the one the kernel lets in), a negative one as no limit.
pub fn pids_max(limit: i64) -> String {
    match limit {
        l if l > 0 => l.to_string(),
        0 => "1".to_string(),
        _ => "max".to_string(),
    }
}

fn read_i64(p: &Path) -> Option<i64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Engines send 0 for "not set" in many numeric fields (docker sends `blockIO.weight: 0`);
/// runc skips a field that is 0, and so do we, for the same fields. Not `pids.limit`: spec
/// 1.3 made 0 a limit and an absent limit the way to leave it alone
/// ([`crate::spec::parse_config`] drops a `pids` without `limit`).
pub fn zero_means_unset(r: &LinuxResources) -> LinuxResources {
    fn nz<T: PartialEq + Default>(v: Option<T>) -> Option<T> {
        v.filter(|x| *x != T::default())
    }
    let mut r = r.clone();
    if let Some(mut m) = *r.memory() {
        m.set_limit(nz(m.limit()));
        m.set_reservation(nz(m.reservation()));
        m.set_swap(nz(m.swap()));
        m.set_kernel(nz(m.kernel()));
        m.set_kernel_tcp(nz(m.kernel_tcp()));
        r.set_memory(Some(m));
    }
    if let Some(mut c) = r.cpu().clone() {
        c.set_shares(nz(c.shares()));
        c.set_quota(nz(c.quota()));
        c.set_period(nz(c.period()));
        c.set_realtime_runtime(nz(c.realtime_runtime()));
        c.set_realtime_period(nz(c.realtime_period()));
        r.set_cpu(Some(c));
    }
    if let Some(mut b) = r.block_io().clone() {
        b.set_weight(nz(b.weight()));
        b.set_leaf_weight(nz(b.leaf_weight()));
        r.set_block_io(Some(b));
    }
    if let Some(mut n) = r.network().clone() {
        n.set_class_id(nz(n.class_id()));
        r.set_network(Some(n));
    }
    r
}

/// runc's conversion of cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// runc's conversion of blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u16 {
    if w == 0 {
        return 100;
    }
    (1 + (u32::from(w.clamp(10, 1000)) - 10) * 9999 / 990) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_unset_as_in_runc() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 0, "reservation": 5}, "cpu": {"shares": 0, "quota": 0},
                "blockIO": {"weight": 0}, "pids": {"limit": 0}, "network": {"classID": 0}}"#,
        )
        .unwrap();
        let z = zero_means_unset(&r);
        let m = z.memory().unwrap();
        assert_eq!((m.limit(), m.reservation()), (None, Some(5)));
        let c = z.cpu().clone().unwrap();
        assert_eq!((c.shares(), c.quota()), (None, None));
        assert_eq!(z.block_io().clone().unwrap().weight(), None);
        assert_eq!(z.pids().unwrap().limit(), 0, "a pids limit of 0 is a limit");
        assert_eq!(z.network().clone().unwrap().class_id(), None);
    }

    #[test]
    fn pids_limits_follow_spec_1_3_as_runc() {
        assert_eq!(pids_max(12), "12");
        assert_eq!(pids_max(0), "1");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(pids_max(-5), "max");
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }

    /// A cgroup directory stand-in: the named files exist (empty), as the kernel's do; the
    /// writers open them without creating.
    struct Fixture {
        _tmp: tempfile::TempDir,
        cgroup: Cgroup,
    }

    impl Fixture {
        fn v2(files: &[&str]) -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            for f in files {
                std::fs::write(tmp.path().join(f), "").unwrap();
            }
            let mut cgroup = Cgroup {
                layout: Some(Layout::V2),
                ..Cgroup::default()
            };
            cgroup
                .paths
                .insert(HierarchyKey::Unified, tmp.path().to_path_buf());
            Fixture { _tmp: tmp, cgroup }
        }

        /// One directory per v1 hierarchy (`cpu,cpuacct`), each with its files.
        fn v1(hierarchies: &[(&str, &[&str])]) -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let mut cgroup = Cgroup {
                layout: Some(Layout::V1),
                ..Cgroup::default()
            };
            for (key, files) in hierarchies {
                let dir = tmp.path().join(key);
                std::fs::create_dir(&dir).unwrap();
                for f in *files {
                    std::fs::write(dir.join(f), "").unwrap();
                }
                cgroup.paths.insert(HierarchyKey::V1(key.to_string()), dir);
            }
            Fixture { _tmp: tmp, cgroup }
        }

        fn read(&self, key: &HierarchyKey, file: &str) -> String {
            std::fs::read_to_string(self.cgroup.paths[key].join(file)).unwrap()
        }

        fn apply(&self, json: &str) -> Result<()> {
            let r: LinuxResources = serde_json::from_str(json).unwrap();
            self.cgroup.apply_resources(&r)
        }
    }

    #[test]
    fn v2_writers_fill_the_unified_files() {
        let f = Fixture::v2(&[
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "cpu.weight",
            "cpu.max",
            "pids.max",
            "io.weight",
            "hugetlb.2MB.max",
            "memory.high",
        ]);
        f.apply(
            r#"{"memory": {"limit": 1073741824, "swap": 2147483648, "reservation": 536870912},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
                "pids": {"limit": 10}, "blockIO": {"weight": 500},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                "unified": {"memory.high": "900000000"}}"#,
        )
        .unwrap();
        let u = HierarchyKey::Unified;
        assert_eq!(f.read(&u, "memory.max"), "1073741824");
        // v2 counts swap alone; the config counts memory+swap (runc's conversion).
        assert_eq!(f.read(&u, "memory.swap.max"), "1073741824");
        assert_eq!(f.read(&u, "memory.low"), "536870912");
        assert_eq!(f.read(&u, "cpu.weight"), "39");
        assert_eq!(f.read(&u, "cpu.max"), "50000 100000");
        assert_eq!(f.read(&u, "pids.max"), "10");
        assert_eq!(f.read(&u, "io.weight"), "default 4950");
        assert_eq!(f.read(&u, "hugetlb.2MB.max"), "4194304");
        assert_eq!(f.read(&u, "memory.high"), "900000000");
    }

    #[test]
    fn v1_writers_use_each_controllers_hierarchy() {
        let f = Fixture::v1(&[
            (
                "memory",
                &[
                    "memory.limit_in_bytes",
                    "memory.memsw.limit_in_bytes",
                    "memory.soft_limit_in_bytes",
                ],
            ),
            (
                "cpu,cpuacct",
                &["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
            ),
            ("pids", &["pids.max"]),
        ]);
        f.apply(
            r#"{"memory": {"limit": 1073741824, "swap": 2147483648, "reservation": 536870912},
                "cpu": {"shares": 512, "quota": 20000, "period": 100000},
                "pids": {"limit": -1}}"#,
        )
        .unwrap();
        let memory = HierarchyKey::V1("memory".into());
        let cpu = HierarchyKey::V1("cpu,cpuacct".into());
        assert_eq!(f.read(&memory, "memory.limit_in_bytes"), "1073741824");
        assert_eq!(f.read(&memory, "memory.memsw.limit_in_bytes"), "2147483648");
        assert_eq!(f.read(&memory, "memory.soft_limit_in_bytes"), "536870912");
        assert_eq!(f.read(&cpu, "cpu.shares"), "512");
        assert_eq!(f.read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(f.read(&cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(f.read(&HierarchyKey::V1("pids".into()), "pids.max"), "max");
    }

    #[test]
    fn a_missing_controller_names_the_config_field() {
        let f = Fixture::v1(&[("memory", &["memory.limit_in_bytes"])]);
        let e = f
            .apply(r#"{"pids": {"limit": 5}}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "linux.resources.pids: this host has no pids controller");
        let e = f
            .apply(r#"{"unified": {"memory.high": "1"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.unified.memory.high:"), "{e}");
        let v2 = Fixture::v2(&[]);
        let e = v2
            .apply(r#"{"unified": {"../x": "1"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a cgroup file name"), "{e}");
    }
}
