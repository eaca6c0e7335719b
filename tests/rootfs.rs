//! The root filesystem the container sees, corral next to runc: mounts and their options,
//! devices, masked and read-only paths, read-only root, hostname, sysctl, bind mounts, and
//! symlinks in the image that try to send a mount outside the rootfs.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeSet;

/// "mountpoint options fstype" for every mount the container sees, except masked paths
/// (runc binds the container's /dev/null over them, corral a verified host /dev/null).
fn mount_table(mountinfo: &str, masked: &[&str]) -> BTreeSet<String> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let fstype = post.split(' ').next()?;
            if masked.contains(&pre[4]) {
                return None;
            }
            Some(format!("{} {} {fstype}", pre[4], pre[5]))
        })
        .collect()
}

const MASKED: &[&str] = &[
    "/proc/keys",
    "/proc/timer_list",
    "/proc/kcore",
    "/proc/latency_stats",
    "/proc/sched_debug",
];

#[test]
fn default_mounts_match_runc() {
    let b = Bundle::with_args(&["cat", "/proc/self/mountinfo"]);
    let mut results = differential("mounts", |rt, id| {
        mount_table(&rt.output_of(&b, id), MASKED)
    });
    // The spec over runc: the cgroup mount asks for "ro", and corral makes the cgroup v1
    // tmpfs at /sys/fs/cgroup read-only too; runc 1.1 leaves that tmpfs writable (on v2 both
    // mount a read-only cgroup2). Compared apart from the rest.
    let cgroup_line = |t: &BTreeSet<String>| {
        t.iter()
            .find(|l| l.starts_with("/sys/fs/cgroup "))
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        cgroup_line(&results[0].1).starts_with("/sys/fs/cgroup ro,"),
        "corral's cgroup mount is not read-only: {:?}",
        results[0].1
    );
    for (_, table) in results.iter_mut() {
        table.retain(|l| !l.starts_with("/sys/fs/cgroup "));
    }
    assert_same(&results);
    let table = &results[0].1;
    assert!(
        table.iter().any(|l| l.starts_with("/ ro,")),
        "root is read-only: {table:?}"
    );
    assert!(table.contains("/proc/acpi ro,relatime tmpfs"), "{table:?}");
    assert!(
        table.iter().any(|l| l.starts_with("/proc/sys ro,")),
        "{table:?}"
    );
}

#[test]
fn masked_and_readonly_paths_hold() {
    let mut b = Bundle::new();
    b.sh("cat /proc/kcore | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid && echo wrote || echo refused; touch /newfile && echo wrote || echo refused");
    let results = differential("masked", |rt, id| {
        let (code, out, _) = rt.run_bundle(&b, id);
        (code, out)
    });
    assert_same(&results);
    assert_eq!(results[0].1.1, "0\n0\nrefused\nrefused\n");
}

#[test]
fn default_devices_and_symlinks_match_runc() {
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "ls -l /dev /dev/pts | grep -v '^total' | awk '{print $1, $5, $6, $NF}'; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done",
    ]);
    let results = differential("devs", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0].1.contains("crw-rw-rw- 1, 3 null"),
        "{}",
        results[0].1
    );
}

#[test]
fn linux_devices_are_created_with_mode_and_owner() {
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "ls -ln /dev/mynull /dev/myfifo | awk '{print $1, $3, $4, $5, $6}'; echo hi > /dev/mynull && echo writable",
    ]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 1000, "gid": 1000},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 420}
    ]);
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    ]);
    let results = differential("linuxdevs", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0].1.contains("crw-rw---- 1000 1000 1, 3"),
        "{}",
        results[0].1
    );
    assert!(results[0].1.contains("writable"), "{}", results[0].1);
}

#[test]
fn device_cgroup_denies_what_is_not_allowed() {
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "head -c1 /dev/mymem >/dev/null 2>&1 && echo read || echo denied",
    ]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/mymem", "type": "c", "major": 1, "minor": 1, "fileMode": 438}]);
    let results = differential("devdeny", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "denied\n");
}

#[test]
fn domainname_is_set() {
    // runc 1.1 ignores `domainname` (it came with runc 1.2); the spec wins, corral sets it.
    let mut b = Bundle::with_args(&["cat", "/proc/sys/kernel/domainname"]);
    b.config["domainname"] = json!("example.test");
    let rt = Runtime::corral();
    let id = unique_id("domain");
    let _guard_id = rt.guard(&id);
    assert_eq!(rt.output_of(&b, &id), "example.test\n");
    rt.cleanup(&id);
}

#[test]
fn hostname_and_sysctl_match_runc() {
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "hostname; cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/msgmax",
    ]);
    b.config["hostname"] = json!("box1");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "9000"});
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let results = differential("uts", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "box1\n1\n9000\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward,
        "host sysctl unchanged"
    );
}

#[test]
fn bind_mounts_with_options_match_runc() {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("data"), "from host\n").unwrap();
    let file = shared.path().join("single");
    std::fs::write(&file, "one file\n").unwrap();
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cat /mnt/ro/data; echo x > /mnt/ro/new 2>/dev/null && echo ro-writable || echo ro-refused; \
         echo y > /mnt/rw/new && echo rw-writable; cat /etc/single; grep -E ' /mnt/(ro|rw) ' /proc/self/mountinfo | awk '{print $5, $6}'",
    ]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/mnt/ro", "type": "bind", "source": shared.path(), "options": ["rbind", "ro", "nosuid", "nodev"]}));
    mounts.push(json!({"destination": "/mnt/rw", "type": "bind", "source": shared.path(), "options": ["bind", "rw", "rprivate"]}));
    mounts.push(json!({"destination": "/etc/single", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    let results = differential("bind", |rt, id| {
        let out = rt.output_of(&b, id);
        let _ = std::fs::remove_file(shared.path().join("new"));
        out
    });
    assert_same(&results);
    let out = &results[0].1;
    assert!(
        out.starts_with("from host\nro-refused\nrw-writable\none file\n"),
        "{out}"
    );
}

#[test]
fn relative_bind_source_is_taken_from_the_bundle() {
    let mut b = Bundle::with_args(&["cat", "/mnt/x/hello"]);
    std::fs::create_dir_all(b.path().join("extra")).unwrap();
    std::fs::write(b.path().join("extra/hello"), "relative\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/mnt/x", "type": "bind", "source": "extra", "options": ["bind"]}),
    );
    let results = differential("relbind", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "relative\n");
}

#[test]
fn symlinks_in_the_image_cannot_move_mounts_outside_the_rootfs() {
    // An image may carry `/evil -> /` or `../../..`; the mount must land inside the rootfs.
    let marker = format!("corral-escape-{}", unique_id("m"));
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        &format!("grep -c ' /{marker}-a \\| /{marker}-b ' /proc/self/mountinfo"),
    ]);
    std::os::unix::fs::symlink("/", b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", b.rootfs().join("up")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": format!("/evil/{marker}-a"), "type": "tmpfs", "source": "tmpfs"}),
    );
    mounts.push(
        json!({"destination": format!("/up/{marker}-b"), "type": "tmpfs", "source": "tmpfs"}),
    );
    let host_mounts_before = mounts_mentioning(&marker).len();
    let results = differential("escape", |rt, id| {
        let out = rt.output_of(&b, id);
        assert!(
            !std::path::Path::new(&format!("/{marker}-a")).exists(),
            "{}: escaped to host /",
            rt.name
        );
        assert!(
            !std::path::Path::new(&format!("/{marker}-b")).exists(),
            "{}: escaped to host /",
            rt.name
        );
        assert!(
            b.rootfs().join(format!("{marker}-a")).is_dir(),
            "{}: target made inside rootfs",
            rt.name
        );
        let _ = std::fs::remove_dir(b.rootfs().join(format!("{marker}-a")));
        let _ = std::fs::remove_dir(b.rootfs().join(format!("{marker}-b")));
        out
    });
    assert_same(&results);
    assert_eq!(results[0].1.trim(), "2");
    assert_eq!(mounts_mentioning(&marker).len(), host_mounts_before);
}

#[test]
fn no_pivot_runs_the_same() {
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "ls /; cat /proc/self/mountinfo | awk '$5 == \"/\" {print $6}'",
    ]);
    let results = differential("nopivot", |rt, id| {
        b.write_for(rt, id);
        let out = rt.run(&["run", "--no-pivot", "--bundle", b.path_str(), id]);
        assert!(out.status.success(), "{}: {}", rt.name, stderr_of(&out));
        stdout_of(&out)
    });
    assert_same(&results);
}

#[test]
fn rootfs_propagation_is_applied() {
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "awk '$5 == \"/\" {for (i=7; $i != \"-\"; i++) printf \"%s \", $i; print \"\"}' /proc/self/mountinfo",
    ]);
    b.config["linux"]["rootfsPropagation"] = json!("rprivate");
    let private = differential("prop", |rt, id| rt.output_of(&b, id));
    assert_same(&private);
    assert!(!private[0].1.contains("shared:"), "{}", private[0].1);
}

#[test]
fn writable_root_allows_writes() {
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "echo ok > /written && cat /written && rm /written",
    ]);
    b.config["root"]["readonly"] = json!(false);
    let results = differential("rw", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "ok\n");
}

#[test]
fn missing_cwd_is_created_like_runc() {
    let mut b = Bundle::with_args(&["pwd"]);
    b.config["process"]["cwd"] = json!("/work/here");
    let results = differential("cwd", |rt, id| {
        let out = rt.output_of(&b, id);
        let _ = std::fs::remove_dir_all(b.rootfs().join("work"));
        out
    });
    assert_same(&results);
    assert_eq!(results[0].1, "/work/here\n");
}

#[test]
fn no_mount_is_left_in_the_callers_namespace() {
    let b = Bundle::with_args(&["true"]);
    for rt in Runtime::both() {
        let id = unique_id("nomount");
        let _guard_id = rt.guard(&id);
        rt.output_of(&b, &id);
        rt.cleanup(&id);
        assert!(
            mounts_mentioning(b.path_str()).is_empty(),
            "{}: {:?}",
            rt.name,
            mounts_mentioning(b.path_str())
        );
    }
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_image_content_like_runc() {
    // runc's `tmpcopyup` extension, which podman uses for the writable /tmp, /var/tmp and /run
    // of a `--read-only` container. The image's symlinks are copied as symlinks, never
    // followed (one points at a host file).
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cd /data && ls -lnR . | grep -v '^total' | awk '{print $1, $3, $4, $NF}'; cat file; \
         readlink escape; echo more > added && echo writable; \
         grep ' /data ' /proc/self/mountinfo | awk '{print $9}'; \
         grep ' /ro-data ' /proc/self/mountinfo | awk '{print $6}'; cat /ro-data/file",
    ]);
    let data = b.rootfs().join("data");
    std::fs::create_dir_all(data.join("private")).unwrap();
    std::fs::write(data.join("file"), "from the image\n").unwrap();
    std::fs::write(data.join("private/secret"), "s\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", data.join("escape")).unwrap();
    std::os::unix::fs::chown(data.join("private"), Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(
        data.join("private"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let ro = b.rootfs().join("ro-data");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("file"), "read-only copy\n").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                       "options": ["tmpcopyup", "nosuid", "nodev"]}),
    );
    mounts.push(
        json!({"destination": "/ro-data", "type": "tmpfs", "source": "tmpfs",
                       "options": ["tmpcopyup", "ro"]}),
    );
    let results = differential("copyup", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    let out = &results[0].1;
    assert!(out.contains("drwx------ 1000 1000 private"), "{out}");
    assert!(
        out.contains("from the image\n/etc/shadow\nwritable\ntmpfs\nro,"),
        "{out}"
    );
    assert!(out.ends_with("read-only copy\n"), "{out}");
    assert!(
        !data.join("added").exists(),
        "the write reached the image, not the tmpfs"
    );
}

/// `rootfsPropagation: unbindable` (and `runbindable`) makes the container's root unbindable.
/// corral only: runc 1.1.5 applies it before binding the rootfs onto itself and fails with
/// EINVAL; runc ≥ 1.2 applies it after pivot_root, as corral does.
#[test]
fn unbindable_root_propagation_works() {
    for prop in ["unbindable", "runbindable"] {
        let mut b = Bundle::new();
        b.sh("grep ' / / ' /proc/self/mountinfo || head -1 /proc/self/mountinfo");
        b.config["linux"]["rootfsPropagation"] = json!(prop);
        let rt = Runtime::corral();
        let id = unique_id("unbindable");
        let _guard = rt.guard(&id);
        let out = rt.output_of(&b, &id);
        let root_line = out.lines().next().unwrap_or_default();
        assert!(root_line.contains(" unbindable "), "{prop}: {out}");
        rt.cleanup(&id);
    }
}

/// A `/dev` mounted `ro` still gets /dev/pts, /dev/shm, /dev/mqueue and the device nodes under
/// it, and is read-only in the end, as with runc (it is remounted read-only last).
#[test]
fn a_read_only_dev_keeps_its_submounts_like_runc() {
    let mut b = Bundle::new();
    b.sh(
        "cut -d' ' -f5,6 /proc/self/mountinfo | grep '^/dev'; ls /dev; touch /dev/x 2>&1; echo end",
    );
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    let results = differential("devro", |rt, id| rt.run_bundle(&b, id));
    assert_same(&results);
    let (code, out, err) = &results[0].1;
    assert_eq!(*code, 0, "{out}{err}");
    assert!(out.starts_with("/dev ro,"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

/// In a new user, mount and pid namespace, maps root and tries to mount a fresh procfs;
/// prints `mounted` or the error.
const FRESH_PROC_PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)) {
        printf("unshare: %s\n", strerror(errno));
        return 0;
    }
    int fd = open("/proc/self/uid_map", O_WRONLY);
    if (fd < 0 || write(fd, "0 0 1", 5) < 0) {
        printf("uid_map: %s\n", strerror(errno));
        return 0;
    }
    close(fd);
    pid_t p = fork();
    if (p == 0) {
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
        if (mount("proc", "/proc", "proc", 0, NULL))
            printf("mount: %s\n", strerror(errno));
        else
            printf("mounted\n");
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, 0, 0);
    return 0;
}
"#;

/// `--no-pivot` keeps the old root under the new one in the container's mount namespace; the
/// host's full procfs left there would let a user namespace in the container mount a fresh,
/// unmasked procfs (runc's `--no-pivot` test). corral detaches every full procfs and sysfs
/// outside the rootfs first; both runtimes then refuse the mount.
#[test]
fn no_pivot_lets_no_fresh_procfs_be_mounted() {
    let probe = static_probe("fresh-proc", FRESH_PROC_PROBE);
    let mut b = Bundle::with_args(&["/fresh-proc"]);
    std::fs::copy(&probe, b.rootfs().join("fresh-proc")).unwrap();
    let caps = json!(["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP"]);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    let results = differential("nopivot-proc", |rt, id| {
        b.write_for(rt, id);
        let out = rt.run(&["run", "--no-pivot", "--bundle", b.path_str(), id]);
        assert!(out.status.success(), "{}: {}", rt.name, stderr_of(&out));
        stdout_of(&out)
    });
    assert_same(&results);
    assert_eq!(results[0].1, "mount: Operation not permitted\n");
}
