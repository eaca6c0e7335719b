//! Rootless containers: an unprivileged user runs corral, and runc on the same bundle as the
//! same user, and the two are compared. The users are made once per machine (useradd, with
//! ranges in /etc/subuid and /etc/subgid, and one without) and kept; each test gets its own
//! `XDG_RUNTIME_DIR`, so the default state roots (`$XDG_RUNTIME_DIR/corral`, `.../runc`) are
//! the ones used. Commands run through setpriv as the user, with a clean environment.
//!
//! Without delegation a rootless container has no cgroup: it must not touch the caller's
//! (on this machine that is the agent's), and its processes are found through its pid
//! namespace. The delegated cases give the user a cgroup v2 subtree under the test parent,
//! as systemd's `Delegate=yes` does: on a hybrid host it holds no controllers (placement,
//! ps, kill --all, delete), on the v2 lane it holds memory and pids (limits, update, pause).

mod common;

use common::rootless::*;
use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[test]
fn spec_rootless_writes_runcs_rootless_config() {
    let s = Session::new(user(USER, true));
    let dirs = [Rt::Corral, Rt::Runc].map(|rt| {
        let d = tempfile::tempdir().unwrap();
        chown_tree(d.path(), &s.user);
        s.ok(rt, d.path(), &["spec", "--rootless"]);
        let mut v: Value =
            serde_json::from_slice(&std::fs::read(d.path().join("config.json")).unwrap()).unwrap();
        // The two defaults differ only in these.
        for k in ["ociVersion", "hostname"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    });
    assert_eq!(
        dirs[0], dirs[1],
        "corral spec --rootless differs from runc's"
    );
    let maps = &dirs[0]["linux"]["uidMappings"];
    assert_eq!(
        maps,
        &json!([{"containerID": 0, "hostID": s.user.uid, "size": 1}])
    );
}

/// uid 0 inside is the user outside: the same maps, `setgroups` denied, and a file the
/// container writes into a bind of the user's directory is the user's on the host.
#[test]
fn a_user_runs_a_container_as_root_of_its_user_namespace() {
    let s = Session::new(user(USER, true));
    let mut outputs = Vec::new();
    for rt in [Rt::Corral, Rt::Runc] {
        let (b, mut config) = s.bundle(&[
            "sh",
            "-c",
            "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
             echo hi > /data/made; ls -ln /dev/null | cut -c1-10; hostname",
        ]);
        let data = b.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chown_tree(&data, &s.user);
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]
        }));
        config["hostname"] = json!("rootless");
        s.write(&b, &config);
        let id = unique_id("rl-run");
        let _guard = s.guard(rt, b.path(), &id);
        let out = s.run(rt, b.path(), &["run", &id]);
        assert!(out.status.success(), "{}: {}", rt.name(), stderr_of(&out));
        let made = std::fs::metadata(data.join("made")).unwrap();
        assert_eq!((made.uid(), made.gid()), (s.user.uid, s.user.gid));
        assert!(!s.root(rt).join(&id).exists());
        outputs.push(stdout_of(&out));
    }
    let want_map = format!("0 {} 1", s.user.uid);
    let first = &outputs[0];
    assert!(first.starts_with("uid=0(root) gid=0(root)"), "{first}");
    assert!(
        first
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want_map),
        "{first}"
    );
    assert!(
        first.contains("deny") && first.contains("rootless"),
        "{first}"
    );
    assert_eq!(outputs[0], outputs[1], "corral and runc differ");
}

/// The lifecycle of a detached container as the user, state kept under
/// `$XDG_RUNTIME_DIR/corral` and owned by the user: state, exec, list, ps, kill, delete.
/// runc 1.1 cannot `ps` without a cgroup ("lstat : no such file"); corral finds the
/// processes through the container's pid namespace.
#[test]
fn a_user_creates_execs_kills_and_deletes_a_container() {
    let s = Session::new(user(USER, true));
    for rt in [Rt::Corral, Rt::Runc] {
        let (b, config) = s.bundle(&["sh", "-c", "sleep 1000 & exec sleep 1000"]);
        s.write(&b, &config);
        let id = unique_id("rl-life");
        let _guard = s.guard(rt, b.path(), &id);
        let out = s.run(rt, b.path(), &["create", &id]);
        assert!(out.status.success(), "{}: {}", rt.name(), stderr_of(&out));
        let state: Value = serde_json::from_str(&s.ok(rt, b.path(), &["state", &id])).unwrap();
        assert_eq!(state["status"], "created", "{}", rt.name());
        s.ok(rt, b.path(), &["start", &id]);
        let state: Value = serde_json::from_str(&s.ok(rt, b.path(), &["state", &id])).unwrap();
        assert_eq!(state["status"], "running", "{}", rt.name());
        let init = state["pid"].as_i64().unwrap();
        let dir = s.root(rt).join(&id);
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.uid(), s.user.uid, "{}: {}", rt.name(), dir.display());
        assert_eq!(
            std::fs::metadata(format!("/proc/{init}")).unwrap().uid(),
            s.user.uid
        );
        let exec = s.ok(rt, b.path(), &["exec", &id, "id", "-u"]);
        assert_eq!(exec.trim(), "0", "{}", rt.name());
        let list = s.ok(rt, b.path(), &["list"]);
        let row = list
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_default();
        assert!(row.ends_with(s.user.name), "{}: {list}", rt.name());
        if rt == Rt::Corral {
            let ps: Vec<i64> =
                serde_json::from_str(&s.ok(rt, b.path(), &["ps", "--format", "json", &id]))
                    .unwrap();
            assert!(ps.contains(&init), "{ps:?}");
            // Without a cgroup these say why (runc 1.1: "cgroups not configured", "could
            // not join or create cgroup").
            let pause = s.run(rt, b.path(), &["pause", &id]);
            assert!(!pause.status.success());
            assert!(
                stderr_of(&pause).contains("no cgroup"),
                "{}",
                stderr_of(&pause)
            );
            let update = s.run(rt, b.path(), &["update", "--pids-limit", "10", &id]);
            assert!(!update.status.success());
            assert!(
                stderr_of(&update).contains("linux.resources.pids"),
                "{}",
                stderr_of(&update)
            );
        }
        s.ok(rt, b.path(), &["kill", &id, "KILL"]);
        wait_for_status(&s, rt, b.path(), &id, "stopped");
        s.ok(rt, b.path(), &["delete", &id]);
        assert_gone(&s, rt, &id, init);
    }
}

/// `kill --all` and `delete --force` reach every process of a container that has no cgroup:
/// the init ignores SIGTERM (pid 1 of its namespace), its child does not.
#[test]
fn kill_all_and_force_delete_without_a_cgroup() {
    let s = Session::new(user(USER, true));
    let (b, config) = s.bundle(&["sh", "-c", "sleep 1000 & exec sleep 1000"]);
    s.write(&b, &config);
    let id = unique_id("rl-killall");
    let _guard = s.guard(Rt::Corral, b.path(), &id);
    s.ok(Rt::Corral, b.path(), &["run", "--detach", &id]);
    let ps = |s: &Session| -> Vec<i64> {
        serde_json::from_str(&s.ok(Rt::Corral, b.path(), &["ps", "--format", "json", &id])).unwrap()
    };
    let mut before = ps(&s);
    for _ in 0..100 {
        if before.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        before = ps(&s);
    }
    assert_eq!(before.len(), 2, "the init and its child: {before:?}");
    s.ok(Rt::Corral, b.path(), &["kill", "--all", &id, "TERM"]);
    let init = before[0];
    let child = before[1];
    // The child dies (a zombie until its parent goes: the init, `sleep`, never reaps it);
    // pid 1 of a namespace ignores a signal it has no handler for.
    for _ in 0..100 {
        if !running(child) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(child), "the child survived kill --all TERM");
    assert!(running(init), "the init should ignore SIGTERM");
    s.ok(Rt::Corral, b.path(), &["delete", "--force", &id]);
    assert_gone(&s, Rt::Corral, &id, init);
    for pid in before {
        assert!(!pid_alive(pid), "{pid} survived delete --force");
    }
}

/// More than the user's own id: the maps go through newuidmap/newgidmap from the user's
/// /etc/subuid and /etc/subgid ranges, and `setgroups` stays allowed.
#[test]
fn several_id_ranges_go_through_newuidmap() {
    let s = Session::new(user(USER, true));
    let sub_u = subid_start("/etc/subuid", USER).unwrap();
    let sub_g = subid_start("/etc/subgid", USER).unwrap();
    let mut outputs = Vec::new();
    for rt in [Rt::Corral, Rt::Runc] {
        let (b, mut config) = s.bundle(&[
            "sh",
            "-c",
            "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
             touch /data/f && ls -ln /data/f | cut -c1-30",
        ]);
        config["process"]["user"] = json!({"uid": 100, "gid": 200});
        config["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": s.user.uid, "size": 1},
            {"containerID": 1, "hostID": sub_u, "size": 1000}
        ]);
        config["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": s.user.gid, "size": 1},
            {"containerID": 1, "hostID": sub_g, "size": 1000}
        ]);
        let data = b.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chown_tree(&data, &s.user);
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]
        }));
        s.write(&b, &config);
        let id = unique_id("rl-ranges");
        let _guard = s.guard(rt, b.path(), &id);
        let out = s.run(rt, b.path(), &["run", &id]);
        assert!(out.status.success(), "{}: {}", rt.name(), stderr_of(&out));
        let f = std::fs::metadata(data.join("f")).unwrap();
        assert_eq!(
            (f.uid(), f.gid()),
            (sub_u + 99, sub_g + 199),
            "{}",
            rt.name()
        );
        outputs.push(stdout_of(&out));
    }
    let text = &outputs[0];
    assert!(text.contains("allow"), "{text}");
    assert!(text.contains(&sub_u.to_string()), "{text}");
    assert_eq!(outputs[0], outputs[1], "corral and runc differ");
}

/// `run` of `b`, which must be refused and leave nothing in the state root.
fn run_refused(s: &Session, rt: Rt, b: &Bundle, what: &str) -> std::process::Output {
    let id = unique_id("rl-refused");
    let out = s.run(rt, b.path(), &["run", &id]);
    s.force_delete(rt, b.path(), &id);
    assert!(!out.status.success(), "{}: {what} ran", rt.name());
    assert!(!s.root(rt).join(&id).exists(), "{}: {what}", rt.name());
    out
}

/// Each refusal names what is wrong and leaves nothing in the state root; runc refuses the
/// same configs.
#[test]
fn rootless_refusals_name_the_cause_and_leave_nothing() {
    let s = Session::new(user(USER, true));
    let limited = |c: &mut Value| {
        c["linux"]["resources"] = json!({"memory": {"limit": 100_000_000}});
    };
    let no_userns = |c: &mut Value| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "user");
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
    };
    let undelegated_path = |c: &mut Value| {
        c["linux"]["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/not-delegated"));
    };
    type Change<'a> = &'a dyn Fn(&mut Value);
    let cases: [(&str, Change, &str); 3] = [
        ("no user namespace", &no_userns, "linux.namespaces"),
        (
            "a limit without a cgroup",
            &limited,
            "linux.resources.memory",
        ),
        (
            "a cgroup path not delegated",
            &undelegated_path,
            "linux.cgroupsPath",
        ),
    ];
    for (what, change, field) in cases {
        for rt in [Rt::Corral, Rt::Runc] {
            let (b, mut config) = s.bundle(&["true"]);
            change(&mut config);
            s.write(&b, &config);
            let out = run_refused(&s, rt, &b, what);
            if rt == Rt::Corral {
                let err = stderr_of(&out);
                assert!(err.contains(field), "{what}: {err}");
                assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
            }
        }
    }
    assert!(
        !Path::new("/sys/fs/cgroup/unified/corral-test/not-delegated").exists()
            && !Path::new("/sys/fs/cgroup/corral-test/not-delegated").exists()
    );
}

/// A user without /etc/subuid ranges asks for several: newuidmap refuses, and the error says
/// where the ranges come from.
#[test]
fn a_user_without_subordinate_ids_gets_a_clear_error() {
    let s = Session::new(user(USER_WITHOUT_SUBIDS, false));
    for rt in [Rt::Corral, Rt::Runc] {
        let (b, mut config) = s.bundle(&["true"]);
        config["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": s.user.uid, "size": 1},
            {"containerID": 1, "hostID": 500000, "size": 1000}
        ]);
        s.write(&b, &config);
        let out = run_refused(&s, rt, &b, "several ranges without subordinate ids");
        if rt == Rt::Corral {
            let err = stderr_of(&out);
            assert!(
                err.contains("linux.uidMappings") && err.contains("/etc/subuid"),
                "{err}"
            );
        }
    }
}

/// With user namespaces disabled (`user.max_user_namespaces` = 0, set inside a user
/// namespace of the test's own, never the host's), the error names the setting.
#[test]
fn disabled_user_namespaces_are_named() {
    let s = Session::new(user(USER, true));
    let (b, mut config) = s.bundle(&["true"]);
    // Inside the outer namespace the user is root, mapped from its own uid.
    config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    s.write(&b, &config);
    for rt in [Rt::Corral, Rt::Runc] {
        let id = unique_id("rl-nouserns");
        let script = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec {} run {id}",
            rt.bin().display()
        );
        // The runtime runs as root of a user namespace that may make no more.
        let mut c = s.as_user(
            "unshare",
            b.path(),
            &["--user", "--map-root-user", "sh", "-c", &script],
        );
        let out = capture(&mut c);
        assert!(!out.status.success(), "{}: ran", rt.name());
        if rt == Rt::Corral {
            let err = stderr_of(&out);
            assert!(err.contains("user.max_user_namespaces"), "{err}");
        }
        assert!(!s.root(rt).join(&id).exists(), "{}", rt.name());
    }
}

#[test]
fn an_invalid_rootless_value_is_refused() {
    let out = Runtime::corral().run(&["--rootless", "maybe", "list"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("--rootless"),
        "{}",
        stderr_of(&out)
    );
}

/// A cgroup v2 subtree delegated to the user, as systemd's `Delegate=yes` makes one: the
/// directory and its `cgroup.procs`, `cgroup.subtree_control` and `cgroup.threads` owned by
/// the user, the user's commands started in a child of it.
struct Delegation {
    parent: PathBuf,
    caller: PathBuf,
    /// The path `linux.cgroupsPath` names the parent by.
    inner: String,
}

impl Delegation {
    fn new(u: &User, unified: &Path, name: &str) -> Delegation {
        let inner = format!("{CGROUP_PARENT}/{name}");
        let parent = unified.join(inner.trim_start_matches('/'));
        std::fs::create_dir_all(&parent).unwrap();
        if cgroup_v2_host() {
            // What the parent's parents enable, the user may enable below it.
            let mut level = unified.to_path_buf();
            for comp in Path::new(CGROUP_PARENT.trim_start_matches('/')).components() {
                std::fs::write(level.join("cgroup.subtree_control"), "+memory +pids").unwrap();
                level.push(comp);
            }
            std::fs::write(level.join("cgroup.subtree_control"), "+memory +pids").unwrap();
        }
        let caller = parent.join("caller");
        std::fs::create_dir_all(&caller).unwrap();
        for p in [
            parent.clone(),
            parent.join("cgroup.procs"),
            parent.join("cgroup.subtree_control"),
            parent.join("cgroup.threads"),
            caller.clone(),
            caller.join("cgroup.procs"),
        ] {
            std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        }
        Delegation {
            parent,
            caller,
            inner,
        }
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.caller);
        if let Ok(entries) = std::fs::read_dir(&self.parent) {
            for e in entries.flatten().filter(|e| e.path().is_dir()) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&self.parent);
        remove_test_cgroup_parent();
    }
}

fn unified_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// The container goes into the delegated subtree and `ps`, `kill --all` and `delete` use it;
/// on a v2 host its limits are set there, `update` changes them and `pause` freezes it.
#[test]
fn a_delegated_cgroup_v2_subtree_holds_the_container() {
    let Some(unified) = unified_mount() else {
        skip!("no cgroup2 hierarchy on this host");
    };
    let u = user(USER, true);
    let mut s = Session::new(u.clone());
    let del = Delegation::new(&u, &unified, &format!("rl-{}", std::process::id()));
    s.cgroup_procs = Some(del.caller.join("cgroup.procs"));
    let v2 = cgroup_v2_host();
    for rt in [Rt::Corral, Rt::Runc] {
        let (b, mut config) = s.bundle(&["sh", "-c", "sleep 1000 & exec sleep 1000"]);
        let inner = format!("{}/ctr-{}", del.inner, rt.name());
        config["linux"]["cgroupsPath"] = json!(inner);
        if v2 {
            config["linux"]["resources"] =
                json!({"memory": {"limit": 104_857_600}, "pids": {"limit": 50}});
        }
        s.write(&b, &config);
        let id = unique_id("rl-deleg");
        let _guard = s.guard(rt, b.path(), &id);
        let out = s.run(rt, b.path(), &["run", "--detach", &id]);
        if rt == Rt::Runc && !out.status.success() {
            // runc refuses a cgroupsPath when any hierarchy is not the user's, and a hybrid
            // host's v1 hierarchies never are.
            corral_test_kit::record_skip(&format!(
                "runc refused the delegated cgroup: {}",
                stderr_of(&out).trim()
            ));
            continue;
        }
        assert!(out.status.success(), "{}: {}", rt.name(), stderr_of(&out));
        assert!(
            !stderr_of(&out).contains("no cgroup"),
            "a delegated cgroup was not used: {}",
            stderr_of(&out)
        );
        let dir = del.parent.join(format!("ctr-{}", rt.name()));
        let state = s.ok(rt, b.path(), &["state", &id]);
        let init = serde_json::from_str::<Value>(&state).unwrap()["pid"]
            .as_i64()
            .unwrap();
        let own = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
        assert!(
            own.contains(&format!("0::{inner}\n")),
            "{}: {own}",
            rt.name()
        );
        let mut procs = String::new();
        for _ in 0..100 {
            procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
            if procs.lines().count() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(procs.lines().count(), 2, "the init and its child: {procs}");
        let ps = s.ok(rt, b.path(), &["ps", "--format", "json", &id]);
        let ps: Vec<i64> = serde_json::from_str(&ps).unwrap();
        assert_eq!(ps.len(), 2, "{}: {ps:?}", rt.name());
        if v2 {
            let read = |f: &str| {
                std::fs::read_to_string(dir.join(f))
                    .unwrap()
                    .trim()
                    .to_string()
            };
            assert_eq!(read("memory.max"), "104857600", "{}", rt.name());
            assert_eq!(read("pids.max"), "50", "{}", rt.name());
            s.ok(rt, b.path(), &["update", "--pids-limit", "60", &id]);
            assert_eq!(read("pids.max"), "60", "{}", rt.name());
            let stats: Value =
                serde_json::from_str(&s.ok(rt, b.path(), &["events", "--stats", &id])).unwrap();
            assert_eq!(
                stats["data"]["pids"]["current"],
                2,
                "{}: {stats}",
                rt.name()
            );
            s.ok(rt, b.path(), &["pause", &id]);
            wait_for_status(&s, rt, b.path(), &id, "paused");
            s.ok(rt, b.path(), &["resume", &id]);
            wait_for_status(&s, rt, b.path(), &id, "running");
        }
        s.ok(rt, b.path(), &["kill", "--all", &id, "KILL"]);
        wait_for_status(&s, rt, b.path(), &id, "stopped");
        s.ok(rt, b.path(), &["delete", &id]);
        assert_gone(&s, rt, &id, init);
        assert!(
            !dir.exists(),
            "{}: {} left behind",
            rt.name(),
            dir.display()
        );
    }
}
