//! Fault injection: `corral create` killed with SIGKILL at many points of its work, then
//! `corral delete --force` must leave no state dir, cgroup, mount or process behind.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Host pids of any `corral init` still holding something under `dir`.
fn inits_holding(dir: &std::path::Path) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.starts_with(dir)))
        {
            out.push(pid);
        }
    }
    out
}

/// `corral create` in the background, output discarded, for the test to kill.
fn spawn_create(rt: &Runtime, b: &Bundle, id: &str) -> std::process::Child {
    rt.cmd()
        .args(["create", "--bundle", b.path_str(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_during_create_then_delete_force_leaves_nothing() {
    let b = Bundle::with_args(&["sleep", "1000"]);
    let rt = Runtime::corral();
    // Measure one full create to spread the kill points across it.
    let probe = unique_id("probe");
    let _guard_probe = rt.guard(&probe);
    b.write_for(&rt, &probe);
    let t = Instant::now();
    rt.ok(&["create", "--bundle", b.path_str(), &probe]);
    let full = t.elapsed();
    rt.cleanup(&probe);

    let steps = 24u32;
    for i in 0..steps {
        let id = unique_id("fault");
        let _guard_id = rt.guard(&id);
        b.write_for(&rt, &id);
        let delay = full * i / steps;
        let mut child = spawn_create(&rt, &b, &id);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let out = rt.run(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "delete --force after kill at {delay:?}: {}",
            stderr_of(&out)
        );
        // The init dies by its parent-death signal; give the kernel a moment to reap it.
        let start = Instant::now();
        while !inits_holding(rt.root.path()).is_empty()
            || !processes_in_cgroup(&cgroup_path(&rt, &id)).is_empty()
        {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "process left after kill at {delay:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // A cgroup whose last task was still exiting may need the retrying delete again.
        let _ = rt.run(&["delete", "--force", &id]);
        assert_clean(&rt, &id);
        assert!(
            mounts_mentioning(b.path_str()).is_empty(),
            "mount left after kill at {delay:?}"
        );
    }
}

#[test]
fn state_of_a_create_killed_midway_is_stopped_not_running() {
    let b = Bundle::with_args(&["sleep", "1000"]);
    let rt = Runtime::corral();
    let id = unique_id("midway");
    let _guard_id = rt.guard(&id);
    b.write_for(&rt, &id);
    let mut child = spawn_create(&rt, &b, &id);
    // Wait until the state file exists, then kill the creator.
    let start = Instant::now();
    while !rt.root.path().join(&id).join("state.json").exists() {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = rt.run(&["state", &id]);
    if out.status.success() {
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let status = s["status"].as_str().unwrap();
        assert!(
            status == "stopped" || status == "created",
            "after the creator died: {status}"
        );
    }
    rt.cleanup(&id);
}

/// A state file that no longer parses (a crash of a disk-backed `--root`, a hand edit):
/// `delete --force` removes the container's directory so the engine's cleanup can finish, and
/// says what it could not do. runc 1.1.5 fails that delete on every try (deliberate deviation:
/// the id would stay taken forever). Without --force the delete is an error in both, and `list`
/// skips the container with a warning in both.
#[test]
fn delete_force_removes_a_container_whose_state_file_is_corrupt() {
    let b = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("corrupt", |rt, id| {
        rt.start_detached(&b, id);
        let state_file = rt.root.path().join(id).join("state.json");
        let saved = std::fs::read(&state_file).unwrap();
        std::fs::write(&state_file, b"").unwrap();
        let list = rt.run(&["list"]);
        assert!(
            stderr_of(&list).contains(&format!("container {id}: ")),
            "{}: {}",
            rt.name,
            stderr_of(&list)
        );
        let plain = rt.run(&["delete", id]);
        let forced = rt.run(&["delete", "--force", id]);
        let removed = !rt.root.path().join(id).exists();
        if rt.name == "corral" {
            assert!(
                stderr_of(&forced).contains("corrupt state file"),
                "{}",
                stderr_of(&forced)
            );
        }
        // Put the state back so the container's processes and cgroups can be removed.
        std::fs::create_dir_all(rt.root.path().join(id)).unwrap();
        std::fs::write(&state_file, saved).unwrap();
        rt.cleanup(id);
        (
            list.status.success(),
            plain.status.success(),
            forced.status.success(),
            removed,
        )
    });
    assert_eq!(results[0].1, (true, false, true, true), "corral");
    assert_eq!(results[1].1, (true, false, false, false), "runc 1.1.5");
}

/// Writes the intact state file back when a failing test unwinds, if its dir still exists.
struct RestoreOnFailure(std::path::PathBuf, Vec<u8>);

impl Drop for RestoreOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() && self.0.parent().is_some_and(|d| d.exists()) {
            let _ = std::fs::write(&self.0, &self.1);
        }
    }
}

/// Issue 23: a container is never lost. With its state file truncated, half written or
/// garbage (a crash, a full disk), `list` still shows it (status `damaged`, its init's pid)
/// and `delete --force` kills its processes and removes its cgroups through the recovery
/// record written beside the state file — a paused (frozen) container too. runc 1.1.5 loses
/// such a container (see the test above).
#[test]
fn a_container_whose_state_file_is_damaged_is_still_found_and_removed() {
    let rt = Runtime::corral();
    let b = Bundle::with_args(&["sh", "-c", "sleep 1000 & sleep 1000"]);
    /// How a state file is damaged, from its intact bytes.
    type Damage = fn(&[u8]) -> Vec<u8>;
    let damages: [(&str, Damage, bool); 4] = [
        ("empty", |_| Vec::new(), false),
        ("half", |s| s[..s.len() / 2].to_vec(), false),
        ("garbage", |_| b"\x00\xffnot json".to_vec(), false),
        ("paused", |_| b"{\"id\": 7".to_vec(), true),
    ];
    for (name, damage, pause) in damages {
        let id = unique_id(&format!("damaged-{name}"));
        let _guard = rt.guard(&id);
        let pid = rt.start_detached(&b, &id)["pid"].as_i64().unwrap();
        if pause {
            rt.ok(&["pause", &id]);
        }
        let state_file = rt.root.path().join(&id).join("state.json");
        let text = std::fs::read(&state_file).unwrap();
        // Dropped before the guard: if an assertion fails, the intact file comes back so the
        // guard's delete can still stop the container and remove its cgroups.
        let _restore = RestoreOnFailure(state_file.clone(), text.clone());
        std::fs::write(&state_file, damage(&text)).unwrap();

        let list: serde_json::Value =
            serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name}: {id} missing from list: {list}"));
        assert_eq!(entry["status"], "damaged", "{name}");
        assert_eq!(entry["pid"].as_i64(), Some(pid), "{name}");
        assert!(rt.ok(&["list"]).contains("damaged"), "{name}");

        assert!(
            !rt.run(&["delete", &id]).status.success(),
            "{name}: delete without --force"
        );
        let forced = rt.run(&["delete", "--force", &id]);
        assert!(forced.status.success(), "{name}: {}", stderr_of(&forced));
        assert!(
            stderr_of(&forced).contains("stopped the container's processes"),
            "{name}: {}",
            stderr_of(&forced)
        );
        // Gone, or a zombie its reaper has not collected yet.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z'),
            "{name}: the init survived: {stat}"
        );
        assert_clean(&rt, &id);
    }
}
