//! The parent side of `create` and `exec`: everything that happens in the caller's context.
//!
//! `create` validates the bundle, makes the state dir, spawns the init from a sealed copy of
//! ourselves, places it in the container's cgroup, writes user-namespace id maps when asked,
//! hands over the console socket, writes the pid file and records `created`. Any failure
//! undoes all of it: no state dir, cgroup, mount or process is left behind.
//!
//! Both commands start their init the same way (`spawn.rs`, into the cgroups of
//! `placement.rs`) and run the same protocol loop (`driver.rs`); what differs is the
//! [`driver::ParentSide`] each brings. `cleanup.rs` undoes a half-made start, `files.rs`
//! writes the host-side files, `sealed.rs` makes the binary the init runs from.

mod affinity;
mod cleanup;
mod driver;
mod exec;
mod files;
mod netdev;
mod pidfd;
mod placement;
mod rootless;
mod sealed;
mod spawn;

pub(crate) use cleanup::Cleanup;
pub use exec::{ExecOptions, exec};
pub(crate) use files::make_state_dir;
pub use files::write_pid_file;
pub use sealed::overlay_view_works;
pub(crate) use spawn::{check_console_flags, socket_activation};

use crate::cgroups::systemd::UnitExtras;
use crate::cgroups::{Cgroup, Driver};
use crate::container::{
    Phase, ProcessId, Recovery, State, StateRoot, Status, lock_dir, validate_id,
};
use crate::error::{Error, Result};
use crate::log;
use crate::oci_state::OciState;
use crate::spec::{Bundle, load_bundle};
use crate::sync::{InitConfig, PROTOCOL_VERSION};
use driver::ParentSide;
use oci_spec::runtime::Spec;
use placement::Placement;
use spawn::{InitRequest, start_init};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the init goes.
    pub pidfd_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Foreground `run` with a terminal and no console socket: we keep the pty master.
    pub own_console: bool,
    /// `--systemd-cgroup`: the cgroup is a transient systemd unit.
    pub systemd_cgroup: bool,
    /// `--rootless`: the cgroups the caller cannot write are left out, and id maps are
    /// written as an unprivileged user.
    pub rootless: bool,
}

/// A process `create` or `exec` started and committed.
pub struct Launched {
    pub init: ProcessId,
    /// The pty master when `own_console` was asked for.
    pub console: Option<OwnedFd>,
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
    let pidfd_socket = pidfd::connect(opts.pidfd_socket.as_deref())?;
    let cgroups_path = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone());
    let driver = if opts.systemd_cgroup {
        Driver::Systemd
    } else {
        Driver::Cgroupfs
    };
    if opts.rootless {
        rootless::check_config(&bundle.spec)?;
    }
    let mut cgroup =
        Cgroup::for_container(&opts.id, cgroups_path.as_deref(), driver, opts.rootless)?;
    if opts.rootless && driver == Driver::Cgroupfs {
        let explicit = cgroups_path
            .as_ref()
            .is_some_and(|p| !p.as_os_str().is_empty());
        cgroup.keep_delegated(explicit)?;
    }
    let resources = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone());
    // Checked before anything exists: a malformed org.systemd.property.* is bad input.
    let unit_extras = match driver {
        Driver::Systemd => {
            UnitExtras::from_config(bundle.spec.annotations().as_ref(), resources.as_ref())?
        }
        Driver::Cgroupfs => UnitExtras::default(),
    };

    let dir = files::make_state_dir(root, &opts.id)?;
    let mut cleanup = Cleanup::for_state_dir(dir.clone());
    let _lock = lock_dir(&dir)?;
    // After the id is known to be free (a duplicate id is reported as such), before the
    // cleanup owns the cgroup: a cgroup that is someone else's is never removed.
    cgroup.check_unused()?;
    let mut state = State::creating(&opts.id, &bundle, cgroup.clone());
    Recovery::of(&state).save(&dir)?;
    state.save(&dir)?;
    crate::fault::point("create:state-written");

    let fifo = files::make_exec_fifo(&dir)?;
    cgroup.create()?;
    cleanup.cgroup = Some(cgroup.clone());
    crate::fault::point("create:cgroup-made");
    // Under systemd the init starts in our cgroup and systemd moves it into the unit.
    let placement = match cgroup.systemd {
        Some(_) => Placement::default(),
        None => Placement::new(cgroup.paths.iter().map(|(k, d)| (k, d.as_path()))),
    };
    let mut init = start_init(
        &InitRequest {
            terminal,
            console_socket: opts.console_socket.as_deref(),
            preserve_fds: opts.preserve_fds,
            fifo: Some(&fifo),
            placement: &placement,
        },
        &mut cleanup,
    )?;
    if cgroup.systemd.is_some() {
        cgroup.place_in_unit(init.stage1_pid, &opts.id, &unit_extras)?;
    }
    // Children inherit the resctrl group at fork, as they do cgroups: placing the first
    // stage places the container (runc does the same).
    if let Some(cfg) = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.intel_rdt().as_ref())
    {
        let group = crate::rdt::for_config(cfg)?.apply(&opts.id, cfg, init.stage1_pid)?;
        cleanup.rdt = Some(group.clone());
        state.rdt = Some(group);
    }
    span.step("init spawned in its cgroup");
    crate::fault::point("create:spawned");

    cgroup.apply(resources.as_ref())?;
    if cgroup.rootless && cgroup.is_none() {
        // Once the config is known to need no limits (a limit is an error by now).
        log::warn(
            "rootless: no cgroup is delegated to this user; the container runs without \
             cgroup limits (pause, update and stats need one)",
        );
    }
    span.step("cgroup placed");

    let inherited = &init.inherited;
    let config = InitConfig {
        protocol: PROTOCOL_VERSION,
        id: opts.id.clone(),
        spec: bundle.spec.clone(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: inherited.preserve_fds,
        fifo_fd: inherited.fifo_fd,
        join_pid: None,
        console_fd: inherited.console_fd,
        extra_env: inherited.extra_env.clone(),
        cgroup,
    };
    init.send_config(config)?;
    drop(fifo);
    crate::fault::point("create:config-sent");

    let mut side = Creating {
        state,
        dir: &dir,
        pid_file: opts.pid_file.as_deref(),
        pidfd_socket,
    };
    let pid = driver::drive(&mut init.chan, &mut cleanup, init.stage1_pid, &mut side)?;
    cleanup.disarm();
    crate::fault::point("create:committed");
    span.step("created");
    Ok(Launched {
        init: pid,
        console: init.receive_console()?,
    })
}

/// `create`'s side of the protocol: the state file follows each step, and the hooks run.
struct Creating<'a> {
    state: State,
    dir: &'a Path,
    pid_file: Option<&'a Path>,
    pidfd_socket: Option<std::os::unix::net::UnixStream>,
}

impl ParentSide for Creating<'_> {
    fn accepted(&mut self, pid: ProcessId) -> Result<Option<OciState>> {
        // execCPUAffinity is not the init's (config.md); it only loses corral's mask.
        affinity::reset_cpus(pid.pid);
        netdev::move_net_devices(&self.state.spec, pid.pid)?;
        if let Some(sock) = &self.pidfd_socket {
            pidfd::send(sock, pid, pidfd::Kind::Init)?;
        }
        self.state.init = pid;
        // The record first: a state file torn from here on leaves the container findable.
        Recovery::of(&self.state).save(self.dir)?;
        self.state.save(self.dir)?;
        Ok(Some(self.oci_state()))
    }

    fn spec(&self) -> &Spec {
        &self.state.spec
    }

    fn oci_state(&self) -> OciState {
        self.state.oci_state(Status::Creating)
    }

    fn write_id_maps(&mut self, stage1_pid: i32) -> Result<()> {
        let rootless = self.state.cgroup.rootless;
        files::write_id_maps(stage1_pid, &self.state.spec, rootless)
    }

    fn run_hooks(&mut self) -> Result<()> {
        let hook_state = self.oci_state();
        crate::hooks::run(&self.state.spec, crate::hooks::Kind::Prestart, &hook_state)?;
        crate::hooks::run(
            &self.state.spec,
            crate::hooks::Kind::CreateRuntime,
            &hook_state,
        )
    }

    fn ready(&mut self, pid: ProcessId) -> Result<()> {
        if let Some(r) = self
            .state
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
        {
            self.state.cgroup.apply_pids_limit(r)?;
        }
        if let Some(pid_file) = self.pid_file {
            write_pid_file(pid_file, pid.pid)?;
        }
        self.state.phase = Phase::Created;
        self.state.save(self.dir)
    }

    fn died_before_commit(&self) -> &'static str {
        "container init exited before commit"
    }

    fn command(&self) -> &'static str {
        "create"
    }
}

/// A bind mount whose source is missing is reported before anything is created.
pub(crate) fn check_mount_sources(bundle: &Bundle) -> Result<()> {
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
