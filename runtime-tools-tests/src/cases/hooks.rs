//! config.md `hooks`: the six kinds, when and where each runs, the state on its stdin, and what a
//! failing or hanging hook does to the lifecycle.

use super::{Case, case};
use crate::ensure;
use crate::harness::{Bundle, CaseResult, Ctx, Verdict, fail, wait_for};
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    case!(
        hooks,
        "all six hook kinds run once, in the lifecycle's order"
    ),
    case!(
        hooks_stdin,
        "every hook gets the container state (ociVersion, id, pid, bundle, annotations) on stdin"
    ),
    case!(
        hooks_env_args,
        "hook args (argv[0] included) and env are passed as configured"
    ),
    case!(
        hooks_timeout,
        "a hook running past its timeout is killed and the create fails"
    ),
    case!(
        prestart,
        "prestart runs in the runtime's namespaces once the container's exist"
    ),
    case!(
        prestart_fail,
        "a failing prestart hook: error, the process never runs, nothing left"
    ),
    case!(
        poststart,
        "poststart runs after the process started and sees status running"
    ),
    case!(
        poststart_fail,
        "a failing poststart hook is a warning: start succeeds (config.md)"
    ),
    case!(poststop, "poststop runs on delete and sees status stopped"),
    case!(
        poststop_fail,
        "a failing poststop hook is a warning: delete succeeds (config.md)"
    ),
];

/// A hook run in the runtime's mount namespace: saves its stdin as `<dir>/<name>.json` and
/// appends its name to `<dir>/order`.
fn host_hook(dir: &Path, name: &str) -> Value {
    let d = dir.display();
    json!({"path": "/bin/sh", "args": ["sh", "-c",
        format!("cat > {d}/{name}.json; echo {name} >> {d}/order")]})
}

/// startContainer runs in the container's namespaces after pivot_root, so it writes inside the
/// rootfs.
fn container_hook(name: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /{name}.json")]})
}

fn failing_hook() -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 3"]})
}

fn order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn read_json(path: &Path) -> Result<Value, Verdict> {
    let text = fs::read_to_string(path)
        .map_err(|e| fail(format!("{}: {e} (the hook did not run?)", path.display())))?;
    serde_json::from_str(&text).map_err(|e| fail(format!("{}: {e}: {text}", path.display())))
}

/// The process checks that startContainer ran before it, then waits for /go.
const PROCESS: &[&str] = &[
    "/bin/sh",
    "-c",
    "[ -e /startContainer.json ] && echo after-startContainer > /started || echo before > /started; \
     while [ ! -e /go ]; do sleep 0.05; done",
];

fn all_hooks(ctx: &mut Ctx, id: &str) -> Bundle {
    let dir = ctx.dir().to_path_buf();
    ctx.bundle(id, PROCESS, |c| {
        c["hooks"] = json!({
            "prestart": [host_hook(&dir, "prestart")],
            "createRuntime": [host_hook(&dir, "createRuntime")],
            "createContainer": [host_hook(&dir, "createContainer")],
            "startContainer": [container_hook("startContainer")],
            "poststart": [host_hook(&dir, "poststart")],
            "poststop": [host_hook(&dir, "poststop")],
        });
    })
}

/// Runs the whole lifecycle of a container with every hook; returns its bundle.
fn lifecycle_with_hooks(ctx: &mut Ctx, id: &str) -> Result<Bundle, Verdict> {
    let b = all_hooks(ctx, id);
    let dir = ctx.dir().to_path_buf();
    ctx.create(&b, id)?;
    let after_create = order(&dir);
    ensure!(
        after_create == ["prestart", "createRuntime", "createContainer"],
        "hooks run by create: {after_create:?}"
    );
    ensure!(
        !b.rootfs().join("startContainer.json").exists(),
        "startContainer ran during create"
    );
    ctx.must(&["start", id])?;
    let started = b.rootfs().join("started");
    ensure!(
        wait_for(Duration::from_secs(10), || started.exists()),
        "the process did not run"
    );
    let seen = fs::read_to_string(&started).unwrap_or_default();
    ensure!(
        seen.trim() == "after-startContainer",
        "startContainer had not run when the process started"
    );
    ensure!(
        wait_for(Duration::from_secs(5), || order(&dir).len() == 4),
        "poststart did not run: {:?}",
        order(&dir)
    );
    fs::write(b.rootfs().join("go"), b"").map_err(|e| fail(e.to_string()))?;
    ctx.wait_status(id, "stopped")?;
    ctx.must(&["delete", id])?;
    let all = order(&dir);
    ensure!(
        all == [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "runtime-namespace hooks ran as {all:?}"
    );
    Ok(b)
}

fn hooks(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    lifecycle_with_hooks(ctx, &id).map(|_| ())
}

fn hooks_stdin(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = lifecycle_with_hooks(ctx, &id)?;
    let dir = ctx.dir().to_path_buf();
    for (name, path) in [
        ("prestart", dir.join("prestart.json")),
        ("createRuntime", dir.join("createRuntime.json")),
        ("createContainer", dir.join("createContainer.json")),
        ("startContainer", b.rootfs().join("startContainer.json")),
        ("poststart", dir.join("poststart.json")),
        ("poststop", dir.join("poststop.json")),
    ] {
        let s = read_json(&path)?;
        ensure!(
            s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{name}: ociVersion {}",
            s["ociVersion"]
        );
        ensure!(s["id"] == id.as_str(), "{name}: id {}", s["id"]);
        ensure!(
            s["bundle"].as_str() == Some(b.path()),
            "{name}: bundle {}",
            s["bundle"]
        );
        if name != "poststop" {
            ensure!(
                s["pid"].as_i64().unwrap_or(0) > 0,
                "{name}: pid {}",
                s["pid"]
            );
        }
        ensure!(
            s["annotations"] == b.config["annotations"],
            "{name}: annotations {}",
            s["annotations"]
        );
    }
    Ok(())
}

fn hooks_env_args(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let out = ctx.dir().join("env-args");
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["hooks"]["prestart"] = json!([{
            "path": "/bin/sh",
            "args": ["conf-sh", "-c",
                     format!("cat >/dev/null; echo \"$0|$1|$HOOKVAR|$PATH\" > {}", out.display()),
                     "zeroth", "first"],
            "env": ["HOOKVAR=value", "PATH=/conf-path"]
        }]);
    });
    ctx.must(&["run", "--bundle", b.path(), &id])?;
    let got = fs::read_to_string(&out).unwrap_or_default();
    ensure!(
        got.trim() == "zeroth|first|value|/conf-path",
        "the hook saw {got:?}"
    );
    Ok(())
}

fn hooks_timeout(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["hooks"]["createRuntime"] = json!([{
            "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1
        }]);
    });
    let start = Instant::now();
    ctx.must_fail(&["create", "--bundle", b.path(), &id])?;
    let took = start.elapsed();
    ensure!(
        took < Duration::from_secs(20),
        "create took {took:?}: the 1 s timeout did not kill the hook"
    );
    ctx.must_fail(&["state", &id])
}

/// The hook compares its own network namespace with the container's (the pid on stdin): a
/// prestart hook is where network setup happens.
fn prestart(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let d = ctx.dir().to_path_buf();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["hooks"]["prestart"] = json!([{"path": "/bin/sh", "args": ["sh", "-c", format!(
            "pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
             readlink /proc/self/ns/net > {d}/hook-ns; readlink /proc/$pid/ns/net > {d}/container-ns",
            d = d.display())]}]);
    });
    ctx.must(&["run", "--bundle", b.path(), &id])?;
    let hook_ns = fs::read_to_string(d.join("hook-ns")).unwrap_or_default();
    let container_ns = fs::read_to_string(d.join("container-ns")).unwrap_or_default();
    let mine = fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    ensure!(
        hook_ns.trim() == mine,
        "the prestart hook ran in {hook_ns:?}, not the runtime's {mine}"
    );
    ensure!(
        !container_ns.trim().is_empty() && container_ns.trim() != mine,
        "the container's network namespace ({container_ns:?}) did not exist or was the host's"
    );
    Ok(())
}

fn prestart_fail(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["/bin/sh", "-c", "echo ran > /started"], |c| {
        c["hooks"]["prestart"] = json!([failing_hook()]);
    });
    ctx.must_fail(&["run", "--bundle", b.path(), &id])?;
    ensure!(
        !b.rootfs().join("started").exists(),
        "the process ran although prestart failed"
    );
    ctx.must_fail(&["state", &id])?;
    let left = crate::harness::cgroup_dirs(&id);
    ensure!(left.is_empty(), "cgroups left: {left:?}");
    Ok(())
}

/// config.md: poststart runs "after the user-specified process is executed"; by then the
/// state is running. runc 1.1 hands poststart hooks the state `created`.
fn poststart(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let d = ctx.dir().to_path_buf();
    let b = ctx.bundle(&id, PROCESS, |c| {
        c["hooks"]["poststart"] = json!([host_hook(&d, "poststart")]);
    });
    ctx.create(&b, &id)?;
    ctx.must(&["start", &id])?;
    ensure!(
        wait_for(Duration::from_secs(10), || d
            .join("poststart.json")
            .exists()),
        "poststart did not run"
    );
    let s = read_json(&d.join("poststart.json"))?;
    ensure!(
        s["status"] == "running",
        "poststart saw status {}",
        s["status"]
    );
    Ok(())
}

fn poststart_fail(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, PROCESS, |c| {
        c["hooks"]["poststart"] = json!([failing_hook()]);
    });
    ctx.create(&b, &id)?;
    let ran = ctx.runtime(&["start", &id]);
    ensure!(
        ran.ok(),
        "start failed because poststart failed: {}",
        ran.describe()
    );
    ensure!(
        wait_for(Duration::from_secs(10), || b
            .rootfs()
            .join("started")
            .exists()),
        "the process did not run"
    );
    Ok(())
}

fn poststop(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let d = ctx.dir().to_path_buf();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["hooks"]["poststop"] = json!([host_hook(&d, "poststop")]);
    });
    ctx.create(&b, &id)?;
    ctx.must(&["start", &id])?;
    ctx.wait_status(&id, "stopped")?;
    ensure!(
        !d.join("poststop.json").exists(),
        "poststop ran before delete"
    );
    ctx.must(&["delete", &id])?;
    let s = read_json(&d.join("poststop.json"))?;
    ensure!(s["id"] == id.as_str(), "poststop saw id {}", s["id"]);
    ensure!(
        s["status"] == "stopped",
        "poststop saw status {}",
        s["status"]
    );
    Ok(())
}

fn poststop_fail(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["hooks"]["poststop"] = json!([failing_hook()]);
    });
    ctx.create(&b, &id)?;
    ctx.must(&["start", &id])?;
    ctx.wait_status(&id, "stopped")?;
    let ran = ctx.runtime(&["delete", &id]);
    ensure!(
        ran.ok(),
        "delete failed because poststop failed: {}",
        ran.describe()
    );
    ctx.must_fail(&["state", &id])
}
