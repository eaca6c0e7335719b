//! `corral check`: its verdicts must agree with what the host really does. Each namespace it
//! calls usable is created here (and one it calls missing really fails), each controller it
//! lists is mounted, the system calls it found are called, and CRIU's verdict is `criu
//! check`'s. Runs on this host and in the v2 VM (hack/vm/test-v2.sh runs every test binary).

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

fn report() -> (Value, i32) {
    let out = Runtime::corral().run(&["check", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --format json: {e}: {}", stdout_of(&out)));
    (v, out.status.code().unwrap_or(-1))
}

fn verdict<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))["verdict"]
        .as_str()
        .unwrap()
}

#[test]
fn this_host_runs_the_default_config_and_the_exit_code_says_so() {
    let (r, code) = report();
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(code, 0);
    let required_missing = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["required"] == true && c["verdict"] == "MISSING")
        .count();
    assert_eq!(required_missing, 0);
}

#[test]
fn namespace_verdicts_match_unshare() {
    let (r, _) = report();
    for (name, flag) in [
        ("mount", "--mount"),
        ("uts", "--uts"),
        ("ipc", "--ipc"),
        ("pid", "--pid"),
        ("network", "--net"),
        ("cgroup", "--cgroup"),
        ("user", "--user"),
        ("time", "--time"),
    ] {
        let v = verdict(&r, &format!("namespace.{name}"));
        let made = Command::new("unshare")
            .args([flag, "true"])
            .status()
            .unwrap()
            .success();
        assert_eq!(
            v == "OK",
            made,
            "namespace.{name}: check says {v}, unshare made it: {made}"
        );
    }
}

#[test]
fn listed_controllers_are_mounted() {
    let (r, _) = report();
    let c = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cgroup.controllers")
        .unwrap();
    let listed: Vec<&str> = c["detail"].as_str().unwrap().split_whitespace().collect();
    assert!(!listed.is_empty());
    // What the host has, read here independently: v1 mount options and cgroup2's
    // cgroup.controllers.
    let mut mounted = Vec::new();
    for line in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        let (left, right) = line.split_once(" - ").unwrap();
        let mut fields = right.split(' ');
        let fstype = fields.next().unwrap();
        let opts = right.split(' ').nth(2).unwrap_or("");
        let mount_point = left.split(' ').nth(4).unwrap();
        match fstype {
            "cgroup" => mounted.extend(opts.split(',').map(str::to_string)),
            "cgroup2" => mounted.extend(
                std::fs::read_to_string(format!("{mount_point}/cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    for controller in listed {
        assert!(
            mounted.iter().any(|m| m == controller),
            "check lists {controller}, which no hierarchy has: {mounted:?}"
        );
    }
}

#[test]
fn system_call_verdicts_match_the_calls() {
    let (r, _) = report();
    // pidfd_open of ourselves, and openat2 of "/" for real.
    // SAFETY: plain integer arguments; the fd is closed below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    assert_eq!(verdict(&r, "syscall.pidfd") == "OK", pidfd >= 0);
    if pidfd >= 0 {
        // SAFETY: the fd opened above, closed once.
        unsafe { libc::close(pidfd as i32) };
    }
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: libc::O_PATH as u64,
        mode: 0,
        resolve: 0,
    };
    // SAFETY: a valid NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c"/".as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    assert_eq!(verdict(&r, "syscall.openat2") == "OK", fd >= 0);
    if fd >= 0 {
        // SAFETY: the fd opened above, closed once.
        unsafe { libc::close(fd as i32) };
    }
}

#[test]
fn criu_and_systemd_verdicts_match_the_host() {
    let (r, _) = report();
    let criu_ok = Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    assert_eq!(verdict(&r, "criu") == "OK", criu_ok);
    let systemd = std::path::Path::new("/run/systemd/system").is_dir()
        && std::os::unix::net::UnixStream::connect("/run/dbus/system_bus_socket").is_ok();
    assert_eq!(verdict(&r, "systemd") == "OK", systemd);
}

/// The idmapped-mount verdict follows the filesystem of /var/lib: the ones that take
/// idmappings on every kernel with mount_setattr are OK, 9p (the VM lane's root) is not.
/// overlayfs depends on its layers, and is not judged.
#[test]
fn idmapped_mounts_verdict_follows_the_filesystem() {
    let (r, _) = report();
    let fs = Command::new("stat")
        .args(["-f", "-c", "%T", "/var/lib"])
        .output()
        .unwrap();
    let fs = String::from_utf8_lossy(&fs.stdout).trim().to_string();
    let expected = match fs.as_str() {
        "ext2/ext3" | "xfs" | "btrfs" => "OK",
        "v9fs" | "nfs" | "sysfs" => "WARN",
        other => skip!("/var/lib is on {other}: whether it idmaps depends on more than its type"),
    };
    assert_eq!(verdict(&r, "idmapped_mounts"), expected, "/var/lib on {fs}");
}

#[test]
fn text_lines_carry_a_verdict_each() {
    let out = Runtime::corral().run(&["check"]);
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    let (last, checks) = lines.split_last().unwrap();
    assert!(last.starts_with("this host can"), "{text}");
    for l in checks {
        assert!(
            ["OK ", "MISSING ", "WARN "]
                .iter()
                .any(|v| l.starts_with(v)),
            "{l}"
        );
    }
}
