//! Regression tests for known runtime CVEs, each a container built with the malicious image
//! layout. (CVE-2019-5736 and CVE-2024-21626 live in tests/exec.rs, next to the exec paths
//! they attack; symlinked mount targets in tests/rootfs.rs.)

mod common;

use common::*;
use serde_json::json;
use std::process::Command;

/// A bundle whose /dev is the image's own (bind-mounted from a directory we control), so
/// what the image puts in /dev is what the runtime meets.
fn image_dev_bundle(script: &str) -> (Bundle, tempfile::TempDir) {
    let dev = tempfile::tempdir().unwrap();
    let mut b = Bundle::new();
    b.sh(script);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| {
        m["destination"] != "/dev"
            && m["destination"] != "/dev/pts"
            && m["destination"] != "/dev/shm"
            && m["destination"] != "/dev/mqueue"
    });
    mounts.push(
        json!({"destination": "/dev", "type": "bind", "source": dev.path(), "options": ["rbind"]}),
    );
    mounts.push(json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}));
    (b, dev)
}

#[test]
fn cve_2025_31133_masked_paths_use_a_verified_dev_null() {
    // The image's /dev/null points at a procfs file; masking must not bind that file over
    // /proc/keys (which would make it writable as /proc/keys).
    let (b, dev) = image_dev_bundle("wc -c < /proc/keys; ls -l /proc/keys | cut -c1");
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.path().join("null")).unwrap();
    let rt = Runtime::corral();
    let id = unique_id("cve31133");
    let _guard = rt.guard(&id);
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let out = rt.output_of(&b, &id);
    assert_eq!(
        out, "0\nc\n",
        "/proc/keys is masked by a real, empty character device"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
    rt.cleanup(&id);
}

#[test]
fn cve_2025_52565_dev_console_symlink_is_not_followed() {
    // The image's /dev/console points at a file of the rootfs; the pty must be bound over a
    // /dev/console of ours, not over the symlink's target.
    let (mut b, dev) = image_dev_bundle("cat /etc/motd; ls -l /dev/console | cut -c1");
    b.config["process"]["terminal"] = json!(true);
    std::fs::write(b.rootfs().join("etc/motd"), "untouched\n").unwrap();
    std::os::unix::fs::symlink("/etc/motd", dev.path().join("console")).unwrap();
    let rt = Runtime::corral();
    let id = unique_id("cve52565");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let sock = b.path().join("console.sock");
    let receiver = console_receiver(&sock);
    rt.ok(&[
        "create",
        "--bundle",
        b.path_str(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    let mut master = std::fs::File::from(receiver.join().unwrap());
    rt.ok(&["start", &id]);
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&text).replace('\r', "");
    assert_eq!(text, "untouched\nc\n");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("etc/motd")).unwrap(),
        "untouched\n"
    );
    rt.cleanup(&id);
}

#[test]
fn cve_2025_52881_oom_score_adj_is_written_outside_the_container() {
    // A container that replaced its /proc cannot redirect the runtime's write of
    // oom_score_adj for an exec'd process: corral writes it before joining the container.
    let caps = json!(["CAP_SYS_ADMIN", "CAP_KILL"]);
    let mut b = Bundle::with_args(&["sh", "-c", "mount -t tmpfs tmpfs /proc && sleep 1000"]);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.config["process"]["oomScoreAdj"] = json!(300);
    let rt = Runtime::corral();
    let id = unique_id("cve52881");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid_file = b.path().join("exec.pid");
    let out = rt.run(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(adj.trim(), "300");
    rt.cleanup(&id);
}

#[test]
fn state_is_private_and_ids_cannot_escape_the_root() {
    let b = Bundle::with_args(&["sleep", "1000"]);
    let rt = Runtime::corral();
    let id = unique_id("private");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    use std::os::unix::fs::PermissionsExt;
    let dir = rt.root.path().join(&id);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir) & 0o044, 0, "state dir not readable by others");
    assert_eq!(
        mode(&dir.join("state.json")) & 0o077,
        0,
        "state file private"
    );
    for bad in ["../escape", "/", ".."] {
        let out = rt.run(&["state", bad]);
        assert!(!out.status.success(), "{bad:?}");
    }
    rt.cleanup(&id);
}

/// CVE-2019-5736's cheap protection (the overlay view of corral's directory) must hold where
/// the state root lies inside that directory: overlayfs refuses overlapping layers, which used
/// to send every create and exec to the slower memfd copy. CORRAL_EXE_SEAL=overlay forbids that
/// fallback, so this fails if the overlay cannot be made.
#[test]
fn overlay_seal_works_with_the_state_root_inside_the_binary_directory() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("corral");
    std::fs::copy(env!("CARGO_BIN_EXE_corral"), &bin).unwrap();
    let root = tempfile::Builder::new()
        .prefix("state")
        .tempdir_in(home.path())
        .unwrap();
    let rt = Runtime::corral_at(bin, root);
    let b = Bundle::with_args(&["true"]);
    let id = unique_id("nested-seal");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt
        .cmd()
        .env("CORRAL_EXE_SEAL", "overlay")
        .args(["run", "--bundle", b.path_str(), &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    rt.cleanup(&id);
    assert_clean(&rt, &id);
}

/// A host-wide sysctl in the config would be written to the host's kernel: both runtimes
/// refuse every key the kernel does not keep per namespace. The value asked for is the
/// host's own, so even a runtime that wrongly writes it changes nothing.
#[test]
fn host_wide_sysctl_is_refused() {
    let current = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let results = differential("sysctl-host", |rt, id| {
        let mut b = Bundle::with_args(&["true"]);
        b.config["linux"]["sysctl"] = json!({"kernel.core_pattern": current.trim_end()});
        b.write_for(rt, id);
        let out = rt.run(&["create", "--bundle", b.path_str(), id]);
        assert_clean(rt, id);
        let err = stderr_of(&out);
        if rt.name == "corral" {
            assert!(
                err.contains("linux.sysctl.kernel.core_pattern")
                    && err.contains("is not in a separate kernel namespace"),
                "{err}"
            );
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
        out.status.code()
    });
    assert_same(&results);
    assert_eq!(results[0].1, Some(1));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        current
    );
}

/// Namespaced sysctls still work: an IPC key with an IPC namespace, a net key with a network
/// namespace, in either spelling.
#[test]
fn namespaced_sysctls_are_applied() {
    let results = differential("sysctl-ns", |rt, id| {
        let mut b = Bundle::with_args(&[
            "cat",
            "/proc/sys/kernel/shmmni",
            "/proc/sys/net/ipv4/ip_forward",
        ]);
        b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234", "net/ipv4/ip_forward": "1"});
        rt.output_of(&b, id)
    });
    assert_same(&results);
    assert_eq!(results[0].1, "1234\n1\n");
}

/// A container with CAP_MKNOD must not reach host devices through a node it makes itself.
/// runc starts the device cgroup from deny-all whatever the config says; with no device rules
/// (and with only allow rules) /dev/mem is refused by the cgroup (EPERM), not by the driver.
#[test]
fn device_cgroup_defaults_to_deny() {
    let caps = json!(["CAP_MKNOD", "CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE"]);
    for rules in [
        None,
        Some(json!([{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}])),
    ] {
        let results = differential("devdeny", |rt, id| {
            let mut b = Bundle::new();
            b.sh(
                "mknod /dev/mem2 c 1 1 && head -c1 /dev/mem2 >/dev/null 2>/dev/null; echo $?; \
                  head -c1 /dev/mem2 2>&1 | grep -o 'not permitted'",
            );
            b.config["process"]["capabilities"] =
                json!({"bounding": caps, "effective": caps, "permitted": caps});
            match &rules {
                None => {
                    b.config["linux"]["resources"]
                        .as_object_mut()
                        .unwrap()
                        .remove("devices");
                }
                Some(r) => b.config["linux"]["resources"]["devices"] = r.clone(),
            }
            rt.run_bundle(&b, id).1
        });
        assert_same(&results);
        assert_eq!(results[0].1, "1\nnot permitted\n", "rules {rules:?}");
    }
}

/// CVE-2024-21626 class: an fd the caller leaked (not close-on-exec, not preserved) must be
/// closed before execve, not only marked close-on-exec: execve resolves its path first, so
/// `/proc/self/fd/9/...` would run a host binary. Both runtimes refuse to run it.
#[test]
fn cve_2024_21626_a_leaked_fd_is_no_exec_path() {
    let host = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", host.path().join("echo")).unwrap();
    let dir = std::fs::File::open(host.path()).unwrap();
    let b = Bundle::with_args(&["/proc/self/fd/9/echo", "escaped"]);
    let results = differential("leakedfd", |rt, id| {
        b.write_for(rt, id);
        let mut c = rt.cmd();
        c.args(["run", "--bundle", b.path_str(), id]);
        pass_as_fd(&mut c, &dir, 9);
        let out = capture(&mut c);
        (out.status.success(), stdout_of(&out))
    });
    assert_same(&results);
    assert_eq!(results[0].1, (false, String::new()));
}

/// A huge `--preserve-fds` (or LISTEN_FDS) used to wrap around; it is an error naming the
/// flag, and nothing is created.
#[test]
fn a_huge_preserve_fds_count_is_refused() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["true"]);
    let id = unique_id("hugefds");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt.run(&[
        "create",
        "--preserve-fds",
        "2147483647",
        "--bundle",
        b.path_str(),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("--preserve-fds 2147483647"),
        "{}",
        stderr_of(&out)
    );
    assert_clean(&rt, &id);
    // LISTEN_PID must name the runtime's own process: the shell execs it with its own pid.
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ exec {} --root {} create --bundle {} {id}",
            rt.bin.display(),
            rt.root.path().display(),
            b.path_str()
        ))
        .env("LISTEN_FDS", "2147483647");
    let out = capture(&mut sh);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("LISTEN_FDS=2147483647"),
        "{}",
        stderr_of(&out)
    );
    assert_clean(&rt, &id);
}

/// The pid file's temp file is never opened through a symlink: a planted `.NAME.tmp` link to
/// a host file must not make root truncate or write that file.
#[test]
fn pid_file_temp_does_not_follow_a_planted_symlink() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["sleep", "1000"]);
    let id = unique_id("pidlink");
    let _guard = rt.guard(&id);
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".pid.tmp")).unwrap();
    let pid_file = dir.path().join("pid");
    b.write_for(&rt, &id);
    rt.ok(&[
        "create",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &id,
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid, rt.state(&id)["pid"].to_string());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&pid_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o022, 0, "pid file not writable by others");
    rt.cleanup(&id);
}

/// Attaches to pid 1 with PTRACE_SEIZE and prints `attached` or the error.
const PTRACE_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
int main(void) {
    if (ptrace(PTRACE_SEIZE, 1, 0, 0) == 0) {
        ptrace(PTRACE_DETACH, 1, 0, 0);
        puts("attached");
    } else {
        printf("%s\n", strerror(errno));
    }
    return 0;
}
"#;

/// CVE-2016-9962 class: the init is non-dumpable from its start, so a process of the
/// container with the same uid and capabilities (no CAP_SYS_PTRACE) cannot ptrace it, take its
/// sync socket and forge messages. Probed on the created container's waiting init, which by
/// then holds the container's capabilities and uid. corral only: runc 1.1.5's waiting init is
/// dumpable again by then, and this probe attaches to it.
#[test]
fn cve_2016_9962_the_init_cannot_be_ptraced_by_the_container() {
    let probe = static_probe("ptrace", PTRACE_PROBE);
    let b = Bundle::with_args(&["true"]);
    std::fs::copy(&probe, b.rootfs().join("ptrace-probe")).unwrap();
    let rt = Runtime::corral();
    let id = unique_id("ptrace");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    rt.ok(&["create", "--bundle", b.path_str(), &id]);
    assert_eq!(
        rt.ok(&["exec", &id, "/ptrace-probe"]),
        "Operation not permitted\n"
    );
    rt.cleanup(&id);
}

/// CVE-2019-19921 class: procfs and sysfs are mounted only on an ordinary directory, never
/// through a symlink the image placed at /proc or /sys. Both runtimes refuse.
#[test]
fn cve_2019_19921_proc_and_sys_on_a_symlink_are_refused() {
    for (dest, link_to) in [("proc", "tmp"), ("sys", "tmp")] {
        let results = differential("procsymlink", |rt, id| {
            let b = Bundle::with_args(&["true"]);
            let at = b.rootfs().join(dest);
            std::fs::remove_dir(&at).unwrap();
            std::os::unix::fs::symlink(link_to, &at).unwrap();
            b.write_for(rt, id);
            let out = rt.run(&["create", "--bundle", b.path_str(), id]);
            assert_clean(rt, id);
            if rt.name == "corral" {
                let err = stderr_of(&out);
                assert!(
                    err.contains("must be mounted on an ordinary directory"),
                    "{err}"
                );
            }
            out.status.code()
        });
        assert_same(&results);
        assert_eq!(results[0].1, Some(1), "/{dest}");
    }
}

/// CVE-2019-16884 / 2023-27561 class: no mount may stand in for files under /proc (a fake
/// /proc/sys/kernel/cap_last_cap once left the bounding set whole), except the files lxcfs
/// emulates; and on /proc itself only a procfs. Both runtimes agree case by case.
#[test]
fn mounts_over_proc_are_limited_to_lxcfs_files() {
    let fake = tempfile::tempdir().unwrap();
    std::fs::write(fake.path().join("cap_last_cap"), "1\n").unwrap();
    let file = fake.path().join("cap_last_cap");
    let cases = [
        (
            json!({"destination": "/proc/sys/kernel", "type": "bind", "source": fake.path(), "options": ["bind"]}),
            false,
        ),
        (
            json!({"destination": "/proc/uptime", "type": "bind", "source": file, "options": ["bind"]}),
            true,
        ),
        (
            json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
            false,
        ),
    ];
    for (mount, allowed) in cases {
        let results = differential("procmount", |rt, id| {
            let mut b = Bundle::with_args(&["cat", "/proc/uptime"]);
            b.config["mounts"]
                .as_array_mut()
                .unwrap()
                .push(mount.clone());
            b.write_for(rt, id);
            let out = rt.run(&["run", "--bundle", b.path_str(), id]);
            if rt.name == "corral" && !allowed {
                let err = stderr_of(&out);
                assert!(err.contains("cannot be mounted because it is"), "{err}");
            }
            out.status.code()
        });
        assert_same(&results);
        assert_eq!(results[0].1 == Some(0), allowed, "{mount}");
    }
}
