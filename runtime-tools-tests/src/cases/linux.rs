//! config-linux.md and config.md `mounts`: namespaces, id mappings, devices, masked and
//! read-only paths, sysctl, seccomp, rootfs propagation, and mounts.

use super::{Case, case};
use crate::ensure;
use crate::harness::{CaseResult, Ctx, fail, skip, wait_for};
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

pub const CASES: &[Case] = &[
    case!(
        linux_devices,
        "linux.devices: char, block and fifo nodes with mode, uid and gid"
    ),
    case!(
        linux_masked_paths,
        "linux.maskedPaths: files read empty, directories are empty"
    ),
    case!(
        linux_readonly_paths,
        "linux.readonlyPaths: mounted read-only"
    ),
    case!(
        linux_ns_itype,
        "every namespace type listed without a path is new"
    ),
    case!(
        linux_ns_nopath,
        "namespaces not listed are inherited from the runtime"
    ),
    case!(linux_ns_path, "namespaces with a path are joined"),
    case!(linux_ns_time, "a time namespace with linux.timeOffsets"),
    case!(
        linux_uid_mappings,
        "a user namespace with linux.uidMappings and gidMappings"
    ),
    case!(
        linux_mounts_idmap,
        "a bind with the idmap option and its own uidMappings/gidMappings shows the source's ids mapped (spec 1.2)"
    ),
    case!(
        linux_memory_policy,
        "linux.memoryPolicy MPOL_BIND on node 0 is the process's NUMA policy (spec 1.3)"
    ),
    case!(
        linux_net_devices_missing,
        "linux.netDevices naming an interface the host lacks is an error (spec 1.3: the runtime MUST check the move is possible)"
    ),
    case!(
        linux_intel_rdt_unavailable,
        "linux.intelRdt on a host without resctrl is an error, never ignored"
    ),
    case!(linux_sysctl, "linux.sysctl values in the new namespaces"),
    case!(
        linux_seccomp,
        "linux.seccomp: filtered syscalls fail with the configured errno"
    ),
    case!(
        linux_rootfs_propagation_private,
        "linux.rootfsPropagation private"
    ),
    case!(
        linux_rootfs_propagation_slave,
        "linux.rootfsPropagation slave"
    ),
    case!(
        linux_rootfs_propagation_shared,
        "linux.rootfsPropagation shared"
    ),
    case!(
        mounts,
        "mounts: tmpfs with options, read-only bind of a host directory"
    ),
    case!(
        mounts_symlink_escape,
        "a mount destination that is a symlink out of the rootfs stays inside it"
    ),
];

fn linux_devices(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["devices", "default-devices"], |c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/conf-char", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o620, "uid": 1000, "gid": 5},
            {"path": "/dev/conf-block", "type": "b", "major": 7, "minor": 0,
             "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/conf-fifo", "type": "p", "fileMode": 0o644, "uid": 0, "gid": 0},
            {"path": "/dev/sub/dir/conf-zero", "type": "c", "major": 1, "minor": 5},
        ]);
    })
}

fn linux_masked_paths(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.checker_bundle(&id, &["masked"], |c| {
        let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([json!("/masked-dir"), json!("/masked-file")]);
    });
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("masked-dir")).map_err(|e| fail(e.to_string()))?;
    fs::write(rootfs.join("masked-dir/secret"), "secret").map_err(|e| fail(e.to_string()))?;
    fs::write(rootfs.join("masked-file"), "secret").map_err(|e| fail(e.to_string()))?;
    let ran = ctx.runtime(&["run", "--bundle", b.path(), &id]);
    crate::harness::checker_verdict(&ran)?;
    let still = fs::read_to_string(rootfs.join("masked-file")).unwrap_or_default();
    ensure!(
        still == "secret",
        "the masked file changed on disk: {still:?}"
    );
    Ok(())
}

fn linux_readonly_paths(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.checker_bundle(&id, &["readonly"], |c| {
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .extend([json!("/ro-dir"), json!("/ro-file")]);
    });
    fs::create_dir_all(b.rootfs().join("ro-dir")).map_err(|e| fail(e.to_string()))?;
    fs::write(b.rootfs().join("ro-file"), "x").map_err(|e| fail(e.to_string()))?;
    let ran = ctx.runtime(&["run", "--bundle", b.path(), &id]);
    crate::harness::checker_verdict(&ran)
}

fn linux_ns_itype(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["namespaces"], |_| {})
}

/// Only pid and mount are new; network, ipc, uts and cgroup come from the runtime's.
fn linux_ns_nopath(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["namespaces"], |c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
        c.as_object_mut().unwrap().remove("hostname");
        // Without a network namespace the kernel refuses a new sysfs; bind the host's.
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/sys" && m["destination"] != "/sys/fs/cgroup");
        mounts.push(
            json!({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
    })
}

fn ns_inode(pid: u32, file: &str) -> Option<u64> {
    fs::metadata(format!("/proc/{pid}/ns/{file}"))
        .ok()
        .map(|m| m.ino())
}

fn linux_ns_path(ctx: &mut Ctx) -> CaseResult {
    let holder =
        ctx.helper(Command::new("unshare").args(["--uts", "--ipc", "--net", "sleep", "600"]));
    let mine = ns_inode(std::process::id(), "net");
    ensure!(
        wait_for(Duration::from_secs(5), || ns_inode(holder, "net") != mine),
        "the namespace holder did not unshare"
    );
    ctx.check(&["namespaces"], |c| {
        for (ty, file) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == ty {
                    n["path"] = json!(format!("/proc/{holder}/ns/{file}"));
                }
            }
            let inode = ns_inode(holder, file).unwrap_or(0);
            c["annotations"][format!("conformance.expect-ns.{ty}")] = json!(inode.to_string());
        }
    })
}

fn linux_ns_time(ctx: &mut Ctx) -> CaseResult {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        return Err(skip("the kernel has no time namespaces"));
    }
    ctx.check(&["namespaces", "timens"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": 86400, "nanosecs": 0},
            "boottime": {"secs": 3600, "nanosecs": 500}
        });
    })
}

fn linux_uid_mappings(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["idmaps", "namespaces", "user"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    })
}

/// config.md `mounts[].uidMappings`: on-disk ids 0 and 1000 of the source are seen through
/// the mount as the mapping's 100000 and 101000 (no user namespace needed).
fn linux_mounts_idmap(ctx: &mut Ctx) -> CaseResult {
    let vol = ctx.dir().join("vol");
    fs::create_dir_all(&vol).map_err(|e| fail(format!("make the source: {e}")))?;
    if !idmappable(&vol) {
        return Err(skip(
            "the bundle's filesystem may not take idmappings on this kernel",
        ));
    }
    for (name, owner) in [("f", 0), ("g", 1000)] {
        let p = vol.join(name);
        fs::write(&p, "").map_err(|e| fail(format!("make {name}: {e}")))?;
        std::os::unix::fs::chown(&p, Some(owner), Some(owner))
            .map_err(|e| fail(format!("chown {name}: {e}")))?;
    }
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["ls", "-ln", "/v"], |c| {
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/v", "type": "bind", "source": vol,
            "options": ["bind", "idmap"], "uidMappings": map, "gidMappings": map
        }));
    });
    let ran = ctx.must(&["run", "--bundle", b.path(), &id])?;
    let owners: Vec<(String, String)> = ran
        .stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4).then(|| (f[2].to_string(), f[3].to_string()))
        })
        .collect();
    let want =
        [("100000", "100000"), ("101000", "101000")].map(|(u, g)| (u.to_string(), g.to_string()));
    ensure!(
        owners == want,
        "owners seen through the mount: {owners:?}, want {want:?} (ls: {:?})",
        ran.stdout
    );
    Ok(())
}

/// config-linux.md `memoryPolicy`: set_mempolicy(2) before the process runs; the kernel
/// shows the task's policy for mappings without their own in /proc/self/numa_maps.
fn linux_memory_policy(ctx: &mut Ctx) -> CaseResult {
    if !std::path::Path::new("/proc/self/numa_maps").exists() {
        return Err(skip("the kernel has no NUMA support"));
    }
    let id = ctx.new_id();
    let script = "sed -n '1s/^[0-9a-f]* \\([^ ]*\\).*/\\1/p' /proc/self/numa_maps";
    let b = ctx.bundle(&id, &["sh", "-c", script], |c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    });
    let ran = ctx.must(&["run", "--bundle", b.path(), &id])?;
    ensure!(
        ran.stdout.trim() == "bind:0",
        "the process's policy is {:?}, want \"bind:0\"",
        ran.stdout.trim()
    );
    Ok(())
}

/// Moving host interfaces changes the host, so the suite only checks the refusal: no such
/// interface, no container.
fn linux_net_devices_missing(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["true"], |c| {
        c["linux"]["netDevices"] = json!({"confnodev0": {}});
    });
    ctx.must_fail(&["run", "--bundle", b.path(), &id])
}

/// config-linux.md `intelRdt`: a runtime that cannot apply it must fail (runtime.md's rule for
/// values it cannot honour); hosts with RDT hardware are not judged.
fn linux_intel_rdt_unavailable(ctx: &mut Ctx) -> CaseResult {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if mounts.contains(" - resctrl ") || std::path::Path::new("/sys/fs/resctrl/info").exists() {
        return Err(skip("this host has resctrl"));
    }
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["true"], |c| {
        c["linux"]["intelRdt"] = json!({"closID": "conf", "l3CacheSchema": "L3:0=f"});
    });
    ctx.must_fail(&["run", "--bundle", b.path(), &id])
}

/// Filesystems that take idmappings on every kernel with mount_setattr (tmpfs only from 6.3).
fn idmappable(dir: &std::path::Path) -> bool {
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const BTRFS: i64 = 0x9123_683E;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we own; the path outlives the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    matches!(st.f_type as i64, EXT4 | XFS | BTRFS)
}

fn linux_sysctl(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["sysctl"], |c| {
        c["linux"]["sysctl"] = json!({
            "net.ipv4.ip_forward": "1",
            "net.core.somaxconn": "256",
            "kernel.shmmni": "2048",
        });
    })
}

fn linux_seccomp(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["seccomp"], |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99},
                {"names": ["getsid", "getpgid"], "action": "SCMP_ACT_ERRNO"},
            ]
        });
    })
}

fn propagation(ctx: &mut Ctx, mode: &str) -> CaseResult {
    ctx.check(&["propagation"], |c| {
        c["linux"]["rootfsPropagation"] = json!(mode)
    })
}

fn linux_rootfs_propagation_private(ctx: &mut Ctx) -> CaseResult {
    propagation(ctx, "private")
}

/// A slave needs a master: the bundle must sit on a shared mount of the runtime's namespace.
fn linux_rootfs_propagation_slave(ctx: &mut Ctx) -> CaseResult {
    if !crate::harness::mount_is_shared(ctx.dir()) {
        return Err(skip(
            "the bundle's mount is private on this host, so it has no master to be a slave of",
        ));
    }
    propagation(ctx, "slave")
}

fn linux_rootfs_propagation_shared(ctx: &mut Ctx) -> CaseResult {
    propagation(ctx, "shared")
}

fn mounts(ctx: &mut Ctx) -> CaseResult {
    let host_dir = ctx.dir().join("bind-source");
    fs::create_dir_all(&host_dir).map_err(|e| fail(e.to_string()))?;
    fs::write(host_dir.join("probe"), "from the host").map_err(|e| fail(e.to_string()))?;
    let source = host_dir.to_str().unwrap_or_default().to_string();
    ctx.check(&["mounts", "files"], |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "noexec", "mode=755", "size=1m"]}),
        );
        mounts.push(
            json!({"destination": "/bound/deep", "type": "bind", "source": source,
                           "options": ["rbind", "ro"]}),
        );
        c["annotations"]["conformance.file./bound/deep/probe"] = json!("from the host");
    })
}

/// A hostile image whose /etc is a symlink to `/` and whose /escape points up and out: mounts
/// onto them land inside the rootfs.
fn mounts_symlink_escape(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.checker_bundle(&id, &["mounts"], |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({"destination": "/escape/conf-up", "type": "tmpfs", "source": "tmpfs",
                           "options": ["size=1m"]}),
        );
    });
    let rootfs = b.rootfs();
    std::os::unix::fs::symlink("../../../../../../..", rootfs.join("escape"))
        .map_err(|e| fail(e.to_string()))?;
    let mut config = b.config.clone();
    // The checker looks for that one mount, at its destination as resolved inside the rootfs.
    config["mounts"] = json!([{"destination": "/conf-up", "type": "tmpfs"}]);
    fs::write(
        rootfs.join("conformance/config.json"),
        serde_json::to_vec_pretty(&config).unwrap_or_default(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let ran = ctx.runtime(&["run", "--bundle", b.path(), &id]);
    let leaked = std::path::Path::new("/conf-up");
    if leaked.exists() {
        let _ = fs::remove_dir(leaked);
        return Err(fail("a directory was created on the host at /conf-up"));
    }
    crate::harness::checker_verdict(&ran)
}
