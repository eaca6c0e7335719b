//! `linux.resources` written into the container's cgroup files, per host layout.
//!
//! v1 (and the v1 part of a hybrid host) writes each controller's own files; v2 writes the
//! unified files with runc's conversions (cpu shares -> cpu.weight, blkio weight ->
//! io.weight, memory+swap -> memory.swap.max). A field the host cannot apply is an error that
//! names the field; nothing is silently dropped except `memory.kernel`, which runc also
//! ignores (the kernel deprecated kmem limits).

use super::{Cgroup, Layout, write_file};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};
use std::path::Path;

/// Writes `value` to `dir/file`, naming the config field if it fails.
fn set(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    write_file(&dir.join(file), value)
        .map_err(|e| Error::config(format!("linux.resources.{field}"), e.to_string()))
}

fn missing(field: &str, what: &str) -> Error {
    Error::config(
        format!("linux.resources.{field}"),
        format!("this host has no {what}"),
    )
}

impl Cgroup {
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
        if let Some(m) = r.memory() {
            self.apply_memory(m)?;
        }
        if let Some(c) = r.cpu() {
            self.apply_cpu(c)?;
        }
        if let Some(p) = r.pids() {
            let value = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            let dir = self.dir_for("pids");
            set(
                dir.ok_or_else(|| missing("pids", "pids controller"))?,
                "pids.max",
                &value,
                "pids.limit",
            )?;
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
            let field = format!("hugepageLimits[{i}]");
            match (self.v1("hugetlb"), self.unified()) {
                (Some(dir), _) if !self.is_v2() => set(
                    dir,
                    &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                    &h.limit().to_string(),
                    &field,
                )?,
                (_, Some(dir)) => {
                    // A hybrid host's unified hierarchy only lends hugetlb when asked.
                    if !self.is_v2() {
                        self.enable_unified_controllers()?;
                    }
                    set(
                        dir,
                        &format!("hugetlb.{}.max", h.page_size()),
                        &h.limit().to_string(),
                        &field,
                    )?
                }
                _ => return Err(missing(&field, "hugetlb controller")),
            }
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                let dir = self
                    .v1("net_cls")
                    .ok_or_else(|| missing("network.classID", "net_cls controller"))?;
                set(dir, "net_cls.classid", &id.to_string(), "network.classID")?;
            }
            for p in n.priorities().as_deref().unwrap_or_default() {
                let dir = self
                    .v1("net_prio")
                    .ok_or_else(|| missing("network.priorities", "net_prio controller"))?;
                set(
                    dir,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                    "network.priorities",
                )?;
            }
        }
        for (dev, limit) in r.rdma().as_ref().into_iter().flatten() {
            let dir = self.dir_for("rdma");
            let dir = dir.ok_or_else(|| missing("rdma", "rdma controller"))?;
            let mut value = dev.clone();
            if let Some(h) = limit.hca_handles() {
                value.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = limit.hca_objects() {
                value.push_str(&format!(" hca_object={o}"));
            }
            set(dir, "rdma.max", &value, &format!("rdma.{dev}"))?;
        }
        for (key, value) in r.unified().as_ref().into_iter().flatten() {
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
            set(dir, key, value, &field)?;
        }
        Ok(())
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
            .ok_or_else(|| missing("memory", "memory controller"))?;
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
            .ok_or_else(|| missing("memory", "memory controller"))?;
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
                cpuset.ok_or_else(|| missing("cpu.cpus", "cpuset controller"))?,
                "cpuset.cpus",
                cpus,
                "cpu.cpus",
            )?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            set(
                cpuset.ok_or_else(|| missing("cpu.mems", "cpuset controller"))?,
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
            .ok_or_else(|| missing("cpu", "cpu controller"))?;
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
        let dir = dir.ok_or_else(|| missing("blockIO", "blkio/io controller"))?;
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
        Err(missing(
            field,
            "blkio weight file (no CFQ or BFQ I/O scheduler)",
        ))
    }
}

fn read_i64(p: &Path) -> Option<i64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Engines send 0 for "not set" in many numeric fields (docker sends `blockIO.weight: 0`);
/// runc skips a field that is 0, and so do we, for the same fields.
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
    if let Some(p) = r.pids()
        && p.limit() == 0
    {
        r.set_pids(None);
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
        assert!(z.pids().is_none());
        assert_eq!(z.network().clone().unwrap().class_id(), None);
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
}
