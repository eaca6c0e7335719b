//! The container as an object: its state directory under `--root`, the lock that serialises
//! commands on one id, and the lifecycle operations the CLI calls (start, kill, delete, list).
//! Creating a container is the launch pipeline's job (`crate::launch`).

pub mod id;
mod processes;
pub mod recovery;
pub mod state;

pub use id::validate_id;
pub use recovery::Recovery;
pub use state::{Phase, ProcessId, State, Status};

use crate::error::{Context, Error, Result, at};
use crate::hooks;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a command that needs the container's cgroup says when it has none.
const NO_CGROUP: &str = "the container has no cgroup (rootless, and no cgroup is delegated \
                         to this user)";

/// The `--root` directory holding one state directory per container.
#[derive(Clone, Debug)]
pub struct StateRoot {
    pub path: PathBuf,
}

impl StateRoot {
    /// Opens the root, creating it with mode 0700 if needed.
    pub fn open(path: &Path) -> Result<StateRoot> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .ctx(|| at("create state root", path))?;
        let path = std::fs::canonicalize(path).ctx(|| at("resolve state root", path))?;
        Ok(StateRoot { path })
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Loads a container without locking it (for `state`, `list`, `ps`).
    pub fn load(&self, id: &str) -> Result<Container> {
        validate_id(id).map_err(|_| Error::NotExist)?;
        let dir = self.dir_of(id);
        let state = State::load(&dir)?;
        Ok(Container {
            dir,
            state,
            _lock: None,
        })
    }

    /// Loads a container holding its lock, for commands that change it.
    pub fn load_locked(&self, id: &str) -> Result<Container> {
        validate_id(id).map_err(|_| Error::NotExist)?;
        let dir = self.dir_of(id);
        let lock = lock_dir(&dir).map_err(|e| match e {
            Error::Io { ref err, .. } if err.kind() == std::io::ErrorKind::NotFound => {
                Error::NotExist
            }
            other => other,
        })?;
        let state = State::load(&dir)?;
        Ok(Container {
            dir,
            state,
            _lock: Some(lock),
        })
    }

    /// Every container, sorted by id: those with a readable state, and those whose state
    /// file is damaged but whose recovery record is not (shown as `damaged`). A directory
    /// without a state file is a create under way and is skipped; one with neither file
    /// readable is skipped with a warning, as runc does.
    pub fn list(&self) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.path).ctx(|| at("read", &self.path))? {
            let entry = entry.ctx(|| at("read", &self.path))?;
            let name = entry.file_name().to_string_lossy().to_string();
            match self.load(&name) {
                Ok(c) => out.push(Listed::Readable(Box::new(c))),
                Err(Error::NotExist) => {}
                Err(e @ Error::CorruptState { .. }) => match Recovery::load(&entry.path()) {
                    Some(r) => {
                        crate::log::warn(format!("container {name}: {e}"));
                        out.push(Listed::Damaged(entry.path(), Box::new(r)));
                    }
                    None => crate::log::warn(format!("container {name}: {e}")),
                },
                Err(e) => crate::log::warn(format!("container {name}: {e}")),
            }
        }
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }
}

/// One entry of [`StateRoot::list`].
pub enum Listed {
    Readable(Box<Container>),
    /// The state dir and the recovery record of a container whose state file is damaged.
    Damaged(PathBuf, Box<Recovery>),
}

impl Listed {
    pub fn id(&self) -> &str {
        match self {
            Listed::Readable(c) => c.id(),
            Listed::Damaged(_, r) => &r.id,
        }
    }

    pub fn oci_state(&self) -> state::OciState {
        match self {
            Listed::Readable(c) => c.oci_state(),
            Listed::Damaged(_, r) => r.oci_state(),
        }
    }

    pub fn dir(&self) -> &Path {
        match self {
            Listed::Readable(c) => &c.dir,
            Listed::Damaged(dir, _) => dir,
        }
    }
}

/// flock(LOCK_EX) on the state directory: two commands on one id never interleave. The
/// lock lives as long as the returned handle.
pub fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let mut f = File::open(dir).ctx(|| at("open state dir", dir))?;
    loop {
        match Flock::lock(f, FlockArg::LockExclusive) {
            Ok(lock) => return Ok(lock),
            Err((back, nix::errno::Errno::EINTR)) => f = back,
            Err((_, e)) => return Err(e).ctx(|| at("lock", dir)),
        }
    }
}

pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: Option<Flock<File>>,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.state.id
    }

    pub fn status(&self) -> Status {
        self.state.status(&self.dir)
    }

    pub fn oci_state(&self) -> state::OciState {
        self.state.oci_state(self.status())
    }

    /// `start`: opening the exec fifo for writing releases the init, which is blocked
    /// reading it; removing the fifo is what makes the status `running`.
    pub fn start(&self) -> Result<()> {
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::state("cannot start a container that has stopped"));
            }
            Status::Running | Status::Paused => {
                return Err(Error::state("cannot start an already running container"));
            }
            Status::Creating => {
                return Err(Error::state(
                    "cannot start a container that is being created",
                ));
            }
        }
        if self.state.spec.process().is_none() {
            // runtime-spec: `process` is required when start is called.
            return Err(Error::config(
                "process",
                "is required to start the container (its config has none)",
            ));
        }
        let fifo = self.dir.join(state::EXEC_FIFO);
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&fifo);
        let mut f = match f {
            Ok(f) => f,
            // ENXIO: nobody holds the read side, so the init is gone.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(Error::state("cannot start a container that has stopped"));
            }
            Err(e) => return Err(e).ctx(|| at("open exec fifo", &fifo)),
        };
        let init_binary = exe_identity(self.state.init.pid);
        use std::io::Write;
        f.write_all(b"0").ctx(|| at("write exec fifo", &fifo))?;
        crate::fault::point("start:fifo-written");
        drop(f);
        std::fs::remove_file(&fifo).ctx(|| at("remove exec fifo", &fifo))?;
        crate::fault::point("start:fifo-removed");
        wait_for_exec(&self.state.init, init_binary);
        crate::fault::point("start:running");
        // The spec's state for poststart is `running`; runc 1.1 passes `created` here.
        let state = self.state.oci_state(Status::Running);
        hooks::run_warning_only(&self.state.spec, hooks::Kind::Poststart, &state);
        Ok(())
    }

    /// `pause`: freeze every process of the container (runc allows it for created and
    /// running containers).
    pub fn pause(&self) -> Result<()> {
        match self.status() {
            Status::Running | Status::Created => {}
            Status::Paused => return Err(Error::state("container already paused")),
            _ => return Err(Error::state("container not running")),
        }
        if self.state.cgroup.is_none() {
            return Err(Error::state(NO_CGROUP));
        }
        if !self.state.cgroup.can_freeze() {
            return Err(Error::state(
                "this host has no cgroup freezer for the container",
            ));
        }
        self.state.cgroup.set_frozen(true)
    }

    /// `resume`: thaw a paused container.
    pub fn resume(&self) -> Result<()> {
        if self.status() != Status::Paused {
            return Err(Error::state("container not paused"));
        }
        self.state.cgroup.set_frozen(false)
    }

    /// Host pids of every process in the container.
    pub fn pids(&self) -> Result<Vec<i32>> {
        if self.status() == Status::Stopped {
            return Ok(Vec::new());
        }
        if self.state.cgroup.is_none() {
            return Ok(processes::without_cgroup(
                &self.state.spec,
                &self.state.init,
            ));
        }
        Ok(self.state.cgroup.pids())
    }

    /// Records resources applied by `update` in the stored config, field by field.
    pub fn record_resources(&mut self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let mut linux = self.state.spec.linux().clone().unwrap_or_default();
        let mut current = linux.resources().clone().unwrap_or_default();
        if r.memory().is_some() {
            current.set_memory(*r.memory());
        }
        if r.cpu().is_some() {
            current.set_cpu(r.cpu().clone());
        }
        if r.pids().is_some() {
            current.set_pids(*r.pids());
        }
        if r.block_io().is_some() {
            current.set_block_io(r.block_io().clone());
        }
        if r.unified().is_some() {
            current.set_unified(r.unified().clone());
        }
        linux.set_resources(Some(current));
        self.state.spec.set_linux(Some(linux));
        self.state.save(&self.dir)
    }

    /// `update --l3-cache-schema/--mem-bw-schema`: the new schemas written to the
    /// container's resctrl group and recorded. runc's rule: a container created without
    /// `linux.intelRdt` gets none now.
    pub fn update_intel_rdt(&mut self, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
        let mut linux = self.state.spec.linux().clone().unwrap_or_default();
        let (Some(mut rdt), Some(group)) = (linux.intel_rdt().clone(), self.state.rdt.clone())
        else {
            return Err(Error::config(
                "--l3-cache-schema/--mem-bw-schema",
                "updating a non-existent Intel RDT configuration is not supported",
            ));
        };
        if let Some(l3) = l3 {
            rdt.set_l3_cache_schema(Some(l3.to_string()));
        }
        if let Some(mb) = mb {
            rdt.set_mem_bw_schema(Some(mb.to_string()));
        }
        let resctrl = crate::rdt::Resctrl::for_group(&group);
        resctrl.validate(&rdt)?;
        resctrl.update(&group, &rdt)?;
        linux.set_intel_rdt(Some(rdt));
        self.state.spec.set_linux(Some(linux));
        self.state.save(&self.dir)
    }

    /// `kill`: signal the init, or with `all` every process in the container's cgroup.
    pub fn signal(&self, sig: i32, all: bool) -> Result<()> {
        if self.status() == Status::Stopped {
            return Err(Error::state("container not running"));
        }
        if all && self.state.cgroup.is_none() {
            return self.signal_each(sig);
        }
        if all {
            return self.state.cgroup.signal_all(sig);
        }
        self.state
            .init
            .signal(sig)
            .ctx(|| format!("signal container init {}", self.state.init.pid))
    }

    /// `delete`: a stopped (or, as runc does, a created) container is removed; a running or
    /// paused one only with `force`, after killing every process in it.
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created => self.kill_and_wait()?,
            Status::Creating | Status::Running | Status::Paused if force => self.kill_and_wait()?,
            _ => {
                return Err(Error::state(format!(
                    "cannot delete container {} that is not stopped: {}",
                    self.id(),
                    status.as_str()
                )));
            }
        }
        crate::fault::point("delete:killed");
        self.destroy()
    }

    /// `kill --all` without a cgroup: each process found in the container's pid namespace.
    /// Nothing holds them still meanwhile (no freezer); a child forked during the loop is
    /// missed, but SIGKILL of the init ends the whole namespace anyway.
    fn signal_each(&self, sig: i32) -> Result<()> {
        for pid in processes::without_cgroup(&self.state.spec, &self.state.init) {
            match crate::syscall::kill_raw(pid, sig) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(e).ctx(|| format!("signal pid {pid}"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn kill_and_wait(&self) -> Result<()> {
        if self.state.cgroup.is_none() {
            let _ = self.signal_each(libc::SIGKILL);
        }
        // A paused container gets SIGKILL queued and is thawed by signal_all, so it dies.
        let _ = self.state.cgroup.signal_all(libc::SIGKILL);
        let _ = self.state.init.signal(libc::SIGKILL);
        wait_until_dead(&self.state.init, Duration::from_secs(10))
    }

    /// Removes everything the container had (its cgroup and its state dir), then runs the
    /// poststop hooks.
    pub fn destroy(self) -> Result<()> {
        let cgroup = self.state.cgroup.destroy();
        if let Some(group) = &self.state.rdt {
            crate::rdt::Resctrl::for_group(group).destroy(group);
        }
        crate::fault::point("delete:cgroup-removed");
        std::fs::remove_dir_all(&self.dir).ctx(|| at("remove state dir", &self.dir))?;
        crate::fault::point("delete:state-removed");
        let state = self.state.oci_state(Status::Stopped);
        hooks::run_warning_only(&self.state.spec, hooks::Kind::Poststop, &state);
        cgroup
    }
}

/// (device, inode) of the file a process runs.
fn exe_identity(pid: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((m.dev(), m.ino()))
}

/// `start` returns once the user process runs (the spec puts startContainer hooks before
/// that and poststart hooks after it): the init's binary is replaced by the process's at
/// exec, or the init is gone.
fn wait_for_exec(init: &ProcessId, init_binary: Option<(u64, u64)>) {
    let mut delay = Duration::from_micros(50);
    while init.is_alive() && exe_identity(init.pid) == init_binary && init_binary.is_some() {
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(5));
    }
}

fn wait_until_dead(p: &ProcessId, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while p.is_alive() {
        if start.elapsed() > limit {
            return Err(Error::state(format!(
                "container init {} did not die after SIGKILL",
                p.pid
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
