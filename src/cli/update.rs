use super::GlobalOptions;
use crate::container::Status;
use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to a JSON file with the new resources (linux.resources shape), or - for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for unlimited). Negative numbers are
    /// values here, as in runc, not flags.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (ignored by the kernel's deprecation, as runc does)
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer limit
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU CFS period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS hardcap burst limit (in usecs): unused quota a period may carry over
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// Set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    pub cpu_idle: Option<i64>,
    /// CPU realtime period
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Block IO weight (10..1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Maximum number of pids (-1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (the container must have linux.intelRdt)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (the container must have linux.intelRdt)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id
    pub id: String,
}

/// `update`: new resource limits for a running container. If a limit cannot be applied the
/// ones written before it are put back, so the container keeps its old limits.
#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let root = g.state_root()?;
    let mut container = root.load_locked(&a.id)?;
    if container.status() == Status::Stopped {
        bail!("container not running");
    }
    let resources = match &a.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(&a)?,
    };
    if resources.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        // runc's update cannot change device rules either (it skips them); say so rather
        // than let a caller believe they changed.
        crate::log::warn(
            "--resources: linux.resources.devices is ignored: device rules are set when the container is created",
        );
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        container.update_intel_rdt(a.l3_cache_schema.as_deref(), a.mem_bw_schema.as_deref())?;
    }
    let cgroup = container.state.cgroup.clone();
    check_memory_not_below_usage(&cgroup, &resources)?;
    let saved = cgroup.snapshot_limits();
    if let Err(e) = cgroup.apply_resources(&resources) {
        cgroup.restore_limits(&saved);
        return Err(e.into());
    }
    crate::fault::point("update:applied");
    container.record_resources(&resources)?;
    Ok(0)
}

/// A memory limit below what the container uses now would make the kernel reclaim or
/// OOM-kill at once (runc's `checkBeforeUpdate`); refuse it and keep the old limit.
fn check_memory_not_below_usage(cgroup: &crate::cgroups::Cgroup, r: &LinuxResources) -> Result<()> {
    let Some(limit) = r.memory().and_then(|m| m.limit()).filter(|l| *l > 0) else {
        return Ok(());
    };
    let usage = cgroup.stats().memory.usage.usage;
    if (limit as u64) < usage {
        bail!(
            "linux.resources.memory.limit: {limit} is below the container's current memory usage {usage}"
        );
    }
    Ok(())
}

fn read_resources(path: &std::path::Path) -> Result<LinuxResources> {
    let mut text = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read(path).with_context(|| format!("--resources {}", path.display()))?;
    }
    let mut r: LinuxResources = crate::spec::parse_json_tracked(&text)
        .map_err(|(at, msg)| anyhow::anyhow!("--resources {}: {at}: {msg}", path.display()))?;
    // A `pids` without `limit` leaves the limit alone (spec 1.3; see spec::parse_config).
    if r.pids().is_some_and(|p| p.limit() == 0) && !crate::spec::pids_limit_given(&text, "/pids") {
        r.set_pids(None);
    }
    Ok(r)
}

fn from_flags(a: &Args) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_bytes(s).with_context(|| format!("--{flag} {s:?}")))
            .transpose()
    };
    let mut m = LinuxMemory::default();
    m.set_limit(bytes("memory", &a.memory)?);
    m.set_swap(bytes("memory-swap", &a.memory_swap)?);
    m.set_reservation(bytes("memory-reservation", &a.memory_reservation)?);
    m.set_kernel(bytes("kernel-memory", &a.kernel_memory)?);
    m.set_kernel_tcp(bytes("kernel-memory-tcp", &a.kernel_memory_tcp)?);
    if m != LinuxMemory::default() {
        r.set_memory(Some(m));
    }
    let mut c = LinuxCpu::default();
    c.set_shares(a.cpu_share);
    c.set_period(a.cpu_period);
    c.set_quota(a.cpu_quota);
    c.set_burst(a.cpu_burst);
    c.set_idle(a.cpu_idle);
    c.set_realtime_period(a.cpu_rt_period);
    c.set_realtime_runtime(a.cpu_rt_runtime);
    c.set_cpus(a.cpuset_cpus.clone());
    c.set_mems(a.cpuset_mems.clone());
    if c != LinuxCpu::default() {
        r.set_cpu(Some(c));
    }
    if let Some(limit) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = oci_spec::runtime::LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    r.set_devices(None);
    Ok(r)
}

/// `1024`, `512k`, `64m`, `2g` (powers of 1024, as docker's units); `-1` for unlimited.
fn parse_bytes(s: &str) -> Result<i64> {
    let s = s.trim();
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (num, mult) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 1i64 << 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 1 << 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 1 << 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 1 << 40),
        _ => (trimmed, 1),
    };
    let n: f64 = num.trim().parse().context("not a size")?;
    if n < 0.0 {
        bail!("negative size");
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-5").is_err());
    }
}
