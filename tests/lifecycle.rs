//! The container lifecycle through the CLI, corral next to runc on the same bundle:
//! create/start/state/kill/delete, run's exit codes, list, pid files, signal forwarding.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_for_status(rt: &Runtime, id: &str, want: &str) {
    let start = Instant::now();
    while rt.status(id) != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{}: {id} never became {want}",
            rt.name
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn run_exit_codes_match_runc() {
    // (A signal the container's pid 1 sends itself is ignored by the kernel, so death by
    // signal is tested from outside, below.)
    for (script, want) in [("exit 0", 0), ("exit 3", 3), ("exit 255", 255)] {
        let bundle = Bundle::with_args(&["sh", "-c", script]);
        let results = differential("exit", |rt, id| rt.run_bundle(&bundle, id).0);
        assert_same(&results);
        assert_eq!(results[0].1, want, "{script}");
    }
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("sigdeath", |rt, id| {
        bundle.write_for(rt, id);
        let pid_file = bundle.path().join(format!("{}-sig.pid", rt.name));
        let mut child = rt
            .cmd()
            .args([
                "run",
                "--bundle",
                bundle.path_str(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                id,
            ])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let pid = loop {
            if let Ok(p) = std::fs::read_to_string(&pid_file)
                && let Ok(p) = p.trim().parse::<i32>()
            {
                break p;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{}: no pid file",
                rt.name
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap().code()
    });
    assert_same(&results);
    assert_eq!(results[0].1, Some(137));
}

#[test]
fn create_start_kill_delete_cycle_like_runc() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("cycle", |rt, id| {
        let pid_file = bundle.path().join(format!("{}.pid", rt.name));
        bundle.write_for(rt, id);
        rt.ok(&[
            "create",
            "--bundle",
            bundle.path_str(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ]);
        let created = rt.state(id);
        assert_eq!(created["status"], "created");
        let pid: i64 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            created["pid"].as_i64().unwrap(),
            pid,
            "pid file matches state"
        );
        assert!(pid > 0);
        rt.ok(&["start", id]);
        assert_eq!(rt.status(id), "running");
        let running = rt.state(id);
        rt.ok(&["kill", id, "KILL"]);
        wait_for_status(rt, id, "stopped");
        let stopped = rt.state(id);
        assert_eq!(stopped["pid"], 0, "a stopped container reports pid 0");
        rt.ok(&["delete", id]);
        let gone = rt.run(&["state", id]);
        assert!(!gone.status.success());
        (
            keys(&created),
            keys(&running),
            created["bundle"].clone(),
            created["rootfs"].clone(),
        )
    });
    assert_same(&results);
    let (created_keys, ..) = &results[0].1;
    let want: BTreeSet<String> = [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(created_keys, &want);
}

#[test]
fn state_values_have_runc_shapes() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("shape", |rt, id| {
        let s = rt.start_detached(&bundle, id);
        let created = s["created"].as_str().unwrap().to_string();
        assert!(
            chrono_like(&created),
            "{}: created {created:?} is not RFC 3339",
            rt.name
        );
        assert!(s["ociVersion"].as_str().unwrap().starts_with("1."));
        (s["id"] == id, s["owner"].clone(), s["status"].clone())
    });
    assert_same(&results);
}

fn chrono_like(s: &str) -> bool {
    s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[test]
fn list_formats_match_runc() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("list", |rt, id| {
        let empty = rt.ok(&["list", "--format", "json"]);
        assert!(
            empty.trim() == "null" || empty.trim() == "[]",
            "{}: {empty}",
            rt.name
        );
        rt.start_detached(&bundle, id);
        let json: Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
        let entry = &json.as_array().unwrap()[0];
        assert_eq!(entry["id"], id);
        assert_eq!(entry["owner"], "root");
        let quiet = rt.ok(&["list", "-q"]);
        assert_eq!(quiet.trim(), id);
        let table = rt.ok(&["list"]);
        let header: Vec<String> = table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
        (keys(entry), header, table.lines().count())
    });
    assert_same(&results);
}

#[test]
fn empty_list_prints_header_only() {
    for rt in Runtime::both() {
        let out = rt.ok(&["list"]);
        assert_eq!(out.lines().count(), 1, "{}: {out}", rt.name);
        assert!(out.starts_with("ID"), "{}", rt.name);
    }
}

#[test]
fn delete_of_created_container_needs_no_force() {
    // containerd deletes created-but-never-started containers without --force (runc's
    // behaviour, which clients rely on).
    let bundle = Bundle::with_args(&["true"]);
    let results = differential("delcreated", |rt, id| {
        bundle.write_for(rt, id);
        rt.ok(&["create", "--bundle", bundle.path_str(), id]);
        let pid = rt.state(id)["pid"].as_i64().unwrap();
        let out = rt.run(&["delete", id]);
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z");
        (out.status.success(), alive)
    });
    assert_same(&results);
    assert_eq!(results[0].1, (true, false));
}

#[test]
fn delete_running_needs_force() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("delrun", |rt, id| {
        rt.start_detached(&bundle, id);
        let plain = rt.run(&["delete", id]);
        assert_eq!(rt.status(id), "running");
        let forced = rt.run(&["delete", "--force", id]);
        (plain.status.code(), forced.status.code())
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(1), Some(0)));
}

#[test]
fn start_twice_and_kill_stopped_fail_like_runc() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("twice", |rt, id| {
        rt.start_detached(&bundle, id);
        let again = rt.run(&["start", id]).status.code();
        rt.ok(&["kill", id, "9"]);
        wait_for_status(rt, id, "stopped");
        let kill_stopped = rt.run(&["kill", id, "TERM"]).status.code();
        let start_stopped = rt.run(&["start", id]).status.code();
        (again, kill_stopped, start_stopped)
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(1), Some(1), Some(1)));
}

#[test]
fn commands_on_missing_container_fail_like_runc() {
    for rt in Runtime::both() {
        for args in [
            vec!["state", "nope"],
            vec!["start", "nope"],
            vec!["kill", "nope"],
            vec!["delete", "nope"],
        ] {
            let out = rt.run(&args);
            assert_eq!(out.status.code(), Some(1), "{} {args:?}", rt.name);
            assert!(
                stderr_of(&out).contains("does not exist"),
                "{} {args:?}: {}",
                rt.name,
                stderr_of(&out)
            );
        }
        // delete --force of a missing container succeeds (runc's behaviour; shims rely on it).
        assert!(
            rt.run(&["delete", "--force", "nope"]).status.success(),
            "{}",
            rt.name
        );
    }
}

#[test]
fn kill_all_reaches_forked_children() {
    let mut bundle = Bundle::new();
    // The init forks a child that outlives its own parent's interest; only --all reaches it.
    bundle.sh("trap '' TERM; sleep 1000 & sleep 1000 & wait");
    let results = differential("killall", |rt, id| {
        let s = rt.start_detached(&bundle, id);
        let cg = cgroup_path(rt, id);
        let start = Instant::now();
        while processes_in_cgroup(&cg).len() < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{}: children never started",
                rt.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        rt.ok(&["kill", "--all", id, "KILL"]);
        wait_for_status(rt, id, "stopped");
        let start = Instant::now();
        while !processes_in_cgroup(&cg).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{}: children survived kill --all",
                rt.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        s["status"].clone()
    });
    assert_same(&results);
}

#[test]
fn run_detach_writes_pid_file_and_returns() {
    let bundle = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("detach", |rt, id| {
        bundle.write_for(rt, id);
        let pid_file = bundle.path().join(format!("{}-d.pid", rt.name));
        let out = rt
            .cmd()
            .args([
                "run",
                "-d",
                "--bundle",
                bundle.path_str(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                id,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
        (
            out.code(),
            rt.status(id),
            rt.state(id)["pid"].as_i64() == Some(pid),
        )
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), "running".to_string(), true));
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let bundle = Bundle::with_args(&["true"]);
    let results = differential("keep", |rt, id| {
        bundle.write_for(rt, id);
        rt.ok(&["run", "--keep", "--bundle", bundle.path_str(), id]);
        rt.status(id)
    });
    assert_same(&results);
    assert_eq!(results[0].1, "stopped");
}

#[test]
fn run_without_keep_deletes_the_container() {
    let bundle = Bundle::with_args(&["true"]);
    for rt in Runtime::both() {
        let id = unique_id("nokeep");
        let _guard_id = rt.guard(&id);
        rt.output_of(&bundle, &id);
        assert_clean(&rt, &id);
    }
}

#[test]
fn foreground_run_forwards_signals() {
    let mut bundle = Bundle::new();
    bundle.sh("trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done");
    let results = differential("fwd", |rt, id| {
        bundle.write_for(rt, id);
        let mut child = rt
            .cmd()
            .args(["run", "--bundle", bundle.path_str(), id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        std::io::Read::read_exact(&mut out, &mut buf).unwrap();
        assert_eq!(&buf, b"ready\n");
        signal(child.id(), nix::sys::signal::Signal::SIGTERM);
        child.wait().unwrap().code()
    });
    assert_same(&results);
    assert_eq!(results[0].1, Some(42));
}

#[test]
fn errors_go_to_json_log_as_containerd_reads_them() {
    for rt in Runtime::both() {
        let log = tempfile::NamedTempFile::new().unwrap();
        let out = capture(rt.cmd().args([
            "--log",
            log.path().to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "missing-id",
        ]));
        assert_eq!(out.status.code(), Some(1));
        let text = std::fs::read_to_string(log.path()).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["level"], "error", "{}", rt.name);
        assert!(
            last["msg"].as_str().unwrap().contains("does not exist"),
            "{}: {text}",
            rt.name
        );
        assert!(last["time"].is_string());
    }
}

#[test]
fn version_names_spec() {
    let out = Runtime::corral().ok(&["--version"]);
    assert!(out.starts_with("corral version "), "{out}");
    assert!(out.contains("\ncommit: "));
    assert!(out.contains("\nspec: 1."));
}

#[test]
fn spec_writes_a_config_both_runtimes_run() {
    let bundle = Bundle::new();
    let out = Runtime::corral().run(&["spec", "--bundle", bundle.path_str()]);
    assert!(out.status.success());
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(bundle.path().join("config.json")).unwrap()).unwrap();
    // A second spec refuses to overwrite, as runc's does.
    assert!(
        !Runtime::corral()
            .run(&["spec", "--bundle", bundle.path_str()])
            .status
            .success()
    );
    config["process"]["terminal"] = Value::Bool(false);
    config["process"]["args"] = serde_json::json!(["sh", "-c", "hostname; echo ok"]);
    let mut b = bundle;
    b.config = config;
    let results = differential("spec", |rt, id| {
        rt.output_of(&b, id).lines().last().map(String::from)
    });
    assert_same(&results);
}

/// `spec` writes runc's default config, field for field but the version and hostname: on a
/// cgroup v2 host that includes a cgroup namespace (corral's used to lack it there).
#[test]
fn spec_writes_runcs_default_config() {
    let configs: Vec<Value> = Runtime::both()
        .iter()
        .map(|rt| {
            let b = tempfile::tempdir().unwrap();
            let out = rt.run(&["spec", "--bundle", b.path().to_str().unwrap()]);
            assert!(out.status.success(), "{}", rt.name);
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap())
                    .unwrap();
            for k in ["ociVersion", "hostname"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        })
        .collect();
    assert_eq!(configs[0], configs[1], "corral spec differs from runc spec");
}

#[test]
fn features_lists_only_what_corral_supports() {
    let f: Value = serde_json::from_str(&Runtime::corral().ok(&["features"])).unwrap();
    assert_eq!(
        f["hooks"].as_array().unwrap().len(),
        6,
        "all six hook kinds"
    );
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    // Both kernels the suite runs on (6.18 here, 6.1 in the v2 VM) have it (5.19 and later).
    assert!(
        f["linux"]["seccomp"]["supportedFlags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
    );
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user") && ns.contains(&"time"));
    assert!(
        f["mountOptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "rro")
    );
    // The systemd driver honours org.systemd.property.*, checkpoint and restore
    // org.criu.config: engines must know they are not inert (runc lists both).
    assert_eq!(
        f["potentiallyUnsafeConfigAnnotations"],
        serde_json::json!(["org.systemd.property.", "org.criu.config"])
    );
    // Whether checkpoint works here: runc's key, CRIU's own verdict.
    let criu_ok = std::process::Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    assert_eq!(
        f["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        criu_ok.to_string()
    );
}

#[test]
fn concurrent_creates_of_one_id_leave_exactly_one_container() {
    // corral alone: runc 1.1 was seen to leak the init process and cgroup of a losing create
    // in this race, which would fail the cleanliness checks for reasons not corral's.
    let b = Bundle::with_args(&["sleep", "1000"]);
    let rt = Runtime::corral();
    let id = unique_id("race");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let codes: Vec<Option<i32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    rt.run(&["create", "--bundle", b.path_str(), &id])
                        .status
                        .code()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "{codes:?}"
    );
    assert!(
        codes.iter().all(|c| *c == Some(0) || *c == Some(1)),
        "{codes:?}"
    );
    assert_eq!(rt.status(&id), "created");
    assert_eq!(
        processes_in_cgroup(&cgroup_path(&rt, &id)).len(),
        1,
        "only the winner's init"
    );
    rt.cleanup(&id);
}

#[test]
fn rootless_spec_is_valid_json_for_both_runtimes() {
    let b = Bundle::new();
    let out = Runtime::corral().run(&["spec", "--rootless", "--bundle", b.path_str()]);
    assert!(out.status.success());
    let config: Value =
        serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user") && !ns.contains(&"network"), "{ns:?}");
    assert!(config["linux"]["uidMappings"].is_array());
}

/// Signal 0 is a liveness check (`kill ID 0`, `kill --all ID 0` succeed on a running
/// container), and real-time signals are delivered by number (SIGRTMIN+3 is systemd's stop
/// signal, which podman sends to systemd containers): corral used to exit 0 and deliver
/// nothing.
#[test]
fn kill_zero_and_real_time_signals_match_runc() {
    let mut b = Bundle::new();
    b.sh("trap 'exit 7' 37; while true; do sleep 0.1; done");
    let results = differential("killrt", |rt, id| {
        rt.start_detached(&b, id);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let zero = rt.run(&["kill", id, "0"]).status.code();
        let zero_all = rt.run(&["kill", "--all", id, "0"]).status.code();
        let alive = rt.status(id);
        let rt_sig = rt.run(&["kill", id, "37"]).status.code();
        wait_for_status(rt, id, "stopped");
        (zero, zero_all, alive, rt_sig)
    });
    assert_same(&results);
    assert_eq!(
        results[0].1,
        (Some(0), Some(0), "running".to_string(), Some(0))
    );
    // The name runc 1.1.5 does not parse: SIGRTMIN+3 is 37 on Linux.
    let rt = Runtime::corral();
    let id = unique_id("killrtname");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    std::thread::sleep(std::time::Duration::from_millis(200));
    rt.ok(&["kill", &id, "SIGRTMIN+3"]);
    wait_for_status(&rt, &id, "stopped");
    rt.cleanup(&id);
}

/// The state root holds only containers: once every container is deleted, `--root` is empty
/// (a containerd lane checks the runtime root for leftovers; corral used to leave its sealed
/// binary's `.empty-layer` there). Sealed with the overlay, which is what used to leave it.
#[test]
fn the_state_root_is_empty_after_the_last_delete() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["true"]);
    let id = unique_id("emptyroot");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = capture(rt.cmd().env("CORRAL_EXE_SEAL", "overlay").args([
        "run",
        "--bundle",
        b.path_str(),
        &id,
    ]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    rt.cleanup(&id);
    let left: Vec<_> = std::fs::read_dir(rt.root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in --root: {left:?}");
}

/// The runtime-spec requires `process` only when start is called: create without one
/// succeeds, start then fails with an error naming the field and leaves the container created,
/// and delete removes everything. Spec over runc: runc (1.1.5 and later) refuses such a create
/// ("process property must not be empty"); a caller that creates first and decides on the
/// process later (exec into a created container) needs the spec's behaviour.
#[test]
fn create_without_a_process_then_start_fails_clearly() {
    let rt = Runtime::corral();
    let mut b = Bundle::new();
    b.config.as_object_mut().unwrap().remove("process");
    let id = unique_id("noprocess");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    rt.ok(&["create", "--bundle", b.path_str(), &id]);
    assert_eq!(rt.status(&id), "created");
    assert_eq!(rt.ok(&["exec", &id, "echo", "exec works"]), "exec works\n");
    let out = rt.run(&["start", &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("process") && err.contains("required"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(rt.status(&id), "created");
    rt.ok(&["delete", &id]);
    assert_clean(&rt, &id);
    // runc refuses the create itself.
    let runc = Runtime::runc();
    let id = unique_id("noprocess");
    let _guard = runc.guard(&id);
    b.write_for(&runc, &id);
    assert!(
        !runc
            .run(&["create", "--bundle", b.path_str(), &id])
            .status
            .success()
    );
    assert_clean(&runc, &id);
}

/// Accepts one connection on `path` and returns the message bytes and the fd it carried.
fn pidfd_receiver(path: &Path) -> std::thread::JoinHandle<(String, std::os::fd::OwnedFd)> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut data = [0u8; 64];
        let mut fds = [0i32; 1];
        let (len, n) = sendfd::RecvWithFd::recv_with_fd(&conn, &mut data, &mut fds).unwrap();
        assert_eq!(n, 1, "one fd over SCM_RIGHTS");
        // SAFETY: the fd arrived through SCM_RIGHTS and is ours now.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
        (String::from_utf8_lossy(&data[..len]).to_string(), fd)
    })
}

/// The pid a pidfd refers to, from its fdinfo.
fn pidfd_pid(fd: &std::os::fd::OwnedFd) -> i64 {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a pidfd: {info}"))
}

/// `--pidfd-socket` (runc 1.2; runc 1.1.5 has no such flag, so against runc's current
/// code): create sends a pidfd of the init with the message `standard`, exec one of its
/// process with `setns`; each refers to that process and signals it.
#[test]
fn pidfd_socket_receives_the_processes_pidfds() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["sleep", "1000"]);
    let id = unique_id("pidfd");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let sock = b.path().join("pidfd.sock");
    let rx = pidfd_receiver(&sock);
    rt.ok(&[
        "create",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &id,
    ]);
    let (kind, init_fd) = rx.join().unwrap();
    assert_eq!(kind, "standard");
    assert_eq!(pidfd_pid(&init_fd), rt.state(&id)["pid"].as_i64().unwrap());
    rt.ok(&["start", &id]);

    let sock2 = b.path().join("pidfd-exec.sock");
    let rx = pidfd_receiver(&sock2);
    let pid_file = b.path().join("exec.pid");
    rt.ok(&[
        "exec",
        "-d",
        "--pidfd-socket",
        sock2.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    let (kind, exec_fd) = rx.join().unwrap();
    assert_eq!(kind, "setns");
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pidfd_pid(&exec_fd), exec_pid);

    // The init's pidfd stops the container.
    // SAFETY: pidfd_send_signal on an fd we own; no memory passed.
    let r = unsafe {
        use std::os::fd::AsRawFd;
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            init_fd.as_raw_fd(),
            libc::SIGKILL,
            0,
            0,
        )
    };
    assert_eq!(r, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rt.status(&id) != "stopped" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(rt.status(&id), "stopped");
    rt.cleanup(&id);
    assert_clean(&rt, &id);
}

/// A socket nobody listens on is bad input: one line naming the flag, nothing left.
#[test]
fn a_pidfd_socket_that_does_not_answer_is_refused_before_anything_exists() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["true"]);
    let id = unique_id("pidfd-bad");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let missing = b.path().join("nobody.sock");
    let out = rt.run(&[
        "run",
        "--pidfd-socket",
        missing.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &id,
    ]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--pidfd-socket") && err.contains("nobody.sock"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_clean(&rt, &id);
}
