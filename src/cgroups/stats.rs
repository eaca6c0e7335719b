//! Resource usage read back from the container's cgroup, in the shape of runc's
//! `events --stats` (`types.Stats`): clients (go-runc's Stats, containerd) decode these keys.
//! Zero counters runc marks `omitempty` are left out the same way.

use super::{Cgroup, Layout};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<Cpuset>,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpuset {
    pub cpus: Vec<u32>,
    pub mems: Vec<u32>,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// A number file; `max` (v2's "no limit") reads as runc reports it, the largest page-aligned
/// u64 v1 uses.
fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file).map_or(0, |s| parse_num(s.trim()))
}

fn parse_num(s: &str) -> u64 {
    if s == "max" {
        return 9_223_372_036_854_771_712;
    }
    s.parse().unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `0-3,5` -> [0, 1, 2, 3, 5]
fn cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u32>().ok()),
        }
    }
    out
}

fn clock_ticks_ns() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => 1_000_000_000 / hz as u64,
        _ => 10_000_000,
    }
}

impl Cgroup {
    pub fn stats(&self) -> Stats {
        if self.layout == Some(Layout::V2) {
            return self.unified_dir().map(stats_v2).unwrap_or_default();
        }
        let mut s = Stats::default();
        if let Some(d) = self.v1_dir("cpuacct") {
            s.cpu.usage.total = num(d, "cpuacct.usage");
            let list = |f: &str| -> Vec<u64> {
                read(d, f)
                    .map(|t| {
                        t.split_whitespace()
                            .filter_map(|x| x.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            s.cpu.usage.percpu = list("cpuacct.usage_percpu");
            s.cpu.usage.percpu_kernel = list("cpuacct.usage_percpu_sys");
            s.cpu.usage.percpu_user = list("cpuacct.usage_percpu_user");
            let stat = flat_keyed(&read(d, "cpuacct.stat").unwrap_or_default());
            s.cpu.usage.user = stat.get("user").copied().unwrap_or(0) * clock_ticks_ns();
            s.cpu.usage.kernel = stat.get("system").copied().unwrap_or(0) * clock_ticks_ns();
        }
        if let Some(d) = self.v1_dir("cpu") {
            let stat = flat_keyed(&read(d, "cpu.stat").unwrap_or_default());
            s.cpu.throttling = Throttling {
                periods: stat.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: stat.get("throttled_time").copied().unwrap_or(0),
            };
        }
        if let Some(d) = self.v1_dir("cpuset") {
            s.cpuset = Some(Cpuset {
                cpus: cpu_list(&read(d, "cpuset.cpus").unwrap_or_default()),
                mems: cpu_list(&read(d, "cpuset.mems").unwrap_or_default()),
            });
        }
        if let Some(d) = self.v1_dir("memory") {
            let entry = |prefix: &str| MemoryEntry {
                limit: num(d, &format!("{prefix}.limit_in_bytes")),
                usage: num(d, &format!("{prefix}.usage_in_bytes")),
                max: num(d, &format!("{prefix}.max_usage_in_bytes")),
                failcnt: num(d, &format!("{prefix}.failcnt")),
            };
            s.memory.usage = entry("memory");
            s.memory.swap = entry("memory.memsw");
            s.memory.kernel = entry("memory.kmem");
            s.memory.kernel_tcp = entry("memory.kmem.tcp");
            s.memory.raw = flat_keyed(&read(d, "memory.stat").unwrap_or_default());
            s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
        }
        if let Some(d) = self.v1_dir("pids") {
            s.pids = Pids {
                current: num(d, "pids.current"),
                limit: pids_limit(d),
            };
        }
        if let Some(d) = self.v1_dir("blkio") {
            s.blkio.io_service_bytes_recursive =
                blkio_v1(&read(d, "blkio.throttle.io_service_bytes_recursive").unwrap_or_default());
            s.blkio.io_serviced_recursive =
                blkio_v1(&read(d, "blkio.throttle.io_serviced_recursive").unwrap_or_default());
        }
        if let Some(d) = self.unified_dir() {
            s.hugetlb = hugetlb_v2(d);
        }
        s
    }

    /// How many times the container hit its memory limit and had a process OOM-killed.
    pub fn oom_kills(&self) -> u64 {
        if self.layout == Some(Layout::V2) {
            return self
                .unified_dir()
                .and_then(|d| read(d, "memory.events"))
                .map(|t| flat_keyed(&t).get("oom_kill").copied().unwrap_or(0))
                .unwrap_or(0);
        }
        self.v1_dir("memory")
            .and_then(|d| read(d, "memory.oom_control"))
            .map(|t| flat_keyed(&t).get("oom_kill").copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn pids_limit(d: &Path) -> u64 {
    match read(d, "pids.max").as_deref().map(str::trim) {
        Some("max") | None => 0,
        Some(n) => n.parse().unwrap_or(0),
    }
}

/// `8:0 Read 4096` lines; totals (`Total N`) are left out as runc does.
fn blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (maj, min) = f.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f.next()?.to_string(),
                value: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

fn hugetlb_v2(d: &Path) -> BTreeMap<String, Hugetlb> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(d) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|r| r.strip_suffix(".current"))
        else {
            continue;
        };
        let events = flat_keyed(&read(d, &format!("hugetlb.{size}.events")).unwrap_or_default());
        out.insert(
            size.to_string(),
            Hugetlb {
                usage: num(d, &name),
                max: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            },
        );
    }
    out
}

fn stats_v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = flat_keyed(&read(d, "cpu.stat").unwrap_or_default());
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = get(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = get(&cpu, "system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: get(&cpu, "nr_periods"),
        throttled_periods: get(&cpu, "nr_throttled"),
        throttled_time: get(&cpu, "throttled_usec") * 1000,
    };
    s.cpuset = Some(Cpuset {
        cpus: cpu_list(&read(d, "cpuset.cpus.effective").unwrap_or_default()),
        mems: cpu_list(&read(d, "cpuset.mems.effective").unwrap_or_default()),
    });
    let events = flat_keyed(&read(d, "memory.events").unwrap_or_default());
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: get(&events, "max"),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        max: num(d, "memory.swap.peak"),
        failcnt: 0,
    };
    s.memory.raw = flat_keyed(&read(d, "memory.stat").unwrap_or_default());
    s.memory.cache = get(&s.memory.raw, "file");
    s.pids = Pids {
        current: num(d, "pids.current"),
        limit: pids_limit(d),
    };
    for line in read(d, "io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    s.hugetlb = hugetlb_v2(d);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_numbers() {
        assert_eq!(cpu_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert_eq!(parse_num("max"), 9_223_372_036_854_771_712);
        assert_eq!(blkio_v1("8:0 Read 10\n8:0 Write 5\nTotal 15\n").len(), 2);
    }

    #[test]
    fn zero_counters_are_omitted_like_runc() {
        let v = serde_json::to_value(MemoryEntry {
            limit: 5,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"limit": 5, "failcnt": 0}));
    }
}
