//! The parent side of `exec`: a new process in an existing container. It goes through the
//! same re-executed init as `create` (same sealed binary, same channel), which joins the
//! container init's namespaces instead of creating any, and is placed in the container's
//! cgroup (or a sub-cgroup with `--cgroup`) before it does.

use super::cleanup::Cleanup;
use super::driver::{self, ParentSide};
use super::placement::Placement;
use super::spawn::{InitRequest, check_console_flags, start_init};
use super::{Launched, write_pid_file};
use crate::cgroups::{Cgroup, HierarchyKey};
use crate::container::{Container, ProcessId, Status};
use crate::error::{Error, Result, at};
use crate::oci_state::OciState;
use crate::sync::{InitConfig, PROTOCOL_VERSION};
use oci_spec::runtime::{Process, Spec};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process to run, already merged from the container's config and the flags.
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the exec'd process goes.
    pub pidfd_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub detach: bool,
    pub ignore_paused: bool,
    /// `--cgroup` values: `PATH` or `CONTROLLER[,CONTROLLER]:PATH`, below the container's.
    pub sub_cgroups: Vec<String>,
}

pub fn exec(container: &Container, opts: &ExecOptions) -> Result<Launched> {
    check_exec_status(container.status(), opts.ignore_paused)?;
    let terminal = opts.process.terminal().unwrap_or(false);
    let own_console = !opts.detach && opts.console_socket.is_none();
    check_console_flags(terminal, opts.console_socket.as_deref(), own_console)?;
    let placement = exec_cgroup_dirs(&container.state.cgroup, &opts.sub_cgroups)?;

    let mut spec = container.state.spec.clone();
    spec.set_process(Some(opts.process.clone()));
    let pidfd_socket = super::pidfd::connect(opts.pidfd_socket.as_deref())?;
    let mut cleanup = Cleanup::default();
    let affinity = opts.process.exec_cpu_affinity().as_ref();
    super::affinity::run_on_initial_cpus(affinity)?;
    let mut init = start_init(
        &InitRequest {
            terminal,
            console_socket: opts.console_socket.as_deref(),
            preserve_fds: opts.preserve_fds,
            fifo: None,
            placement: &placement,
        },
        &mut cleanup,
    )?;
    crate::fault::point("exec:spawned");

    if let Some(group) = &container.state.rdt {
        crate::rdt::Resctrl::for_group(group).join(group, init.stage1_pid)?;
    }
    let inherited = &init.inherited;
    let config = InitConfig {
        protocol: PROTOCOL_VERSION,
        id: container.id().to_string(),
        spec,
        bundle: container.state.bundle.clone(),
        rootfs: container.state.rootfs.clone(),
        no_pivot: false,
        no_new_keyring: true,
        preserve_fds: inherited.preserve_fds,
        fifo_fd: None,
        join_pid: Some(container.state.init),
        console_fd: inherited.console_fd,
        extra_env: inherited.extra_env.clone(),
        cgroup: container.state.cgroup.clone(),
    };
    init.send_config(config)?;
    crate::fault::point("exec:config-sent");
    let mut side = Joining {
        container,
        pid_file: opts.pid_file.as_deref(),
        affinity,
        pidfd_socket,
    };
    let pid = driver::drive(&mut init.chan, &mut cleanup, init.stage1_pid, &mut side)?;
    cleanup.disarm();
    crate::fault::point("exec:committed");
    Ok(Launched {
        init: pid,
        console: init.receive_console()?,
    })
}

/// runc's rules for which containers take a new process.
fn check_exec_status(status: Status, ignore_paused: bool) -> Result<()> {
    match status {
        Status::Created | Status::Running => Ok(()),
        Status::Paused if ignore_paused => Ok(()),
        Status::Paused => Err(Error::state(
            "cannot exec in a paused container (use --ignore-paused to override)",
        )),
        Status::Stopped => Err(Error::state("cannot exec in a stopped container")),
        Status::Creating => Err(Error::state(
            "cannot exec in a container that is being created",
        )),
    }
}

/// `exec`'s side of the protocol: no hooks, no state to record, only the pid file.
struct Joining<'a> {
    container: &'a Container,
    pid_file: Option<&'a Path>,
    affinity: Option<&'a oci_spec::runtime::ExecCPUAffinity>,
    pidfd_socket: Option<std::os::unix::net::UnixStream>,
}

impl ParentSide for Joining<'_> {
    /// The process is in the container's cgroup and waits for us: its final CPUs now.
    fn accepted(&mut self, pid: ProcessId) -> Result<Option<OciState>> {
        super::affinity::set_final_cpus(pid.pid, self.affinity)?;
        if let Some(sock) = &self.pidfd_socket {
            super::pidfd::send(sock, pid, super::pidfd::Kind::Exec)?;
        }
        Ok(None)
    }

    fn spec(&self) -> &Spec {
        &self.container.state.spec
    }

    fn oci_state(&self) -> OciState {
        self.container.oci_state()
    }

    fn ready(&mut self, pid: ProcessId) -> Result<()> {
        match self.pid_file {
            Some(path) => write_pid_file(path, pid.pid),
            None => Ok(()),
        }
    }

    fn died_before_commit(&self) -> &'static str {
        "exec'd process exited before commit"
    }

    fn command(&self) -> &'static str {
        "exec"
    }
}

/// The directories the exec'd process joins: the container's cgroup in every hierarchy, or
/// with `--cgroup` a sub-cgroup of it, which must exist (runc's rule).
fn exec_cgroup_dirs(cg: &Cgroup, specs: &[String]) -> Result<Placement> {
    let mut dirs: Vec<(HierarchyKey, PathBuf)> = cg
        .paths
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for spec in specs {
        let (controllers, sub) = match spec.split_once(':') {
            Some((c, p)) => (
                Some(c.split(',').map(str::to_string).collect::<Vec<_>>()),
                p,
            ),
            None => (None, spec.as_str()),
        };
        if sub.is_empty()
            || Path::new(sub)
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(Error::config(
                "--cgroup",
                format!("invalid sub-cgroup {spec:?}"),
            ));
        }
        let mut matched = false;
        for (key, dir) in dirs.iter_mut() {
            let applies = match &controllers {
                None => true,
                Some(list) => list.iter().any(|c| key.has_controller(c)),
            };
            if applies {
                let target = cg.paths[&*key].join(sub.trim_start_matches('/'));
                if !target.is_dir() {
                    return Err(Error::config("--cgroup", at("no such cgroup", &target)));
                }
                *dir = target;
                matched = true;
            }
        }
        if !matched {
            return Err(Error::config(
                "--cgroup",
                format!("{spec:?} names no controller of this container"),
            ));
        }
    }
    Ok(Placement::new(dirs.iter().map(|(k, d)| (k, d.as_path()))))
}
