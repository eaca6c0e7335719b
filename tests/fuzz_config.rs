//! Hostile configs at scale (issue 23): proptest mutates the config `runc spec` writes, and
//! the process.json of `exec --process` — values replaced by wrong types, huge and negative
//! numbers, unicode and NUL in strings, `..` paths, deep nesting, thousands of entries; keys
//! removed or added — and every case must end in success (then deleted) or a one-line
//! error, never a panic or a signal, with nothing left behind (state dir, cgroup, process).
//!
//! A few hundred cases run in the test command; `CORRAL_FUZZ_CASES=100000 cargo test --release
//! --test fuzz_config -- --nocapture` is the long mode (it prints the count it ran). Each create runs
//! in a private mount namespace (`unshare -m`), and the parts of the config that would reach
//! outside a test's sandbox when mutated are left alone: `root.path` (a rootfs elsewhere on
//! the host would get mount points made in it), `linux.namespaces` (without its own mount or
//! network namespace a container's mounts and sysctls would be the machine's),
//! `linux.cgroupsPath` (the test-only parent) and `hooks` (host commands).

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where mutations must not go (see the module comment).
const FENCED: &[&str] = &[
    "/root/path",
    "/linux/namespaces",
    "/linux/cgroupsPath",
    "/hooks",
];

/// Every JSON pointer of `v` (objects and arrays included), outside the fenced parts.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if FENCED.iter().any(|f| at.starts_with(f)) {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

/// The values a mutation puts in.
fn hostile_value(kind: usize) -> Value {
    let deep = (0..300).fold(json!(0), |v, _| json!([v]));
    match kind % 18 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(i64::MIN),
        4 => json!(u64::MAX),
        5 => json!(1e308),
        6 => json!(""),
        7 => json!("a\u{0}b"),
        8 => json!("../../../../etc/passwd"),
        9 => json!("☃️💥".repeat(2000)),
        10 => json!([]),
        11 => json!({}),
        12 => deep,
        13 => json!((0..5000).map(|i| format!("X{i}=y")).collect::<Vec<_>>()),
        14 => Value::Object((0..1000).map(|i| (format!("k{i}"), json!(i))).collect()),
        15 => json!("/proc/self/fd/0"),
        16 => json!(-4096.5),
        _ => json!({"type": "RLIMIT_NOFILE", "hard": u64::MAX, "soft": 0}),
    }
}

/// Applies mutation (`node`, `kind`) to `config`: replace the node, remove it, or add a key
/// or an element next to it.
fn mutate(config: &mut Value, node: usize, kind: usize) {
    let mut all = Vec::new();
    pointers(config, String::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let at = all[node % all.len()].clone();
    let (parent_at, key) = at.rsplit_once('/').unwrap_or(("", ""));
    let value = hostile_value(kind);
    match kind % 5 {
        0..=2 => {
            if let Some(slot) = config.pointer_mut(&at) {
                *slot = value;
            }
        }
        3 => match config.pointer_mut(parent_at) {
            Some(Value::Object(m)) => {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = key.parse::<usize>()
                    && i < a.len()
                {
                    a.remove(i);
                }
            }
            _ => {}
        },
        _ => match config.pointer_mut(parent_at) {
            Some(Value::Object(m)) => {
                m.insert(format!("fuzz{kind}"), value);
            }
            Some(Value::Array(a)) => a.push(value),
            _ => {}
        },
    }
}

static CASES_RUN: AtomicUsize = AtomicUsize::new(0);
/// Of those, the ones that succeeded (the rest were refused with one line).
static CASES_OK: AtomicUsize = AtomicUsize::new(0);

/// The verdict on one command: exit 0, or 1 with one error line (warnings, such as unknown
/// capabilities ignored, may precede it). A panic exits 101 and an abort dies by a signal.
fn judge(out: &std::process::Output, what: &str, input: &str) -> Result<(), TestCaseError> {
    let err = stderr_of(out);
    prop_assert!(
        matches!(out.status.code(), Some(0 | 1)) && !err.contains("panicked"),
        "{what} ended with {:?}: {err}\ninput: {input}",
        out.status
    );
    if !out.status.success() {
        let errors = err.lines().filter(|l| !l.contains("level=warning")).count();
        prop_assert_eq!(
            errors,
            1,
            "{} wants one error line: {}\ninput: {}",
            what,
            err,
            input
        );
    }
    Ok(())
}

/// One config case: create in a private mount namespace, judged, deleted, and nothing of
/// it may remain.
fn config_case(
    rt: &Runtime,
    b: &Bundle,
    mutations: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    let mut config = b.config.clone();
    for &(node, kind) in mutations {
        mutate(&mut config, node, kind);
    }
    let id = unique_id("fuzz");
    let _guard = rt.guard(&id);
    if let Some(linux) = config.get_mut("linux").and_then(Value::as_object_mut) {
        linux.insert("cgroupsPath".into(), json!(cgroup_path(rt, &id)));
    } else {
        // Without `linux` there is no cgroupsPath to keep the container under the test
        // parent, and no namespaces: not a config this sandbox may run.
        return Ok(());
    }
    let text = serde_json::to_string(&config).unwrap();
    b.write_raw(&text);
    let out = capture(
        std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private"])
            .arg(&rt.bin)
            .arg("--root")
            .arg(rt.root.path())
            .args(["create", "--bundle", b.path_str(), &id]),
    );
    progress();
    judge(&out, "create", &text)?;
    if out.status.success() {
        CASES_OK.fetch_add(1, Ordering::Relaxed);
        let deleted = rt.run(&["delete", "--force", &id]);
        prop_assert!(deleted.status.success(), "{}", stderr_of(&deleted));
    }
    rt.cleanup(&id);
    assert_clean(rt, &id);
    Ok(())
}

/// One process.json case against a running container: `exec --detach --process`, judged.
fn process_case(
    rt: &Runtime,
    id: &str,
    dir: &std::path::Path,
    base: &Value,
    mutations: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    let mut process = base.clone();
    for &(node, kind) in mutations {
        mutate(&mut process, node, kind);
    }
    let text = serde_json::to_string(&process).unwrap();
    let file = dir.join("process.json");
    std::fs::write(&file, &text).unwrap();
    let out = rt.run(&["exec", "--detach", "--process", file.to_str().unwrap(), id]);
    progress();
    // exec exits 255 when it fails, as runc's.
    let err = stderr_of(&out);
    prop_assert!(
        matches!(out.status.code(), Some(0 | 255)) && !err.contains("panicked"),
        "exec ended with {:?}: {err}\nprocess: {text}",
        out.status
    );
    if !out.status.success() {
        let errors = err.lines().filter(|l| !l.contains("level=warning")).count();
        prop_assert_eq!(
            errors,
            1,
            "exec wants one error line: {}\nprocess: {}",
            err,
            text
        );
    }
    if out.status.success() {
        CASES_OK.fetch_add(1, Ordering::Relaxed);
    }
    prop_assert_eq!(
        rt.status(id),
        "running",
        "the container survives a bad exec"
    );
    Ok(())
}

/// `CORRAL_FUZZ_CASES`, the long mode, or the test command's default.
fn cases(default: u32) -> u32 {
    std::env::var("CORRAL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Counts a case; the long mode says how far it is every 5,000.
fn progress() {
    let n = CASES_RUN.fetch_add(1, Ordering::Relaxed) + 1;
    if n % 5000 == 0 {
        eprintln!(
            "fuzz: {n} cases, {} succeeded",
            CASES_OK.load(Ordering::Relaxed)
        );
    }
}

fn report(what: &str) {
    eprintln!(
        "fuzz ({what}): {} cases so far in this binary, {} succeeded, the rest refused with one line",
        CASES_RUN.load(Ordering::Relaxed),
        CASES_OK.load(Ordering::Relaxed)
    );
}

fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn mutations() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0usize..10_000, 0usize..1_000), 1..6)
}

#[test]
fn hostile_configs_never_panic_and_leave_nothing() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["true"]);
    proptest!(proptest_config(300), |(m in mutations())| {
        config_case(&rt, &b, &m)?;
    });
    report("config.json");
    remove_test_cgroup_parent();
}

#[test]
fn hostile_process_files_never_panic() {
    let rt = Runtime::corral();
    // Outlives the long mode (100,000 cases take hours): a container that ended by itself
    // would fail every case after it.
    let b = Bundle::with_args(&["sleep", "100000000"]);
    let id = unique_id("fuzz-exec");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    let mut base = b.config["process"].clone();
    base["args"] = json!(["true"]);
    let dir = tempfile::tempdir().unwrap();
    proptest!(proptest_config(200), |(m in mutations())| {
        process_case(&rt, &id, dir.path(), &base, &m)?;
    });
    rt.cleanup(&id);
    assert_clean(&rt, &id);
    report("process.json");
}
