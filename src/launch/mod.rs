//! The parent side of `create`: everything that happens in the caller's context.
//!
//! It validates the bundle, makes the state dir, spawns the init from a sealed copy of
//! ourselves, places it in the container's cgroup, writes user-namespace id maps when asked,
//! hands over the console socket, writes the pid file and records `created`. Any failure
//! undoes all of it: no state dir, cgroup, mount or process is left behind.

mod exec;
mod sealed;

pub use exec::{ExecOptions, exec};

use crate::cgroups::Cgroup;
use crate::container::{Phase, ProcessId, State, StateRoot, lock_dir, validate_id};
use crate::error::{Context, Error, Result, at};
use crate::log;
use crate::spec::{Bundle, load_bundle};
use crate::sync::{Channel, FromInit, INIT_SOCK_ENV, InitConfig, PROTOCOL_VERSION, ToInit};
use crate::syscall::{SpawnError, SpawnStep, set_cloexec};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::wait::WaitStatus;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};
use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Foreground `run` with a terminal and no console socket: we keep the pty master.
    pub own_console: bool,
}

pub struct Launched {
    pub init: ProcessId,
    /// The pty master when `own_console` was asked for.
    pub console: Option<OwnedFd>,
    pub terminal: bool,
}

/// Undoes a half-made container if `create` fails part way (the release build aborts on a
/// panic, so no cleanup runs then: input must never panic).
pub(crate) struct Cleanup {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) stage1: Option<Stage1>,
    pub(crate) init_pid: Option<i32>,
}

impl Cleanup {
    pub(crate) fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.stage1 = None;
        self.init_pid = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.init_pid.take() {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(child) = self.stage1.take() {
            child.kill();
            let _ = child.wait();
        }
        if let Some(cg) = self.cgroup.take()
            && let Err(e) = cg.destroy()
        {
            log::warn(format!("cleanup: {e}"));
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn create(root: &StateRoot, opts: &CreateOptions) -> Result<Launched> {
    let span = log::Span::new(format!("create {}", opts.id));
    validate_id(&opts.id)?;
    let bundle = load_bundle(&opts.bundle)?;
    span.step("bundle loaded");
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    check_console_flags(terminal, opts.console_socket.as_deref(), opts.own_console)?;
    check_mount_sources(&bundle)?;
    let cgroups_path = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone());
    let cgroup = Cgroup::for_container(&opts.id, cgroups_path.as_deref())?;

    let dir = make_state_dir(root, &opts.id)?;
    let mut cleanup = Cleanup {
        dir: Some(dir.clone()),
        cgroup: None,
        stage1: None,
        init_pid: None,
    };
    let _lock = lock_dir(&dir)?;
    // After the id is known to be free (a duplicate id is reported as such), before the
    // cleanup owns the cgroup: a cgroup that is someone else's is never removed.
    cgroup.check_unused()?;
    let mut state = State {
        id: opts.id.clone(),
        phase: Phase::Creating,
        init: ProcessId::default(),
        creator: ProcessId::of(std::process::id() as i32).unwrap_or_default(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::container::state::now_rfc3339_nano(),
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: cgroup.clone(),
        spec: bundle.spec.clone(),
    };
    state.save(&dir)?;

    let fifo = make_exec_fifo(&dir)?;
    let (console_keep, console_pass) = console_fds(terminal, opts.console_socket.as_deref())?;
    let (parent_sock, child_sock) = UnixStream::pair().ctx(|| "socketpair")?;
    let (listen_fds, extra_env) = socket_activation();
    let preserve_fds = opts.preserve_fds + listen_fds;

    cgroup.create()?;
    cleanup.cgroup = Some(cgroup.clone());

    let exe = sealed::sealed_self_exe()?;
    let mut inherit: Vec<RawFd> = vec![child_sock.as_raw_fd(), fifo.as_raw_fd()];
    inherit.extend(console_pass.as_ref().map(|f| f.as_raw_fd()));
    inherit.extend(3..3 + preserve_fds);
    let placement = Placement::new(cgroup.paths.iter().map(|(k, d)| (k.as_str(), d.as_path())));
    let stage1_pid = spawn_init(
        &exe,
        &inherit,
        child_sock.as_raw_fd(),
        &placement,
        &mut cleanup,
    )?;
    drop(child_sock);
    drop(exe);
    span.step("init spawned in its cgroup");

    let resources = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone());
    cgroup.apply(resources.as_ref())?;
    span.step("cgroup placed");

    let mut chan = Channel::new(parent_sock);
    let config = InitConfig {
        protocol: PROTOCOL_VERSION,
        id: opts.id.clone(),
        spec: bundle.spec.clone(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds,
        fifo_fd: Some(fifo.as_raw_fd()),
        join_pid: None,
        console_fd: console_pass.as_ref().map(|f| f.as_raw_fd()),
        extra_env,
        cgroup,
    };
    chan.send(&ToInit::Config(Box::new(config)))
        .ctx(|| "send config to init")?;
    drop(console_pass);
    drop(fifo);

    let init = drive_init(
        &mut chan,
        &bundle,
        stage1_pid,
        &mut cleanup,
        &mut state,
        &dir,
        opts,
    )?;
    cleanup.disarm();
    span.step("created");
    let console = match console_keep {
        Some(sock) => Some(crate::tty::receive_master(&sock)?),
        None => None,
    };
    Ok(Launched {
        init,
        console,
        terminal,
    })
}

/// Runs the sync protocol until the init is ready and `created` is recorded.
fn drive_init(
    chan: &mut Channel,
    bundle: &Bundle,
    stage1_pid: i32,
    cleanup: &mut Cleanup,
    state: &mut State,
    dir: &Path,
    opts: &CreateOptions,
) -> Result<ProcessId> {
    loop {
        match recv_from_init(chan)? {
            Some(FromInit::NeedIdMaps) => {
                write_id_maps(stage1_pid, bundle)?;
                chan.send(&ToInit::IdMapsWritten).ctx(|| "send to init")?;
            }
            Some(FromInit::Pid(pid)) => {
                state.init = accept_init_pid(cleanup, pid)?;
                state.save(dir)?;
                let hook_state = state.oci_state(crate::container::Status::Creating);
                chan.send(&ToInit::Go(Some(Box::new(hook_state))))
                    .ctx(|| "send to init")?;
            }
            Some(FromInit::SeccompListener) => {
                let st = state.oci_state(crate::container::Status::Creating);
                forward_seccomp_listener(chan, &bundle.spec, state.init.pid, &st)?;
            }
            Some(FromInit::RunHooks) => {
                let hook_state = state.oci_state(crate::container::Status::Creating);
                crate::hooks::run(&bundle.spec, crate::hooks::Kind::Prestart, &hook_state)?;
                crate::hooks::run(&bundle.spec, crate::hooks::Kind::CreateRuntime, &hook_state)?;
                chan.send(&ToInit::HooksDone).ctx(|| "send to init")?;
            }
            Some(FromInit::Ready) => {
                if let Some(pid_file) = &opts.pid_file {
                    write_pid_file(pid_file, state.init.pid)?;
                }
                state.phase = Phase::Created;
                state.save(dir)?;
                chan.send(&ToInit::Commit).ctx(|| "send to init")?;
                return match recv_from_init(chan)? {
                    Some(FromInit::Committed) => Ok(state.init),
                    Some(FromInit::Error(e)) => Err(Error::other(e)),
                    _ => Err(Error::other("container init exited before commit")),
                };
            }
            Some(FromInit::Error(e)) => return Err(Error::other(e)),
            Some(FromInit::Committed) => {
                return Err(Error::other("init sent an unexpected message"));
            }
            None => return Err(init_died(cleanup)),
        }
    }
}

/// How long the parent waits for the init's next message once a seccomp agent holds the
/// listener: the init's remaining syscalls may each wait on the agent, and an agent that
/// never answers must fail the command rather than hang it. Debug builds (the tests) may
/// shorten it with `CORRAL_TEST_SECCOMP_AGENT_TIMEOUT_MS`.
fn seccomp_agent_timeout() -> std::time::Duration {
    let default = std::time::Duration::from_secs(30);
    if cfg!(debug_assertions)
        && let Some(ms) = std::env::var("CORRAL_TEST_SECCOMP_AGENT_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    {
        return std::time::Duration::from_millis(ms);
    }
    default
}

/// Receives the notify fd the init sent and passes it to `linux.seccomp.listenerPath`; from
/// then on, reads from the init are bounded by [`seccomp_agent_timeout`].
pub(crate) fn forward_seccomp_listener(
    chan: &Channel,
    spec: &oci_spec::runtime::Spec,
    pid: i32,
    state: &crate::oci_state::OciState,
) -> Result<()> {
    let fd = crate::syscall::recv_fd(chan.stream()).ctx(|| "receive the seccomp notify fd")?;
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        crate::seccomp::listener::send(s, &fd, pid, state)?;
    }
    chan.stream()
        .set_read_timeout(Some(seccomp_agent_timeout()))
        .ctx(|| "set a timeout on the init socket")
}

/// The init's next message; a read that timed out (see [`forward_seccomp_listener`]) means
/// the seccomp agent left the init waiting.
pub(crate) fn recv_from_init(chan: &mut Channel) -> Result<Option<FromInit>> {
    match chan.recv() {
        Ok(msg) => Ok(msg),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(Error::config(
                "linux.seccomp.listenerPath",
                format!(
                    "the seccomp agent did not answer the container init's system calls within {}s",
                    seccomp_agent_timeout().as_secs_f32()
                ),
            ))
        }
        Err(e) => Err(e).ctx(|| "read from init"),
    }
}

/// The init's pid message is believed only as far as it can be checked: exactly one, naming
/// a child of this process (stage 2 is forked with CLONE_PARENT). A forged pid (from a
/// process that ptraced the init) would otherwise be signalled, killed on failure and
/// written to the pid file (CVE-2016-9962 class).
pub(crate) fn accept_init_pid(cleanup: &mut Cleanup, pid: i32) -> Result<ProcessId> {
    if cleanup.init_pid.is_some() {
        return Err(Error::other("container init reported a second pid"));
    }
    if pid <= 0 || ProcessId::parent_of(pid) != Some(std::process::id() as i32) {
        return Err(Error::other(format!(
            "container init reported pid {pid}, which is not a child of this process"
        )));
    }
    cleanup.init_pid = Some(pid);
    wait_stage1(cleanup)?;
    ProcessId::of(pid).ok_or_else(|| Error::other("container init exited during setup"))
}

/// Stage 1 exits right after reporting the container's pid; reap it.
pub(crate) fn wait_stage1(cleanup: &mut Cleanup) -> Result<()> {
    if let Some(child) = cleanup.stage1.take() {
        let status = child.wait().ctx(|| "wait for init stage 1")?;
        if status != WaitStatus::Exited(nix::unistd::Pid::from_raw(child.pid), 0) {
            return Err(Error::other(format!("init stage 1 failed: {status:?}")));
        }
    }
    Ok(())
}

pub(crate) fn init_died(cleanup: &mut Cleanup) -> Error {
    if let Some(child) = cleanup.stage1.take()
        && let Ok(status) = child.wait()
    {
        return Error::other(format!("container init exited during setup ({status:?})"));
    }
    Error::other("container init exited during setup")
}

/// The first stage of `corral init`, a child of this process until it reports the
/// container's pid and exits.
pub(crate) struct Stage1 {
    pub(crate) pid: i32,
}

impl Stage1 {
    pub(crate) fn kill(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    pub(crate) fn wait(&self) -> nix::Result<WaitStatus> {
        loop {
            match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => return other,
            }
        }
    }
}

/// runc's rules: a terminal needs somewhere to send the pty, and a console socket is only
/// for a terminal.
pub(crate) fn check_console_flags(
    terminal: bool,
    console_socket: Option<&Path>,
    own_console: bool,
) -> Result<()> {
    if terminal && console_socket.is_none() && !own_console {
        return Err(Error::other(
            "cannot allocate tty if corral will detach without setting console socket",
        ));
    }
    if !terminal && console_socket.is_some() {
        return Err(Error::other(
            "cannot use console socket if corral will not detach or allocate tty",
        ));
    }
    Ok(())
}

/// A bind mount whose source is missing is reported before anything is created.
fn check_mount_sources(bundle: &Bundle) -> Result<()> {
    for (i, m) in bundle
        .spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let opts = m.options().as_deref().unwrap_or_default();
        let is_bind =
            m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
        if !is_bind {
            continue;
        }
        let Some(src) = m.source() else {
            return Err(Error::config(
                format!("mounts[{i}].source"),
                "a bind mount needs a source",
            ));
        };
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.dir.join(src)
        };
        if let Err(e) = std::fs::metadata(&src) {
            return Err(Error::config(
                format!("mounts[{i}].source"),
                format!("{}: {e}", src.display()),
            ));
        }
    }
    Ok(())
}

fn make_state_dir(root: &StateRoot, id: &str) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = root.dir_of(id);
    match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::Exists(id.to_string()))
        }
        Err(e) => Err(e).ctx(|| at("create state dir", &dir)),
    }
}

/// The exec fifo, opened read-write: the init inherits it and blocks reading one byte;
/// `start` writes that byte. Holding both ends means the init never blocks in open(), and
/// `start` learns from ENXIO that the init is gone.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let path = dir.join(crate::container::state::EXEC_FIFO);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| at("mkfifo", &path))?;
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &path,
        nix::sys::stat::Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| at("chmod", &path))?;
    nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| at("open", &path))
}

/// (what we keep, what the init gets) for the console hand-off: a connection to the
/// caller's console socket, or a socketpair when we proxy the pty ourselves.
pub(crate) fn console_fds(
    terminal: bool,
    console_socket: Option<&Path>,
) -> Result<(Option<UnixStream>, Option<UnixStream>)> {
    if !terminal {
        return Ok((None, None));
    }
    if let Some(path) = console_socket {
        let sock = UnixStream::connect(path).ctx(|| at("connect to console socket", path))?;
        return Ok((None, Some(sock)));
    }
    let (keep, pass) = UnixStream::pair().ctx(|| "console socketpair")?;
    Ok((Some(keep), Some(pass)))
}

/// systemd socket activation: LISTEN_FDS fds after stdio pass through (when LISTEN_PID is
/// ours), and the process is told it is pid 1 of its namespace, as runc does.
pub(crate) fn socket_activation() -> (i32, Vec<String>) {
    // The fds are meant for us only when LISTEN_PID names us (sd_listen_fds(3)).
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !for_us {
        return (0, Vec::new());
    }
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(0);
    if n == 0 {
        return (0, Vec::new());
    }
    (
        n,
        vec![format!("LISTEN_FDS={n}"), "LISTEN_PID=1".to_string()],
    )
}

/// The cgroup directories a new process joins, split by how it joins them: the cgroup v2
/// one (key `""`) and one per v1 hierarchy.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    unified: Option<PathBuf>,
    v1: Vec<PathBuf>,
}

impl Placement {
    pub(crate) fn new<'a>(dirs: impl IntoIterator<Item = (&'a str, &'a Path)>) -> Placement {
        let mut p = Placement::default();
        for (key, dir) in dirs {
            if key.is_empty() {
                p.unified = Some(dir.to_path_buf());
            } else {
                p.v1.push(dir.to_path_buf());
            }
        }
        p
    }

    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.unified.iter().chain(&self.v1)
    }
}

/// Starts `corral init` from the sealed binary, already inside the container's cgroups.
///
/// The child is placed before it execs, without the kernel's threadgroup lock (see
/// [`crate::syscall::spawn_placed`]): forked into the cgroup v2 directory, and moving itself
/// into each v1 one. Where clone3 is missing (before 5.3, or CLONE_INTO_CGROUP before 5.7) the
/// child is started first and then written into every `cgroup.procs`, as
/// `CORRAL_CLONE_INTO_CGROUP=0` asks, to measure the difference.
pub(crate) fn spawn_init(
    exe: &OwnedFd,
    inherit: &[RawFd],
    sock_fd: RawFd,
    placement: &Placement,
    cleanup: &mut Cleanup,
) -> Result<i32> {
    if std::env::var_os("CORRAL_CLONE_INTO_CGROUP").is_none_or(|v| v != "0") {
        match spawn_init_placed(exe, inherit, sock_fd, placement) {
            Ok(pid) => {
                cleanup.stage1 = Some(Stage1 { pid });
                return Ok(pid);
            }
            Err(e) if e.step == SpawnStep::Clone && clone3_unsupported(&e.err) => {}
            Err(e) => return Err(placed_spawn_error(e, placement)),
        }
    }
    let pid = spawn_init_then_move(exe, inherit, sock_fd)?;
    cleanup.stage1 = Some(Stage1 { pid });
    for dir in placement.all() {
        crate::cgroups::write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(pid)
}

fn clone3_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL)
    )
}

fn placed_spawn_error(e: SpawnError, placement: &Placement) -> Error {
    let context = match (e.step, &placement.unified) {
        (SpawnStep::Clone, Some(dir)) => at("start container init in cgroup", dir),
        (SpawnStep::Clone, None) => "start container init".to_string(),
        (SpawnStep::JoinCgroup(i), _) => at("join cgroup", &placement.v1[i]),
        (SpawnStep::Exec, _) => "exec container init".to_string(),
    };
    Error::Io {
        context,
        err: e.err,
    }
}

fn init_argv_envp(sock_fd: RawFd) -> (Vec<CString>, Vec<CString>) {
    let argv = vec![c"corral".to_owned(), c"init".to_owned()];
    let env = CString::new(format!("{INIT_SOCK_ENV}={sock_fd}")).expect("no NUL");
    (argv, vec![env])
}

fn spawn_init_placed(
    exe: &OwnedFd,
    inherit: &[RawFd],
    sock_fd: RawFd,
    placement: &Placement,
) -> std::result::Result<i32, SpawnError> {
    let open_err = |step, err: nix::errno::Errno| SpawnError {
        step,
        err: err.into(),
    };
    let cgroup = placement
        .unified
        .as_ref()
        .map(|dir| {
            nix::fcntl::open(
                dir,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| open_err(SpawnStep::Clone, e))
        })
        .transpose()?;
    let tasks = placement
        .v1
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            nix::fcntl::open(
                &dir.join("tasks"),
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| open_err(SpawnStep::JoinCgroup(i), e))
        })
        .collect::<std::result::Result<Vec<OwnedFd>, _>>()?;
    let tasks: Vec<RawFd> = tasks.iter().map(|f| f.as_raw_fd()).collect();
    let path = CString::new(crate::syscall::fd_path(exe)).expect("no NUL");
    let (argv, envp) = init_argv_envp(sock_fd);
    crate::syscall::spawn_placed(
        &path,
        &argv,
        &envp,
        inherit,
        cgroup.as_ref().map(|f| f.as_fd()),
        &tasks,
    )
}

fn spawn_init_then_move(exe: &OwnedFd, inherit: &[RawFd], sock_fd: RawFd) -> Result<i32> {
    let mut cmd = Command::new(crate::syscall::fd_path(exe));
    cmd.arg0("corral")
        .arg("init")
        .env_clear()
        .env(INIT_SOCK_ENV, sock_fd.to_string());
    let keep = inherit.to_vec();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (fcntl, prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            for fd in &keep {
                set_cloexec(*fd, false)?;
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The Child handle is dropped: Stage1 waits for the pid itself.
    let child = cmd.spawn().ctx(|| "start container init")?;
    Ok(child.id() as i32)
}

pub(crate) fn write_id_maps(pid: i32, bundle: &Bundle) -> Result<()> {
    let linux = bundle.spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    write_map(&format!("/proc/{pid}/uid_map"), &uid)?;
    write_map(&format!("/proc/{pid}/gid_map"), &gid)
}

fn write_map(path: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    std::fs::write(path, text).ctx(|| format!("write {path} (linux.uidMappings/gidMappings)"))
}

/// Written atomically (tmp + rename) so a reader never sees an empty pid file. The temp file
/// is created exclusively and never through a symlink: a `.NAME.tmp` planted as a link to
/// /etc/shadow must not make root truncate that (runc opens it with O_EXCL too).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let abs = std::path::absolute(path).ctx(|| at("resolve pid file", path))?;
    let tmp = abs.with_file_name(format!(
        ".{}.tmp",
        abs.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    // A leftover of a crashed run (or a planted link: unlink removes the link, not its target).
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx(|| at("remove stale pid file", &tmp)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .ctx(|| at("write pid file", &tmp))?;
    f.write_all(pid.to_string().as_bytes())
        .ctx(|| at("write pid file", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, &abs).ctx(|| at("rename pid file", &abs))
}

/// Whether the config asks for a new namespace of this type (no path).
pub fn creates_namespace(spec: &oci_spec::runtime::Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == typ && n.path().is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cleanup() -> Cleanup {
        Cleanup {
            dir: None,
            cgroup: None,
            stage1: None,
            init_pid: None,
        }
    }

    #[test]
    fn only_one_pid_of_our_own_child_is_accepted() {
        // pid 1 is nobody's child of ours: a forged message naming it is refused, and it is
        // not recorded (so the cleanup would never signal it).
        let mut cleanup = no_cleanup();
        let e = accept_init_pid(&mut cleanup, 1).unwrap_err().to_string();
        assert!(e.contains("not a child of this process"), "{e}");
        assert_eq!(cleanup.init_pid, None);
        assert!(accept_init_pid(&mut cleanup, -5).is_err());

        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        let pid = child.id() as i32;
        let id = accept_init_pid(&mut cleanup, pid).unwrap();
        assert_eq!(id.pid, pid);
        let e = accept_init_pid(&mut cleanup, pid).unwrap_err().to_string();
        assert!(e.contains("second pid"), "{e}");
        cleanup.init_pid = None;
        let _ = child.kill();
        let _ = child.wait();
    }
}
