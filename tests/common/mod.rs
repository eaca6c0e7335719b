//! The shared vocabulary of corral's end-to-end tests: a busybox bundle, a runtime under
//! test (corral or runc) with a private `--root`, and the checks that nothing was left
//! behind. Tests run real containers as root.
#![allow(dead_code)]

pub mod apparmor;
pub mod rootless;

use corral_test_kit::{Applets, runc_spec_config};
#[allow(unused_imports)] // each test binary uses a part
pub use corral_test_kit::{cgroup_mounts, cgroup_v2_host, skip};
use serde_json::{Value, json};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Parent of every test cgroup, never the caller's own cgroup.
pub const CGROUP_PARENT: &str = "/corral-test";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique container id for this test process.
pub fn unique_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A runtime under test (the kit's, with a private `--root`) and the steps tests take with
/// it.
pub struct Runtime(corral_test_kit::Runtime);

impl Deref for Runtime {
    type Target = corral_test_kit::Runtime;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Runtime {
    pub fn corral() -> Runtime {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_corral"));
        Runtime(corral_test_kit::Runtime::new("corral", bin, Vec::new()).unwrap())
    }

    /// Debian's runc; the test suite's setup installs it. Missing runc fails the test, it
    /// does not skip it: differential tests are the point.
    pub fn runc() -> Runtime {
        let bin = ["/usr/sbin/runc", "/usr/bin/runc"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("runc is not installed (hack/test.sh installs it)");
        Runtime(corral_test_kit::Runtime::new("runc", bin, Vec::new()).unwrap())
    }

    pub fn both() -> [Runtime; 2] {
        [Runtime::corral(), Runtime::runc()]
    }

    /// corral with global flags (`--systemd-cgroup`).
    pub fn corral_with(global_args: &[&str]) -> Runtime {
        let mut rt = Runtime::corral();
        rt.0.global_args = global_args.iter().map(|a| a.to_string()).collect();
        rt
    }

    /// runc with global flags.
    pub fn runc_with(global_args: &[&str]) -> Runtime {
        let mut rt = Runtime::runc();
        rt.0.global_args = global_args.iter().map(|a| a.to_string()).collect();
        rt
    }

    /// corral from `bin` with the state root `root`.
    pub fn corral_at(bin: PathBuf, root: tempfile::TempDir) -> Runtime {
        Runtime(corral_test_kit::Runtime {
            name: "corral",
            bin,
            global_args: Vec::new(),
            root,
        })
    }

    pub fn cmd(&self) -> Command {
        self.0.command(&[])
    }

    /// Runs a command with stdin from /dev/null and its output captured in files, not
    /// pipes: a container started by `create` inherits the runtime's stdio and would hold a
    /// pipe open long after the command returned.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        capture(&mut c)
    }

    /// Like [`Runtime::run`], but a command still running after `secs` is killed (coreutils'
    /// `timeout`, exit 137) so that a hang fails the test instead of stalling the suite.
    pub fn run_bounded(&self, secs: u32, args: &[&str]) -> Output {
        let mut c = Command::new("timeout");
        c.args(["-s", "KILL", &secs.to_string()])
            .arg(&self.bin)
            .arg("--root")
            .arg(self.root.path())
            .args(args);
        capture(&mut c)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {:?} failed: {}{}",
            self.name,
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Creates and starts `bundle` as `id`, detached, stdio to /dev/null... except for crun
    /// (never given here). Returns the state after start.
    pub fn start_detached(&self, bundle: &Bundle, id: &str) -> Value {
        bundle.write_for(self, id);
        self.ok(&["create", "--bundle", bundle.path_str(), id]);
        self.ok(&["start", id]);
        self.state(id)
    }

    /// `run` in the foreground; returns (exit code, stdout, stderr).
    pub fn run_bundle(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        bundle.write_for(self, id);
        let out = self.run(&["run", "--bundle", bundle.path_str(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// Stdout of a foreground run that must succeed.
    pub fn output_of(&self, bundle: &Bundle, id: &str) -> String {
        let (code, out, err) = self.run_bundle(bundle, id);
        assert_eq!(code, 0, "{} run failed: {out}{err}", self.name);
        out
    }

    /// Force-deletes `id` when dropped, also when the test panics, so a failing test does
    /// not leave its container running.
    pub fn guard<'a>(&'a self, id: &str) -> Guard<'a> {
        Guard {
            rt: self,
            id: id.to_string(),
            parent_use: Some(use_cgroup_parent()),
        }
    }

    /// Force-deletes and checks nothing of `id` remains.
    pub fn cleanup(&self, id: &str) {
        let _ = self.run(&["delete", "--force", id]);
        assert_clean(self, id);
    }
}

pub struct Guard<'a> {
    rt: &'a Runtime,
    id: String,
    parent_use: Option<std::fs::File>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.rt.run(&["delete", "--force", &self.id]);
        }
        self.parent_use.take();
        remove_test_cgroup_parent();
    }
}

const PARENT_LOCK: &str = "/tmp/corral-test-cgroup-parent.lock";

/// A shared lock held while a test may create cgroups under the shared parent, so the
/// parent is only removed when no test is using it (tests run in parallel).
fn use_cgroup_parent() -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(PARENT_LOCK)
        .unwrap();
    // SAFETY: flock on an fd we own.
    let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_SH) };
    assert_eq!(locked, 0);
    f
}

/// The cgroup path a test container of `runtime` and `id` uses.
pub fn cgroup_path(runtime: &Runtime, id: &str) -> String {
    format!("{CGROUP_PARENT}/{}-{id}", runtime.name)
}

/// Nothing of the container remains: no state dir, no cgroup dir in any hierarchy, no
/// process in that cgroup.
pub fn assert_clean(runtime: &Runtime, id: &str) {
    let dir = runtime.root.path().join(id);
    assert!(
        !dir.exists(),
        "{}: state dir {} left behind",
        runtime.name,
        dir.display()
    );
    let cg = cgroup_path(runtime, id);
    for h in cgroup_mounts() {
        let p = h.join(cg.trim_start_matches('/'));
        assert!(
            !p.exists(),
            "{}: cgroup {} left behind",
            runtime.name,
            p.display()
        );
    }
    assert!(
        processes_in_cgroup(&cg).is_empty(),
        "{}: processes left in {cg}",
        runtime.name
    );
}

/// Host pids whose cgroup (any hierarchy) is `cg`.
pub fn processes_in_cgroup(cg: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if text.lines().any(|l| l.ends_with(&format!(":{cg}"))) {
            out.push(pid);
        }
    }
    out
}

/// The shared parent goes away once the last test using it is done (runc leaves it).
pub fn remove_test_cgroup_parent() {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(PARENT_LOCK)
        .unwrap();
    // SAFETY: flock on an fd we own; non-blocking: someone else still using it is fine.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        return;
    }
    for h in cgroup_mounts() {
        let _ = std::fs::remove_dir(h.join(CGROUP_PARENT.trim_start_matches('/')));
    }
}

/// The host directory of a test container's cgroup for `controller` (v1) or the unified
/// hierarchy (v2, where `controller` is ignored).
pub fn cgroup_dir(rt: &Runtime, id: &str, controller: &str) -> std::path::PathBuf {
    let base = if cgroup_v2_host() {
        std::path::PathBuf::from("/sys/fs/cgroup")
    } else {
        std::path::Path::new("/sys/fs/cgroup").join(controller)
    };
    base.join(cgroup_path(rt, id).trim_start_matches('/'))
}

/// Mount points in our namespace that mention `needle`.
pub fn mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A bundle: busybox-static rootfs plus the config `runc spec` writes, with `terminal: false`,
/// hostname `testhost` and a per-runtime cgroupsPath under the test parent.
pub struct Bundle(corral_test_kit::Bundle);

impl Deref for Bundle {
    type Target = corral_test_kit::Bundle;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Bundle {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Bundle {
    pub fn new() -> Bundle {
        let mut config = runc_spec_config(&["true"]);
        config["hostname"] = json!("testhost");
        Bundle(corral_test_kit::Bundle::temp("corral-bundle", Applets::All, config).unwrap())
    }

    pub fn with_args(args: &[&str]) -> Bundle {
        let mut b = Bundle::new();
        b.args(args);
        b
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes config.json with the cgroupsPath that belongs to `runtime` and `id`.
    pub fn write_for(&self, runtime: &Runtime, id: &str) {
        let mut c = self.config.clone();
        c["linux"]["cgroupsPath"] = json!(cgroup_path(runtime, id));
        self.write(&c).unwrap();
    }

    /// Writes config.json as it is (for bad-input tests).
    pub fn write_raw(&self, text: &str) {
        std::fs::write(self.dir.join("config.json"), text).unwrap();
    }
}

impl Default for Bundle {
    fn default() -> Self {
        Bundle::new()
    }
}

/// Runs `f` once per runtime (corral, then runc) with a fresh id, cleaning up after each,
/// and returns the results in that order.
pub fn differential<T>(prefix: &str, mut f: impl FnMut(&Runtime, &str) -> T) -> Vec<(String, T)> {
    let mut out = Vec::new();
    for rt in Runtime::both() {
        let id = unique_id(prefix);
        let _guard = rt.guard(&id);
        let r = f(&rt, &id);
        rt.cleanup(&id);
        out.push((rt.name.to_string(), r));
    }
    out
}

/// Asserts both runtimes produced the same value, naming them in the failure.
pub fn assert_same<T: PartialEq + std::fmt::Debug>(results: &[(String, T)]) {
    let (first_name, first) = &results[0];
    for (name, r) in &results[1..] {
        assert_eq!(first, r, "{first_name} and {name} differ");
    }
}

/// Runs `c` with stdin from /dev/null and stdout/stderr captured through temp files.
pub fn capture(c: &mut Command) -> Output {
    corral_test_kit::capture(c, None)
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", c.get_program()))
        .output
}

/// Makes `file` fd 3 of the command's process (for --preserve-fds and LISTEN_FDS tests).
pub fn pass_as_fd3(c: &mut Command, file: &std::fs::File) {
    pass_as_fd(c, file, 3);
}

/// Makes `file` fd `target` of the command's process, without close-on-exec: an fd the
/// caller passes (or leaks) to the runtime.
pub fn pass_as_fd(c: &mut Command, file: &std::fs::File, target: i32) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: dup2/fcntl between fork and exec on an fd the caller keeps open until spawn.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(c, move || {
            if fd != target && libc::dup2(fd, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 onto itself keeps close-on-exec; clear it explicitly.
            if libc::fcntl(target, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Listens on `path` and, on a thread, accepts one connection and returns the one fd it
/// carries (SCM_RIGHTS): a console socket receiver, as containerd's shim has one.
pub fn console_receiver(path: &Path) -> std::thread::JoinHandle<std::os::fd::OwnedFd> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut data = [0u8; 256];
        let mut fds = [0i32; 1];
        let (_, n) = sendfd::RecvWithFd::recv_with_fd(&conn, &mut data, &mut fds).unwrap();
        assert_eq!(n, 1, "one fd over SCM_RIGHTS");
        // SAFETY: the fd arrived through SCM_RIGHTS and is ours now.
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) }
    })
}

/// Sends `sig` to a process we started.
pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A static C program built once per test binary (with the C compiler the Rust toolchain
/// links with) from `source`, for what busybox cannot do inside a container: a raw syscall by
/// number, a ptrace. Returns its path; copy it into a rootfs to use it.
pub fn static_probe(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join(format!("probe-{name}"));
    let src = dir.join(format!("probe-{name}-{}.c", std::process::id()));
    std::fs::write(&src, source).unwrap();
    let tmp = dir.join(format!("probe-{name}-{}", std::process::id()));
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .expect("cc (the C compiler) is needed to build test probes");
    assert!(
        out.status.success(),
        "cc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).unwrap();
    let _ = std::fs::remove_file(&src);
    bin
}

/// A probe that makes the raw syscall given by number and prints `RESULT ERRNO`.
pub const SYSCALL_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = syscall(atol(argv[i]));
        printf("%ld %d\n", r, r < 0 ? errno : 0);
    }
    return 0;
}
"#;
