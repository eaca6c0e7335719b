//! The runtime-spec's lifecycle and operations (runtime.md): create, start, state, kill, delete,
//! and the errors each MUST give when called in the wrong state.

use super::{Case, case};
use crate::ensure;
use crate::harness::{Bundle, CaseResult, Ctx, Verdict, cgroup_dirs, fail, wait_for};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

pub const CASES: &[Case] = &[
    case!(
        default,
        "the runc spec default config: root, hostname, process, user, caps, rlimits, mounts, masked and readonly paths, default devices, namespaces"
    ),
    case!(
        create,
        "create: status created with a pid, the process not yet run"
    ),
    case!(start, "start: the user process runs, status running"),
    case!(
        state,
        "state: ociVersion, id, status, pid, bundle, annotations through created, running, stopped"
    ),
    case!(
        kill,
        "kill: the signal reaches the process; the container stops"
    ),
    case!(
        killsig,
        "kill: signal names, SIG-prefixed names and numbers"
    ),
    case!(
        delete,
        "delete: a stopped container's state and cgroup are gone"
    ),
    case!(pidfile, "create --pid-file: the file holds the state's pid"),
    case!(
        misc_props,
        "state: bundle is the absolute path, annotations are the config's"
    ),
    case!(
        start_twice,
        "start of a running container: error, container unaffected"
    ),
    case!(start_stopped, "start of a stopped container: error"),
    case!(
        delete_running,
        "delete of a running container: error, container unaffected"
    ),
    case!(
        delete_created,
        "delete of a created container: the spec wants an error (runc deletes it)"
    ),
    case!(kill_stopped, "kill of a stopped container: error"),
    case!(
        duplicate_id,
        "create with an id in use: error, first container unaffected"
    ),
    case!(
        missing_id,
        "state, start, kill, delete of an unknown id: errors"
    ),
    case!(
        invalid_ids,
        "ids with path separators or parent references: error, nothing created"
    ),
];

/// A process that marks /started when it runs and exits once /go appears in its rootfs.
const WAITER: &[&str] = &[
    "/bin/sh",
    "-c",
    "echo started > /started; while [ ! -e /go ]; do sleep 0.05; done",
];

/// A process that records the signals it gets and exits on TERM.
const TRAPPER: &[&str] = &[
    "/bin/sh",
    "-c",
    "trap 'echo usr1 >> /signals' USR1; trap 'echo term >> /signals; exit 0' TERM; \
     echo started > /started; while :; do sleep 0.05; done",
];

fn started(b: &Bundle) -> bool {
    b.rootfs().join("started").exists()
}

fn wait_started(b: &Bundle) -> CaseResult {
    ensure!(
        wait_for(Duration::from_secs(10), || started(b)),
        "the process did not run within 10 s"
    );
    Ok(())
}

fn signals(b: &Bundle) -> String {
    std::fs::read_to_string(b.rootfs().join("signals")).unwrap_or_default()
}

/// Creates and starts a container running `args`; returns its bundle.
fn running(ctx: &mut Ctx, id: &str, args: &[&str]) -> Result<Bundle, Verdict> {
    let b = ctx.bundle(id, args, |_| {});
    ctx.create(&b, id)?;
    ctx.must(&["start", id])?;
    wait_started(&b)?;
    Ok(b)
}

/// Runs the container to completion: start, let it exit, wait for `stopped`.
fn stopped(ctx: &mut Ctx, id: &str) -> Result<Bundle, Verdict> {
    let b = running(ctx, id, WAITER)?;
    std::fs::write(b.rootfs().join("go"), b"").map_err(|e| fail(e.to_string()))?;
    ctx.wait_status(id, "stopped")?;
    Ok(b)
}

fn default(ctx: &mut Ctx) -> CaseResult {
    ctx.check(
        &[
            "root",
            "hostname",
            "process",
            "user",
            "caps",
            "rlimits",
            "nnp",
            "mounts",
            "masked",
            "readonly",
            "default-devices",
            "namespaces",
        ],
        |_| {},
    )
}

fn create(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    ctx.create(&b, &id)?;
    let s = ctx.state(&id)?;
    ensure!(
        s["status"] == "created",
        "status after create: {}",
        s["status"]
    );
    let pid = s["pid"].as_i64().unwrap_or(0);
    ensure!(pid > 0, "pid after create: {}", s["pid"]);
    ensure!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} is not a live process"
    );
    std::thread::sleep(Duration::from_millis(200));
    ensure!(
        !started(&b),
        "the user process ran before start (create MUST NOT run it)"
    );
    Ok(())
}

fn start(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    running(ctx, &id, WAITER)?;
    ctx.wait_status(&id, "running")
}

fn expect_state(s: &Value, id: &str, b: &Bundle, status: &str) -> CaseResult {
    ensure!(
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "state.ociVersion: {}",
        s["ociVersion"]
    );
    ensure!(s["id"] == id, "state.id: {}", s["id"]);
    ensure!(
        s["status"] == status,
        "state.status: {}, want {status}",
        s["status"]
    );
    ensure!(
        s["bundle"].as_str() == Some(b.path()),
        "state.bundle: {}, want {}",
        s["bundle"],
        b.path()
    );
    if status != "stopped" {
        ensure!(
            s["pid"].as_i64().unwrap_or(0) > 0,
            "state.pid while {status}: {}",
            s["pid"]
        );
    }
    Ok(())
}

fn state(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    ctx.create(&b, &id)?;
    expect_state(&ctx.state(&id)?, &id, &b, "created")?;
    ctx.must(&["start", &id])?;
    wait_started(&b)?;
    expect_state(&ctx.state(&id)?, &id, &b, "running")?;
    std::fs::write(b.rootfs().join("go"), b"").map_err(|e| fail(e.to_string()))?;
    ctx.wait_status(&id, "stopped")?;
    expect_state(&ctx.state(&id)?, &id, &b, "stopped")
}

fn kill(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = running(ctx, &id, TRAPPER)?;
    ctx.must(&["kill", &id, "TERM"])?;
    ctx.wait_status(&id, "stopped")?;
    ensure!(
        signals(&b).contains("term"),
        "TERM did not reach the process"
    );
    Ok(())
}

fn killsig(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = running(ctx, &id, TRAPPER)?;
    ctx.must(&["kill", &id, "SIGUSR1"])?;
    ensure!(
        wait_for(Duration::from_secs(5), || signals(&b).contains("usr1")),
        "SIGUSR1 did not reach the process"
    );
    ctx.wait_status(&id, "running")?;
    ctx.must(&["kill", &id, "15"])?;
    ctx.wait_status(&id, "stopped")?;
    ensure!(signals(&b).contains("term"), "signal 15 was not TERM");
    let id = ctx.new_id();
    running(ctx, &id, WAITER)?;
    ctx.must(&["kill", &id, "KILL"])?;
    ctx.wait_status(&id, "stopped")
}

fn delete(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    stopped(ctx, &id)?;
    ensure!(!cgroup_dirs(&id).is_empty(), "no cgroup found for {id}");
    ctx.must(&["delete", &id])?;
    ctx.must_fail(&["state", &id])?;
    let left = cgroup_dirs(&id);
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

fn pidfile(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    let pid_file = ctx.dir().join("pid");
    let pid_path = pid_file.to_str().unwrap_or_default();
    ctx.must(&["create", "--bundle", b.path(), "--pid-file", pid_path, &id])?;
    let s = ctx.state(&id)?;
    let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
    ensure!(
        written.trim().parse::<i64>().ok() == s["pid"].as_i64(),
        "pid file {written:?}, state pid {}",
        s["pid"]
    );
    Ok(())
}

fn misc_props(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |c| {
        c["annotations"]["org.example.key"] = json!("value with spaces");
    });
    ctx.create(&b, &id)?;
    let s = ctx.state(&id)?;
    ensure!(
        s["bundle"].as_str() == Some(b.path()),
        "state.bundle {} is not the absolute bundle path",
        s["bundle"]
    );
    ensure!(
        s["annotations"] == b.config["annotations"],
        "state.annotations {} differ from the config's {}",
        s["annotations"],
        b.config["annotations"]
    );
    Ok(())
}

fn start_twice(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    running(ctx, &id, WAITER)?;
    ctx.must_fail(&["start", &id])?;
    ctx.wait_status(&id, "running")
}

fn start_stopped(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    stopped(ctx, &id)?;
    ctx.must_fail(&["start", &id])?;
    ctx.wait_status(&id, "stopped")
}

fn delete_running(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    running(ctx, &id, WAITER)?;
    ctx.must_fail(&["delete", &id])?;
    ctx.wait_status(&id, "running")
}

/// runtime.md: "Attempting to delete a container that is not stopped MUST have no effect on the
/// container and MUST generate an error." runc deletes a created container instead, and
/// containerd relies on that (it deletes never-started containers without --force).
fn delete_created(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    ctx.create(&b, &id)?;
    ctx.must_fail(&["delete", &id])?;
    ctx.wait_status(&id, "created")
}

fn kill_stopped(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    stopped(ctx, &id)?;
    ctx.must_fail(&["kill", &id, "KILL"])?;
    ctx.wait_status(&id, "stopped")
}

fn duplicate_id(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    ctx.create(&b, &id)?;
    let pid = ctx.state(&id)?["pid"].clone();
    let b2 = ctx.bundle(&format!("{id}-again"), WAITER, |c| {
        c["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
    });
    ctx.must_fail(&["create", "--bundle", b2.path(), &id])?;
    let s = ctx.state(&id)?;
    ensure!(
        s["status"] == "created" && s["pid"] == pid,
        "the first container changed: {s}"
    );
    Ok(())
}

fn missing_id(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    for op in [
        vec!["state", id.as_str()],
        vec!["start", id.as_str()],
        vec!["kill", id.as_str(), "KILL"],
        vec!["delete", id.as_str()],
    ] {
        ctx.must_fail(&op)?;
    }
    Ok(())
}

fn invalid_ids(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, WAITER, |_| {});
    let outside = ctx.rt.root.path().parent().map(|p| p.join("escaped-id"));
    for bad in ["../escaped-id", "a/b", ".", ".."] {
        ctx.must_fail(&["create", "--bundle", b.path(), bad])?;
    }
    ensure!(
        !outside.is_some_and(|p| p.exists()),
        "an id escaped the state root"
    );
    std::thread::sleep(Duration::from_millis(100));
    ensure!(!started(&b), "a process ran for an invalid id");
    Ok(())
}
