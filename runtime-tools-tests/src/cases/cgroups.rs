//! config-linux.md `linux.resources` and `cgroupsPath`: the limits the container's own cgroup
//! shows, read through its /sys/fs/cgroup mount (v1, hybrid or v2 alike), and device access.

use super::{Case, case};
use crate::ensure;
use crate::harness::{CaseResult, CgroupLayout, Ctx, cgroup_dirs, skip};
use serde_json::json;
use std::path::Path;

pub const CASES: &[Case] = &[
    case!(
        linux_cgroups_memory,
        "resources.memory limit, reservation and swap"
    ),
    case!(
        linux_cgroups_cpus,
        "resources.cpu shares, quota, period, cpus and mems"
    ),
    case!(linux_cgroups_pids, "resources.pids limit"),
    case!(
        linux_cgroups_pids_zero,
        "resources.pids limit 0 is a limit (spec 1.3): the container's process cannot fork"
    ),
    case!(
        linux_cgroups_devices,
        "resources.devices: only allowed devices open"
    ),
    case!(linux_cgroups_hugetlb, "resources.hugepageLimits"),
    case!(linux_cgroups_blkio, "resources.blockIO weight"),
    case!(
        linux_cgroups_network,
        "resources.network classID (cgroup v1 net_cls)"
    ),
    case!(
        linux_cgroups_unified,
        "resources.unified files on cgroup v2"
    ),
];

fn linux_cgroups_memory(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["memory"] = json!({
            "limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20
        });
    })
}

fn linux_cgroups_cpus(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["cpu"] = json!({
            "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"
        });
    })
}

fn linux_cgroups_pids(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 42})
    })
}

/// config-linux.md (1.3): "`0` is a valid limit value ... and SHOULD be treated as such". The
/// container's shell is its only task; running an external command needs a fork.
fn linux_cgroups_pids_zero(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["sh", "-c", "/bin/true && echo forked"], |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 0})
    });
    let ran = ctx.runtime(&["run", "--bundle", b.path(), &id]);
    ensure!(
        !ran.stdout.contains("forked"),
        "the process forked under a pids limit of 0 (exit {}, stderr {:?})",
        ran.code,
        ran.stderr.trim()
    );
    ensure!(
        ran.code != 0 && ran.stderr.contains("fork"),
        "the run did not fail on fork: {}",
        ran.describe()
    );
    Ok(())
}

/// Deny all, allow the standard devices and /dev/conf-allowed (1:7); /dev/conf-denied (10:229,
/// fuse: not among the devices runtimes always allow) exists but must not open.
fn linux_cgroups_devices(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["device-access"], |c| {
        let allow = |major: i64, minor: i64| {
            json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"})
        };
        c["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            allow(1, 3), allow(1, 5), allow(1, 9), allow(5, 0), allow(5, 2),
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            allow(1, 7),
        ]);
        c["linux"]["devices"] = json!([
            {"path": "/dev/conf-allowed", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
            {"path": "/dev/conf-denied", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666},
        ]);
    })
}

/// Checked from the host: on hybrid hosts hugetlb may live only on the unified hierarchy,
/// which runtimes do not mount inside the container.
fn linux_cgroups_hugetlb(ctx: &mut Ctx) -> CaseResult {
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        return Err(skip("the kernel has no 2 MB huge pages"));
    }
    if !ctx.host.has_controller("hugetlb") {
        return Err(skip("no hugetlb cgroup controller"));
    }
    let id = ctx.new_id();
    let limit: u64 = 4 << 21;
    let b = ctx.bundle(&id, &["/bin/sleep", "600"], |c| {
        c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": limit}]);
    });
    ctx.create(&b, &id)?;
    let files: Vec<String> = cgroup_dirs(&id)
        .iter()
        .flat_map(|d| {
            ["hugetlb.2MB.max", "hugetlb.2MB.limit_in_bytes"]
                .iter()
                .filter_map(move |f| std::fs::read_to_string(d.join(f)).ok())
        })
        .map(|s| s.trim().to_string())
        .collect();
    ensure!(
        files.iter().any(|v| *v == limit.to_string()),
        "hugetlb 2MB limit files of the container hold {files:?}, want {limit}"
    );
    Ok(())
}

fn linux_cgroups_blkio(ctx: &mut Ctx) -> CaseResult {
    let weight_file = match ctx.host.cgroup {
        CgroupLayout::V2 => {
            Path::new("/sys/fs/cgroup/io.bfq.weight").exists()
                || std::fs::read_dir("/sys/fs/cgroup")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| e.path().join("io.bfq.weight").exists())
        }
        _ => {
            Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
                || Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists()
        }
    };
    if !weight_file {
        return Err(skip(
            "no block I/O weight file (the BFQ scheduler is not in use)",
        ));
    }
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["blockIO"] = json!({"weight": 500})
    })
}

fn linux_cgroups_network(ctx: &mut Ctx) -> CaseResult {
    if ctx.host.cgroup == CgroupLayout::V2 || !Path::new("/sys/fs/cgroup/net_cls").exists() {
        return Err(skip(
            "no net_cls controller on this host (cgroup v2 has none)",
        ));
    }
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["network"] = json!({"classID": 1048577})
    })
}

fn linux_cgroups_unified(ctx: &mut Ctx) -> CaseResult {
    if ctx.host.cgroup != CgroupLayout::V2 {
        return Err(skip(format!(
            "resources.unified needs a pure cgroup v2 host; this one has {}",
            ctx.host.layout_name()
        )));
    }
    ctx.check(&["cgroups"], |c| {
        c["linux"]["resources"]["unified"] = json!({"pids.max": "77", "memory.high": "67108864"})
    })
}
