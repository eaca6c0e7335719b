//! Running corral and runc as an unprivileged user: the test users (made once per machine
//! with useradd and kept: one with ranges in /etc/subuid and /etc/subgid, one without), a
//! session of one (its own `XDG_RUNTIME_DIR`, a clean environment, commands through setpriv),
//! and the checks that a container of theirs is gone. Used by `tests/rootless.rs` and the
//! systemd lane's rootless test.

use super::{Bundle, Runtime, capture, stderr_of, stdout_of};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

pub const USER: &str = "corral-rl";
/// A system user: useradd gives it no subordinate ids.
pub const USER_WITHOUT_SUBIDS: &str = "corral-rl-nosub";

#[derive(Clone)]
pub struct User {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
}

static USERADD: Mutex<()> = Mutex::new(());

pub fn user(name: &'static str, subids: bool) -> User {
    let _serial = USERADD.lock().unwrap_or_else(|e| e.into_inner());
    if nix::unistd::User::from_name(name).unwrap().is_none() {
        let mut c = Command::new("useradd");
        c.args(["--no-create-home", "--shell", "/usr/sbin/nologin"]);
        if !subids {
            c.arg("--system");
        }
        let out = capture(c.arg(name));
        assert!(out.status.success(), "useradd {name}: {}", stderr_of(&out));
    }
    if subids && subid_start("/etc/subuid", name).is_none() {
        let out = capture(Command::new("usermod").args([
            "--add-subuids",
            "400000-465535",
            "--add-subgids",
            "400000-465535",
            name,
        ]));
        assert!(out.status.success(), "usermod {name}: {}", stderr_of(&out));
    }
    let u = nix::unistd::User::from_name(name).unwrap().unwrap();
    User {
        name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }
}

pub fn subid_start(file: &str, name: &str) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name)).then(|| f.next()?.parse().ok())?
    })
}

pub fn chown_tree(path: &Path, u: &User) {
    let out = capture(Command::new("chown").args([
        "-R",
        &format!("{}:{}", u.uid, u.gid),
        path.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "chown: {}", stderr_of(&out));
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Rt {
    Corral,
    Runc,
}

impl Rt {
    pub fn bin(self) -> PathBuf {
        match self {
            Rt::Corral => PathBuf::from(env!("CARGO_BIN_EXE_corral")),
            Rt::Runc => Runtime::runc().bin.clone(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rt::Corral => "corral",
            Rt::Runc => "runc",
        }
    }
}

/// The user's login, as far as a runtime can tell: its own runtime dir, its environment.
pub struct Session {
    pub user: User,
    /// `XDG_RUNTIME_DIR`: a temp dir of the user's, or the real one of a systemd session.
    pub xdg: PathBuf,
    _owned: Option<tempfile::TempDir>,
    /// A cgroup.procs the commands are moved into before they become the user.
    pub cgroup_procs: Option<PathBuf>,
    /// Global flags given to every runtime command (`--systemd-cgroup`).
    pub global_args: Vec<&'static str>,
}

impl Session {
    pub fn new(user: User) -> Session {
        let xdg = tempfile::Builder::new()
            .prefix("corral-xdg")
            .tempdir()
            .unwrap();
        chown_tree(xdg.path(), &user);
        Session {
            user,
            xdg: xdg.path().to_path_buf(),
            _owned: Some(xdg),
            cgroup_procs: None,
            global_args: Vec::new(),
        }
    }

    /// A session whose runtime dir is `dir` (systemd's /run/user/UID, with the session bus).
    pub fn with_runtime_dir(user: User, dir: &Path) -> Session {
        Session {
            user,
            xdg: dir.to_path_buf(),
            _owned: None,
            cgroup_procs: None,
            global_args: Vec::new(),
        }
    }

    /// `rt ARGS` as the user, in `dir`.
    pub fn command(&self, rt: Rt, dir: &Path, args: &[&str]) -> Command {
        let all: Vec<&str> = self
            .global_args
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        self.as_user(rt.bin().to_str().unwrap(), dir, &all)
    }

    /// `prog ARGS` as the user, in `dir`.
    pub fn as_user(&self, prog: &str, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.user.uid.to_string(),
            "--regid",
            &self.user.gid.to_string(),
            "--clear-groups",
            "--",
        ]);
        c.arg(prog).args(args).current_dir(dir);
        c.env_clear()
            .env("PATH", "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/")
            .env("USER", self.user.name)
            .env("LOGNAME", self.user.name)
            .env("XDG_RUNTIME_DIR", &self.xdg);
        if let Some(procs) = &self.cgroup_procs {
            let f = std::fs::OpenOptions::new().write(true).open(procs).unwrap();
            // SAFETY: between fork and exec, still root: one write(2) of "0" moves this
            // process into the cgroup; the fd stays open in the parent until spawn.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                    use std::io::Write;
                    (&f).write_all(b"0")
                });
            }
        }
        c
    }

    pub fn run(&self, rt: Rt, dir: &Path, args: &[&str]) -> Output {
        capture(&mut self.command(rt, dir, args))
    }

    pub fn ok(&self, rt: Rt, dir: &Path, args: &[&str]) -> String {
        let out = self.run(rt, dir, args);
        assert!(
            out.status.success(),
            "{} {args:?} as {}: {}",
            rt.name(),
            self.user.name,
            stderr_of(&out)
        );
        stdout_of(&out)
    }

    /// The state root a runtime uses by default for this user.
    pub fn root(&self, rt: Rt) -> PathBuf {
        self.xdg.join(rt.name())
    }

    /// A busybox bundle the user owns, with the config `runc spec --rootless` writes for
    /// the user (terminal off, `args` as the process).
    pub fn bundle(&self, args: &[&str]) -> (Bundle, Value) {
        let b = Bundle::new();
        chown_tree(b.path(), &self.user);
        std::fs::remove_file(b.path().join("config.json")).ok();
        self.ok(Rt::Runc, b.path(), &["spec", "--rootless"]);
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        (b, config)
    }

    pub fn write(&self, b: &Bundle, config: &Value) {
        let path = b.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        chown_tree(&path, &self.user);
    }

    /// Removes what a failed test may have left, as the user.
    pub fn force_delete(&self, rt: Rt, dir: &Path, id: &str) {
        let _ = self.run(rt, dir, &["delete", "--force", id]);
    }
}

/// Deletes the container (as the user, with --force) when the test ends, passed or not.
pub struct Guard<'a> {
    s: &'a Session,
    rt: Rt,
    dir: PathBuf,
    id: String,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.s.force_delete(self.rt, &self.dir, &self.id);
    }
}

impl Session {
    pub fn guard(&self, rt: Rt, dir: &Path, id: &str) -> Guard<'_> {
        Guard {
            s: self,
            rt,
            dir: dir.to_path_buf(),
            id: id.to_string(),
        }
    }
}

pub fn wait_for_status(s: &Session, rt: Rt, dir: &Path, id: &str, want: &str) {
    for _ in 0..100 {
        let out = s.run(rt, dir, &["state", id]);
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout)
            && v["status"] == want
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{}: {id} never became {want}", rt.name());
}

/// Alive and not a zombie.
pub fn running(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        st.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

pub fn pid_alive(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The default state root holds nothing of `id`, and its init is gone.
pub fn assert_gone(s: &Session, rt: Rt, id: &str, init: i64) {
    let dir = s.root(rt).join(id);
    assert!(
        !dir.exists(),
        "{}: {} left behind",
        rt.name(),
        dir.display()
    );
    for _ in 0..100 {
        if !pid_alive(init) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{}: init {init} of {id} still runs", rt.name());
}
