//! The vocabulary of every case: the runtime under test (driven only through its command line,
//! like any runc client), bundles made from busybox-static plus the checker, and a per-case
//! context that removes every container, cgroup and helper process it made, pass or fail.

use corral_test_kit::{Applets, busybox_rootfs, runc_spec_config};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every container's cgroup lives under this parent, never under the caller's own cgroup.
pub const CGROUP_PARENT: &str = "corral-conformance";

/// How long any single runtime command may take before the case fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a case did not pass.
#[derive(Debug)]
pub enum Verdict {
    Fail(String),
    Skip(String),
}

pub type CaseResult = Result<(), Verdict>;

pub fn fail(msg: impl Into<String>) -> Verdict {
    Verdict::Fail(msg.into())
}

pub fn skip(msg: impl Into<String>) -> Verdict {
    Verdict::Skip(msg.into())
}

/// `ensure!(cond, "format", args)`: fail the case with the message unless cond holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::harness::fail(format!($($msg)+)));
        }
    };
}

pub use corral_test_kit::{Runtime, cgroup_mounts};

/// What a runtime command did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {}: {}{}",
            self.code,
            self.stderr.trim(),
            if self.stdout.trim().is_empty() {
                String::new()
            } else {
                format!(" (stdout: {})", self.stdout.trim())
            }
        )
    }
}

/// Runs a runtime command (see [`corral_test_kit::capture`]); one still running after
/// `COMMAND_TIMEOUT` is killed and reported with code -2.
pub fn capture(mut cmd: Command) -> Ran {
    use std::os::unix::process::ExitStatusExt;
    match corral_test_kit::capture(&mut cmd, Some(COMMAND_TIMEOUT)) {
        Ok(c) => Ran {
            code: if c.timed_out {
                -2
            } else {
                let status = c.output.status;
                status
                    .code()
                    .or(status.signal().map(|s| 128 + s))
                    .unwrap_or(-1)
            },
            stdout: String::from_utf8_lossy(&c.output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&c.output.stderr).into_owned(),
        },
        Err(e) => Ran {
            code: -1,
            stdout: String::new(),
            stderr: format!("could not run the runtime: {e}"),
        },
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Facts about the host that decide skips.
pub struct Host {
    pub cgroup: CgroupLayout,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CgroupLayout {
    V1,
    Hybrid,
    V2,
}

impl Host {
    pub fn probe() -> Host {
        let cgroup = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            CgroupLayout::V2
        } else if Path::new("/sys/fs/cgroup/unified").exists() {
            CgroupLayout::Hybrid
        } else {
            CgroupLayout::V1
        };
        Host { cgroup }
    }

    pub fn layout_name(&self) -> &'static str {
        match self.cgroup {
            CgroupLayout::V1 => "cgroup v1",
            CgroupLayout::Hybrid => "hybrid cgroups",
            CgroupLayout::V2 => "cgroup v2",
        }
    }

    /// Whether a controller is usable for a container's cgroup on this host.
    pub fn has_controller(&self, name: &str) -> bool {
        match self.cgroup {
            CgroupLayout::V2 => fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                .map(|c| c.split_whitespace().any(|x| x == name))
                .unwrap_or(false),
            _ => {
                Path::new("/sys/fs/cgroup").join(name).exists()
                    || fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
                        .map(|c| c.split_whitespace().any(|x| x == name))
                        .unwrap_or(false)
            }
        }
    }
}

/// Whether the mount holding `path` (the deepest mount point above it) is shared.
pub fn mount_is_shared(path: &Path) -> bool {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut best: Option<(usize, bool)> = None;
    for line in text.lines() {
        let Some((left, _)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = left.split(' ').collect();
        let Some(mp) = f.get(4) else { continue };
        if path.starts_with(mp) && best.is_none_or(|(len, _)| mp.len() >= len) {
            best = Some((mp.len(), f[6..].iter().any(|o| o.starts_with("shared:"))));
        }
    }
    best.is_some_and(|(_, shared)| shared)
}

/// Removes a cgroup directory and its children, deepest first.
pub fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..50 {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return,
        }
    }
}

/// The cgroup directories of a container id under the test parent, in every hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join(CGROUP_PARENT).join(id))
        .filter(|p| p.exists())
        .collect()
}

/// A bundle on disk: `config` is written (and copied into the rootfs for the checker) by
/// `write`.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap_or_default()
    }

    /// Writes config.json and the checker's copy of it.
    pub fn write(&self) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&self.config)?;
        fs::write(self.dir.join("config.json"), &text)?;
        fs::create_dir_all(self.rootfs().join("conformance"))?;
        fs::write(self.rootfs().join("conformance/config.json"), &text)
    }
}

/// One case's world: its temp dir, the runtime, and what to clean up.
pub struct Ctx<'a> {
    pub rt: &'a Runtime,
    pub host: &'a Host,
    checker: &'a Path,
    dir: tempfile::TempDir,
    case: String,
    ids: Vec<String>,
    helpers: Vec<Child>,
    seq: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(rt: &'a Runtime, host: &'a Host, checker: &'a Path, case: &str) -> Ctx<'a> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("conformance-{case}-"))
            .tempdir()
            .expect("temp dir");
        // Bundles must be reachable by container users other than root (user namespaces,
        // process.user).
        let _ = fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755));
        Ctx {
            rt,
            host,
            checker,
            dir,
            case: case.replace('_', "-"),
            ids: Vec::new(),
            helpers: Vec::new(),
            seq: 0,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A container id unique to this run; the context deletes it at the end.
    pub fn new_id(&mut self) -> String {
        self.seq += 1;
        let id = format!("conf-{}-{}-{}", std::process::id(), self.case, self.seq);
        self.ids.push(id.clone());
        id
    }

    /// A fresh bundle whose process is `args`, with the base config changed by `edit`.
    pub fn bundle(&mut self, id: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> Bundle {
        let dir = self.dir.path().join(format!("bundle-{id}"));
        make_rootfs(&dir.join("rootfs"), self.checker).expect("making the rootfs");
        let mut config = base_config(id, args);
        edit(&mut config);
        let b = Bundle { dir, config };
        b.write().expect("writing config.json");
        b
    }

    /// A bundle that runs the checker on `topics`, with the host's namespaces recorded for the
    /// `namespaces` topic.
    pub fn checker_bundle(
        &mut self,
        id: &str,
        topics: &[&str],
        edit: impl FnOnce(&mut Value),
    ) -> Bundle {
        let mut args = vec!["/bin/oci-checker"];
        args.extend_from_slice(topics);
        self.bundle(id, &args, |c| {
            record_host_namespaces(c);
            edit(c);
        })
    }

    /// Runs the checker on `topics` with `run` and fails with its `not ok` lines.
    pub fn check(&mut self, topics: &[&str], edit: impl FnOnce(&mut Value)) -> CaseResult {
        let id = self.new_id();
        let b = self.checker_bundle(&id, topics, edit);
        let ran = self.runtime(&["run", "--bundle", b.path(), &id]);
        checker_verdict(&ran)
    }

    pub fn runtime(&self, args: &[&str]) -> Ran {
        capture(self.rt.command(args))
    }

    /// The runtime command must succeed.
    pub fn must(&self, args: &[&str]) -> Result<Ran, Verdict> {
        let ran = self.runtime(args);
        if ran.ok() {
            Ok(ran)
        } else {
            Err(fail(format!(
                "`{}` failed: {}",
                args.join(" "),
                ran.describe()
            )))
        }
    }

    /// The runtime command must fail (the spec's "MUST generate an error").
    pub fn must_fail(&self, args: &[&str]) -> CaseResult {
        let ran = self.runtime(args);
        ensure!(
            !ran.ok(),
            "`{}` succeeded, the spec wants an error",
            args.join(" ")
        );
        Ok(())
    }

    pub fn create(&self, b: &Bundle, id: &str) -> CaseResult {
        self.must(&["create", "--bundle", b.path(), id]).map(|_| ())
    }

    pub fn state(&self, id: &str) -> Result<Value, Verdict> {
        let ran = self.must(&["state", id])?;
        serde_json::from_str(&ran.stdout)
            .map_err(|e| fail(format!("state {id}: not JSON ({e}): {}", ran.stdout)))
    }

    pub fn status(&self, id: &str) -> Option<String> {
        let ran = self.runtime(&["state", id]);
        let v: Value = serde_json::from_str(&ran.stdout).ok()?;
        v["status"].as_str().map(String::from)
    }

    /// Waits up to 10 s for the container to reach `status`.
    pub fn wait_status(&self, id: &str, status: &str) -> CaseResult {
        let mut last = None;
        let reached = wait_for(Duration::from_secs(10), || {
            last = self.status(id);
            last.as_deref() == Some(status)
        });
        ensure!(reached, "{id}: status {last:?}, waited for {status:?}");
        Ok(())
    }

    /// Starts a helper process (e.g. a namespace holder) that is killed at the end.
    pub fn helper(&mut self, cmd: &mut Command) -> u32 {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("helper");
        let pid = child.id();
        self.helpers.push(child);
        pid
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.ids) {
            let _ = self.runtime(&["delete", "--force", &id]);
            for dir in cgroup_dirs(&id) {
                remove_cgroup_tree(&dir);
            }
        }
        for mut h in self.helpers.drain(..) {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

/// Pass when the checker exited 0; otherwise its `not ok` lines (or the runtime's error).
pub fn checker_verdict(ran: &Ran) -> CaseResult {
    let not_ok: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("not ok"))
        .collect();
    if ran.ok() && not_ok.is_empty() {
        return Ok(());
    }
    if not_ok.is_empty() {
        return Err(fail(format!("run failed: {}", ran.describe())));
    }
    Err(fail(not_ok.join("; ")))
}

fn record_host_namespaces(config: &mut Value) {
    for (ty, file) in [
        ("pid", "pid"),
        ("network", "net"),
        ("mount", "mnt"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("user", "user"),
        ("cgroup", "cgroup"),
        ("time", "time"),
    ] {
        if let Ok(m) = fs::metadata(format!("/proc/self/ns/{file}")) {
            use std::os::unix::fs::MetadataExt;
            config["annotations"][format!("conformance.host-ns.{ty}")] = json!(m.ino().to_string());
        }
    }
}

/// busybox-static with the applets cases use, and the checker at /bin/oci-checker.
fn make_rootfs(rootfs: &Path, checker: &Path) -> std::io::Result<()> {
    const APPLETS: &[&str] = &[
        "sh", "sleep", "touch", "echo", "cat", "true", "false", "ls", "sed", "kill", "id", "mkdir",
        "test", "[",
    ];
    busybox_rootfs(rootfs, Applets::Only(APPLETS))?;
    fs::create_dir_all(rootfs.join("conformance"))?;
    fs::copy(checker, rootfs.join("bin/oci-checker"))?;
    Ok(())
}

/// The config `runc spec` writes (and the runtime-spec's example follows), with the terminal
/// off, no ambient capabilities, a writable root, a cgroup namespace, the test cgroup parent,
/// and the given process.
pub fn base_config(id: &str, args: &[&str]) -> Value {
    let mut c = runc_spec_config(args);
    if let Some(caps) = c["process"]["capabilities"].as_object_mut() {
        caps.remove("ambient");
    }
    c["root"]["readonly"] = json!(false);
    c["hostname"] = json!("conformance");
    c["annotations"] = json!({"org.opencontainers.conformance.case": id});
    c["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PARENT}/{id}"));
    if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
        ns.push(json!({"type": "cgroup"}));
    }
    c
}

/// Whether an ELF file asks for a dynamic loader (PT_INTERP): the checker must not.
pub fn is_dynamic_elf(path: &Path) -> std::io::Result<bool> {
    let b = fs::read(path)?;
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not a 64-bit ELF");
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return Err(invalid());
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let ty = b.get(o..o + 4).ok_or_else(invalid)?;
        if u32::from_le_bytes(ty.try_into().unwrap()) == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_dynamic_and_busybox_is_not() {
        let me = std::env::current_exe().unwrap();
        assert!(is_dynamic_elf(&me).unwrap());
        if Path::new("/bin/busybox").exists() {
            assert!(!is_dynamic_elf(Path::new("/bin/busybox")).unwrap());
        }
    }

    #[test]
    fn checker_verdict_reports_not_ok_lines() {
        let ran = Ran {
            code: 1,
            stdout: "ok - a\nnot ok - b: got 1, want 2\n".into(),
            stderr: String::new(),
        };
        match checker_verdict(&ran) {
            Err(Verdict::Fail(m)) => assert_eq!(m, "not ok - b: got 1, want 2"),
            other => panic!("{other:?}"),
        }
        let ran = Ran {
            code: 0,
            stdout: "ok - a\n".into(),
            stderr: String::new(),
        };
        assert!(checker_verdict(&ran).is_ok());
    }
}
