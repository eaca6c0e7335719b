use super::GlobalOptions;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

#[inline(never)]
pub fn run(_g: &GlobalOptions, a: Args) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = if a.rootless {
        rootless_spec()
    } else {
        default_spec()
    };
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

fn caps() -> Value {
    json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
}

/// The default config: a shell on a terminal, the namespaces, mounts, masked and read-only
/// paths that runc's default has, so the same file runs under both runtimes.
pub fn default_spec() -> Value {
    let mut s = base_spec();
    // runc gives a container on a cgroup v2 host its own cgroup namespace (after mount).
    if crate::cgroups::layout_of(&crate::cgroups::host_hierarchies().unwrap_or_default())
        == crate::cgroups::Layout::V2
        && let Some(ns) = s["linux"]["namespaces"].as_array_mut()
    {
        ns.push(json!({"type": "cgroup"}));
    }
    s
}

fn base_spec() -> Value {
    json!({
        "ociVersion": crate::spec::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps(), "effective": caps(), "permitted": caps(), "ambient": caps()
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "corral",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// The default made rootless as runc's `spec --rootless` makes it: a user namespace mapping
/// the caller's effective uid and gid to root and no network namespace, /sys bound from the
/// host in its place (sysfs cannot be mounted without owning a network namespace), no
/// `uid=`/`gid=` mount options (ids the single mapping lacks) and no resources.
pub fn rootless_spec() -> Value {
    let mut s = default_spec();
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    if let Some(ns) = s["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user");
        ns.push(json!({"type": "user"}));
    }
    s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(linux) = s["linux"].as_object_mut() {
        linux.remove("resources");
    }
    for m in s["mounts"].as_array_mut().into_iter().flatten() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        } else if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| {
                let o = o.as_str().unwrap_or_default();
                !o.starts_with("uid=") && !o.starts_with("gid=")
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        let text = serde_json::to_vec(&default_spec()).unwrap();
        let spec = crate::spec::parse_config(&text).unwrap();
        crate::spec::validate(&spec).unwrap();
    }

    #[test]
    fn rootless_spec_parses_and_validates() {
        let text = serde_json::to_vec(&rootless_spec()).unwrap();
        let spec = crate::spec::parse_config(&text).unwrap();
        crate::spec::validate(&spec).unwrap();
    }
}
