//! OCI bundles for tests: a busybox-static rootfs and the config `runc spec` writes.

use serde_json::{Value, json};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// Which busybox applets get a link in /bin.
pub enum Applets<'a> {
    /// Every applet this busybox has.
    All,
    /// Only these (a smaller rootfs, made faster).
    Only(&'a [&'a str]),
}

/// A busybox-static rootfs: /bin/busybox with its applets, the directories the default
/// mounts need, a world-writable /tmp, and a passwd/group with `root`, `user` (1000, home
/// /home/user) and the `tty` group.
pub fn busybox_rootfs(rootfs: &Path, applets: Applets) -> std::io::Result<()> {
    for d in [
        "bin",
        "etc",
        "tmp",
        "proc",
        "sys",
        "dev",
        "root",
        "home/user",
    ] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).map_err(|e| {
        std::io::Error::new(e.kind(), format!("/bin/busybox (busybox-static): {e}"))
    })?;
    let names: Vec<String> = match applets {
        Applets::All => {
            let list = std::process::Command::new("/bin/busybox")
                .arg("--list")
                .output()?;
            String::from_utf8_lossy(&list.stdout)
                .lines()
                .filter(|a| *a != "busybox")
                .map(str::to_string)
                .collect()
        }
        Applets::Only(names) => names.iter().map(|n| n.to_string()).collect(),
    };
    for applet in names {
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )?;
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nuser:x:1000:\ntty:x:5:\n",
    )
}

/// The config `runc spec` writes (runtime-spec's defaults), with the terminal off and
/// `args` as the process.
pub fn runc_spec_config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
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
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// A bundle directory and its config (written by [`Bundle::write`]); a bundle made with
/// [`Bundle::temp`] is removed when dropped.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
    _owned: Option<tempfile::TempDir>,
}

impl Bundle {
    /// A bundle in a new temp dir with a busybox rootfs.
    pub fn temp(prefix: &str, applets: Applets, config: Value) -> std::io::Result<Bundle> {
        let tmp = tempfile::Builder::new().prefix(prefix).tempdir()?;
        busybox_rootfs(&tmp.path().join("rootfs"), applets)?;
        Ok(Bundle {
            dir: tmp.path().to_path_buf(),
            config,
            _owned: Some(tmp),
        })
    }

    /// A bundle in `dir` (which the caller removes), with a busybox rootfs.
    pub fn at(dir: PathBuf, applets: Applets, config: Value) -> std::io::Result<Bundle> {
        busybox_rootfs(&dir.join("rootfs"), applets)?;
        Ok(Bundle {
            dir,
            config,
            _owned: None,
        })
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The bundle path as the runtime's `--bundle` takes it.
    pub fn path_str(&self) -> &str {
        self.dir.to_str().unwrap_or_default()
    }

    /// Writes `config` (this bundle's, or a variant of it) as config.json.
    pub fn write(&self, config: &Value) -> std::io::Result<()> {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(config)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_rootfs_has_only_its_applets() {
        let b = Bundle::temp(
            "kit-test",
            Applets::Only(&["sh"]),
            runc_spec_config(&["sh"]),
        )
        .unwrap();
        assert!(b.rootfs().join("bin/sh").exists());
        assert!(!b.rootfs().join("bin/ls").exists());
        let mode = std::fs::metadata(b.rootfs().join("tmp"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o1777);
        b.write(&b.config).unwrap();
        let back: Value =
            serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(back["process"]["args"], json!(["sh"]));
    }
}
