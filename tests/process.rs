//! What the container process sees of its own set-up, corral next to runc: ids, groups,
//! capabilities, rlimits, cwd, env, umask, no_new_privs, oom_score_adj, fds.

mod common;

use common::*;
use serde_json::json;

/// Lines of /proc/self/status that describe credentials and security state.
const STATUS_FIELDS: &str =
    "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status";

#[test]
fn default_process_matches_runc() {
    let mut b = Bundle::new();
    b.sh(&format!("{STATUS_FIELDS}; pwd; umask; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; env | sort"));
    let results = differential("proc", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(results[0].1.contains("NoNewPrivs:\t1"), "{}", results[0].1);
}

#[test]
fn user_groups_umask_cwd_and_env_match_runc() {
    let mut b = Bundle::new();
    b.sh(&format!(
        "{STATUS_FIELDS}; pwd; umask; id; echo HOME=$HOME; echo FOO=$FOO"
    ));
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 1000, 2000], "umask": 63});
    b.config["process"]["cwd"] = json!("/home/user");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    let results = differential("user", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    let out = &results[0].1;
    assert!(out.contains("Uid:\t1000\t1000\t1000\t1000"), "{out}");
    assert!(out.contains("HOME=/home/user"), "{out}");
    assert!(out.contains("FOO=bar baz"), "{out}");
    assert!(out.contains("0077"), "{out}");
}

#[test]
fn capability_sets_match_runc() {
    let mut b = Bundle::new();
    b.sh(STATUS_FIELDS);
    let sets = json!(["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETUID"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": sets, "effective": ["CAP_CHOWN"], "permitted": sets,
        "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]
    });
    let results = differential("caps", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
}

#[test]
fn non_root_capabilities_match_runc() {
    let mut b = Bundle::new();
    b.sh(STATUS_FIELDS);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let sets = json!(["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": sets, "effective": sets, "permitted": sets, "inheritable": sets, "ambient": sets
    });
    let results = differential("capsuser", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0].1.contains("CapAmb:\t0000000000000420"),
        "{}",
        results[0].1
    );
}

#[test]
fn no_capabilities_section_means_none() {
    let mut b = Bundle::new();
    b.sh(STATUS_FIELDS);
    b.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("capabilities");
    let results = differential("nocaps", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0].1.contains("CapBnd:\t0000000000000000"),
        "{}",
        results[0].1
    );
}

#[test]
fn rlimits_match_runc() {
    let mut b = Bundle::new();
    b.sh("ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc; ulimit -s; ulimit -u");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256},
        {"type": "RLIMIT_CORE", "hard": 4096, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 300, "soft": 300}
    ]);
    let results = differential("rlim", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0].1.starts_with("256\n512\n2\n8\n"),
        "{}",
        results[0].1
    );
}

#[test]
fn oom_score_adj_matches_runc() {
    let mut b = Bundle::new();
    b.sh("cat /proc/self/oom_score_adj");
    b.config["process"]["oomScoreAdj"] = json!(500);
    let results = differential("oom", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1.trim(), "500");
}

#[test]
fn executable_is_found_through_the_containers_path() {
    let mut b = Bundle::with_args(&["echo", "found"]);
    b.config["process"]["env"] = json!(["PATH=/nonexistent:/bin"]);
    let results = differential("path", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "found\n");
}

#[test]
fn missing_executable_fails_create_with_runc_wording() {
    // docker and podman map these words to exit code 127.
    for (arg, words) in [
        ("no-such-binary", "executable file not found"),
        ("/no/such/binary", "no such file or directory"),
    ] {
        let b = Bundle::with_args(&[arg]);
        for rt in Runtime::both() {
            let id = unique_id("noexe");
            let _guard_id = rt.guard(&id);
            b.write_for(&rt, &id);
            let out = rt.run(&["create", "--bundle", b.path_str(), &id]);
            assert!(!out.status.success(), "{}", rt.name);
            assert!(
                stderr_of(&out).contains(words),
                "{}: {}",
                rt.name,
                stderr_of(&out)
            );
            assert_clean(&rt, &id);
        }
    }
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_process() {
    let mut b = Bundle::new();
    // The listing itself opens one fd (ls's directory), so compare the sets, not counts.
    b.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; cat /proc/self/fd/3 2>&1; readlink /proc/self/fd/4 || echo no-fd-4");
    let results = differential("fds", |rt, id| {
        b.write_for(rt, id);
        let data = b.path().join("fd3-data");
        std::fs::write(&data, "preserved\n").unwrap();
        let f = std::fs::File::open(&data).unwrap();
        let mut c = rt.cmd();
        c.args(["run", "--preserve-fds", "1", "--bundle", b.path_str(), id]);
        pass_as_fd3(&mut c, &f);
        let out = capture(&mut c);
        assert!(out.status.success(), "{}: {}", rt.name, stderr_of(&out));
        stdout_of(&out)
    });
    assert_same(&results);
    assert!(results[0].1.contains("preserved"), "{}", results[0].1);
    assert!(results[0].1.contains("no-fd-4"), "{}", results[0].1);
}

#[test]
fn non_root_user_never_changes_host_dev_null() {
    // runc issue 3674: chowning an inherited /dev/null changes it for the whole host.
    let mut b = Bundle::with_args(&["sh", "-c", "echo ok"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let before = std::fs::metadata("/dev/null").unwrap();
    let rt = Runtime::corral();
    let id = unique_id("devnull");
    let _guard_id = rt.guard(&id);
    b.write_for(&rt, &id);
    let status = rt
        .cmd()
        .args(["run", "--bundle", b.path_str(), &id])
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .unwrap(),
        )
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .unwrap(),
        )
        .status()
        .unwrap();
    assert!(status.success());
    let after = std::fs::metadata("/dev/null").unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.uid(), before.gid(), before.mode()),
        (after.uid(), after.gid(), after.mode())
    );
    rt.cleanup(&id);
}

#[test]
fn non_root_user_can_reopen_piped_stdout() {
    let mut b = Bundle::with_args(&["sh", "-c", "echo reopened > /proc/self/fd/1"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let rt = Runtime::corral();
    let id = unique_id("pipeuser");
    let _guard_id = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt
        .cmd()
        .args(["run", "--bundle", b.path_str(), &id])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "reopened\n");
    rt.cleanup(&id);
}

#[test]
fn scheduler_and_io_priority_are_applied() {
    // runc 1.1 has neither field (added in 1.2), so this checks corral against the spec.
    let mut b = Bundle::new();
    b.sh("grep -E '^policy' /proc/self/sched; cat /proc/self/stat | cut -d' ' -f19; ionice");
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    let rt = Runtime::corral();
    let id = unique_id("sched");
    let _guard_id = rt.guard(&id);
    let out = rt.output_of(&b, &id);
    rt.cleanup(&id);
    let policy = out
        .lines()
        .next()
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim);
    assert_eq!(policy, Some("3"), "SCHED_BATCH is policy 3: {out}");
    assert!(out.lines().nth(1) == Some("5"), "nice 5: {out}");
    assert!(out.contains("idle"), "{out}");
}

#[test]
fn preserving_an_fd_that_is_not_open_is_an_error() {
    let b = Bundle::with_args(&["true"]);
    let rt = Runtime::corral();
    let id = unique_id("nofd");
    let _guard_id = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt.run(&[
        "create",
        "--preserve-fds",
        "40",
        "--bundle",
        b.path_str(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("--preserve-fds 40: fd"),
        "{}",
        stderr_of(&out)
    );
    assert_clean(&rt, &id);
}

#[test]
fn personality_linux32_is_applied() {
    // runc 1.1 ignores linux.personality (runc 1.2 added it): corral against the spec.
    let mut b = Bundle::with_args(&["uname", "-m"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let rt = Runtime::corral();
    let id = unique_id("pers");
    let _guard = rt.guard(&id);
    assert_eq!(rt.output_of(&b, &id).trim(), "i686");
    rt.cleanup(&id);
}

#[test]
fn socket_activation_fds_pass_through_like_runc() {
    let mut b = Bundle::new();
    b.sh("echo $LISTEN_FDS $LISTEN_PID; cat /proc/self/fd/3");
    let results = differential("listenfds", |rt, id| {
        b.write_for(rt, id);
        let data = b.path().join("listen-data");
        std::fs::write(&data, "activated\n").unwrap();
        let f = std::fs::File::open(&data).unwrap();
        // systemd's rule: the fds are ours only if LISTEN_PID is our pid, so set it in a shell
        // that then execs the runtime (same pid).
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$@\"", "sh"])
            .arg(&rt.bin)
            .args(["--root", rt.root.path().to_str().unwrap()])
            .args(["run", "--bundle", b.path_str(), id]);
        pass_as_fd3(&mut c, &f);
        let out = capture(&mut c);
        assert!(out.status.success(), "{}: {}", rt.name, stderr_of(&out));
        stdout_of(&out)
    });
    assert_same(&results);
    assert_eq!(results[0].1, "1 1\nactivated\n");
}

/// A cwd only root may enter (/root, mode 700) works for another user: the runtime changes
/// directory before it switches to the user, as runc does. Both for the container process and
/// for `exec --user`.
#[test]
fn cwd_only_root_may_enter_works_for_another_user() {
    let mut b = Bundle::new();
    b.sh("pwd; id -u; ls . 2>&1 | grep -o 'Permission denied'; sleep 1000");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["cwd"] = json!("/root");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        b.rootfs().join("root"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let results = differential("cwd-root", |rt, id| {
        rt.start_detached(&b, id);
        let out = rt.run(&["exec", "--user", "1000:1000", id, "pwd"]);
        (out.status.code(), stdout_of(&out))
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), "/root\n".to_string()));
}

/// A profile that denies getcwd must not fail create: the cwd is verified (CVE-2024-21626)
/// before the filter is loaded, which without no_new_privs happens early. corral only:
/// Debian's runc 1.1.5 carries the CVE-2024-21626 check after loading the filter and fails
/// ("failed to verify if current working directory is safe: operation not permitted").
#[test]
fn a_filter_denying_getcwd_does_not_fail_create() {
    let mut b = Bundle::new();
    b.sh("echo started");
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let rt = Runtime::corral();
    let id = unique_id("getcwd");
    let _guard = rt.guard(&id);
    assert_eq!(rt.output_of(&b, &id), "started\n");
    rt.cleanup(&id);
}

/// The policy the kernel shows for the process's first mapping (/proc/self/numa_maps falls
/// back to the task's policy, which set_mempolicy sets).
const FIRST_POLICY: &str = "head -1 /proc/self/numa_maps | cut -d' ' -f2-";

/// `linux.memoryPolicy` (spec 1.3; runc 1.1.5 has none, runc ≥ 1.4 sets it with
/// set_mempolicy before exec): every mode and flag the kernel takes on this host's node 0,
/// for the init and for an exec'd process.
#[test]
fn memory_policy_modes_and_flags_reach_the_process() {
    if !std::path::Path::new("/proc/self/numa_maps").exists() {
        skip!("the kernel has no NUMA support");
    }
    let rt = Runtime::corral();
    let cases = [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
        (
            json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}),
            "prefer (many):0",
        ),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
        (json!({"mode": "MPOL_DEFAULT"}), "default"),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}),
            "interleave=relative:0",
        ),
    ];
    for (policy, want) in cases {
        let mut b = Bundle::with_args(&["sh", "-c", FIRST_POLICY]);
        b.config["linux"]["memoryPolicy"] = policy.clone();
        let id = unique_id("mempolicy");
        let _guard = rt.guard(&id);
        let out = rt.output_of(&b, &id);
        assert!(out.starts_with(&format!("{want} ")), "{policy}: {out}");
        rt.cleanup(&id);
    }
    // An exec'd process gets it too.
    let mut b = Bundle::with_args(&["sleep", "1000"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    let id = unique_id("mempolicy-exec");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    let out = rt.ok(&["exec", &id, "sh", "-c", FIRST_POLICY]);
    assert!(out.starts_with("interleave:0 "), "{out}");
    rt.cleanup(&id);
}

/// A node the host lacks, a mode given the wrong number of nodes, and an unknown mode are
/// refused naming the field, leaving nothing.
#[test]
fn bad_memory_policies_are_refused_naming_the_field() {
    let rt = Runtime::corral();
    let cases = [
        (
            json!({"mode": "MPOL_BIND", "nodes": "63"}),
            "linux.memoryPolicy",
        ),
        (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes"),
        (
            json!({"mode": "MPOL_LOCAL", "nodes": "0"}),
            "linux.memoryPolicy.nodes",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "2-1"}),
            "linux.memoryPolicy.nodes",
        ),
        (json!({"mode": "MPOL_NOPE"}), "linux.memoryPolicy.mode"),
    ];
    for (policy, field) in cases {
        let mut b = Bundle::with_args(&["true"]);
        b.config["linux"]["memoryPolicy"] = policy.clone();
        let id = unique_id("mempolicy-bad");
        let _guard = rt.guard(&id);
        b.write_for(&rt, &id);
        let out = rt.run(&["run", "--bundle", b.path_str(), &id]);
        let err = stderr_of(&out);
        assert_ne!(out.status.code(), Some(0), "{policy}");
        assert!(err.contains(field), "{policy}: {err}");
        assert_eq!(err.lines().count(), 1, "{policy}: {err}");
        assert_clean(&rt, &id);
    }
}
