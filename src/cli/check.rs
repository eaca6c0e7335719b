//! `corral check [--format text|json]`: can this host run what its users need? Each line is
//! OK, MISSING or WARN with what it affects. Verdicts come from trying (a namespace is made,
//! a system call is called with arguments it must refuse), not from version numbers, except
//! where only the version tells. The exit status is 1 when something the default config
//! (`corral spec`) needs is missing. `features` stays runc's format; this is ours.

use crate::cgroups::{Layout, host_hierarchies, layout_of};
use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Ok,
    Missing,
    Warn,
}

#[derive(Debug, Serialize)]
pub struct Check {
    /// Stable identifier (`namespace.user`, `cgroup.freezer`, ...).
    pub name: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What needs it.
    pub affects: String,
    /// The default config cannot run without it.
    pub required: bool,
}

fn check(name: &str, ok: bool, detail: impl Into<String>, affects: &str, required: bool) -> Check {
    Check {
        name: name.into(),
        verdict: match (ok, required) {
            (true, _) => Verdict::Ok,
            (false, true) => Verdict::Missing,
            (false, false) => Verdict::Warn,
        },
        detail: detail.into(),
        affects: affects.into(),
        required,
    }
}

#[inline(never)]
pub fn run(g: &super::GlobalOptions, a: Args) -> Result<i32> {
    let mut checks = vec![kernel()];
    checks.extend(namespaces());
    checks.extend(rootless());
    checks.extend(cgroups());
    checks.push(systemd());
    checks.extend(seccomp());
    checks.extend(lsms());
    checks.extend(filesystems());
    checks.extend(syscalls());
    checks.push(criu(&g.criu));
    let ok = !checks
        .iter()
        .any(|c| c.required && c.verdict == Verdict::Missing);
    match a.format {
        Format::Json => super::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({"ok": ok, "checks": checks}))?
        ))?,
        Format::Text => {
            for c in &checks {
                let verdict = match c.verdict {
                    Verdict::Ok => "OK",
                    Verdict::Missing => "MISSING",
                    Verdict::Warn => "WARN",
                };
                super::out(&format!(
                    "{verdict:<8}{:<30}{} [for: {}]\n",
                    c.name, c.detail, c.affects
                ))?;
            }
            super::out(if ok {
                "this host can run corral's default config\n"
            } else {
                "this host cannot run corral's default config: see MISSING above\n"
            })?;
        }
    }
    Ok(if ok { 0 } else { 1 })
}

fn kernel() -> Check {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    check(
        "kernel",
        kernel_version() >= (5, 6),
        format!("Linux {release}"),
        "corral needs 5.6 or later (openat2); 6.1 and 6.18 are tested",
        true,
    )
}

fn namespaces() -> Vec<Check> {
    // The default config's namespaces are required; user and time namespaces are for
    // configs that ask (user-namespaced pods, rootless; time offsets).
    [
        ("mount", libc::CLONE_NEWNS, true),
        ("uts", libc::CLONE_NEWUTS, true),
        ("ipc", libc::CLONE_NEWIPC, true),
        ("pid", libc::CLONE_NEWPID, true),
        ("network", libc::CLONE_NEWNET, true),
        ("cgroup", libc::CLONE_NEWCGROUP, true),
        ("user", libc::CLONE_NEWUSER, false),
        ("time", libc::CLONE_NEWTIME, false),
    ]
    .into_iter()
    .map(|(name, flag, required)| {
        let ok = crate::syscall::can_unshare(flag);
        check(
            &format!("namespace.{name}"),
            ok,
            if ok { "created" } else { "unshare(2) refused" },
            if required {
                "the default config"
            } else {
                "configs with this namespace"
            },
            required,
        )
    })
    .collect()
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn rootless() -> Vec<Check> {
    let max = read_trim("/proc/sys/user/max_user_namespaces");
    let max_ok = max.as_deref().is_some_and(|m| m != "0");
    let on_path = |bin: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
    };
    let tools = on_path("newuidmap") && on_path("newgidmap");
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let has_range = |file: &str| {
        std::fs::read_to_string(file).is_ok_and(|t| {
            t.lines()
                .any(|l| l.split(':').next() == Some(user.as_str()))
        })
    };
    let ranges = has_range("/etc/subuid") && has_range("/etc/subgid");
    vec![
        check(
            "rootless.max_user_namespaces",
            max_ok,
            format!(
                "user.max_user_namespaces = {}",
                max.as_deref().unwrap_or("unreadable")
            ),
            "rootless containers (an unprivileged user needs its own user namespace)",
            false,
        ),
        check(
            "rootless.newuidmap",
            tools,
            if tools {
                "newuidmap and newgidmap found"
            } else {
                "newuidmap/newgidmap not on PATH (package uidmap)"
            },
            "several id ranges in a user namespace for an unprivileged user",
            false,
        ),
        check(
            "rootless.subid",
            ranges,
            if ranges {
                format!("{user} has ranges in /etc/subuid and /etc/subgid")
            } else {
                format!("no range for {user} in /etc/subuid and /etc/subgid")
            },
            "several id ranges in a user namespace for an unprivileged user",
            false,
        ),
    ]
}

fn cgroups() -> Vec<Check> {
    let hs = host_hierarchies().unwrap_or_default();
    if hs.is_empty() {
        return vec![check(
            "cgroup.layout",
            false,
            "no cgroup filesystem mounted",
            "limits, pause, kill --all, stats: every container",
            true,
        )];
    }
    let layout = layout_of(&hs);
    let unified = hs.iter().find(|h| h.v2).map(|h| h.mount_point.clone());
    let mut controllers: Vec<String> = hs
        .iter()
        .filter(|h| !h.v2)
        .flat_map(|h| h.controllers.iter().cloned())
        .filter(|c| !c.starts_with("name="))
        .collect();
    if let Some(u) = &unified {
        let text = std::fs::read_to_string(u.join("cgroup.controllers")).unwrap_or_default();
        controllers.extend(text.split_whitespace().map(str::to_string));
    }
    controllers.sort();
    controllers.dedup();
    let has = |c: &str| controllers.iter().any(|x| x == c);
    let (layout_name, v2_dir) = match layout {
        Layout::V2 => ("cgroup v2", unified.clone()),
        Layout::Hybrid => (
            "hybrid (v1 controllers, cgroup2 beside them)",
            unified.clone(),
        ),
        Layout::V1 => ("cgroup v1", None),
    };
    let freezer = match layout {
        Layout::V2 => unified_cgroups_have(v2_dir.as_deref(), "cgroup.freeze"),
        _ => has("freezer"),
    };
    let devices = match layout {
        Layout::V2 => true, // an eBPF program, not a controller
        _ => has("devices"),
    };
    vec![
        check(
            "cgroup.layout",
            true,
            layout_name,
            "how limits are applied",
            true,
        ),
        check(
            "cgroup.controllers",
            has("memory") && has("pids") && (has("cpu") || has("cpuacct")),
            controllers.join(" "),
            "linux.resources (memory, pids and cpu are the ones engines set)",
            false,
        ),
        check(
            "cgroup.devices",
            devices,
            if layout == Layout::V2 {
                "eBPF device programs (cgroup v2)".to_string()
            } else if devices {
                "devices controller".to_string()
            } else {
                "no devices controller".to_string()
            },
            "the default deny-all device rules",
            true,
        ),
        check(
            "cgroup.freezer",
            freezer,
            if freezer { "can freeze" } else { "no freezer" },
            "pause and resume",
            false,
        ),
        check(
            "cgroup.kill",
            unified_cgroups_have(v2_dir.as_deref(), "cgroup.kill"),
            "cgroup.kill (Linux 5.14) on the unified hierarchy",
            "kill --all and delete kill the whole cgroup at once (else process by process)",
            false,
        ),
    ]
}

/// Whether the unified hierarchy's cgroups have `file` (the root cgroup has neither
/// cgroup.freeze nor cgroup.kill): our own cgroup's, else a child's of the root; with no
/// cgroup to look at, the kernel version that brought the file.
fn unified_cgroups_have(root: Option<&Path>, file: &str) -> bool {
    let Some(root) = root else {
        return false;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .filter(|p| p != "/");
    if let Some(own) = own {
        return root.join(own.trim_start_matches('/')).join(file).exists();
    }
    let child = std::fs::read_dir(root).ok().and_then(|entries| {
        entries
            .flatten()
            .find(|e| e.path().is_dir())
            .map(|e| e.path().join(file).exists())
    });
    child.unwrap_or_else(|| {
        let since = if file == "cgroup.kill" {
            (5, 14)
        } else {
            (5, 2)
        };
        kernel_version() >= since
    })
}

fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn systemd() -> Check {
    let init = Path::new("/run/systemd/system").is_dir();
    let bus = std::os::unix::net::UnixStream::connect("/run/dbus/system_bus_socket").is_ok();
    check(
        "systemd",
        init && bus,
        match (init, bus) {
            (true, true) => "systemd is PID 1 and the system bus answers",
            (true, false) => "systemd is PID 1 but the system bus is unreachable",
            (false, _) => "systemd is not PID 1",
        },
        "--systemd-cgroup (kubelet cgroupDriver: systemd)",
        false,
    )
}

fn seccomp() -> Vec<Check> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let filter = status.lines().any(|l| l.starts_with("Seccomp:"));
    let flags = crate::seccomp::supported_flags();
    let killable = flags.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    // The notify listener (Linux 5.0) and its flag: the kernel lists the action.
    let actions = read_trim("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    let notify = actions.split_whitespace().any(|a| a == "user_notif");
    vec![
        check(
            "seccomp",
            filter,
            if filter {
                "seccomp filters"
            } else {
                "no seccomp in this kernel"
            },
            "linux.seccomp (every engine's default profile)",
            false,
        ),
        check(
            "seccomp.notify",
            notify,
            format!("actions: {actions}"),
            "SCMP_ACT_NOTIFY with listenerPath (seccomp agents)",
            false,
        ),
        check(
            "seccomp.wait_killable_recv",
            killable,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19)",
            "notify filters that ask for it",
            false,
        ),
    ]
}

fn lsms() -> Vec<Check> {
    let apparmor = crate::lsm::apparmor_enabled();
    let selinux = crate::lsm::selinux_enabled();
    vec![
        check(
            "lsm.apparmor",
            apparmor,
            if apparmor { "enabled" } else { "not enabled" },
            "process.apparmorProfile (refused where AppArmor is off)",
            false,
        ),
        check(
            "lsm.selinux",
            selinux,
            if selinux { "enabled" } else { "not enabled" },
            "process.selinuxLabel, linux.mountLabel",
            false,
        ),
    ]
}

fn filesystems() -> Vec<Check> {
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let overlay = fs
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"));
    let sealed = crate::launch::overlay_view_works();
    vec![
        check(
            "fs.overlay",
            overlay,
            if overlay {
                "overlayfs available"
            } else {
                "no overlayfs"
            },
            "engines' image snapshots, and corral's sealed-binary view",
            false,
        ),
        check(
            "sealed_binary",
            sealed,
            if sealed {
                "read-only overlay view of corral's binary (no copy)"
            } else {
                "sealed memfd copy of corral's binary on every create and exec (slower)"
            },
            "CVE-2019-5736 protection, and create/exec latency",
            false,
        ),
    ]
}

fn syscalls() -> Vec<Check> {
    let exists = crate::syscall::syscall_exists;
    let openat2 = exists(libc::SYS_openat2);
    let clone3 = exists(libc::SYS_clone3);
    let mount_setattr = exists(libc::SYS_mount_setattr);
    let pidfd = crate::syscall::pidfd_open(nix::unistd::getpid().as_raw()).is_ok();
    vec![
        check(
            "syscall.openat2",
            openat2,
            "openat2(2)",
            "every path resolved inside a rootfs",
            true,
        ),
        check(
            "syscall.clone3",
            clone3,
            "clone3(2) (Linux 5.3; CLONE_INTO_CGROUP 5.7)",
            "starting the init straight in its cgroup (else a move after fork)",
            false,
        ),
        check(
            "syscall.pidfd",
            pidfd,
            "pidfd_open(2) (Linux 5.3)",
            "signals that cannot hit a reused pid",
            false,
        ),
        check(
            "syscall.mount_setattr",
            mount_setattr,
            "mount_setattr(2) (Linux 5.12)",
            "recursive mount flags (rro, rnosuid...) and bind mounts by fd",
            false,
        ),
        idmapped_mounts(mount_setattr),
    ]
}

/// Idmapped binds, tried for real on /var/lib, where engines keep volumes (the kubelet's
/// pod directories, containerd's and podman's).
fn idmapped_mounts(mount_setattr: bool) -> Check {
    let dir = Path::new("/var/lib");
    let probe = if mount_setattr {
        crate::rootfs::idmap_works_on(dir)
    } else {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    };
    let note = match &probe {
        Ok(()) => format!("a bind of {} can be idmapped", dir.display()),
        Err(_) if !mount_setattr => "no mount_setattr(2) (Linux 5.12)".to_string(),
        Err(e) => format!("idmapping a bind of {} failed: {e}", dir.display()),
    };
    check(
        "idmapped_mounts",
        probe.is_ok(),
        note,
        "mounts with uidMappings/gidMappings, user-namespaced pods (hostUsers: false)",
        false,
    )
}

fn criu(path: &Path) -> Check {
    let out = std::process::Command::new(path)
        .arg("check")
        .stdin(std::process::Stdio::null())
        .output();
    let (ok, detail) = match out {
        Err(e) => (false, format!("{}: {e}", path.display())),
        Ok(o) if o.status.success() => (true, "criu check passes".to_string()),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr).to_string()
                + &String::from_utf8_lossy(&o.stdout);
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            (false, format!("criu check fails: {}", last.trim()))
        }
    };
    check(
        "criu",
        ok,
        detail,
        "checkpoint and restore (corral checkpoint, corral restore)",
        false,
    )
}
